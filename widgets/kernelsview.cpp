#include "kernelsview.h"

#include "csvfile.h"
#include "formatting.h"
#include "kernelbarchart.h"
#include "kernelresultsmodel.h"
#include "latestonlytask.h"

#include <QButtonGroup>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QRadioButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <thread>

namespace qs::gui {

namespace {

/// Kernels checked when the view opens: one reduction, one histogram and the common fake-quantizers.
const QStringList kDefaultKernels = {QStringLiteral("minmax"), QStringLiteral("histogram_abs"),
    QStringLiteral("fq_int8_channel"), QStringLiteral("fq_int4_group128"),
    QStringLiteral("fq_fp8_e4m3_channel"), QStringLiteral("fq_nf4_group64")};

QStringList checkedNames(const QListWidget* list)
{
    QStringList names;
    for (int i = 0; i < list->count(); ++i) {
        const QListWidgetItem* item = list->item(i);
        if (item->checkState() == Qt::Checked && (item->flags() & Qt::ItemIsEnabled))
            names.push_back(item->data(Qt::UserRole).toString());
    }
    return names;
}

void setChecked(QListWidget* list, const QStringList& names)
{
    for (int i = 0; i < list->count(); ++i) {
        QListWidgetItem* item = list->item(i);
        const bool on
            = names.contains(item->data(Qt::UserRole).toString()) && (item->flags() & Qt::ItemIsEnabled);
        item->setCheckState(on ? Qt::Checked : Qt::Unchecked);
    }
}

} // namespace

/// One press of Run: the kernels still to time (one runBenchmarks call each, every chosen backend in it so
/// that the scalar comparison is made), the tensor they run on and what came back.
struct KernelsView::Run {
    std::vector<std::string> kernels;
    std::vector<qs::Backend> backends;
    int threads = 0;
    int repeats = 7;
    std::shared_ptr<const qs::Tensor> tensor; ///< null until the synthetic tensor is made
    qint64 syntheticElements = 0;
    std::size_t next = 0;
    double cpuBaseline = 0;
    double gpuBaseline = 0;
    std::vector<qs::BenchResult> results;
    std::unique_ptr<LatestOnlyTask<qs::BenchReport>> task;
    QString description;
};

KernelsView::KernelsView(QWidget* parent)
    : QWidget(parent)
    , m_kernels(new QListWidget(this))
    , m_backends(new QListWidget(this))
    , m_useSelected(new QRadioButton(tr("Selected tensor"), this))
    , m_useSynthetic(new QRadioButton(tr("Synthetic tensor of"), this))
    , m_syntheticMega(new QSpinBox(this))
    , m_threads(new QSpinBox(this))
    , m_repeats(new QSpinBox(this))
    , m_run(new QPushButton(tr("Run"), this))
    , m_cancel(new QPushButton(tr("Cancel"), this))
    , m_source(new QLabel(this))
    , m_baseline(new QLabel(this))
    , m_model(new KernelResultsModel(this))
    , m_chart(new KernelBarChart(this))
    , m_table(new QTableView(this))
{
    m_kernels->setObjectName(QStringLiteral("kernelList"));
    for (const qs::BenchKernelInfo& info : qs::benchKernels()) {
        auto* item = new QListWidgetItem(QString::fromStdString(info.name), m_kernels);
        item->setData(Qt::UserRole, QString::fromStdString(info.name));
        item->setToolTip(QString::fromStdString(info.description));
        item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsUserCheckable | Qt::ItemIsSelectable);
    }
    setChecked(m_kernels, kDefaultKernels);

