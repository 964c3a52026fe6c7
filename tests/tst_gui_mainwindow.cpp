// The main window end to end, offscreen: opening files (menu, drag and drop, recent files, command line),
// the tensor tree, the statistics shown against the core's own numbers, errors, cancel, settings and
// screenshots.
#include "abouttext.h"
#include "activityindicator.h"
#include "calib/histogram.h"
#include "calibrationview.h"
#include "comparematrixmodel.h"
#include "compareview.h"
#include "distributionview.h"
#include "histogramplot.h"
#include "io/tensor_file.h"
#include "io/writers.h"
#include "kernelsview.h"
#include "mainwindow.h"
#include "outlierchannelmodel.h"
#include "quantizationanalysis.h"
#include "recentfiles.h"
#include "schemepanel.h"
#include "sessioncontroller.h"
#include "startupsequence.h"
#include "statisticspanel.h"
#include "summarystatsmodel.h"
#include "tensor/stats.h"
#include "tensoranalysis.h"
#include "tensorbrowser.h"
#include "tensorfilterproxymodel.h"
#include "tensortreemodel.h"

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QImage>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QThreadPool>
#include <QToolButton>
#include <QTreeView>
#include <random>

using namespace qs::gui;

namespace {

qs::Tensor randomTensor(const std::string& name, qs::Shape shape, unsigned seed, float scale = 1.0f)
{
    qs::Tensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.data.resize(static_cast<std::size_t>(qs::shapeElementCount(t.shape)));
    std::mt19937 rng(seed);
    std::student_t_distribution<float> heavy(4.0f);
    for (float& v : t.data)
        v = heavy(rng) * scale;
    return t;
}

/// A small safetensors file written byte by byte, for a dtype our writers cannot produce.
void writeRawSafetensors(const QString& path, const QByteArray& json, const QByteArray& data)
{
    QByteArray header = json;
    while (header.size() % 8 != 0)
        header.append(' ');
    QByteArray bytes(8, '\0');
    const quint64 size = static_cast<quint64>(header.size());
    for (int i = 0; i < 8; ++i)
        bytes[i] = static_cast<char>((size >> (8 * i)) & 0xff);
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(bytes + header + data);
}

QString outputDirectory()
{
    QString directory = qEnvironmentVariable("QS_TEST_OUTPUT_DIR");
    if (directory.isEmpty())
        directory = QDir::temp().filePath(QStringLiteral("quantscope-test-output"));
    QDir().mkpath(directory);
    return directory;
}

QMessageBox* findMessageBox(const QWidget& window, const QString& objectName)
{
    const auto boxes = window.findChildren<QMessageBox*>(objectName);
    return boxes.isEmpty() ? nullptr : boxes.last();
}

} // namespace

