#pragma once

#include "kernels/benchmark_suite.h"

#include <QAbstractTableModel>
#include <vector>

namespace qs::gui {

/// Benchmark results, one row per kernel × backend × thread count: kernel, backend, target, elements,
/// median time, GB/s, fraction of the read bandwidth baseline and whether the result equals the scalar
/// reference. Skipped runs show their reason.
class KernelResultsModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column {
        KernelColumn,
        BackendColumn,
        TargetColumn,
        ElementsColumn,
        MedianColumn,
        GbpsColumn,
        FractionColumn,
        MatchesColumn,
        ColumnCount
    };
    /// The raw value a column sorts and exports by (numbers as double).
    static constexpr int ValueRole = Qt::UserRole + 1;

    explicit KernelResultsModel(QObject* parent = nullptr);

    void clear();
    void addResults(const std::vector<qs::BenchResult>& results);
    const std::vector<qs::BenchResult>& results() const { return m_results; }

    /// The table as CSV: a header line, then one line per row with the raw values (ValueRole).
    QString csvText() const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QVariant value(const qs::BenchResult& result, int column) const;

    std::vector<qs::BenchResult> m_results;
};

} // namespace qs::gui
