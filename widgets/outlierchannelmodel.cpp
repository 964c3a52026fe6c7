#include "outlierchannelmodel.h"

#include "formatting.h"

#include <algorithm>
#include <cmath>

namespace qs::gui {

OutlierChannelModel::OutlierChannelModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void OutlierChannelModel::setOutliers(std::vector<qs::OutlierChannel> outliers, int axis)
{
    beginResetModel();
    m_outliers = std::move(outliers);
    m_axis = axis;
    endResetModel();
    emit headerDataChanged(Qt::Horizontal, ChannelColumn, ChannelColumn);
}

int OutlierChannelModel::rowOf(std::int64_t channel) const
{
    const auto it = std::find_if(m_outliers.begin(), m_outliers.end(),
        [&](const qs::OutlierChannel& o) { return o.channel == channel; });
    return it == m_outliers.end() ? -1 : static_cast<int>(it - m_outliers.begin());
}

int OutlierChannelModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_outliers.size());
}

int OutlierChannelModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant OutlierChannelModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const qs::OutlierChannel& outlier = m_outliers[static_cast<std::size_t>(index.row())];
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case ChannelColumn:
            return QString::number(outlier.channel);
        case AbsmaxColumn:
            return formatValue(outlier.absmax);
        case RatioColumn:
            return std::isinf(outlier.ratio) ? QStringLiteral("\u221e")
                                             : QString::number(outlier.ratio, 'f', 2);
        }
        return {};
    case Qt::TextAlignmentRole:
        return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::ToolTipRole:
        return tr("Channel %1 along axis %2: absmax %3, %4\u00d7 the median channel absmax. Click to see its "
                  "histogram.")
            .arg(outlier.channel)
            .arg(m_axis)
            .arg(formatValue(outlier.absmax), formatValue(outlier.ratio));
    case ChannelRole:
        return static_cast<qlonglong>(outlier.channel);
    default:
        return {};
    }
}

QVariant OutlierChannelModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case ChannelColumn:
            return tr("Channel");
        case AbsmaxColumn:
            return tr("Absmax");
        case RatioColumn:
            return tr("\u00d7 median");
        }
    }
    if (role == Qt::ToolTipRole && section == RatioColumn)
        return tr("Channel absmax divided by the median channel absmax");
    if (role == Qt::ToolTipRole && section == ChannelColumn)
        return tr("Index along axis %1").arg(m_axis);
    return {};
}

} // namespace qs::gui
