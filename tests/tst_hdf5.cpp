#include "base/error.h"
#include "io/readers.h"
#include "io/tensor_file.h"
#include "io/writers.h"

#include <QTemporaryDir>
#include <QtTest>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <thread>

using namespace qs;

// The fixtures in tests/fixtures/hdf5 are made by tests/fixtures/make_hdf5_fixtures.cpp.
//
// Listing order (see core/io/hdf5_file.cpp): depth-first from the root group, each group's members in
// byte-wise name order, as `h5ls -r` prints them. Upper case sorts before lower case ("/Z" before "/a").

namespace {

namespace fs = std::filesystem;

std::string fixture(const char* name)
{
    return std::string(QS_FIXTURES_DIR) + "/hdf5/" + name;
}

std::vector<std::string> names(const TensorFile& file)
{
    std::vector<std::string> result;
    for (const TensorInfo& info : file.tensors())
        result.push_back(info.name);
    return result;
}

// Bitwise equality, so that -0, Inf and NaN must match exactly too.
bool sameBits(const std::vector<float>& actual, const std::vector<float>& expected, QString& why)
{
    if (actual.size() != expected.size()) {
        why = QString("%1 values instead of %2").arg(actual.size()).arg(expected.size());
        return false;
    }
    for (std::size_t i = 0; i < actual.size(); ++i) {
        if (std::bit_cast<std::uint32_t>(actual[i]) != std::bit_cast<std::uint32_t>(expected[i])) {
            why = QString("element %1 is %2, expected %3")
                      .arg(i)
                      .arg(double(actual[i]), 0, 'g', 17)
                      .arg(double(expected[i]), 0, 'g', 17);
            return false;
        }
    }
    return true;
}

// Runs `action`, which must throw qs::Error; returns its message ("" when nothing was thrown).
std::string errorOf(const std::function<void()>& action)
{
    try {
        action();
    } catch (const Error& error) {
        return error.what();
    }
    return {};
}

bool containsAll(const std::string& message, std::initializer_list<const char*> parts, QString& why)
{
    for (const char* part : parts) {
        if (message.find(part) == std::string::npos) {
            why = QString("'%1' does not contain '%2'").arg(QString::fromStdString(message), part);
            return false;
        }
    }
    return true;
}

std::vector<char> fileBytes(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> folderEntries(const std::string& folder)
{
    std::vector<std::string> result;
    for (const auto& entry : fs::directory_iterator(folder))
        result.push_back(entry.path().filename().string());
    std::sort(result.begin(), result.end());
    return result;
}

std::vector<float> gzipFixtureData()
{
    std::vector<float> values(16 * 12);
    for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = static_cast<float>(i % 17) * 0.25f - 2.0f;
    return values;
}

Tensor makeTensor(Shape shape, std::uint32_t seed)
{
    Tensor tensor;
    tensor.shape = std::move(shape);
    tensor.data.resize(static_cast<std::size_t>(shapeElementCount(tensor.shape)));
    std::uint32_t state = seed;
    for (float& value : tensor.data) {
        state = state * 1664525u + 1013904223u;
        value = static_cast<float>(static_cast<std::int32_t>(state >> 8) - (1 << 23)) / 4096.0f;
    }
    return tensor;
}

} // namespace

class TestHdf5 : public QObject {
    Q_OBJECT

private slots:
    void listsNumericDatasetsInNameOrder()
    {
        const auto file = openHdf5(fixture("numeric.h5"));
        QCOMPARE(file->formatName(), std::string("hdf5"));
        QCOMPARE(file->path(), fixture("numeric.h5"));
        QCOMPARE(names(*file),
            (std::vector<std::string> {
                "/bool", "/f16", "/f32", "/f64_be", "/i16", "/i32_be", "/i64", "/u8"}));
        struct Expected {
            const char* name;
            DType dtype;
            const char* dtypeName;
            Shape shape;
            std::uint64_t bytes;
        };
        const Expected expected[] = {
            {"/bool", DType::BOOL, "bool (enum over int8)", {4}, 4},
            {"/f16", DType::F16, "float16 LE", {5}, 10},
            {"/f32", DType::F32, "float32 LE", {2, 3}, 24},
            {"/f64_be", DType::F64, "float64 BE", {3}, 24},
            {"/i16", DType::I16, "int16 LE", {2, 2}, 8},
            {"/i32_be", DType::I32, "int32 BE", {2}, 8},
            {"/i64", DType::I64, "int64 LE", {3}, 24},
            {"/u8", DType::U8, "uint8", {4}, 4},
        };
        for (const Expected& e : expected) {
            const TensorInfo* info = file->find(e.name);
            QVERIFY2(info, e.name);
            QCOMPARE(info->dtype, e.dtype);
            QCOMPARE(info->dtypeName, std::string(e.dtypeName));
            QCOMPARE(info->shape, e.shape);
            QCOMPARE(info->byteSize, e.bytes);
            QCOMPARE(info->location, std::string("contiguous"));
            QCOMPARE(info->file, fixture("numeric.h5"));
            QVERIFY(info->offset > 0);
            QVERIFY(info->loadable());
        }
    }

