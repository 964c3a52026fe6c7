// The Calibration tab offscreen: every method side by side on a small known tensor, the objective curve
// and its minimum, dragging the threshold, "Use this", per-channel summaries, cancel, a screenshot.
#include "base/error.h"
#include "calibrationcomparison.h"
#include "calibrationtablemodel.h"
#include "calibrationview.h"
#include "io/tensor_file.h"
#include "objectivecurveplot.h"
#include "plotpanel.h"
#include "quant/quantizer.h"

#include <QAbstractItemModelTester>
#include <QDir>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableView>
#include <QTest>
#include <algorithm>
#include <cmath>
#include <random>

using namespace qs::gui;

namespace {

/// 64 × 32 normal values with one outlier (absmax 9.5 at a known place).
qs::Tensor knownTensor()
{
    qs::Tensor t;
    t.name = "known";
    t.shape = {64, 32};
    t.data.resize(64 * 32);
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    for (float& v : t.data)
        v = normal(rng);
    t.data[100] = -9.5f;
    return t;
}

int rowOf(const CalibrationComparison& comparison, qs::CalibrationMethod method, qs::Compatibility compat)
{
    for (std::size_t i = 0; i < comparison.rows.size(); ++i)
        if (comparison.rows[i].options.method == method && comparison.rows[i].options.compat == compat
            && !comparison.rows[i].options.mseSweep)
            return static_cast<int>(i);
    return -1;
}

QString outputDirectory()
{
    QString directory = qEnvironmentVariable("QS_TEST_OUTPUT_DIR");
    if (directory.isEmpty())
        directory = QDir::temp().filePath(QStringLiteral("quantscope-test-output"));
    QDir().mkpath(directory);
    return directory;
}

void sendMouse(QWidget* widget, QEvent::Type type, QPoint position, Qt::MouseButtons buttons)
{
    QMouseEvent event(type, QPointF(position), widget->mapToGlobal(QPointF(position)), Qt::LeftButton,
        buttons, Qt::NoModifier);
    QCoreApplication::sendEvent(widget, &event);
}

} // namespace

class TestCalibrationView : public QObject {
    Q_OBJECT

private slots:
    void candidatesFollowTheScheme();
    void tableHoldsEveryMethod();
    void curveMarksItsMinimumAndDragEvaluates();
    void useThisEmitsTheSelectedRow();
    void perChannelShowsSummaries();
    void unsupportedSchemeSaysWhy();
    void cancelMidRun();
    void screenshot();
};

void TestCalibrationView::candidatesFollowTheScheme()
{
    qs::Scheme scheme;
    const auto one = calibrationCandidates(scheme, {}, 1);
    const auto four = calibrationCandidates(scheme, {}, 4);
    QCOMPARE(four.size(), one.size() + 2);
    QVERIFY(std::any_of(one.begin(), one.end(), [](const qs::CalibrationOptions& o) {
        return o.method == qs::CalibrationMethod::HistogramObserver;
    }));
    QVERIFY(std::none_of(one.begin(), one.end(),
        [](const qs::CalibrationOptions& o) { return o.method == qs::CalibrationMethod::MovingAverage; }));
    scheme.granularity = qs::Granularity::perChannel(0);
    const auto channel = calibrationCandidates(scheme, {}, 1);
    QVERIFY(std::none_of(channel.begin(), channel.end(), [](const qs::CalibrationOptions& o) {
        return o.method == qs::CalibrationMethod::HistogramObserver;
    }));
    scheme.blockFormat = qs::BlockFormat::MXFP4;
    QVERIFY(calibrationCandidates(scheme, {}, 1).empty());
    QVERIFY(QString::fromStdString(calibrationUnsupportedReason(scheme)).contains(QStringLiteral("mxfp4")));

    const qs::Tensor t = knownTensor();
    QCOMPARE(splitIntoBatches(t, 4).size(), std::size_t {4});
    QCOMPARE(splitIntoBatches(t, 4)[1].data.front(), t.data[16 * 32]);
    try {
        splitIntoBatches(t, 5);
        QFAIL("64 rows do not split into 5 batches");
    } catch (const qs::Error& e) {
        QCOMPARE(QString::fromUtf8(e.what()),
            QStringLiteral("axis 0 of [64, 32] (64) does not split into 5 equal batches"));
    }
}

