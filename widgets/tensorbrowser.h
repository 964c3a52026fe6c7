#pragma once

#include "session.h"
#include "tensor/stats.h"

#include <QWidget>

class QLineEdit;
class QTreeView;

namespace qs::gui {

class TensorFilterProxyModel;
class TensorTreeModel;

/// The tensor browser: a filter box over the sortable tensor tree of every open file.
class TensorBrowser : public QWidget {
    Q_OBJECT

public:
    explicit TensorBrowser(QWidget* parent = nullptr);

    TensorTreeModel* model() const { return m_model; }
    TensorFilterProxyModel* proxyModel() const { return m_proxy; }
    QTreeView* treeView() const { return m_view; }
    QLineEdit* filterEdit() const { return m_filter; }

    void addFile(const qs::gui::OpenFile& file);
    void removeFile(int fileId);
    /// Fills the tensor's absmax, kurtosis and outlier-share columns (SessionController::tensorStatsReady).
    void setTensorStats(const qs::gui::TensorRef& tensor, const qs::SummaryStats& stats);

    /// Makes `tensor` the current row (expanding its parents) without emitting tensorSelected.
    bool showTensor(const qs::gui::TensorRef& tensor);
    /// The file of the current row, or -1.
    int currentFileId() const;

signals:
    /// The user chose a loadable tensor.
    void tensorSelected(const qs::gui::TensorRef& tensor);
    void closeFileRequested(int fileId);

private:
    void onCurrentChanged(const QModelIndex& current);
    void onFilterChanged(const QString& text);
    void showContextMenu(const QPoint& position);

    TensorTreeModel* m_model;
    TensorFilterProxyModel* m_proxy;
    QLineEdit* m_filter;
    QTreeView* m_view;
    bool m_programmaticSelection = false;
};

} // namespace qs::gui
