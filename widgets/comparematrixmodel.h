#pragma once

#include "quant/compare_matrix.h"

#include <QAbstractTableModel>
#include <QColor>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qs::gui {

/// The formats × granularities matrix of compareSchemes as a table: rows are formats, columns granularities,
/// each cell shows the chosen metric and is coloured from worst (red) to best (green) over the finished
/// cells. Cells arrive one at a time (setCell); a cell not yet computed shows "…".
class CompareMatrixModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum class Metric { Sqnr, Mse, MaxError, BitsPerValue };
    /// The cell's index in compareSchemes' row-major order (int), in every cell.
    static constexpr int CellIndexRole = Qt::UserRole + 1;
    /// The metric as a double (cells without a result: NaN), for sorting and tests.
    static constexpr int MetricRole = Qt::UserRole + 2;

    explicit CompareMatrixModel(QObject* parent = nullptr);

    /// Clears every cell and sets the rows and columns.
    void reset(std::vector<std::string> formats, std::vector<std::string> granularities);
    /// Stores the result of cell `index` (row-major, compareSchemes' order).
    void setCell(std::size_t index, qs::CompareCell cell);
    void setMetric(Metric metric);
    Metric metric() const { return m_metric; }

    const std::vector<std::string>& formats() const { return m_formats; }
    const std::vector<std::string>& granularities() const { return m_granularities; }
    std::size_t cellCount() const { return m_cells.size(); }
    const std::optional<qs::CompareCell>& cell(std::size_t index) const { return m_cells[index]; }
    int finishedCount() const { return m_finished; }

    /// The metric of a cell that has a result.
    static double metricValue(const qs::ErrorReport& report, Metric metric);
    static QString metricName(Metric metric);
    static bool higherIsBetter(Metric metric);
    /// Whether the colours follow log10 of the metric (MSE, max error: they span decades).
    static bool logColours(Metric metric);
    /// The range of the metric over the finished cells with a finite value (the colour scale's ends).
    std::pair<double, double> colourRange() const { return m_range; }
    /// Colour for a goodness in [0, 1] (0 worst, 1 best): light enough for black text.
    static QColor goodnessColour(double goodness);
    /// Goodness of `value` within colourRange().
    double goodness(double value) const;
    static QString formatMetric(double value, Metric metric);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

signals:
    /// The metric or the colour range changed (the legend redraws).
    void colourScaleChanged();

private:
    void updateRange();

    std::vector<std::string> m_formats;
    std::vector<std::string> m_granularities;
    std::vector<std::optional<qs::CompareCell>> m_cells;
    int m_finished = 0;
    Metric m_metric = Metric::Sqnr;
    std::pair<double, double> m_range {0, 0};
};

} // namespace qs::gui
