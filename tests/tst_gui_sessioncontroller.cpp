// SessionController: background opening, analysis snapshots equal to the core's own functions, latest-only
// superseding, errors and cancellation.
#include "base/error.h"
#include "calib/calibration.h"
#include "calib/histogram.h"
#include "io/tensor_file.h"
#include "io/writers.h"
#include "metrics/error_report.h"
#include "quant/quantizer.h"
#include "quantizationanalysis.h"
#include "sessioncontroller.h"
#include "tensor/stats.h"
#include "tensoranalysis.h"

#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThreadPool>
#include <cmath>
#include <limits>
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
    std::normal_distribution<float> normal(0.0f, scale);
    for (float& v : t.data)
        v = normal(rng);
    return t;
}

/// A matrix whose rows 3 and 11 are 20× larger: the outlier channels along axis 0.
qs::Tensor matrixWithOutlierRows()
{
    qs::Tensor t = randomTensor("layer.0.weight", {16, 24}, 7, 0.02f);
    for (int col = 0; col < 24; ++col) {
        t.data[3 * 24 + col] *= 20.0f;
        t.data[11 * 24 + col] *= 20.0f;
    }
    t.data[5] = std::numeric_limits<float>::quiet_NaN();
    t.data[6] = std::numeric_limits<float>::infinity();
    t.data[7] = 0.0f;
    return t;
}

QString writeCheckpoint(const QTemporaryDir& dir, const QString& fileName)
{
    const QString path = dir.filePath(fileName);
    std::vector<qs::RawTensor> tensors;
    tensors.push_back(qs::toRawTensor(matrixWithOutlierRows(), qs::DType::F32));
    tensors.push_back(qs::toRawTensor(randomTensor("layer.0.bias", {16}, 8), qs::DType::F32));
    tensors.push_back(qs::toRawTensor(randomTensor("layer.1.weight", {24, 16}, 9, 0.05f), qs::DType::BF16));
    tensors.push_back(qs::toRawTensor(randomTensor("attn.probs", {2, 6, 10}, 10), qs::DType::F16));
    tensors.push_back(qs::toRawTensor(randomTensor("big", {1536, 1536}, 11), qs::DType::F32));
    qs::writeSafetensors(path.toStdString(), tensors);
    return path;
}

qs::Tensor loadDirect(const QString& path, const std::string& name)
{
    return qs::TensorFile::open(path.toStdString())->load(name);
}

} // namespace

