#include "summarystatsmodel.h"

#include "formatting.h"

namespace qs::gui {

SummaryStatsModel::SummaryStatsModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void SummaryStatsModel::setStats(const std::optional<qs::SummaryStats>& stats)
{
    m_stats = stats;
    emit dataChanged(index(0, ValueColumn), index(RowCount - 1, ValueColumn));
}

int SummaryStatsModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : RowCount;
}

int SummaryStatsModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant SummaryStatsModel::rawValue(int row) const
{
    if (!m_stats)
        return {};
    const qs::SummaryStats& s = *m_stats;
    switch (row) {
    case CountRow:
        return static_cast<qlonglong>(s.count);
    case NanRow:
        return static_cast<qlonglong>(s.nanCount);
    case InfRow:
        return static_cast<qlonglong>(s.infCount);
    case MinRow:
        return s.min;
    case MaxRow:
        return s.max;
    case AbsmaxRow:
        return s.absmax;
    case MeanRow:
        return s.mean;
    case StdRow:
        return s.std;
    case KurtosisRow:
        return s.kurtosis;
    case Beyond3SigmaRow:
        return s.beyond3SigmaShare;
    case Beyond6SigmaRow:
        return s.beyond6SigmaShare;
    case ZeroShareRow:
        return s.zeroShare;
    default:
        return {};
    }
}

QString SummaryStatsModel::formatted(int row) const
{
    const QVariant value = rawValue(row);
    if (!value.isValid())
        return QStringLiteral("\u2014");
    switch (row) {
    case CountRow:
    case NanRow:
    case InfRow:
        return formatCount(value.toLongLong());
    case Beyond3SigmaRow:
    case Beyond6SigmaRow:
    case ZeroShareRow:
        return formatShare(value.toDouble());
    default:
        return formatValue(value.toDouble());
    }
}

QVariant SummaryStatsModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const int row = index.row();
    static const char* const names[RowCount] = {
        QT_TR_NOOP("Count"),
        QT_TR_NOOP("NaN"),
        QT_TR_NOOP("Inf"),
        QT_TR_NOOP("Min"),
        QT_TR_NOOP("Max"),
        QT_TR_NOOP("Absmax"),
        QT_TR_NOOP("Mean"),
        QT_TR_NOOP("Std"),
        QT_TR_NOOP("Kurtosis"),
        QT_TR_NOOP("> 3\u03c3 share"),
        QT_TR_NOOP("> 6\u03c3 share"),
        QT_TR_NOOP("Zeros share"),
    };
    static const char* const tips[RowCount] = {
        QT_TR_NOOP("Elements, NaN and Inf included"),
        QT_TR_NOOP("NaN elements (left out of every other figure)"),
        QT_TR_NOOP("+Inf and \u2212Inf elements (left out of every other figure)"),
        QT_TR_NOOP("Smallest finite value"),
        QT_TR_NOOP("Largest finite value"),
        QT_TR_NOOP("Largest finite |x|: the range a symmetric max calibration must cover"),
        QT_TR_NOOP("Mean of the finite values"),
        QT_TR_NOOP("Population standard deviation of the finite values"),
        QT_TR_NOOP("Pearson kurtosis m\u2084/m\u2082\u00b2 (normal = 3; heavy tails are larger)"),
        QT_TR_NOOP("Share of finite values with |x \u2212 mean| > 3\u00b7std (normal: 0.27 %)"),
        QT_TR_NOOP(
            "Share of finite values with |x \u2212 mean| > 6\u00b7std (normal: 2\u00b710\u207b\u2077 %)"),
        QT_TR_NOOP("Share of finite values that are exactly zero"),
    };
    switch (role) {
    case Qt::DisplayRole:
        return index.column() == NameColumn ? tr(names[row]) : formatted(row);
    case Qt::ToolTipRole:
        return tr(tips[row]);
    case Qt::TextAlignmentRole:
        return index.column() == ValueColumn ? QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter)
                                             : QVariant();
    case RawValueRole:
        return index.column() == ValueColumn ? rawValue(row) : QVariant();
    default:
        return {};
    }
}

QVariant SummaryStatsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case NameColumn:
        return tr("Statistic");
    case ValueColumn:
        return tr("Value");
    default:
        return {};
    }
}

} // namespace qs::gui
