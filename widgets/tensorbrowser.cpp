#include "tensorbrowser.h"

#include "tensorfilterproxymodel.h"
#include "tensortreemodel.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QHeaderView>
#include <QLineEdit>
#include <QMenu>
#include <QScopedValueRollback>
#include <QTreeView>
#include <QVBoxLayout>

namespace qs::gui {

TensorBrowser::TensorBrowser(QWidget* parent)
    : QWidget(parent)
    , m_model(new TensorTreeModel(this))
    , m_proxy(new TensorFilterProxyModel(this))
    , m_filter(new QLineEdit(this))
    , m_view(new QTreeView(this))
{
    m_proxy->setSourceModel(m_model);

    m_filter->setObjectName(QStringLiteral("tensorFilter"));
    m_filter->setPlaceholderText(tr("Filter tensors\u2026"));
    m_filter->setClearButtonEnabled(true);
    m_filter->setToolTip(tr("Show only tensors whose full name contains this text (case-insensitive)"));

    m_view->setObjectName(QStringLiteral("tensorTree"));
    m_view->setModel(m_proxy);
    m_view->setUniformRowHeights(true);
    m_view->setAlternatingRowColors(true);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(TensorTreeModel::NameColumn, Qt::AscendingOrder);
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);
    m_view->setAllColumnsShowFocus(true);
    m_view->setIndentation(14);
    QHeaderView* header = m_view->header();
    header->setStretchLastSection(false);
    // A stretched name column gets what the statistics columns leave, which is almost nothing in a narrow
    // dock: give it a readable width and let the other columns scroll.
    header->setSectionResizeMode(TensorTreeModel::NameColumn, QHeaderView::Interactive);
    header->resizeSection(TensorTreeModel::NameColumn, 210);
    for (int column : {TensorTreeModel::ShapeColumn, TensorTreeModel::DTypeColumn,
             TensorTreeModel::SizeColumn, TensorTreeModel::AbsMaxColumn, TensorTreeModel::KurtosisColumn,
             TensorTreeModel::OutlierShareColumn, TensorTreeModel::ChosenColumn})
        header->setSectionResizeMode(column, QHeaderView::ResizeToContents);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->setSpacing(4);
    layout->addWidget(m_filter);
    layout->addWidget(m_view);

    connect(m_filter, &QLineEdit::textChanged, this, &TensorBrowser::onFilterChanged);
    connect(m_view->selectionModel(), &QItemSelectionModel::currentChanged, this,
        [this](const QModelIndex& current) { onCurrentChanged(current); });
    // A click on the current row re-emits, so a tensor whose analysis was cancelled can be chosen again.
    connect(m_view, &QTreeView::clicked, this, &TensorBrowser::onCurrentChanged);
    connect(m_view, &QWidget::customContextMenuRequested, this, &TensorBrowser::showContextMenu);
}

void TensorBrowser::addFile(const OpenFile& file)
{
    m_model->addFile(file);
    const QModelIndex index = m_proxy->mapFromSource(m_model->fileIndex(file.id));
    m_view->expand(index);
}

void TensorBrowser::setTensorStats(const TensorRef& tensor, const qs::SummaryStats& stats)
{
    m_model->setTensorStats(tensor, stats);
}

void TensorBrowser::removeFile(int fileId)
{
    m_model->removeFile(fileId);
}

bool TensorBrowser::showTensor(const TensorRef& tensor)
{
    QModelIndex index = m_proxy->mapFromSource(m_model->tensorIndex(tensor));
    if (!index.isValid() && m_model->tensorIndex(tensor).isValid()) {
        // Hidden by the filter: the user asked for this tensor explicitly, so the filter goes.
        m_filter->clear();
        index = m_proxy->mapFromSource(m_model->tensorIndex(tensor));
    }
    if (!index.isValid())
        return false;
    const QScopedValueRollback guard(m_programmaticSelection, true);
    m_view->selectionModel()->setCurrentIndex(
        index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    m_view->scrollTo(index);
    return true;
}

int TensorBrowser::currentFileId() const
{
    return m_model->fileIdAt(m_proxy->mapToSource(m_view->currentIndex()));
}

void TensorBrowser::onCurrentChanged(const QModelIndex& current)
{
    if (m_programmaticSelection)
        return;
    const QModelIndex source = m_proxy->mapToSource(current);
    const TensorRef tensor = m_model->tensorAt(source);
    if (tensor.isValid() && source.data(TensorTreeModel::LoadableRole).toBool())
        emit tensorSelected(tensor);
}

void TensorBrowser::onFilterChanged(const QString& text)
{
    m_proxy->setFilterFixedString(text);
    if (!text.isEmpty())
        m_view->expandAll();
    const QModelIndex current = m_view->currentIndex();
    if (current.isValid())
        m_view->scrollTo(current);
}

void TensorBrowser::showContextMenu(const QPoint& position)
{
    const QModelIndex source = m_proxy->mapToSource(m_view->indexAt(position));
    if (!source.isValid())
        return;
    QMenu menu(this);
    const QString name = source.data(TensorTreeModel::TensorNameRole).toString();
    if (!name.isEmpty()) {
        menu.addAction(tr("Copy Tensor Name"), this, [name] { QApplication::clipboard()->setText(name); });
    }
    menu.addAction(tr("Expand All"), m_view, &QTreeView::expandAll);
    menu.addAction(tr("Collapse All"), m_view, &QTreeView::collapseAll);
    menu.addSeparator();
    const int fileId = m_model->fileIdAt(source);
    const QString fileName = m_model->fileIndex(fileId).data().toString();
    menu.addAction(tr("Close %1").arg(fileName), this, [this, fileId] { emit closeFileRequested(fileId); });
    menu.exec(m_view->viewport()->mapToGlobal(position));
}

} // namespace qs::gui
