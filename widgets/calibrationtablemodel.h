#pragma once

#include "calibrationcomparison.h"

#include <QAbstractTableModel>

namespace qs::gui {

/// The rows of a CalibrationComparison: method, compatibility mode, range, scale, zero point and the error
/// of the resulting scheme. Per-channel and per-group schemes show one summary per row: "per channel (N)"
/// with the largest amax, the largest scale, the zero-point span.
class CalibrationTableModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column {
        MethodColumn,
        CompatColumn,
        RangeColumn,
        ScaleColumn,
        ZeroPointColumn,
        MseColumn,
        SqnrColumn,
        ClippedColumn,
        ColumnCount
    };
    /// The number a column sorts by (double; method and compat: their text), errors sort last.
    static constexpr int SortRole = Qt::UserRole + 1;

    explicit CalibrationTableModel(QObject* parent = nullptr);

    void setComparison(CalibrationComparison comparison);
    const CalibrationComparison& comparison() const { return m_comparison; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QVariant display(const CalibrationRow& row, int column) const;
    QVariant sortValue(const CalibrationRow& row, int column) const;
    QString groupWord() const;

    CalibrationComparison m_comparison;
};

/// The largest max(|min|, |max|) over the ranges (0 for none).
double largestAmax(const std::vector<qs::GroupRange>& ranges);

} // namespace qs::gui