class TestSessionController : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_path;

    /// Opens m_path in `controller` and returns its file id.
    int open(SessionController& controller, const QString& path)
    {
        QSignalSpy opened(&controller, &SessionController::fileOpened);
        [&] { QVERIFY(controller.openFile(path)); }();
        if (!opened.wait(10000))
            return -1;
        return opened.at(0).at(0).value<OpenFile>().id;
    }

    AnalysisPtr analyse(SessionController& controller, int fileId, const QString& name)
    {
        QSignalSpy ready(&controller, &SessionController::analysisReady);
        controller.selectTensor(TensorRef {fileId, name});
        if (!ready.wait(20000))
            return nullptr;
        return ready.at(0).at(0).value<AnalysisPtr>();
    }

    static void waitIdle(SessionController& controller)
    {
        QTRY_VERIFY_WITH_TIMEOUT(!controller.isBusy(), 20000);
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_path = writeCheckpoint(m_dir, QStringLiteral("model.safetensors"));
    }

    void cleanupTestCase()
    {
        // Jobs of destroyed controllers may still be finishing; they own their data.
        QThreadPool::globalInstance()->waitForDone();
    }

    void opensInTheBackground()
    {
        SessionController controller;
        QSignalSpy busy(&controller, &SessionController::busyChanged);
        QSignalSpy opened(&controller, &SessionController::fileOpened);
        QVERIFY(controller.openFile(m_path));
        QVERIFY(!controller.openFile(m_path)); // already being opened
        QVERIFY(controller.isBusy());
        QVERIFY(controller.activity().contains(QStringLiteral("model.safetensors")));
        QVERIFY(opened.wait(10000));
        const OpenFile file = opened.at(0).at(0).value<OpenFile>();
        QCOMPARE(file.path, m_path);
        QCOMPARE(file.file->tensors().size(), std::size_t(5));
        QCOMPARE(controller.openFiles().size(), std::size_t(1));
        QVERIFY(controller.fileForPath(m_path));
        QVERIFY(!controller.openFile(m_path)); // already open
        waitIdle(controller);
        QCOMPARE(busy.first().first().toBool(), true);
        QCOMPARE(busy.last().first().toBool(), false);
    }

    void analysisEqualsTheCoreFunctions()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        QVERIFY(id >= 0);
        const AnalysisPtr a = analyse(controller, id, QStringLiteral("layer.0.weight"));
        QVERIFY(a);

        const qs::Tensor direct = loadDirect(m_path, "layer.0.weight");
        QCOMPARE(a->tensor->data.size(), direct.data.size());
        QCOMPARE(a->info.name, std::string("layer.0.weight"));
        QCOMPARE(a->fileId, id);
        QCOMPARE(a->formatName, std::string("safetensors"));
        QVERIFY(a->stats == qs::computeSummaryStats(direct.data));
        QCOMPARE(a->stats.nanCount, std::int64_t(1));
        QCOMPARE(a->stats.infCount, std::int64_t(1));
        QVERIFY(a->histogram == qs::computeHistogram(direct.data, 256));
        QVERIFY(a->absHistogram == qs::computeHistogram(direct.data, 256, true));
        QVERIFY(a->channels);
        QVERIFY(*a->channels == qs::computeChannelStats(direct, 0));
        QVERIFY(a->outliers == qs::topOutlierChannels(*a->channels, 10));
        QCOMPARE(a->outliers.size(), std::size_t(10));
        QCOMPARE(a->outliers.at(0).channel == 3 || a->outliers.at(0).channel == 11, true);
        QCOMPARE(a->outliers.at(1).channel == 3 || a->outliers.at(1).channel == 11, true);

        QVERIFY(a->heatMap);
        QCOMPARE(a->heatMap->rows, 16);
        QCOMPARE(a->heatMap->cols, 24);
        QCOMPARE(a->heatMap->at(3, 0), std::fabs(direct.data[3 * 24]));
        QCOMPARE(a->heatMap->at(0, 6), 0.0f); // Inf is left out

        QVERIFY(a->focusChannel);
        QCOMPARE(a->focusChannel->channel, a->outliers.front().channel);
        QCOMPARE(a->focusChannel->analysisId, a->id);
        const std::vector<float> row = channelValues(direct, 0, a->focusChannel->channel);
        QVERIFY(a->focusChannel->histogram == qs::computeHistogram(row, 128));
        QVERIFY(a->focusChannel->stats == qs::computeSummaryStats(row));
        QCOMPARE(controller.currentAnalysis(), a);
    }

    void otherRanks()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        const AnalysisPtr bias = analyse(controller, id, QStringLiteral("layer.0.bias"));
        QVERIFY(bias);
        QVERIFY(!bias->heatMap);
        QCOMPARE(bias->channels->channelCount(), std::size_t(16));

        const AnalysisPtr probs = analyse(controller, id, QStringLiteral("attn.probs"));
        QVERIFY(probs);
        // Rank 3: the heat map views it as [2, 60] (axis 0 by the trailing axes flattened).
        QVERIFY(probs->heatMap);
        QCOMPARE(probs->heatMap->sourceRows, std::int64_t(2));
        QCOMPARE(probs->heatMap->sourceCols, std::int64_t(60));
        QCOMPARE(probs->rank(), std::size_t(3));
        QVERIFY(probs->stats == qs::computeSummaryStats(loadDirect(m_path, "attn.probs").data));
    }

    void statisticsOfEveryTensorArriveInTheBackground()
    {
        SessionController controller;
        QSignalSpy stats(&controller, &SessionController::tensorStatsReady);
        const int id = open(controller, m_path);
        QTRY_COMPARE_WITH_TIMEOUT(stats.count(), 5, 20000);
        QStringList names;
        for (const QList<QVariant>& args : std::as_const(stats)) {
            const TensorRef tensor = args.at(0).value<TensorRef>();
            QCOMPARE(tensor.fileId, id);
            names << tensor.name;
            const qs::SummaryStats expected
                = qs::computeSummaryStats(loadDirect(m_path, tensor.name.toStdString()).data);
            QVERIFY(args.at(1).value<qs::SummaryStats>() == expected);
        }
        names.sort();
        QCOMPARE(names,
            (QStringList {QStringLiteral("attn.probs"), QStringLiteral("big"), QStringLiteral("layer.0.bias"),
                QStringLiteral("layer.0.weight"), QStringLiteral("layer.1.weight")}));

        // An analysis publishes its tensor's statistics too.
        stats.clear();
        const AnalysisPtr a = analyse(controller, id, QStringLiteral("layer.0.bias"));
        QVERIFY(a);
        QCOMPARE(stats.count(), 1);
        QCOMPARE(stats.at(0).at(0).value<TensorRef>(), (TensorRef {id, QStringLiteral("layer.0.bias")}));
        QVERIFY(stats.at(0).at(1).value<qs::SummaryStats>() == a->stats);
    }

    void channelValuesGatherAlongAnAxis()
    {
        qs::Tensor t;
        t.name = "t";
        t.shape = {2, 3, 4};
        for (int i = 0; i < 24; ++i)
            t.data.push_back(static_cast<float>(i));
        QCOMPARE(
            channelValues(t, 0, 1), (std::vector<float> {12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}));
        QCOMPARE(channelValues(t, 1, 2), (std::vector<float> {8, 9, 10, 11, 20, 21, 22, 23}));
        QCOMPARE(channelValues(t, 2, 3), (std::vector<float> {3, 7, 11, 15, 19, 23}));
        QVERIFY_THROWS_EXCEPTION(qs::Error, channelValues(t, 3, 0));
        QVERIFY_THROWS_EXCEPTION(qs::Error, channelValues(t, 1, 3));
    }

    void heatMapMaxPoolsMagnitudes()
    {
        const std::int64_t rows = 5;
        const std::int64_t cols = 7;
        std::vector<float> data(rows * cols);
        std::mt19937 rng(3);
        std::normal_distribution<float> normal;
        for (float& v : data)
            v = normal(rng);
        data[2 * cols + 6] = std::numeric_limits<float>::quiet_NaN();
        std::atomic<bool> cancelled = false;
        const HeatMap map = poolAbsMax(data.data(), rows, cols, 3, TaskControl(cancelled));
        QCOMPARE(map.rowsPerCell, std::int64_t(2));
        QCOMPARE(map.colsPerCell, std::int64_t(3));
        QCOMPARE(map.rows, 3);
        QCOMPARE(map.cols, 3);
        float peak = 0;
        for (int r = 0; r < map.rows; ++r) {
            for (int c = 0; c < map.cols; ++c) {
                float expected = 0;
                for (std::int64_t i = r * 2; i < std::min<std::int64_t>(rows, r * 2 + 2); ++i)
                    for (std::int64_t j = c * 3; j < std::min<std::int64_t>(cols, c * 3 + 3); ++j)
                        if (std::isfinite(data[i * cols + j]))
                            expected = std::max(expected, std::fabs(data[i * cols + j]));
                QCOMPARE(map.at(r, c), expected);
                peak = std::max(peak, expected);
            }
        }
        QCOMPARE(map.maxValue, peak);

        cancelled = true;
        QVERIFY_THROWS_EXCEPTION(
            TaskCancelled, poolAbsMax(data.data(), rows, cols, 3, TaskControl(cancelled)));
    }

    void newerSelectionSupersedesOlder()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        QSignalSpy ready(&controller, &SessionController::analysisReady);
        controller.selectTensor(TensorRef {id, QStringLiteral("big")});
        controller.selectTensor(TensorRef {id, QStringLiteral("layer.1.weight")});
        QVERIFY(ready.wait(20000));
        waitIdle(controller);
        QTest::qWait(100);
        QCOMPARE(ready.count(), 1);
        QCOMPARE(ready.at(0).at(0).value<AnalysisPtr>()->info.name, std::string("layer.1.weight"));
        QCOMPARE(controller.selectedTensor().name, QStringLiteral("layer.1.weight"));
    }

    void aFinishedButUndeliveredResultIsDropped()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        QSignalSpy ready(&controller, &SessionController::analysisReady);
        controller.selectTensor(TensorRef {id, QStringLiteral("layer.0.bias")});
        // The job completes in the pool, but its result waits in the event queue...
        QThreadPool::globalInstance()->waitForDone();
        // ...when a newer request arrives: the finished result must not be published.
        controller.selectTensor(TensorRef {id, QStringLiteral("attn.probs")});
        QVERIFY(ready.wait(10000));
        waitIdle(controller);
        QTest::qWait(50);
        QCOMPARE(ready.count(), 1);
        QCOMPARE(ready.at(0).at(0).value<AnalysisPtr>()->info.name, std::string("attn.probs"));
    }

    void aBurstOfSelectionsYieldsOnlyTheLast()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        QSignalSpy ready(&controller, &SessionController::analysisReady);
        QSignalSpy started(&controller, &SessionController::analysisStarted);
        const QStringList names {QStringLiteral("big"), QStringLiteral("layer.0.weight"),
            QStringLiteral("attn.probs"), QStringLiteral("layer.0.bias")};
        for (int round = 0; round < 5; ++round) {
            for (const QString& name : names)
                controller.selectTensor(TensorRef {id, name});
        }
        controller.selectTensor(TensorRef {id, QStringLiteral("layer.1.weight")});
        QVERIFY(ready.wait(20000));
        waitIdle(controller);
        QTest::qWait(100);
        QCOMPARE(ready.count(), 1);
        QCOMPARE(ready.at(0).at(0).value<AnalysisPtr>()->info.name, std::string("layer.1.weight"));
        QCOMPARE(started.count(), 21);
    }

    void reselectingTheShownTensorDoesNoWork()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        const AnalysisPtr first = analyse(controller, id, QStringLiteral("layer.0.bias"));
        QVERIFY(first);
        waitIdle(controller); // its quantization follows the analysis
        QSignalSpy started(&controller, &SessionController::analysisStarted);
        controller.selectTensor(TensorRef {id, QStringLiteral("layer.0.bias")});
        QCOMPARE(started.count(), 0);
        QVERIFY(!controller.isBusy());

        // Going back to the shown tensor while another loads drops the newer request.
        QSignalSpy ready(&controller, &SessionController::analysisReady);
        controller.selectTensor(TensorRef {id, QStringLiteral("big")});
        controller.selectTensor(TensorRef {id, QStringLiteral("layer.0.bias")});
        QCOMPARE(ready.count(), 1);
        QCOMPARE(ready.at(0).at(0).value<AnalysisPtr>(), first);
        waitIdle(controller);
        QCOMPARE(ready.count(), 1);
    }

    void channelAxisReusesTheLoadedTensor()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        const AnalysisPtr axis0 = analyse(controller, id, QStringLiteral("layer.0.weight"));
        QVERIFY(axis0);
        QSignalSpy ready(&controller, &SessionController::analysisReady);
        controller.setChannelAxis(1);
        QVERIFY(ready.wait(10000));
        const AnalysisPtr axis1 = ready.at(0).at(0).value<AnalysisPtr>();
        QCOMPARE(axis1->channels->axis, 1);
        QCOMPARE(axis1->channels->channelCount(), std::size_t(24));
        QCOMPARE(axis1->tensor.get(), axis0->tensor.get());
        QVERIFY(*axis1->channels == qs::computeChannelStats(*axis0->tensor, 1));

        // A 1-D tensor falls back to axis 0; the preference stays for the next matrix.
        const AnalysisPtr bias = analyse(controller, id, QStringLiteral("layer.0.bias"));
        QCOMPARE(bias->channels->axis, 0);
        QCOMPARE(controller.channelAxis(), 1);
        const AnalysisPtr next = analyse(controller, id, QStringLiteral("layer.1.weight"));
        QCOMPARE(next->channels->axis, 1);
    }

    void channelHistogramOnRequest()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        const AnalysisPtr a = analyse(controller, id, QStringLiteral("layer.1.weight"));
        QVERIFY(a);
        QSignalSpy spy(&controller, &SessionController::channelHistogramReady);
        controller.requestChannelHistogram(5);
        controller.requestChannelHistogram(7);
        QVERIFY(spy.wait(10000));
        waitIdle(controller);
        QCOMPARE(spy.count(), 1);
        const ChannelHistogramPtr h = spy.at(0).at(0).value<ChannelHistogramPtr>();
        QCOMPARE(h->channel, std::int64_t(7));
        QCOMPARE(h->analysisId, a->id);
        const std::vector<float> values = channelValues(*a->tensor, 0, 7);
        QVERIFY(h->histogram == qs::computeHistogram(values, 128));
        QVERIFY(h->stats == qs::computeSummaryStats(values));

        controller.requestChannelHistogram(-1);
        controller.requestChannelHistogram(24);
        QVERIFY(!controller.isBusy());
    }

    void malformedFilesReportTheFileAndKeepOthersOpen_data()
    {
        QTest::addColumn<QString>("fileName");
        QTest::addColumn<QByteArray>("content");
        QTest::newRow("text") << QStringLiteral("notes.safetensors") << QByteArray("these are not tensors\n");
        QTest::newRow("empty") << QStringLiteral("empty.npy") << QByteArray();
        QByteArray header("\x20\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":\"F32\",\"shape\":[4", 40);
        QTest::newRow("cut header") << QStringLiteral("cut.safetensors") << header;
    }

    void malformedFilesReportTheFileAndKeepOthersOpen()
    {
        QFETCH(QString, fileName);
        QFETCH(QByteArray, content);
        SessionController controller;
        const int id = open(controller, m_path);
        QVERIFY(id >= 0);

        const QString bad = m_dir.filePath(fileName);
        QFile file(bad);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(content);
        file.close();

        QSignalSpy errors(&controller, &SessionController::errorOccurred);
        QSignalSpy failed(&controller, &SessionController::fileOpenFailed);
        QVERIFY(controller.openFile(bad));
        QVERIFY(errors.wait(10000));
        const QString message = errors.at(0).at(0).toString();
        QVERIFY2(message.contains(fileName), qPrintable(message));
        QCOMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(0).toString(), bad);
        QCOMPARE(controller.openFiles().size(), std::size_t(1));
        QVERIFY(analyse(controller, id, QStringLiteral("layer.0.bias")));
    }

    void truncatedDataFailsAtLoadNamingFileAndTensor()
    {
        const QString truncated = m_dir.filePath(QStringLiteral("truncated.safetensors"));
        QFile::remove(truncated);
        QVERIFY(QFile::copy(m_path, truncated));
        QFile file(truncated);
        QVERIFY(file.open(QIODevice::ReadWrite));
        QVERIFY(file.resize(file.size() / 2));
        file.close();

        SessionController controller;
        QSignalSpy errors(&controller, &SessionController::errorOccurred);
        QSignalSpy opened(&controller, &SessionController::fileOpened);
        QVERIFY(controller.openFile(truncated));
        QTRY_VERIFY_WITH_TIMEOUT(errors.count() + opened.count() == 1, 10000);
        if (opened.count() == 1) {
            // The reader accepted the header lazily; loading the cut tensor must fail instead.
            const int id = opened.at(0).at(0).value<OpenFile>().id;
            QSignalSpy failed(&controller, &SessionController::analysisFailed);
            controller.selectTensor(TensorRef {id, QStringLiteral("big")});
            QVERIFY(failed.wait(10000));
            QVERIFY(!controller.currentAnalysis());
            QCOMPARE(errors.count(), 1);
        }
        const QString message = errors.at(0).at(0).toString();
        QVERIFY2(message.contains(QStringLiteral("truncated.safetensors")), qPrintable(message));
    }

    void unknownOrUnloadableTensorsAreErrors()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        QSignalSpy errors(&controller, &SessionController::errorOccurred);
        controller.selectTensor(TensorRef {id, QStringLiteral("missing")});
        QCOMPARE(errors.count(), 1);
        QVERIFY(errors.at(0).at(0).toString().contains(QStringLiteral("missing")));
        controller.selectTensor(TensorRef {id + 100, QStringLiteral("layer.0.bias")});
        QCOMPARE(errors.count(), 2);
        QVERIFY(!controller.isBusy());
    }

    void cancelMidRunPublishesNothing()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        QSignalSpy ready(&controller, &SessionController::analysisReady);
        QSignalSpy cancelled(&controller, &SessionController::analysisCancelled);
        controller.selectTensor(TensorRef {id, QStringLiteral("big")});
        QVERIFY(controller.isBusy());
        QTest::qWait(5);
        controller.cancel();
        QCOMPARE(cancelled.count(), 1);
        QCOMPARE(cancelled.at(0).at(0).value<TensorRef>().name, QStringLiteral("big"));
        waitIdle(controller);
        QTest::qWait(50);
        QCOMPARE(ready.count(), 0);
        QVERIFY(!controller.selectedTensor().isValid());

        // The same tensor can be asked for again.
        QVERIFY(analyse(controller, id, QStringLiteral("big")));
    }

    void cancelWhileOpening()
    {
        SessionController controller;
        QSignalSpy opened(&controller, &SessionController::fileOpened);
        QSignalSpy failed(&controller, &SessionController::fileOpenFailed);
        QSignalSpy errors(&controller, &SessionController::errorOccurred);
        QVERIFY(controller.openFile(m_path));
        controller.cancel();
        QVERIFY(failed.wait(10000));
        QVERIFY(failed.at(0).at(1).toString().contains(QStringLiteral("cancelled")));
        QCOMPARE(opened.count(), 0);
        QCOMPARE(errors.count(), 0);
        QVERIFY(controller.openFiles().empty());
        waitIdle(controller);
    }

    void closingTheFileClearsItsAnalysis()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        QVERIFY(analyse(controller, id, QStringLiteral("layer.0.bias")));
        QSignalSpy cleared(&controller, &SessionController::analysisCleared);
        QSignalSpy closed(&controller, &SessionController::fileClosed);
        controller.closeFile(id);
        QCOMPARE(cleared.count(), 1);
        QCOMPARE(closed.count(), 1);
        QCOMPARE(closed.at(0).at(0).toInt(), id);
        QVERIFY(!controller.currentAnalysis());
        QVERIFY(controller.openFiles().empty());
        QVERIFY(controller.openFile(m_path)); // can be opened again, under a new id
        waitIdle(controller);
        QVERIFY(controller.openFiles().front().id != id);
    }

    void closingAFileWhileItsTensorLoads()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        QSignalSpy ready(&controller, &SessionController::analysisReady);
        controller.selectTensor(TensorRef {id, QStringLiteral("big")});
        controller.closeFile(id);
        waitIdle(controller);
        QTest::qWait(50);
        QCOMPARE(ready.count(), 0);
        QVERIFY(!controller.selectedTensor().isValid());
    }

    void destroyingWhileBusyIsSafe()
    {
        auto controller = std::make_unique<SessionController>();
        const int id = open(*controller, m_path);
        controller->selectTensor(TensorRef {id, QStringLiteral("big")});
        controller->openFile(m_dir.filePath(QStringLiteral("model-copy-does-not-exist.safetensors")));
        controller.reset();
        QThreadPool::globalInstance()->waitForDone();
        QCoreApplication::processEvents();
    }

