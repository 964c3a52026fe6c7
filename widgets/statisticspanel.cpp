#include "statisticspanel.h"

#include "outlierchannelmodel.h"
#include "summarystatsmodel.h"
#include "tensoranalysis.h"

#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QScopedValueRollback>
#include <QTableView>
#include <QVBoxLayout>

namespace qs::gui {

namespace {

QTableView* makeTable(QAbstractItemModel* model, QWidget* parent)
{
    auto* view = new QTableView(parent);
    view->setModel(model);
    view->verticalHeader()->hide();
    view->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    view->horizontalHeader()->setStretchLastSection(true);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view->setAlternatingRowColors(true);
    view->setWordWrap(false);
    view->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    return view;
}

} // namespace

StatisticsPanel::StatisticsPanel(QWidget* parent)
    : QWidget(parent)
    , m_tensorLabel(new QLabel(this))
    , m_outlierLabel(new QLabel(this))
    , m_statsModel(new SummaryStatsModel(this))
    , m_outlierModel(new OutlierChannelModel(this))
    , m_statsView(makeTable(m_statsModel, this))
    , m_outlierView(makeTable(m_outlierModel, this))
{
    m_statsView->setObjectName(QStringLiteral("summaryStatsTable"));
    m_outlierView->setObjectName(QStringLiteral("outlierChannelTable"));
    m_statsView->horizontalHeader()->setSectionResizeMode(
        SummaryStatsModel::NameColumn, QHeaderView::ResizeToContents);
    m_outlierView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_outlierView->horizontalHeader()->setSectionResizeMode(
        OutlierChannelModel::AbsmaxColumn, QHeaderView::Stretch);
    m_outlierView->horizontalHeader()->setStretchLastSection(false);
    m_statsView->setSelectionMode(QAbstractItemView::NoSelection);
    m_statsView->setFocusPolicy(Qt::NoFocus);
    // Every statistic visible at once: the table is sized to its rows instead of scrolling.
    m_statsView->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_statsView->setSizeAdjustPolicy(QAbstractScrollArea::AdjustToContents);
    m_statsView->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Fixed);

    m_tensorLabel->setWordWrap(true);
    m_tensorLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_outlierLabel->setWordWrap(true);
    m_outlierLabel->setToolTip(
        tr("The channels with the largest absmax, with their ratio to the median channel "
           "absmax. Click one to see its histogram."));

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->setSpacing(6);
    layout->addWidget(m_tensorLabel);
    layout->addWidget(m_statsView);
    layout->addWidget(m_outlierLabel);
    layout->addWidget(m_outlierView, 1);

    connect(m_outlierView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        [this](const QModelIndex& current) {
            if (current.isValid() && !m_syncing)
                emit channelActivated(current.data(OutlierChannelModel::ChannelRole).toLongLong());
        });
    connect(m_outlierView, &QTableView::clicked, this, [this](const QModelIndex& index) {
        emit channelActivated(index.data(OutlierChannelModel::ChannelRole).toLongLong());
    });
    clear();
}

void StatisticsPanel::clear()
{
    m_tensorLabel->setText(tr("No tensor selected."));
    m_outlierLabel->setText(tr("Top outlier channels"));
    m_statsModel->setStats(std::nullopt);
    m_outlierModel->setOutliers({}, 0);
}

void StatisticsPanel::showAnalysis(const AnalysisPtr& analysis)
{
    if (!analysis) {
        clear();
        return;
    }
    const qs::TensorInfo& info = analysis->info;
    QString source
        = tr("%1 (%2)<br>stored as %3")
              .arg(QFileInfo(QString::fromStdString(analysis->filePath)).fileName().toHtmlEscaped(),
                  QString::fromStdString(analysis->formatName).toHtmlEscaped(),
                  QString::fromStdString(info.dtypeName).toHtmlEscaped());
    if (!info.location.empty())
        source += QStringLiteral(", ") + QString::fromStdString(info.location).toHtmlEscaped();
    m_tensorLabel->setText(
        QStringLiteral("<b>%1</b><br>%2").arg(QString::fromStdString(info.name).toHtmlEscaped(), source));
    m_statsModel->setStats(analysis->stats);
    const QScopedValueRollback guard(m_syncing, true);
    if (analysis->channels) {
        m_outlierLabel->setText(tr("Top outlier channels along axis %1").arg(analysis->channels->axis));
        m_outlierModel->setOutliers(analysis->outliers, analysis->channels->axis);
    } else {
        m_outlierLabel->setText(tr("A scalar has no channels."));
        m_outlierModel->setOutliers({}, 0);
    }
}

void StatisticsPanel::setSelectedChannel(std::int64_t channel)
{
    const int row = m_outlierModel->rowOf(channel);
    const QScopedValueRollback guard(m_syncing, true);
    if (row < 0) {
        m_outlierView->clearSelection();
        return;
    }
    m_outlierView->selectRow(row);
}

} // namespace qs::gui