void TestCalibrationView::tableHoldsEveryMethod()
{
    CalibrationView view;
    QAbstractItemModelTester tester(
        view.tableModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy shown(&view, &CalibrationView::comparisonShown);
    QSignalSpy activity(&view, &CalibrationView::activityChanged);
    const auto tensor = std::make_shared<const qs::Tensor>(knownTensor());
    qs::CalibrationOptions options;
    options.method = qs::CalibrationMethod::Percentile;
    options.percentile = 99.9;
    view.setInput(tensor, QStringLiteral("known"), qs::Scheme {}, options);
    QVERIFY(view.busy());
    QVERIFY(shown.wait(20000));
    QVERIFY(!view.busy());
    QVERIFY(!activity.isEmpty());
    QVERIFY(activity.last().at(0).toString().isEmpty());

    const CalibrationComparison& c = view.comparison();
    QCOMPARE(view.tableModel()->rowCount(), static_cast<int>(c.rows.size()));
    QCOMPARE(c.rows.size(), calibrationCandidates(qs::Scheme {}, options, 1).size());

    const int minmax = rowOf(c, qs::CalibrationMethod::MinMax, qs::Compatibility::Native);
    QVERIFY(minmax >= 0);
    QCOMPARE(largestAmax(c.rows[static_cast<std::size_t>(minmax)].result.ranges), 9.5);
    QCOMPARE(view.tableModel()
                 ->index(minmax, CalibrationTableModel::RangeColumn)
                 .data(CalibrationTableModel::SortRole)
                 .toDouble(),
        9.5);

    // The percentile row is exactly what calibrate() gives directly, and it is preselected.
    const int percentile = rowOf(c, qs::CalibrationMethod::Percentile, qs::Compatibility::Native);
    QVERIFY(percentile >= 0);
    QCOMPARE(view.selectedRow(), percentile);
    const qs::CalibrationResult direct
        = qs::calibrate({*tensor}, qs::Scheme {}, c.rows[static_cast<std::size_t>(percentile)].options);
    QVERIFY(c.rows[static_cast<std::size_t>(percentile)].result == direct);
    QCOMPARE(view.tableModel()
                 ->index(percentile, CalibrationTableModel::MseColumn)
                 .data(CalibrationTableModel::SortRole)
                 .toDouble(),
        direct.report.mse);
    QVERIFY(view.curvePanel()->message().contains(QStringLiteral("no objective curve")));

    // Every row either has a result or says why not; the display of a per-tensor row names its amax.
    for (const CalibrationRow& row : c.rows)
        QVERIFY2(row.error.empty(), row.error.c_str());
    QVERIFY(view.tableModel()->index(minmax, CalibrationTableModel::MethodColumn).data().toString()
        == QStringLiteral("minmax"));

    // Sorting by SQNR puts the best row first.
    view.tableView()->sortByColumn(CalibrationTableModel::SqnrColumn, Qt::DescendingOrder);
    const double top = view.tableView()
                           ->model()
                           ->index(0, CalibrationTableModel::SqnrColumn)
                           .data(CalibrationTableModel::SortRole)
                           .toDouble();
    for (const CalibrationRow& row : c.rows)
        QVERIFY(row.result.report.sqnrDb <= top);

    // The CSV holds a header and every row; the percentile row's MSE in full precision.
    const QStringList lines = view.csvText().split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), view.tableModel()->rowCount() + 1);
    QVERIFY(lines.front().startsWith(QStringLiteral("Method,")));
    const QStringList percentileFields = lines[percentile + 1].split(QLatin1Char(','));
    QCOMPARE(percentileFields.at(CalibrationTableModel::MethodColumn), QStringLiteral("percentile 99.9"));
    QCOMPARE(percentileFields.at(CalibrationTableModel::MseColumn).toDouble(), direct.report.mse);
}

