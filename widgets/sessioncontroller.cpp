#include "sessioncontroller.h"

#include "base/error.h"
#include "formatting.h"

#include <QFile>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QPromise>
#include <QStringList>
#include <QThread>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>
#include <new>
#include <string>

namespace qs::gui {

namespace {

struct OpenOutcome {
    std::shared_ptr<const qs::TensorFile> file;
    QString error;
};

std::string toStdPath(const QString& path)
{
    return QFile::encodeName(path).toStdString();
}

OpenOutcome openInBackground(const QString& path)
{
    const std::string stdPath = toStdPath(path);
    OpenOutcome outcome;
    try {
        outcome.file = qs::TensorFile::open(stdPath);
    } catch (const qs::Error& e) {
        outcome.error = QString::fromStdString(e.what());
    } catch (const std::bad_alloc&) {
        outcome.error
            = QString::fromStdString(qs::fileErrorMessage(stdPath, {}, "not enough memory to open it"));
    } catch (const std::exception& e) {
        outcome.error = QString::fromStdString(qs::fileErrorMessage(stdPath, {}, e.what()));
    }
    return outcome;
}

} // namespace

SessionController::SessionController(QObject* parent)
    : QObject(parent)
    , m_analysisTask(
          [this](int progress) {
              m_analysisProgress = progress;
              updateActivity();
          },
          [this] { updateActivity(); })
    , m_channelTask({}, [this] { updateActivity(); })
    , m_quantizationTask({}, [this] { updateActivity(); })
{
}

SessionController::~SessionController()
{
    for (const auto& flag : std::as_const(m_opening))
        flag->store(true);
    for (QFutureWatcher<TensorStats>* scan : std::as_const(m_scans))
        scan->cancel();
    m_scanPaused->store(false);
}

const OpenFile* SessionController::file(int fileId) const
{
    const auto it
        = std::find_if(m_files.begin(), m_files.end(), [&](const OpenFile& f) { return f.id == fileId; });
    return it == m_files.end() ? nullptr : &*it;
}

const OpenFile* SessionController::fileForPath(const QString& path) const
{
    const QString absolute = QFileInfo(path).absoluteFilePath();
    const auto it
        = std::find_if(m_files.begin(), m_files.end(), [&](const OpenFile& f) { return f.path == absolute; });
    return it == m_files.end() ? nullptr : &*it;
}

bool SessionController::openFile(const QString& path)
{
    const QString absolute = QFileInfo(path).absoluteFilePath();
    if (fileForPath(absolute) || m_opening.contains(absolute))
        return false;

    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    m_opening.insert(absolute, cancelled);
    auto* watcher = new QFutureWatcher<OpenOutcome>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, absolute, cancelled] {
        watcher->deleteLater();
        m_opening.remove(absolute);
        const OpenOutcome outcome = watcher->result();
        if (cancelled->load()) {
            emit fileOpenFailed(
                absolute, tr("Opening %1 was cancelled.").arg(QFileInfo(absolute).fileName()));
        } else if (outcome.file) {
            addOpenedFile(absolute, outcome.file);
        } else {
            emit fileOpenFailed(absolute, outcome.error);
            emit errorOccurred(outcome.error);
        }
        updateActivity();
    });
    watcher->setFuture(QtConcurrent::run(openInBackground, absolute));
    updateActivity();
    return true;
}

void SessionController::addOpenedFile(const QString& path, std::shared_ptr<const qs::TensorFile> file)
{
    OpenFile opened;
    opened.id = m_nextFileId++;
    opened.path = path;
    opened.file = std::move(file);
    m_files.push_back(opened);
    emit fileOpened(opened);
    startStatsScan(opened);
}

