#include "startupsequence.h"

#include "base/error.h"
#include "distributionview.h"
#include "mainwindow.h"
#include "schemepanel.h"
#include "sessioncontroller.h"
#include "tensoranalysis.h"

#include <QDir>
#include <QFileInfo>
#include <QPixmap>

namespace qs::gui {

StartupSequence::StartupSequence(MainWindow* window, StartupOptions options, QObject* parent)
    : QObject(parent)
    , m_window(window)
    , m_options(std::move(options))
{
    m_timeout.setSingleShot(true);
    connect(&m_timeout, &QTimer::timeout, this, [this] {
        fail(
            tr("Timed out after %1 s waiting for the analysis to be shown.").arg(m_options.timeoutMs / 1000));
    });
}

QString StartupSequence::applyViewOptions()
{
    if (!m_options.tab.isEmpty()) {
        const QString error = m_window->showTab(m_options.tab);
        if (!error.isEmpty())
            return error;
    }
    if (m_options.format.isEmpty() && m_options.granularity.isEmpty() && m_options.method.isEmpty())
        return {};
    SchemeSettings settings = m_window->schemePanel()->settings();
    try {
        if (!m_options.format.isEmpty()) {
            const std::string name = m_options.format.toStdString();
            settings.scheme.blockFormat = qs::blockFormatByName(name);
            if (settings.scheme.blockFormat == qs::BlockFormat::None)
                settings.scheme.format = qs::formatByName(name);
        }
        if (!m_options.granularity.isEmpty())
            settings.scheme.granularity = qs::parseGranularity(m_options.granularity.toStdString());
        if (!m_options.method.isEmpty())
            settings.options.method = qs::calibrationMethodByName(m_options.method.toStdString());
    } catch (const qs::Error& e) {
        return QString::fromStdString(e.what());
    }
    m_window->schemePanel()->setSettings(settings);
    return {};
}

void StartupSequence::start()
{
    SessionController* controller = m_window->controller();
    if (const QString error = applyViewOptions(); !error.isEmpty()) {
        if (screenshotMode()) {
            // Let the caller connect to finished() first.
            QTimer::singleShot(0, this, [this, error] { fail(error); });
            return;
        }
        m_window->showError(error);
    }
    connect(controller, &SessionController::fileOpened, this,
        [this](const OpenFile& file) { onFileSettled(file.path, {}); });
    connect(controller, &SessionController::fileOpenFailed, this, &StartupSequence::onFileSettled);
    if (screenshotMode()) {
        m_timeout.start(m_options.timeoutMs);
        connect(m_window->distributionView(), &DistributionView::analysisShown, this,
            &StartupSequence::onAnalysisShown);
        connect(controller, &SessionController::analysisFailed, this,
            [this](const TensorRef& tensor, const QString& message) {
                if (m_expectedTensor.isEmpty() || tensor.name == m_expectedTensor)
                    fail(message);
            });
    }

    for (const QString& path : std::as_const(m_options.files)) {
        const QString absolute = QFileInfo(path).absoluteFilePath();
        if (controller->openFile(absolute))
            m_waitingFor.insert(absolute);
    }
    if (m_waitingFor.isEmpty())
        selectTensor();
}

void StartupSequence::onFileSettled(const QString& path, const QString& error)
{
    if (!m_waitingFor.remove(path))
        return;
    if (!error.isEmpty())
        m_errors << error;
    if (m_waitingFor.isEmpty())
        selectTensor();
}

void StartupSequence::selectTensor()
{
    if (!m_errors.isEmpty() && screenshotMode()) {
        fail(m_errors.join(QLatin1Char('\n')));
        return;
    }
    if (!m_options.tensorName.isEmpty()) {
        const QString error = m_window->selectTensorByName(m_options.tensorName);
        if (!error.isEmpty()) {
            if (screenshotMode())
                fail(error);
            else
                m_window->showError(error);
            return;
        }
        m_expectedTensor = m_options.tensorName;
    } else if (m_window->controller()->selectedTensor().isValid()) {
        m_expectedTensor = m_window->controller()->selectedTensor().name;
    } else if (m_window->selectFirstLoadableTensor()) {
        m_expectedTensor = m_window->controller()->selectedTensor().name;
    }

    if (!screenshotMode())
        return;
    const AnalysisPtr shown = m_window->distributionView()->analysis();
    if (m_expectedTensor.isEmpty() || (shown && QString::fromStdString(shown->info.name) == m_expectedTensor))
        takeScreenshot();
}

void StartupSequence::onAnalysisShown(const AnalysisPtr& analysis)
{
    if (!m_expectedTensor.isEmpty() && QString::fromStdString(analysis->info.name) == m_expectedTensor)
        takeScreenshot();
}

void StartupSequence::takeScreenshot()
{
    if (m_done)
        return;
    m_done = true;
    grabWhenIdle();
}

void StartupSequence::grabWhenIdle()
{
    if (!m_window->isIdle()) {
        QTimer::singleShot(100, this, &StartupSequence::grabWhenIdle);
        return;
    }
    // One more turn of the event loop lets layouts and plots settle before the grab.
    QTimer::singleShot(250, this, [this] {
        m_timeout.stop();
        const QPixmap pixmap = m_window->grab();
        if (pixmap.isNull() || !pixmap.save(m_options.screenshotPath, "PNG")) {
            emit finished(1,
                tr("Could not write the screenshot %1.")
                    .arg(QDir::toNativeSeparators(m_options.screenshotPath)));
            return;
        }
        emit finished(0, tr("Saved %1.").arg(QDir::toNativeSeparators(m_options.screenshotPath)));
    });
}

void StartupSequence::fail(const QString& message)
{
    if (m_done)
        return;
    m_done = true;
    m_timeout.stop();
    emit finished(1, message);
}

} // namespace qs::gui
