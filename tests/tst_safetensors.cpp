#include "base/error.h"
#include "io/tensor_file.h"
#include "io/writers.h"
#include "string_rows.h"

#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <limits>

using namespace qs;

namespace {

std::string fixture(const char* name)
{
    return std::string(QS_FIXTURES_DIR) + "/safetensors/" + name;
}

} // namespace

class TestSafetensors : public QObject {
    Q_OBJECT

private slots:
    void listsEveryTensorInFileOrder()
    {
        const auto file = TensorFile::open(fixture("all_dtypes.safetensors"));
        QCOMPARE(file->formatName(), std::string("safetensors"));
        const auto& tensors = file->tensors();
        QCOMPARE(tensors.size(), std::size_t(17));
        QCOMPARE(tensors.front().name, std::string("weights.f32"));
        QCOMPARE(tensors.front().shape, (Shape {2, 3}));
        QCOMPARE(tensors.front().byteSize, std::uint64_t(24));
        QCOMPARE(tensors.back().name, std::string("complex.c64"));
        const TensorInfo* e8m0 = file->find("scales.e8m0");
        QVERIFY(e8m0);
        QCOMPARE(e8m0->dtypeName, std::string("F8_E8M0"));
        QVERIFY(!e8m0->loadable());
        for (std::size_t i = 1; i < tensors.size(); ++i)
            QVERIFY(tensors[i].offset == tensors[i - 1].offset + tensors[i - 1].byteSize);
    }

