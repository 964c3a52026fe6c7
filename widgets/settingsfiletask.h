#pragma once

#include "chosensetting.h"
#include "export/settings_file.h"
#include "export/settings_import.h"
#include "settingsexchange.h"

#include <QObject>
#include <QString>
#include <atomic>
#include <memory>
#include <vector>

namespace qs::gui {

/// Writes and reads settings files off the UI thread (hashing a large source file or parsing a large
/// AIMET file takes seconds), one at a time, with cancel. Signals are emitted on the UI thread.
class SettingsFileTask : public QObject {
    Q_OBJECT

public:
    explicit SettingsFileTask(QObject* parent = nullptr);
    ~SettingsFileTask() override;

    bool isBusy() const { return m_busy; }

    /// Builds the document of `chosen` and writes it atomically to `path` (an existing file stays untouched
    /// when anything fails). Returns false, doing nothing, while another file task runs.
    bool startExport(std::vector<ChosenSetting> chosen, qs::SettingsFormat format, const QString& path);
    /// Reads `path` and matches it against `targets` (every tensor of the open files).
    bool startImport(const QString& path, std::vector<ImportTarget> targets);
    /// The running task stops at its next check; nothing of it is published.
    void cancel();

signals:
    void exportFinished(const QString& path, int tensors);
    void importRead(const QString& path, const qs::LoadedSettings& loaded, const qs::SettingsMatch& match,
        const std::vector<qs::gui::ImportTarget>& targets);
    /// A complete sentence naming the file.
    void failed(const QString& message);
    void activityChanged(const QString& description, int progress);

private:
    void finish();

    bool m_busy = false;
    std::shared_ptr<std::atomic<bool>> m_cancelled;
};

} // namespace qs::gui
