#pragma once

#include "session.h"

#include <QObject>
#include <QSet>
#include <QStringList>
#include <QTimer>

namespace qs::gui {

class MainWindow;

/// What the command line asks for: files to open, the tensor to select, a screenshot to take.
struct StartupOptions {
    QStringList files;
    QString tensorName; ///< empty: the first loadable tensor
    QString screenshotPath; ///< empty: no screenshot, the window stays open
    QString tab; ///< empty: the Distribution tab; else a tab name (MainWindow::showTab)
    QString format; ///< empty: as the scheme panel has it; else an element or block format name
    QString granularity; ///< empty: unchanged; else a parseGranularity spelling
    QString method; ///< empty: unchanged; else a calibrationMethodByName spelling
    int timeoutMs = 120000; ///< screenshot mode gives up after this long
};

/// Opens the files of the command line, sets the scheme and the tab asked for, selects the tensor and, in
/// screenshot mode, waits until its analysis is on screen and every background computation has finished,
/// saves a PNG of the window and reports an exit code.
class StartupSequence : public QObject {
    Q_OBJECT

public:
    StartupSequence(MainWindow* window, StartupOptions options, QObject* parent = nullptr);

    void start();

signals:
    /// Screenshot mode only: 0 when the screenshot was saved, non-zero with the reason otherwise.
    void finished(int exitCode, const QString& message);

private:
    void onFileSettled(const QString& path, const QString& error);
    void selectTensor();
    void onAnalysisShown(const qs::gui::AnalysisPtr& analysis);
    void takeScreenshot();
    void grabWhenIdle();
    /// Applies tab, format, granularity and method; returns the reason when one is not valid.
    QString applyViewOptions();
    void fail(const QString& message);
    bool screenshotMode() const { return !m_options.screenshotPath.isEmpty(); }

    MainWindow* m_window;
    StartupOptions m_options;
    QSet<QString> m_waitingFor;
    QStringList m_errors;
    QString m_expectedTensor;
    QTimer m_timeout;
    bool m_done = false;
};

} // namespace qs::gui