void SessionController::startStatsScan(const OpenFile& file)
{
    m_scanPool.setMaxThreadCount(1);
    const std::shared_ptr<const qs::TensorFile> source = file.file;
    const std::shared_ptr<std::atomic<bool>> paused = m_scanPaused;
    auto* watcher = new QFutureWatcher<TensorStats>(this);
    const int fileId = file.id;
    connect(watcher, &QFutureWatcherBase::resultReadyAt, this, [this, watcher, fileId](int index) {
        const TensorStats result = watcher->resultAt(index);
        emit tensorStatsReady(TensorRef {fileId, QString::fromStdString(result.name)}, result.stats);
    });
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, fileId] {
        if (m_scans.value(fileId) == watcher)
            m_scans.remove(fileId);
        watcher->deleteLater();
    });
    m_scans.insert(fileId, watcher);
    watcher->setFuture(QtConcurrent::run(&m_scanPool, [source, paused](QPromise<TensorStats>& promise) {
        // Idle priority (SCHED_IDLE on Linux): a tensor being scanned never takes a core from the work the
        // user waits for, which the pause between tensors alone would not prevent.
        QThread::currentThread()->setPriority(QThread::IdlePriority);
        for (const qs::TensorInfo& info : source->tensors()) {
            if (!info.loadable())
                continue;
            while (paused->load() && !promise.isCanceled())
                QThread::msleep(10);
            if (promise.isCanceled())
                return;
            try {
                const qs::Tensor tensor = source->load(info.name);
                promise.addResult(TensorStats {info.name, qs::computeSummaryStats(tensor.values())});
            } catch (const std::exception&) {
                // Its columns stay blank; selecting the tensor reports why it cannot be loaded.
            }
        }
    }));
}

void SessionController::closeFile(int fileId)
{
    const auto it
        = std::find_if(m_files.begin(), m_files.end(), [&](const OpenFile& f) { return f.id == fileId; });
    if (it == m_files.end())
        return;

    if (m_inFlight && m_inFlight->tensor.fileId == fileId) {
        m_analysisTask.cancel();
        m_inFlight.reset();
        m_selected = currentRef();
    }
    if (m_current && m_current->fileId == fileId) {
        m_analysisTask.cancel();
        m_channelTask.cancel();
        m_quantizationTask.cancel();
        m_inFlight.reset();
        m_current.reset();
        m_quantization.reset();
        m_selected = {};
        emit analysisCleared();
    }
    if (QFutureWatcher<TensorStats>* scan = m_scans.take(fileId))
        scan->cancel();
    m_files.erase(it);
    emit fileClosed(fileId);
    updateActivity();
}

bool SessionController::currentMatches(const TensorRef& tensor) const
{
    return m_current && m_current->fileId == tensor.fileId
        && QString::fromStdString(m_current->info.name) == tensor.name
        && (!m_current->channels
            || m_current->channels->axis == effectiveChannelAxis(m_options.channelAxis, m_current->rank()));
}

TensorRef SessionController::currentRef() const
{
    if (!m_current)
        return {};
    return TensorRef {m_current->fileId, QString::fromStdString(m_current->info.name)};
}

QString SessionController::describe(const TensorRef& tensor) const
{
    const OpenFile* f = file(tensor.fileId);
    return f ? QStringLiteral("%1 (%2)").arg(tensor.name, f->fileName()) : tensor.name;
}

void SessionController::selectTensor(const TensorRef& tensor)
{
    const OpenFile* f = file(tensor.fileId);
    const qs::TensorInfo* info = f ? f->file->find(tensor.name.toStdString()) : nullptr;
    if (!info) {
        const QString message = f
            ? tr("%1: there is no tensor named \u201c%2\u201d.").arg(f->fileName(), tensor.name)
            : tr("The file of tensor \u201c%1\u201d is not open.").arg(tensor.name);
        emit analysisFailed(tensor, message);
        emit errorOccurred(message);
        return;
    }
    if (!info->loadable()) {
        const QString message
            = QString::fromStdString(qs::fileErrorMessage(toStdPath(f->path), info->name, {}))
            + unsupportedReason(*info);
        emit analysisFailed(tensor, message);
        emit errorOccurred(message);
        return;
    }

    if (m_inFlight && m_inFlight->tensor == tensor && m_inFlight->axis == m_options.channelAxis)
        return;
    m_selected = tensor;
    bool schemeRestored = false;
    if (const ChosenSetting* chosen = chosenSetting(tensor); chosen && !(chosen->settings == m_scheme)) {
        m_scheme = chosen->settings;
        schemeRestored = true;
        emit schemeSettingsChanged(m_scheme);
    }
    if (currentMatches(tensor)) {
        returnToCurrent();
        if (schemeRestored)
            startQuantization();
    } else {
        startAnalysis();
    }
}

