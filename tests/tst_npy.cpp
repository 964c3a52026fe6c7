#include "base/error.h"
#include "io/npy_header.h"
#include "io/readers.h"
#include "io/tensor_file.h"
#include "io/writers.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

using namespace qs;

namespace {

std::string fixture(const QString& name)
{
    return (QStringLiteral(QS_FIXTURES_DIR "/npy/") + name).toStdString();
}

Shape toShape(const QList<qint64>& dims)
{
    return Shape(dims.begin(), dims.end());
}

/// Calls `action` and returns the qs::Error message it threw, or "<no error>". Other exception types escape
/// and fail the test.
template<typename Action> QString errorOf(Action&& action)
{
    try {
        action();
    } catch (const qs::Error& error) {
        return QString::fromStdString(error.what());
    }
    return QStringLiteral("<no error>");
}

/// Empty when `actual` equals `expected` bit for bit, otherwise a description of the first difference.
QString firstDifference(const std::vector<float>& actual, const QList<float>& expected)
{
    if (actual.size() != static_cast<std::size_t>(expected.size()))
        return QStringLiteral("got %1 values, expected %2").arg(actual.size()).arg(expected.size());
    for (std::size_t i = 0; i < actual.size(); ++i) {
        const float want = expected[static_cast<qsizetype>(i)];
        if (std::bit_cast<std::uint32_t>(actual[i]) != std::bit_cast<std::uint32_t>(want))
            return QStringLiteral("value %1: got %2, expected %3")
                .arg(i)
                .arg(actual[i], 0, 'g', 9)
                .arg(want, 0, 'g', 9);
    }
    return {};
}

#define QS_COMPARE_VALUES(actual, expected)                                                                  \
    do {                                                                                                     \
        const QString difference = firstDifference((actual), (expected));                                    \
        QVERIFY2(difference.isEmpty(), qPrintable(difference));                                              \
    } while (false)

#define QS_VERIFY_ERROR(message, fileName, phrase)                                                           \
    do {                                                                                                     \
        const QString text = (message);                                                                      \
        QVERIFY2(text.startsWith(QString(fileName) + QStringLiteral(": ")), qPrintable(text));               \
        QVERIFY2(text.contains(phrase), qPrintable(text));                                                   \
    } while (false)

/// A .npy stream whose header dict is `dict`, padded the way NumPy pads it, followed by `data`.
std::vector<std::byte> npyBytes(const QByteArray& dict, int major = 1, const QByteArray& data = {})
{
    const std::size_t lengthSize = major == 1 ? 2 : 4;
    const std::size_t unpadded = 8 + lengthSize + static_cast<std::size_t>(dict.size()) + 1;
    const std::size_t headerLength = static_cast<std::size_t>(dict.size()) + 1 + (64 - unpadded % 64);
    QByteArray out("\x93NUMPY", 6);
    out.append(static_cast<char>(major));
    out.append('\0');
    for (std::size_t i = 0; i < lengthSize; ++i)
        out.append(static_cast<char>((headerLength >> (8 * i)) & 0xFF));
    out.append(dict);
    out.append(
        QByteArray(static_cast<qsizetype>(headerLength - static_cast<std::size_t>(dict.size()) - 1), ' '));
    out.append('\n');
    out.append(data);
    const auto* begin = reinterpret_cast<const std::byte*>(out.constData());
    return {begin, begin + out.size()};
}

template<typename T> QByteArray rawBytes(std::initializer_list<T> values)
{
    QByteArray out;
    for (const T value : values)
        out.append(reinterpret_cast<const char*>(&value), sizeof(T));
    return out;
}

RawTensor makeRaw(const std::string& name, DType dtype, const Shape& shape, const QByteArray& bytes)
{
    const auto* begin = reinterpret_cast<const std::byte*>(bytes.constData());
    return RawTensor {name, shape, dtype, std::vector<std::byte>(begin, begin + bytes.size())};
}

QByteArray readAll(const QString& path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return file.readAll();
}

constexpr float kInf = std::numeric_limits<float>::infinity();

} // namespace

class TestNpy : public QObject {
    Q_OBJECT

private slots:
    void readsNpyFixtures_data();
    void readsNpyFixtures();
    void reportsDataLocation();
    void listsUnsupportedDtype();
    void parsesDescr_data();
    void parsesDescr();
    void parsesHeaderDict_data();
    void parsesHeaderDict();
    void rejectsBadHeaderDict_data();
    void rejectsBadHeaderDict();
    void rejectsMalformedFiles_data();
    void rejectsMalformedFiles();
    void readsNpzFixtures_data();
    void readsNpzFixtures();
    void listsNpzMembersInOrder();
    void reportsCorruptNpzMember_data();
    void reportsCorruptNpzMember();
    void rejectsUnknownTensorName();
    void transposesFortranOrder_data();
    void transposesFortranOrder();
    void roundTripsNpy_data();
    void roundTripsNpy();
    void encodesLikeNumpy();
    void switchesToVersion2ForLongHeaders();
    void roundTripsNpz_data();
    void roundTripsNpz();
    void writesEmptyNpz();
    void rejectsTypesNumpyLacks_data();
    void rejectsTypesNumpyLacks();
    void rejectsInconsistentTensors();
    void dispatchesByMagic_data();
    void dispatchesByMagic();
    void loadsConcurrently_data();
    void loadsConcurrently();
};

