#include "startupsequence.h"

#include "distributionview.h"
#include "mainwindow.h"
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

void StartupSequence::start()
{
    SessionController* controller = m_window->controller();
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
