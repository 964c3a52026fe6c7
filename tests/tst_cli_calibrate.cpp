#include "io/tensor_file.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QtTest>
#include <algorithm>
#include <cmath>

// End-to-end checks of `quantscope-cli calibrate` on the committed sample tensors.
class TestCliCalibrate : public QObject {
    Q_OBJECT

    struct Result {
        int exitCode = -1;
        QByteArray out;
        QByteArray err;
    };

    static Result run(const QStringList& arguments)
    {
        QProcess process;
        process.start(QStringLiteral(QS_CLI_PATH), QStringList {QStringLiteral("calibrate")} + arguments);
        if (!process.waitForFinished(240000))
            return {};
        return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2,
            process.readAllStandardOutput(), process.readAllStandardError()};
    }

    static QString sample(const char* name)
    {
        return QStringLiteral(QS_SAMPLES_DIR "/") + QLatin1String(name);
    }

    static QJsonObject json(const Result& r)
    {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(r.out, &error);
        if (error.error != QJsonParseError::NoError || !doc.isObject())
            return {};
        return doc.object();
    }

    static QJsonObject calibrateJson(const QStringList& arguments)
    {
        const Result r = run(arguments + QStringList {QStringLiteral("--json")});
        if (r.exitCode != 0 || !r.err.isEmpty())
            qWarning("%s", r.err.constData());
        return r.exitCode == 0 ? json(r) : QJsonObject {};
    }

    /// The four datasets of /calib/layer0, loaded through the core readers.
    static std::vector<qs::Tensor> layer0()
    {
        const auto file = qs::TensorFile::open(sample("calibration_set.h5").toStdString());
        std::vector<qs::Tensor> batches;
        for (int k = 0; k < 4; ++k)
            batches.push_back(file->load("/calib/layer0/batch_" + std::to_string(k)));
        return batches;
    }

    static QStringList layer0Args(const char* method)
    {
        return {sample("calibration_set.h5"), QStringLiteral("--tensor"), QStringLiteral("/calib/layer0"),
            QStringLiteral("--method"), QLatin1String(method)};
    }