void SessionController::returnToCurrent()
{
    if (!m_inFlight)
        return;
    // The request in flight would only replace what is shown already: drop it instead of recomputing.
    m_analysisTask.cancel();
    m_inFlight.reset();
    publishAnalysis(m_current);
    updateActivity();
}

void SessionController::setChannelAxis(int axis)
{
    if (axis == m_options.channelAxis)
        return;
    m_options.channelAxis = axis;
    if (!m_selected.isValid())
        return;
    if (currentMatches(m_selected))
        returnToCurrent();
    else
        startAnalysis();
}

void SessionController::startAnalysis()
{
    const OpenFile* f = file(m_selected.fileId);
    if (!f)
        return;
    const std::string name = m_selected.name.toStdString();
    const qs::TensorInfo info = *f->file->find(name);
    const std::uint64_t id = ++m_nextAnalysisId;
    const int fileId = f->id;
    const std::string path = toStdPath(f->path);
    const std::shared_ptr<const qs::TensorFile> source = f->file;
    const AnalysisOptions options = m_options;
    std::shared_ptr<const qs::Tensor> cached;
    std::shared_ptr<const std::vector<qs::Tensor>> cachedBatch;
    if (m_current && m_current->fileId == fileId && m_current->info.name == name) {
        cached = m_current->tensor;
        cachedBatch = m_current->wholeBatch;
    }

    const TensorRef tensor = m_selected;
    m_inFlight = InFlight {tensor, m_options.channelAxis};
    m_analysisProgress = 0;
    m_analysisActivity
        = cached ? tr("Analysing %1").arg(describe(tensor)) : tr("Loading %1").arg(describe(tensor));
    m_channelTask.cancel();
    emit analysisStarted(tensor);

    m_analysisTask.submit(
        [source, path, info, cached, cachedBatch, options, id, fileId](
            const TaskControl& control) -> AnalysisPtr {
            try {
                std::shared_ptr<const qs::Tensor> data = cached;
                std::shared_ptr<const std::vector<qs::Tensor>> batch = cachedBatch;
                if (!data) {
                    // Loaded straight into a one-element batch list, which the calibrators take without
                    // a copy; the tensor pointer shares its ownership.
                    auto loaded = std::make_shared<std::vector<qs::Tensor>>();
                    loaded->push_back(source->load(info.name));
                    data = std::shared_ptr<const qs::Tensor>(loaded, &loaded->front());
                    batch = std::move(loaded);
                }
                control.throwIfCancelled();
                auto analysis = std::make_shared<TensorAnalysis>(
                    analyzeTensor(info, std::move(data), options, control, cached ? 0 : 40));
                analysis->wholeBatch = std::move(batch);
                analysis->id = id;
                analysis->fileId = fileId;
                analysis->filePath = path;
                analysis->formatName = source->formatName();
                if (analysis->focusChannel)
                    analysis->focusChannel->analysisId = id;
                return analysis;
            } catch (const qs::Error&) {
                throw;
            } catch (const std::bad_alloc&) {
                qs::throwFileError(path, info.name, "not enough memory to load and analyse this tensor");
            } catch (const std::exception& e) {
                qs::throwFileError(path, info.name, e.what());
            }
        },
        [this](AnalysisPtr analysis) {
            m_inFlight.reset();
            m_current = std::move(analysis);
            emit tensorStatsReady(currentRef(), m_current->stats);
            publishAnalysis(m_current);
        },
        [this, tensor](const QString& message) {
            m_inFlight.reset();
            m_selected = currentRef();
            emit analysisFailed(tensor, message);
            emit errorOccurred(message);
        });
    updateActivity();
}

void SessionController::publishAnalysis(const AnalysisPtr& analysis)
{
    emit analysisReady(analysis);
    startQuantization();
}