    m_backends->setObjectName(QStringLiteral("backendList"));
    QStringList available;
    for (qs::Backend backend : qs::allBackends()) {
        const QString name = QString::fromStdString(qs::backendName(backend));
        const std::string reason = qs::backendUnavailableReason(backend);
        auto* item = new QListWidgetItem(m_backends);
        item->setData(Qt::UserRole, name);
        if (reason.empty()) {
            item->setText(tr("%1 (%2)").arg(name, QString::fromStdString(qs::backendTarget(backend))));
            item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsUserCheckable | Qt::ItemIsSelectable);
            available.push_back(name);
        } else {
            item->setText(tr("%1 \u2014 %2").arg(name, QString::fromStdString(reason)));
            item->setToolTip(QString::fromStdString(reason));
            item->setFlags(Qt::ItemIsUserCheckable);
        }
    }
    setChecked(m_backends, available);
    m_backends->setMaximumHeight(m_backends->sizeHintForRow(0) * 3 + 2 * m_backends->frameWidth() + 4);

    m_syntheticMega->setObjectName(QStringLiteral("syntheticMegaElements"));
    m_syntheticMega->setRange(1, 1024);
    m_syntheticMega->setValue(16);
    m_syntheticMega->setSuffix(tr(" Mi elements"));
    m_syntheticMega->setToolTip(
        tr("Normal values with per-row scales and one outlier in 1024 (16 Mi = 4096 \u00d7 4096)"));
    connect(m_syntheticMega, &QSpinBox::valueChanged, this,
        [this](int mega) { m_syntheticElements = static_cast<qint64>(mega) << 20; });
    m_useSynthetic->setChecked(true);
    auto* sourceGroup = new QButtonGroup(this);
    sourceGroup->addButton(m_useSelected);
    sourceGroup->addButton(m_useSynthetic);
    connect(m_useSelected, &QRadioButton::toggled, this, [this] { updateSourceLabel(); });

    m_threads->setObjectName(QStringLiteral("threads"));
    m_threads->setRange(0, std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
    m_threads->setSpecialValueText(tr("all (%1)").arg(std::thread::hardware_concurrency()));
    m_threads->setValue(0);
    m_repeats->setObjectName(QStringLiteral("repeats"));
    m_repeats->setRange(1, 100);
    m_repeats->setValue(7);
    m_repeats->setToolTip(tr("Timed runs per kernel after one warm-up run; the median is shown"));

    m_run->setObjectName(QStringLiteral("runKernels"));
    m_cancel->setObjectName(QStringLiteral("cancelKernels"));
    m_cancel->setEnabled(false);
    connect(m_run, &QPushButton::clicked, this, &KernelsView::run);
    connect(m_cancel, &QPushButton::clicked, this, &KernelsView::cancel);
    auto* exportButton = new QPushButton(tr("Export CSV\u2026"), this);
    connect(exportButton, &QPushButton::clicked, this, &KernelsView::exportCsvInteractively);

    auto* sourceBox = new QGroupBox(tr("Input"), this);
    auto* sourceLayout = new QFormLayout(sourceBox);
    sourceLayout->addRow(m_useSelected);
    auto* syntheticRow = new QHBoxLayout;
    syntheticRow->addWidget(m_useSynthetic);
    syntheticRow->addWidget(m_syntheticMega, 1);
    sourceLayout->addRow(syntheticRow);
    sourceLayout->addRow(tr("Threads"), m_threads);
    sourceLayout->addRow(tr("Repeats"), m_repeats);
    m_source->setWordWrap(true);
    m_source->setObjectName(QStringLiteral("kernelSource"));
    sourceLayout->addRow(m_source);

    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_run);
    buttons->addWidget(m_cancel);
    buttons->addWidget(exportButton);

    auto* side = new QWidget(this);
    auto* sideLayout = new QVBoxLayout(side);
    sideLayout->setContentsMargins(0, 0, 0, 0);
    sideLayout->addWidget(new QLabel(tr("Kernels"), side));
    sideLayout->addWidget(m_kernels, 1);
    sideLayout->addWidget(new QLabel(tr("Backends"), side));
    sideLayout->addWidget(m_backends);
    sideLayout->addWidget(sourceBox);
    sideLayout->addLayout(buttons);
    side->setMinimumWidth(280);
    side->setMaximumWidth(380);

    m_chart->setObjectName(QStringLiteral("kernelBarChart"));
    m_chart->setExportName(QStringLiteral("kernels"));
    m_chart->setTitle(tr("Throughput per kernel and backend"));
    connect(m_chart, &PlotCanvas::hoverTextChanged, this, &KernelsView::hoverTextChanged);

    m_table->setObjectName(QStringLiteral("kernelTable"));
    m_table->setModel(m_model);
    m_table->verticalHeader()->setVisible(false);
    m_table->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    // Column titles stay whole; the table scrolls sideways when the tab is narrow.
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setAlternatingRowColors(true);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);

    m_baseline->setObjectName(QStringLiteral("kernelBaseline"));
    m_baseline->setWordWrap(true);

    auto* results = new QSplitter(Qt::Vertical, this);
    results->addWidget(m_chart);
    results->addWidget(m_table);
    results->setStretchFactor(0, 3);
    results->setStretchFactor(1, 2);
    results->setChildrenCollapsible(false);

    auto* right = new QWidget(this);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    rightLayout->addWidget(m_baseline);
    rightLayout->addWidget(results, 1);

    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(side);
    layout->addWidget(right, 1);

    m_baseline->setText(
        tr("Choose kernels and backends and press Run. Each kernel is timed on every chosen backend "
           "and compared with the memory bandwidth measured in the same run."));
    setInput(nullptr, {}, {}, {});
}

