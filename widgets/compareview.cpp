#include "compareview.h"

#include "colourscalebar.h"
#include "comparematrixmodel.h"
#include "csvfile.h"
#include "formatting.h"
#include "paretoplot.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QMetaObject>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QTimer>
#include <QToolTip>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>
#include <map>
#include <mutex>

namespace qs::gui {

/// One compareSchemes call: its cancel flag, the cells that arrived from the workers and are not yet shown,
/// and the view to deliver them to (cleared when the view no longer wants them).
struct CompareView::Run {
    std::atomic<bool> cancel {false};
    std::mutex mutex;
    CompareView* receiver = nullptr; ///< guarded by mutex
    std::vector<qs::CompareCell> arrived; ///< guarded by mutex
    bool deliveryQueued = false; ///< guarded by mutex
    std::map<std::pair<std::string, std::string>, std::size_t> indexOf;
    std::size_t total = 0;
    std::size_t shown = 0;

    /// Stops deliveries to the view; safe against workers that are about to post one.
    void detach()
    {
        cancel.store(true);
        const std::lock_guard lock(mutex);
        receiver = nullptr;
    }
};

std::vector<std::string> CompareView::defaultFormats()
{
    std::vector<std::string> formats = qs::defaultCompareFormats();
    for (const std::string& block : qs::defaultCompareBlockFormats())
        formats.push_back(block);
    return formats;
}

std::vector<std::string> CompareView::defaultGranularities()
{
    std::vector<std::string> granularities = qs::defaultCompareGranularities();
    if (std::find(granularities.begin(), granularities.end(), qs::kNativeGranularity) == granularities.end())
        granularities.push_back(qs::kNativeGranularity);
    return granularities;
}

CompareView::CompareView(QWidget* parent)
    : QWidget(parent)
    , m_formats(defaultFormats())
    , m_granularities(defaultGranularities())
    , m_model(new CompareMatrixModel(this))
    , m_table(new QTableView(this))
    , m_pareto(new ParetoPlot(this))
    , m_metric(new QComboBox(this))
    , m_paretoMetric(new QComboBox(this))
    , m_progress(new QProgressBar(this))
    , m_header(new QLabel(this))
    , m_legend(new ColourScaleBar(m_model, this))
    , m_paretoTimer(new QTimer(this))
{
    m_table->setObjectName(QStringLiteral("compareMatrix"));
    m_table->setModel(m_model);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setSelectionBehavior(QAbstractItemView::SelectItems);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_table->horizontalHeader()->setMinimumSectionSize(90);
    m_table->verticalHeader()->setMinimumSectionSize(fontMetrics().height() + 4);
    m_table->verticalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_table->setShowGrid(true);
    m_table->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_table, &QTableView::clicked, this, [this](const QModelIndex& index) {
        chooseCell(index.data(CompareMatrixModel::CellIndexRole).toInt());
    });
    connect(m_table, &QWidget::customContextMenuRequested, this, [this](const QPoint& position) {
        QMenu menu(this);
        menu.addAction(tr("Export Table as CSV\u2026"), this, &CompareView::exportCsvInteractively);
        menu.exec(m_table->viewport()->mapToGlobal(position));
    });

    m_metric->setObjectName(QStringLiteral("compareMetric"));
    for (auto metric : {CompareMatrixModel::Metric::Sqnr, CompareMatrixModel::Metric::Mse,
             CompareMatrixModel::Metric::MaxError, CompareMatrixModel::Metric::BitsPerValue})
        m_metric->addItem(CompareMatrixModel::metricName(metric), static_cast<int>(metric));
    m_metric->setToolTip(tr("The value shown and coloured in each cell"));
    connect(m_metric, &QComboBox::currentIndexChanged, this, [this] {
        m_model->setMetric(static_cast<CompareMatrixModel::Metric>(m_metric->currentData().toInt()));
    });

    m_paretoMetric->setObjectName(QStringLiteral("paretoMetric"));
    m_paretoMetric->addItem(tr("MSE (log)"));
    m_paretoMetric->addItem(tr("SQNR (dB)"));
    m_paretoMetric->setToolTip(tr("The error measure on the Pareto plot's vertical axis"));
    connect(m_paretoMetric, &QComboBox::currentIndexChanged, this, [this] { updatePareto(); });

    m_progress->setObjectName(QStringLiteral("compareProgress"));
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_progress->setFormat(tr("%v / %m cells"));
    m_progress->setMinimumWidth(fontMetrics().horizontalAdvance(tr("000 / 000 cells")) + 40);

    auto* exportButton = new QPushButton(tr("Export CSV\u2026"), this);
    exportButton->setToolTip(tr("Save every cell with all its metrics as CSV"));
    connect(exportButton, &QPushButton::clicked, this, &CompareView::exportCsvInteractively);

    m_paretoTimer->setSingleShot(true);
    m_paretoTimer->setInterval(150);
    connect(m_paretoTimer, &QTimer::timeout, this, &CompareView::updatePareto);

    m_header->setObjectName(QStringLiteral("compareHeader"));
    m_header->setTextFormat(Qt::RichText);

