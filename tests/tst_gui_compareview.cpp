// The Compare tab offscreen: cells equal compareSchemes', they arrive progressively, cancel leaves
// "cancelled" cells, clicks on a cell and on a Pareto point choose a scheme, the CSV, a screenshot.
#include "colourscalebar.h"
#include "comparematrixmodel.h"
#include "compareview.h"
#include "io/tensor_file.h"
#include "paretoplot.h"

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <cmath>
#include <random>

using namespace qs::gui;

namespace {

qs::Tensor normalTensor(qs::Shape shape, unsigned seed)
{
    qs::Tensor t {"normal", std::move(shape), {}};
    t.data.resize(static_cast<std::size_t>(qs::shapeElementCount(t.shape)));
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    for (float& v : t.data)
        v = normal(rng);
    t.data[3] = 11.0f;
    return t;
}

QString outputDirectory()
{
    QString directory = qEnvironmentVariable("QS_TEST_OUTPUT_DIR");
    if (directory.isEmpty())
        directory = QDir::temp().filePath(QStringLiteral("quantscope-test-output"));
    QDir().mkpath(directory);
    return directory;
}

const std::vector<std::string> kFormats {"int8", "int4", "fp8_e4m3", "nf4", "mxfp4"};
const std::vector<std::string> kGranularities {"tensor", "channel:0", "group:32", "native"};

} // namespace

class TestCompareView : public QObject {
    Q_OBJECT

private slots:
    void paretoFrontIsTheNonDominatedSet();
    void cellsEqualCompareSchemes();
    void metricAndColours();
    void cancelLeavesCancelledCells();
    void clicksChooseASchemeAndCsv();
    void screenshot();
};

void TestCompareView::paretoFrontIsTheNonDominatedSet()
{
    const std::vector<ParetoPoint> points {{0, 8, 1e-4, {}}, {1, 4, 1e-2, {}}, {2, 4.125, 1e-3, {}},
        {3, 8.25, 2e-4, {}}, {4, 2, NAN, {}}, {5, 4.125, 1e-3, {}}};
    const std::vector<std::size_t> front = paretoFront(points, false);
    QCOMPARE(front, (std::vector<std::size_t> {1, 2, 5, 0}));
    // With SQNR (higher is better) the same shape reads the other way up.
    const std::vector<ParetoPoint> sqnr {{0, 8, 40, {}}, {1, 4, 20, {}}, {2, 8, 30, {}}};
    QCOMPARE(paretoFront(sqnr, true), (std::vector<std::size_t> {1, 0}));
}