void TestNpy::readsNpyFixtures_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("descr");
    QTest::addColumn<int>("dtype");
    QTest::addColumn<QList<qint64>>("shape");
    QTest::addColumn<QList<float>>("values");

    QList<float> cube;
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j)
            for (int k = 0; k < 4; ++k)
                cube << static_cast<float>(100 * i + 10 * j + k);

    QTest::newRow("v1.0 <f4 C order") << "f4_v1.npy"
                                      << "<f4" << int(DType::F32) << QList<qint64> {2, 3}
                                      << QList<float> {0.5f, -1.25f, 3.0f, 1024.0f, -0.0625f, 7.75f};
    QTest::newRow("v2.0 header") << "f4_v2.npy"
                                 << "<f4" << int(DType::F32) << QList<qint64> {3}
                                 << QList<float> {1.0f, 2.0f, -3.5f};
    QTest::newRow("v3.0 header, keys reordered")
        << "f4_v3.npy"
        << "<f4" << int(DType::F32) << QList<qint64> {2} << QList<float> {0.25f, -8.0f};
    QTest::newRow("big-endian >f8") << "f8_be.npy"
                                    << ">f8" << int(DType::F64) << QList<qint64> {4}
                                    << QList<float> {1.5f, -2.0f, static_cast<float>(0.1), 65504.0f};
    QTest::newRow("big-endian >i2") << "i2_be.npy"
                                    << ">i2" << int(DType::I16) << QList<qint64> {5}
                                    << QList<float> {-32768.0f, -1.0f, 0.0f, 1.0f, 32767.0f};
    QTest::newRow("Fortran 2-D") << "f4_fortran.npy"
                                 << "<f4" << int(DType::F32) << QList<qint64> {2, 3}
                                 << QList<float> {1, 2, 3, 4, 5, 6};
    QTest::newRow("Fortran 3-D") << "f4_fortran_3d.npy"
                                 << "<f4" << int(DType::F32) << QList<qint64> {2, 3, 4} << cube;
    QTest::newRow("<f2") << "f2.npy"
                         << "<f2" << int(DType::F16) << QList<qint64> {6}
                         << QList<float> {
                                1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24), kInf, 0.333251953125f};
    QTest::newRow("|u1") << "u1.npy"
                         << "|u1" << int(DType::U8) << QList<qint64> {5}
                         << QList<float> {0, 1, 127, 128, 255};
    QTest::newRow("|b1") << "b1.npy"
                         << "|b1" << int(DType::BOOL) << QList<qint64> {2, 2} << QList<float> {1, 0, 1, 1};
    QTest::newRow("<i8") << "i8.npy"
                         << "<i8" << int(DType::I64) << QList<qint64> {5}
                         << QList<float> {-1099511627776.0f, -1.0f, 0.0f, static_cast<float>(123456789),
                                9007199254740992.0f};
    QTest::newRow("0-d scalar") << "scalar.npy"
                                << "<f4" << int(DType::F32) << QList<qint64> {} << QList<float> {42.5f};
    QTest::newRow("empty (0, 3)") << "empty.npy"
                                  << "<f4" << int(DType::F32) << QList<qint64> {0, 3} << QList<float> {};
}

void TestNpy::readsNpyFixtures()
{
    QFETCH(QString, file);
    QFETCH(QString, descr);
    QFETCH(int, dtype);
    QFETCH(QList<qint64>, shape);
    QFETCH(QList<float>, values);

    const auto opened = TensorFile::open(fixture(file));
    QCOMPARE(opened->formatName(), std::string("npy"));
    QCOMPARE(opened->tensors().size(), std::size_t(1));
    const TensorInfo& info = opened->tensors().front();
    const std::string stem = file.chopped(4).toStdString();
    QCOMPARE(info.name, stem);
    QCOMPARE(info.shape, toShape(shape));
    QCOMPARE(info.dtype, DType(dtype));
    QCOMPARE(QString::fromStdString(info.dtypeName), descr);
    QVERIFY(info.loadable());
    QCOMPARE(opened->find(stem), &info);

    const Tensor tensor = opened->load(stem);
    QCOMPARE(tensor.name, stem);
    QCOMPARE(tensor.shape, toShape(shape));
    QS_COMPARE_VALUES(tensor.data, values);
}

void TestNpy::reportsDataLocation()
{
    const auto c = openNpy(fixture("f4_v1.npy"));
    const TensorInfo& info = c->tensors().front();
    QCOMPARE(info.offset, std::uint64_t(128));
    QCOMPARE(info.byteSize, std::uint64_t(24));
    QCOMPARE(info.file, fixture("f4_v1.npy"));
    QCOMPARE(info.location, std::string("bytes 128..152"));

    const auto fortran = openNpy(fixture("f4_fortran.npy"));
    QVERIFY(fortran->tensors().front().location.find("Fortran") != std::string::npos);
}

void TestNpy::listsUnsupportedDtype()
{
    const auto opened = TensorFile::open(fixture("c8.npy"));
    QCOMPARE(opened->tensors().size(), std::size_t(1));
    const TensorInfo& info = opened->tensors().front();
    QCOMPARE(info.name, std::string("c8"));
    QCOMPARE(info.dtype, DType::Unsupported);
    QCOMPARE(info.dtypeName, std::string("<c8"));
    QCOMPARE(info.shape, Shape {2});
    QCOMPARE(info.byteSize, std::uint64_t(16));
    QVERIFY(!info.loadable());
    const QString message = errorOf([&] { opened->load("c8"); });
    QS_VERIFY_ERROR(message, "c8.npy", "'<c8' (complex numbers) is not supported");
}