void SessionController::setSchemeSettings(const SchemeSettings& settings)
{
    if (settings == m_scheme)
        return;
    m_scheme = settings;
    startQuantization();
}

void SessionController::startQuantization()
{
    if (!m_current)
        return;
    const AnalysisPtr analysis = m_current;
    const SchemeSettings settings = m_scheme;
    if (m_quantization && m_quantization->analysisId == analysis->id
        && m_quantization->settings == settings) {
        m_quantizationTask.cancel();
        emit quantizationReady(m_quantization);
        return;
    }
    QuantizationFocus focus;
    if (analysis->channels)
        focus.channelAxis = analysis->channels->axis;
    if (analysis->focusChannel)
        focus.focusChannel = analysis->focusChannel->channel;
    // A slider step keeps the scheme: the other methods' lines of the previous result still hold.
    std::shared_ptr<const QuantizationAnalysis> previous;
    if (m_quantization && m_quantization->analysisId == analysis->id
        && m_quantization->settings.scheme == settings.scheme)
        previous = m_quantization;
    const std::uint64_t id = ++m_nextQuantizationId;
    m_quantizationActivity = tr("Quantizing %1 as %2")
                                 .arg(QString::fromStdString(analysis->info.name),
                                     QString::fromStdString(settingsName(settings)));
    emit quantizationStarted();
    m_quantizationTask.submit(
        [analysis, settings, focus, id, previous](const TaskControl& control) -> QuantizationPtr {
            QuantizationReuse reuse;
            reuse.wholeBatch = analysis->wholeBatch.get();
            if (previous)
                reuse.methodRanges = &previous->methodRanges;
            auto quantization = std::make_shared<QuantizationAnalysis>(
                analyzeQuantization(*analysis->tensor, settings, focus, control, reuse));
            quantization->id = id;
            quantization->analysisId = analysis->id;
            quantization->fileId = analysis->fileId;
            return quantization;
        },
        [this](QuantizationPtr quantization) {
            if (!m_current || quantization->analysisId != m_current->id)
                return;
            m_quantization = std::move(quantization);
            emit quantizationReady(m_quantization);
        },
        [this](const QString& message) { emit quantizationFailed(message); });
    updateActivity();
}

const ChosenSetting* SessionController::chosenSetting(const TensorRef& tensor) const
{
    const OpenFile* f = file(tensor.fileId);
    if (!f)
        return nullptr;
    const std::string path = toStdPath(f->path);
    const std::string name = tensor.name.toStdString();
    const auto it = std::find_if(m_chosen.begin(), m_chosen.end(),
        [&](const ChosenSetting& c) { return c.filePath == path && c.tensorName == name; });
    return it == m_chosen.end() ? nullptr : &*it;
}

bool SessionController::chooseCurrentSettings()
{
    if (!m_current || !m_quantization || m_quantization->analysisId != m_current->id
        || !(m_quantization->settings == m_scheme))
        return false;
    ChosenSetting chosen;
    chosen.filePath = m_current->filePath;
    chosen.tensorName = m_current->info.name;
    chosen.shape = m_current->info.shape;
    chosen.dtypeName = m_current->info.dtypeName;
    chosen.settings = m_quantization->settings;
    chosen.calibration = m_quantization->calibration;
    chosen.report = m_quantization->report;
    choose(chosen);
    if (!m_quantization->errorPercentilesKnown)
        completeChosenReport(chosen, m_current->tensor);
    return true;
}

void SessionController::completeChosenReport(
    const ChosenSetting& chosen, std::shared_ptr<const qs::Tensor> tensor)
{
    auto* watcher = new QFutureWatcher<std::optional<qs::ErrorReport>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, chosen] {
        watcher->deleteLater();
        const std::optional<qs::ErrorReport> report = watcher->result();
        const auto it = std::find(m_chosen.begin(), m_chosen.end(), chosen);
        if (!report || it == m_chosen.end())
            return;
        it->report = *report;
        if (it->calibration)
            it->calibration->report = *report;
        emit chosenSettingsChanged();
    });
    const SchemeSettings settings = chosen.settings;
    watcher->setFuture(QtConcurrent::run([tensor, settings]() -> std::optional<qs::ErrorReport> {
        try {
            return referenceErrorReport(*tensor, settings);
        } catch (const std::exception&) {
            // The fused report stays; the same scheme worked moments ago, so this is out of memory.
            return std::nullopt;
        }
    }));
}

