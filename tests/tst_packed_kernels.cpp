// Packed quantize and dequantize against the reference quantizer: the bytes against qs::quantize's codes
// packed here (element formats) or packBlockFormat (NF4, MXFP4), the scales, zero points and counts
// against QuantizedTensor's, and the dequantized values against qs::dequantize bit for bit, on every SIMD
// target this CPU runs and on 1, 2 and 3 threads.

#include "base/error.h"
#include "benchmarks/cuda/table_bin_edges.h"
#include "formats/number_format.h"
#include "kernels/packed_kernels.h"
#include "quant/block_formats.h"
#include "quant/quantizer.h"

#include <QtTest>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace qs;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
const int kThreadCounts[] = {1, 2, 3};

Scheme elementScheme(
    const NumberFormat& format, Granularity granularity, RangeMode mode = RangeMode::SymmetricNarrow)
{
    Scheme scheme;
    scheme.format = format;
    scheme.granularity = granularity;
    scheme.rangeMode = mode;
    return scheme;
}

Scheme blockScheme(BlockFormat format, std::int64_t blockSize = 0)
{
    Scheme scheme;
    scheme.blockFormat = format;
    scheme.blockSize = blockSize;
    return scheme;
}

struct NamedScheme {
    const char* name;
    Scheme scheme;
};

std::vector<NamedScheme> schemes()
{
    const Granularity tensor = Granularity::perTensor();
    const Granularity channel = Granularity::perChannel(0);
    const NumberFormat int8 = integerFormat(8, true);
    const NumberFormat int4 = integerFormat(4, true);
    std::vector<NamedScheme> list {
        {"int8 sym tensor", elementScheme(int8, tensor)},
        {"int8 sym channel", elementScheme(int8, channel)},
        {"int8 symfull group32", elementScheme(int8, Granularity::perGroup(32), RangeMode::SymmetricFull)},
        {"int8 affine channel", elementScheme(int8, channel, RangeMode::Affine)},
        {"int8 affine group128", elementScheme(int8, Granularity::perGroup(128), RangeMode::Affine)},
        {"uint8 affine tensor", elementScheme(integerFormat(8, false), tensor, RangeMode::Affine)},
        {"int8 sym block4x7", elementScheme(int8, Granularity::block2D(4, 7))},
        {"int4 sym tensor", elementScheme(int4, tensor)},
        {"int4 sym group128", elementScheme(int4, Granularity::perGroup(128))},
        {"int4 affine group32", elementScheme(int4, Granularity::perGroup(32), RangeMode::Affine)},
        {"int4 affine channel", elementScheme(int4, channel, RangeMode::Affine)},
        {"uint4 affine group7",
            elementScheme(integerFormat(4, false), Granularity::perGroup(7), RangeMode::Affine)},
        {"fp8_e4m3 tensor", elementScheme(fp8E4M3Format(), tensor)},
        {"fp8_e4m3 channel", elementScheme(fp8E4M3Format(), channel)},
        {"fp8_e4m3 group32", elementScheme(fp8E4M3Format(), Granularity::perGroup(32))},
        {"bnb_nf4 64", blockScheme(BlockFormat::BnbNF4)},
        {"bnb_nf4 32", blockScheme(BlockFormat::BnbNF4, 32)},
        {"bnb_nf4 128", blockScheme(BlockFormat::BnbNF4, 128)},
        {"mxfp4 32", blockScheme(BlockFormat::MXFP4)},
        {"mxfp4 7", blockScheme(BlockFormat::MXFP4, 7)},
        {"mxfp4 1", blockScheme(BlockFormat::MXFP4, 1)},
    };
    Scheme divide = elementScheme(int8, channel);
    divide.arithmetic = ScaleArithmetic::Divide;
    list.push_back({"int8 sym channel divide", divide});
    Scheme away = elementScheme(int4, Granularity::perGroup(32), RangeMode::Affine);
    away.elementRounding = Rounding::NearestAway;
    away.arithmetic = ScaleArithmetic::Divide;
    list.push_back({"int4 affine group32 ties-away divide", away});
    Scheme e8m0 = elementScheme(int8, Granularity::perGroup(32));
    e8m0.scaleFormat = ScaleFormat::E8M0;
    list.push_back({"int8 group32 e8m0 scales", e8m0});
    Scheme bf16Scales = elementScheme(fp8E4M3Format(), Granularity::perGroup(32));
    bf16Scales.scaleFormat = ScaleFormat::BF16;
    list.push_back({"fp8_e4m3 group32 bf16 scales", bf16Scales});
    NumberFormat e4m3Away = fp8E4M3Format();
    e4m3Away.minifloat.rounding = Rounding::NearestAway;
    list.push_back({"fp8_e4m3 ties-away channel", elementScheme(e4m3Away, channel)});
    const E8M0Rounding roundings[] = {E8M0Rounding::Ceil, E8M0Rounding::Even, E8M0Rounding::RCeil};
    const char* roundingNames[] = {"mxfp4 ceil ties-away", "mxfp4 even", "mxfp4 rceil"};
    for (int r = 0; r < 3; ++r) {
        Scheme mx = blockScheme(BlockFormat::MXFP4);
        mx.e8m0Rounding = roundings[r];
        if (r == 0)
            mx.elementRounding = Rounding::NearestAway;
        list.push_back({roundingNames[r], mx});
    }
    return list;
}