void TestNpy::parsesDescr_data()
{
    QTest::addColumn<QString>("descr");
    QTest::addColumn<int>("dtype");
    QTest::addColumn<bool>("bigEndian");
    QTest::addColumn<quint64>("itemSize");

    const bool nativeBig = std::endian::native == std::endian::big;
    QTest::newRow("<f4") << "<f4" << int(DType::F32) << false << quint64(4);
    QTest::newRow(">f8") << ">f8" << int(DType::F64) << true << quint64(8);
    QTest::newRow("<f2") << "<f2" << int(DType::F16) << false << quint64(2);
    QTest::newRow("=f4") << "=f4" << int(DType::F32) << nativeBig << quint64(4);
    QTest::newRow("|u1") << "|u1" << int(DType::U8) << false << quint64(1);
    QTest::newRow("|i1") << "|i1" << int(DType::I8) << false << quint64(1);
    QTest::newRow("|b1") << "|b1" << int(DType::BOOL) << false << quint64(1);
    QTest::newRow("|?") << "|?" << int(DType::BOOL) << false << quint64(1);
    QTest::newRow("<i2") << "<i2" << int(DType::I16) << false << quint64(2);
    QTest::newRow(">u2") << ">u2" << int(DType::U16) << true << quint64(2);
    QTest::newRow("<i4") << "<i4" << int(DType::I32) << false << quint64(4);
    QTest::newRow("<u4") << "<u4" << int(DType::U32) << false << quint64(4);
    QTest::newRow(">i8") << ">i8" << int(DType::I64) << true << quint64(8);
    QTest::newRow("<u8") << "<u8" << int(DType::U64) << false << quint64(8);
    QTest::newRow("<c8") << "<c8" << int(DType::Unsupported) << false << quint64(8);
    QTest::newRow("<U5") << "<U5" << int(DType::Unsupported) << false << quint64(20);
    QTest::newRow("|S3") << "|S3" << int(DType::Unsupported) << false << quint64(3);
    QTest::newRow("|O") << "|O" << int(DType::Unsupported) << false << quint64(0);
    QTest::newRow("<M8[ns]") << "<M8[ns]" << int(DType::Unsupported) << false << quint64(8);
    QTest::newRow("V16") << "V16" << int(DType::Unsupported) << false << quint64(16);
    QTest::newRow("<f16") << "<f16" << int(DType::Unsupported) << false << quint64(16);
    QTest::newRow("<i3") << "<i3" << int(DType::Unsupported) << false << quint64(3);
    QTest::newRow("empty") << "" << int(DType::Unsupported) << false << quint64(0);
    QTest::newRow("nonsense") << "hello" << int(DType::Unsupported) << false << quint64(0);
}

void TestNpy::parsesDescr()
{
    QFETCH(QString, descr);
    QFETCH(int, dtype);
    QFETCH(bool, bigEndian);
    QFETCH(quint64, itemSize);

    const NpyDescr parsed = parseNpyDescr(descr.toStdString());
    QCOMPARE(parsed.dtype, DType(dtype));
    QCOMPARE(parsed.itemSize, itemSize);
    if (parsed.dtype != DType::Unsupported)
        QCOMPARE(parsed.byteOrder, bigEndian ? ByteOrder::Big : ByteOrder::Little);
    if (parsed.dtype != DType::Unsupported && descr.front() != '=')
        QCOMPARE(
            QString::fromStdString(npyDescr(parsed.dtype)).mid(1), descr.mid(1) == "?" ? "b1" : descr.mid(1));
}

void TestNpy::parsesHeaderDict_data()
{
    QTest::addColumn<QByteArray>("dict");
    QTest::addColumn<int>("major");
    QTest::addColumn<QString>("descr");
    QTest::addColumn<int>("dtype");
    QTest::addColumn<bool>("fortran");
    QTest::addColumn<QList<qint64>>("shape");

    QTest::newRow("NumPy 1-D") << QByteArray("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }") << 1
                               << "<f4" << int(DType::F32) << false << QList<qint64> {3};
    QTest::newRow("scalar") << QByteArray("{'descr': '<f8', 'fortran_order': False, 'shape': (), }") << 1
                            << "<f8" << int(DType::F64) << false << QList<qint64> {};
    QTest::newRow("2-D Fortran") << QByteArray("{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }")
                                 << 2 << ">i2" << int(DType::I16) << true << QList<qint64> {2, 3};
    QTest::newRow("keys reordered, double quotes, no trailing comma")
        << QByteArray("{\"shape\": (4, 0, 2), 'descr': \"|u1\", 'fortran_order': False}") << 3 << "|u1"
        << int(DType::U8) << false << QList<qint64> {4, 0, 2};
    QTest::newRow("Python 2 long integers")
        << QByteArray("{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 4L), }") << 1 << "<f4"
        << int(DType::F32) << false << QList<qint64> {3, 4};
    QTest::newRow("unicode prefix, extra whitespace")
        << QByteArray("{ u'descr' : u'<f2' ,\n 'fortran_order' : False ,\t'shape' : ( 7 , ) }") << 1 << "<f2"
        << int(DType::F16) << false << QList<qint64> {7};
    QTest::newRow("shape as a list") << QByteArray(
        "{'descr': '<u4', 'fortran_order': False, 'shape': [2, 2]}")
                                     << 1 << "<u4" << int(DType::U32) << false << QList<qint64> {2, 2};
    QTest::newRow("extra keys ignored")
        << QByteArray("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), 'note': {'a': [None, 1]}}")
        << 1 << "<i8" << int(DType::I64) << false << QList<qint64> {1};
    QTest::newRow("structured descr kept verbatim")
        << QByteArray("{'descr': [('x', '<f4'), ('y', '<i2')], 'fortran_order': False, 'shape': (2,), }") << 1
        << "[('x', '<f4'), ('y', '<i2')]" << int(DType::Unsupported) << false << QList<qint64> {2};
    QTest::newRow("unsupported <U5") << QByteArray(
        "{'descr': '<U5', 'fortran_order': False, 'shape': (3,), }")
                                     << 1 << "<U5" << int(DType::Unsupported) << false << QList<qint64> {3};
}