void TestCalibrationView::curveMarksItsMinimumAndDragEvaluates()
{
    CalibrationView view;
    view.resize(1200, 800);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy shown(&view, &CalibrationView::comparisonShown);
    const auto tensor = std::make_shared<const qs::Tensor>(knownTensor());
    qs::CalibrationOptions options;
    options.method = qs::CalibrationMethod::Entropy;
    view.setInput(tensor, QStringLiteral("known"), qs::Scheme {}, options);
    QVERIFY(shown.wait(20000));
    const int entropy = rowOf(view.comparison(), qs::CalibrationMethod::Entropy, qs::Compatibility::Native);
    QCOMPARE(view.selectedRow(), entropy);
    QVERIFY(view.curvePanel()->isShowingPlot());

    const qs::ObjectiveCurve& curve
        = view.comparison().rows[static_cast<std::size_t>(entropy)].result.curves.front();
    QCOMPARE(view.curvePlot()->curve(), curve);
    double minimum = INFINITY;
    std::size_t at = 0;
    for (std::size_t i = 0; i < curve.value.size(); ++i)
        if (curve.value[i] < minimum) {
            minimum = curve.value[i];
            at = i;
        }
    QCOMPARE(view.curvePlot()->markedMinimum().y(), minimum);
    QCOMPARE(view.curvePlot()->markedMinimum().x(), curve.threshold[at]);
    QVERIFY(view.curvePlot()->pointCount() > 10);

    // Drag the choice line to the right: the view reports the threshold and evaluates its error.
    ObjectiveCurvePlot* plot = view.curvePlot();
    plot->replot();
    const QRect rect = plot->axisRect()->rect();
    const int lineX = static_cast<int>(std::lround(plot->xAxis->coordToPixel(plot->choice())));
    const int y = rect.center().y();
    QSignalSpy manual(&view, &CalibrationView::manualThresholdChanged);
    QSignalSpy evaluated(&view, &CalibrationView::thresholdEvaluated);
    sendMouse(plot, QEvent::MouseButtonPress, {lineX, y}, Qt::LeftButton);
    sendMouse(plot, QEvent::MouseMove, {lineX + 40, y}, Qt::LeftButton);
    sendMouse(plot, QEvent::MouseButtonRelease, {lineX + 40, y}, Qt::NoButton);
    QCOMPARE(manual.size(), 1);
    const double amax = manual.first().at(0).toDouble();
    QVERIFY(std::abs(amax - plot->xAxis->pixelToCoord(lineX + 40)) < 1e-9);
    QVERIFY(evaluated.wait(10000));
    QCOMPARE(evaluated.last().at(0).toDouble(), amax);

    // The fused evaluation agrees with the reference fake-quantizer on the same range.
    const qs::ErrorReport report = evaluated.last().at(1).value<qs::ErrorReport>();
    const qs::QuantizedTensor q
        = qs::quantize(*tensor, qs::Scheme {}, std::vector<qs::GroupRange> {{-amax, amax}});
    const qs::ErrorReport reference
        = qs::computeErrorReport(tensor->values(), qs::dequantize(q).values(), q.clippedCount);
    QCOMPARE(report.count, reference.count);
    QCOMPARE(report.clippedShare, reference.clippedShare);
    // The fused kernels sum float runs (kernels.h): equal up to float rounding.
    QCOMPARE(float(report.maxAbsError), float(reference.maxAbsError));
    QVERIFY(std::abs(report.mse - reference.mse) <= 1e-5 * reference.mse);
}

void TestCalibrationView::useThisEmitsTheSelectedRow()
{
    CalibrationView view;
    QSignalSpy shown(&view, &CalibrationView::comparisonShown);
    const auto tensor = std::make_shared<const qs::Tensor>(knownTensor());
    qs::Scheme scheme;
    scheme.rangeMode = qs::RangeMode::Affine;
    view.setInput(tensor, QStringLiteral("known"), scheme, {});
    QVERIFY(shown.wait(20000));
    const int mse = rowOf(view.comparison(), qs::CalibrationMethod::Mse, qs::Compatibility::Native);
    QVERIFY(mse >= 0);
    view.selectRow(mse);
    QCOMPARE(view.selectedRow(), mse);
    QVERIFY(view.useButton()->isEnabled());

    std::vector<std::tuple<qs::Scheme, qs::CalibrationOptions, qs::CalibrationResult>> chosen;
    connect(&view, &CalibrationView::chosen, this,
        [&](const qs::Scheme& s, const qs::CalibrationOptions& o, const qs::CalibrationResult& r) {
            chosen.emplace_back(s, o, r);
        });
    QSignalSpy spy(&view, &CalibrationView::chosen);
    QTest::mouseClick(view.useButton(), Qt::LeftButton);
    QCOMPARE(spy.size(), 1);
    QCOMPARE(chosen.size(), std::size_t {1});
    const CalibrationRow& row = view.comparison().rows[static_cast<std::size_t>(mse)];
    QVERIFY(std::get<0>(chosen.front()) == scheme);
    QVERIFY(std::get<1>(chosen.front()) == row.options);
    QVERIFY(std::get<2>(chosen.front()) == row.result);
    QVERIFY(!row.result.zeroPoints.empty());
}