private slots:
    void hdf5GroupIsFedAsBatches()
    {
        const QJsonObject o = calibrateJson(layer0Args("minmax"));
        QVERIFY(!o.isEmpty());
        for (const char* key : {"method", "compat", "scheme", "amax", "min", "max", "scale", "zero_point",
                 "bins", "bin_width", "batches", "non_finite", "report", "curves"})
            QVERIFY2(o.contains(QLatin1String(key)), key);
        QCOMPARE(o.value(QStringLiteral("method")).toString(), QStringLiteral("minmax"));
        QCOMPARE(o.value(QStringLiteral("compat")).toString(), QStringLiteral("native"));
        QCOMPARE(o.value(QStringLiteral("batches")).toInt(), 4);
        QCOMPARE(o.value(QStringLiteral("groups")).toInt(), 1);
        float lo = 0;
        float hi = 0;
        for (const qs::Tensor& t : layer0()) {
            lo = std::min(lo, *std::min_element(t.data.begin(), t.data.end()));
            hi = std::max(hi, *std::max_element(t.data.begin(), t.data.end()));
        }
        QCOMPARE(o.value(QStringLiteral("min")).toDouble(), double(lo));
        QCOMPARE(o.value(QStringLiteral("max")).toDouble(), double(hi));
        QCOMPARE(o.value(QStringLiteral("amax")).toDouble(), double(std::max(-lo, hi)));
        QCOMPARE(o.value(QStringLiteral("scale")).toDouble(), double(std::max(-lo, hi) / 127.0f));
        const QJsonObject report = o.value(QStringLiteral("report")).toObject();
        QCOMPARE(report.value(QStringLiteral("count")).toInt(), 4 * 64 * 256);
        QVERIFY(report.value(QStringLiteral("mse")).toDouble() > 0);
        QVERIFY(report.value(QStringLiteral("sqnr_db")).toDouble() > 20);
        QCOMPARE(report.value(QStringLiteral("clipped_share")).toDouble(), 0.0);
    }

    void onnxRuntimeMovingAverageIsTheMeanOfBatchExtrema()
    {
        const QJsonObject o = calibrateJson(
            layer0Args("ema") + QStringList {QStringLiteral("--compat"), QStringLiteral("onnxruntime")});
        QVERIFY(!o.isEmpty());
        float sumMin = 0;
        float sumMax = 0;
        for (const qs::Tensor& t : layer0()) {
            sumMin += *std::min_element(t.data.begin(), t.data.end());
            sumMax += *std::max_element(t.data.begin(), t.data.end());
        }
        QCOMPARE(o.value(QStringLiteral("min")).toDouble(), double(float(double(sumMin) / 4)));
        QCOMPARE(o.value(QStringLiteral("max")).toDouble(), double(float(double(sumMax) / 4)));
        QCOMPARE(o.value(QStringLiteral("curves")).toArray().size(), 0);
    }

    void entropyReportsItsCurve()
    {
        const QJsonObject o = calibrateJson(
            layer0Args("entropy") + QStringList {QStringLiteral("--compat"), QStringLiteral("modelopt")});
        QVERIFY(!o.isEmpty());
        QVERIFY(o.value(QStringLiteral("bins")).toInt() >= 2048); // grows when a later batch goes further
        QVERIFY(o.value(QStringLiteral("bin_width")).toDouble() > 0);
        const QJsonObject curve = o.value(QStringLiteral("curve")).toObject();
        QCOMPARE(curve.value(QStringLiteral("objective")).toString(), QStringLiteral("KL divergence"));
        const QJsonArray threshold = curve.value(QStringLiteral("threshold")).toArray();
        const QJsonArray value = curve.value(QStringLiteral("value")).toArray();
        QVERIFY(threshold.size() > 100);
        QCOMPARE(value.size(), threshold.size());
        const int best = curve.value(QStringLiteral("best")).toInt();
        QVERIFY(best >= 0 && best < threshold.size());
        QCOMPARE(o.value(QStringLiteral("amax")).toDouble(), threshold.at(best).toDouble());
        QCOMPARE(curve.value(QStringLiteral("best_threshold")).toDouble(), threshold.at(best).toDouble());
        QCOMPARE(o.value(QStringLiteral("curves")).toArray().size(), 1);
    }

    void percentile100IsMinMax()
    {
        const QJsonObject minmax = calibrateJson(layer0Args("minmax"));
        const QJsonObject p100 = calibrateJson(
            layer0Args("percentile") + QStringList {QStringLiteral("--percentile"), QStringLiteral("100")});
        QVERIFY(!p100.isEmpty());
        QCOMPARE(p100.value(QStringLiteral("percentile")).toDouble(), 100.0);
        QCOMPARE(
            p100.value(QStringLiteral("amax")).toDouble(), minmax.value(QStringLiteral("amax")).toDouble());
        const QJsonObject p99 = calibrateJson(layer0Args("percentile"));
        QCOMPARE(p99.value(QStringLiteral("percentile")).toDouble(), 99.99);
        QVERIFY(
            p99.value(QStringLiteral("amax")).toDouble() < minmax.value(QStringLiteral("amax")).toDouble());
    }

    void histogramObserverGivesAffineQParams()
    {
        const QJsonObject o = calibrateJson(layer0Args("histogram-observer")
            + QStringList {QStringLiteral("--compat"), QStringLiteral("pytorch"), QStringLiteral("--format"),
                QStringLiteral("uint8"), QStringLiteral("--range"), QStringLiteral("affine")});
        QVERIFY(!o.isEmpty());
        QCOMPARE(o.value(QStringLiteral("bins")).toInt(), 2048);
        const double zp = o.value(QStringLiteral("zero_point")).toDouble();
        QVERIFY(zp >= 0 && zp <= 255 && zp == std::floor(zp));
        const double lo = std::min(o.value(QStringLiteral("min")).toDouble(), 0.0);
        const double hi = std::max(o.value(QStringLiteral("max")).toDouble(), 0.0);
        QCOMPARE(o.value(QStringLiteral("scale")).toDouble(), double(float(float(hi) - float(lo)) / 255.0f));
        QCOMPARE(o.value(QStringLiteral("curve")).toObject().value(QStringLiteral("objective")).toString(),
            QStringLiteral("L2 (HistogramObserver)"));
    }

    void matchesThePeersOnTheSamples_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("fixture");
        QTest::addColumn<int>("index");
        const QStringList llm {
            sample("llm_activations.npy"), QStringLiteral("--batches"), QStringLiteral("4")};
        const QStringList layer1 {
            sample("calibration_set.h5"), QStringLiteral("--tensor"), QStringLiteral("/calib/layer1")};
        const auto args = [](const QStringList& input, const char* method, const char* compat,
                              const QStringList& extra = {}) {
            return input
                + QStringList {QStringLiteral("--method"), QLatin1String(method), QStringLiteral("--compat"),
                    QLatin1String(compat)}
            + extra;
        };
        const QStringList int8Full {QStringLiteral("--range"), QStringLiteral("symfull")};
        const QStringList uint8Affine {QStringLiteral("--format"), QStringLiteral("uint8"),
            QStringLiteral("--range"), QStringLiteral("affine")};
        QTest::newRow("pytorch minmax scale") << args(llm, "minmax", "pytorch", int8Full) << "scale"
                                              << "torch_minmax_llm_qint8_symmetric" << 2;
        QTest::newRow("pytorch ema min") << args(llm, "ema", "pytorch", uint8Affine) << "min"
                                         << "torch_movingavg_llm_quint8_affine" << 0;
        QTest::newRow("pytorch ema zero point") << args(llm, "ema", "pytorch", uint8Affine) << "zero_point"
                                                << "torch_movingavg_llm_quint8_affine" << 3;
        QTest::newRow("pytorch histogram observer scale")
            << args(llm, "histogram-observer", "pytorch", uint8Affine) << "scale"
            << "torch_histobs_llm_quint8_affine" << 4;
        QTest::newRow("modelopt entropy") << args(llm, "entropy", "modelopt") << "amax"
                                          << "modelopt_torchhist_llm_amax" << 0;
        QTest::newRow("modelopt percentile")
            << args(llm, "percentile", "modelopt", {QStringLiteral("--percentile"), QStringLiteral("99.99")})
            << "amax"
            << "modelopt_torchhist_llm_amax" << 1;
        QTest::newRow("modelopt mse") << args(llm, "mse", "modelopt") << "amax"
                                      << "modelopt_torchhist_llm_amax" << 2;
        QTest::newRow("onnxruntime entropy max") << args(llm, "entropy", "onnxruntime",
            {QStringLiteral("--bins"), QStringLiteral("128"), QStringLiteral("--quantized-bins"),
                QStringLiteral("128")}) << "max"
                                                 << "ort_entropy_llm" << 1;
        QTest::newRow("onnxruntime percentile min") << args(llm, "percentile", "onnxruntime",
            {QStringLiteral("--bins"), QStringLiteral("2048"), QStringLiteral("--percentile"),
                QStringLiteral("99.999"), QStringLiteral("--asymmetric")})
                                                    << "min"
                                                    << "ort_percentile_asym_llm" << 0;
        QTest::newRow("hdf5 group, modelopt entropy") << args(layer1, "entropy", "modelopt") << "amax"
                                                      << "modelopt_torchhist_calib1_amax" << 0;
    }

    // `calibrate` on the sample files gives what the peer libraries gave on the same batches (the goldens of
    // tests/fixtures/reference/calibration_samples; tst_calibration_reference checks every case through the
    // core API, this checks that the command line reaches the same numbers).
    void matchesThePeersOnTheSamples()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, key);
        QFETCH(QString, fixture);
        QFETCH(int, index);
        const QJsonObject o = calibrateJson(arguments);
        QVERIFY(o.contains(key));
        const auto file
            = qs::TensorFile::open((QStringLiteral(QS_FIXTURES_DIR "/reference/calibration_samples/")
                + fixture + QStringLiteral(".npy"))
                                       .toStdString());
        const qs::Tensor want = file->load(file->tensors().front().name);
        QCOMPARE(o.value(key).toDouble(), double(want.data.at(std::size_t(index))));
    }

    void matchesModelOptPerChannelOnTheDepthwiseSample()
    {
        const QJsonObject o = calibrateJson({sample("depthwise_conv.safetensors"), QStringLiteral("--tensor"),
            QStringLiteral("depthwise.weight"), QStringLiteral("--method"), QStringLiteral("percentile"),
            QStringLiteral("--compat"), QStringLiteral("modelopt"), QStringLiteral("--percentile"),
            QStringLiteral("99.99"), QStringLiteral("--granularity"), QStringLiteral("channel:0")});
        const QJsonArray amax = o.value(QStringLiteral("amax")).toArray();
        const auto file = qs::TensorFile::open(
            QStringLiteral(QS_FIXTURES_DIR "/reference/calibration_samples/modelopt_calibrate_weights.npy")
                .toStdString());
        const qs::Tensor want = file->load(file->tensors().front().name); // [96, (percentile, mse)]
        QCOMPARE(amax.size(), qsizetype(96));
        for (qsizetype c = 0; c < amax.size(); ++c)
            QCOMPARE(amax[c].toDouble(), double(want.data.at(std::size_t(c) * 2)));
    }

    void perChannelRangesAreArrays()
    {
        const QJsonObject o = calibrateJson({sample("llm_activations.npy"), QStringLiteral("--method"),
            QStringLiteral("minmax"), QStringLiteral("--batches"), QStringLiteral("4"),
            QStringLiteral("--granularity"), QStringLiteral("channel:1")});
        QVERIFY(!o.isEmpty());
        QCOMPARE(o.value(QStringLiteral("batches")).toInt(), 4);
        const QJsonArray amax = o.value(QStringLiteral("amax")).toArray();
        QCOMPARE(amax.size(), 256);
        QCOMPARE(o.value(QStringLiteral("scale")).toArray().size(), 256);
        // The massive channels stand far above the N(0, 1) body.
        for (int channel : {13, 47, 133, 201, 240})
            QVERIFY2(amax.at(channel).toDouble() > 20, qPrintable(QString::number(channel)));
        QVERIFY(amax.at(0).toDouble() < 6);
    }

    void batchAxisMakesOneBatchPerIndex()
    {
        const QJsonObject o = calibrateJson({sample("llm_activations.npy"), QStringLiteral("--method"),
            QStringLiteral("ema"), QStringLiteral("--batch-axis"), QStringLiteral("0")});
        QVERIFY(!o.isEmpty());
        QCOMPARE(o.value(QStringLiteral("batches")).toInt(), 512);
        QCOMPARE(o.value(QStringLiteral("batch_shape")).toArray(), (QJsonArray {256}));
    }

    void textSummary()
    {
        const Result r = run(layer0Args("mse"));
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.err.isEmpty(), r.err.constData());
        const QString out = QString::fromUtf8(r.out);
        QVERIFY(out.contains(QStringLiteral("4 batches of [64, 256]")));
        QVERIFY(out.contains(QStringLiteral("method mse (native)")));
        QVERIFY(out.contains(QStringLiteral("SQNR")));
        QVERIFY(out.contains(QStringLiteral("MSE:")));
    }

    void badInputFailsWithOneLine_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("phrase");
        const QString file = sample("calibration_set.h5");
        const QString t = QStringLiteral("--tensor");
        const QString group = QStringLiteral("/calib/layer0");
        const QString m = QStringLiteral("--method");
        QTest::newRow("unknown method") << QStringList {file, t, group, m, QStringLiteral("kmeans")}
                                        << QStringLiteral("valid: minmax, ema, percentile");
        QTest::newRow("invalid combination") << QStringList {file, t, group, m, QStringLiteral("ema"),
            QStringLiteral("--compat"), QStringLiteral("modelopt")}
                                             << QStringLiteral("valid: native, pytorch, onnxruntime");
        QTest::newRow("percentile 0") << QStringList {file, t, group, m, QStringLiteral("percentile"),
            QStringLiteral("--percentile"), QStringLiteral("0")}
                                      << QStringLiteral("outside (0, 100]");
        QTest::newRow("percentile 150") << QStringList {file, t, group, m, QStringLiteral("percentile"),
            QStringLiteral("--percentile"), QStringLiteral("150")}
                                        << QStringLiteral("outside (0, 100]");
        QTest::newRow("bins 1") << QStringList {file, t, group, m, QStringLiteral("entropy"),
            QStringLiteral("--bins"), QStringLiteral("1")}
                                << QStringLiteral("at least 2");
        QTest::newRow("missing tensor") << QStringList {file, t, QStringLiteral("/calib/layer9"), m,
            QStringLiteral("minmax")} << QStringLiteral("no such tensor or group");
        QTest::newRow("per-tensor-only peer") << QStringList {file, t, group, m, QStringLiteral("entropy"),
            QStringLiteral("--compat"), QStringLiteral("onnxruntime"), QStringLiteral("--granularity"),
            QStringLiteral("channel:1")} << QStringLiteral("per tensor only");
        QTest::newRow("no method") << QStringList {file, t, group} << QStringLiteral("needs --method");
    }

    void badInputFailsWithOneLine()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, phrase);
        const Result r = run(arguments);
        QVERIFY(r.exitCode != 0);
        QVERIFY(r.out.isEmpty());
        const QString err = QString::fromUtf8(r.err);
        QVERIFY2(err.contains(phrase), qPrintable(err));
        QCOMPARE(err.count(QLatin1Char('\n')), 1);
    }
};

QTEST_GUILESS_MAIN(TestCliCalibrate)
#include "tst_cli_calibrate.moc"
