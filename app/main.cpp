#include "mainwindow.h"
#include "startupsequence.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QTextStream>

int main(int argc, char* argv[])
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("Quantscope"));
    QApplication::setApplicationName(QStringLiteral("Quantscope"));
    QApplication::setApplicationVersion(QStringLiteral(QS_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("quantscope"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QApplication::translate(
        "main", "Quantscope: look at tensor distributions and outliers for quantization."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("files"),
        QApplication::translate("main", "Tensor files to open (safetensors, npy, npz, HDF5)."),
        QStringLiteral("[FILE...]"));
    const QCommandLineOption tensorOption(QStringLiteral("tensor"),
        QApplication::translate("main",
            "Select tensor NAME (default: the first "
            "loadable tensor)."),
        QStringLiteral("NAME"));
    const QCommandLineOption screenshotOption(QStringLiteral("screenshot"),
        QApplication::translate("main",
            "Wait until the analysis is shown, save a PNG of the window to PATH and exit "
            "(settings are neither read nor written)."),
        QStringLiteral("PNG"));
    parser.addOption(tensorOption);
    parser.addOption(screenshotOption);
    parser.process(app);

    qs::gui::StartupOptions options;
    options.files = parser.positionalArguments();
    options.tensorName = parser.value(tensorOption);
    options.screenshotPath = parser.value(screenshotOption);

    const bool screenshot = !options.screenshotPath.isEmpty();
    qs::gui::MainWindow window(screenshot ? qs::gui::MainWindow::SettingsMode::Ephemeral
                                          : qs::gui::MainWindow::SettingsMode::Persistent);
    QApplication::setWindowIcon(window.windowIcon());
    window.show();

    qs::gui::StartupSequence startup(&window, options);
    QObject::connect(
        &startup, &qs::gui::StartupSequence::finished, &app, [](int exitCode, const QString& message) {
            QTextStream(exitCode == 0 ? stdout : stderr) << message << Qt::endl;
            QApplication::exit(exitCode);
        });
    startup.start();
    return QApplication::exec();
}