private:
    QuantizationPtr quantizationOf(SessionController& controller, int fileId, const QString& name)
    {
        QSignalSpy quantized(&controller, &SessionController::quantizationReady);
        if (!analyse(controller, fileId, name))
            return nullptr;
        if (quantized.isEmpty() && !quantized.wait(20000))
            return nullptr;
        return quantized.last().at(0).value<QuantizationPtr>();
    }

    static SchemeSettings settingsFor(const char* format, qs::CalibrationMethod method)
    {
        SchemeSettings s;
        s.scheme.format = qs::formatByName(format);
        s.options.method = method;
        return s;
    }

private slots:
    void quantizationFollowsTheAnalysis()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        QStringList order;
        connect(&controller, &SessionController::analysisReady, this,
            [&] { order << QStringLiteral("analysis"); });
        connect(&controller, &SessionController::quantizationReady, this,
            [&] { order << QStringLiteral("quantization"); });
        const QuantizationPtr q = quantizationOf(controller, id, QStringLiteral("layer.0.weight"));
        QVERIFY(q);
        QCOMPARE(order, (QStringList {QStringLiteral("analysis"), QStringLiteral("quantization")}));
        QCOMPARE(q->analysisId, controller.currentAnalysis()->id);
        QCOMPARE(q->settings, SchemeSettings {});
        QCOMPARE(controller.currentQuantization(), q);

        // The figures are the core's: calibrate() on the loaded tensor with the default scheme.
        const qs::Tensor tensor = loadDirect(m_path, "layer.0.weight");
        const qs::CalibrationResult expected
            = qs::calibrate({tensor}, qs::Scheme {}, qs::CalibrationOptions {});
        QVERIFY(q->calibration);
        QCOMPARE(q->calibration->ranges, expected.ranges);
        QCOMPARE(q->calibration->scales, expected.scales);
        QCOMPARE(q->report.sqnrDb, expected.report.sqnrDb);
        QCOMPARE(q->report.bitsPerValue, 8.0 + 32.0 / (16 * 24));
        // One NaN and one Inf are left out of the error histogram and the report.
        QCOMPARE(q->report.count, std::int64_t(16 * 24 - 2));
        QCOMPARE(q->errorHistogram.total() + q->errorHistogram.nonFinite, q->report.count);
        QCOMPARE(q->referenceGroupLabel, std::string("per tensor"));
        QCOMPARE(q->errorSampleStride, std::int64_t(1));
        // A small tensor keeps the reference report, percentiles included.
        QVERIFY(q->errorPercentilesKnown);
        QCOMPARE(q->report.p99AbsError, expected.report.p99AbsError);
        QCOMPARE(q->report.mse, expected.report.mse);
    }

    void calibrateRangesIsCalibrateWithoutTheReport_data()
    {
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("granularity");
        QTest::addColumn<int>("method");
        QTest::addColumn<int>("compat");
        QTest::addColumn<bool>("affine");
        QTest::newRow("int8 minmax") << "int8"
                                     << "tensor" << int(qs::CalibrationMethod::MinMax)
                                     << int(qs::Compatibility::Native) << false;
        QTest::newRow("int4 channel percentile")
            << "int4"
            << "channel" << int(qs::CalibrationMethod::Percentile) << int(qs::Compatibility::Native) << false;
        QTest::newRow("uint8 affine pytorch")
            << "uint8"
            << "tensor" << int(qs::CalibrationMethod::MinMax) << int(qs::Compatibility::PyTorch) << true;
        QTest::newRow("int8 affine ort channel")
            << "int8"
            << "channel" << int(qs::CalibrationMethod::MinMax) << int(qs::Compatibility::OnnxRuntime) << true;
        QTest::newRow("fp8 group entropy")
            << "fp8_e4m3"
            << "group:8" << int(qs::CalibrationMethod::Entropy) << int(qs::Compatibility::Native) << false;
    }

    void calibrateRangesIsCalibrateWithoutTheReport()
    {
        QFETCH(QString, format);
        QFETCH(QString, granularity);
        QFETCH(int, method);
        QFETCH(int, compat);
        QFETCH(bool, affine);
        qs::Scheme scheme;
        scheme.format = qs::formatByName(format.toStdString());
        scheme.granularity = qs::parseGranularity(granularity.toStdString());
        if (affine)
            scheme.rangeMode = qs::RangeMode::Affine;
        qs::CalibrationOptions options;
        options.method = static_cast<qs::CalibrationMethod>(method);
        options.compat = static_cast<qs::Compatibility>(compat);
        const std::vector<qs::Tensor> batches {matrixWithOutlierRows()};
        const qs::CalibrationResult full = qs::calibrate(batches, scheme, options);
        qs::CalibrationResult ranges = qs::calibrateRanges(batches, scheme, options);
        QCOMPARE(ranges.report, qs::ErrorReport {});
        QVERIFY(full.report.count > 0);
        ranges.report = full.report;
        QVERIFY(ranges == full);
        // The scales are the quantizer's (or the peer's) for these ranges.
        if (options.compat == qs::Compatibility::Native)
            QCOMPARE(ranges.scales, qs::quantize(batches.front(), scheme, ranges.ranges).scales);
    }

    void fusedReportEqualsTheReference_data()
    {
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("granularity");
        QTest::addColumn<int>("method");
        QTest::addColumn<bool>("affine");
        QTest::newRow("int8 tensor percentile")
            << "int8"
            << "tensor" << int(qs::CalibrationMethod::Percentile) << false;
        QTest::newRow("int4 channel minmax") << "int4"
                                             << "channel" << int(qs::CalibrationMethod::MinMax) << false;
        QTest::newRow("uint8 affine group") << "uint8"
                                            << "group:8" << int(qs::CalibrationMethod::MinMax) << true;
        QTest::newRow("fp8 tensor entropy") << "fp8_e4m3"
                                            << "tensor" << int(qs::CalibrationMethod::Entropy) << false;
        QTest::newRow("nf4 block") << "nf4"
                                   << "block:4x8" << int(qs::CalibrationMethod::MinMax) << false;
    }

    void fusedReportEqualsTheReference()
    {
        QFETCH(QString, format);
        QFETCH(QString, granularity);
        QFETCH(int, method);
        QFETCH(bool, affine);
        SchemeSettings s;
        s.scheme.format = qs::formatByName(format.toStdString());
        s.scheme.granularity = qs::parseGranularity(granularity.toStdString());
        if (affine)
            s.scheme.rangeMode = qs::RangeMode::Affine;
        s.options.method = static_cast<qs::CalibrationMethod>(method);
        // 256 × 300 values (at least kFusedReportMinElements), one NaN and one Inf among them.
        qs::Tensor tensor = randomTensor("w", {256, 300}, 4);
        tensor.data[1000] = std::numeric_limits<float>::quiet_NaN();
        tensor.data[2000] = -std::numeric_limits<float>::infinity();
        std::atomic<bool> cancelled = false;
        const QuantizationAnalysis q = analyzeQuantization(tensor, s, {}, TaskControl(cancelled));

        const qs::CalibrationResult reference = qs::calibrate({tensor}, s.scheme, s.options);
        QCOMPARE(q.calibration->ranges, reference.ranges);
        QCOMPARE(q.calibration->scales, reference.scales);
        QVERIFY(!q.errorPercentilesKnown);
        const qs::ErrorReport& fast = q.report;
        const qs::ErrorReport& exact = reference.report;
        QCOMPARE(fast.count, exact.count);
        QCOMPARE(fast.clippedShare, exact.clippedShare);
        // The fused kernels form e in float and sum float runs (kernels.h): equal up to float rounding.
        QCOMPARE(float(fast.maxAbsError), float(exact.maxAbsError));
        QVERIFY(std::fabs(fast.mse - exact.mse) <= 1e-5 * exact.mse);
        QVERIFY(std::fabs(fast.sqnrDb - exact.sqnrDb) <= 1e-5);
        QVERIFY(std::fabs(fast.meanAbsError - exact.meanAbsError) <= 1e-5 * exact.meanAbsError);
        QVERIFY(std::fabs(fast.cosine - exact.cosine) <= 1e-6);
        QVERIFY(std::fabs(fast.relativeRmse - exact.relativeRmse) <= 1e-5 * exact.relativeRmse);
        QCOMPARE(fast.bitsPerValue, qs::effectiveBitsPerValue(s.scheme, tensor.shape));
        QCOMPARE(fast.p50AbsError, 0.0);
        QCOMPARE(fast.p99AbsError, 0.0);
        QVERIFY(exact.p99AbsError > 0);
        QCOMPARE(q.errorHistogram.total() + q.errorHistogram.nonFinite, exact.count);

        // Batches take the reference path: the percentiles are there.
        s.batches = 2;
        const QuantizationAnalysis batched = analyzeQuantization(tensor, s, {}, TaskControl(cancelled));
        QVERIFY(batched.errorPercentilesKnown);
        QCOMPARE(batched.report.p99AbsError,
            qs::calibrate(qs::splitBatches(tensor, 2), s.scheme, s.options).report.p99AbsError);
    }

    void ownScalesUseTheFusedBlockKernel()
    {
        SchemeSettings s;
        s.scheme.blockFormat = qs::BlockFormat::MXFP4;
        const qs::Tensor tensor = randomTensor("w", {256, 256}, 21);
        std::atomic<bool> cancelled = false;
        const QuantizationAnalysis q = analyzeQuantization(tensor, s, {}, TaskControl(cancelled));
        const qs::QuantizedTensor quantized = qs::quantize(tensor, s.scheme);
        const qs::ErrorReport exact = qs::computeErrorReport(tensor.data, qs::dequantize(quantized).data,
            quantized.clippedCount, qs::effectiveBitsPerValue(s.scheme, tensor.shape));
        QVERIFY(!q.errorPercentilesKnown);
        QVERIFY(!q.calibration);
        QCOMPARE(q.report.count, exact.count);
        QCOMPARE(float(q.report.maxAbsError), float(exact.maxAbsError));
        QVERIFY(std::fabs(q.report.sqnrDb - exact.sqnrDb) <= 1e-5);
        QCOMPARE(q.errorHistogram.total(), exact.count);
    }

    void errorHistogramOfBigTensorsIsAStridedSample()
    {
        // 1100 × 1000 values: more than kErrorSampleMaxElements, so every second element (per tensor) or
        // every second row (per channel) is counted, with the x̂ of the whole tensor.
        const qs::Tensor tensor = randomTensor("w", {1100, 1000}, 5);
        std::atomic<bool> cancelled = false;
        for (const char* granularity : {"tensor", "channel", "group:128"}) {
            SchemeSettings s;
            s.scheme.format = qs::formatByName("int4");
            s.scheme.granularity = qs::parseGranularity(granularity);
            const QuantizationAnalysis q = analyzeQuantization(tensor, s, {}, TaskControl(cancelled));
            QCOMPARE(q.errorSampleStride, std::int64_t(2));
            const std::vector<float> full = qs::fakeQuantize(tensor, s.scheme, q.calibration->ranges).data;
            std::vector<float> errors;
            for (std::size_t i = 0; i < full.size(); ++i) {
                const bool sampled = std::string(granularity) == "tensor" ? i % 2 == 0 : (i / 1000) % 2 == 0;
                if (sampled)
                    errors.push_back(full[i] - tensor.data[i]);
            }
            QCOMPARE(errors.size(), std::size_t(550000));
            const double m = q.errorHistogram.hi;
            // The whole tensor's largest error (the fused kernels' float e), or the sample's own when above
            // it.
            QVERIFY(std::fabs(m - q.report.maxAbsError) <= q.report.maxAbsError * 1e-6);
            QVERIFY(q.errorHistogram == qs::computeHistogram(errors, kErrorHistogramBins, -m, m));
        }
    }

    void aChosenFusedReportGetsItsPercentiles()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        const QuantizationPtr q = quantizationOf(controller, id, QStringLiteral("big"));
        QVERIFY(q);
        QVERIFY(!q->errorPercentilesKnown);
        QSignalSpy changed(&controller, &SessionController::chosenSettingsChanged);
        QVERIFY(controller.chooseCurrentSettings());
        QCOMPARE(controller.chosenSettings().front().report.p99AbsError, 0.0);
        QVERIFY(changed.wait(20000));
        QCOMPARE(changed.count(), 2);
        const qs::Tensor tensor = loadDirect(m_path, "big");
        const qs::ErrorReport exact = referenceErrorReport(tensor, SchemeSettings {});
        QVERIFY(exact.p99AbsError > 0);
        const ChosenSetting& chosen = controller.chosenSettings().front();
        QCOMPARE(chosen.report, exact);
        QCOMPARE(chosen.calibration->report, exact);
        QCOMPARE(chosen.report.count, q->report.count);
    }

    void aSliderStepReusesTheOtherMethodsRanges()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        SchemeSettings s = settingsFor("int8", qs::CalibrationMethod::Percentile);
        s.options.percentile = 99.0;
        controller.setSchemeSettings(s);
        const QuantizationPtr first = quantizationOf(controller, id, QStringLiteral("layer.1.weight"));
        QVERIFY(first);
        QSignalSpy quantized(&controller, &SessionController::quantizationReady);
        s.options.percentile = 98.0;
        controller.setSchemeSettings(s);
        QVERIFY(quantized.wait(10000));
        const QuantizationPtr second = quantized.at(0).at(0).value<QuantizationPtr>();
        QCOMPARE(second->settings, s);
        // What a fresh analysis gives, lines included.
        std::atomic<bool> cancelled = false;
        const AnalysisPtr a = controller.currentAnalysis();
        QuantizationFocus focus;
        focus.focusChannel = a->focusChannel->channel;
        const QuantizationAnalysis fresh = analyzeQuantization(*a->tensor, s, focus, TaskControl(cancelled));
        QCOMPARE(second->methodRanges, fresh.methodRanges);
        QCOMPARE(second->methodRanges, first->methodRanges);
        QCOMPARE(second->clipRanges, fresh.clipRanges);
        QCOMPARE(second->report, fresh.report);
        QVERIFY(second->clipRanges.front().max < first->clipRanges.front().max);
        QVERIFY(std::any_of(second->clipRanges.begin(), second->clipRanges.end(),
            [](const ClipRange& r) { return r.label == "min-max"; }));
    }

    void perChannelUsesTheFocusChannel()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        SchemeSettings s = settingsFor("int4", qs::CalibrationMethod::MinMax);
        s.scheme.granularity = qs::Granularity::perChannel(0);
        controller.setSchemeSettings(s);
        const QuantizationPtr q = quantizationOf(controller, id, QStringLiteral("layer.0.weight"));
        QVERIFY(q);
        const std::int64_t focus = controller.currentAnalysis()->focusChannel->channel;
        QVERIFY(focus == 3 || focus == 11);
        QCOMPARE(q->referenceGroup, focus);
        QCOMPARE(q->referenceGroupLabel, "channel " + std::to_string(focus));
        const qs::GroupRange range = q->calibration->ranges.at(static_cast<std::size_t>(focus));
        QCOMPARE(q->clipRanges.front().min, range.min);
        QCOMPARE(q->clipRanges.front().max, range.max);
        QCOMPARE(q->grid.size(), std::size_t(15));
        QCOMPARE(q->grid.back(),
            static_cast<double>(7.0f * q->calibration->scales.at(static_cast<std::size_t>(focus))));
    }

    void newestSchemeWins()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        QVERIFY(quantizationOf(controller, id, QStringLiteral("big")));
        QSignalSpy quantized(&controller, &SessionController::quantizationReady);
        for (const char* format : {"int4", "nf4", "fp8_e4m3", "int3"})
            controller.setSchemeSettings(settingsFor(format, qs::CalibrationMethod::Entropy));
        waitIdle(controller);
        QTest::qWait(50);
        QCOMPARE(quantized.count(), 1);
        const QuantizationPtr q = quantized.at(0).at(0).value<QuantizationPtr>();
        QCOMPARE(q->settings, settingsFor("int3", qs::CalibrationMethod::Entropy));
        QCOMPARE(controller.currentQuantization(), q);
    }

    void cancelQuantizationMidRun()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        QVERIFY(quantizationOf(controller, id, QStringLiteral("big")));
        QSignalSpy quantized(&controller, &SessionController::quantizationReady);
        controller.setSchemeSettings(settingsFor("int4", qs::CalibrationMethod::Mse));
        QVERIFY(controller.isBusy());
        QVERIFY(controller.activity().contains(QStringLiteral("Quantizing big")));
        controller.cancel();
        waitIdle(controller);
        QTest::qWait(50);
        QCOMPARE(quantized.count(), 0);
        QCOMPARE(controller.currentQuantization()->settings, SchemeSettings {});
    }

    void schemeThatDoesNotFitIsReported()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        QVERIFY(quantizationOf(controller, id, QStringLiteral("layer.0.bias")));
        QSignalSpy failed(&controller, &SessionController::quantizationFailed);
        SchemeSettings s;
        s.scheme.granularity = qs::Granularity::perChannel(1); // the bias has one axis
        controller.setSchemeSettings(s);
        QVERIFY(failed.wait(10000));
        QVERIFY2(failed.at(0).at(0).toString().contains(QStringLiteral("axis")),
            qPrintable(failed.at(0).at(0).toString()));
    }

    void chosenSettingsAreKeptPerTensor()
    {
        SessionController controller;
        const int id = open(controller, m_path);
        QSignalSpy changed(&controller, &SessionController::chosenSettingsChanged);
        QVERIFY(!controller.chooseCurrentSettings()); // nothing shown yet

        const QuantizationPtr first = quantizationOf(controller, id, QStringLiteral("layer.0.weight"));
        QVERIFY(first);
        QVERIFY(controller.chooseCurrentSettings());
        QCOMPARE(changed.count(), 1);
        QCOMPARE(controller.chosenSettings().size(), std::size_t(1));
        const ChosenSetting& chosen = controller.chosenSettings().front();
        QCOMPARE(chosen.tensorName, std::string("layer.0.weight"));
        QCOMPARE(chosen.filePath, m_path.toStdString());
        QCOMPARE(chosen.shape, (qs::Shape {16, 24}));
        QCOMPARE(chosen.dtypeName, std::string("F32"));
        QCOMPARE(chosen.settings, SchemeSettings {});
        QCOMPARE(chosen.calibration, first->calibration);
        QCOMPARE(chosen.report, first->report);

        const SchemeSettings nf4 = settingsFor("nf4", qs::CalibrationMethod::Entropy);
        controller.setSchemeSettings(nf4);
        const QuantizationPtr second = quantizationOf(controller, id, QStringLiteral("layer.1.weight"));
        QVERIFY(second);
        QCOMPARE(second->settings, nf4);
        QVERIFY(controller.chooseCurrentSettings());
        QCOMPARE(controller.chosenSettings().size(), std::size_t(2));
        QCOMPARE(controller.chosenSetting(TensorRef {id, QStringLiteral("layer.1.weight")})->settings, nf4);

        // Selecting a tensor with a chosen setting restores its scheme.
        QSignalSpy restored(&controller, &SessionController::schemeSettingsChanged);
        const QuantizationPtr again = quantizationOf(controller, id, QStringLiteral("layer.0.weight"));
        QVERIFY(again);
        QCOMPARE(restored.count(), 1);
        QCOMPARE(restored.at(0).at(0).value<SchemeSettings>(), SchemeSettings {});
        QCOMPARE(controller.schemeSettings(), SchemeSettings {});
        QCOMPARE(again->settings, SchemeSettings {});

        // Choosing again replaces; forgetting removes.
        QVERIFY(controller.chooseCurrentSettings());
        QCOMPARE(controller.chosenSettings().size(), std::size_t(2));
        controller.forgetChosen(TensorRef {id, QStringLiteral("layer.1.weight")});
        QCOMPARE(controller.chosenSettings().size(), std::size_t(1));
        QCOMPARE(changed.count(), 4);
    }
};

QTEST_MAIN(TestSessionController)
#include "tst_gui_sessioncontroller.moc"