void TestNpy::parsesHeaderDict()
{
    QFETCH(QByteArray, dict);
    QFETCH(int, major);
    QFETCH(QString, descr);
    QFETCH(int, dtype);
    QFETCH(bool, fortran);
    QFETCH(QList<qint64>, shape);

    const std::vector<std::byte> bytes = npyBytes(dict, major);
    const NpyHeader header = parseNpyHeader(bytes, "hdr.npy");
    QCOMPARE(header.majorVersion, major);
    QCOMPARE(header.minorVersion, 0);
    QCOMPARE(QString::fromStdString(header.descr), descr);
    QCOMPARE(header.type.dtype, DType(dtype));
    QCOMPARE(header.fortranOrder, fortran);
    QCOMPARE(header.shape, toShape(shape));
    QCOMPARE(header.dataOffset, std::uint64_t(bytes.size()));
    QCOMPARE(header.dataOffset % 64, std::uint64_t(0));
    QCOMPARE(npyHeaderEnd(bytes, "hdr.npy"), header.dataOffset);
    QCOMPARE(header.dataSize, std::uint64_t(shapeElementCount(header.shape)) * header.type.itemSize);
}

void TestNpy::rejectsBadHeaderDict_data()
{
    QTest::addColumn<QByteArray>("dict");
    QTest::addColumn<QString>("phrase");

    QTest::newRow("not a dict") << QByteArray("[1, 2]") << "does not start with '{'";
    QTest::newRow("text after dict") << QByteArray(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (), } x")
                                     << "after the closing '}'";
    QTest::newRow("no descr") << QByteArray("{'fortran_order': False, 'shape': (1,)}") << "no 'descr' entry";
    QTest::newRow("no fortran_order")
        << QByteArray("{'descr': '<f4', 'shape': (1,)}") << "no 'fortran_order' entry";
    QTest::newRow("no shape") << QByteArray("{'descr': '<f4', 'fortran_order': False}") << "no 'shape' entry";
    QTest::newRow("fortran_order 0") << QByteArray("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}")
                                     << "not True or False";
    QTest::newRow("shape an int") << QByteArray("{'descr': '<f4', 'fortran_order': False, 'shape': 3}")
                                  << "not a tuple of integers";
    QTest::newRow("shape None") << QByteArray("{'descr': '<f4', 'fortran_order': False, 'shape': None}")
                                << "not a tuple of integers";
    QTest::newRow("shape of strings")
        << QByteArray("{'descr': '<f4', 'fortran_order': False, 'shape': ('2',)}")
        << "not a tuple of integers";
    QTest::newRow("float dimension") << QByteArray(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}")
                                     << "only integers are expected";
    QTest::newRow("negative dimension")
        << QByteArray("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3)}") << "negative dimension";
    QTest::newRow("element count overflow")
        << QByteArray("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}")
        << "more elements than fit in 64 bits";
    QTest::newRow("byte count overflow")
        << QByteArray("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,)}")
        << "needs more bytes than fit in 64 bits";
    QTest::newRow("dimension beyond 64 bits")
        << QByteArray("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}")
        << "too large for 64 bits";
    QTest::newRow("duplicate key") << QByteArray(
        "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': ()}")
                                   << "lists 'descr' twice";
    QTest::newRow("descr an int") << QByteArray("{'descr': 4, 'fortran_order': False, 'shape': ()}")
                                  << "'descr' is not a type string";
    QTest::newRow("key not a string")
        << QByteArray("{1: 2, 'descr': '<f4', 'fortran_order': False, 'shape': ()}")
        << "key that is not a string";
    QTest::newRow("unclosed string") << QByteArray("{'descr': '<f4") << "a string is not closed";
    QTest::newRow("unclosed tuple") << QByteArray("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3")
                                    << "the header ends where ')' was expected";
    QTest::newRow("missing colon") << QByteArray("{'descr' '<f4'}") << "expected ':'";
    QTest::newRow("unknown word") << QByteArray("{'descr': '<f4', 'fortran_order': false, 'shape': ()}")
                                  << "unexpected word 'false'";
    QTest::newRow("control byte") << QByteArray("{'descr': '<f4', \x01}") << "byte 0x01";
    QTest::newRow("deep nesting") << QByteArray("{'x': ") + QByteArray(200, '(') << "nested too deeply";
    QTest::newRow("empty header") << QByteArray("") << "does not start with '{'";
}

void TestNpy::rejectsBadHeaderDict()
{
    QFETCH(QByteArray, dict);
    QFETCH(QString, phrase);

    const std::vector<std::byte> bytes = npyBytes(dict);
    QS_VERIFY_ERROR(
        errorOf([&] { parseNpyHeader(bytes, "/some/folder/hdr.npy", "t"); }), "hdr.npy: tensor 't'", phrase);
}

void TestNpy::rejectsMalformedFiles_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("phrase");

    QTest::newRow("wrong magic") << "bad_magic.npy"
                                 << "not a NumPy .npy file";
    QTest::newRow("truncated header") << "truncated_header.npy"
                                      << "the npy header is truncated";
    QTest::newRow("header length past end of file")
        << "header_past_eof.npy"
        << "declares 5000 header bytes but only 40 remain in the file";
    QTest::newRow("data truncated")
        << "data_truncated.npy"
        << "npy header declares 1200 data bytes but only 400 remain (file truncated?)";
    QTest::newRow("garbage dict") << "garbage_dict.npy"
                                  << "not a valid Python dictionary";
    QTest::newRow("missing shape") << "missing_shape.npy"
                                   << "no 'shape' entry";
    QTest::newRow("version 4.0") << "version4.npy"
                                 << "npy format version 4.0 is not supported";
    QTest::newRow("truncated npz") << "truncated.npz"
                                   << "not a readable .npz (zip) archive";
    QTest::newRow("npz member not npy") << "bad_member_header.npz"
                                        << "tensor 'x': not a NumPy .npy file";
}

