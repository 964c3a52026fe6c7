#include "calibrationview.h"

#include "calibrationtablemodel.h"
#include "csvfile.h"
#include "formatting.h"
#include "latestonlytask.h"
#include "objectivecurveplot.h"
#include "plotpanel.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStackedWidget>
#include <QTableView>
#include <QVBoxLayout>

namespace qs::gui {

namespace {

QString sqnrText(double sqnr)
{
    if (std::isinf(sqnr))
        return sqnr > 0 ? QStringLiteral("\u221e") : QStringLiteral("\u2212\u221e");
    return QString::number(sqnr, 'f', 2);
}

bool isSearch(qs::CalibrationMethod method)
{
    return method == qs::CalibrationMethod::Entropy || method == qs::CalibrationMethod::Mse
        || method == qs::CalibrationMethod::HistogramObserver;
}

} // namespace

CalibrationView::CalibrationView(QWidget* parent)
    : QWidget(parent)
    , m_model(new CalibrationTableModel(this))
    , m_table(new QTableView(this))
    , m_curve(new ObjectiveCurvePlot(this))
    , m_curvePanel(new PlotPanel(m_curve, this))
    , m_useButton(new QPushButton(tr("Use This"), this))
    , m_header(new QLabel(this))
    , m_message(new QLabel(this))
    , m_thresholdLabel(new QLabel(this))
    , m_content(new QWidget(this))
{
    const auto activity = [this] { updateActivity(); };
    m_task = std::make_unique<LatestOnlyTask<CalibrationComparison>>(
        [this](int progress) {
            emit activityChanged(tr("Calibrating %1 with every method").arg(m_tensorName), progress);
        },
        activity);
    m_thresholdTask = std::make_unique<LatestOnlyTask<ThresholdEvaluation>>([](int) {}, activity);

    auto* proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(m_model);
    proxy->setSortRole(CalibrationTableModel::SortRole);
    m_table->setObjectName(QStringLiteral("calibrationTable"));
    m_table->setModel(proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(-1, Qt::AscendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->verticalHeader()->setVisible(false);
    m_table->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_table->horizontalHeader()->setSectionResizeMode(
        CalibrationTableModel::RangeColumn, QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setSectionResizeMode(
        CalibrationTableModel::MethodColumn, QHeaderView::ResizeToContents);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    connect(
        m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this] { updateCurve(); });
    connect(m_table, &QTableView::doubleClicked, this, &CalibrationView::useSelected);

    m_curve->setObjectName(QStringLiteral("objectiveCurvePlot"));
    m_curve->setExportName(QStringLiteral("objective-curve"));
    connect(m_curve, &PlotCanvas::hoverTextChanged, this, &CalibrationView::hoverTextChanged);
    connect(m_curve, &ObjectiveCurvePlot::choiceDragged, this, [this](double amax) {
        emit manualThresholdChanged(amax);
        evaluateThreshold(amax);
    });

    m_header->setObjectName(QStringLiteral("calibrationHeader"));
    m_header->setTextFormat(Qt::RichText);
    m_header->setContentsMargins(6, 4, 6, 2);
    m_header->setWordWrap(true);

    m_message->setObjectName(QStringLiteral("calibrationMessage"));
    m_message->setAlignment(Qt::AlignCenter);
    m_message->setWordWrap(true);
    m_message->setMargin(24);

    m_useButton->setObjectName(QStringLiteral("useCalibrationButton"));
    m_useButton->setToolTip(
        tr("Make the selected method the chosen calibration of this tensor (kept for export)"));
    m_useButton->setEnabled(false);
    connect(m_useButton, &QPushButton::clicked, this, &CalibrationView::useSelected);

    m_thresholdLabel->setObjectName(QStringLiteral("thresholdLabel"));
    m_thresholdLabel->setWordWrap(true);
    m_thresholdLabel->setText(tr("Drag the dashed line on the curve to try another threshold."));

    auto* exportButton = new QPushButton(tr("Export CSV\u2026"), this);
    exportButton->setObjectName(QStringLiteral("exportCalibrationCsvButton"));
    exportButton->setToolTip(tr("Save the table of methods as CSV"));
    connect(exportButton, &QPushButton::clicked, this, &CalibrationView::exportCsvInteractively);

    auto* actions = new QHBoxLayout;
    actions->addWidget(m_thresholdLabel, 1);
    actions->addWidget(exportButton);
    actions->addWidget(m_useButton);

    m_splitter = new QSplitter(Qt::Vertical, m_content);
    auto* splitter = m_splitter;
    splitter->addWidget(m_table);
    splitter->addWidget(m_curvePanel);
    splitter->setStretchFactor(0, 1);
    splitter->setStretchFactor(1, 1);
    splitter->setChildrenCollapsible(false);

    auto* contentLayout = new QVBoxLayout(m_content);
    contentLayout->setContentsMargins(0, 0, 0, 0);
    contentLayout->addWidget(splitter, 1);
    contentLayout->addLayout(actions);

    auto* pages = new QStackedWidget(this);
    pages->setObjectName(QStringLiteral("calibrationPages"));
    pages->addWidget(m_message);
    pages->addWidget(m_content);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 0, 4, 4);
    layout->addWidget(m_header);
    layout->addWidget(pages, 1);

    setInput(nullptr, {}, {}, {});
}

CalibrationView::~CalibrationView() = default;

void CalibrationView::setBatchCount(int count)
{
    m_batchCount = std::max(count, 1);
}

bool CalibrationView::busy() const
{
    return m_task->busy() || m_thresholdTask->busy();
}

void CalibrationView::setInput(std::shared_ptr<const qs::Tensor> tensor, const QString& tensorName,
    const qs::Scheme& scheme, const qs::CalibrationOptions& options)
{
    m_tensor = std::move(tensor);
    m_tensorName = tensorName;
    m_scheme = scheme;
    m_options = options;
    m_thresholdTask->cancel();
    if (!m_tensor) {
        m_task->cancel();
        m_comparison = {};
        m_model->setComparison({});
        m_header->clear();
        showMessage(tr("Select a tensor in the browser to compare every calibration method on it."));
        return;
    }
    m_header->setText(tr("<b>%1</b> %2 \u2014 %3, %4 batch(es) \u2014 calibrating\u2026")
                          .arg(m_tensorName.toHtmlEscaped(), formatShape(m_tensor->shape),
                              QString::fromStdString(qs::schemeName(scheme)).toHtmlEscaped())
                          .arg(m_batchCount));
    const std::shared_ptr<const qs::Tensor> input = m_tensor;
    const int batchCount = m_batchCount;
    m_task->submit(
        [input, scheme, options, batchCount](const TaskControl& control) {
            return compareCalibrations(splitIntoBatches(*input, batchCount), scheme, options, &control);
        },
        [this](CalibrationComparison comparison) { showComparison(std::move(comparison)); },
        [this](const QString& message) {
            showMessage(tr("Calibration failed: %1").arg(message));
            emit errorOccurred(tr("Calibrating %1 failed: %2").arg(m_tensorName, message));
        });
}

void CalibrationView::cancel()
{
    const bool wasRunning = m_task->busy();
    m_task->cancel();
    m_thresholdTask->cancel();
    if (wasRunning)
        showMessage(tr("Calibration of %1 cancelled. Change the tensor or the scheme to run it again.")
                        .arg(m_tensorName));
    updateActivity();
}

void CalibrationView::showMessage(const QString& message)
{
    m_message->setText(message);
    static_cast<QStackedWidget*>(m_message->parentWidget())->setCurrentWidget(m_message);
    m_useButton->setEnabled(false);
}

QString CalibrationView::messageText() const
{
    const auto* pages = static_cast<const QStackedWidget*>(m_message->parentWidget());
    return pages->currentWidget() == m_message ? m_message->text() : QString();
}

void CalibrationView::showComparison(CalibrationComparison comparison)
{
    m_comparison = std::move(comparison);
    m_model->setComparison(m_comparison);
    m_header->setText(
        tr("<b>%1</b> %2 \u2014 %3, %4 batch(es) of %5 \u2014 %6 methods")
            .arg(m_tensorName.toHtmlEscaped(), formatShape(m_tensor ? m_tensor->shape : qs::Shape {}),
                QString::fromStdString(qs::schemeName(m_comparison.scheme)).toHtmlEscaped())
            .arg(m_comparison.batches)
            .arg(formatShape(m_comparison.batchShape))
            .arg(m_comparison.rows.size()));
    if (!m_comparison.unsupported.empty()) {
        showMessage(QString::fromStdString(m_comparison.unsupported));
        emit comparisonShown();
        return;
    }
    auto* pages = static_cast<QStackedWidget*>(m_message->parentWidget());
    pages->setCurrentWidget(m_content);
    // The table takes the height of its rows, the curve the rest (it needs the room more than blank rows).
    const int tableHeight = m_table->horizontalHeader()->height()
        + m_table->verticalHeader()->defaultSectionSize() * (static_cast<int>(m_comparison.rows.size()) + 1)
        + 2 * m_table->frameWidth();
    const int total = m_splitter->height() > 0 ? m_splitter->height() : 800;
    const int top = std::clamp(tableHeight, total / 4, total * 3 / 5);
    m_splitter->setSizes({top, total - top});

    int preferred = 0;
    for (std::size_t i = 0; i < m_comparison.rows.size(); ++i) {
        const qs::CalibrationOptions& o = m_comparison.rows[i].options;
        if (o.method == m_options.method && o.compat == m_options.compat
            && o.mseSweep == m_options.mseSweep) {
            preferred = static_cast<int>(i);
            break;
        }
    }
    selectRow(preferred);
    updateCurve();
    emit comparisonShown();
}

int CalibrationView::selectedRow() const
{
    const QModelIndex current = m_table->selectionModel()->currentIndex();
    if (!current.isValid())
        return -1;
    const auto* proxy = static_cast<const QSortFilterProxyModel*>(m_table->model());
    return proxy->mapToSource(current).row();
}

void CalibrationView::selectRow(int row)
{
    const auto* proxy = static_cast<const QSortFilterProxyModel*>(m_table->model());
    const QModelIndex index = proxy->mapFromSource(m_model->index(row, 0));
    if (!index.isValid())
        return;
    m_table->selectionModel()->setCurrentIndex(
        index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
}

void CalibrationView::updateCurve()
{
    const int row = selectedRow();
    if (row < 0 || row >= static_cast<int>(m_comparison.rows.size())) {
        m_useButton->setEnabled(false);
        m_curve->clearCurve();
        m_curvePanel->showMessage(tr("Select a method in the table to see its objective curve."));
        return;
    }
    const CalibrationRow& r = m_comparison.rows[static_cast<std::size_t>(row)];
    const QString method = QString::fromStdString(calibrationMethodLabel(r.options));
    m_useButton->setEnabled(r.error.empty());
    if (!r.error.empty()) {
        m_curvePanel->showMessage(
            tr("%1 (%2) failed: %3")
                .arg(method, QString::fromStdString(qs::compatibilityName(r.options.compat)),
                    QString::fromStdString(r.error)));
        return;
    }
    if (!isSearch(r.options.method)) {
        m_curvePanel->showMessage(
            tr("%1 takes its range from the data directly: it searches no threshold, so it has no objective "
               "curve. Select an entropy, MSE or histogram-observer row to see one.")
                .arg(method));
        return;
    }
    if (r.result.curves.size() > 1) {
        m_curvePanel->showMessage(
            tr("This scheme has %1 groups, each searched on its own (%1 curves). Choose "
               "per-tensor granularity in the scheme panel to see one objective curve.")
                .arg(r.result.curves.size()));
        return;
    }
    if (r.result.curves.empty() || r.result.curves.front().threshold.empty()) {
        m_curvePanel->showMessage(
            tr("%1 needed no search: the tensor has no finite value, is all zero or constant.").arg(method));
        return;
    }
    const qs::ObjectiveCurve& curve = r.result.curves.front();
    m_curve->setTitle(tr("%1 (%2): %3 against the threshold")
                          .arg(method, QString::fromStdString(qs::compatibilityName(r.options.compat)),
                              QString::fromStdString(curve.objective)));
    m_curve->setCurve(curve, largestAmax(r.result.ranges));
    m_curvePanel->showPlot();
    m_thresholdLabel->setText(
        tr("Chosen threshold %1: MSE %2, SQNR %3 dB, clipped %4. Drag the dashed line "
           "to try another threshold.")
            .arg(formatValue(largestAmax(r.result.ranges)), formatValue(r.result.report.mse),
                sqnrText(r.result.report.sqnrDb), formatShare(r.result.report.clippedShare)));
}

void CalibrationView::useSelected()
{
    const int row = selectedRow();
    if (row < 0 || row >= static_cast<int>(m_comparison.rows.size()))
        return;
    const CalibrationRow& r = m_comparison.rows[static_cast<std::size_t>(row)];
    if (!r.error.empty())
        return;
    emit chosen(m_comparison.scheme, r.options, r.result);
}

void CalibrationView::evaluateThreshold(double amax)
{
    if (!m_tensor)
        return;
    m_curve->setChoice(amax);
    const std::shared_ptr<const qs::Tensor> input = m_tensor;
    const qs::Scheme scheme = m_scheme;
    m_thresholdTask->submit(
        [input, scheme, amax](
            const TaskControl&) { return qs::gui::evaluateThreshold(*input, scheme, amax); },
        [this](ThresholdEvaluation evaluation) {
            m_thresholdLabel->setText(
                tr("Threshold %1 (range [%2, %3]): MSE %4, SQNR %5 dB, clipped %6")
                    .arg(formatValue(evaluation.amax), formatValue(evaluation.range.min),
                        formatValue(evaluation.range.max), formatValue(evaluation.report.mse),
                        sqnrText(evaluation.report.sqnrDb), formatShare(evaluation.report.clippedShare)));
            emit thresholdEvaluated(evaluation.amax, evaluation.report);
        },
        [this](const QString& message) {
            m_thresholdLabel->setText(tr("Threshold not evaluated: %1").arg(message));
        });
}

void CalibrationView::updateActivity()
{
    if (m_task->busy())
        emit activityChanged(tr("Calibrating %1 with every method").arg(m_tensorName), -1);
    else if (m_thresholdTask->busy())
        emit activityChanged(tr("Evaluating the threshold"), -1);
    else
        emit activityChanged(QString(), -1);
}

QString CalibrationView::csvText() const
{
    const int columns = m_model->columnCount();
    QStringList header;
    for (int c = 0; c < columns; ++c)
        header << m_model->headerData(c, Qt::Horizontal).toString();
    QString text = csvLine(header);
    for (int r = 0; r < m_model->rowCount(); ++r) {
        QStringList fields;
        for (int c = 0; c < columns; ++c) {
            const QModelIndex index = m_model->index(r, c);
            const QVariant number = index.data(CalibrationTableModel::SortRole);
            const bool numeric = c != CalibrationTableModel::RangeColumn
                && (number.typeId() == QMetaType::Double || number.typeId() == QMetaType::Int
                    || number.typeId() == QMetaType::LongLong);
            const QString shown = index.data(Qt::DisplayRole).toString();
            fields << (numeric && !shown.isEmpty() ? csvNumber(number.toDouble()) : shown);
        }
        text += csvLine(fields);
    }
    return text;
}

QString CalibrationView::exportCsv(const QString& path) const
{
    return writeTextFileAtomically(path, csvText());
}

void CalibrationView::exportCsvInteractively()
{
    const QString error
        = qs::gui::exportCsvInteractively(this, QStringLiteral("calibration"), [this] { return csvText(); });
    if (!error.isEmpty())
        emit errorOccurred(error);
}

} // namespace qs::gui
