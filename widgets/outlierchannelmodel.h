#pragma once

#include "tensor/stats.h"

#include <QAbstractTableModel>
#include <vector>

namespace qs::gui {

/// The channels with the largest absmax: channel index, absmax and its ratio to the median channel.
class OutlierChannelModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column { ChannelColumn, AbsmaxColumn, RatioColumn, ColumnCount };
    /// The channel index (qlonglong) of a row, in every column.
    static constexpr int ChannelRole = Qt::UserRole + 1;

    explicit OutlierChannelModel(QObject* parent = nullptr);

    void setOutliers(std::vector<qs::OutlierChannel> outliers, int axis);
    const std::vector<qs::OutlierChannel>& outliers() const { return m_outliers; }
    /// The row of `channel`, or -1.
    int rowOf(std::int64_t channel) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::vector<qs::OutlierChannel> m_outliers;
    int m_axis = 0;
};

} // namespace qs::gui
