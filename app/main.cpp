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
    const QCommandLineOption tabOption(QStringLiteral("tab"),
        QApplication::translate("main", "Show tab NAME: distribution, calibration, compare or kernels."),
        QStringLiteral("NAME"));
    const QCommandLineOption formatOption(QStringLiteral("format"),
        QApplication::translate("main",
            "Scheme format: an element format (int8, fp8_e4m3, nf4, ...) or a "
            "block format (mxfp4, nvfp4, bnb_nf4, q4_0, ...)."),
        QStringLiteral("FORMAT"));
    const QCommandLineOption granularityOption(QStringLiteral("granularity"),
        QApplication::translate(
            "main", "Scheme granularity: tensor, channel[:AXIS], group:SIZE[:AXIS], block:HxW."),
        QStringLiteral("G"));
    const QCommandLineOption methodOption(QStringLiteral("method"),
        QApplication::translate(
            "main", "Calibration method: minmax, ema, percentile, entropy, mse, histogram-observer."),
        QStringLiteral("METHOD"));
    parser.addOption(tensorOption);
    parser.addOption(screenshotOption);
    parser.addOption(tabOption);
    parser.addOption(formatOption);
    parser.addOption(granularityOption);
    parser.addOption(methodOption);
    parser.process(app);

    qs::gui::StartupOptions options;
    options.files = parser.positionalArguments();
    options.tensorName = parser.value(tensorOption);
    options.screenshotPath = parser.value(screenshotOption);
    options.tab = parser.value(tabOption);
    options.format = parser.value(formatOption);
    options.granularity = parser.value(granularityOption);
    options.method = parser.value(methodOption);

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