std::vector<float> randomNormal(std::size_t n, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> values(n);
    for (float& v : values)
        v = normal(rng);
    return values;
}

/// The reference bytes: qs::quantize's codes in the documented layout, or packBlockFormat.
std::vector<std::uint8_t> referenceBytes(const QuantizedTensor& q)
{
    if (q.scheme.blockFormat != BlockFormat::None)
        return packBlockFormat(q);
    const auto* integer = std::get_if<IntegerSpec>(&q.scheme.format.spec);
    std::vector<std::uint8_t> bytes;
    if (integer && integer->bits == 4) {
        for (std::size_t i = 0; i < q.codes.size(); i += 2) {
            const int low = q.codes[i] & 0x0F;
            const int high = i + 1 < q.codes.size() ? q.codes[i + 1] & 0x0F : 0;
            bytes.push_back(static_cast<std::uint8_t>(low | (high << 4)));
        }
        return bytes;
    }
    for (const std::int32_t code : q.codes)
        bytes.push_back(static_cast<std::uint8_t>(code & 0xFF));
    return bytes;
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

QByteArray firstDifference(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b)
{
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        if (a[i] != b[i])
            return QByteArray("byte ") + QByteArray::number(qulonglong(i)) + ": " + QByteArray::number(a[i])
                + " vs " + QByteArray::number(b[i]);
    return QByteArray("sizes ") + QByteArray::number(qulonglong(a.size())) + " vs "
        + QByteArray::number(qulonglong(b.size()));
}

QByteArray firstDifference(const std::vector<float>& a, const std::vector<float>& b)
{
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        if (std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i]))
            return QByteArray("value ") + QByteArray::number(qulonglong(i)) + ": "
                + QByteArray::number(a[i], 'g', 9) + " vs " + QByteArray::number(b[i], 'g', 9);
    return QByteArray("sizes ") + QByteArray::number(qulonglong(a.size())) + " vs "
        + QByteArray::number(qulonglong(b.size()));
}

/// The scales must be the reference's bit for bit (NaN scales of MX blocks included).
bool sameScales(const std::vector<float>& a, const std::vector<float>& b)
{
    return sameBits(a, b);
}

/// Random data with an all-zero first row, a ragged shape and, with `specials`, NaN, ±Inf, subnormals, -0
/// and ties of the grids (multiples of small powers of two).
std::vector<float> caseValues(std::int64_t n, unsigned seed, bool specials)
{
    std::vector<float> values = randomNormal(static_cast<std::size_t>(n), seed);
    for (std::int64_t i = 0; i < std::min<std::int64_t>(n, 300); ++i)
        values[static_cast<std::size_t>(i)] = 0;
    if (specials) {
        for (std::int64_t i = 3000; i < std::min<std::int64_t>(n, 5000); ++i)
            values[static_cast<std::size_t>(i)]
                = std::ldexp(static_cast<float>(static_cast<int>(i % 97) - 48), -3 - int(i % 5));
        const std::pair<std::int64_t, float> marks[] = {{400, kNaN}, {777, kInf}, {1500, -kInf},
            {2001, 1e-42f}, {2002, -3e-39f}, {2003, -0.0f}, {2004, -1e-45f}, {n - 1, 1e30f}};
        for (const auto& [index, value] : marks)
            if (index < n)
                values[static_cast<std::size_t>(index)] = value;
    }
    return values;
}

