#include "settingsfiletask.h"

#include "base/error.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>

namespace qs::gui {

SettingsFileTask::SettingsFileTask(QObject* parent)
    : QObject(parent)
{
}

SettingsFileTask::~SettingsFileTask()
{
    cancel();
}

void SettingsFileTask::cancel()
{
    if (m_cancelled)
        m_cancelled->store(true);
}

void SettingsFileTask::finish()
{
    m_busy = false;
    m_cancelled.reset();
    emit activityChanged({}, -1);
}

bool SettingsFileTask::startExport(
    std::vector<ChosenSetting> chosen, qs::SettingsFormat format, const QString& path)
{
    if (m_busy)
        return false;
    m_busy = true;
    m_cancelled = std::make_shared<std::atomic<bool>>(false);
    const QString name = QFileInfo(path).fileName();
    emit activityChanged(tr("Exporting settings to %1").arg(name), -1);
    QPointer<SettingsFileTask> self(this);
    auto cancelled = m_cancelled;
    const int count = int(chosen.size());
    (void)QtConcurrent::run([self, cancelled, chosen = std::move(chosen), format, path, name, count] {
        QString error;
        try {
            const qs::SettingsDocument document = settingsDocument(chosen, TaskControl(*cancelled));
            if (!cancelled->load())
                qs::writeSettingsFile(path.toStdString(), document, format);
        } catch (const TaskCancelled&) {
        } catch (const std::exception& e) {
            error = tr("Could not export the settings to %1: %2").arg(name, QString::fromUtf8(e.what()));
        }
        QMetaObject::invokeMethod(qApp, [self, cancelled, error, path, count] {
            if (!self || self->m_cancelled != cancelled)
                return;
            self->finish();
            if (cancelled->load())
                return;
            if (error.isEmpty())
                emit self->exportFinished(path, count);
            else
                emit self->failed(error);
        });
    });
    return true;
}

bool SettingsFileTask::startImport(const QString& path, std::vector<ImportTarget> targets)
{
    if (m_busy)
        return false;
    m_busy = true;
    m_cancelled = std::make_shared<std::atomic<bool>>(false);
    const QString name = QFileInfo(path).fileName();
    emit activityChanged(tr("Reading settings from %1").arg(name), -1);
    QPointer<SettingsFileTask> self(this);
    auto cancelled = m_cancelled;
    (void)QtConcurrent::run([self, cancelled, targets = std::move(targets), path, name] {
        QString error;
        qs::LoadedSettings loaded;
        qs::SettingsMatch match;
        try {
            loaded = qs::readSettingsFile(path.toStdString());
            std::vector<qs::TensorInfo> infos;
            for (const ImportTarget& t : targets)
                infos.push_back(t.info);
            match = qs::matchSettings(loaded.document, infos);
        } catch (const std::exception& e) {
            error = tr("Could not import settings from %1: %2").arg(name, QString::fromUtf8(e.what()));
        }
        QMetaObject::invokeMethod(qApp, [self, cancelled, error, path, loaded, match, targets] {
            if (!self || self->m_cancelled != cancelled)
                return;
            self->finish();
            if (cancelled->load())
                return;
            if (error.isEmpty())
                emit self->importRead(path, loaded, match, targets);
            else
                emit self->failed(error);
        });
    });
    return true;
}

} // namespace qs::gui