    void convertsNumericDatasets_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QVector<float>>("expected");
        const float inf = std::numeric_limits<float>::infinity();
        QTest::newRow("bool") << "/bool" << QVector<float> {1, 0, 0, 1};
        QTest::newRow("f16") << "/f16" << QVector<float> {1.0f, -2.5f, 65504.0f, std::ldexp(1.0f, -24), inf};
        QTest::newRow("f32") << "/f32" << QVector<float> {0.5f, -1.25f, 3.0f, 1.0e-3f, -7.75f, 1024.5f};
        QTest::newRow("f64 big-endian")
            << "/f64_be" << QVector<float> {static_cast<float>(1.0 / 3.0), -2.5f, 123456792.0f};
        QTest::newRow("i16") << "/i16" << QVector<float> {-32768, -1, 0, 32767};
        // 2147483647 is no float32: the nearest is 2^31.
        QTest::newRow("i32 big-endian") << "/i32_be" << QVector<float> {-123456, 2147483648.0f};
        // Round to nearest, ties to even (as qs::convertToF32): -(2^53 + 1) -> -2^53, 2^24 + 1 -> 2^24,
        // 2^25 + 3 -> 2^25 + 4 (truncation would give 2^25).
        QTest::newRow("i64") << "/i64" << QVector<float> {-9007199254740992.0f, 16777216.0f, 33554436.0f};
        QTest::newRow("u8") << "/u8" << QVector<float> {0, 1, 128, 255};
    }

    void convertsNumericDatasets()
    {
        QFETCH(QString, name);
        QFETCH(QVector<float>, expected);
        const auto file = openHdf5(fixture("numeric.h5"));
        const Tensor tensor = file->load(name.toStdString());
        QCOMPARE(tensor.name, name.toStdString());
        QCOMPARE(tensor.shape, file->find(name.toStdString())->shape);
        QString why;
        QVERIFY2(sameBits(tensor.data, {expected.begin(), expected.end()}, why), qPrintable(why));
    }

    void listsNestedChunkedScalarAndEmptyDatasets()
    {
        const auto file = openHdf5(fixture("layout.h5"));
        QCOMPARE(names(*file),
            (std::vector<std::string> {"/Z", "/a/b/c/deep", "/chunked/gzip", "/empty", "/int8", "/scalar"}));

        const TensorInfo* gzip = file->find("/chunked/gzip");
        QCOMPARE(gzip->location, std::string("chunked 8\u00D76, shuffle, deflate"));
        QCOMPARE(gzip->shape, (Shape {16, 12}));
        QCOMPARE(gzip->dtype, DType::F32);
        QVERIFY(gzip->byteSize > 0 && gzip->byteSize < 16 * 12 * 4);

        const TensorInfo* scalar = file->find("/scalar");
        QCOMPARE(scalar->shape, Shape {});
        QCOMPARE(scalar->dtypeName, std::string("float64 LE"));
        QCOMPARE(scalar->elementCount(), std::int64_t(1));

        const TensorInfo* empty = file->find("/empty");
        QCOMPARE(empty->shape, (Shape {0, 4}));
        QCOMPARE(empty->elementCount(), std::int64_t(0));
        QCOMPARE(empty->byteSize, std::uint64_t(0));

        QCOMPARE(file->find("/int8")->dtype, DType::I8);
        QCOMPARE(file->find("/int8")->dtypeName, std::string("int8"));
    }

