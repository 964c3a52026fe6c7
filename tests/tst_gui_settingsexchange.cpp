#include "base/error.h"
#include "calib/calibration.h"
#include "export/settings_file.h"
#include "exportsettingsdialog.h"
#include "importreportdialog.h"
#include "io/tensor_file.h"
#include "mainwindow.h"
#include "sessioncontroller.h"
#include "settingsexchange.h"
#include "settingsfiletask.h"

#include <QAbstractItemModelTester>
#include <QDialogButtonBox>
#include <QDir>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>
#include <atomic>

using namespace qs;
using namespace qs::gui;

// The GUI's export and import of chosen settings: chosen → document → file → document → match → chosen gives
// back what was chosen, for every settings format that can hold the scheme.
class TestSettingsExchange : public QObject {
    Q_OBJECT

    static std::string sample(const char* name) { return std::string(QS_SAMPLES_DIR "/").append(name); }

    static ChosenSetting chosen(const std::string& path, const std::string& tensor, const Scheme& scheme,
        CalibrationMethod method, Compatibility compat)
    {
        const auto file = TensorFile::open(path);
        const TensorInfo* info = file->find(tensor);
        ChosenSetting c;
        c.filePath = path;
        c.tensorName = tensor;
        c.shape = info->shape;
        c.dtypeName = info->dtypeName;
        c.settings.scheme = scheme;
        c.settings.options.method = method;
        c.settings.options.compat = compat;
        c.calibration = calibrate({file->load(tensor)}, scheme, c.settings.options);
        c.settings.options = c.calibration->options;
        c.report = c.calibration->report;
        return c;
    }

    /// Saves a picture of `widget` for a look by eye (QS_TEST_OUTPUT_DIR, else the temporary directory).
    static void saveScreenshot(QWidget& widget, const QString& name)
    {
        QString directory = qEnvironmentVariable("QS_TEST_OUTPUT_DIR");
        if (directory.isEmpty())
            directory = QDir::tempPath();
        QDir().mkpath(directory);
        widget.adjustSize();
        QVERIFY(widget.grab().save(QDir(directory).filePath(name)));
    }

    static std::vector<ImportTarget> targetsOf(const std::string& path)
    {
        std::vector<ImportTarget> targets;
        const auto file = TensorFile::open(path);
        for (const TensorInfo& info : file->tensors())
            targets.push_back({path, info});
        return targets;
    }

private slots:
    void roundTrip_data()
    {
        QTest::addColumn<QString>("format");
        QTest::addColumn<bool>("perChannel");
        QTest::newRow("quantscope, per channel") << "quantscope" << true;
        QTest::newRow("aimet-0.6.1, per channel") << "aimet-0.6.1" << true;
        QTest::newRow("aimet-1.0.0, per channel") << "aimet-1.0.0" << true;
        QTest::newRow("tensorrt, per tensor") << "tensorrt" << false;
    }