void TestNpy::rejectsMalformedFiles()
{
    QFETCH(QString, file);
    QFETCH(QString, phrase);

    QS_VERIFY_ERROR(errorOf([&] { TensorFile::open(fixture(file)); }), file, phrase);
    if (file.endsWith(".npy"))
        QS_VERIFY_ERROR(errorOf([&] { openNpy(fixture(file)); }), file, phrase);
    else
        QS_VERIFY_ERROR(errorOf([&] { openNpz(fixture(file)); }), file, phrase);
}

void TestNpy::readsNpzFixtures_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("tensor");
    QTest::addColumn<QString>("descr");
    QTest::addColumn<QList<qint64>>("shape");
    QTest::addColumn<QList<float>>("values");
    QTest::addColumn<QString>("location");

    QTest::newRow("stored <f4") << "stored.npz"
                                << "a"
                                << "<f4" << QList<qint64> {2, 2} << QList<float> {1, 2, 3, 4}
                                << "member 'a.npy', stored";
    QTest::newRow("stored <i2") << "stored.npz"
                                << "b"
                                << "<i2" << QList<qint64> {3} << QList<float> {-1, 0, 7}
                                << "member 'b.npy', stored";
    QTest::newRow("deflated <f4") << "deflated.npz"
                                  << "a"
                                  << "<f4" << QList<qint64> {2, 2} << QList<float> {1, 2, 3, 4}
                                  << "member 'a.npy', deflated";
    QTest::newRow("deflated in a folder")
        << "deflated.npz"
        << "layer1/weight"
        << "<f2" << QList<qint64> {2} << QList<float> {1, -2} << "member 'layer1/weight.npy', deflated";
    QTest::newRow("deflated Fortran")
        << "deflated.npz"
        << "fortran"
        << "<f4" << QList<qint64> {2, 3} << QList<float> {1, 2, 3, 4, 5, 6} << "Fortran";
    QTest::newRow("deflated zeros") << "deflated.npz"
                                    << "zeros"
                                    << "<f4" << QList<qint64> {64, 64} << QList<float>(64 * 64, 0.0f)
                                    << "deflated 16512 -> ";
}

void TestNpy::readsNpzFixtures()
{
    QFETCH(QString, file);
    QFETCH(QString, tensor);
    QFETCH(QString, descr);
    QFETCH(QList<qint64>, shape);
    QFETCH(QList<float>, values);
    QFETCH(QString, location);

    const auto opened = TensorFile::open(fixture(file));
    QCOMPARE(opened->formatName(), std::string("npz"));
    const TensorInfo* info = opened->find(tensor.toStdString());
    QVERIFY(info);
    QCOMPARE(QString::fromStdString(info->dtypeName), descr);
    QCOMPARE(info->shape, toShape(shape));
    QCOMPARE(info->file, fixture(file));
    QVERIFY2(QString::fromStdString(info->location).contains(location), info->location.c_str());
    if (info->location.find("stored") != std::string::npos)
        QCOMPARE(info->byteSize, std::uint64_t(values.size()) * (descr == "<f4" ? 4 : 2));

    const Tensor loaded = opened->load(tensor.toStdString());
    QCOMPARE(loaded.name, tensor.toStdString());
    QCOMPARE(loaded.shape, toShape(shape));
    QS_COMPARE_VALUES(loaded.data, values);
}

void TestNpy::listsNpzMembersInOrder()
{
    const auto deflated = openNpz(fixture("deflated.npz"));
    std::vector<std::string> names;
    for (const TensorInfo& info : deflated->tensors())
        names.push_back(info.name);
    QCOMPARE(names, (std::vector<std::string> {"a", "layer1/weight", "fortran", "zeros"}));

    const auto stored = openNpz(fixture("stored.npz"));
    QCOMPARE(stored->tensors().size(), std::size_t(2));
    QCOMPARE(stored->tensors()[0].name, std::string("a"));
    QCOMPARE(stored->tensors()[1].name, std::string("b"));
}

void TestNpy::reportsCorruptNpzMember_data()
{
    QTest::addColumn<QString>("file");
    QTest::newRow("stored, CRC mismatch") << "corrupt_member.npz";
    QTest::newRow("deflated, damaged stream") << "corrupt_deflate.npz";
}

void TestNpy::reportsCorruptNpzMember()
{
    QFETCH(QString, file);

    const auto opened = TensorFile::open(fixture(file));
    QCOMPARE(opened->tensors().size(), std::size_t(2));
    QS_COMPARE_VALUES(opened->load("good").data, (QList<float> {1, 2, 3}));
    const QString message = errorOf([&] { opened->load("bad"); });
    QS_VERIFY_ERROR(message, file, "tensor 'bad': cannot read member 'bad.npy'");
    QVERIFY2(message.contains("the archive is corrupt"), qPrintable(message));
    QS_COMPARE_VALUES(opened->load("good").data, (QList<float> {1, 2, 3}));
}

void TestNpy::rejectsUnknownTensorName()
{
    const auto npy = TensorFile::open(fixture("f4_v1.npy"));
    QS_VERIFY_ERROR(errorOf([&] { npy->load("f4_v2"); }), "f4_v1.npy", "no such tensor");
    QVERIFY(!npy->find("f4_v2"));
    const auto npz = TensorFile::open(fixture("deflated.npz"));
    QS_VERIFY_ERROR(errorOf([&] { npz->load("notes"); }), "deflated.npz", "tensor 'notes': no such tensor");
}

void TestNpy::transposesFortranOrder_data()
{
    QTest::addColumn<QList<qint64>>("shape");
    QTest::newRow("2-D, several blocks") << QList<qint64> {130, 70};
    QTest::newRow("2-D, one row") << QList<qint64> {1, 9};
    QTest::newRow("3-D with a unit axis") << QList<qint64> {3, 1, 5};
    QTest::newRow("4-D") << QList<qint64> {2, 3, 4, 5};
    QTest::newRow("empty") << QList<qint64> {0, 4};
}

