#pragma once

#include "calib/histogram.h"
#include "plotcanvas.h"
#include "quantizationanalysis.h"

#include <QColor>
#include <QList>
#include <optional>
#include <vector>

namespace qs::gui {

/// A histogram drawn as a filled step line, with a linear or logarithmic count axis and optional
/// markers at mean ± k·σ. An overlay adds clipping ranges (vertical lines, the chosen one bold) and a
/// quantization grid (thin vertical lines at the representable values, hidden while more than
/// kMaxVisibleGridLines of them lie in the visible x range). Over an |x| histogram both are folded to |v|.
class HistogramPlot : public PlotCanvas {
    Q_OBJECT

public:
    explicit HistogramPlot(QWidget* parent = nullptr);

    void setColor(const QColor& color);
    /// Shows `histogram`; when `sigma` is given (mean, std) the ±3σ and ±6σ positions are marked.
    void setHistogram(const qs::Histogram& histogram, std::optional<std::pair<double, double>> sigma = {});
    void clearHistogram();
    void setLogScale(bool logarithmic);

    static constexpr int kMaxVisibleGridLines = 64;
    /// Draws `clips` and `grid` (tensor units, ascending) over the histogram until the next call;
    /// `gridLabel` names the grid in the legend ("int4 grid, per-tensor scale").
    void setOverlay(
        const std::vector<ClipRange>& clips, const std::vector<double>& grid, const QString& gridLabel);
    void clearOverlay();
    /// Positions of the drawn clip lines, in drawing order (lo then hi per range; |x|: amax only).
    std::vector<double> clipLinePositions() const;
    /// Positions of the grid lines (drawn or hidden), ascending.
    std::vector<double> gridPositions() const;
    /// Grid lines shown now (0 while hidden).
    int visibleGridLineCount() const;
    bool logScale() const { return m_log; }

    const qs::Histogram& histogram() const { return m_histogram; }
    /// Points in the drawn step line (one per bin).
    int pointCount() const;

protected:
    QString hoverText(double key, double value) const override;

private:
    void updateValueRange();
    void addMarker(double position, const QColor& color);
    void drawOverlay();
    void removeOverlay();
    void updateGridVisibility();

    QCPGraph* m_graph;
    QCPGraph* m_sigma3Key; ///< no data: stands for the ±3σ lines in the legend
    QCPGraph* m_sigma6Key;
    qs::Histogram m_histogram;
    std::int64_t m_peak = 0;
    bool m_log = false;

    std::vector<ClipRange> m_clips;
    std::vector<double> m_grid;
    QString m_gridLabel;
    QList<QCPItemStraightLine*> m_clipLines;
    std::vector<double> m_clipPositions;
    QList<QCPItemStraightLine*> m_gridLines;
    QList<QCPGraph*> m_overlayKeys;
    QCPGraph* m_gridKey = nullptr;
};

} // namespace qs::gui
