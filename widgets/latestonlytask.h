#pragma once

#include "taskcontrol.h"

#include <QFutureWatcher>
#include <QPromise>
#include <QString>
#include <QtConcurrent/QtConcurrentRun>
#include <atomic>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <utility>

namespace qs::gui {

/// Runs one kind of background computation so that only the newest request counts: at most one job runs
/// and at most one waits. A new request cancels the running job (through its TaskControl) and replaces the
/// waiting one, so a burst of requests costs one finished job plus one cancelled job, never a queue.
/// Results and errors are delivered on the thread that owns the task, and only for the newest request.
template<typename Result> class LatestOnlyTask {
public:
    using Work = std::function<Result(const TaskControl&)>;
    using Done = std::function<void(Result)>;
    using Failed = std::function<void(const QString&)>;

    /// `progress` receives 0..100 from the running job; `stateChanged` is called when busy() flips.
    LatestOnlyTask(std::function<void(int)> progress, std::function<void()> stateChanged)
        : m_onProgress(std::move(progress))
        , m_onStateChanged(std::move(stateChanged))
    {
        QObject::connect(&m_watcher, &QFutureWatcherBase::finished, &m_watcher, [this] { onFinished(); });
        QObject::connect(
            &m_watcher, &QFutureWatcherBase::progressValueChanged, &m_watcher, [this](int value) {
                if (m_running && !m_cancel->load() && m_onProgress)
                    m_onProgress(value);
            });
    }

    LatestOnlyTask(const LatestOnlyTask&) = delete;
    LatestOnlyTask& operator=(const LatestOnlyTask&) = delete;

    /// The job keeps running in the pool after the task is gone; it owns everything it touches.
    ~LatestOnlyTask()
    {
        if (m_cancel)
            m_cancel->store(true);
    }

    void submit(Work work, Done done, Failed failed)
    {
        Request request {std::move(work), std::move(done), std::move(failed)};
        if (m_running) {
            m_cancel->store(true);
            m_pending = std::move(request);
            return;
        }
        start(std::move(request));
        if (m_onStateChanged)
            m_onStateChanged();
    }

    /// Drops the waiting request and asks the running job to stop; its result will be discarded.
    void cancel()
    {
        m_pending.reset();
        if (m_running)
            m_cancel->store(true);
    }

    bool busy() const { return m_running.has_value(); }

    /// True once cancel() or a newer request has been issued for the running job.
    bool cancelling() const { return m_running && m_cancel->load(); }

private:
    struct Request {
        Work work;
        Done done;
        Failed failed;
    };

    struct Outcome {
        std::optional<Result> value;
        QString error;
    };

    void start(Request request)
    {
        auto cancel = std::make_shared<std::atomic<bool>>(false);
        m_cancel = cancel;
        Work work = request.work;
        m_running = std::move(request);
        m_watcher.setFuture(QtConcurrent::run([work = std::move(work), cancel](QPromise<Outcome>& promise) {
            promise.setProgressRange(0, 100);
            const TaskControl control(*cancel, [&promise](int value) { promise.setProgressValue(value); });
            Outcome outcome;
            try {
                outcome.value = work(control);
            } catch (const TaskCancelled&) {
            } catch (const std::bad_alloc&) {
                outcome.error = QStringLiteral("not enough memory");
            } catch (const std::exception& e) {
                outcome.error = QString::fromStdString(e.what());
            }
            promise.addResult(std::move(outcome));
        }));
    }

    void onFinished()
    {
        if (!m_running)
            return;
        Request finished = std::move(*m_running);
        m_running.reset();
        const bool superseded = m_cancel->load();
        std::optional<Outcome> outcome;
        if (!superseded && m_watcher.future().resultCount() > 0)
            outcome = m_watcher.result();

        if (m_pending) {
            Request next = std::move(*m_pending);
            m_pending.reset();
            start(std::move(next));
        }
        if (outcome && outcome->value)
            finished.done(std::move(*outcome->value));
        else if (outcome && !outcome->error.isEmpty())
            finished.failed(outcome->error);
        if (m_onStateChanged)
            m_onStateChanged();
    }

    std::function<void(int)> m_onProgress;
    std::function<void()> m_onStateChanged;
    QFutureWatcher<Outcome> m_watcher;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    std::optional<Request> m_running;
    std::optional<Request> m_pending;
};

} // namespace qs::gui
