// The Kernels tab offscreen: two kernels on a small synthetic tensor on every available backend, the bar
// chart and its baseline, the table and its CSV, cancel, a screenshot.
#include "kernelbarchart.h"
#include "kernelresultsmodel.h"
#include "kernelsview.h"

#include <QAbstractItemModelTester>
#include <QDir>
#include <QFile>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

using namespace qs::gui;

namespace {

QString outputDirectory()
{
    QString directory = qEnvironmentVariable("QS_TEST_OUTPUT_DIR");
    if (directory.isEmpty())
        directory = QDir::temp().filePath(QStringLiteral("quantscope-test-output"));
    QDir().mkpath(directory);
    return directory;
}

QStringList availableBackends()
{
    QStringList names;
    for (qs::Backend backend : qs::allBackends())
        if (qs::backendAvailable(backend))
            names.push_back(QString::fromStdString(qs::backendName(backend)));
    return names;
}

} // namespace

class TestKernelsView : public QObject {
    Q_OBJECT

private slots:
    void listsKernelsAndBackends();
    void runsTwoKernels();
    void cancelStopsTheRun();
    void screenshot();
};

void TestKernelsView::listsKernelsAndBackends()
{
    KernelsView view;
    QVERIFY(!view.selectedKernels().isEmpty());
    QCOMPARE(view.selectedBackends(), availableBackends());
    view.setSelectedKernels({QStringLiteral("minmax"), QStringLiteral("no_such_kernel")});
    QCOMPARE(view.selectedKernels(), QStringList {QStringLiteral("minmax")});
    // Unavailable backends cannot be chosen.
    view.setSelectedBackends({QStringLiteral("scalar"), QStringLiteral("simd"), QStringLiteral("cuda")});
    QCOMPARE(view.selectedBackends(), availableBackends());

    QSignalSpy errors(&view, &KernelsView::errorOccurred);
    view.setSelectedKernels({});
    view.run();
    QCOMPARE(errors.size(), 1);
    QVERIFY(!view.busy());
}

void TestKernelsView::runsTwoKernels()
{
    KernelsView view;
    QAbstractItemModelTester tester(
        view.resultsModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    view.setSelectedKernels({QStringLiteral("minmax"), QStringLiteral("fq_int8_channel")});
    view.setSelectedBackends(availableBackends());
    view.setSynthetic(true, 64 * 4096);
    view.setRepeats(3);
    QSignalSpy added(&view, &KernelsView::resultAdded);
    QSignalSpy finished(&view, &KernelsView::runFinished);
    QSignalSpy activity(&view, &KernelsView::activityChanged);
    view.runButton()->click();
    QVERIFY(view.busy());
    QVERIFY(!view.runButton()->isEnabled());
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.first().at(0).toBool(), false);
    QVERIFY(activity.last().at(0).toString().isEmpty());

    const int backends = static_cast<int>(availableBackends().size());
    QCOMPARE(view.resultsModel()->rowCount(), 2 * backends);
    QCOMPARE(added.size(), 2 * backends);
    for (const qs::BenchResult& r : view.resultsModel()->results()) {
        QVERIFY2(!r.skipped, r.skipReason.c_str());
        QVERIFY(r.gbps > 0);
        QCOMPARE(r.elements, 64 * 4096);
        QVERIFY(r.checked);
        QVERIFY(r.matchesScalar);
    }
    QCOMPARE(view.resultsModel()->index(0, KernelResultsModel::KernelColumn).data().toString(),
        QStringLiteral("minmax"));
    QCOMPARE(view.resultsModel()->index(0, KernelResultsModel::MatchesColumn).data().toString(),
        QStringLiteral("yes"));
    QVERIFY(view.resultsModel()
                ->index(0, KernelResultsModel::GbpsColumn)
                .data(KernelResultsModel::ValueRole)
                .toDouble()
        > 0);

    // The chart: one bar per kernel for every backend, the baseline as a line.
    QCOMPARE(view.barChart()->kernelLabels(),
        (QStringList {QStringLiteral("minmax"), QStringLiteral("fq_int8_channel")}));
    for (const QString& backend : availableBackends())
        QCOMPARE(view.barChart()->barCount(backend), 2);
    QVERIFY(view.barChart()->cpuBaseline() > 0);

    // CSV of the table.
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("kernels.csv"));
    QCOMPARE(view.exportCsv(path), QString());
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(file.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 1 + 2 * backends);
    QCOMPARE(lines.front(),
        QStringLiteral("kernel,backend,target,elements,threads,median_ms,gbps,fraction_of_baseline,"
                       "matches_scalar,skipped,bytes,input_gbps"));
    const QStringList fields = lines[1].split(QLatin1Char(','));
    QCOMPARE(fields[0], QStringLiteral("minmax"));
    QCOMPARE(fields[3], QStringLiteral("262144"));
    QCOMPARE(fields[6].toDouble(), view.resultsModel()->results().front().gbps);
    QCOMPARE(fields[8], QStringLiteral("true"));
    QCOMPARE(fields[10], QStringLiteral("1048576")); // minmax reads the 262144 floats once
}

void TestKernelsView::cancelStopsTheRun()
{
    KernelsView view;
    view.setSelectedKernels({QStringLiteral("minmax"), QStringLiteral("histogram"),
        QStringLiteral("fq_int8_tensor"), QStringLiteral("fq_nf4_group64")});
    view.setSynthetic(true, 64 * 4096);
    view.setRepeats(3);
    QSignalSpy finished(&view, &KernelsView::runFinished);
    view.run();
    QVERIFY(view.busy());
    view.cancel();
    QCOMPARE(finished.size(), 1);
    QCOMPARE(finished.first().at(0).toBool(), true);
    QVERIFY(!view.busy());
    QVERIFY(view.runButton()->isEnabled());
    // Nothing of the cancelled run arrives later.
    QTest::qWait(1500);
    QCOMPARE(view.resultsModel()->rowCount(), 0);

    // A new run after a cancel works.
    view.setSelectedKernels({QStringLiteral("minmax")});
    view.run();
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.last().at(0).toBool(), false);
    QCOMPARE(view.resultsModel()->rowCount(), static_cast<int>(availableBackends().size()));
}

void TestKernelsView::screenshot()
{
    KernelsView view;
    view.resize(1600, 1000);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    auto tensor = std::make_shared<const qs::Tensor>(qs::syntheticBenchTensor(1024 * 4096));
    view.setInput(tensor, QStringLiteral("synthetic [1024, 4096]"), {}, {});
    view.setSynthetic(false, 0);
    view.setSelectedKernels({QStringLiteral("minmax"), QStringLiteral("histogram_abs"),
        QStringLiteral("fq_int8_channel"), QStringLiteral("fq_int4_group128"),
        QStringLiteral("fq_nf4_group64"), QStringLiteral("unpack_nf4")});
    view.setRepeats(3);
    QSignalSpy finished(&view, &KernelsView::runFinished);
    view.run();
    QVERIFY(finished.wait(120000));
    // The kernel names are whole in their column as soon as the rows arrive.
    const auto* table = view.findChild<QTableView*>(QStringLiteral("kernelTable"));
    QVERIFY(table);
    QVERIFY(
        table->columnWidth(0) > table->fontMetrics().horizontalAdvance(QStringLiteral("fq_int4_group128")));
    const QString path = QDir(outputDirectory()).filePath(QStringLiteral("kernels-view.png"));
    QVERIFY(view.grab().save(path));
    QVERIFY(QFileInfo(path).size() > 10000);
}

QTEST_MAIN(TestKernelsView)
#include "tst_gui_kernelsview.moc"
