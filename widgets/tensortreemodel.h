#pragma once

#include "session.h"
#include "tensor/stats.h"

#include <QAbstractItemModel>
#include <QHash>
#include <QStringList>
#include <memory>
#include <vector>

namespace qs::gui {

/// The tensors of every open file as a tree: one top-level node per file, then one group per name
/// prefix, so "model.layers.0.self_attn.q_proj.weight" becomes model › layers › 0 › self_attn ›
/// q_proj.weight (the module name and the parameter name stay together in the leaf). HDF5 paths split
/// at '/'. Files, groups and tensors keep the order of the file; sorting is the proxy's job.
class TensorTreeModel : public QAbstractItemModel {
    Q_OBJECT

public:
    /// AbsMax, Kurtosis (Pearson, normal = 3) and OutlierShare (share of finite values beyond 6σ of the
    /// mean) are blank until the tensor's statistics are known (setTensorStats). ChosenColumn: the scheme
    /// chosen for the tensor ("Use this"), empty when none.
    enum Column {
        NameColumn,
        ShapeColumn,
        DTypeColumn,
        SizeColumn,
        AbsMaxColumn,
        KurtosisColumn,
        OutlierShareColumn,
        ChosenColumn,
        ColumnCount
    };
    enum Role {
        /// Numbers for Shape (elements), Size (bytes) and the statistics columns (double; invalid while
        /// unknown, and for files and groups), text otherwise.
        SortRole = Qt::UserRole + 1,
        FilterRole, ///< the full tensor name for tensors, empty for files and groups
        NodeKindRole, ///< NodeKind as int
        FileIdRole,
        TensorNameRole, ///< the full tensor name (tensors only)
        LoadableRole,
    };
    enum class NodeKind { File, Group, Tensor };

    explicit TensorTreeModel(QObject* parent = nullptr);
    ~TensorTreeModel() override;

    void addFile(const qs::gui::OpenFile& file);
    void removeFile(int fileId);
    /// The chosen-setting labels of the tensors of one file, by full tensor name (others: none).
    void setChosenLabels(int fileId, const QHash<QString, QString>& labelsByTensor);
    /// Fills the statistics columns of `tensor` (nothing happens for a tensor that is not in the tree).
    void setTensorStats(const qs::gui::TensorRef& tensor, const qs::SummaryStats& stats);
    /// Whether the statistics columns of `tensor` are filled.
    bool hasTensorStats(const qs::gui::TensorRef& tensor) const;

    QModelIndex fileIndex(int fileId) const;
    QModelIndex tensorIndex(const qs::gui::TensorRef& tensor) const;
    /// The tensor at `index`, or an invalid ref for files and groups.
    TensorRef tensorAt(const QModelIndex& index) const;
    /// The file `index` belongs to (-1 for an invalid index).
    int fileIdAt(const QModelIndex& index) const;

    /// Splits a tensor name into group labels followed by the leaf label.
    static QStringList splitName(const QString& name);

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    bool hasChildren(const QModelIndex& parent = {}) const override;

private:
    struct Node;

    Node* nodeAt(const QModelIndex& index) const;
    std::unique_ptr<Node> buildFileNode(const OpenFile& file) const;
    QVariant displayData(const Node& node, int column) const;
    QVariant sortData(const Node& node, int column) const;
    QString chosenLabel(const Node& node) const;
    QString toolTip(const Node& node) const;

    std::vector<std::unique_ptr<Node>> m_files;
};

} // namespace qs::gui