KernelsView::~KernelsView() = default;

void KernelsView::setInput(std::shared_ptr<const qs::Tensor> tensor, const QString& tensorName,
    const qs::Scheme&, const qs::CalibrationOptions&)
{
    m_tensor = std::move(tensor);
    m_tensorName = tensorName;
    m_useSelected->setEnabled(m_tensor != nullptr);
    if (!m_tensor)
        m_useSynthetic->setChecked(true);
    updateSourceLabel();
}

void KernelsView::updateSourceLabel()
{
    if (m_tensor)
        m_useSelected->setText(tr("Selected tensor: %1 %2").arg(m_tensorName, formatShape(m_tensor->shape)));
    else
        m_useSelected->setText(tr("Selected tensor (none selected)"));
    m_source->setText(m_useSelected->isChecked() && m_tensor
            ? tr("%1 values, %2 of float32")
                  .arg(formatCount(m_tensor->elementCount()),
                      formatBytes(static_cast<std::uint64_t>(m_tensor->elementCount()) * 4))
            : tr("Synthetic: normal values, per-row scales, outliers"));
}

void KernelsView::setSelectedKernels(const QStringList& names)
{
    setChecked(m_kernels, names);
}

QStringList KernelsView::selectedKernels() const
{
    return checkedNames(m_kernels);
}

void KernelsView::setSelectedBackends(const QStringList& names)
{
    setChecked(m_backends, names);
}

QStringList KernelsView::selectedBackends() const
{
    return checkedNames(m_backends);
}

void KernelsView::setSynthetic(bool synthetic, qint64 elements)
{
    (synthetic || !m_tensor ? m_useSynthetic : m_useSelected)->setChecked(true);
    m_syntheticMega->setValue(static_cast<int>(std::clamp<qint64>(elements >> 20, 1, 1024)));
    m_syntheticElements = elements;
}

void KernelsView::setThreads(int threads)
{
    m_threads->setValue(threads);
}

void KernelsView::setRepeats(int repeats)
{
    m_repeats->setValue(repeats);
}

bool KernelsView::busy() const
{
    return m_current != nullptr;
}

void KernelsView::run()
{
    if (m_current) {
        m_current->task->cancel();
        m_current.reset();
    }
    auto run = std::make_shared<Run>();
    for (const QString& name : selectedKernels())
        run->kernels.push_back(name.toStdString());
    for (const QString& name : selectedBackends())
        run->backends.push_back(qs::backendByName(name.toStdString()));
    if (run->kernels.empty() || run->backends.empty()) {
        emit errorOccurred(tr("Choose at least one kernel and one available backend to run."));
        return;
    }
    run->threads = m_threads->value();
    run->repeats = m_repeats->value();
    const bool synthetic = m_useSynthetic->isChecked() || !m_tensor;
    if (synthetic) {
        run->syntheticElements = m_syntheticElements > 0
            ? m_syntheticElements
            : static_cast<qint64>(m_syntheticMega->value()) << 20;
    } else {
        run->tensor = m_tensor;
    }
    run->description = synthetic
        ? tr("Timing kernels on a synthetic tensor of %1 values").arg(formatCount(run->syntheticElements))
        : tr("Timing kernels on %1").arg(m_tensorName);
    run->task = std::make_unique<LatestOnlyTask<qs::BenchReport>>([](int) {}, [] {});
    m_current = run;
    m_model->clear();
    m_chart->clearResults();
    m_run->setEnabled(false);
    m_cancel->setEnabled(true);
    m_baseline->setText(run->description + QStringLiteral("\u2026"));
    startNextJob(run);
}