    void loadsNestedChunkedScalarAndEmptyDatasets()
    {
        const auto file = openHdf5(fixture("layout.h5"));
        QString why;
        QVERIFY2(sameBits(file->load("/a/b/c/deep").data, {1, 2, 3, 4}, why), qPrintable(why));
        QVERIFY2(sameBits(file->load("/chunked/gzip").data, gzipFixtureData(), why), qPrintable(why));
        QVERIFY2(sameBits(file->load("/int8").data, {-128, 0, 127}, why), qPrintable(why));
        QVERIFY2(sameBits(file->load("/Z").data, {9}, why), qPrintable(why));

        const Tensor scalar = file->load("/scalar");
        QCOMPARE(scalar.shape, Shape {});
        QVERIFY2(sameBits(scalar.data, {3.25f}, why), qPrintable(why));

        const Tensor empty = file->load("/empty");
        QCOMPARE(empty.shape, (Shape {0, 4}));
        QVERIFY(empty.data.empty());
    }

    void listsUnsupportedDatasetsAndRefusesToLoadThem()
    {
        const auto file = openHdf5(fixture("unsupported.h5"));
        QCOMPARE(names(*file), (std::vector<std::string> {"/compound", "/text", "/values"}));
        const TensorInfo* compound = file->find("/compound");
        QCOMPARE(compound->dtype, DType::Unsupported);
        QCOMPARE(compound->dtypeName, std::string("compound"));
        QCOMPARE(compound->shape, Shape {2});
        QVERIFY(!compound->loadable());
        const TensorInfo* text = file->find("/text");
        QCOMPARE(text->dtype, DType::Unsupported);
        QCOMPARE(text->dtypeName, std::string("string"));

        QString why;
        QVERIFY2(
            containsAll(errorOf([&] { file->load("/compound"); }),
                {"unsupported.h5", "/compound", "compound", "only integer, float and bool datasets"}, why),
            qPrintable(why));
        QVERIFY2(
            containsAll(errorOf([&] { file->load("/text"); }), {"unsupported.h5", "/text", "string"}, why),
            qPrintable(why));
        QVERIFY2(sameBits(file->load("/values").data, {1.5f, 2.5f}, why), qPrintable(why));
    }

    void readsCustomFloatsAndRefusesOddDatasets()
    {
        const auto file = openHdf5(fixture("edge_cases.h5"));
        QCOMPARE(
            names(*file), (std::vector<std::string> {"/bf16", "/enum", "/f16_be", "/filtered", "/null"}));

        QCOMPARE(file->find("/bf16")->dtype, DType::BF16);
        QCOMPARE(file->find("/bf16")->dtypeName, std::string("bfloat16 LE"));
        QCOMPARE(file->find("/f16_be")->dtype, DType::F16);
        QCOMPARE(file->find("/f16_be")->dtypeName, std::string("float16 BE"));
        QString why;
        const std::vector<float> bf16
            = {1.0f, -2.5f, std::bit_cast<float>(0x7F7F0000u), std::ldexp(1.0f, -133)};
        QVERIFY2(sameBits(file->load("/bf16").data, bf16, why), qPrintable(why));
        QVERIFY2(
            sameBits(file->load("/f16_be").data, {1.0f, -2.5f, std::ldexp(1.0f, -24)}, why), qPrintable(why));

        const TensorInfo* colours = file->find("/enum");
        QCOMPARE(colours->dtype, DType::Unsupported);
        QCOMPARE(colours->dtypeName, std::string("enum"));
        QVERIFY2(
            containsAll(errorOf([&] { file->load("/enum"); }), {"edge_cases.h5", "/enum", "'enum'"}, why),
            qPrintable(why));

        // The element type is fine, but the data needs a filter this HDF5 library does not have.
        const TensorInfo* filtered = file->find("/filtered");
        QCOMPARE(filtered->dtype, DType::Unsupported);
        QCOMPARE(filtered->dtypeName, std::string("float32 LE"));
        QCOMPARE(filtered->location, std::string("chunked 4, quantscope test filter"));
        QVERIFY2(
            containsAll(errorOf([&] { file->load("/filtered"); }),
                {"edge_cases.h5", "/filtered", "'quantscope test filter' filter (id 300)", "cannot decode"},
                why),
            qPrintable(why));

        const TensorInfo* null = file->find("/null");
        QCOMPARE(null->dtype, DType::Unsupported);
        QCOMPARE(null->dtypeName, std::string("float32 LE, null dataspace"));
        QVERIFY2(containsAll(errorOf([&] { file->load("/null"); }), {"/null", "null dataspace"}, why),
            qPrintable(why));
    }

