#pragma once

#include <QSortFilterProxyModel>

namespace qs::gui {

/// Sorts the tensor tree (names in natural order, so layer 2 comes before layer 10; shapes by element
/// count; sizes by bytes) and filters it by tensor name, keeping the groups and files on the way to a match.
/// File rows stay visible while a filter is set, so the user still sees what is open.
class TensorFilterProxyModel : public QSortFilterProxyModel {
    Q_OBJECT

public:
    explicit TensorFilterProxyModel(QObject* parent = nullptr);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;
    bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;
};

/// Natural order: runs of digits compare as numbers ("layer2" < "layer10"), the rest case-insensitively.
/// Returns <0, 0 or >0.
int naturalCompare(const QString& a, const QString& b);

} // namespace qs::gui