void TestCompareView::cellsEqualCompareSchemes()
{
    CompareView view;
    view.setFormats(kFormats, kGranularities);
    QAbstractItemModelTester tester(
        view.matrixModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy updated(&view, &CompareView::cellsUpdated);
    QSignalSpy finished(&view, &CompareView::matrixFinished);
    QSignalSpy activity(&view, &CompareView::activityChanged);
    const auto tensor = std::make_shared<const qs::Tensor>(normalTensor({64, 96}, 1));
    view.setInput(tensor, QStringLiteral("t"), qs::Scheme {}, {});
    QVERIFY(view.busy());
    QCOMPARE(view.matrixModel()->finishedCount(), 0);
    QCOMPARE(view.matrixModel()->index(0, 0).data().toString(), QStringLiteral("\u2026"));
    QVERIFY(finished.wait(30000));
    QCOMPARE(finished.first().at(0).toBool(), false);
    QVERIFY(!view.busy());
    QVERIFY(activity.last().at(0).toString().isEmpty());

    // Progressive: every update reports a count that only grows, ending at all cells.
    QVERIFY(!updated.isEmpty());
    int previous = 0;
    for (const QList<QVariant>& args : updated) {
        QVERIFY(args.at(0).toInt() >= previous);
        previous = args.at(0).toInt();
        QCOMPARE(args.at(1).toInt(), 20);
    }
    QCOMPARE(previous, 20);
    QCOMPARE(view.progressBar()->value(), 20);

    const std::vector<qs::CompareCell> expected
        = qs::compareSchemes(*tensor, kFormats, kGranularities, qs::Scheme {});
    QCOMPARE(view.matrixModel()->cellCount(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        QVERIFY(view.matrixModel()->cell(i).has_value());
        QVERIFY2(*view.matrixModel()->cell(i) == expected[i], expected[i].format.c_str());
    }
    const QModelIndex int8Channel = view.matrixModel()->index(0, 1);
    QCOMPARE(int8Channel.data(CompareMatrixModel::MetricRole).toDouble(), expected[1].report.sqnrDb);
    QCOMPARE(int8Channel.data().toString(), QString::number(expected[1].report.sqnrDb, 'f', 2));
    // A cell that does not apply says why in its tooltip.
    const QModelIndex int8Native = view.matrixModel()->index(0, 3);
    QCOMPARE(int8Native.data().toString(), QStringLiteral("\u2014"));
    QVERIFY(int8Native.data(Qt::ToolTipRole).toString().contains(QString::fromStdString(expected[3].error)));
    // The Pareto plot holds every cell that has a result.
    const auto ok = std::count_if(
        expected.begin(), expected.end(), [](const qs::CompareCell& c) { return c.error.empty(); });
    QCOMPARE(view.paretoPlot()->points().size(), static_cast<std::size_t>(ok));
    QVERIFY(!view.paretoPlot()->frontCells().empty());
}

void TestCompareView::metricAndColours()
{
    CompareView view;
    view.setFormats(kFormats, kGranularities);
    QSignalSpy finished(&view, &CompareView::matrixFinished);
    const auto tensor = std::make_shared<const qs::Tensor>(normalTensor({64, 96}, 2));
    view.setInput(tensor, QStringLiteral("t"), qs::Scheme {}, {});
    QVERIFY(finished.wait(30000));
    CompareMatrixModel* model = view.matrixModel();
    // SQNR: int8 per channel is better (greener) than int4 per tensor.
    const QColor good = model->index(0, 1).data(Qt::BackgroundRole).value<QColor>();
    const QColor bad = model->index(1, 0).data(Qt::BackgroundRole).value<QColor>();
    QVERIFY(good.green() > bad.green() || good.red() < bad.red());
    QCOMPARE(model->goodness(model->colourRange().second), 1.0);

    view.metricCombo()->setCurrentIndex(1);
    QCOMPARE(model->metric(), CompareMatrixModel::Metric::Mse);
    QCOMPARE(model->index(0, 1).data(CompareMatrixModel::MetricRole).toDouble(), model->cell(1)->report.mse);
    QCOMPARE(model->goodness(model->colourRange().first), 1.0);
    const auto* legend = view.findChild<ColourScaleBar*>();
    QVERIFY(legend);
    QVERIFY(legend->legendText().startsWith(QStringLiteral("MSE: ")));
    QVERIFY(legend->legendText().contains(QStringLiteral("log scale")));
    view.metricCombo()->setCurrentIndex(3);
    QCOMPARE(model->index(2, 0).data().toString(), QStringLiteral("8.005"));
}

void TestCompareView::cancelLeavesCancelledCells()
{
    CompareView view;
    QSignalSpy finished(&view, &CompareView::matrixFinished);
    const auto tensor = std::make_shared<const qs::Tensor>(normalTensor({1024, 1024}, 3));
    view.setInput(tensor, QStringLiteral("big"), qs::Scheme {}, {});
    view.cancel();
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.first().at(0).toBool(), true);
    int cancelled = 0;
    for (std::size_t i = 0; i < view.matrixModel()->cellCount(); ++i) {
        QVERIFY(view.matrixModel()->cell(i).has_value());
        cancelled += view.matrixModel()->cell(i)->error == "cancelled";
    }
    QVERIFY(cancelled > 0);
    const int columns = view.matrixModel()->columnCount();
    bool shown = false;
    for (int r = 0; r < view.matrixModel()->rowCount(); ++r)
        for (int c = 0; c < columns; ++c)
            shown = shown || view.matrixModel()->index(r, c).data().toString() == QStringLiteral("cancelled");
    QVERIFY(shown);
}

void TestCompareView::clicksChooseASchemeAndCsv()
{
    CompareView view;
    view.setFormats(kFormats, kGranularities);
    view.resize(1400, 900);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy finished(&view, &CompareView::matrixFinished);
    const auto tensor = std::make_shared<const qs::Tensor>(normalTensor({64, 96}, 4));
    view.setInput(tensor, QStringLiteral("t"), qs::Scheme {}, {});
    QVERIFY(finished.wait(30000));

    std::vector<qs::Scheme> chosen;
    connect(&view, &CompareView::schemeChosen, this, [&](const qs::Scheme& s) { chosen.push_back(s); });
    QSignalSpy spy(&view, &CompareView::schemeChosen);
    // int4 × group:32
    QTableView* table = view.tableView();
    const QRect cell = table->visualRect(view.matrixModel()->index(1, 2));
    QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, cell.center());
    QCOMPARE(spy.size(), 1);
    QVERIFY(chosen.back() == view.matrixModel()->cell(6)->scheme);
    QCOMPARE(chosen.back().granularity, qs::Granularity::perGroup(32));
    // A cell without a result chooses nothing.
    QTest::mouseClick(
        table->viewport(), Qt::LeftButton, {}, table->visualRect(view.matrixModel()->index(0, 3)).center());
    QCOMPARE(spy.size(), 1);

    // A click on a Pareto point chooses that point's scheme.
    ParetoPlot* plot = view.paretoPlot();
    plot->replot();
    const ParetoPoint& point = plot->points().front();
    const QPoint at(static_cast<int>(std::lround(plot->xAxis->coordToPixel(point.bitsPerValue))),
        static_cast<int>(std::lround(plot->yAxis->coordToPixel(point.error))));
    QTest::mouseClick(plot, Qt::LeftButton, {}, at);
    QCOMPARE(spy.size(), 2);
    QVERIFY(chosen.back() == view.matrixModel()->cell(static_cast<std::size_t>(point.cellIndex))->scheme);

    // CSV: a header and one line per cell, numbers in full precision, written atomically.
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("compare.csv"));
    QCOMPARE(view.exportCsv(path), QString());
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(file.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 21);
    QCOMPARE(lines.front(),
        QStringLiteral("format,granularity,scheme,mse,rmse,sqnr_db,max_abs_error,mean_abs_error,"
                       "bits_per_value,error"));
    const qs::CompareCell& int8Tensor = *view.matrixModel()->cell(0);
    const QStringList fields = lines[1].split(QLatin1Char(','));
    QCOMPARE(fields[0], QStringLiteral("int8"));
    QCOMPARE(fields[1], QStringLiteral("tensor"));
    QCOMPARE(fields[3].toDouble(), int8Tensor.report.mse);
    QCOMPARE(fields[5].toDouble(), int8Tensor.report.sqnrDb);
    QVERIFY(lines[4].startsWith(QStringLiteral("int8,native,,,,,,,,")));
    QVERIFY(!view.exportCsv(dir.filePath(QStringLiteral("missing/compare.csv"))).isEmpty());
}

void TestCompareView::screenshot()
{
    const auto file = qs::TensorFile::open(QS_SAMPLES_DIR "/tiny_llm.safetensors");
    const auto tensor
        = std::make_shared<const qs::Tensor>(file->load("model.layers.0.self_attn.o_proj.weight"));
    CompareView view;
    view.resize(1600, 1000);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy finished(&view, &CompareView::matrixFinished);
    view.setInput(tensor, QStringLiteral("model.layers.0.self_attn.o_proj.weight"), qs::Scheme {}, {});
    QVERIFY(finished.wait(120000));
    const QString path = QDir(outputDirectory()).filePath(QStringLiteral("compare-view.png"));
    QVERIFY(view.grab().save(path));
    QVERIFY(QFileInfo(path).size() > 10000);
}

QTEST_MAIN(TestCompareView)
#include "tst_gui_compareview.moc"