    void roundTrip()
    {
        try {
            checkRoundTrip();
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
    }

private:
    void checkRoundTrip()
    {
        QFETCH(QString, format);
        QFETCH(bool, perChannel);
        const std::string path = sample("depthwise_conv.safetensors");
        Scheme scheme;
        if (perChannel)
            scheme.granularity = Granularity::perChannel(0);
        const ChosenSetting original = chosen(path, "depthwise.weight", scheme, CalibrationMethod::MinMax,
            perChannel ? Compatibility::Native : Compatibility::TensorRT);

        std::atomic<bool> cancelled {false};
        const SettingsDocument document = settingsDocument({original}, TaskControl(cancelled));
        QCOMPARE(document.tensors.size(), std::size_t(1));
        QCOMPARE(document.sources.size(), std::size_t(1));
        QCOMPARE(document.sources.front().sha256.size(), std::size_t(64));
        QCOMPARE(
            document.sources.front().size, std::uint64_t(QFileInfo(QString::fromStdString(path)).size()));

        QTemporaryDir dir;
        const std::string out = dir.filePath(QStringLiteral("settings")).toStdString();
        writeSettingsFile(out, document, settingsFormatByName(format.toStdString()));
        const LoadedSettings loaded = readSettingsFile(out);
        const SettingsMatch match = matchSettings(loaded.document, {TensorFile::open(path)->tensors()});
        QVERIFY(match.complete());
        const std::vector<ChosenSetting> back = chosenFromImport(match, targetsOf(path));
        QCOMPARE(back.size(), std::size_t(1));
        const ChosenSetting& c = back.front();
        QCOMPARE(c.filePath, path);
        QCOMPARE(c.tensorName, original.tensorName);
        QCOMPARE(c.shape, original.shape);
        QCOMPARE(c.settings.scheme.granularity, original.settings.scheme.granularity);
        QVERIFY(c.calibration.has_value());
        QCOMPARE(c.calibration->scales, original.calibration->scales);
        QCOMPARE(c.calibration->zeroPoints, original.calibration->zeroPoints);
        if (format == QLatin1String("quantscope")) {
            QCOMPARE(c.settings, original.settings);
            QCOMPARE(c.calibration->ranges, original.calibration->ranges);
            QCOMPARE(c.report, original.report);
        }
    }

private slots:
    void importSkipsTensorsThatAreNotOpen()
    {
        const std::string path = sample("depthwise_conv.safetensors");
        const ChosenSetting original
            = chosen(path, "depthwise.weight", Scheme {}, CalibrationMethod::MinMax, Compatibility::Native);
        std::atomic<bool> cancelled {false};
        SettingsDocument document = settingsDocument({original}, TaskControl(cancelled));
        document.tensors.front().name = "not.there";
        const SettingsMatch match = matchSettings(document, TensorFile::open(path)->tensors());
        QVERIFY(!match.complete());
        QCOMPARE(match.mismatches.front().kind, MismatchKind::MissingTensor);
        QVERIFY(chosenFromImport(match, targetsOf(path)).empty());
    }

    void exportOfAMissingSourceFileFailsNamingIt()
    {
        const std::string missing = "/nonexistent/model.safetensors";
        ChosenSetting c;
        c.filePath = missing;
        c.tensorName = std::string(1, 'w');
        c.shape = {2, 2};
        std::atomic<bool> cancelled {false};
        try {
            settingsDocument({c}, TaskControl(cancelled));
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("model.safetensors")), e.what());
        }
    }

    // The export dialog refuses a format that cannot hold a selected setting and says which and why.
    void exportDialogNamesWhatAFormatCannotHold()
    {
        const std::string path = sample("depthwise_conv.safetensors");
        Scheme perChannel;
        perChannel.granularity = Granularity::perChannel(0);
        const ChosenSetting c
            = chosen(path, "depthwise.weight", perChannel, CalibrationMethod::MinMax, Compatibility::Native);
        ExportSettingsDialog dialog(c, {c});
        QPushButton* ok = dialog.findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok);
        dialog.setFormat(SettingsFormat::Quantscope);
        QVERIFY(dialog.problem().isEmpty());
        QVERIFY(ok->isEnabled());
        QCOMPARE(dialog.selection().size(), std::size_t(1));
        dialog.setFormat(SettingsFormat::TensorRt);
        QVERIFY(dialog.problem().contains(QStringLiteral("depthwise.weight")));
        QVERIFY(!ok->isEnabled());
        QVERIFY(dialog.fileFilter().contains(QStringLiteral("cache")));
        saveScreenshot(dialog, QStringLiteral("export_settings_dialog.png"));

        ExportSettingsDialog empty(std::nullopt, {});
        QVERIFY(empty.selection().empty());
        QVERIFY(empty.problem().contains(QStringLiteral("Use this")));
    }

    // The import report lists every named tensor: applied ones first, then each mismatch with its reason.
    void importReportListsAppliedAndMismatched()
    {
        const std::string path = sample("depthwise_conv.safetensors");
        const ChosenSetting c
            = chosen(path, "depthwise.weight", Scheme {}, CalibrationMethod::MinMax, Compatibility::Native);
        std::atomic<bool> cancelled {false};
        SettingsDocument document = settingsDocument({c, c}, TaskControl(cancelled));
        document.tensors.back().name = "missing.weight";
        const SettingsMatch match = matchSettings(document, TensorFile::open(path)->tensors());
        ImportReportDialog dialog(
            QStringLiteral("x.json"), LoadedSettings {SettingsFormat::Quantscope, document}, match);
        const ImportReportModel& model = dialog.model();
        QAbstractItemModelTester tester(
            const_cast<ImportReportModel*>(&model), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.index(0, ImportReportModel::TensorColumn).data().toString(),
            QStringLiteral("depthwise.weight"));
        QCOMPARE(
            model.index(0, ImportReportModel::ResultColumn).data().toString(), QStringLiteral("applies"));
        QCOMPARE(model.index(1, ImportReportModel::TensorColumn).data().toString(),
            QStringLiteral("missing.weight"));
        QCOMPARE(model.index(1, ImportReportModel::ResultColumn).data().toString(),
            QStringLiteral("missing tensor"));
        QPushButton* apply = dialog.findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok);
        QVERIFY(apply->isEnabled());
        QVERIFY(apply->text().contains(QStringLiteral("1")));
        saveScreenshot(dialog, QStringLiteral("import_report_dialog.png"));
    }

    // File › Export / Import through the main window: export the chosen setting, forget it, import the file
    // and confirm the report: the tensor has the same chosen setting again; the file on disk is replaced only
    // by a successful export.
    void mainWindowExportsAndImportsChosenSettings()
    {
        const std::string path = sample("depthwise_conv.safetensors");
        Scheme perChannel;
        perChannel.granularity = Granularity::perChannel(0);
        const ChosenSetting original
            = chosen(path, "depthwise.weight", perChannel, CalibrationMethod::MinMax, Compatibility::Native);

        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        SessionController* controller = window.controller();
        window.openFiles({QString::fromStdString(path)});
        QTRY_COMPARE_WITH_TIMEOUT(int(controller->openFiles().size()), 1, 20000);
        QVERIFY(!window.exportSettingsAction()->isEnabled());
        controller->choose(original);
        QVERIFY(window.exportSettingsAction()->isEnabled());
        QCOMPARE(controller->chosenSettings().size(), std::size_t(1));

        QTemporaryDir dir;
        const QString out = dir.filePath(QStringLiteral("settings.json"));
        QSignalSpy exported(window.settingsFileTask(), &SettingsFileTask::exportFinished);
        QVERIFY(window.settingsFileTask()->startExport(
            controller->chosenSettings(), SettingsFormat::Quantscope, out));
        QVERIFY(exported.wait(20000));
        QVERIFY(QFileInfo::exists(out));

        // A failing export (a format that cannot hold per-channel int8) leaves the file as it was.
        const QByteArray before = [&] {
            QFile f(out);
            return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
        }();
        QSignalSpy failed(window.settingsFileTask(), &SettingsFileTask::failed);
        QVERIFY(window.settingsFileTask()->startExport(
            controller->chosenSettings(), SettingsFormat::TensorRt, out));
        QVERIFY(failed.wait(20000));
        QVERIFY(failed.front().front().toString().contains(QStringLiteral("settings.json")));
        QFile after(out);
        QVERIFY(after.open(QIODevice::ReadOnly));
        QCOMPARE(after.readAll(), before);

        const int fileId = controller->openFiles().front().id;
        controller->forgetChosen(TensorRef {fileId, QStringLiteral("depthwise.weight")});
        QVERIFY(controller->chosenSettings().empty());
        QSignalSpy read(window.settingsFileTask(), &SettingsFileTask::importRead);
        QVERIFY(window.settingsFileTask()->startImport(out, window.importTargets()));
        QVERIFY(read.wait(20000));
        ImportReportDialog* report
            = window.findChild<ImportReportDialog*>(QStringLiteral("importReportDialog"));
        QVERIFY(report);
        QCOMPARE(report->model().rowCount(), 1);
        report->accept();
        QCOMPARE(controller->chosenSettings().size(), std::size_t(1));
        const ChosenSetting& back = controller->chosenSettings().front();
        QCOMPARE(back.tensorName, original.tensorName);
        QCOMPARE(back.settings, original.settings);
        QVERIFY(back.calibration.has_value());
        QCOMPARE(back.calibration->scales, original.calibration->scales);
    }
};

QTEST_MAIN(TestSettingsExchange)
#include "tst_gui_settingsexchange.moc"
