#include "calibrationtablemodel.h"

#include "formatting.h"

#include <QColor>
#include <algorithm>
#include <cmath>
#include <limits>

namespace qs::gui {

double largestAmax(const std::vector<qs::GroupRange>& ranges)
{
    double amax = 0;
    for (const qs::GroupRange& range : ranges)
        amax = std::max({amax, std::abs(range.min), std::abs(range.max)});
    return amax;
}

namespace {

double largestScale(const std::vector<float>& scales)
{
    return scales.empty() ? 0.0 : static_cast<double>(*std::max_element(scales.begin(), scales.end()));
}

QString sqnrText(double sqnr)
{
    if (std::isinf(sqnr))
        return sqnr > 0 ? QStringLiteral("\u221e") : QStringLiteral("\u2212\u221e");
    return QString::number(sqnr, 'f', 2);
}

} // namespace

CalibrationTableModel::CalibrationTableModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void CalibrationTableModel::setComparison(CalibrationComparison comparison)
{
    beginResetModel();
    m_comparison = std::move(comparison);
    endResetModel();
}

int CalibrationTableModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_comparison.rows.size());
}

int CalibrationTableModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString CalibrationTableModel::groupWord() const
{
    switch (m_comparison.scheme.granularity.kind) {
    case qs::Granularity::Kind::PerChannel:
        return tr("per channel");
    case qs::Granularity::Kind::PerGroup:
        return tr("per group");
    case qs::Granularity::Kind::Block2D:
        return tr("per block");
    case qs::Granularity::Kind::PerTensor:
        break;
    }
    return tr("per tensor");
}

QVariant CalibrationTableModel::display(const CalibrationRow& row, int column) const
{
    const qs::CalibrationResult& r = row.result;
    const bool grouped = r.ranges.size() > 1;
    switch (column) {
    case MethodColumn:
        return QString::fromStdString(calibrationMethodLabel(row.options));
    case CompatColumn:
        return QString::fromStdString(qs::compatibilityName(row.options.compat));
    case RangeColumn:
        if (!row.error.empty())
            return tr("failed: %1").arg(QString::fromStdString(row.error));
        if (grouped)
            return tr("%1 (%2), max amax %3")
                .arg(groupWord())
                .arg(r.ranges.size())
                .arg(formatValueShort(largestAmax(r.ranges)));
        if (r.ranges.empty())
            return QString();
        if (r.ranges.front().min == -r.ranges.front().max)
            return tr("amax %1").arg(formatValue(r.ranges.front().max));
        return QStringLiteral("[%1, %2]")
            .arg(formatValue(r.ranges.front().min), formatValue(r.ranges.front().max));
    default:
        break;
    }
    if (!row.error.empty())
        return QStringLiteral("\u2014");
    switch (column) {
    case ScaleColumn:
        if (grouped)
            return tr("max %1").arg(formatValueShort(largestScale(r.scales)));
        return r.scales.empty() ? QString() : formatValue(r.scales.front());
    case ZeroPointColumn: {
        if (r.zeroPoints.empty())
            return QString();
        const auto [lo, hi] = std::minmax_element(r.zeroPoints.begin(), r.zeroPoints.end());
        return *lo == *hi ? QString::number(*lo) : QStringLiteral("%1 \u2026 %2").arg(*lo).arg(*hi);
    }
    case MseColumn:
        return formatValueShort(r.report.mse);
    case SqnrColumn:
        return sqnrText(r.report.sqnrDb);
    case ClippedColumn:
        return formatShare(r.report.clippedShare);
    default:
        return {};
    }
}

QVariant CalibrationTableModel::sortValue(const CalibrationRow& row, int column) const
{
    const qs::CalibrationResult& r = row.result;
    if (column == MethodColumn || column == CompatColumn)
        return display(row, column);
    if (!row.error.empty())
        return std::numeric_limits<double>::infinity();
    switch (column) {
    case RangeColumn:
        return largestAmax(r.ranges);
    case ScaleColumn:
        return largestScale(r.scales);
    case ZeroPointColumn:
        return r.zeroPoints.empty() ? 0.0 : static_cast<double>(r.zeroPoints.front());
    case MseColumn:
        return r.report.mse;
    case SqnrColumn:
        return r.report.sqnrDb;
    case ClippedColumn:
        return r.report.clippedShare;
    default:
        return {};
    }
}

QVariant CalibrationTableModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const CalibrationRow& row = m_comparison.rows[static_cast<std::size_t>(index.row())];
    switch (role) {
    case Qt::DisplayRole:
        return display(row, index.column());
    case SortRole:
        return sortValue(row, index.column());
    case Qt::TextAlignmentRole:
        return index.column() <= CompatColumn || (index.column() == RangeColumn && !row.error.empty())
            ? QVariant::fromValue(Qt::AlignLeft | Qt::AlignVCenter)
            : QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::ForegroundRole:
        return row.error.empty() ? QVariant() : QVariant(QColor(160, 40, 40));
    case Qt::ToolTipRole:
        if (!row.error.empty())
            return QString::fromStdString(row.error);
        if (index.column() == RangeColumn && row.result.ranges.size() == 1)
            return tr("Range [%1, %2] from %3 batch(es)")
                .arg(formatValue(row.result.ranges.front().min), formatValue(row.result.ranges.front().max))
                .arg(row.result.batches);
        return tr("Error over all batches: MSE %1, SQNR %2 dB, max |error| %3")
            .arg(formatValue(row.result.report.mse), sqnrText(row.result.report.sqnrDb),
                formatValue(row.result.report.maxAbsError));
    default:
        return {};
    }
}

QVariant CalibrationTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case MethodColumn:
        return tr("Method");
    case CompatColumn:
        return tr("Compatibility");
    case RangeColumn:
        return tr("Range");
    case ScaleColumn:
        return tr("Scale");
    case ZeroPointColumn:
        return tr("Zero point");
    case MseColumn:
        return tr("MSE");
    case SqnrColumn:
        return tr("SQNR (dB)");
    case ClippedColumn:
        return tr("Clipped");
    default:
        return {};
    }
}

} // namespace qs::gui