void TestCalibrationView::perChannelShowsSummaries()
{
    CalibrationView view;
    QAbstractItemModelTester tester(
        view.tableModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy shown(&view, &CalibrationView::comparisonShown);
    const auto tensor = std::make_shared<const qs::Tensor>(knownTensor());
    qs::Scheme scheme;
    scheme.granularity = qs::Granularity::perChannel(0);
    qs::CalibrationOptions options;
    options.method = qs::CalibrationMethod::Entropy;
    view.setInput(tensor, QStringLiteral("known"), scheme, options);
    QVERIFY(shown.wait(30000));
    const int minmax = rowOf(view.comparison(), qs::CalibrationMethod::MinMax, qs::Compatibility::Native);
    const QString range
        = view.tableModel()->index(minmax, CalibrationTableModel::RangeColumn).data().toString();
    QVERIFY2(range.startsWith(QStringLiteral("per channel (64), max amax 9.5")), qPrintable(range));
    QVERIFY(view.curvePanel()->message().contains(QStringLiteral("64 groups")));
}

void TestCalibrationView::unsupportedSchemeSaysWhy()
{
    CalibrationView view;
    QSignalSpy shown(&view, &CalibrationView::comparisonShown);
    qs::Scheme scheme;
    scheme.blockFormat = qs::BlockFormat::NVFP4;
    view.setInput(std::make_shared<const qs::Tensor>(knownTensor()), QStringLiteral("known"), scheme, {});
    QVERIFY(shown.wait(10000));
    QVERIFY(view.comparison().rows.empty());
    QVERIFY(view.messageText().contains(QStringLiteral("nvfp4")));
    QVERIFY(!view.useButton()->isEnabled());

    view.setInput(nullptr, {}, {}, {});
    QVERIFY(view.messageText().contains(QStringLiteral("Select a tensor")));
}

void TestCalibrationView::cancelMidRun()
{
    CalibrationView view;
    QSignalSpy shown(&view, &CalibrationView::comparisonShown);
    QSignalSpy activity(&view, &CalibrationView::activityChanged);
    qs::Tensor big = knownTensor();
    big.shape = {1024, 512};
    big.data.resize(1024 * 512);
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    for (float& v : big.data)
        v = normal(rng);
    view.setInput(
        std::make_shared<const qs::Tensor>(std::move(big)), QStringLiteral("big"), qs::Scheme {}, {});
    QVERIFY(view.busy());
    view.cancel();
    QVERIFY(view.messageText().contains(QStringLiteral("cancelled")));
    QTRY_VERIFY_WITH_TIMEOUT(!view.busy(), 30000);
    QCOMPARE(shown.size(), 0);
    QVERIFY(activity.last().at(0).toString().isEmpty());
}

void TestCalibrationView::screenshot()
{
    const auto file = qs::TensorFile::open(QS_SAMPLES_DIR "/llm_activations.npy");
    const auto tensor = std::make_shared<const qs::Tensor>(file->load(file->tensors().front().name));
    CalibrationView view;
    view.resize(1600, 1000);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy shown(&view, &CalibrationView::comparisonShown);
    qs::CalibrationOptions options;
    options.method = qs::CalibrationMethod::Entropy;
    view.setInput(tensor, QStringLiteral("llm_activations"), qs::Scheme {}, options);
    QVERIFY(shown.wait(60000));
    QVERIFY(view.curvePanel()->isShowingPlot());
    const QString path = QDir(outputDirectory()).filePath(QStringLiteral("calibration-view.png"));
    QVERIFY(view.grab().save(path));
    QVERIFY(QFileInfo(path).size() > 10000);
}

QTEST_MAIN(TestCalibrationView)
#include "tst_gui_calibrationview.moc"