class TestMainWindow : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString
        m_checkpoint; ///< matrix 64×48 (outlier rows 9 and 40), bias [64], probs [2, 6, 10], big [1536, 1536]
    QString m_second; ///< one F32 tensor and one F8_E8M0 tensor

    static bool waitForAnalysis(MainWindow& window, const QString& name)
    {
        QSignalSpy shown(window.distributionView(), &DistributionView::analysisShown);
        const auto isShown = [&] {
            const AnalysisPtr a = window.distributionView()->analysis();
            return a && QString::fromStdString(a->info.name) == name
                && window.distributionView()->isShowingAnalysis();
        };
        for (int i = 0; i < 200 && !isShown(); ++i)
            shown.wait(100);
        return isShown();
    }

    static bool waitForFiles(MainWindow& window, std::size_t count)
    {
        for (int i = 0; i < 200 && window.controller()->openFiles().size() < count; ++i)
            QTest::qWait(50);
        return window.controller()->openFiles().size() == count;
    }

    static void clickTreeItem(MainWindow& window, const TensorRef& tensor)
    {
        TensorBrowser* browser = window.tensorBrowser();
        const QModelIndex index = browser->proxyModel()->mapFromSource(browser->model()->tensorIndex(tensor));
        QVERIFY(index.isValid());
        browser->treeView()->scrollTo(index);
        const QRect rect = browser->treeView()->visualRect(index);
        QVERIFY(rect.isValid());
        QTest::mouseClick(browser->treeView()->viewport(), Qt::LeftButton, {}, rect.center());
    }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("QuantscopeTests"));
        QCoreApplication::setApplicationName(QStringLiteral("tst_gui_mainwindow"));
        QSettings().clear();
        QVERIFY(m_dir.isValid());

        qs::Tensor matrix = randomTensor("model.layers.0.mlp.weight", {64, 48}, 1, 0.02f);
        for (int col = 0; col < 48; ++col) {
            matrix.data[9 * 48 + col] *= 25.0f;
            matrix.data[40 * 48 + col] *= 12.0f;
        }
        m_checkpoint = m_dir.filePath(QStringLiteral("checkpoint.safetensors"));
        qs::writeSafetensors(m_checkpoint.toStdString(),
            {qs::toRawTensor(matrix, qs::DType::BF16),
                qs::toRawTensor(randomTensor("model.layers.0.mlp.bias", {64}, 2), qs::DType::F32),
                qs::toRawTensor(randomTensor("model.attn.probs", {2, 6, 10}, 3), qs::DType::F16),
                qs::toRawTensor(randomTensor("big", {1536, 1536}, 4), qs::DType::F32)});

        m_second = m_dir.filePath(QStringLiteral("second.safetensors"));
        QByteArray data(24 + 4, '\0');
        for (int i = 0; i < 6; ++i) {
            const float v = static_cast<float>(i) - 2.5f;
            memcpy(data.data() + 4 * i, &v, 4);
        }
        writeRawSafetensors(m_second,
            R"({"values":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
            R"("block.scales":{"dtype":"F8_E8M0","shape":[4],"data_offsets":[24,28]}})",
            data);
    }

    void cleanupTestCase() { QThreadPool::globalInstance()->waitForDone(); }

    void welcomeBeforeAnyFile()
    {
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        QVERIFY(window.distributionView()->messageText().contains(QStringLiteral("Open a tensor file")));
        QVERIFY(!window.closeFileAction()->isEnabled());
        QCOMPARE(window.windowTitle(), QStringLiteral("Quantscope"));
        QVERIFY(!window.windowIcon().isNull());
        QCOMPARE(
            window.statisticsPanel()->statsModel()->index(SummaryStatsModel::MeanRow, 1).data().toString(),
            QStringLiteral("\u2014"));
    }

    void openShowsTreeAndFirstTensor()
    {
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        QAbstractItemModelTester tester(
            window.tensorBrowser()->proxyModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        window.openFiles({m_checkpoint, m_second});
        QVERIFY(waitForFiles(window, 2));
        QVERIFY(waitForAnalysis(window, QStringLiteral("model.layers.0.mlp.weight")));

        const TensorTreeModel* model = window.tensorBrowser()->model();
        QCOMPARE(model->rowCount(), 2);
        const int checkpointId = window.controller()->fileForPath(m_checkpoint)->id;
        struct Expected {
            const char* name;
            const char* leaf;
            const char* shape;
            const char* dtype;
        };
        for (const Expected& e : {Expected {"model.layers.0.mlp.weight", "mlp.weight", "[64, 48]", "BF16"},
                 Expected {"model.layers.0.mlp.bias", "mlp.bias", "[64]", "F32"},
                 Expected {"model.attn.probs", "attn.probs", "[2, 6, 10]", "F16"},
                 Expected {"big", "big", "[1536, 1536]", "F32"}}) {
            const QModelIndex index
                = model->tensorIndex(TensorRef {checkpointId, QString::fromLatin1(e.name)});
            QVERIFY2(index.isValid(), e.name);
            QCOMPARE(index.data().toString(), QString::fromLatin1(e.leaf));
            QCOMPARE(index.siblingAtColumn(TensorTreeModel::ShapeColumn).data().toString(),
                QString::fromLatin1(e.shape));
            QCOMPARE(index.siblingAtColumn(TensorTreeModel::DTypeColumn).data().toString(),
                QString::fromLatin1(e.dtype));
        }
        const QModelIndex weight
            = model->tensorIndex(TensorRef {checkpointId, QStringLiteral("model.layers.0.mlp.weight")});
        QCOMPARE(model->parent(weight).data().toString(), QStringLiteral("0"));
        QCOMPARE(model->parent(model->parent(weight)).data().toString(), QStringLiteral("layers"));

        const int secondId = window.controller()->fileForPath(m_second)->id;
        const QModelIndex scales = model->tensorIndex(TensorRef {secondId, QStringLiteral("block.scales")});
        QVERIFY(scales.isValid());
        QVERIFY(!(model->flags(scales) & Qt::ItemIsEnabled));
        QVERIFY(scales.data(Qt::ToolTipRole).toString().contains(QStringLiteral("F8_E8M0")));

        QVERIFY(window.closeFileAction()->isEnabled());
        QVERIFY(window.windowTitle().contains(QStringLiteral("model.layers.0.mlp.weight")));
    }

    void firstListedFileIsShownWhicheverOpensFirst_data()
    {
        QTest::addColumn<bool>("checkpointFirst");
        QTest::addColumn<bool>("brokenFirst");
        QTest::addColumn<QString>("expected");
        QTest::newRow("checkpoint, second") << true << false << QStringLiteral("model.layers.0.mlp.weight");
        QTest::newRow("second, checkpoint") << false << false << QStringLiteral("values");
        QTest::newRow("broken, second, checkpoint") << false << true << QStringLiteral("values");
    }

    void firstListedFileIsShownWhicheverOpensFirst()
    {
        QFETCH(bool, checkpointFirst);
        QFETCH(bool, brokenFirst);
        QFETCH(QString, expected);
        const QString broken = m_dir.filePath(QStringLiteral("first-broken.npz"));
        QFile file(broken);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("PK not really a zip");
        file.close();

        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        QStringList files
            = checkpointFirst ? QStringList {m_checkpoint, m_second} : QStringList {m_second, m_checkpoint};
        if (brokenFirst)
            files.prepend(broken);
        window.openFiles(files);
        QVERIFY(waitForFiles(window, 2));
        QVERIFY(waitForAnalysis(window, expected));
        QTRY_VERIFY(!window.controller()->isBusy());
        QCOMPARE(QString::fromStdString(window.distributionView()->analysis()->info.name), expected);
        if (brokenFirst)
            QVERIFY(findMessageBox(window, QStringLiteral("errorMessageBox")));
    }

    void statisticsShownEqualTheCore()
    {
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.resize(1500, 950);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        window.openFiles({m_checkpoint});
        QVERIFY(waitForAnalysis(window, QStringLiteral("model.layers.0.mlp.weight")));
        const int id = window.controller()->openFiles().front().id;

        clickTreeItem(window, TensorRef {id, QStringLiteral("model.layers.0.mlp.bias")});
        QVERIFY(waitForAnalysis(window, QStringLiteral("model.layers.0.mlp.bias")));
        clickTreeItem(window, TensorRef {id, QStringLiteral("model.layers.0.mlp.weight")});
        QVERIFY(waitForAnalysis(window, QStringLiteral("model.layers.0.mlp.weight")));

        const qs::Tensor direct
            = qs::TensorFile::open(m_checkpoint.toStdString())->load("model.layers.0.mlp.weight");
        const qs::SummaryStats expected = qs::computeSummaryStats(direct.data);
        const SummaryStatsModel* stats = window.statisticsPanel()->statsModel();
        QAbstractItemModelTester tester(
            const_cast<SummaryStatsModel*>(stats), QAbstractItemModelTester::FailureReportingMode::QtTest);
        const auto raw = [&](int row) { return stats->index(row, 1).data(SummaryStatsModel::RawValueRole); };
        QCOMPARE(raw(SummaryStatsModel::CountRow).toLongLong(), expected.count);
        QCOMPARE(raw(SummaryStatsModel::NanRow).toLongLong(), expected.nanCount);
        QCOMPARE(raw(SummaryStatsModel::InfRow).toLongLong(), expected.infCount);
        QCOMPARE(raw(SummaryStatsModel::MinRow).toDouble(), expected.min);
        QCOMPARE(raw(SummaryStatsModel::MaxRow).toDouble(), expected.max);
        QCOMPARE(raw(SummaryStatsModel::AbsmaxRow).toDouble(), expected.absmax);
        QCOMPARE(raw(SummaryStatsModel::MeanRow).toDouble(), expected.mean);
        QCOMPARE(raw(SummaryStatsModel::StdRow).toDouble(), expected.std);
        QCOMPARE(raw(SummaryStatsModel::KurtosisRow).toDouble(), expected.kurtosis);
        QCOMPARE(raw(SummaryStatsModel::Beyond3SigmaRow).toDouble(), expected.beyond3SigmaShare);
        QCOMPARE(raw(SummaryStatsModel::Beyond6SigmaRow).toDouble(), expected.beyond6SigmaShare);
        QCOMPARE(raw(SummaryStatsModel::ZeroShareRow).toDouble(), expected.zeroShare);
        QCOMPARE(stats->index(SummaryStatsModel::CountRow, 1).data().toString(), QLocale().toString(3072));
        QCOMPARE(stats->index(SummaryStatsModel::MaxRow, 1).data().toString(),
            QString::number(expected.max, 'g', 6));
        QCOMPARE(
            stats->index(SummaryStatsModel::KurtosisRow, 0).data().toString(), QStringLiteral("Kurtosis"));

        HistogramPlot* histogram = window.distributionView()->histogramPlot();
        QCOMPARE(histogram->pointCount(), 256);
        QVERIFY(histogram->histogram() == qs::computeHistogram(direct.data, 256));
        double plotted = 0;
        for (auto it = histogram->graph(0)->data()->constBegin();
             it != histogram->graph(0)->data()->constEnd(); ++it)
            plotted += it->value;
        QCOMPARE(plotted, static_cast<double>(expected.finiteCount));

        const AnalysisPtr shown = window.distributionView()->analysis();
        const auto outliers = window.statisticsPanel()->outlierModel()->outliers();
        QVERIFY(outliers == qs::topOutlierChannels(qs::computeChannelStats(direct, 0), 10));
        QCOMPARE(outliers.front().channel, std::int64_t(9));
        QCOMPARE(outliers.at(1).channel, std::int64_t(40));
        QCOMPARE(window.statisticsPanel()->outlierView()->model()->rowCount(), 10);
        QCOMPARE(shown->channels->channelCount(), std::size_t(64));
    }

    void malformedFileShowsDialogAndKeepsOpenFiles()
    {
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.show();
        window.openFiles({m_checkpoint});
        QVERIFY(waitForAnalysis(window, QStringLiteral("model.layers.0.mlp.weight")));

        const QString bad = m_dir.filePath(QStringLiteral("broken.safetensors"));
        QFile file(bad);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("definitely not a safetensors header");
        file.close();
        window.openFiles({bad});
        QTRY_VERIFY_WITH_TIMEOUT(findMessageBox(window, QStringLiteral("errorMessageBox")), 10000);
        QMessageBox* box = findMessageBox(window, QStringLiteral("errorMessageBox"));
        QVERIFY2(box->text().contains(QStringLiteral("broken.safetensors")), qPrintable(box->text()));
        QVERIFY(box->isVisible());

        QCOMPARE(window.controller()->openFiles().size(), std::size_t(1));
        QCOMPARE(window.tensorBrowser()->model()->rowCount(), 1);
        QVERIFY(window.distributionView()->isShowingAnalysis());
        box->accept();

        // Still usable: another tensor of the open file.
        window.selectTensorByName(QStringLiteral("model.attn.probs"));
        QVERIFY(waitForAnalysis(window, QStringLiteral("model.attn.probs")));
    }

    void unloadableTensorByName()
    {
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.openFiles({m_second});
        QVERIFY(waitForAnalysis(window, QStringLiteral("values")));
        const QString error = window.selectTensorByName(QStringLiteral("block.scales"));
        QVERIFY2(error.contains(QStringLiteral("F8_E8M0")), qPrintable(error));
        QVERIFY(window.selectTensorByName(QStringLiteral("nothing")).contains(QStringLiteral("nothing")));
    }

    void dragAndDropOpensFiles()
    {
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.show();
        QMimeData web;
        web.setUrls({QUrl(QStringLiteral("https://example.com/model.safetensors"))});
        QDragEnterEvent rejected(QPoint(10, 10), Qt::CopyAction, &web, Qt::LeftButton, Qt::NoModifier);
        rejected.setAccepted(false);
        QCoreApplication::sendEvent(&window, &rejected);
        QVERIFY(!rejected.isAccepted());

        QMimeData files;
        files.setUrls({QUrl::fromLocalFile(m_checkpoint), QUrl::fromLocalFile(m_second)});
        QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &files, Qt::LeftButton, Qt::NoModifier);
        enter.setAccepted(false);
        QCoreApplication::sendEvent(&window, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &files, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&window, &drop);
        QVERIFY(waitForFiles(window, 2));
        QCOMPARE(window.tensorBrowser()->model()->rowCount(), 2);
    }

    void recentFilesAreKeptAndPruned()
    {
        RecentFiles recent;
        recent.clear();
        for (int i = 0; i < 12; ++i)
            recent.add(QStringLiteral("/nowhere/file%1.npy").arg(i));
        QCOMPARE(recent.files().size(), RecentFiles::maxCount);
        QCOMPARE(recent.files().first(), QStringLiteral("/nowhere/file11.npy"));
        recent.add(QStringLiteral("/nowhere/file5.npy"));
        QCOMPARE(recent.files().first(), QStringLiteral("/nowhere/file5.npy"));
        QCOMPARE(recent.files().count(QStringLiteral("/nowhere/file5.npy")), 1);

        MainWindow window(MainWindow::SettingsMode::Persistent);
        window.openFiles({m_checkpoint});
        QVERIFY(waitForFiles(window, 1));
        QCOMPARE(RecentFiles().files().first(), m_checkpoint);

        emit window.recentFilesMenu()->aboutToShow();
        QStringList labels;
        for (QAction* action : window.recentFilesMenu()->actions())
            labels << action->text();
        QVERIFY2(labels.first().contains(QStringLiteral("checkpoint.safetensors")),
            qPrintable(labels.join(QLatin1Char('|'))));
        QVERIFY(labels.contains(QStringLiteral("Clear Menu")));

        window.openRecentFile(QStringLiteral("/nowhere/file5.npy"));
        QVERIFY(!RecentFiles().files().contains(QStringLiteral("/nowhere/file5.npy")));
        QMessageBox* box = findMessageBox(window, QStringLiteral("informationMessageBox"));
        QVERIFY(box);
        QVERIFY(box->text().contains(QStringLiteral("file5.npy")));
        box->accept();
        QCOMPARE(window.controller()->openFiles().size(), std::size_t(1));
        RecentFiles().clear();
    }

    void settingsArePersisted()
    {
        QSettings().clear();
        {
            MainWindow window(MainWindow::SettingsMode::Persistent);
            window.resize(1100, 700);
            window.statisticsDock()->hide();
            window.show();
            QVERIFY(QTest::qWaitForWindowExposed(&window));
            window.close();
        }
        QSettings settings;
        QVERIFY(settings.contains(QStringLiteral("mainWindow/geometry")));
        QVERIFY(settings.contains(QStringLiteral("mainWindow/state")));
        MainWindow restored(MainWindow::SettingsMode::Persistent);
        QCOMPARE(restored.size(), QSize(1100, 700));
        QVERIFY(restored.statisticsDock()->isHidden());

        QSettings().clear();
        MainWindow fresh(MainWindow::SettingsMode::Ephemeral);
        QCOMPARE(fresh.size(), QSize(1600, 1000));
    }

    void cancelButtonStopsBackgroundWork()
    {
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        window.openFiles({m_checkpoint});
        QVERIFY(waitForAnalysis(window, QStringLiteral("model.layers.0.mlp.weight")));
        QTRY_VERIFY_WITH_TIMEOUT(window.isIdle(), 20000);
        QVERIFY(!window.activityIndicator()->isVisible());

        QSignalSpy ready(window.controller(), &SessionController::analysisReady);
        QVERIFY(window.selectTensorByName(QStringLiteral("big")).isEmpty());
        QVERIFY(window.activityIndicator()->isVisible());
        QVERIFY(window.activityIndicator()->text().contains(QStringLiteral("big")));
        QTest::mouseClick(window.activityIndicator()->cancelButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!window.controller()->isBusy(), 20000);
        QVERIFY(!window.activityIndicator()->isVisible());
        QCOMPARE(ready.count(), 0);
        // The previous analysis stays, and the tree points at it again.
        QCOMPARE(window.distributionView()->analysis()->info.name, std::string("model.layers.0.mlp.weight"));
        const TensorTreeModel* model = window.tensorBrowser()->model();
        const QModelIndex current = window.tensorBrowser()->proxyModel()->mapToSource(
            window.tensorBrowser()->treeView()->currentIndex());
        QCOMPARE(model->tensorAt(current).name, QStringLiteral("model.layers.0.mlp.weight"));
    }

    void closingFilesReturnsToWelcome()
    {
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.openFiles({m_checkpoint, m_second});
        QVERIFY(waitForFiles(window, 2));
        QVERIFY(waitForAnalysis(window, QStringLiteral("model.layers.0.mlp.weight")));
        window.closeFileAction()->trigger(); // the file of the shown tensor
        QCOMPARE(window.controller()->openFiles().size(), std::size_t(1));
        QCOMPARE(window.tensorBrowser()->model()->rowCount(), 1);
        QVERIFY(window.distributionView()->messageText().contains(QStringLiteral("Select a tensor")));
        window.closeFileAction()->trigger();
        QVERIFY(window.controller()->openFiles().empty());
        QVERIFY(window.distributionView()->messageText().contains(QStringLiteral("Open a tensor file")));
        QVERIFY(!window.closeFileAction()->isEnabled());
        QCOMPARE(window.windowTitle(), QStringLiteral("Quantscope"));
    }

    void filterBoxNarrowsTheTree()
    {
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.show();
        window.openFiles({m_checkpoint});
        QVERIFY(waitForFiles(window, 1));
        TensorBrowser* browser = window.tensorBrowser();
        QCOMPARE(browser->filterEdit()->placeholderText(), QStringLiteral("Filter tensors\u2026"));
        QTest::keyClicks(browser->filterEdit(), QStringLiteral("BIAS"));
        const QAbstractItemModel* proxy = browser->proxyModel();
        QModelIndex index = proxy->index(0, 0);
        QStringList path;
        while (proxy->rowCount(index) > 0) {
            QCOMPARE(proxy->rowCount(index), 1);
            index = proxy->index(0, 0, index);
            path << index.data().toString();
        }
        QCOMPARE(path,
            (QStringList {QStringLiteral("model"), QStringLiteral("layers"), QStringLiteral("0"),
                QStringLiteral("mlp.bias")}));
        browser->filterEdit()->clear();
        QCOMPARE(proxy->rowCount(proxy->index(0, 0)), 2); // "big" and "model"
    }

    void tabsExistAndFollowTheSelectedTensor()
    {
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QTabWidget* tabs = window.analysisTabs();
        QStringList names;
        for (int i = 0; i < tabs->count(); ++i)
            names << tabs->tabText(i);
        QCOMPARE(names,
            (QStringList {QStringLiteral("Distribution"), QStringLiteral("Calibration"),
                QStringLiteral("Compare"), QStringLiteral("Kernels")}));
        QVERIFY(window.showTab(QStringLiteral("bogus")).contains(QStringLiteral("calibration")));

        window.openFiles({m_checkpoint});
        QVERIFY(waitForAnalysis(window, QStringLiteral("model.layers.0.mlp.weight")));
        QTRY_VERIFY_WITH_TIMEOUT(window.distributionView()->quantization(), 20000);
        QVERIFY(window.distributionView()->quantizationText().contains(QStringLiteral("int8")));

        QSignalSpy compared(window.calibrationView(), &CalibrationView::comparisonShown);
        QVERIFY(window.showTab(QStringLiteral("calibration")).isEmpty());
        QVERIFY(compared.wait(20000));
        QVERIFY(!window.calibrationView()->comparison().rows.empty());

        QSignalSpy matrix(window.compareView(), &CompareView::matrixFinished);
        QVERIFY(window.showTab(QStringLiteral("Compare")).isEmpty());
        QVERIFY(matrix.wait(60000));
        QCOMPARE(matrix.at(0).at(0).toBool(), false);
        QVERIFY(window.compareView()->matrixModel()->rowCount() > 0);

        // Clicking a scheme in Compare sets the scheme dock, which re-quantizes the Distribution tab.
        SchemeSettings nf4;
        nf4.scheme.format = qs::formatByName("nf4");
        nf4.scheme.granularity = qs::Granularity::perGroup(128);
        emit window.compareView()->schemeChosen(nf4.scheme);
        QCOMPARE(window.schemePanel()->settings().scheme, nf4.scheme);
        QTRY_VERIFY_WITH_TIMEOUT(window.distributionView()->quantization()
                && window.distributionView()->quantization()->settings.scheme == nf4.scheme,
            20000);
        QTRY_VERIFY_WITH_TIMEOUT(window.isIdle(), 60000);
    }

    void useForThisTensorMarksTheTree()
    {
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QAbstractItemModelTester tester(window.tensorBrowser()->model());
        window.openFiles({m_checkpoint});
        QVERIFY(waitForAnalysis(window, QStringLiteral("model.layers.0.mlp.weight")));
        SchemeSettings int4;
        int4.scheme.format = qs::formatByName("int4");
        int4.scheme.granularity = qs::Granularity::perChannel(0);
        window.schemePanel()->setSettings(int4);
        QTRY_VERIFY_WITH_TIMEOUT(window.schemePanel()->useButton()->isEnabled()
                && window.controller()->currentQuantization()->settings == int4,
            20000);
        QTest::mouseClick(window.schemePanel()->useButton(), Qt::LeftButton);
        QCOMPARE(window.controller()->chosenSettings().size(), std::size_t(1));
        const int fileId = window.controller()->openFiles().front().id;
        const QModelIndex leaf = window.tensorBrowser()->model()->tensorIndex(
            TensorRef {fileId, QStringLiteral("model.layers.0.mlp.weight")});
        const QString chosen = leaf.siblingAtColumn(TensorTreeModel::ChosenColumn).data().toString();
        QVERIFY2(chosen.contains(QStringLiteral("int4 sym channel:0")), qPrintable(chosen));

        // Another tensor with another scheme; coming back restores int4 per channel in the dock.
        window.schemePanel()->setSettings(SchemeSettings {});
        QVERIFY(window.selectTensorByName(QStringLiteral("model.layers.0.mlp.bias")).isEmpty());
        QVERIFY(waitForAnalysis(window, QStringLiteral("model.layers.0.mlp.bias")));
        QVERIFY(window.selectTensorByName(QStringLiteral("model.layers.0.mlp.weight")).isEmpty());
        QVERIFY(waitForAnalysis(window, QStringLiteral("model.layers.0.mlp.weight")));
        QCOMPARE(window.schemePanel()->settings(), int4);
        QTRY_VERIFY_WITH_TIMEOUT(window.isIdle(), 20000);
    }

    void screenshotOfEveryTab()
    {
        const QString sample = QStringLiteral(QS_SAMPLES_DIR "/tiny_llm.safetensors");
        if (!QFileInfo::exists(sample))
            QSKIP("the sample checkpoint is not there");
        const QString tensor = QStringLiteral("model.layers.1.self_attn.o_proj.weight");
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.resize(1600, 1000);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        window.openFiles({sample});
        QVERIFY(waitForFiles(window, 1));
        SchemeSettings int4;
        int4.scheme.format = qs::formatByName("int4");
        window.schemePanel()->setSettings(int4);
        QVERIFY(window.selectTensorByName(tensor).isEmpty());
        QVERIFY(waitForAnalysis(window, tensor));
        for (const QString& tab : {QStringLiteral("distribution"), QStringLiteral("calibration"),
                 QStringLiteral("compare"), QStringLiteral("kernels")}) {
            QVERIFY(window.showTab(tab).isEmpty());
            QTRY_VERIFY_WITH_TIMEOUT(window.isIdle(), 120000);
            QTest::qWait(100);
            const QImage image = window.grab().toImage();
            const QString path = QDir(outputDirectory()).filePath(QStringLiteral("tab-%1.png").arg(tab));
            QVERIFY(image.save(path));
            QVERIFY(QFileInfo(path).size() > 10000);
        }
    }

    void screenshotOfTheMainWindow()
    {
        const QString sample = QStringLiteral(QS_SAMPLES_DIR "/tiny_llm.safetensors");
        const bool haveSample = QFileInfo::exists(sample);
        const QString file = haveSample ? sample : m_checkpoint;
        const QString tensor = haveSample ? QStringLiteral("model.layers.1.self_attn.o_proj.weight")
                                          : QStringLiteral("model.layers.0.mlp.weight");
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.resize(1500, 950);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        window.openFiles({file});
        QVERIFY(waitForFiles(window, 1));
        QVERIFY(window.selectTensorByName(tensor).isEmpty());
        QVERIFY(waitForAnalysis(window, tensor));
        QTest::qWait(100);
        const QImage image = window.grab().toImage();
        QCOMPARE(image.size(), QSize(1500, 950) * window.devicePixelRatio());
        const QString path = QDir(outputDirectory()).filePath(QStringLiteral("mainwindow.png"));
        QVERIFY(image.save(path));
        QVERIFY(QFileInfo(path).size() > 10000);
        // Not a blank grab: the plots put many distinct colours on screen.
        QSet<QRgb> colours;
        for (int y = 0; y < image.height(); y += 7)
            for (int x = 0; x < image.width(); x += 7)
                colours.insert(image.pixel(x, y));
        QVERIFY(colours.size() > 50);
    }

    void startupSequenceTakesAScreenshot()
    {
        const QString path = QDir(outputDirectory()).filePath(QStringLiteral("startup.png"));
        QFile::remove(path);
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.show();
        StartupOptions options;
        options.files = {m_checkpoint, m_second};
        options.tensorName = QStringLiteral("model.attn.probs");
        options.screenshotPath = path;
        StartupSequence startup(&window, options);
        QSignalSpy finished(&startup, &StartupSequence::finished);
        startup.start();
        QVERIFY(finished.wait(30000));
        QCOMPARE(finished.at(0).at(0).toInt(), 0);
        QVERIFY(QImage(path).width() > 0);
        QCOMPARE(window.distributionView()->analysis()->info.name, std::string("model.attn.probs"));
        QCOMPARE(window.controller()->openFiles().size(), std::size_t(2));
    }

    void startupSequenceFailures_data()
    {
        QTest::addColumn<bool>("badFile");
        QTest::addColumn<QString>("tensor");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("bad file") << true << QString() << QStringLiteral("junk.npy");
        QTest::newRow("unknown tensor")
            << false << QStringLiteral("no.such.tensor") << QStringLiteral("no.such.tensor");
        QTest::newRow("unloadable tensor")
            << false << QStringLiteral("block.scales") << QStringLiteral("F8_E8M0");
    }

    void startupSequenceFailures()
    {
        QFETCH(bool, badFile);
        QFETCH(QString, tensor);
        QFETCH(QString, mentions);
        const QString junk = m_dir.filePath(QStringLiteral("junk.npy"));
        QFile file(junk);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("\x93NUMPY garbage");
        file.close();

        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        StartupOptions options;
        options.files = {m_second};
        if (badFile)
            options.files << junk;
        options.tensorName = tensor;
        options.screenshotPath = m_dir.filePath(QStringLiteral("never.png"));
        StartupSequence startup(&window, options);
        QSignalSpy finished(&startup, &StartupSequence::finished);
        startup.start();
        QVERIFY(finished.count() == 1 || finished.wait(30000));
        QVERIFY(finished.at(0).at(0).toInt() != 0);
        const QString message = finished.at(0).at(1).toString();
        QVERIFY2(message.contains(mentions), qPrintable(message));
        QVERIFY(!QFileInfo::exists(options.screenshotPath));
    }

    void interactiveStartupReportsAnUnknownTensor()
    {
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.show();
        StartupOptions options;
        options.files = {m_second};
        options.tensorName = QStringLiteral("not.there");
        StartupSequence startup(&window, options);
        QSignalSpy finished(&startup, &StartupSequence::finished);
        startup.start();
        QTRY_VERIFY_WITH_TIMEOUT(findMessageBox(window, QStringLiteral("errorMessageBox")), 10000);
        QVERIFY(findMessageBox(window, QStringLiteral("errorMessageBox"))
                    ->text()
                    .contains(QStringLiteral("not.there")));
        QCOMPARE(finished.count(), 0); // the window stays open for the user
        QCOMPARE(window.controller()->openFiles().size(), std::size_t(1));
    }

    void aboutNamesTheLibraries()
    {
        const QString text = aboutText();
        for (const char* library : {"Qt 6", "QCustomPlot", "Eigen", "HDF5", "Google Highway", "nlohmann/json",
                 "CLI11", "libzip", "OpenSSL"})
            QVERIFY2(text.contains(QString::fromLatin1(library)), library);
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_gui_mainwindow.moc"