void SessionController::choose(const ChosenSetting& setting)
{
    const auto it = std::find_if(m_chosen.begin(), m_chosen.end(), [&](const ChosenSetting& c) {
        return c.filePath == setting.filePath && c.tensorName == setting.tensorName;
    });
    if (it != m_chosen.end())
        *it = setting;
    else
        m_chosen.push_back(setting);
    emit chosenSettingsChanged();
}

void SessionController::forgetChosen(const TensorRef& tensor)
{
    const ChosenSetting* chosen = chosenSetting(tensor);
    if (!chosen)
        return;
    m_chosen.erase(m_chosen.begin() + (chosen - m_chosen.data()));
    emit chosenSettingsChanged();
}

void SessionController::requestChannelHistogram(std::int64_t channel)
{
    if (!m_current || !m_current->channels || channel < 0
        || channel >= static_cast<std::int64_t>(m_current->channels->channelCount()))
        return;
    if (m_current->focusChannel && m_current->focusChannel->channel == channel) {
        m_channelTask.cancel();
        emit channelHistogramReady(std::make_shared<const ChannelHistogram>(*m_current->focusChannel));
        return;
    }

    const AnalysisPtr analysis = m_current;
    const int bins = m_options.channelHistogramBins;
    m_channelActivity
        = tr("Histogram of channel %1 of %2").arg(channel).arg(QString::fromStdString(analysis->info.name));
    m_channelTask.submit(
        [analysis, channel, bins](const TaskControl&) -> ChannelHistogramPtr {
            auto histogram = std::make_shared<ChannelHistogram>(
                analyzeChannel(*analysis->tensor, analysis->channels->axis, channel, bins));
            histogram->analysisId = analysis->id;
            return histogram;
        },
        [this](ChannelHistogramPtr histogram) {
            if (m_current && histogram->analysisId == m_current->id)
                emit channelHistogramReady(histogram);
        },
        [this](const QString& message) { emit errorOccurred(message); });
    updateActivity();
}

void SessionController::cancel()
{
    m_analysisTask.cancel();
    m_channelTask.cancel();
    m_quantizationTask.cancel();
    for (const auto& flag : std::as_const(m_opening))
        flag->store(true);
    if (m_inFlight) {
        const TensorRef tensor = m_inFlight->tensor;
        m_inFlight.reset();
        m_selected = currentRef();
        emit analysisCancelled(tensor);
    }
    updateActivity();
}

void SessionController::updateActivity()
{
    const bool busy
        = m_analysisTask.busy() || m_channelTask.busy() || m_quantizationTask.busy() || !m_opening.isEmpty();
    QString description;
    int progress = -1;
    if (m_analysisTask.cancelling()) {
        description = tr("Cancelling\u2026");
    } else if (m_analysisTask.busy()) {
        description = m_analysisActivity + QStringLiteral("\u2026");
        progress = m_analysisProgress;
    } else if (!m_opening.isEmpty()) {
        QStringList names;
        for (auto it = m_opening.cbegin(); it != m_opening.cend(); ++it)
            names << QFileInfo(it.key()).fileName();
        names.sort();
        description = tr("Opening %1\u2026").arg(names.join(QStringLiteral(", ")));
    } else if (m_channelTask.busy()) {
        description = m_channelActivity + QStringLiteral("\u2026");
    } else if (m_quantizationTask.busy()) {
        description = m_quantizationActivity + QStringLiteral("\u2026");
    }

    m_scanPaused->store(busy);
    m_activity = description;
    if (busy != m_busy) {
        m_busy = busy;
        emit busyChanged(busy);
    }
    emit activityChanged(description, progress);
}

} // namespace qs::gui