void KernelsView::startNextJob(const std::shared_ptr<Run>& run)
{
    if (run != m_current)
        return;
    if (run->next >= run->kernels.size()) {
        finishRun(run, false, {});
        return;
    }
    emit activityChanged(run->description, static_cast<int>(100 * run->next / run->kernels.size()));
    qs::BenchOptions options;
    options.kernels = {run->kernels[run->next]};
    options.backends = run->backends;
    options.threads = {run->threads};
    options.timing.repeats = run->repeats;
    ++run->next;
    // The synthetic tensor is made once, by the first job; later jobs start after it finished.
    auto tensor = std::make_shared<std::shared_ptr<const qs::Tensor>>(run->tensor);
    const qint64 elements = run->syntheticElements;
    run->task->submit(
        [tensor, elements, options](const TaskControl& control) {
            if (!*tensor)
                *tensor = std::make_shared<const qs::Tensor>(qs::syntheticBenchTensor(elements));
            control.throwIfCancelled();
            qs::BenchReport report = qs::runBenchmarks(**tensor, options);
            report.tensor.clear();
            return report;
        },
        [this, run, tensor](qs::BenchReport report) {
            if (run != m_current)
                return;
            run->tensor = *tensor;
            if (!report.baselines.empty())
                run->cpuBaseline = report.baselines.front().readGbps;
            if (!report.gpuBaseline.empty())
                run->gpuBaseline = report.gpuBaseline.front().readGbps;
            run->results.insert(run->results.end(), report.results.begin(), report.results.end());
            m_model->addResults(report.results);
            // Inserted rows do not re-measure ResizeToContents columns: size them to the new names now.
            m_table->horizontalHeader()->resizeSections(QHeaderView::ResizeToContents);
            m_chart->setResults(run->results, run->cpuBaseline, run->gpuBaseline);
            m_baseline->setText(
                tr("%1: measured read bandwidth %2 GB/s with %3 thread(s)%4.")
                    .arg(run->description)
                    .arg(QString::number(run->cpuBaseline, 'f', 1))
                    .arg(report.baselines.empty() ? 0 : report.baselines.front().threads)
                    .arg(run->gpuBaseline > 0 ? tr("; GPU read %1 GB/s").arg(run->gpuBaseline, 0, 'f', 1)
                                              : QString()));
            for (const qs::BenchResult& result : report.results)
                emit resultAdded(result);
            startNextJob(run);
        },
        [this, run](const QString& message) { finishRun(run, false, message); });
}

void KernelsView::cancel()
{
    if (!m_current)
        return;
    m_current->task->cancel();
    finishRun(m_current, true, {});
}

void KernelsView::finishRun(const std::shared_ptr<Run>& run, bool cancelled, const QString& error)
{
    if (run != m_current)
        return;
    // The task object may be the caller (a finished job's callback): keep it alive until the stack unwinds.
    const std::shared_ptr<Run> keep = run;
    m_current.reset();
    m_run->setEnabled(true);
    m_cancel->setEnabled(false);
    emit activityChanged(QString(), -1);
    if (cancelled)
        m_baseline->setText(tr("Cancelled after %1 of %2 kernels.")
                                .arg(keep->next > 0 ? keep->next - 1 : 0)
                                .arg(keep->kernels.size()));
    if (!error.isEmpty()) {
        m_baseline->setText(tr("Timing failed: %1").arg(error));
        emit errorOccurred(tr("Timing kernels failed: %1").arg(error));
    }
    emit runFinished(cancelled);
    QMetaObject::invokeMethod(
        this, [keep] {}, Qt::QueuedConnection);
}

QString KernelsView::csvText() const
{
    return m_model->csvText();
}

QString KernelsView::exportCsv(const QString& path) const
{
    return writeTextFileAtomically(path, csvText());
}

void KernelsView::exportCsvInteractively()
{
    const QString error
        = qs::gui::exportCsvInteractively(this, QStringLiteral("kernels"), [this] { return csvText(); });
    if (!error.isEmpty())
        emit errorOccurred(error);
}

} // namespace qs::gui
