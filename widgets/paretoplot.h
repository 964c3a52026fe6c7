#pragma once

#include "plotcanvas.h"

#include <QString>
#include <vector>

namespace qs::gui {

/// One evaluated scheme in the Pareto plot.
struct ParetoPoint {
    int cellIndex = -1; ///< compareSchemes' row-major cell index
    double bitsPerValue = 0;
    double error = 0; ///< the plotted error measure (MSE, or SQNR in dB)
    QString label; ///< "int4 group:128"
    bool operator==(const ParetoPoint&) const = default;
};

/// Indices (into `points`) of the Pareto front: the points no other point beats, i.e. none has fewer or
/// equal bits per value and a better or equal error with at least one strictly better. Better error is
/// higher when `higherIsBetter` (SQNR), lower otherwise (MSE). Non-finite points are never on the front.
/// Sorted by bits per value.
std::vector<std::size_t> paretoFront(const std::vector<ParetoPoint>& points, bool higherIsBetter);

/// Error against effective bits per value for every evaluated scheme, the Pareto front drawn as a line
/// with its points labelled; hovering names a point, clicking one emits pointClicked.
class ParetoPlot : public PlotCanvas {
    Q_OBJECT

public:
    explicit ParetoPlot(QWidget* parent = nullptr);

    /// `errorLabel` names the y axis ("MSE", "SQNR (dB)"); `logError` draws it on a log axis (points with
    /// error <= 0 are then left out).
    void setPoints(
        std::vector<ParetoPoint> points, const QString& errorLabel, bool logError, bool higherIsBetter);
    void clearPoints();
    const std::vector<ParetoPoint>& points() const { return m_points; }
    /// The cell indices of the front, by bits per value.
    std::vector<int> frontCells() const;
    /// The point nearest to plot coordinates (key, value) within a few pixels, or -1.
    int pointNear(double key, double value) const;

signals:
    void pointClicked(int cellIndex);

protected:
    QString hoverText(double key, double value) const override;
    void resizeEvent(QResizeEvent* event) override;

private:
    void placeLabels();

    std::vector<ParetoPoint> m_points; ///< only those drawn
    std::vector<std::size_t> m_front;
    QCPGraph* m_all;
    QCPGraph* m_frontGraph;
    QString m_errorLabel;
};

} // namespace qs::gui