    auto* controls = new QHBoxLayout;
    auto* metricLabel = new QLabel(tr("Cell metric"), this);
    metricLabel->setBuddy(m_metric);
    controls->addWidget(metricLabel);
    controls->addWidget(m_metric);
    controls->addSpacing(12);
    controls->addWidget(m_progress);
    controls->addStretch(1);
    controls->addWidget(exportButton);

    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addLayout(controls);
    leftLayout->addWidget(m_table, 1);
    leftLayout->addWidget(m_legend);

    m_pareto->setObjectName(QStringLiteral("paretoPlot"));
    m_pareto->setExportName(QStringLiteral("pareto"));
    m_pareto->setTitle(tr("Error against effective bits per value"));
    connect(m_pareto, &ParetoPlot::pointClicked, this, &CompareView::chooseCell);
    connect(m_pareto, &PlotCanvas::hoverTextChanged, this, [this](const QString& text) {
        emit hoverTextChanged(text);
        if (text.isEmpty())
            QToolTip::hideText();
        else
            QToolTip::showText(QCursor::pos(), text, m_pareto);
    });
    auto* right = new QWidget(this);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    auto* paretoControls = new QHBoxLayout;
    auto* paretoLabel = new QLabel(tr("Pareto error axis"), this);
    paretoLabel->setBuddy(m_paretoMetric);
    paretoControls->addWidget(paretoLabel);
    paretoControls->addWidget(m_paretoMetric);
    paretoControls->addStretch(1);
    rightLayout->addLayout(paretoControls);
    rightLayout->addWidget(m_pareto, 1);

    auto* splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(left);
    splitter->addWidget(right);
    splitter->setStretchFactor(0, 1);
    splitter->setStretchFactor(1, 1);
    splitter->setSizes({1, 1});
    splitter->setChildrenCollapsible(false);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(m_header);
    layout->addWidget(splitter, 1);

    m_model->reset(m_formats, m_granularities);
    m_header->setText(tr("Select a tensor to compare every format and granularity on it."));
}

CompareView::~CompareView()
{
    if (m_run)
        m_run->detach();
}

void CompareView::setFormats(std::vector<std::string> formats, std::vector<std::string> granularities)
{
    qs::validateCompareNames(formats, granularities);
    m_formats = std::move(formats);
    m_granularities = std::move(granularities);
}

bool CompareView::busy() const
{
    return m_run != nullptr;
}

void CompareView::setInput(std::shared_ptr<const qs::Tensor> tensor, const QString& tensorName,
    const qs::Scheme& scheme, const qs::CalibrationOptions&)
{
    if (m_run) {
        m_run->detach();
        m_run.reset();
    }
    m_tensorName = tensorName;
    m_model->reset(m_formats, m_granularities);
    m_paretoTimer->stop();
    m_pareto->clearPoints();
    m_progress->setRange(0, static_cast<int>(m_model->cellCount()));
    m_progress->setValue(0);
    if (!tensor) {
        m_header->setText(tr("Select a tensor to compare every format and granularity on it."));
        emit activityChanged(QString(), -1);
        return;
    }
    m_header->setText(tr("<b>%1</b> %2 \u2014 min-max ranges, %3 scales, %4")
                          .arg(tensorName.toHtmlEscaped(), formatShape(tensor->shape),
                              QString::fromStdString(qs::scaleFormatName(scheme.scaleFormat)),
                              QString::fromStdString(qs::rangeModeName(scheme.rangeMode))));

    auto run = std::make_shared<Run>();
    run->receiver = this;
    run->total = m_model->cellCount();
    for (std::size_t f = 0; f < m_formats.size(); ++f)
        for (std::size_t g = 0; g < m_granularities.size(); ++g)
            run->indexOf.emplace(
                std::pair {m_formats[f], m_granularities[g]}, f * m_granularities.size() + g);
    m_run = run;
    emit activityChanged(tr("Comparing formats on %1").arg(tensorName), 0);

    const std::vector<std::string> formats = m_formats;
    const std::vector<std::string> granularities = m_granularities;
    const qs::Scheme base = scheme;
    // The future is not kept: the run reports through `run`, which outlives the view if it must.
    (void)QtConcurrent::run([run, tensor, formats, granularities, base] {
        std::vector<qs::CompareCell> cells;
        QString error;
        try {
            cells = qs::compareSchemes(
                *tensor, formats, granularities, base, &run->cancel, [run](const qs::CompareCell& cell) {
                    const std::lock_guard lock(run->mutex);
                    run->arrived.push_back(cell);
                    if (!run->receiver || run->deliveryQueued)
                        return;
                    run->deliveryQueued = true;
                    CompareView* view = run->receiver;
                    QMetaObject::invokeMethod(
                        view, [view, run] { view->deliverCells(run); }, Qt::QueuedConnection);
                });
        } catch (const std::bad_alloc&) {
            error = tr("not enough memory");
        } catch (const std::exception& e) {
            error = QString::fromStdString(e.what());
        }
        const bool cancelled = run->cancel.load();
        {
            const std::lock_guard lock(run->mutex);
            for (qs::CompareCell& cell : cells)
                run->arrived.push_back(std::move(cell));
        }
        const std::lock_guard lock(run->mutex);
        if (CompareView* view = run->receiver)
            QMetaObject::invokeMethod(
                view, [view, run, cancelled, error] { view->finishRun(run, cancelled, error); },
                Qt::QueuedConnection);
    });
}