void TestNpy::transposesFortranOrder()
{
    QFETCH(QList<qint64>, shape);

    const Shape dims = toShape(shape);
    const auto count = static_cast<std::size_t>(shapeElementCount(dims));
    std::vector<float> columnMajor(count);
    std::vector<float> expected(count);
    // Element at row-major position p has multi-index (i0..in-1); its column-major position is
    // i0 + d0*(i1 + d1*(i2 + ...)). Store p there so the transposed result must read 0, 1, 2, ...
    for (std::size_t p = 0; p < count; ++p) {
        std::size_t rest = p;
        std::vector<std::size_t> index(dims.size());
        for (std::size_t axis = dims.size(); axis-- > 0;) {
            index[axis] = rest % static_cast<std::size_t>(dims[axis]);
            rest /= static_cast<std::size_t>(dims[axis]);
        }
        std::size_t position = 0;
        for (std::size_t axis = dims.size(); axis-- > 0;)
            position = position * static_cast<std::size_t>(dims[axis]) + index[axis];
        columnMajor[position] = static_cast<float>(p);
        expected[p] = static_cast<float>(p);
    }
    std::vector<float> rowMajor(count, -1.0f);
    fortranToRowMajor(columnMajor.data(), dims, rowMajor.data());
    QCOMPARE(rowMajor, expected);
}

void TestNpy::roundTripsNpy_data()
{
    QTest::addColumn<int>("dtype");
    QTest::addColumn<QList<qint64>>("shape");
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<QString>("descr");
    QTest::addColumn<QList<float>>("values");

    QTest::newRow("F32 2-D") << int(DType::F32) << QList<qint64> {2, 3}
                             << rawBytes<float>({0.1f, -2.5f, 3e38f, -0.0f, 1e-45f, 7.0f}) << "<f4"
                             << QList<float> {0.1f, -2.5f, 3e38f, -0.0f, 1e-45f, 7.0f};
    QTest::newRow("F16") << int(DType::F16) << QList<qint64> {5}
                         << rawBytes<std::uint16_t>({0x3C00, 0xC000, 0x3555, 0x0001, 0x7C00}) << "<f2"
                         << QList<float> {1.0f, -2.0f, 0.333251953125f, std::ldexp(1.0f, -24), kInf};
    QTest::newRow("I8") << int(DType::I8) << QList<qint64> {2, 2} << rawBytes<std::int8_t>({-128, -1, 0, 127})
                        << "|i1" << QList<float> {-128, -1, 0, 127};
    QTest::newRow("U8") << int(DType::U8) << QList<qint64> {3} << rawBytes<std::uint8_t>({0, 128, 255})
                        << "|u1" << QList<float> {0, 128, 255};
    QTest::newRow("I16") << int(DType::I16) << QList<qint64> {2} << rawBytes<std::int16_t>({-300, 300})
                         << "<i2" << QList<float> {-300, 300};
    QTest::newRow("U16") << int(DType::U16) << QList<qint64> {1} << rawBytes<std::uint16_t>({65535}) << "<u2"
                         << QList<float> {65535};
    QTest::newRow("I32") << int(DType::I32) << QList<qint64> {2} << rawBytes<std::int32_t>({-70000, 16777217})
                         << "<i4" << QList<float> {-70000, 16777216};
    QTest::newRow("U32") << int(DType::U32) << QList<qint64> {1} << rawBytes<std::uint32_t>({4000000000u})
                         << "<u4" << QList<float> {4e9f};
    QTest::newRow("I64") << int(DType::I64) << QList<qint64> {2} << rawBytes<std::int64_t>({-(1LL << 40), 5})
                         << "<i8" << QList<float> {-1099511627776.0f, 5};
    QTest::newRow("U64") << int(DType::U64) << QList<qint64> {1} << rawBytes<std::uint64_t>({1ULL << 63})
                         << "<u8" << QList<float> {9223372036854775808.0f};
    QTest::newRow("F64") << int(DType::F64) << QList<qint64> {2} << rawBytes<double>({0.1, -1e30}) << "<f8"
                         << QList<float> {static_cast<float>(0.1), static_cast<float>(-1e30)};
    QTest::newRow("BOOL") << int(DType::BOOL) << QList<qint64> {3} << rawBytes<std::uint8_t>({1, 0, 1})
                          << "|b1" << QList<float> {1, 0, 1};
    QTest::newRow("F32 scalar") << int(DType::F32) << QList<qint64> {} << rawBytes<float>({-9.5f}) << "<f4"
                                << QList<float> {-9.5f};
    QTest::newRow("F32 empty") << int(DType::F32) << QList<qint64> {0, 3} << QByteArray() << "<f4"
                               << QList<float> {};
}

void TestNpy::roundTripsNpy()
{
    QFETCH(int, dtype);
    QFETCH(QList<qint64>, shape);
    QFETCH(QByteArray, raw);
    QFETCH(QString, descr);
    QFETCH(QList<float>, values);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath("round_trip.npy");
    const RawTensor tensor = makeRaw("ignored", DType(dtype), toShape(shape), raw);
    writeNpy(path.toStdString(), tensor);

    const std::vector<std::byte> encoded = encodeNpy(tensor);
    const QByteArray written = readAll(path);
    QCOMPARE(written.size(), qsizetype(encoded.size()));
    QVERIFY(std::memcmp(written.constData(), encoded.data(), encoded.size()) == 0);
    QCOMPARE((encoded.size() - raw.size()) % 64, std::size_t(0));

    const auto opened = TensorFile::open(path.toStdString());
    QCOMPARE(opened->formatName(), std::string("npy"));
    const TensorInfo& info = opened->tensors().front();
    QCOMPARE(info.name, std::string("round_trip"));
    QCOMPARE(QString::fromStdString(info.dtypeName), descr);
    QCOMPARE(info.dtype, DType(dtype));
    QCOMPARE(info.shape, toShape(shape));
    QCOMPARE(info.byteSize, std::uint64_t(raw.size()));
    QS_COMPARE_VALUES(opened->load("round_trip").data, values);
}