    void convertsEveryDtype_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QVector<double>>("expected");
        const double inf = std::numeric_limits<double>::infinity();
        const double nan = std::numeric_limits<double>::quiet_NaN();
        QTest::newRow("f32") << "weights.f32" << QVector<double> {1.0, -2.5, 3.25, 0.0, -0.0, double(1e-3f)};
        QTest::newRow("f64") << "weights.f64" << QVector<double> {double(0.1f), -inf};
        QTest::newRow("bf16") << "weights.bf16" << QVector<double> {1.0, -2.0, inf, std::ldexp(1.0, -133)};
        QTest::newRow("f16") << "weights.f16" << QVector<double> {1.0, 65504.0, std::ldexp(1.0, -24), -inf};
        QTest::newRow("e4m3") << "weights.e4m3" << QVector<double> {1.0, 448.0, std::ldexp(1.0, -9), nan};
        QTest::newRow("e5m2") << "weights.e5m2" << QVector<double> {1.0, 57344.0, std::ldexp(1.0, -16), -inf};
        QTest::newRow("i8") << "ints.i8" << QVector<double> {-128, 0, 127};
        QTest::newRow("u8") << "ints.u8" << QVector<double> {0, 128, 255};
        QTest::newRow("i16") << "ints.i16" << QVector<double> {-32768, 32767};
        QTest::newRow("u16") << "ints.u16" << QVector<double> {0, 65535};
        // 16777217 is not a float32: it rounds to the even neighbour 16777216.
        QTest::newRow("i32") << "ints.i32" << QVector<double> {-16777216, 16777216};
        QTest::newRow("i64") << "ints.i64" << QVector<double> {-std::ldexp(1.0, 40), std::ldexp(1.0, 53)};
        QTest::newRow("bool") << "mask.bool" << QVector<double> {1, 0, 1};
        QTest::newRow("scalar") << "scalar" << QVector<double> {42};
        QTest::newRow("empty") << "empty" << QVector<double> {};
    }

    void convertsEveryDtype()
    {
        QFETCH(QString, name);
        QFETCH(QVector<double>, expected);
        const auto file = TensorFile::open(fixture("all_dtypes.safetensors"));
        const Tensor t = file->load(name.toStdString());
        QCOMPARE(t.data.size(), std::size_t(expected.size()));
        QCOMPARE(std::int64_t(t.data.size()), shapeElementCount(t.shape));
        for (qsizetype i = 0; i < expected.size(); ++i) {
            const float got = t.data[std::size_t(i)];
            if (std::isnan(expected[i])) {
                QVERIFY(std::isnan(got));
            } else {
                QCOMPARE(double(got), double(float(expected[i])));
                QCOMPARE(std::signbit(got), std::signbit(expected[i]));
            }
        }
    }

    void unsupportedDtypeIsListedButNotLoaded()
    {
        const auto file = TensorFile::open(fixture("all_dtypes.safetensors"));
        try {
            file->load("complex.c64");
            QFAIL("loading C64 must fail");
        } catch (const Error& e) {
            const QString message = QString::fromUtf8(e.what());
            QVERIFY2(message.contains(QStringLiteral("all_dtypes.safetensors")), e.what());
            QVERIFY2(message.contains(QStringLiteral("complex.c64")), e.what());
            QVERIFY2(message.contains(QStringLiteral("C64")), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(Error, file->load("no.such.tensor"));
    }

    void malformedFilesGiveClearErrors_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("phrase");
        stringRow("truncated data", {"truncated_data.safetensors", "truncated"});
        stringRow("too short", {"too_short.safetensors", "too short"});
        stringRow("header past end", {"header_past_end.safetensors", "runs past the end"});
        stringRow("huge header", {"huge_header_size.safetensors", "exceeds the safetensors limit"});
        stringRow("not json", {"not_json.safetensors", "not valid JSON"});
        stringRow("wrong magic", {"wrong_magic.safetensors", "not a safetensors file"});
        stringRow("overlap", {"overlapping_offsets.safetensors", "overlap"});
        stringRow("gap", {"gap_in_offsets.safetensors", "gap"});
        stringRow("shape/bytes", {"shape_bytes_mismatch.safetensors", "needs 12 bytes"});
        stringRow("unknown dtype", {"unknown_dtype.safetensors", "unknown dtype"});
        stringRow("negative dim", {"negative_dim.safetensors", "non-negative"});
        stringRow("missing offsets", {"missing_offsets.safetensors", "data_offsets"});
        stringRow("trailing bytes", {"trailing_bytes.safetensors", "no tensor uses"});
        stringRow("duplicate key", {"duplicate_key.safetensors", "twice"});
        stringRow("bad metadata", {"bad_metadata.safetensors", "__metadata__"});
        stringRow("missing shard", {"missing_shard.safetensors.index.json", "does not exist"});
        stringRow("wrong shard", {"wrong_shard.safetensors.index.json", "does not hold it"});
    }

    void malformedFilesGiveClearErrors()
    {
        QFETCH(QString, file);
        QFETCH(QString, phrase);
        try {
            const auto opened = TensorFile::open(fixture(file.toUtf8().constData()));
            for (const TensorInfo& info : opened->tensors())
                opened->load(info.name);
            QFAIL(qPrintable(QStringLiteral("no error for ") + file));
        } catch (const Error& e) {
            const QString message = QString::fromUtf8(e.what());
            QVERIFY2(message.startsWith(file + QStringLiteral(": ")), e.what());
            QVERIFY2(message.contains(phrase), e.what());
        }
    }

    void readsShardedCheckpoint()
    {
        const auto file = TensorFile::open(fixture("sharded.safetensors.index.json"));
        QCOMPARE(file->formatName(), std::string("safetensors (sharded)"));
        QCOMPARE(file->tensors().size(), std::size_t(3));
        QCOMPARE(file->load("model.layers.1.weight").data, (std::vector<float> {3, 4}));
        QCOMPARE(file->load("model.layers.0.bias").data, (std::vector<float> {0.5f}));
        QVERIFY(file->find("model.layers.1.weight")->file.ends_with("shard-00002-of-00002.safetensors"));
    }

    void writerRoundTrips()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.filePath(QStringLiteral("round.safetensors")).toStdString();
        Tensor a {"layer.weight", {2, 3}, {1.0f, -1.5f, 0.25f, 1e-8f, 3.0e4f, -0.0f}};
        Tensor b {"layer.bias", {3}, {0.1f, 0.2f, 0.3f}};
        writeSafetensors(path, {toRawTensor(a, DType::F32), toRawTensor(b, DType::BF16)}, {{"format", "pt"}});
        const auto file = TensorFile::open(path);
        QCOMPARE(file->tensors().size(), std::size_t(2));
        QCOMPARE(file->load("layer.weight"), a);
        const Tensor bLoaded = file->load("layer.bias");
        QCOMPARE(file->find("layer.bias")->dtypeName, std::string("BF16"));
        for (std::size_t i = 0; i < 3; ++i)
            QCOMPARE(bLoaded.data[i], bf16ToF32(f32ToBf16(b.data[i])));
    }

    void failedWriteLeavesExistingFileUntouched()
    {
        QTemporaryDir dir;
        const std::string path = dir.filePath(QStringLiteral("keep.safetensors")).toStdString();
        Tensor a {"x", {1}, {7.0f}};
        writeSafetensors(path, {toRawTensor(a, DType::F32)});
        RawTensor bad = toRawTensor(a, DType::F32);
        bad.data.pop_back();
        QVERIFY_THROWS_EXCEPTION(Error, writeSafetensors(path, {bad}));
        QCOMPARE(TensorFile::open(path)->load("x"), a);
        QVERIFY_THROWS_EXCEPTION(Error,
            writeSafetensors(dir.filePath(QStringLiteral("no/such/dir/x.safetensors")).toStdString(),
                {toRawTensor(a, DType::F32)}));
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden).size(), 1);
    }
};

QTEST_APPLESS_MAIN(TestSafetensors)
#include "tst_safetensors.moc"