/// Checks one tensor on every backend, target and thread count.
void checkPacked(const Tensor& tensor, const Scheme& scheme)
{
    const QuantizedTensor q = quantize(tensor, scheme);
    const std::vector<std::uint8_t> bytes = referenceBytes(q);
    const std::vector<float> values = dequantize(q).data;
    const auto check = [&](Backend backend, int threads, const QByteArray& where) {
        const PackedTensor packed = packedQuantize(backend, tensor.values(), tensor.shape, scheme, threads);
        QVERIFY2(packed.bytes == bytes, where + " " + firstDifference(packed.bytes, bytes));
        QVERIFY2(sameScales(packed.scales, q.scales), where + " scales");
        if (scheme.blockFormat == BlockFormat::None)
            QVERIFY2(packed.zeroPoints == q.zeroPoints, where + " zero points");
        QVERIFY2(packed.clippedCount == q.clippedCount,
            where + " clipped " + QByteArray::number(qlonglong(packed.clippedCount)) + " vs "
                + QByteArray::number(qlonglong(q.clippedCount)));
        QVERIFY2(packed.nonFiniteCount == q.nonFiniteCount, where + " non-finite");
        const std::vector<float> decoded = packedDequantize(backend, packed, tensor.shape, scheme, threads);
        QVERIFY2(sameBits(decoded, values), where + " dequantized " + firstDifference(decoded, values));
        // Into a tensor left over from other work (every field stale) and into an output of stale values.
        PackedTensor reused {{1, 2, 3}, {4.0f, 5.0f}, {6}, 7, 8};
        packedQuantizeInto(backend, tensor.values(), tensor.shape, scheme, reused, threads);
        QVERIFY2(reused.bytes == packed.bytes && sameScales(reused.scales, packed.scales)
                && reused.zeroPoints == packed.zeroPoints && reused.clippedCount == packed.clippedCount
                && reused.nonFiniteCount == packed.nonFiniteCount,
            where + " packedQuantizeInto");
        std::vector<float> into(decoded.size(), 9.0f);
        packedDequantizeInto(backend, packed, tensor.shape, scheme, into, threads);
        QVERIFY2(sameBits(into, values), where + " packedDequantizeInto " + firstDifference(into, values));
    };
    const std::vector<std::string> targets = simdTargets();
    for (const int threads : kThreadCounts) {
        check(Backend::Scalar, threads, "scalar");
        if (QTest::currentTestFailed())
            return;
        for (const std::string& target : targets) {
            setSimdTarget(target);
            check(Backend::Simd, threads, QByteArray::fromStdString(target));
            if (QTest::currentTestFailed())
                break;
        }
        setSimdTarget("");
        if (QTest::currentTestFailed())
            return;
    }
}

} // namespace

class TestPackedKernels : public QObject {
    Q_OBJECT

private slots:
    void matchesReference_data()
    {
        QTest::addColumn<int>("index");
        QTest::addColumn<bool>("specials");
        QTest::addColumn<int>("shapeKind");
        const auto list = schemes();
        for (std::size_t i = 0; i < list.size(); ++i) {
            QTest::addRow("%s random", list[i].name) << int(i) << false << 0;
            QTest::addRow("%s edge", list[i].name) << int(i) << true << 0;
            QTest::addRow("%s 3-d odd", list[i].name) << int(i) << true << 1;
        }
    }

