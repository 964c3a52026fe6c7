#pragma once

#include <atomic>
#include <functional>
#include <utility>

namespace qs::gui {

/// Thrown by TaskControl::throwIfCancelled() to unwind a background computation that nobody waits for.
struct TaskCancelled { };

/// What a background computation sees of its caller: a cancel flag to poll and a progress sink (0..100).
class TaskControl {
public:
    TaskControl(const std::atomic<bool>& cancelled, std::function<void(int)> progress = {})
        : m_cancelled(cancelled)
        , m_progress(std::move(progress))
    {
    }

    bool cancelled() const { return m_cancelled.load(std::memory_order_relaxed); }

    void throwIfCancelled() const
    {
        if (cancelled())
            throw TaskCancelled {};
    }

    void setProgress(int percent) const
    {
        if (m_progress)
            m_progress(percent);
    }

private:
    const std::atomic<bool>& m_cancelled;
    std::function<void(int)> m_progress;
};

} // namespace qs::gui