void TestNpy::encodesLikeNumpy()
{
    const RawTensor tensor
        = makeRaw("x", DType::F32, {2, 3}, rawBytes<float>({0.5f, -1.25f, 3.0f, 1024.0f, -0.0625f, 7.75f}));
    const std::vector<std::byte> encoded = encodeNpy(tensor);
    const QByteArray fixtureBytes = readAll(QString::fromStdString(fixture("f4_v1.npy")));
    QCOMPARE(
        QByteArray(reinterpret_cast<const char*>(encoded.data()), qsizetype(encoded.size())), fixtureBytes);

    const std::vector<std::byte> header = formatNpyHeader("<f4", {3});
    const QByteArray text(reinterpret_cast<const char*>(header.data()), qsizetype(header.size()));
    QVERIFY(text.startsWith(QByteArray("\x93NUMPY\x01\x00", 8)));
    QVERIFY(text.contains("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"));
    QVERIFY(text.endsWith(" \n"));
    QCOMPARE(header.size() % 64, std::size_t(0));
    QVERIFY(QByteArray(reinterpret_cast<const char*>(formatNpyHeader("|b1", {}, true).data()), 64)
                .contains("{'descr': '|b1', 'fortran_order': True, 'shape': (), }"));
}

void TestNpy::switchesToVersion2ForLongHeaders()
{
    const Shape shape(30000, 1);
    const std::vector<std::byte> header = formatNpyHeader("<f4", shape);
    QCOMPARE(int(header[6]), 2);
    QCOMPARE(header.size() % 64, std::size_t(0));
    const NpyHeader parsed = parseNpyHeader(header, "long.npy");
    QCOMPARE(parsed.majorVersion, 2);
    QCOMPARE(parsed.shape, shape);
    QCOMPARE(parsed.dataOffset, std::uint64_t(header.size()));
    QCOMPARE(parsed.dataSize, std::uint64_t(4));
}

void TestNpy::roundTripsNpz_data()
{
    QTest::addColumn<bool>("compress");
    QTest::newRow("stored") << false;
    QTest::newRow("deflated") << true;
}

void TestNpy::roundTripsNpz()
{
    QFETCH(bool, compress);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath("round_trip.npz");
    const std::vector<RawTensor> tensors {
        makeRaw("weight", DType::F32, {2, 3}, rawBytes<float>({1.5f, -2.0f, 0.1f, 1e-40f, -0.0f, 3e38f})),
        makeRaw("half", DType::F16, {4}, rawBytes<std::uint16_t>({0x3C00, 0xFBFF, 0x0400, 0x8001})),
        makeRaw("group/codes", DType::I8, {3}, rawBytes<std::int8_t>({-128, 5, 127})),
        makeRaw("scalar", DType::F32, {}, rawBytes<float>({6.25f})),
        makeRaw("nothing", DType::F32, {0}, {}),
        makeRaw("zeros", DType::F32, {1024}, QByteArray(4096, '\0')),
    };
    const QList<QList<float>> expected {
        {1.5f, -2.0f, 0.1f, 1e-40f, -0.0f, 3e38f},
        {1.0f, -65504.0f, std::ldexp(1.0f, -14), -std::ldexp(1.0f, -24)},
        {-128, 5, 127},
        {6.25f},
        {},
        QList<float>(1024, 0.0f),
    };
    const QStringList descrs {"<f4", "<f2", "|i1", "<f4", "<f4", "<f4"};
    writeNpz(path.toStdString(), tensors, compress);

    const auto opened = TensorFile::open(path.toStdString());
    QCOMPARE(opened->formatName(), std::string("npz"));
    QCOMPARE(opened->tensors().size(), tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const TensorInfo& info = opened->tensors()[i];
        QCOMPARE(info.name, tensors[i].name);
        QCOMPARE(info.shape, tensors[i].shape);
        QCOMPARE(info.dtype, tensors[i].dtype);
        QCOMPARE(QString::fromStdString(info.dtypeName), descrs[qsizetype(i)]);
        QVERIFY2(
            info.location.find(compress ? "deflated" : "stored") != std::string::npos, info.location.c_str());
        const Tensor loaded = opened->load(info.name);
        QCOMPARE(loaded.shape, tensors[i].shape);
        QS_COMPARE_VALUES(loaded.data, expected[qsizetype(i)]);
    }
    const qint64 size = QFileInfo(path).size();
    if (compress)
        QVERIFY2(size < 4096, qPrintable(QString::number(size)));
    else
        QVERIFY2(size > 4096 + 5 * 128, qPrintable(QString::number(size)));
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), QStringList {"round_trip.npz"});
}

void TestNpy::writesEmptyNpz()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = dir.filePath("empty.npz").toStdString();
    writeNpz(path, {}, true);
    const auto opened = TensorFile::open(path);
    QCOMPARE(opened->formatName(), std::string("npz"));
    QVERIFY(opened->tensors().empty());
}

void TestNpy::rejectsTypesNumpyLacks_data()
{
    QTest::addColumn<int>("dtype");
    QTest::addColumn<QString>("phrase");
    QTest::newRow("BF16") << int(DType::BF16) << "NumPy has no bfloat16 type";
    QTest::newRow("F8_E4M3") << int(DType::F8_E4M3) << "NumPy has no F8_E4M3 type";
    QTest::newRow("F8_E5M2") << int(DType::F8_E5M2) << "NumPy has no F8_E5M2 type";
}

