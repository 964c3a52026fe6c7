#pragma once

#include "tensor/stats.h"

#include <QAbstractTableModel>
#include <optional>

namespace qs::gui {

/// The summary statistics of one tensor as a two-column table (statistic, value). Rows show "—" until
/// statistics are set.
class SummaryStatsModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Row {
        CountRow,
        NanRow,
        InfRow,
        MinRow,
        MaxRow,
        AbsmaxRow,
        MeanRow,
        StdRow,
        KurtosisRow,
        Beyond3SigmaRow,
        Beyond6SigmaRow,
        ZeroShareRow,
        RowCount
    };
    enum Column { NameColumn, ValueColumn, ColumnCount };
    /// The unformatted value (double; counts as qlonglong).
    static constexpr int RawValueRole = Qt::UserRole + 1;

    explicit SummaryStatsModel(QObject* parent = nullptr);

    void setStats(const std::optional<qs::SummaryStats>& stats);
    const std::optional<qs::SummaryStats>& stats() const { return m_stats; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QVariant rawValue(int row) const;
    QString formatted(int row) const;

    std::optional<qs::SummaryStats> m_stats;
};

} // namespace qs::gui