    /// Random and edge data (ties, NaN, ±Inf, subnormals, -0, all-zero groups, ragged last groups, an odd
    /// element count for the nibble layouts).
    void matchesReference()
    {
        QFETCH(int, index);
        QFETCH(bool, specials);
        QFETCH(int, shapeKind);
        const Scheme scheme = schemes()[static_cast<std::size_t>(index)].scheme;
        const Shape shape = shapeKind == 0 ? Shape {37, 300} : Shape {3, 5, 4103};
        const std::int64_t n = shapeElementCount(shape);
        const Tensor tensor {"t", shape, caseValues(n, 7 + unsigned(index), specials)};
        checkPacked(tensor, scheme);
    }

    /// The grid of the element format, its midpoints (ties) and the floats beside them at scale 1 (the
    /// range is ±max), with NaN, ±Inf and subnormals.
    void elementEdgeValues_data()
    {
        QTest::addColumn<int>("index");
        const auto list = schemes();
        for (std::size_t i = 0; i < list.size(); ++i)
            if (list[i].scheme.blockFormat == BlockFormat::None)
                QTest::addRow("%s", list[i].name) << int(i);
    }

    void elementEdgeValues()
    {
        QFETCH(int, index);
        Scheme scheme = schemes()[static_cast<std::size_t>(index)].scheme;
        scheme.granularity = Granularity::perTensor();
        scheme.scaleFormat = ScaleFormat::F32;
        const std::vector<double> grid = formatValues(scheme.format);
        const double top = formatMaxFinite(scheme.format);
        std::vector<float> values;
        for (std::size_t i = 0; i < grid.size(); ++i) {
            values.push_back(static_cast<float>(grid[i]));
            if (i + 1 < grid.size()) {
                const auto middle = static_cast<float>((grid[i] + grid[i + 1]) / 2);
                values.insert(
                    values.end(), {middle, std::nextafter(middle, -kInf), std::nextafter(middle, kInf)});
            }
        }
        values.insert(values.end(),
            {static_cast<float>(top), static_cast<float>(-top), 0.0f, -0.0f, 1e-45f, -1e-45f, 3e-39f, -1e-38f,
                FLT_MIN, kNaN, -kNaN, kInf, -kInf});
        const Tensor tensor {"edge", {static_cast<std::int64_t>(values.size())}, values};
        checkPacked(tensor, scheme);
    }

    /// Floats every 4099 bit patterns from 2^-31 to past 448, both signs, through E4M3 per tensor (scale 1:
    /// every binade of the format, its subnormals and the rounding beyond its largest value) and MXFP4 (the
    /// E2M1 grid and its subnormal, at every block exponent the range holds).
    void minifloatSweep()
    {
        std::vector<float> values;
        for (std::uint32_t bits = 0x30000000u; bits <= 0x43F00000u; bits += 4099) {
            const float v = std::bit_cast<float>(bits);
            values.insert(values.end(), {v, -v});
        }
        values.push_back(448.0f);
        while (values.size() % 32 != 0)
            values.push_back(0.0f);
        const Tensor tensor {"sweep", {static_cast<std::int64_t>(values.size() / 32), 32}, values};
        checkPacked(tensor, elementScheme(fp8E4M3Format(), Granularity::perTensor()));
        checkPacked(tensor, blockScheme(BlockFormat::MXFP4));
    }

    /// bitsandbytes NF4 blocks of absmax 1 (s = x) holding the floats beside every decision threshold and
    /// every boundary of the 16 bins the SIMD packing takes (table_bins.h), with a NaN.
    void nf4BinEdges()
    {
        std::vector<float> values = testing::bnbNf4BinEdgeBlocks(16, 2);
        QVERIFY(values.size() > 100);
        values[100] = kNaN;
        const Tensor tensor {"bin edges", {static_cast<std::int64_t>(values.size() / 64), 64}, values};
        checkPacked(tensor, blockScheme(BlockFormat::BnbNF4));
    }

