#pragma once

#include "calib/histogram.h"
#include "plotcanvas.h"

#include <QColor>
#include <optional>

namespace qs::gui {

/// A histogram drawn as a filled step line, with a linear or logarithmic count axis and optional
/// markers at mean ± k·σ.
class HistogramPlot : public PlotCanvas {
    Q_OBJECT

public:
    explicit HistogramPlot(QWidget* parent = nullptr);

    void setColor(const QColor& color);
    /// Shows `histogram`; when `sigma` is given (mean, std) the ±3σ and ±6σ positions are marked.
    void setHistogram(const qs::Histogram& histogram, std::optional<std::pair<double, double>> sigma = {});
    void clearHistogram();
    void setLogScale(bool logarithmic);
    bool logScale() const { return m_log; }

    const qs::Histogram& histogram() const { return m_histogram; }
    /// Points in the drawn step line (one per bin).
    int pointCount() const;

protected:
    QString hoverText(double key, double value) const override;

private:
    void updateValueRange();
    void addMarker(double position, const QColor& color);

    QCPGraph* m_graph;
    QCPGraph* m_sigma3Key; ///< no data: stands for the ±3σ lines in the legend
    QCPGraph* m_sigma6Key;
    qs::Histogram m_histogram;
    std::int64_t m_peak = 0;
    bool m_log = false;
};

} // namespace qs::gui
