#pragma once

#include "plotcanvas.h"
#include "tensoranalysis.h"

namespace qs::gui {

/// The magnitude of a 2-D tensor as a colour map (row 0 at the top, as in a matrix), on a linear or
/// logarithmic colour scale.
class HeatMapPlot : public PlotCanvas {
    Q_OBJECT

public:
    explicit HeatMapPlot(QWidget* parent = nullptr);

    void setHeatMap(const HeatMap& map);
    void clearHeatMap();
    void setLogColours(bool logarithmic);
    bool logColours() const { return m_log; }

    const HeatMap& heatMap() const { return m_map; }
    QCPColorMap* colorMap() const { return m_colorMap; }
    QCPColorScale* colorScale() const { return m_scale; }

protected:
    QString hoverText(double key, double value) const override;

private:
    void fillCells();
    /// The smallest magnitude the log colour scale shows; smaller cells (zeros included) get its colour.
    double floorForLog() const;

    QCPColorMap* m_colorMap;
    QCPColorScale* m_scale;
    HeatMap m_map;
    bool m_log = false;
};

} // namespace qs::gui