    /// Sizes around the vector width and the chunk size, so every target takes its tails.
    void sizesAroundTheVectorWidth()
    {
        const Scheme list[] = {elementScheme(integerFormat(4, true), Granularity::perGroup(5)),
            elementScheme(fp8E4M3Format(), Granularity::perTensor()), blockScheme(BlockFormat::BnbNF4),
            blockScheme(BlockFormat::MXFP4, 3)};
        for (const Scheme& scheme : list) {
            for (const std::int64_t n : {0, 1, 2, 15, 16, 17, 31, 33, 4095, 4097}) {
                const Tensor tensor {"t", {n}, randomNormal(static_cast<std::size_t>(n), unsigned(n))};
                checkPacked(tensor, scheme);
                if (QTest::currentTestFailed())
                    return;
            }
        }
    }

    void rejectsBadInput()
    {
        const std::vector<float> values(64, 1.0f);
        const auto message = [&](const Scheme& scheme, Shape shape) {
            try {
                packedQuantize(Backend::Scalar, values, shape, scheme);
            } catch (const Error& e) {
                return QString::fromStdString(e.what());
            }
            return QString();
        };
        QCOMPARE(message(elementScheme(integerFormat(6, true), Granularity::perTensor()), {64}),
            QStringLiteral("packedQuantize: integer formats pack at 8 or 4 bits, not 6"));
        QCOMPARE(message(elementScheme(fp8E5M2Format(), Granularity::perTensor()), {64}),
            QStringLiteral("packedQuantize: number format 'fp8_e5m2' has no packed layout (packed element "
                           "formats: 8- and 4-bit integers, fp8_e4m3)"));
        QCOMPARE(message(blockScheme(BlockFormat::NVFP4), {64}),
            QStringLiteral("packedQuantize: block format nvfp4 has no packed kernel (packed block formats: "
                           "bnb_nf4, mxfp4)"));
        Scheme doubleQuant = blockScheme(BlockFormat::BnbNF4);
        doubleQuant.doubleQuantization = true;
        QCOMPARE(message(doubleQuant, {64}),
            QStringLiteral("packedQuantize: bitsandbytes double quantization has no packed kernel"));
        QCOMPARE(message(elementScheme(integerFormat(8, true), Granularity::perTensor()), {65}),
            QStringLiteral("packedQuantize: shape [65] needs 65 values, got 64"));
        QCOMPARE(message(blockScheme(BlockFormat::BnbNF4, 48), {64}),
            QStringLiteral("packedQuantize: bitsandbytes bnb_nf4 accepts block sizes 32, 64, 128, ..., 4096, "
                           "not 48"));

        const Scheme int8 = elementScheme(integerFormat(8, true), Granularity::perTensor());
        PackedTensor packed = packedQuantize(Backend::Simd, values, {64}, int8);
        QCOMPARE(packed.bytes.size(), std::size_t {64});
        packed.bytes.pop_back();
        QVERIFY_THROWS_EXCEPTION(Error, packedDequantize(Backend::Simd, packed, {64}, int8));
        try {
            packedDequantize(Backend::Simd, packed, {64}, int8);
        } catch (const Error& e) {
            QCOMPARE(QString::fromStdString(e.what()),
                QStringLiteral("packedDequantize: int8 sym tensor on [64] takes 64 bytes, got 63"));
        }
        packed.bytes.push_back(0);
        std::vector<float> shortOutput(63);
        try {
            packedDequantizeInto(Backend::Simd, packed, {64}, int8, shortOutput);
            QFAIL("an output of 63 floats for 64 elements was taken");
        } catch (const Error& e) {
            QCOMPARE(QString::fromStdString(e.what()),
                QStringLiteral("packedDequantize: shape [64] has 64 elements, the output holds 63"));
        }
        packed.scales.clear();
        QVERIFY_THROWS_EXCEPTION(Error, packedDequantize(Backend::Scalar, packed, {64}, int8));
        if (!backendAvailable(Backend::Cuda))
            QVERIFY_THROWS_EXCEPTION(Error, packedQuantize(Backend::Cuda, values, {64}, int8));
        Scheme blocks2d = int8;
        blocks2d.granularity = Granularity::block2D(2, 2);
        if (backendAvailable(Backend::Cuda))
            QVERIFY_THROWS_EXCEPTION(Error, packedQuantize(Backend::Cuda, values, {8, 8}, blocks2d));
    }
};

QTEST_APPLESS_MAIN(TestPackedKernels)
#include "tst_packed_kernels.moc"