void CompareView::deliverCells(const std::shared_ptr<Run>& run)
{
    if (run != m_run)
        return;
    std::vector<qs::CompareCell> cells;
    {
        const std::lock_guard lock(run->mutex);
        cells.swap(run->arrived);
        run->deliveryQueued = false;
    }
    for (qs::CompareCell& cell : cells) {
        const auto it = run->indexOf.find({cell.format, cell.granularity});
        if (it == run->indexOf.end())
            continue;
        if (!m_model->cell(it->second))
            ++run->shown;
        m_model->setCell(it->second, std::move(cell));
    }
    m_progress->setValue(static_cast<int>(run->shown));
    // Redrawing the plot for every cell would cost the UI thread more than the cells themselves.
    if (!m_paretoTimer->isActive())
        m_paretoTimer->start();
    emit cellsUpdated(static_cast<int>(run->shown), static_cast<int>(run->total));
    if (run->total > 0 && run->shown < run->total)
        emit activityChanged(
            tr("Comparing formats on %1").arg(m_tensorName), static_cast<int>(100 * run->shown / run->total));
}

void CompareView::finishRun(const std::shared_ptr<Run>& run, bool cancelled, const QString& error)
{
    if (run != m_run)
        return;
    deliverCells(run);
    m_paretoTimer->stop();
    updatePareto();
    m_run.reset();
    emit activityChanged(QString(), -1);
    if (!error.isEmpty()) {
        m_header->setText(tr("Comparing formats on %1 failed: %2")
                              .arg(m_tensorName.toHtmlEscaped(), error.toHtmlEscaped()));
        emit errorOccurred(tr("Comparing formats on %1 failed: %2").arg(m_tensorName, error));
    }
    emit matrixFinished(cancelled);
}

void CompareView::cancel()
{
    if (!m_run)
        return;
    m_run->cancel.store(true);
}

void CompareView::updatePareto()
{
    const bool logMse = m_paretoMetric->currentIndex() == 0;
    std::vector<ParetoPoint> points;
    for (std::size_t i = 0; i < m_model->cellCount(); ++i) {
        const std::optional<qs::CompareCell>& cell = m_model->cell(i);
        if (!cell || !cell->error.empty())
            continue;
        points.push_back(
            {static_cast<int>(i), cell->report.bitsPerValue, logMse ? cell->report.mse : cell->report.sqnrDb,
                QString::fromStdString(cell->format + " " + cell->granularity)});
    }
    m_pareto->setPoints(std::move(points), logMse ? tr("MSE") : tr("SQNR (dB)"), logMse, !logMse);
}

void CompareView::chooseCell(int index)
{
    if (index < 0 || static_cast<std::size_t>(index) >= m_model->cellCount())
        return;
    const std::optional<qs::CompareCell>& cell = m_model->cell(static_cast<std::size_t>(index));
    if (cell && cell->error.empty())
        emit schemeChosen(cell->scheme);
}

QString CompareView::csvText() const
{
    QString text = csvLine({QStringLiteral("format"), QStringLiteral("granularity"), QStringLiteral("scheme"),
        QStringLiteral("mse"), QStringLiteral("rmse"), QStringLiteral("sqnr_db"),
        QStringLiteral("max_abs_error"), QStringLiteral("mean_abs_error"), QStringLiteral("bits_per_value"),
        QStringLiteral("error")});
    for (std::size_t i = 0; i < m_model->cellCount(); ++i) {
        const std::optional<qs::CompareCell>& cell = m_model->cell(i);
        const std::size_t columns = m_model->granularities().size();
        const QString format = QString::fromStdString(m_model->formats()[i / columns]);
        const QString granularity = QString::fromStdString(m_model->granularities()[i % columns]);
        if (!cell) {
            text += csvLine({format, granularity, QString(), QString(), QString(), QString(), QString(),
                QString(), QString(), QStringLiteral("not computed")});
            continue;
        }
        const qs::ErrorReport& r = cell->report;
        const bool ok = cell->error.empty();
        const auto number = [ok](double value) { return ok ? csvNumber(value) : QString(); };
        text += csvLine(
            {format, granularity, ok ? QString::fromStdString(qs::schemeName(cell->scheme)) : QString(),
                number(r.mse), number(r.rmse), number(r.sqnrDb), number(r.maxAbsError),
                number(r.meanAbsError), number(r.bitsPerValue), QString::fromStdString(cell->error)});
    }
    return text;
}

QString CompareView::exportCsv(const QString& path) const
{
    return writeTextFileAtomically(path, csvText());
}

void CompareView::exportCsvInteractively()
{
    const QString error
        = qs::gui::exportCsvInteractively(this, QStringLiteral("compare"), [this] { return csvText(); });
    if (!error.isEmpty())
        emit errorOccurred(error);
}

} // namespace qs::gui