void TestNpy::rejectsTypesNumpyLacks()
{
    QFETCH(int, dtype);
    QFETCH(QString, phrase);

    const RawTensor tensor
        = makeRaw("w", DType(dtype), {2}, QByteArray(2 * int(dtypeSize(DType(dtype))), '\1'));
    const QString encodeError = errorOf([&] { encodeNpy(tensor); });
    QVERIFY2(encodeError.startsWith("tensor 'w': cannot be saved as .npy"), qPrintable(encodeError));
    QVERIFY2(encodeError.contains(phrase), qPrintable(encodeError));

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString npyPath = dir.filePath("out.npy");
    QS_VERIFY_ERROR(errorOf([&] { writeNpy(npyPath.toStdString(), tensor); }), "out.npy", phrase);
    QVERIFY(!QFile::exists(npyPath));

    const QString npzPath = dir.filePath("out.npz");
    {
        QFile existing(npzPath);
        QVERIFY(existing.open(QIODevice::WriteOnly));
        existing.write("previous contents");
    }
    const RawTensor fine = makeRaw("ok", DType::F32, {1}, rawBytes<float>({1.0f}));
    for (const bool compress : {false, true})
        QS_VERIFY_ERROR(errorOf([&] {
            writeNpz(npzPath.toStdString(), {fine, tensor}, compress);
        }),
            "out.npz", phrase);
    QCOMPARE(readAll(npzPath), QByteArray("previous contents"));
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), QStringList {"out.npz"});
}

void TestNpy::rejectsInconsistentTensors()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = dir.filePath("bad.npz").toStdString();
    const RawTensor shortData = makeRaw("short", DType::F32, {2, 2}, rawBytes<float>({1.0f}));
    QS_VERIFY_ERROR(errorOf([&] { writeNpy(dir.filePath("bad.npy").toStdString(), shortData); }), "bad.npy",
        "tensor 'short': holds 4 data bytes, but shape [2, 2] of F32 needs 4 x 4 bytes");
    QVERIFY(errorOf([&] { encodeNpy(shortData); }).startsWith("tensor 'short': holds 4 data bytes"));

    const RawTensor one = makeRaw("same", DType::F32, {1}, rawBytes<float>({1.0f}));
    QS_VERIFY_ERROR(errorOf([&] { writeNpz(path, {one, one}, false); }), "bad.npz", "must be unique");
    QS_VERIFY_ERROR(
        errorOf([&] { writeNpz(path, {makeRaw("", DType::F32, {1}, rawBytes<float>({1.0f}))}, true); }),
        "bad.npz", "without a name");
    const RawTensor negative = makeRaw("neg", DType::F32, {-1}, {});
    QS_VERIFY_ERROR(errorOf([&] { writeNpz(path, {negative}, true); }), "bad.npz", "negative dimension");
    QVERIFY(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden).isEmpty());
}

void TestNpy::dispatchesByMagic_data()
{
    QTest::addColumn<QString>("source");
    QTest::addColumn<QString>("copyName");
    QTest::addColumn<QString>("format");
    QTest::addColumn<QString>("firstTensor");

    QTest::newRow("npy named .bin") << "f4_v1.npy"
                                    << "weights.bin"
                                    << "npy"
                                    << "weights";
    QTest::newRow("npy named .npz") << "f4_v1.npy"
                                    << "liar.npz"
                                    << "npy"
                                    << "liar";
    QTest::newRow("npz named .dat") << "stored.npz"
                                    << "archive.dat"
                                    << "npz"
                                    << "a";
    QTest::newRow("npz named .npy") << "deflated.npz"
                                    << "liar.npy"
                                    << "npz"
                                    << "a";
    QTest::newRow("npz without extension") << "deflated.npz"
                                           << "archive"
                                           << "npz"
                                           << "a";
}

void TestNpy::dispatchesByMagic()
{
    QFETCH(QString, source);
    QFETCH(QString, copyName);
    QFETCH(QString, format);
    QFETCH(QString, firstTensor);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(copyName);
    QVERIFY(QFile::copy(QString::fromStdString(fixture(source)), path));
    const auto opened = TensorFile::open(path.toStdString());
    QCOMPARE(QString::fromStdString(opened->formatName()), format);
    QCOMPARE(opened->path(), path.toStdString());
    QCOMPARE(QString::fromStdString(opened->tensors().front().name), firstTensor);
    QVERIFY(!opened->load(firstTensor.toStdString()).data.empty());
}

void TestNpy::loadsConcurrently_data()
{
    QTest::addColumn<QString>("file");
    QTest::newRow("npy") << "f4_fortran_3d.npy";
    QTest::newRow("stored npz") << "stored.npz";
    QTest::newRow("deflated npz") << "deflated.npz";
}

void TestNpy::loadsConcurrently()
{
    QFETCH(QString, file);

    const auto opened = TensorFile::open(fixture(file));
    std::vector<Tensor> reference;
    for (const TensorInfo& info : opened->tensors())
        reference.push_back(opened->load(info.name));

    std::atomic<int> mismatches {0};
    std::atomic<int> failures {0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 40; ++round) {
                for (std::size_t i = 0; i < reference.size(); ++i) {
                    const std::size_t which = (i + static_cast<std::size_t>(t)) % reference.size();
                    try {
                        if (opened->load(reference[which].name) != reference[which])
                            ++mismatches;
                    } catch (const std::exception&) {
                        ++failures;
                    }
                }
            }
        });
    }
    for (std::thread& thread : threads)
        thread.join();
    QCOMPARE(failures.load(), 0);
    QCOMPARE(mismatches.load(), 0);
}

QTEST_APPLESS_MAIN(TestNpy)
#include "tst_npy.moc"
