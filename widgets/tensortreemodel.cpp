#include "tensortreemodel.h"

#include "formatting.h"

#include <QBrush>
#include <QFont>
#include <QGuiApplication>
#include <QPalette>
#include <algorithm>
#include <optional>

namespace qs::gui {

struct TensorTreeModel::Node {
    NodeKind kind = NodeKind::Group;
    QString label;
    QString fullName; ///< tensor name, or the name prefix of a group
    int fileId = -1;
    Node* parent = nullptr;
    int row = 0;
    std::vector<std::unique_ptr<Node>> children;

    const qs::TensorInfo* info = nullptr; ///< tensors only; owned by `file`
    std::optional<qs::SummaryStats> stats; ///< tensors only, once known
    std::uint64_t bytes = 0; ///< data bytes of every tensor below
    qs::Shape::value_type elements = 0; ///< elements of every tensor below
    int tensorCount = 0;
    QString commonDtype; ///< the dtype every tensor below shares, or empty

    // File nodes only.
    OpenFile file;
    QHash<QString, Node*> tensors;
    QHash<QString, QString> chosen; ///< chosen-setting label by tensor name

    Node* addChild(std::unique_ptr<Node> child)
    {
        child->parent = this;
        child->row = static_cast<int>(children.size());
        children.push_back(std::move(child));
        return children.back().get();
    }
};

TensorTreeModel::TensorTreeModel(QObject* parent)
    : QAbstractItemModel(parent)
{
}

TensorTreeModel::~TensorTreeModel() = default;

QStringList TensorTreeModel::splitName(const QString& name)
{
    QStringList parts = name.split(QLatin1Char('/'), Qt::SkipEmptyParts);
    if (parts.isEmpty())
        return {name};
    const QString last = parts.takeLast();
    const QStringList dotted = last.split(QLatin1Char('.'));
    if (dotted.size() >= 3) {
        parts << dotted.mid(0, dotted.size() - 2);
        parts << dotted.at(dotted.size() - 2) + QLatin1Char('.') + dotted.last();
    } else {
        parts << last;
    }
    return parts;
}

std::unique_ptr<TensorTreeModel::Node> TensorTreeModel::buildFileNode(const OpenFile& file) const
{
    auto root = std::make_unique<Node>();
    root->kind = NodeKind::File;
    root->label = file.fileName();
    root->fullName = file.path;
    root->fileId = file.id;
    root->file = file;

    QHash<QString, Node*> groups;
    for (const qs::TensorInfo& info : file.file->tensors()) {
        const QString name = QString::fromStdString(info.name);
        const QStringList parts = splitName(name);
        Node* parent = root.get();
        QString prefix;
        for (qsizetype i = 0; i + 1 < parts.size(); ++i) {
            prefix += (i == 0 ? QString() : QStringLiteral("\u001f")) + parts.at(i);
            Node*& group = groups[prefix];
            if (!group) {
                auto node = std::make_unique<Node>();
                node->kind = NodeKind::Group;
                node->label = parts.at(i);
                node->fileId = file.id;
                group = parent->addChild(std::move(node));
                const qsizetype end
                    = name.indexOf(parts.at(i), parent == root.get() ? 0 : parent->fullName.size())
                    + parts.at(i).size();
                group->fullName = name.left(end);
            }
            parent = group;
        }
        auto leaf = std::make_unique<Node>();
        leaf->kind = NodeKind::Tensor;
        leaf->label = parts.last().isEmpty() ? tr("(unnamed)") : parts.last();
        leaf->fullName = name;
        leaf->fileId = file.id;
        leaf->info = &info;
        Node* added = parent->addChild(std::move(leaf));
        if (!root->tensors.contains(name))
            root->tensors.insert(name, added);

        const QString dtype = dtypeLabel(info);
        const std::int64_t elements = info.elementCount();
        for (Node* n = added; n; n = n->parent) {
            n->bytes += info.byteSize;
            n->elements += elements;
            n->commonDtype = n->tensorCount == 0 || n->commonDtype == dtype ? dtype : QString();
            n->tensorCount += 1;
        }
    }
    return root;
}

void TensorTreeModel::addFile(const OpenFile& file)
{
    if (!file.file || fileIndex(file.id).isValid())
        return;
    auto node = buildFileNode(file);
    const int row = static_cast<int>(m_files.size());
    beginInsertRows({}, row, row);
    node->row = row;
    m_files.push_back(std::move(node));
    endInsertRows();
}

void TensorTreeModel::removeFile(int fileId)
{
    const QModelIndex index = fileIndex(fileId);
    if (!index.isValid())
        return;
    const int row = index.row();
    beginRemoveRows({}, row, row);
    m_files.erase(m_files.begin() + row);
    for (std::size_t i = static_cast<std::size_t>(row); i < m_files.size(); ++i)
        m_files[i]->row = static_cast<int>(i);
    endRemoveRows();
}

QModelIndex TensorTreeModel::fileIndex(int fileId) const
{
    for (const auto& file : m_files) {
        if (file->fileId == fileId)
            return createIndex(file->row, 0, file.get());
    }
    return {};
}

QModelIndex TensorTreeModel::tensorIndex(const TensorRef& tensor) const
{
    const QModelIndex file = fileIndex(tensor.fileId);
    if (!file.isValid())
        return {};
    Node* leaf = nodeAt(file)->tensors.value(tensor.name);
    return leaf ? createIndex(leaf->row, 0, leaf) : QModelIndex();
}

TensorRef TensorTreeModel::tensorAt(const QModelIndex& index) const
{
    const Node* node = nodeAt(index);
    if (!node || node->kind != NodeKind::Tensor)
        return {};
    return TensorRef {node->fileId, node->fullName};
}

int TensorTreeModel::fileIdAt(const QModelIndex& index) const
{
    const Node* node = nodeAt(index);
    return node ? node->fileId : -1;
}

TensorTreeModel::Node* TensorTreeModel::nodeAt(const QModelIndex& index) const
{
    if (!index.isValid() || index.model() != this)
        return nullptr;
    return static_cast<Node*>(index.internalPointer());
}

QModelIndex TensorTreeModel::index(int row, int column, const QModelIndex& parent) const
{
    if (row < 0 || column < 0 || column >= ColumnCount)
        return {};
    if (!parent.isValid()) {
        if (row >= static_cast<int>(m_files.size()))
            return {};
        return createIndex(row, column, m_files[static_cast<std::size_t>(row)].get());
    }
    if (parent.column() != 0)
        return {};
    const Node* node = nodeAt(parent);
    if (!node || row >= static_cast<int>(node->children.size()))
        return {};
    return createIndex(row, column, node->children[static_cast<std::size_t>(row)].get());
}

QModelIndex TensorTreeModel::parent(const QModelIndex& child) const
{
    const Node* node = nodeAt(child);
    if (!node || !node->parent)
        return {};
    return createIndex(node->parent->row, 0, node->parent);
}

int TensorTreeModel::rowCount(const QModelIndex& parent) const
{
    if (!parent.isValid())
        return static_cast<int>(m_files.size());
    if (parent.column() != 0)
        return 0;
    const Node* node = nodeAt(parent);
    return node ? static_cast<int>(node->children.size()) : 0;
}

int TensorTreeModel::columnCount(const QModelIndex&) const
{
    return ColumnCount;
}

bool TensorTreeModel::hasChildren(const QModelIndex& parent) const
{
    return rowCount(parent) > 0;
}

Qt::ItemFlags TensorTreeModel::flags(const QModelIndex& index) const
{
    const Node* node = nodeAt(index);
    if (!node)
        return Qt::NoItemFlags;
    if (node->kind == NodeKind::Tensor) {
        // Without ItemIsEnabled the view greys the row out; the tooltip still explains why.
        if (!node->info->loadable())
            return Qt::ItemNeverHasChildren;
        return Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemNeverHasChildren;
    }
    return Qt::ItemIsEnabled | Qt::ItemIsSelectable;
}

QVariant TensorTreeModel::displayData(const Node& node, int column) const
{
    switch (column) {
    case NameColumn:
        return node.label;
    case ShapeColumn:
        if (node.kind == NodeKind::Tensor)
            return formatShape(node.info->shape);
        return tensorCountText(node.tensorCount);
    case DTypeColumn:
        // Files and groups show the dtype all their tensors share (the file format is in the tooltip).
        return node.kind == NodeKind::Tensor ? dtypeLabel(*node.info) : node.commonDtype;
    case SizeColumn:
        return formatBytes(node.bytes);
    case AbsMaxColumn:
        return node.stats ? formatValueShort(node.stats->absmax) : QString();
    case KurtosisColumn:
        return node.stats ? QString::number(node.stats->kurtosis, 'f', 2) : QString();
    case OutlierShareColumn:
        return node.stats ? formatShare(node.stats->beyond6SigmaShare) : QString();
    case ChosenColumn:
        return chosenLabel(node);
    default:
        return {};
    }
}

void TensorTreeModel::setTensorStats(const TensorRef& tensor, const qs::SummaryStats& stats)
{
    const QModelIndex index = tensorIndex(tensor);
    Node* leaf = nodeAt(index);
    if (!leaf)
        return;
    leaf->stats = stats;
    emit dataChanged(index.siblingAtColumn(AbsMaxColumn), index.siblingAtColumn(OutlierShareColumn),
        {Qt::DisplayRole, SortRole});
}

bool TensorTreeModel::hasTensorStats(const TensorRef& tensor) const
{
    const Node* leaf = nodeAt(tensorIndex(tensor));
    return leaf && leaf->stats.has_value();
}

QString TensorTreeModel::chosenLabel(const Node& node) const
{
    if (node.kind != NodeKind::Tensor)
        return {};
    const Node* root = &node;
    while (root->parent)
        root = root->parent;
    return root->chosen.value(node.fullName);
}

void TensorTreeModel::setChosenLabels(int fileId, const QHash<QString, QString>& labelsByTensor)
{
    const QModelIndex fileIdx = fileIndex(fileId);
    Node* root = nodeAt(fileIdx);
    if (!root)
        return;
    const QHash<QString, QString> previous = root->chosen;
    root->chosen = labelsByTensor;
    for (auto it = root->tensors.cbegin(); it != root->tensors.cend(); ++it) {
        if (previous.value(it.key()) == labelsByTensor.value(it.key()))
            continue;
        const Node* leaf = it.value();
        const QModelIndex changed = createIndex(leaf->row, ChosenColumn, leaf);
        emit dataChanged(changed, changed, {Qt::DisplayRole, SortRole, Qt::ToolTipRole});
    }
}

QVariant TensorTreeModel::sortData(const Node& node, int column) const
{
    switch (column) {
    case NameColumn:
        return node.label;
    case ShapeColumn:
        return static_cast<qlonglong>(node.elements);
    case DTypeColumn:
        return displayData(node, column);
    case SizeColumn:
        return static_cast<qulonglong>(node.bytes);
    case AbsMaxColumn:
        return node.stats ? QVariant(node.stats->absmax) : QVariant();
    case KurtosisColumn:
        return node.stats ? QVariant(node.stats->kurtosis) : QVariant();
    case OutlierShareColumn:
        return node.stats ? QVariant(node.stats->beyond6SigmaShare) : QVariant();
    case ChosenColumn:
        return chosenLabel(node);
    default:
        return {};
    }
}

QString TensorTreeModel::toolTip(const Node& node) const
{
    switch (node.kind) {
    case NodeKind::File:
        return tr("%1\n%2, %3, %4")
            .arg(node.file.path, QString::fromStdString(node.file.file->formatName()),
                tensorCountText(node.tensorCount), formatBytes(node.bytes));
    case NodeKind::Group:
        return tr("%1\n%2, %3")
            .arg(node.fullName, tensorCountText(node.tensorCount), formatBytes(node.bytes));
    case NodeKind::Tensor:
        break;
    }
    const qs::TensorInfo& info = *node.info;
    QString tip = tr("%1\n%2 %3, %4 elements, %5")
                      .arg(node.fullName, dtypeLabel(info), formatShape(info.shape),
                          formatCount(info.elementCount()), formatBytes(info.byteSize));
    if (info.loadable() && QString::fromStdString(info.dtypeName) != dtypeLabel(info))
        tip += QLatin1Char('\n') + tr("stored as %1").arg(QString::fromStdString(info.dtypeName));
    if (!info.location.empty())
        tip += QLatin1Char('\n') + QString::fromStdString(info.location);
    if (!info.loadable())
        tip += QLatin1Char('\n') + unsupportedReason(info);
    return tip;
}

QVariant TensorTreeModel::data(const QModelIndex& index, int role) const
{
    const Node* node = nodeAt(index);
    if (!node)
        return {};
    const bool loadable = node->kind != NodeKind::Tensor || node->info->loadable();
    switch (role) {
    case Qt::DisplayRole:
        return displayData(*node, index.column());
    case Qt::ToolTipRole:
        return toolTip(*node);
    case Qt::TextAlignmentRole:
        if (index.column() == SizeColumn || index.column() == AbsMaxColumn || index.column() == KurtosisColumn
            || index.column() == OutlierShareColumn)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::ForegroundRole:
        if (!loadable)
            return QBrush(QGuiApplication::palette().color(QPalette::Disabled, QPalette::Text));
        return {};
    case Qt::FontRole:
        if (node->kind == NodeKind::File) {
            QFont font;
            font.setBold(true);
            return font;
        }
        return {};
    case SortRole:
        return sortData(*node, index.column());
    case FilterRole:
        return node->kind == NodeKind::Tensor ? node->fullName : QString();
    case NodeKindRole:
        return static_cast<int>(node->kind);
    case FileIdRole:
        return node->fileId;
    case TensorNameRole:
        return node->kind == NodeKind::Tensor ? node->fullName : QString();
    case LoadableRole:
        return loadable;
    default:
        return {};
    }
}

QVariant TensorTreeModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount)
        return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case NameColumn:
            return tr("Name");
        case ShapeColumn:
            return tr("Shape");
        case DTypeColumn:
            return tr("DType");
        case SizeColumn:
            return tr("Size");
        case AbsMaxColumn:
            return tr("Absmax");
        case KurtosisColumn:
            return tr("Kurtosis");
        case OutlierShareColumn:
            return tr("> 6\u03c3");
        case ChosenColumn:
            return tr("Chosen");
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case NameColumn:
            return tr("Tensor name, grouped by its dotted prefix");
        case ShapeColumn:
            return tr("Shape in row-major order (the last axis is contiguous); sorts by element count");
        case DTypeColumn:
            return tr("Element type in the file");
        case SizeColumn:
            return tr("Bytes the data occupies in the file");
        case AbsMaxColumn:
            return tr("Largest finite |x|; filled in the background after opening");
        case KurtosisColumn:
            return tr("Pearson kurtosis (a normal distribution has 3; heavy tails more)");
        case OutlierShareColumn:
            return tr("Outlier share: finite values more than 6\u03c3 from the mean");
        case ChosenColumn:
            return tr("The quantization chosen for the tensor with \u201cUse this\u201d, kept for export");
        }
    }
    return {};
}

} // namespace qs::gui
