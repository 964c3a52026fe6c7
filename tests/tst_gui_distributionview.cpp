// The Distribution tab in a real main window, offscreen: plot toggles, clicking channel bars and outlier
// rows, the channel axis, the heat map and its explanation for other ranks, hover read-outs, exports.
#include "calib/histogram.h"
#include "channelprofileplot.h"
#include "distributionview.h"
#include "heatmapplot.h"
#include "histogramplot.h"
#include "io/writers.h"
#include "mainwindow.h"
#include "metrics/error_report.h"
#include "outlierchannelmodel.h"
#include "plotexport.h"
#include "plotpanel.h"
#include "quant/quantizer.h"
#include "quantizationanalysis.h"
#include "schemepanel.h"
#include "sessioncontroller.h"
#include "statisticspanel.h"
#include "tensor/stats.h"
#include "tensoranalysis.h"

#include <QAbstractItemModelTester>
#include <QAction>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QThreadPool>
#include <random>

using namespace qs::gui;

namespace {

qs::Tensor randomTensor(const std::string& name, qs::Shape shape, unsigned seed)
{
    qs::Tensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.data.resize(static_cast<std::size_t>(qs::shapeElementCount(t.shape)));
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    for (float& v : t.data)
        v = normal(rng);
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

void sendMouse(QWidget* widget, QEvent::Type type, QPoint position, Qt::MouseButton button)
{
    const Qt::MouseButtons buttons = type == QEvent::MouseButtonRelease || type == QEvent::MouseMove
        ? Qt::MouseButtons(Qt::NoButton)
        : Qt::MouseButtons(button);
    QMouseEvent event(
        type, QPointF(position), widget->mapToGlobal(QPointF(position)), button, buttons, Qt::NoModifier);
    QCoreApplication::sendEvent(widget, &event);
}

void click(QWidget* widget, QPoint position)
{
    sendMouse(widget, QEvent::MouseButtonPress, position, Qt::LeftButton);
    sendMouse(widget, QEvent::MouseButtonRelease, position, Qt::LeftButton);
}

} // namespace

class TestDistributionView : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_path;
    std::unique_ptr<MainWindow> m_window;
    qs::Tensor m_matrix; ///< [40, 30], channel 17 along axis 0 and column 4 along axis 1 are outliers

    DistributionView* view() const { return m_window->distributionView(); }

    bool show(const QString& name)
    {
        if (!m_window->selectTensorByName(name).isEmpty())
            return false;
        for (int i = 0; i < 200; ++i) {
            const AnalysisPtr a = view()->analysis();
            if (a && QString::fromStdString(a->info.name) == name && !m_window->controller()->isBusy())
                return true;
            QTest::qWait(50);
        }
        return false;
    }