    void unknownDatasetNameThrows()
    {
        const auto file = openHdf5(fixture("layout.h5"));
        QString why;
        QVERIFY2(containsAll(errorOf([&] { file->load("/missing"); }),
                     {"layout.h5", "/missing", "no such dataset"}, why),
            qPrintable(why));
        QVERIFY2(containsAll(errorOf([&] { file->load("a/b/c/deep"); }), {"no such dataset"}, why),
            qPrintable(why));
    }

    void malformedFilesThrowReadableErrors_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("expected");
        QTest::newRow("truncated") << "truncated.h5"
                                   << "not a readable HDF5 file: it is shorter than its header "
                                      "says (truncated?)";
        QTest::newRow("garbage after signature") << "garbage_after_signature.h5"
                                                 << "not a readable HDF5 file: the header is damaged";
    }

    void malformedFilesThrowReadableErrors()
    {
        QFETCH(QString, name);
        QFETCH(QString, expected);
        const std::string path = fixture(name.toUtf8().constData());
        const std::string message = errorOf([&] { openHdf5(path); });
        QString why;
        QVERIFY2(
            containsAll(message, {name.toUtf8().constData(), expected.toUtf8().constData(), "HDF5: "}, why),
            qPrintable(why));
        QCOMPARE(errorOf([&] { TensorFile::open(path); }), message);
    }

    void corruptChunkFailsOnLoadOnly()
    {
        const auto file = openHdf5(fixture("corrupt_chunk.h5"));
        QCOMPARE(names(*file), (std::vector<std::string> {"/broken", "/good"}));
        QCOMPARE(file->find("/broken")->location, std::string("chunked 4, deflate"));
        QString why;
        QVERIFY2(containsAll(errorOf([&] { file->load("/broken"); }),
                     {"corrupt_chunk.h5", "tensor '/broken'", "cannot read the data, the file may be damaged",
                         "(HDF5: inflate() failed"},
                     why),
            qPrintable(why));
        QVERIFY2(sameBits(file->load("/good").data, {0.25f, 0.5f}, why), qPrintable(why));
    }

    void nonHdf5FilesThrow()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string folder = dir.path().toStdString();
        std::ofstream(folder + "/empty.h5", std::ios::binary).flush();
        std::ofstream(folder + "/text.h5", std::ios::binary)
            << "just some text, long enough to look like a file\n";
        QString why;
        QVERIFY2(containsAll(
                     errorOf([&] { openHdf5(folder + "/text.h5"); }), {"text.h5", "not an HDF5 file"}, why),
            qPrintable(why));
        QVERIFY2(containsAll(
                     errorOf([&] { openHdf5(folder + "/empty.h5"); }), {"empty.h5", "not an HDF5 file"}, why),
            qPrintable(why));
        QVERIFY2(containsAll(errorOf([&] { openHdf5(folder + "/missing.h5"); }),
                     {"missing.h5", "does not exist"}, why),
            qPrintable(why));
        QVERIFY2(
            containsAll(errorOf([&] { openHdf5(folder); }), {"does not exist or is not a regular file"}, why),
            qPrintable(why));
    }

    void tensorFileOpenPicksHdf5ByMagicBytes()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        for (const char* name : {"weights.bin", "misleading.safetensors", "noextension"}) {
            const std::string copy = dir.path().toStdString() + "/" + name;
            fs::copy_file(fixture("numeric.h5"), copy);
            const auto file = TensorFile::open(copy);
            QCOMPARE(file->formatName(), std::string("hdf5"));
            QCOMPARE(file->tensors().size(), std::size_t(8));
        }
        QCOMPARE(TensorFile::open(fixture("layout.h5"))->formatName(), std::string("hdf5"));
    }

    void writeThenReadRoundTrips()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.path().toStdString() + "/calib.h5";

        Tensor special;
        special.shape = {6};
        special.data = {-0.0f, std::numeric_limits<float>::infinity(),
            -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
            std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max()};
        Tensor scalar;
        scalar.data = {42.5f};
        Tensor empty;
        empty.shape = {0, 4};
        std::vector<Hdf5Dataset> datasets = {
            {"/calib/batch_0", makeTensor({33, 20}, 1), {8, 5}, 4},
            {"/calib/batch_1", makeTensor({3, 2, 5}, 2), {}, 0},
            {"/special", special, {}, 0},
            {"/scalar", scalar, {}, 0},
            {"/empty", empty, {2, 2}, 1},
            {"relative/name", makeTensor({7}, 3), {7}, 9},
        };
        writeHdf5(path, datasets);
        QCOMPARE(folderEntries(dir.path().toStdString()), std::vector<std::string> {"calib.h5"});

        const auto file = TensorFile::open(path);
        QCOMPARE(file->formatName(), std::string("hdf5"));
        QCOMPARE(names(*file),
            (std::vector<std::string> {
                "/calib/batch_0", "/calib/batch_1", "/empty", "/relative/name", "/scalar", "/special"}));
        QCOMPARE(file->find("/calib/batch_0")->location, std::string("chunked 8\u00D75, deflate"));
        QCOMPARE(file->find("/calib/batch_1")->location, std::string("contiguous"));
        QCOMPARE(file->find("/empty")->location, std::string("chunked 2\u00D72, deflate"));
        QCOMPARE(file->find("/relative/name")->location, std::string("chunked 7, deflate"));
        for (const Hdf5Dataset& written : datasets) {
            const std::string name = written.path.starts_with('/') ? written.path : "/" + written.path;
            const TensorInfo* info = file->find(name);
            QVERIFY2(info, name.c_str());
            QCOMPARE(info->dtype, DType::F32);
            QCOMPARE(info->dtypeName, std::string("float32 LE"));
            QCOMPARE(info->shape, written.tensor.shape);
            const Tensor read = file->load(name);
            QCOMPARE(read.shape, written.tensor.shape);
            QString why;
            QVERIFY2(sameBits(read.data, written.tensor.data, why),
                qPrintable(QString::fromStdString(name) + why));
        }
    }

    // Big enough to be read in several slabs, with slab boundaries rounded to whole chunks.
    void largeChunkedDatasetRoundTrips()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.path().toStdString() + "/large.h5";
        const Tensor chunked = makeTensor({3000, 1500}, 7);
        const Tensor contiguous = makeTensor({5000, 1000}, 8);
        writeHdf5(path, {{"/chunked", chunked, {7, 100}, 1}, {"/contiguous", contiguous, {}, 0}});
        const auto file = TensorFile::open(path);
        QString why;
        QVERIFY2(sameBits(file->load("/chunked").data, chunked.data, why), qPrintable(why));
        QVERIFY2(sameBits(file->load("/contiguous").data, contiguous.data, why), qPrintable(why));
    }

    void failedWriteLeavesExistingFileUntouched_data()
    {
        QTest::addColumn<QString>("datasetPath");
        QTest::addColumn<int>("elements");
        QTest::addColumn<QVector<qint64>>("chunk");
        QTest::addColumn<int>("deflate");
        QTest::addColumn<QString>("expected");
        using Chunk = QVector<qint64>;
        // Written after a valid "/x" dataset, so "/x/y" needs a group where a dataset already is.
        QTest::newRow("parent is a dataset") << "/x/y" << 4 << Chunk {} << 0 << "cannot create the dataset";
        QTest::newRow("same path twice") << "/x" << 4 << Chunk {} << 0 << "appears twice";
        QTest::newRow("empty path") << "" << 4 << Chunk {} << 0 << "invalid dataset path";
        QTest::newRow("empty part") << "/a//b" << 4 << Chunk {} << 0 << "invalid dataset path";
        QTest::newRow("trailing slash") << "/a/" << 4 << Chunk {} << 0 << "invalid dataset path";
        QTest::newRow("wrong data size") << "/y" << 3 << Chunk {} << 0 << "needs 4 values but 3 were given";
        QTest::newRow("chunk too large") << "/y" << 4 << Chunk {5} << 0 << "does not fit the shape";
        QTest::newRow("chunk rank") << "/y" << 4 << Chunk {2, 2} << 0 << "does not fit the shape";
        QTest::newRow("deflate without chunk") << "/y" << 4 << Chunk {} << 3 << "needs a chunk shape";
        QTest::newRow("deflate level") << "/y" << 4 << Chunk {2} << 10 << "deflate level";
    }

    void failedWriteLeavesExistingFileUntouched()
    {
        QFETCH(QString, datasetPath);
        QFETCH(int, elements);
        QFETCH(QVector<qint64>, chunk);
        QFETCH(int, deflate);
        QFETCH(QString, expected);

        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string folder = dir.path().toStdString();
        const std::string path = folder + "/existing.h5";
        writeHdf5(path, {{"/old", makeTensor({3}, 5), {}, 0}});
        const std::vector<char> before = fileBytes(path);

        Tensor bad;
        bad.shape = {4};
        bad.data.assign(static_cast<std::size_t>(elements), 1.0f);
        const std::vector<Hdf5Dataset> datasets = {
            {"/x", makeTensor({4}, 6), {}, 0},
            {datasetPath.toStdString(), bad, Shape(chunk.begin(), chunk.end()), deflate},
        };
        QString why;
        QVERIFY2(containsAll(errorOf([&] { writeHdf5(path, datasets); }),
                     {"existing.h5", expected.toUtf8().constData()}, why),
            qPrintable(why));
        QVERIFY(fileBytes(path) == before);
        QCOMPARE(folderEntries(folder), std::vector<std::string> {"existing.h5"});
        QCOMPARE(names(*TensorFile::open(path)), std::vector<std::string> {"/old"});
    }

    void writeIntoMissingFolderThrows()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.path().toStdString() + "/no/such/folder/out.h5";
        QString why;
        QVERIFY2(containsAll(errorOf([&] {
            writeHdf5(path, {{"/t", makeTensor({2}, 1), {}, 0}});
        }),
                     {"out.h5", "does not exist"}, why),
            qPrintable(why));
        QVERIFY(!fs::exists(path));
        QVERIFY(fs::is_empty(dir.path().toStdString()));
    }

    // Debian's libhdf5 is not thread-safe: this crashes or corrupts data unless every call takes the lock.
    void concurrentLoadsAndWritesAgree()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const auto layout = TensorFile::open(fixture("layout.h5"));
        const auto numeric = TensorFile::open(fixture("numeric.h5"));
        std::vector<Tensor> reference;
        for (const TensorFile* file : {layout.get(), numeric.get()}) {
            for (const TensorInfo& info : file->tensors())
                reference.push_back(file->load(info.name));
        }

        std::atomic<int> mismatches {0}, failures {0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 6; ++t) {
            threads.emplace_back([&, t] {
                try {
                    const std::string own = dir.path().toStdString() + "/thread" + std::to_string(t) + ".h5";
                    for (int round = 0; round < 20; ++round) {
                        std::size_t index = 0;
                        for (const TensorFile* file : {layout.get(), numeric.get()}) {
                            for (const TensorInfo& info : file->tensors()) {
                                if (!(file->load(info.name) == reference[index++]))
                                    ++mismatches;
                            }
                        }
                        const Tensor tensor = makeTensor({40, 30}, std::uint32_t(round * 10 + t));
                        writeHdf5(own, {{"/t", tensor, {10, 10}, 1}});
                        if (TensorFile::open(own)->load("/t").data != tensor.data)
                            ++mismatches;
                        if (errorOf([] { openHdf5(fixture("truncated.h5")); }).empty())
                            ++failures;
                    }
                } catch (...) {
                    ++failures;
                }
            });
        }
        for (std::thread& thread : threads)
            thread.join();
        QCOMPARE(mismatches.load(), 0);
        QCOMPARE(failures.load(), 0);
    }
};

QTEST_APPLESS_MAIN(TestHdf5)
#include "tst_hdf5.moc"
