#include "io/tensor_file.h"
#include "tensor/stats.h"

#include <QCryptographicHash>
#include <QDirIterator>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>
#include <set>

using namespace qs;

// The committed sample tensors: each opens, and shows the phenomenon sample_tensors/README.md promises.
class TestSamples : public QObject {
    Q_OBJECT

    static std::string sample(const char* name) { return std::string(QS_SAMPLES_DIR "/") + name; }

    static std::set<std::int64_t> topChannels(const Tensor& t, int axis, std::size_t k)
    {
        std::set<std::int64_t> channels;
        for (const OutlierChannel& o : topOutlierChannels(computeChannelStats(t, axis), k))
            channels.insert(o.channel);
        return channels;
    }

private slots:
    void everySampleOpensAndLoads_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<int>("tensorCount");
        QTest::newRow("tiny_llm") << "tiny_llm.safetensors" << 21;
        QTest::newRow("sharded") << "tiny_llm_sharded/model.safetensors.index.json" << 21;
        QTest::newRow("activations") << "llm_activations.npy" << 1;
        QTest::newRow("relu_gelu") << "relu_gelu_activations.npz" << 2;
        QTest::newRow("attention") << "attention_probs.npy" << 1;
        QTest::newRow("depthwise") << "depthwise_conv.safetensors" << 2;
        QTest::newRow("calibration") << "calibration_set.h5" << 8;
        QTest::newRow("small npy") << "small_example.npy" << 1;
        QTest::newRow("small npz") << "small_example.npz" << 2;
    }

    void everySampleOpensAndLoads()
    {
        QFETCH(QString, file);
        QFETCH(int, tensorCount);
        const auto opened = TensorFile::open(sample(file.toUtf8().constData()));
        QCOMPARE(int(opened->tensors().size()), tensorCount);
        for (const TensorInfo& info : opened->tensors()) {
            QVERIFY2(info.loadable(), info.name.c_str());
            const Tensor t = opened->load(info.name);
            QCOMPARE(t.elementCount(), info.elementCount());
            const SummaryStats s = computeSummaryStats(t.values());
            QCOMPARE(s.nanCount + s.infCount, std::int64_t(0));
        }
    }

    void checkpointHasHeavyTailsAndOutlierColumns()
    {
        const auto file = TensorFile::open(sample("tiny_llm.safetensors"));
        const TensorInfo* info = file->find("model.layers.0.mlp.down_proj.weight");
        QVERIFY(info);
        QCOMPARE(info->dtypeName, std::string("BF16"));
        const Tensor down = file->load(info->name);
        QVERIFY(computeSummaryStats(down.values()).kurtosis > 6.0);
        QCOMPARE(topChannels(down, 1, 3), (std::set<std::int64_t> {101, 222, 313}));
        QCOMPARE(topChannels(file->load("model.layers.0.self_attn.q_proj.weight"), 0, 3),
            (std::set<std::int64_t> {5, 70, 121}));
    }

    void shardedCheckpointMatchesItsIndex()
    {
        const auto file = TensorFile::open(sample("tiny_llm_sharded/model.safetensors.index.json"));
        QVERIFY(file->tensors().front().file.ends_with("model-00001-of-00002.safetensors"));
        QVERIFY(file->tensors().back().file.ends_with("model-00002-of-00002.safetensors"));
    }

    void activationsHaveMassiveChannels()
    {
        const Tensor t = TensorFile::open(sample("llm_activations.npy"))->load("llm_activations");
        QCOMPARE(t.shape, (Shape {512, 256}));
        QCOMPARE(topChannels(t, -1, 5), (std::set<std::int64_t> {13, 47, 133, 201, 240}));
        QVERIFY(computeSummaryStats(t.values()).absmax > 40.0);
    }

    void reluIsOneSidedAndAttentionIsAProbability()
    {
        const auto npz = TensorFile::open(sample("relu_gelu_activations.npz"));
        const SummaryStats relu = computeSummaryStats(npz->load("relu").values());
        QCOMPARE(relu.min, 0.0);
        QVERIFY(relu.zeroShare > 0.4);
        const SummaryStats gelu = computeSummaryStats(npz->load("gelu").values());
        QVERIFY(gelu.min < 0.0 && gelu.min >= -0.17);
        const Tensor attention = TensorFile::open(sample("attention_probs.npy"))->load("attention_probs");
        const SummaryStats a = computeSummaryStats(attention.values());
        QVERIFY(a.min >= 0.0 && a.max <= 1.0);
        for (std::size_t row = 0; row < attention.data.size() / 64; ++row) {
            double sum = 0;
            for (std::size_t k = 0; k < 64; ++k)
                sum += attention.data[row * 64 + k];
            QVERIFY(std::abs(sum - 1.0) < 1e-5);
        }
    }

    void depthwiseRangesSpanThreeDecades()
    {
        const Tensor w = TensorFile::open(sample("depthwise_conv.safetensors"))->load("depthwise.weight");
        const ChannelStats cs = computeChannelStats(w, 0);
        const auto [lo, hi] = std::minmax_element(cs.absmax.begin(), cs.absmax.end());
        QVERIFY2(*hi / *lo > 500.0, qPrintable(QString::number(*hi / *lo)));
    }

    void calibrationSetHasBatchesInOrder()
    {
        const auto h5 = TensorFile::open(sample("calibration_set.h5"));
        QCOMPARE(h5->tensors().front().name, std::string("/calib/layer0/batch_0"));
        QVERIFY(h5->find("/calib/layer1/batch_3"));
        QVERIFY(h5->find("/calib/layer1/batch_0")->location.find("chunked") != std::string::npos);
    }

    void generatorReproducesTheCommittedFiles()
    {
        QTemporaryDir dir;
        QProcess generator;
        generator.start(QStringLiteral(QS_MAKE_SAMPLES_PATH), {dir.path()});
        QVERIFY(generator.waitForFinished(120000));
        QCOMPARE(generator.exitCode(), 0);
        int compared = 0;
        QDirIterator it(dir.path(), QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            const QString generated = it.next();
            const QString committed
                = QStringLiteral(QS_SAMPLES_DIR "/") + QDir(dir.path()).relativeFilePath(generated);
            QFile a(generated), b(committed);
            QVERIFY2(
                b.open(QIODevice::ReadOnly), qPrintable(committed + QStringLiteral(" is not committed")));
            QVERIFY(a.open(QIODevice::ReadOnly));
            QVERIFY2(a.readAll() == b.readAll(),
                qPrintable(committed + QStringLiteral(" differs from the generator's output")));
            ++compared;
        }
        QCOMPARE(compared, 11);
    }
};

QTEST_APPLESS_MAIN(TestSamples)
#include "tst_samples.moc"