    static QPoint pixelOf(QCustomPlot* plot, double key, double value)
    {
        return QPoint(qRound(plot->xAxis->coordToPixel(key)), qRound(plot->yAxis->coordToPixel(value)));
    }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("QuantscopeTests"));
        QCoreApplication::setApplicationName(QStringLiteral("tst_gui_distributionview"));
        QVERIFY(m_dir.isValid());
        m_matrix = randomTensor("matrix", {40, 30}, 5);
        for (int col = 0; col < 30; ++col)
            m_matrix.data[17 * 30 + col] *= 30.0f;
        for (int row = 0; row < 40; ++row)
            m_matrix.data[row * 30 + 4] *= 8.0f;
        m_path = m_dir.filePath(QStringLiteral("views.safetensors"));
        qs::writeSafetensors(m_path.toStdString(),
            {qs::toRawTensor(m_matrix, qs::DType::F32),
                qs::toRawTensor(randomTensor("cube", {3, 4, 5}, 6), qs::DType::F32),
                qs::toRawTensor(randomTensor("vector", {12}, 7), qs::DType::F32),
                qs::toRawTensor(randomTensor("scalar", {}, 8), qs::DType::F32),
                qs::toRawTensor(randomTensor("wide", {8, 3000}, 9), qs::DType::F32)});

        m_window = std::make_unique<MainWindow>(MainWindow::SettingsMode::Ephemeral);
        m_window->resize(1500, 950);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        m_window->openFiles({m_path});
        QTRY_COMPARE_WITH_TIMEOUT(m_window->controller()->openFiles().size(), std::size_t(1), 10000);
        QVERIFY(show(QStringLiteral("matrix")));
    }

    void cleanupTestCase()
    {
        m_window.reset();
        QThreadPool::globalInstance()->waitForDone();
    }

    void init()
    {
        QVERIFY(show(QStringLiteral("matrix")));
        view()->axisSpinBox()->setValue(0);
        QTRY_COMPARE(view()->analysis()->channels->axis, 0);
        QTRY_VERIFY(!m_window->controller()->isBusy());
    }

    void plotsShowTheMatrix()
    {
        QVERIFY(view()->histogramPanel()->isShowingPlot());
        QVERIFY(view()->heatMapPanel()->isShowingPlot());
        QVERIFY(view()->channelProfilePanel()->isShowingPlot());
        QVERIFY(view()->channelHistogramPanel()->isShowingPlot());
        QCOMPARE(view()->histogramPlot()->xAxis->label(), QStringLiteral("value (tensor units)"));
        QCOMPARE(view()->histogramPlot()->yAxis->label(), QStringLiteral("count"));
        QCOMPARE(view()->channelProfilePlot()->yAxis->label(), QStringLiteral("absmax"));
        QCOMPARE(view()->channelProfilePlot()->xAxis->label(), QStringLiteral("channel (axis 0)"));
        QCOMPARE(view()->channelProfilePlot()->channelCount(), 40);
        QVERIFY(view()->channelProfilePlot()->outlierBarCount() >= 1);

        HeatMapPlot* heat = view()->heatMapPlot();
        QCOMPARE(heat->colorMap()->data()->keySize(), 30);
        QCOMPARE(heat->colorMap()->data()->valueSize(), 40);
        QCOMPARE(heat->colorMap()->data()->cell(4, 17),
            static_cast<double>(std::fabs(m_matrix.data[17 * 30 + 4])));

        // The first channel histogram shown is the top outlier's.
        QCOMPARE(view()->analysis()->outliers.front().channel, std::int64_t(17));
        QVERIFY(
            view()->channelHistogramPlot()->title().startsWith(QStringLiteral("Channel 17 along axis 0")));
        QCOMPARE(view()->channelProfilePlot()->selectedChannel(), std::int64_t(17));
        const QModelIndexList selected
            = m_window->statisticsPanel()->outlierView()->selectionModel()->selectedRows();
        QCOMPARE(selected.size(), 1);
        QCOMPARE(selected.front().row(), 0);
    }

    void histogramToggles()
    {
        HistogramPlot* plot = view()->histogramPlot();
        QVERIFY(view()->logScaleAction()->isChecked());
        QCOMPARE(plot->yAxis->scaleType(), QCPAxis::stLogarithmic);
        view()->logScaleAction()->trigger();
        QCOMPARE(plot->yAxis->scaleType(), QCPAxis::stLinear);
        QCOMPARE(view()->channelHistogramPlot()->yAxis->scaleType(), QCPAxis::stLinear);
        view()->logScaleAction()->trigger();
        QCOMPARE(plot->yAxis->scaleType(), QCPAxis::stLogarithmic);

        QVERIFY(!plot->histogram().absolute);
        view()->magnitudeAction()->trigger();
        QVERIFY(plot->histogram().absolute);
        QVERIFY(plot->histogram() == qs::computeHistogram(m_matrix.data, 256, true));
        QVERIFY(plot->title().contains(QStringLiteral("|x|")));
        QCOMPARE(plot->pointCount(), 256);
        QCOMPARE(plot->xAxis->label(), QStringLiteral("|value| (tensor units)"));
        view()->magnitudeAction()->trigger();
        QVERIFY(plot->histogram() == qs::computeHistogram(m_matrix.data, 256));

        const QVector<double> before {plot->xAxis->range().lower, plot->xAxis->range().upper};
        plot->xAxis->setRange(0, 0.1);
        plot->yAxis->setRange(1, 2);
        view()->resetViewAction()->trigger();
        QCOMPARE(plot->xAxis->range().lower, before[0]);
        QCOMPARE(plot->xAxis->range().upper, before[1]);
    }

    void logColoursOnTheHeatMap()
    {
        HeatMapPlot* heat = view()->heatMapPlot();
        const double linear = heat->colorMap()->data()->cell(4, 17);
        view()->logColoursAction()->trigger();
        QVERIFY(heat->logColours());
        QCOMPARE(heat->colorMap()->data()->cell(4, 17), std::log10(linear));
        QVERIFY(heat->colorScale()->axis()->label().contains(QStringLiteral("log")));
        view()->logColoursAction()->trigger();
        QCOMPARE(heat->colorMap()->data()->cell(4, 17), linear);
    }

    void clickingAChannelBarShowsItsHistogram()
    {
        ChannelProfilePlot* profile = view()->channelProfilePlot();
        profile->replot();
        QSignalSpy histograms(m_window->controller(), &SessionController::channelHistogramReady);
        const auto& channels = *view()->analysis()->channels;
        click(profile, pixelOf(profile, 5, channels.absmax[5] / 2));
        QVERIFY(histograms.wait(10000));
        QCOMPARE(histograms.at(0).at(0).value<ChannelHistogramPtr>()->channel, std::int64_t(5));
        QCOMPARE(profile->selectedChannel(), std::int64_t(5));
        QVERIFY(view()->channelHistogramPlot()->title().startsWith(QStringLiteral("Channel 5 along axis 0")));
        QVERIFY(view()->channelHistogramPlot()->histogram()
            == qs::computeHistogram(channelValues(m_matrix, 0, 5), 128));

        // A drag pans instead of selecting.
        sendMouse(profile, QEvent::MouseButtonPress, pixelOf(profile, 10, 0.1), Qt::LeftButton);
        sendMouse(profile, QEvent::MouseMove, pixelOf(profile, 20, 0.1), Qt::LeftButton);
        sendMouse(profile, QEvent::MouseButtonRelease, pixelOf(profile, 20, 0.1), Qt::LeftButton);
        QTest::qWait(50);
        QCOMPARE(profile->selectedChannel(), std::int64_t(5));
        profile->resetView();
    }

    void clickingAnOutlierRowShowsThatChannel()
    {
        QTableView* table = m_window->statisticsPanel()->outlierView();
        QAbstractItemModelTester tester(
            table->model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        const int row = 2;
        const std::int64_t channel
            = table->model()->index(row, 0).data(OutlierChannelModel::ChannelRole).toLongLong();
        QCOMPARE(table->model()->index(row, 0).data().toString(), QString::number(channel));
        QTest::mouseClick(
            table->viewport(), Qt::LeftButton, {}, table->visualRect(table->model()->index(row, 1)).center());
        QTRY_VERIFY_WITH_TIMEOUT(view()->channelHistogramPlot()->title().startsWith(
                                     QStringLiteral("Channel %1 along axis 0").arg(channel)),
            10000);
        QCOMPARE(view()->channelProfilePlot()->selectedChannel(), channel);
    }

    void channelAxisReanalyses()
    {
        QSignalSpy shown(view(), &DistributionView::analysisShown);
        QCOMPARE(view()->axisSpinBox()->maximum(), 1);
        view()->axisSpinBox()->setValue(1);
        QVERIFY(shown.wait(10000));
        const AnalysisPtr a = view()->analysis();
        QCOMPARE(a->channels->axis, 1);
        QCOMPARE(view()->channelProfilePlot()->channelCount(), 30);
        QCOMPARE(view()->channelProfilePlot()->xAxis->label(), QStringLiteral("channel (axis 1)"));
        QCOMPARE(a->outliers.front().channel, std::int64_t(4));
        QVERIFY(view()->channelHistogramPlot()->title().startsWith(QStringLiteral("Channel 4 along axis 1")));
        QVERIFY(*a->channels == qs::computeChannelStats(m_matrix, 1));
        QCOMPARE(m_window->statisticsPanel()->outlierModel()->outliers(), a->outliers);
    }

    void otherRanksExplainTheHeatMap()
    {
        // Rank 3: one row per index of axis 0, the trailing axes flattened ([3, 4, 5] as [3, 20]).
        QVERIFY(show(QStringLiteral("cube")));
        QVERIFY(view()->heatMapPanel()->isShowingPlot());
        const HeatMap& cubeMap = view()->heatMapPlot()->heatMap();
        QCOMPARE(cubeMap.sourceRows, std::int64_t(3));
        QCOMPARE(cubeMap.sourceCols, std::int64_t(20));
        QVERIFY2(view()->heatMapPlot()->title().contains(QStringLiteral("as [3, 20]")),
            qPrintable(view()->heatMapPlot()->title()));
        QCOMPARE(view()->heatMapPlot()->xAxis->label(), QStringLiteral("axes 1\u20132 flattened"));
        QCOMPARE(view()->axisSpinBox()->maximum(), 2);
        QVERIFY(view()->axisSpinBox()->isEnabled());

        QVERIFY(show(QStringLiteral("vector")));
        QVERIFY(!view()->heatMapPanel()->isShowingPlot());
        QVERIFY(view()->heatMapPanel()->message().contains(QStringLiteral("[12]")));
        QCOMPARE(view()->channelProfilePlot()->channelCount(), 12);
        QVERIFY(!view()->axisSpinBox()->isEnabled());

        QVERIFY(show(QStringLiteral("scalar")));
        QVERIFY(view()->heatMapPanel()->message().contains(QStringLiteral("scalar")));
        QVERIFY(!view()->channelProfilePanel()->isShowingPlot());
        QVERIFY(view()->channelProfilePanel()->message().contains(QStringLiteral("scalar")));
        QVERIFY(view()->histogramPanel()->isShowingPlot());
    }

    void wideMatricesArePooled()
    {
        QVERIFY(show(QStringLiteral("wide")));
        const HeatMap& map = view()->heatMapPlot()->heatMap();
        QCOMPARE(map.rows, 8);
        QCOMPARE(map.colsPerCell, std::int64_t(6));
        QCOMPARE(map.cols, 500);
        QVERIFY(view()->heatMapPlot()->title().contains(QStringLiteral("1\u00d76")));

        // Thousands of channels are drawn as sampled impulses, all of them still there.
        QSignalSpy shown(view(), &DistributionView::analysisShown);
        view()->axisSpinBox()->setValue(1);
        QVERIFY(shown.wait(10000));
        QCOMPARE(view()->channelProfilePlot()->channelCount(), 3000);
        QCOMPARE(view()->channelProfilePlot()->graph(0)->dataCount(), 3000);
    }

    void hoverReadOutGoesToTheStatusBar()
    {
        HistogramPlot* plot = view()->histogramPlot();
        plot->replot();
        const qs::Histogram& h = plot->histogram();
        const std::size_t bin = h.binCount() / 2;
        sendMouse(plot, QEvent::MouseMove, pixelOf(plot, h.center(bin), 2), Qt::NoButton);
        const QString text = m_window->statusBar()->currentMessage();
        QVERIFY2(
            text.contains(
                QStringLiteral("%1 values").arg(QLocale().toString(static_cast<qlonglong>(h.counts[bin])))),
            qPrintable(text));
        QEvent leave(QEvent::Leave);
        QCoreApplication::sendEvent(plot, &leave);
        QVERIFY(m_window->statusBar()->currentMessage().isEmpty());

        HeatMapPlot* heat = view()->heatMapPlot();
        heat->replot();
        sendMouse(heat, QEvent::MouseMove, pixelOf(heat, 4, 17), Qt::NoButton);
        const QString cell = m_window->statusBar()->currentMessage();
        QVERIFY2(cell.startsWith(QStringLiteral("row 17, column 4")), qPrintable(cell));

        ChannelProfilePlot* profile = view()->channelProfilePlot();
        profile->replot();
        sendMouse(profile, QEvent::MouseMove, pixelOf(profile, 17, 0.1), Qt::NoButton);
        QVERIFY(m_window->statusBar()->currentMessage().startsWith(QStringLiteral("channel 17: absmax")));
    }

    void plotsExportAsPngSvgAndPdf()
    {
        const QDir out(outputDirectory());
        HistogramPlot* plot = view()->histogramPlot();
        const QString png = out.filePath(QStringLiteral("histogram.png"));
        const QString svg = out.filePath(QStringLiteral("histogram.svg"));
        const QString pdf = out.filePath(QStringLiteral("heatmap.pdf"));
        for (const QString& path : {png, svg, pdf})
            QFile::remove(path);

        QCOMPARE(exportPlot(*plot, png), QString());
        const QImage image(png);
        QCOMPARE(image.size(), plot->size() * 2);
        QCOMPARE(exportPlot(*plot, svg), QString());
        QFile svgFile(svg);
        QVERIFY(svgFile.open(QIODevice::ReadOnly));
        const QByteArray svgText = svgFile.readAll();
        QVERIFY(svgText.contains("<svg"));
        QVERIFY(svgText.contains("count"));
        QCOMPARE(exportPlot(*view()->heatMapPlot(), pdf), QString());
        QFile pdfFile(pdf);
        QVERIFY(pdfFile.open(QIODevice::ReadOnly));
        QVERIFY(pdfFile.read(5) == "%PDF-");

        QVERIFY(!exportPlot(*plot, out.filePath(QStringLiteral("histogram.bmpx"))).isEmpty());
        QVERIFY(!exportPlot(*plot, QStringLiteral("/nonexistent-dir/x.png")).isEmpty());
    }

    /// Sets the scheme dock to `settings` and waits until the view shows that quantization of "matrix".
    QuantizationPtr quantizeMatrix(const SchemeSettings& settings)
    {
        m_window->schemePanel()->setSettings(settings);
        for (int i = 0; i < 200; ++i) {
            const QuantizationPtr q = view()->quantization();
            if (q && q->settings == settings && !m_window->controller()->isBusy())
                return q;
            QTest::qWait(50);
        }
        return nullptr;
    }

    void clipLinesAndGridForInt4PerTensor()
    {
        SchemeSettings int4;
        int4.scheme.format = qs::formatByName("int4");
        const QuantizationPtr q = quantizeMatrix(int4);
        QVERIFY(q);
        QVERIFY(view()->quantizationText().contains(QStringLiteral("SQNR")));
        const qs::SummaryStats stats = qs::computeSummaryStats(m_matrix.data);

        // The chosen (min-max) range is drawn first, bold, at the matrix's min and max.
        QVERIFY(q->clipRanges.size() >= 4);
        QVERIFY(q->clipRanges.front().chosen);
        const std::vector<double> clips = view()->histogramPlot()->clipLinePositions();
        QVERIFY(clips.size() >= 2 * q->clipRanges.size() - 1);
        QCOMPARE(clips[0], static_cast<double>(stats.min));
        QCOMPARE(clips[1], static_cast<double>(stats.max));

        // int4 symmetric narrow: 15 levels q·scale, q = -7..7, scale = amax / 7.
        const auto amax = static_cast<float>(stats.absmax);
        const float scale = q->calibration->scales.at(0);
        QVERIFY(qFuzzyCompare(scale, amax / 7.0f));
        const std::vector<double> grid = view()->histogramPlot()->gridPositions();
        QCOMPARE(grid.size(), std::size_t(15));
        for (int level = -7; level <= 7; ++level)
            QCOMPARE(grid[static_cast<std::size_t>(level + 7)],
                static_cast<double>(static_cast<float>(level) * scale));
        QCOMPARE(view()->histogramPlot()->visibleGridLineCount(), 15);

        // The error histogram counts every element once; its error equals the core's.
        QCOMPARE(q->errorHistogram.total() + q->errorHistogram.nonFinite, std::int64_t(m_matrix.data.size()));
        QCOMPARE(q->report.count, std::int64_t(m_matrix.data.size()));
        QVERIFY(view()->errorHistogramPanel()->isShowingPlot());
        QCOMPARE(view()->errorHistogramPlot()->histogram(), q->errorHistogram);
        QCOMPARE(
            view()->errorHistogramPlot()->xAxis->label(), QStringLiteral("x\u0302 \u2212 x (tensor units)"));
        const qs::Tensor reconstructed = qs::fakeQuantize(m_matrix, int4.scheme);
        QCOMPARE(q->report.sqnrDb, qs::computeErrorReport(m_matrix.data, reconstructed.data).sqnrDb);
    }

    void denseGridsAreHidden()
    {
        SchemeSettings int8;
        int8.options.method = qs::CalibrationMethod::Percentile;
        int8.options.percentile = 99.0;
        const QuantizationPtr q = quantizeMatrix(int8);
        QVERIFY(q);
        QCOMPARE(view()->histogramPlot()->gridPositions().size(), std::size_t(255));
        QCOMPARE(view()->histogramPlot()->visibleGridLineCount(), 0);
        // Zoomed in far enough, the grid comes back.
        QCustomPlot* plot = view()->histogramPlot();
        const double step = q->grid[1] - q->grid[0];
        plot->xAxis->setRange(q->grid[100] - 0.5 * step, q->grid[110] + 0.5 * step);
        QCOMPARE(view()->histogramPlot()->visibleGridLineCount(), 255);
        view()->resetViews();
        QCOMPARE(view()->histogramPlot()->visibleGridLineCount(), 0);
        m_window->schemePanel()->setSettings(SchemeSettings {});
        QTRY_VERIFY(!m_window->controller()->isBusy());
    }

    void screenshotOfTheDistributionTab()
    {
        const QString path = QDir(outputDirectory()).filePath(QStringLiteral("distribution.png"));
        const QImage image = view()->grab().toImage();
        QVERIFY(!image.isNull());
        QVERIFY(image.save(path));
    }
};

QTEST_MAIN(TestDistributionView)
#include "tst_gui_distributionview.moc"
