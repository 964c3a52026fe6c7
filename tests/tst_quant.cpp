#include "base/error.h"
#include "formats/number_format.h"
#include "quant/block_formats.h"
#include "quant/compare_matrix.h"
#include "quant/quantizer.h"
#include "quant/scale_rounding.h"
#include "quant/scheme.h"

#include <QtTest>
#include <atomic>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>

using namespace qs;

namespace {

template<class T> QByteArray text(const std::vector<T>& values)
{
    std::ostringstream out;
    out.precision(9);
    out << "{";
    for (std::size_t i = 0; i < values.size(); ++i)
        out << (i ? ", " : "") << values[i];
    out << "}";
    return QByteArray::fromStdString(out.str());
}

#define QCOMPARE_VEC(actual, expected)                                                                       \
    do {                                                                                                     \
        const auto qsActual = (actual);                                                                      \
        const auto qsExpected = (expected);                                                                  \
        QVERIFY2(qsActual == qsExpected, text(qsActual) + " != " + text(qsExpected));                        \
    } while (false)

Tensor tensorOf(Shape shape, std::vector<float> values)
{
    return Tensor {"t", std::move(shape), std::move(values)};
}

Scheme schemeOf(const NumberFormat& format, Granularity granularity = Granularity::perTensor(),
    RangeMode mode = RangeMode::SymmetricNarrow)
{
    Scheme scheme;
    scheme.format = format;
    scheme.granularity = granularity;
    scheme.rangeMode = mode;
    return scheme;
}

std::vector<float> randomNormal(std::size_t n, unsigned seed, float sigma = 1.0f)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, sigma);
    std::vector<float> values(n);
    for (float& v : values)
        v = normal(rng);
    return values;
}

bool sameBits(float a, float b)
{
    return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
}

} // namespace

class TestQuant : public QObject {
    Q_OBJECT

private slots:
    // ---- Granularity spellings ----

    void parseGranularity_data()
    {
        QTest::addColumn<QString>("spelling");
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("axis");
        QTest::addColumn<qint64>("size");
        QTest::addColumn<qint64>("cols");
        QTest::addColumn<QString>("canonical");
        using K = Granularity::Kind;
        QTest::newRow("tensor") << "tensor" << int(K::PerTensor) << 0 << qint64(0) << qint64(0) << "tensor";
        QTest::newRow("channel") << "channel" << int(K::PerChannel) << 0 << qint64(0) << qint64(0)
                                 << "channel:0";
        QTest::newRow("channel:1") << "CHANNEL:1" << int(K::PerChannel) << 1 << qint64(0) << qint64(0)
                                   << "channel:1";
        QTest::newRow("channel:-1") << "channel:-1" << int(K::PerChannel) << -1 << qint64(0) << qint64(0)
                                    << "channel:-1";
        QTest::newRow("group:128") << "group:128" << int(K::PerGroup) << -1 << qint64(128) << qint64(0)
                                   << "group:128";
        QTest::newRow("group:32:0") << "group:32:0" << int(K::PerGroup) << 0 << qint64(32) << qint64(0)
                                    << "group:32:0";
        QTest::newRow("block") << "block:128x64" << int(K::Block2D) << 0 << qint64(128) << qint64(64)
                               << "block:128x64";
    }

    void parseGranularity()
    {
        QFETCH(QString, spelling);
        QFETCH(int, kind);
        QFETCH(int, axis);
        QFETCH(qint64, size);
        QFETCH(qint64, cols);
        QFETCH(QString, canonical);
        const Granularity g = qs::parseGranularity(spelling.toStdString());
        QCOMPARE(int(g.kind), kind);
        if (g.kind == Granularity::Kind::Block2D) {
            QCOMPARE(g.blockRows, size);
            QCOMPARE(g.blockCols, cols);
        } else {
            QCOMPARE(g.axis, axis);
            QCOMPARE(g.groupSize, size);
        }
        QCOMPARE(QString::fromStdString(granularityName(g)), canonical);
        QCOMPARE(qs::parseGranularity(granularityName(g)), g);
    }

    void parseGranularityRejectsBadSpellings()
    {
        for (const char* bad : {"", "tensors", "tensor:1", "channel:x", "channel:1:2", "group", "group:0",
                 "group:-4", "group:12abc", "group:32:a", "block:128", "block:0x4", "block:4x", "block:axb"})
            QVERIFY_THROWS_EXCEPTION(qs::Error, qs::parseGranularity(bad));
    }

    // ---- Group layouts ----

    void layoutPerTensor()
    {
        const GroupLayout l = groupLayout(schemeOf(integerFormat(8, true)), {2, 3});
        QCOMPARE(l.groupCount, qint64(1));
        QCOMPARE_VEC(l.groupOfElement, (std::vector<std::int64_t> {0, 0, 0, 0, 0, 0}));
    }

    void layoutPerChannel()
    {
        const NumberFormat int8 = integerFormat(8, true);
        GroupLayout l = groupLayout(schemeOf(int8, Granularity::perChannel(0)), {2, 3});
        QCOMPARE(l.groupCount, qint64(2));
        QCOMPARE_VEC(l.groupOfElement, (std::vector<std::int64_t> {0, 0, 0, 1, 1, 1}));
        l = groupLayout(schemeOf(int8, Granularity::perChannel(1)), {2, 3});
        QCOMPARE(l.groupCount, qint64(3));
        QCOMPARE_VEC(l.groupOfElement, (std::vector<std::int64_t> {0, 1, 2, 0, 1, 2}));
        QCOMPARE_VEC(groupLayout(schemeOf(int8, Granularity::perChannel(-1)), {2, 3}).groupOfElement,
            l.groupOfElement);
        // Middle axis of [2, 3, 2]: the channel is the middle index.
        l = groupLayout(schemeOf(int8, Granularity::perChannel(1)), {2, 3, 2});
        QCOMPARE(l.groupCount, qint64(3));
        QCOMPARE_VEC(l.groupOfElement, (std::vector<std::int64_t> {0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2}));
    }

    void layoutPerGroupWithRaggedLastGroup()
    {
        const NumberFormat int4 = integerFormat(4, true);
        GroupLayout l = groupLayout(schemeOf(int4, Granularity::perGroup(2)), {2, 5});
        QCOMPARE(l.groupCount, qint64(6));
        QCOMPARE_VEC(l.groupOfElement, (std::vector<std::int64_t> {0, 0, 1, 1, 2, 3, 3, 4, 4, 5}));
        // Groups along axis 0 of [5, 2]: group = column * ceil(5/2) + row / 2.
        l = groupLayout(schemeOf(int4, Granularity::perGroup(2, 0)), {5, 2});
        QCOMPARE(l.groupCount, qint64(6));
        QCOMPARE_VEC(l.groupOfElement, (std::vector<std::int64_t> {0, 3, 0, 3, 1, 4, 1, 4, 2, 5}));
        QCOMPARE_VEC(groupLayout(schemeOf(int4, Granularity::perGroup(2, -2)), {5, 2}).groupOfElement,
            l.groupOfElement);
        // A group larger than the axis is one ragged group per row.
        l = groupLayout(schemeOf(int4, Granularity::perGroup(128)), {3, 4});
        QCOMPARE(l.groupCount, qint64(3));
        QCOMPARE_VEC(l.groupOfElement, (std::vector<std::int64_t> {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}));
    }

    void layoutBlocksWithRaggedEdges()
    {
        const NumberFormat fp8 = fp8E4M3Format();
        GroupLayout l = groupLayout(schemeOf(fp8, Granularity::block2D(2, 2)), {3, 5});
        QCOMPARE(l.groupCount, qint64(6));
        QCOMPARE_VEC(
            l.groupOfElement, (std::vector<std::int64_t> {0, 0, 1, 1, 2, 0, 0, 1, 1, 2, 3, 3, 4, 4, 5}));
        // Leading axes get their own blocks: [2, 3, 3] with 2x2 blocks = 2 * 2 * 2 groups.
        l = groupLayout(schemeOf(fp8, Granularity::block2D(2, 2)), {2, 3, 3});
        QCOMPARE(l.groupCount, qint64(8));
        QCOMPARE_VEC(l.groupOfElement,
            (std::vector<std::int64_t> {0, 0, 1, 0, 0, 1, 2, 2, 3, //
                4, 4, 5, 4, 4, 5, 6, 6, 7}));
        QCOMPARE(groupCount(schemeOf(fp8, Granularity::block2D(128, 128)), {4096, 4096}), qint64(32 * 32));
        QCOMPARE(groupCount(schemeOf(fp8, Granularity::block2D(128, 128)), {300, 129}), qint64(3 * 2));
    }

    void layoutOfBlockFormats()
    {
        Scheme mx;
        mx.blockFormat = BlockFormat::MXFP4;
        const GroupLayout l = groupLayout(mx, {2, 40});
        QCOMPARE(l.groupCount, qint64(4));
        QCOMPARE(l.groupOfElement[31], qint64(0));
        QCOMPARE(l.groupOfElement[32], qint64(1));
        QCOMPARE(l.groupOfElement[39], qint64(1));
        QCOMPARE(l.groupOfElement[40], qint64(2));
        QCOMPARE(l.groupOfElement[79], qint64(3));
    }

    void layoutErrors()
    {
        const NumberFormat int8 = integerFormat(8, true);
        QVERIFY_THROWS_EXCEPTION(qs::Error, groupLayout(schemeOf(int8, Granularity::perChannel(2)), {2, 3}));
        QVERIFY_THROWS_EXCEPTION(qs::Error, groupLayout(schemeOf(int8, Granularity::perChannel(-3)), {2, 3}));
        QVERIFY_THROWS_EXCEPTION(qs::Error, groupLayout(schemeOf(int8, Granularity::perChannel(0)), {}));
        QVERIFY_THROWS_EXCEPTION(qs::Error, groupLayout(schemeOf(int8, Granularity::perGroup(0)), {2, 3}));
        QVERIFY_THROWS_EXCEPTION(qs::Error, groupLayout(schemeOf(int8, Granularity::perGroup(-1)), {2, 3}));
        QVERIFY_THROWS_EXCEPTION(qs::Error, groupLayout(schemeOf(int8, Granularity::perGroup(4, 2)), {2, 3}));
        QVERIFY_THROWS_EXCEPTION(qs::Error, groupLayout(schemeOf(int8, Granularity::block2D(2, 2)), {6}));
        QVERIFY_THROWS_EXCEPTION(qs::Error, groupLayout(schemeOf(int8, Granularity::block2D(0, 2)), {6, 6}));
        Scheme ggml;
        ggml.blockFormat = BlockFormat::GgmlQ4_0;
        ggml.blockSize = 64;
        QVERIFY_THROWS_EXCEPTION(qs::Error, groupLayout(ggml, {2, 64}));
        // quantize reports the same problem.
        QVERIFY_THROWS_EXCEPTION(qs::Error,
            quantize(tensorOf({2, 3}, {1, 2, 3, 4, 5, 6}), schemeOf(int8, Granularity::perChannel(5))));
    }

    // ---- Integer range modes ----

    void int8SymmetricNarrow()
    {
        // amax 1.27 -> scale = 1.27f / 127 = 0.01f; q = nearbyint(x * 100).
        const Tensor t = tensorOf({7}, {-1.27f, 0.5f, -0.3f, 1.0f, 0.004f, 0.126f, 1.27f});
        const QuantizedTensor q = quantize(t, Scheme {});
        QCOMPARE_VEC(q.scales, std::vector<float> {0.01f});
        QVERIFY(q.zeroPoints.empty());
        QCOMPARE_VEC(q.codes, (std::vector<std::int32_t> {-127, 50, -30, 100, 0, 13, 127}));
        QCOMPARE(q.clippedCount, qint64(0));
        const Tensor back = dequantize(q);
        for (std::size_t i = 0; i < back.data.size(); ++i)
            QCOMPARE(back.data[i], float(q.codes[i]) * 0.01f);
        QCOMPARE(back.data[3], 1.0f);
    }

    void int8SymmetricFullReachesMinus128()
    {
        // PyTorch: scale = amax / 127.5 = 0.01f; -1.275 -> -127.5 -> -128 (even), +1.275 -> 128 -> clipped to
        // 127.
        const Tensor t = tensorOf({2}, {-1.275f, 1.275f});
        Scheme s;
        s.rangeMode = RangeMode::SymmetricFull;
        const QuantizedTensor q = quantize(t, s);
        QCOMPARE_VEC(q.scales, std::vector<float> {0.01f});
        QCOMPARE_VEC(q.codes, (std::vector<std::int32_t> {-128, 127}));
        QCOMPARE(q.clippedCount, qint64(1));
        QCOMPARE(dequantize(q).data[0], -1.28f);
    }

    void affineWithZeroPoint()
    {
        // ReLU data in [0, 2.55]: scale = 2.55f / 255 = 0.01f, zp = round(0 - 0/scale) = 0.
        const Tensor relu = tensorOf({5}, {0.0f, 0.01f, 1.0f, 2.55f, 1.28f});
        Scheme s = schemeOf(integerFormat(8, false), Granularity::perTensor(), RangeMode::Affine);
        QuantizedTensor q = quantize(relu, s);
        QCOMPARE_VEC(q.scales, std::vector<float> {0.01f});
        QCOMPARE_VEC(q.zeroPoints, std::vector<std::int32_t> {0});
        QCOMPARE_VEC(q.codes, (std::vector<std::int32_t> {0, 1, 100, 255, 128}));
        QCOMPARE(dequantize(q).data[0], 0.0f);
        // The same data in int8: zp = -128 - round(0/scale) = -128.
        s.format = integerFormat(8, true);
        q = quantize(relu, s);
        QCOMPARE_VEC(q.zeroPoints, std::vector<std::int32_t> {-128});
        QCOMPARE_VEC(q.codes, (std::vector<std::int32_t> {-128, -127, -28, 127, 0}));
        // [-1, 3] in uint8: scale = 4/255, zp = 0 - round(-1 / scale) = round(63.75) = 64.
        s.format = integerFormat(8, false);
        q = quantize(tensorOf({2}, {-1.0f, 3.0f}), s);
        QCOMPARE_VEC(q.scales, std::vector<float> {4.0f / 255.0f});
        QCOMPARE_VEC(q.zeroPoints, std::vector<std::int32_t> {64});
        QCOMPARE_VEC(q.codes, (std::vector<std::int32_t> {0, 255}));
        QCOMPARE(dequantize(q).data[1], float(255 - 64) * (4.0f / 255.0f));
        // min/max are widened to include 0: [2, 3] is quantized as [0, 3].
        q = quantize(tensorOf({2}, {2.0f, 3.0f}), s);
        QCOMPARE_VEC(q.scales, std::vector<float> {3.0f / 255.0f});
        QCOMPARE_VEC(q.zeroPoints, std::vector<std::int32_t> {0});
    }

    void unsignedSymmetricIsOneSided()
    {
        const QuantizedTensor q
            = quantize(tensorOf({3}, {-1.0f, 0.0f, 2.55f}), schemeOf(integerFormat(8, false)));
        QCOMPARE_VEC(q.scales, std::vector<float> {0.01f});
        QVERIFY(q.zeroPoints.empty());
        QCOMPARE_VEC(q.codes, (std::vector<std::int32_t> {0, 0, 255}));
        QCOMPARE(q.clippedCount, qint64(1));
    }

    void reciprocalAndDivideDifferOnTies()
    {
        // scale = 12.7f / 127 = 0.1f, whose float reciprocal is exactly 10: 1.55f * 10 = 15.5f (tie -> 16),
        // while 1.55f / 0.1f = 15.499999f (-> 15). PyTorch (quantize_val) gives 16, ONNX QuantizeLinear 15.
        QCOMPARE(12.7f / 127.0f, 0.1f);
        QCOMPARE(1.0f / 0.1f, 10.0f);
        QCOMPARE(1.55f * 10.0f, 15.5f);
        QVERIFY(1.55f / 0.1f < 15.5f);
        const Tensor t = tensorOf({2}, {12.7f, 1.55f});
        Scheme s;
        QCOMPARE_VEC(quantize(t, s).codes, (std::vector<std::int32_t> {127, 16}));
        s.arithmetic = ScaleArithmetic::Divide;
        QCOMPARE_VEC(quantize(t, s).codes, (std::vector<std::int32_t> {127, 15}));
        // Ties away from zero (ggml roundf) on the reciprocal path.
        s.arithmetic = ScaleArithmetic::MultiplyReciprocal;
        s.elementRounding = Rounding::NearestAway;
        QCOMPARE_VEC(quantize(tensorOf({3}, {12.7f, 0.25f, -0.25f}), s).codes,
            (std::vector<std::int32_t> {127, 3, -3}));
        s.elementRounding = Rounding::NearestEven;
        QCOMPARE_VEC(quantize(tensorOf({3}, {12.7f, 0.25f, -0.25f}), s).codes,
            (std::vector<std::int32_t> {127, 2, -2}));
    }

    // ---- Scale formats ----

    void scaleFormats_data()
    {
        QTest::addColumn<int>("format");
        QTest::addColumn<int>("rounding");
        QTest::addColumn<float>("amax");
        QTest::addColumn<float>("scale");
        QTest::addColumn<int>("code");
        QTest::addColumn<qint64>("clipped");
        const int e8m0 = int(ScaleFormat::E8M0);
        // int8 symmetric narrow, ideal scale amax / 127.
        QTest::newRow("f32") << int(ScaleFormat::F32) << 0 << 3.0f << 3.0f / 127.0f << 127 << qint64(0);
        // 3/127 = 0.0236220472: fp16 ulp there is 2^-16 -> 1548 * 2^-16; bf16 ulp 2^-13 -> 194 * 2^-13.
        QTest::newRow("f16") << int(ScaleFormat::F16) << 0 << 3.0f << 0.02362060546875f << 127 << qint64(0);
        QTest::newRow("bf16") << int(ScaleFormat::BF16) << 0 << 3.0f << 0.023681640625f << 127 << qint64(0);
        // e4m3: ulp 2^-9 in [2^-6, 2^-5) -> 12 * 2^-9 = 3/128; 3 / (3/128) = 128 clips to 127.
        QTest::newRow("e4m3") << int(ScaleFormat::E4M3) << 0 << 3.0f << 0.0234375f << 127 << qint64(1);
        // E8M0 with int8 elements: emax = floor(log2 127) = 6.
        QTest::newRow("e8m0 floor 3")
            << e8m0 << int(E8M0Rounding::Floor) << 3.0f << 0.03125f << 96 << qint64(0);
        QTest::newRow("e8m0 floor 1.999")
            << e8m0 << int(E8M0Rounding::Floor) << 1.999f << 0.015625f << 127 << qint64(1);
        QTest::newRow("e8m0 rceil 1.999")
            << e8m0 << int(E8M0Rounding::RCeil) << 1.999f << 0.03125f << 64 << qint64(0);
        QTest::newRow("e8m0 rceil 1.9")
            << e8m0 << int(E8M0Rounding::RCeil) << 1.9f << 0.015625f << 122 << qint64(0);
        QTest::newRow("e8m0 ceil 1.5")
            << e8m0 << int(E8M0Rounding::Ceil) << 1.5f << 0.03125f << 48 << qint64(0);
        QTest::newRow("e8m0 floor 1.5")
            << e8m0 << int(E8M0Rounding::Floor) << 1.5f << 0.015625f << 96 << qint64(0);
        QTest::newRow("e8m0 even 1.999")
            << e8m0 << int(E8M0Rounding::Even) << 1.999f << 0.03125f << 64 << qint64(0);
        QTest::newRow("e8m0 even 1.9")
            << e8m0 << int(E8M0Rounding::Even) << 1.9f << 0.015625f << 122 << qint64(0);
    }

    void scaleFormats()
    {
        QFETCH(int, format);
        QFETCH(int, rounding);
        QFETCH(float, amax);
        QFETCH(float, scale);
        QFETCH(int, code);
        QFETCH(qint64, clipped);
        Scheme s;
        s.scaleFormat = ScaleFormat(format);
        s.e8m0Rounding = E8M0Rounding(rounding);
        const QuantizedTensor q = quantize(tensorOf({1}, {amax}), s);
        QCOMPARE(q.scales[0], scale);
        QCOMPARE(q.codes[0], code);
        QCOMPARE(q.clippedCount, clipped);
    }

    void e8m0WithMinifloatElements()
    {
        // fp8_e4m3 elements: emax = 8. amax 500: floor -> 2^0 (500 > 448 clips), rceil -> ceil(500/448) = 2.
        Scheme s = schemeOf(fp8E4M3Format());
        s.scaleFormat = ScaleFormat::E8M0;
        QuantizedTensor q = quantize(tensorOf({1}, {500.0f}), s);
        QCOMPARE(q.scales[0], 1.0f);
        QCOMPARE(q.codes[0], 0x7E);
        QCOMPARE(q.clippedCount, qint64(1));
        s.e8m0Rounding = E8M0Rounding::RCeil;
        q = quantize(tensorOf({1}, {500.0f}), s);
        QCOMPARE(q.scales[0], 2.0f);
        QCOMPARE(dequantize(q).data[0], 512.0f); // 250 rounds to 256 on the e4m3 grid (ulp 16 in [128, 256))
        QCOMPARE(q.clippedCount, qint64(0));
    }

    void allZeroAndConstantGroups()
    {
        const Tensor t = tensorOf({3, 4}, {0, 0, 0, 0, 1, 1, 1, 1, -2, -2, -2, -2});
        Scheme s = schemeOf(integerFormat(8, true), Granularity::perGroup(4));
        QuantizedTensor q = quantize(t, s);
        QCOMPARE_VEC(q.scales, (std::vector<float> {1.0f, 1.0f / 127.0f, 2.0f / 127.0f}));
        QCOMPARE_VEC(
            q.codes, (std::vector<std::int32_t> {0, 0, 0, 0, 127, 127, 127, 127, -127, -127, -127, -127}));
        QCOMPARE_VEC(dequantize(q).data, t.data);

        // PyTorch conventions floor the scale at finfo(float32).eps.
        const float eps = std::ldexp(1.0f, -23);
        s.rangeMode = RangeMode::SymmetricFull;
        q = quantize(t, s);
        QCOMPARE(q.scales[0], eps);
        s.rangeMode = RangeMode::Affine;
        q = quantize(t, s);
        QCOMPARE(q.scales[0], eps);
        QCOMPARE_VEC(q.zeroPoints, (std::vector<std::int32_t> {-128, -128, 127}));
        QCOMPARE_VEC(dequantize(q).data, t.data);

        // Every scale format and every element kind: finite non-zero scales, zeros come back as exact zeros.
        for (ScaleFormat format :
            {ScaleFormat::F32, ScaleFormat::F16, ScaleFormat::BF16, ScaleFormat::E8M0, ScaleFormat::E4M3})
            for (const NumberFormat& element :
                {integerFormat(4, true), fp8E4M3Format(), nf4Format(), ternaryFormat()}) {
                Scheme z = schemeOf(element, Granularity::perGroup(4));
                z.scaleFormat = format;
                const QuantizedTensor zq = quantize(tensorOf({2, 4}, {0, 0, 0, 0, 0, 0, -0.0f, 0}), z);
                for (float scale : zq.scales)
                    QVERIFY(std::isfinite(scale) && scale > 0 && std::isfinite(1.0f / scale));
                for (float v : dequantize(zq).data)
                    QCOMPARE(v, 0.0f);
            }

        // Tiny groups: the scale never underflows to zero or gives an infinite reciprocal.
        Scheme tiny;
        for (ScaleFormat format :
            {ScaleFormat::F32, ScaleFormat::F16, ScaleFormat::BF16, ScaleFormat::E4M3}) {
            tiny.scaleFormat = format;
            const QuantizedTensor tq = quantize(tensorOf({2}, {1e-40f, -3e-39f}), tiny);
            QVERIFY(tq.scales[0] > 0 && std::isfinite(1.0f / tq.scales[0]));
            for (float v : dequantize(tq).data)
                QVERIFY(std::isfinite(v));
        }
    }

    void nanAndInfInputs()
    {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        const Tensor t = tensorOf({5}, {nan, 1.0f, -2.0f, inf, 0.5f});
        // Range over the finite values only: amax 2.
        QCOMPARE(minMaxRanges(t, Scheme {}), (std::vector<GroupRange> {{-2.0, 1.0}}));
        QuantizedTensor q = quantize(t, Scheme {});
        QCOMPARE_VEC(q.scales, std::vector<float> {2.0f / 127.0f});
        QCOMPARE(q.nonFiniteCount, qint64(2));
        QCOMPARE(q.clippedCount, qint64(0));
        QCOMPARE(q.codes[0], 0); // NaN -> zero point
        QCOMPARE(q.codes[3], 127); // +Inf saturates
        QCOMPARE(q.codes[2], -127);
        // fp8 e4m3 has a NaN code: NaN stays NaN (0x7F); the preset maps Inf to NaN as ml_dtypes does.
        q = quantize(t, schemeOf(fp8E4M3Format()));
        QCOMPARE(q.codes[0], 0x7F);
        QVERIFY(std::isnan(dequantize(q).data[0]));
        QCOMPARE(q.codes[2], 0xFE);
        QCOMPARE(q.nonFiniteCount, qint64(2));
        // A group without finite values gets [0, 0] and a finite scale.
        const Tensor allNan = tensorOf({2, 2}, {nan, nan, 1.0f, 2.0f});
        QCOMPARE(minMaxRanges(allNan, schemeOf(integerFormat(8, true), Granularity::perChannel(0))),
            (std::vector<GroupRange> {{0.0, 0.0}, {1.0, 2.0}}));
        q = quantize(allNan, schemeOf(integerFormat(8, true), Granularity::perChannel(0)));
        QCOMPARE(q.scales[0], 1.0f);
    }

    void externalRanges()
    {
        const Tensor t = tensorOf({2, 2}, {-4.0f, 1.0f, 0.5f, 0.25f});
        const Scheme s = schemeOf(integerFormat(8, true), Granularity::perChannel(0));
        // Clipping range [-1, 1] for row 0: -4 clips.
        const QuantizedTensor q = quantize(t, s, std::vector<GroupRange> {{-1.0, 1.0}, {0.0, 0.5}});
        QCOMPARE_VEC(q.scales, (std::vector<float> {1.0f / 127.0f, 0.5f / 127.0f}));
        QCOMPARE_VEC(q.codes, (std::vector<std::int32_t> {-127, 127, 127, 64}));
        QCOMPARE(q.clippedCount, qint64(1));
        QVERIFY_THROWS_EXCEPTION(qs::Error, quantize(t, s, std::vector<GroupRange> {{-1.0, 1.0}}));
        QVERIFY_THROWS_EXCEPTION(
            qs::Error, quantize(t, s, std::vector<GroupRange> {{-1.0, 1.0}, {0.0, std::nan("")}}));
        QVERIFY_THROWS_EXCEPTION(
            qs::Error, quantize(t, s, std::vector<GroupRange> {{-1.0, 1.0}, {1.0, 0.0}}));
        QVERIFY_THROWS_EXCEPTION(
            qs::Error, quantize(t, s, std::vector<GroupRange> {{-1.0, 1.0}, {0.0, INFINITY}}));
    }

    // ---- Minifloat and lookup elements ----

    void fp8E4M3PerTensorMapsAmaxTo448()
    {
        // scale = 3.5 / 448 = 2^-7: v = 128 x; 0.1 * 128 = 12.8 -> 13 = 1.625 * 2^3 -> code (3+7) << 3 | 5 =
        // 0x55.
        const QuantizedTensor q = quantize(tensorOf({3}, {-3.5f, 0.1f, 3.5f}), schemeOf(fp8E4M3Format()));
        QCOMPARE_VEC(q.scales, std::vector<float> {0.0078125f});
        QCOMPARE_VEC(q.codes, (std::vector<std::int32_t> {0xFE, 0x55, 0x7E}));
        QCOMPARE_VEC(dequantize(q).data, (std::vector<float> {-3.5f, 0.1015625f, 3.5f}));
        QCOMPARE(decodeValue(fp8E4M3Format(), 0x7E), 448.0);
    }

    void lookupAndTernaryElements()
    {
        // nf4: scale = amax / 1; 0.5 -> 0.4407 (code 12), 0.03 -> 0 (code 7), 0.05 -> 0.0796 (code 8).
        QuantizedTensor q = quantize(tensorOf({4}, {-1.0f, 0.5f, 0.03f, 0.05f}), schemeOf(nf4Format()));
        QCOMPARE_VEC(q.codes, (std::vector<std::int32_t> {0, 12, 7, 8}));
        // iq4_nl keeps ggml's raw values {-127 ... 113}: scale = amax / 127, so +amax maps to 127 and clips
        // to 113.
        q = quantize(tensorOf({4}, {-1.0f, 0.5f, 1.0f, 0.05f}), schemeOf(iq4nlFormat()));
        QCOMPARE_VEC(q.scales, std::vector<float> {1.0f / 127.0f});
        QCOMPARE_VEC(q.codes, (std::vector<std::int32_t> {0, 13, 15, 8}));
        QCOMPARE(q.clippedCount, qint64(1));
    }

    // ---- BitNet ternary and binary ----

    void bitnetTernaryScaleAndTies()
    {
        // mean|W| = 4 / 8 = 0.5 -> s = 2, decode scale 1/s = 0.5. W·s = {0.5, -0.5, 1.5, -2, 0.25, -0.75,
        // -0, 2.5}: RNE (torch.round) gives {0, -0, 2, -2, 0, -1, -0, 2}, clamped to [-1, 1]; three values
        // rounded beyond ±1 and were clamped. The zeros of negative W dequantize to -0 as torch's u / s does.
        const Tensor t = tensorOf({8}, {0.25f, -0.25f, 0.75f, -1.0f, 0.125f, -0.375f, -0.0f, 1.25f});
        const QuantizedTensor q = quantize(t, schemeOf(ternaryFormat()));
        QCOMPARE_VEC(q.scales, std::vector<float> {0.5f});
        QCOMPARE_VEC(q.codes, (std::vector<std::int32_t> {1, 1, 2, 0, 1, 0, 1, 2}));
        QCOMPARE(q.clippedCount, qint64(3));
        QCOMPARE_VEC(q.negativeZeros, (std::vector<std::int64_t> {1, 6}));
        const std::vector<float> expected = {0.0f, -0.0f, 0.5f, -0.5f, 0.0f, -0.5f, -0.0f, 0.5f};
        const Tensor back = dequantize(q);
        const Tensor fake = fakeQuantize(t, schemeOf(ternaryFormat()));
        for (std::size_t i = 0; i < expected.size(); ++i) {
            QVERIFY2(sameBits(back.data[i], expected[i]), qPrintable(QString::number(i)));
            QVERIFY2(sameBits(fake.data[i], expected[i]), qPrintable(QString::number(i)));
        }
        // The format's rounding applies: ties away (ggml TQ1_0/TQ2_0's lroundf) sends ±0.5 to ±1.
        NumberFormat away = ternaryFormat();
        away.minifloat.rounding = Rounding::NearestAway;
        QCOMPARE_VEC(quantize(t, schemeOf(away)).codes, (std::vector<std::int32_t> {2, 0, 2, 0, 1, 0, 1, 2}));

        // The stored scale is 1.0f / s, not mean|W|: mean = 0.7f gives s = 1/0.7f and u / s = 1 * (1/s).
        const Tensor odd = tensorOf({2}, {0.7f, -0.7f});
        const QuantizedTensor o = quantize(odd, schemeOf(ternaryFormat()));
        const float s = 1.0f / 0.7f;
        QVERIFY(sameBits(o.scales[0], 1.0f / s));
        QVERIFY(sameBits(dequantize(o).data[1], -1.0f / s));
        QCOMPARE(o.clippedCount, qint64(0));
    }

    void bitnetTernaryZeroGroupAndNonFinite()
    {
        // All zeros: mean 0 is raised to 1e-5f, s = 1 / 1e-5f; every code is 0 and nothing is NaN.
        const QuantizedTensor z
            = quantize(tensorOf({4}, {0.0f, -0.0f, 0.0f, 0.0f}), schemeOf(ternaryFormat()));
        QVERIFY(sameBits(z.scales[0], 1.0f / (1.0f / 1e-5f)));
        QCOMPARE_VEC(z.codes, (std::vector<std::int32_t> {1, 1, 1, 1}));
        const Tensor back = dequantize(z);
        QVERIFY(sameBits(back.data[0], 0.0f));
        QVERIFY(sameBits(back.data[1], -0.0f));
        QCOMPARE(z.clippedCount, qint64(0));
        // NaN and Inf are left out of the mean (|1| and |-1|: s = 1); NaN stores 0, ±Inf ±1.
        const QuantizedTensor n
            = quantize(tensorOf({4}, {1.0f, std::numeric_limits<float>::quiet_NaN(), -1.0f, INFINITY}),
                schemeOf(ternaryFormat()));
        QCOMPARE_VEC(n.scales, std::vector<float> {1.0f});
        QCOMPARE_VEC(n.codes, (std::vector<std::int32_t> {2, 1, 0, 2}));
        QCOMPARE(n.nonFiniteCount, qint64(2));
        QCOMPARE(n.clippedCount, qint64(0));
        QCOMPARE_VEC(dequantize(n).data, (std::vector<float> {1.0f, 0.0f, -1.0f, 1.0f}));
    }

    void bitnetBinary()
    {
        // alpha = mean W = 2.5 / 4 = 0.625, W - alpha = {0.375, -2.625, 2.375, -0.125} -> {+1, -1, +1, -1};
        // beta = mean|W| = 6.5 / 4 = 1.625.
        const QuantizedTensor q
            = quantize(tensorOf({4}, {1.0f, -2.0f, 3.0f, 0.5f}), schemeOf(binaryFormat()));
        QCOMPARE_VEC(q.codes, (std::vector<std::int32_t> {1, 0, 1, 0}));
        QCOMPARE_VEC(q.scales, std::vector<float> {1.625f});
        QCOMPARE_VEC(q.groupOffsets, std::vector<float> {0.625f});
        QCOMPARE_VEC(dequantize(q).data, (std::vector<float> {1.625f, -1.625f, 1.625f, -1.625f}));
        QCOMPARE(q.clippedCount, qint64(0));
        QVERIFY(q.negativeZeros.empty());
        // W - alpha = 0 gives -1 (Sign(0) = -1, unlike torch.sign).
        const QuantizedTensor c = quantize(tensorOf({4}, {1.0f, 1.0f, 1.0f, 1.0f}), schemeOf(binaryFormat()));
        QCOMPARE_VEC(c.codes, (std::vector<std::int32_t> {0, 0, 0, 0}));
        QCOMPARE_VEC(dequantize(c).data, (std::vector<float> {-1.0f, -1.0f, -1.0f, -1.0f}));
        // A group of zeros has beta = 0: -1 * 0 = -0, as torch gives, and no NaN.
        const QuantizedTensor z = quantize(tensorOf({2}, {0.0f, 0.0f}), schemeOf(binaryFormat()));
        QCOMPARE_VEC(z.scales, std::vector<float> {0.0f});
        QVERIFY(sameBits(dequantize(z).data[0], -0.0f));
        QVERIFY(sameBits(fakeQuantize(tensorOf({2}, {0.0f, 0.0f}), schemeOf(binaryFormat())).data[1], -0.0f));
    }

    void bitnetGroupsAndRanges()
    {
        // Per channel: each row has its own mean. Row 0: mean|W| = 1 -> s = 1; row 1: mean|W| = 4 -> s =
        // 0.25.
        const Tensor t = tensorOf({2, 4}, {1.0f, -1.0f, 0.5f, -1.5f, 4.0f, -4.0f, 1.0f, 7.0f});
        const Scheme perRow = schemeOf(ternaryFormat(), Granularity::perChannel(0));
        const QuantizedTensor q = quantize(t, perRow);
        QCOMPARE_VEC(q.scales, (std::vector<float> {1.0f, 4.0f}));
        QCOMPARE_VEC(q.codes, (std::vector<std::int32_t> {2, 0, 1, 0, 2, 0, 1, 2}));
        // Calibrated ranges do not apply (the scale is a statistic of the weights), but are still checked.
        QCOMPARE(quantize(t, perRow, std::vector<GroupRange> {{-100, 100}, {-0.1, 0.1}}), q);
        QVERIFY_THROWS_EXCEPTION(qs::Error, quantize(t, perRow, std::vector<GroupRange> {{-1, 1}}));
        const Scheme binaryRows = schemeOf(binaryFormat(), Granularity::perChannel(0));
        QCOMPARE_VEC(quantize(t, binaryRows).groupOffsets, (std::vector<float> {-0.25f, 2.0f}));

        // fakeQuantize equals dequantize(quantize()) bit for bit (signed zeros included) at every
        // granularity, strided ones too.
        const Tensor r = tensorOf({24, 72}, randomNormal(24 * 72, 17, 0.02f));
        for (const NumberFormat& format : {ternaryFormat(), binaryFormat()})
            for (const char* g : {"tensor", "channel:0", "channel:1", "group:64", "group:5:0", "block:8x8"}) {
                const Scheme s = schemeOf(format, qs::parseGranularity(g));
                const QuantizedTensor quantized = quantize(r, s);
                const Tensor back = dequantize(quantized);
                std::vector<float> fake;
                const FakeQuantizeCounts counts = fakeQuantizeInto(r, s, fake);
                QCOMPARE(counts.clippedCount, quantized.clippedCount);
                for (std::size_t i = 0; i < fake.size(); ++i)
                    QVERIFY2(sameBits(fake[i], back.data[i]), g);
            }

        // Other scale formats round the decode scale and ternary encodes with its reciprocal: mean|W| = 0.7f
        // gives 1/s = 0.7f, stored as bf16 0.69921875, s' = 1 / 0.69921875.
        Scheme bf16 = schemeOf(ternaryFormat());
        bf16.scaleFormat = ScaleFormat::BF16;
        const QuantizedTensor b = quantize(tensorOf({2}, {0.7f, -0.7f}), bf16);
        QCOMPARE_VEC(b.scales, std::vector<float> {0.69921875f});
        QCOMPARE_VEC(dequantize(b).data, (std::vector<float> {0.69921875f, -0.69921875f}));
        bf16.format = binaryFormat();
        QCOMPARE_VEC(quantize(tensorOf({2}, {0.7f, -0.7f}), bf16).scales, std::vector<float> {0.69921875f});

        // A corrupted negative-zero list is rejected.
        QuantizedTensor bad = quantize(tensorOf({3}, {-0.01f, 1.0f, 0.01f}), schemeOf(ternaryFormat()));
        QCOMPARE_VEC(bad.negativeZeros, std::vector<std::int64_t> {0});
        bad.negativeZeros = {1};
        QVERIFY_THROWS_EXCEPTION(qs::Error, dequantize(bad));
    }

    void bitnetBitsPerValue()
    {
        // ternary 2 bits (transformers packs 4 per byte) + one fp32 scale; binary 1 bit + its scale beta.
        QCOMPARE(effectiveBitsPerValue(schemeOf(ternaryFormat()), {64, 256}), 2.0 + 32.0 / (64 * 256));
        QCOMPARE(effectiveBitsPerValue(schemeOf(binaryFormat(), Granularity::perChannel(0)), {64, 256}),
            1.0 + 32.0 / 256);
    }

    void elementKernelsMatchEncodeValue()
    {
        // The quantizer's own fast paths (bit-level minifloat rounding, bisected lookup tables) must give the
        // codes and values of the format's encodeValue for every float input. With range [-max, max] the
        // scale is exactly 1, so v = x.
        std::vector<NumberFormat> formats;
        // Ternary and binary take BitNet's scales, not ranges (bitnet* tests below).
        for (const NumberFormat& f : allFormats())
            if (!std::holds_alternative<IntegerSpec>(f.spec) && !std::holds_alternative<SignSpec>(f.spec))
                formats.push_back(f);
        NumberFormat away = fp8E4M3Format();
        away.name = "e4m3 ties away";
        away.minifloat.rounding = Rounding::NearestAway;
        formats.push_back(away);
        NumberFormat awayE2m1 = fp4E2M1Format();
        awayE2m1.minifloat.rounding = Rounding::NearestAway;
        formats.push_back(awayE2m1);
        std::mt19937 rng(7);
        for (const NumberFormat& format : formats) {
            const double max = formatMaxFinite(format);
            std::vector<float> xs;
            const std::vector<double> grid = formatValues(format);
            const std::size_t stride = grid.size() > 4096 ? grid.size() / 4096 : 1;
            for (std::size_t i = 0; i < grid.size(); i += stride) {
                const auto v = float(grid[i]);
                xs.push_back(v);
                xs.push_back(std::nextafter(v, INFINITY));
                xs.push_back(std::nextafter(v, -INFINITY));
                if (i + 1 < grid.size()) {
                    const auto mid = float((grid[i] + grid[i + 1]) / 2);
                    xs.push_back(mid);
                    xs.push_back(std::nextafter(mid, INFINITY));
                    xs.push_back(std::nextafter(mid, -INFINITY));
                }
            }
            std::uniform_real_distribution<float> uniform(-float(max), float(max));
            for (int i = 0; i < 2000; ++i)
                xs.push_back(uniform(rng));
            for (float tiny : {1e-30f, 1e-40f, 1e-45f})
                for (float sign : {1.0f, -1.0f})
                    xs.push_back(sign * tiny);
            xs.push_back(0.0f);
            xs.push_back(-0.0f);
            std::vector<float> inRange;
            for (float x : xs)
                if (std::fabs(double(x)) <= max)
                    inRange.push_back(x);
            const Tensor t = tensorOf({std::int64_t(inRange.size())}, inRange);
            const QuantizedTensor q = quantize(t, schemeOf(format), std::vector<GroupRange> {{-max, max}});
            QCOMPARE(q.scales[0], 1.0f);
            const Tensor back = dequantize(q);
            const Tensor fake = fakeQuantize(t, schemeOf(format), std::vector<GroupRange> {{-max, max}});
            for (std::size_t i = 0; i < inRange.size(); ++i) {
                const std::uint32_t expected = encodeValue(format, double(inRange[i]));
                QVERIFY2(std::uint32_t(q.codes[i]) == expected,
                    qPrintable(QStringLiteral("%1: x = %2 gives code %3, encodeValue %4")
                                   .arg(QString::fromStdString(format.name))
                                   .arg(double(inRange[i]), 0, 'g', 9)
                                   .arg(q.codes[i])
                                   .arg(expected)));
                QVERIFY(sameBits(back.data[i], float(decodeValue(format, expected))));
                QVERIFY(sameBits(fake.data[i], back.data[i]));
            }
        }
    }

    void minifloatSaturatesAndCountsClipping()
    {
        // fp6_e2m3 (max 7.5) with a clipping range of [-1, 1]: scale 1/7.5; 2 -> 15 -> saturates at 7.5.
        const QuantizedTensor q = quantize(
            tensorOf({2}, {2.0f, -0.5f}), schemeOf(fp6E2M3Format()), std::vector<GroupRange> {{-1.0, 1.0}});
        QCOMPARE(q.clippedCount, qint64(1));
        QCOMPARE(decodeValue(fp6E2M3Format(), std::uint32_t(q.codes[0])), 7.5);
    }

    // ---- Granularity in the kernels ----

    void stridedGroupsMatchTransposedTensor()
    {
        // Per-channel along axis 1 and groups along axis 0 walk memory with per-element groups; they must
        // equal the contiguous case on the transposed tensor.
        const std::int64_t rows = 37;
        const std::int64_t cols = 11;
        const std::vector<float> values = randomNormal(std::size_t(rows * cols), 3);
        std::vector<float> transposed(values.size());
        for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t c = 0; c < cols; ++c)
                transposed[std::size_t(c * rows + r)] = values[std::size_t(r * cols + c)];
        const Tensor t = tensorOf({rows, cols}, values);
        const Tensor tt = tensorOf({cols, rows}, transposed);
        const std::pair<Granularity, Granularity> cases[] = {
            {Granularity::perChannel(1), Granularity::perChannel(0)},
            {Granularity::perGroup(8, 0), Granularity::perGroup(8, 1)},
        };
        for (const auto& [strided, contiguous] : cases)
            for (const NumberFormat& format : {integerFormat(4, true), fp8E5M2Format(), nf4Format()}) {
                const QuantizedTensor a = quantize(t, schemeOf(format, strided));
                const QuantizedTensor b = quantize(tt, schemeOf(format, contiguous));
                QCOMPARE_VEC(a.scales, b.scales);
                for (std::int64_t r = 0; r < rows; ++r)
                    for (std::int64_t c = 0; c < cols; ++c)
                        QCOMPARE(a.codes[std::size_t(r * cols + c)], b.codes[std::size_t(c * rows + r)]);
            }
    }

    void blockScalesFollowTheLayout()
    {
        // Each 2x2 block of [3, 5] gets the amax of its own elements.
        const Tensor t = tensorOf({3, 5},
            {1, 2, 3, 4, 5, //
                6, 7, 8, 9, 10, //
                11, 12, 13, 14, 15});
        const std::vector<GroupRange> ranges
            = minMaxRanges(t, schemeOf(fp8E4M3Format(), Granularity::block2D(2, 2)));
        QCOMPARE(ranges, (std::vector<GroupRange> {{1, 7}, {3, 9}, {5, 10}, {11, 12}, {13, 14}, {15, 15}}));
        const std::vector<GroupRange> groups
            = minMaxRanges(t, schemeOf(fp8E4M3Format(), Granularity::perGroup(2)));
        QCOMPARE(groups.size(), std::size_t(9));
        QCOMPARE(groups[2], (GroupRange {5, 5}));
        QCOMPARE(groups[8], (GroupRange {15, 15}));
    }

    // ---- Effective bits ----

    void effectiveBits()
    {
        Scheme int4 = schemeOf(integerFormat(4, true), Granularity::perGroup(128));
        int4.scaleFormat = ScaleFormat::F16;
        QCOMPARE(effectiveBitsPerValue(int4, {4096, 4096}), 4.125);
        int4.rangeMode = RangeMode::Affine; // + a 4-bit zero point per group
        QCOMPARE(effectiveBitsPerValue(int4, {4096, 4096}), 4.15625);
        int4.rangeMode = RangeMode::SymmetricNarrow;
        QCOMPARE(
            effectiveBitsPerValue(int4, {1, 200}), 4.0 + 2 * 16.0 / 200); // ragged group stores a scale too
        const Scheme int8 = schemeOf(integerFormat(8, true), Granularity::perChannel(0));
        QCOMPARE(effectiveBitsPerValue(int8, {4096, 4096}), 8.0 + 32.0 / 4096);
        QCOMPARE(effectiveBitsPerValue(Scheme {}, {4096, 4096}), 8.0 + 32.0 / (4096.0 * 4096.0));
        Scheme block = schemeOf(fp8E4M3Format(), Granularity::block2D(128, 128));
        QCOMPARE(effectiveBitsPerValue(block, {4096, 4096}), 8.0 + 32.0 / (128 * 128));
        QCOMPARE(effectiveBitsPerValue(schemeOf(ternaryFormat()), {0, 4}), 0.0);
        Scheme mx;
        mx.blockFormat = BlockFormat::MXFP4;
        QCOMPARE(effectiveBitsPerValue(mx, {4096, 4096}), 4.25);
        mx.blockFormat = BlockFormat::NVFP4; // + the fp32 tensor scale
        QCOMPARE(effectiveBitsPerValue(mx, {4096, 4096}), 4.5 + 32.0 / (4096.0 * 4096.0));
        mx.blockFormat = BlockFormat::GgmlQ4_0;
        QCOMPARE(effectiveBitsPerValue(mx, {4096, 4096}), 4.5);
        QVERIFY_THROWS_EXCEPTION(
            qs::Error, effectiveBitsPerValue(schemeOf(ternaryFormat(), Granularity::perChannel(3)), {4, 4}));
    }

    // ---- Round trips ----

    void quantizeDequantizeQuantizeIsIdempotent_data()
    {
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("granularity");
        QTest::addColumn<int>("mode");
        QTest::newRow("int8 channel") << "int8"
                                      << "channel:0" << int(RangeMode::SymmetricNarrow);
        QTest::newRow("int4 affine group") << "int4"
                                           << "group:16" << int(RangeMode::Affine);
        QTest::newRow("uint8 affine tensor") << "uint8"
                                             << "tensor" << int(RangeMode::Affine);
        QTest::newRow("int8 block") << "int8"
                                    << "block:8x8" << int(RangeMode::SymmetricNarrow);
        QTest::newRow("fp8 group") << "fp8_e4m3"
                                   << "group:32" << int(RangeMode::SymmetricNarrow);
        QTest::newRow("fp4 channel") << "fp4_e2m1"
                                     << "channel:1" << int(RangeMode::SymmetricNarrow);
        QTest::newRow("nf4 tensor") << "nf4"
                                    << "tensor" << int(RangeMode::SymmetricNarrow);
        QTest::newRow("ternary group") << "ternary"
                                       << "group:64" << int(RangeMode::SymmetricNarrow);
        QTest::newRow("binary channel") << "binary"
                                        << "channel:0" << int(RangeMode::SymmetricNarrow);
    }

    void quantizeDequantizeQuantizeIsIdempotent()
    {
        QFETCH(QString, format);
        QFETCH(QString, granularity);
        QFETCH(int, mode);
        const Tensor t = tensorOf({24, 72}, randomNormal(24 * 72, 11, 0.05f));
        const Scheme s = schemeOf(formatByName(format.toStdString()),
            qs::parseGranularity(granularity.toStdString()), RangeMode(mode));
        const QuantizedTensor first = quantize(t, s);
        const Tensor once = dequantize(first);
        const QuantizedTensor second = quantize(once, s);
        QCOMPARE_VEC(second.codes, first.codes);
        // The re-derived scales may differ in the last bit ((max' - min') / 15 rounds again), the codes may
        // not. BitNet's scales are means of the values, which quantization changes: only its codes repeat.
        const Tensor twice = dequantize(second);
        if (!std::holds_alternative<SignSpec>(s.format.spec))
            for (std::size_t i = 0; i < once.data.size(); ++i)
                QVERIFY(std::fabs(twice.data[i] - once.data[i]) <= std::ldexp(std::fabs(once.data[i]), -22));
        QCOMPARE_VEC(fakeQuantize(t, s).data, once.data);
    }

    void blockFormatsAreDelegated()
    {
        const Tensor t = tensorOf({4, 64}, randomNormal(256, 5));
        for (BlockFormat format : allBlockFormats()) {
            Scheme s;
            s.blockFormat = format;
            const QuantizedTensor q = quantize(t, s);
            QCOMPARE(q, quantizeBlockFormat(t, s));
            QCOMPARE_VEC(dequantize(q).data, dequantizeBlockFormat(q).data);
            QCOMPARE_VEC(fakeQuantize(t, s).data, dequantizeBlockFormat(q).data);
            QCOMPARE(minMaxRanges(t, s).size(), std::size_t(groupCount(s, t.shape)));
            QVERIFY_THROWS_EXCEPTION(qs::Error, quantize(t, s, minMaxRanges(t, s)));
        }
    }

    // ---- The compare matrix ----

    void compareMatrix()
    {
        const Tensor t = tensorOf({4, 64}, randomNormal(256, 9));
        std::atomic<int> calls {0};
        const std::vector<CompareCell> cells = compareSchemes(t, {"int8", "mxfp4", "nf4"},
            {"tensor", "native", "block:2x2", "group:32"}, nullptr, [&](const CompareCell&) { ++calls; });
        QCOMPARE(cells.size(), std::size_t(12));
        QCOMPARE(calls.load(), 12);
        // Row-major: formats are rows.
        QCOMPARE(cells[0].format, std::string("int8"));
        QCOMPARE(cells[0].granularity, std::string("tensor"));
        QCOMPARE(cells[5].format, std::string("mxfp4"));
        QCOMPARE(cells[5].granularity, std::string("native"));
        // Element cells: exactly the report of fakeQuantize with min-max ranges, bits from
        // effectiveBitsPerValue.
        const Scheme int8Block = schemeOf(integerFormat(8, true), Granularity::block2D(2, 2));
        QVERIFY(cells[2].error.empty());
        QCOMPARE(cells[2].scheme, int8Block);
        const QuantizedTensor q = quantize(t, int8Block);
        QCOMPARE(cells[2].report,
            computeErrorReport(
                t.data, dequantize(q).data, q.clippedCount, effectiveBitsPerValue(int8Block, t.shape)));
        QCOMPARE(cells[2].report.bitsPerValue, 8.0 + 32.0 / 4);
        // Element formats have no native column; block formats apply only at their own blocks.
        QVERIFY(!cells[1].error.empty());
        QVERIFY(!cells[4].error.empty());
        QVERIFY(!cells[6].error.empty());
        QVERIFY(cells[5].error.empty());
        QVERIFY(cells[7].error.empty()); // group:32 along the last axis is MX's own block
        QCOMPARE(cells[5].report, cells[7].report);
        Scheme mx;
        mx.blockFormat = BlockFormat::MXFP4;
        QCOMPARE(cells[5].report.mse, computeErrorReport(t.data, fakeQuantize(t, mx).data).mse);
        QCOMPARE(cells[5].report.bitsPerValue, 4.25);
        QVERIFY(cells[11].report.sqnrDb > 0);

        // A granularity that does not fit the tensor is an error cell, not an exception.
        const std::vector<CompareCell> flat = compareSchemes(
            tensorOf({8}, randomNormal(8, 1)), {"int4"}, {"block:2x2", "channel:0", "channel:1"});
        QVERIFY(!flat[0].error.empty());
        QVERIFY(flat[1].error.empty());
        QVERIFY(!flat[2].error.empty());

        // Cancelled before starting: every applicable cell says so.
        std::atomic<bool> cancel {true};
        const std::vector<CompareCell> cancelled
            = compareSchemes(t, {"int8", "fp4_e2m1"}, {"tensor", "native"}, &cancel);
        QCOMPARE(cancelled[0].error, std::string("cancelled"));
        QCOMPARE(cancelled[2].error, std::string("cancelled"));
        QVERIFY(cancelled[1].error != "cancelled");

        // The base scheme's settings reach the element cells.
        Scheme base;
        base.rangeMode = RangeMode::Affine;
        base.scaleFormat = ScaleFormat::F16;
        const std::vector<CompareCell> affine = compareSchemes(t, {"uint8"}, {"channel:0"}, base);
        QCOMPARE(affine[0].scheme.rangeMode, RangeMode::Affine);
        QCOMPARE(affine[0].report.bitsPerValue, 8.0 + 4 * (16.0 + 8.0) / 256);

        // Unknown names fail before any work, naming the valid ones.
        QVERIFY_THROWS_EXCEPTION(qs::Error, compareSchemes(t, {"int8", "fp7"}, {"tensor"}));
        QVERIFY_THROWS_EXCEPTION(qs::Error, compareSchemes(t, {"int8"}, {"group:0"}));
        try {
            compareSchemes(t, {"fp7"}, {"tensor"});
        } catch (const qs::Error& e) {
            QVERIFY(std::string(e.what()).find("mxfp4") != std::string::npos);
            QVERIFY(std::string(e.what()).find("fp8_e4m3") != std::string::npos);
        }
        QVERIFY(defaultCompareFormats().size() >= 12);
        QCOMPARE(defaultCompareGranularities(),
            (std::vector<std::string> {"tensor", "channel:0", "group:128", "block:128x128"}));
    }

    void namesRoundTrip()
    {
        for (BlockFormat format : allBlockFormats())
            QCOMPARE(blockFormatByName(blockFormatName(format)), format);
        QCOMPARE(blockFormatByName("MXFP4"), BlockFormat::MXFP4);
        QCOMPARE(blockFormatByName("ggml_q4_0"), BlockFormat::GgmlQ4_0);
        QCOMPARE(blockFormatByName("ggml_mxfp4"), BlockFormat::GgmlMXFP4); // ggml's, not OCP MXFP4
        QCOMPARE(blockFormatName(BlockFormat::GgmlMXFP4), std::string("mxfp4_ggml"));
        QCOMPARE(blockFormatByName("int8"), BlockFormat::None);
        QCOMPARE(blockFormatByName("bnb_fp4"), BlockFormat::None); // the element table of that name wins
        QCOMPARE(rangeModeByName("AFFINE"), RangeMode::Affine);
        QCOMPARE(scaleFormatByName("e8m0"), ScaleFormat::E8M0);
        QCOMPARE(e8m0RoundingByName("rceil"), E8M0Rounding::RCeil);
        QCOMPARE(scaleArithmeticByName("divide"), ScaleArithmetic::Divide);
        QVERIFY_THROWS_EXCEPTION(qs::Error, scaleFormatByName("fp64"));
        QCOMPARE(schemeName(schemeOf(integerFormat(8, true), Granularity::perChannel(0))),
            std::string("int8 sym channel:0"));
        Scheme s = schemeOf(fp8E4M3Format(), Granularity::perGroup(128));
        s.scaleFormat = ScaleFormat::BF16;
        QCOMPARE(schemeName(s), std::string("fp8_e4m3 group:128 (scale bf16)"));
        Scheme bnb;
        bnb.blockFormat = BlockFormat::BnbNF4;
        bnb.blockSize = 128;
        bnb.doubleQuantization = true;
        QCOMPARE(schemeName(bnb), std::string("bnb_nf4 b128 dq"));
    }

    // The kernels count a clip as |v| bits >= clipFromBits: the first float that roundBits takes past the
    // largest value. E4M3 (max 448, next grid point 480): the tie 464 rounds to the even 448 with ties to
    // even, up with ties away. E2M1 (max 6, next 8): the tie 7 goes up to 8, the even mantissa.
    void minifloatClipThreshold()
    {
        const auto bits = [](float v) { return std::bit_cast<std::uint32_t>(v); };
        const MinifloatSpec e4m3 {4, 3, 7};
        const MinifloatSpec e2m1 {2, 1, 1};
        QCOMPARE(detail::MinifloatRounder::make(e4m3, false, 448.0).clipFromBits, bits(464.0f) + 1);
        QCOMPARE(detail::MinifloatRounder::make(e4m3, true, 448.0).clipFromBits, bits(464.0f));
        QCOMPARE(detail::MinifloatRounder::make(e2m1, false, 6.0).clipFromBits, bits(7.0f));
        QCOMPARE(detail::MinifloatRounder::make(e2m1, true, 6.0).clipFromBits, bits(7.0f));
        for (const auto& [spec, max] : {std::pair {e4m3, 448.0}, {MinifloatSpec {5, 2, 15}, 57344.0},
                 {MinifloatSpec {3, 2, 3}, 28.0}, {MinifloatSpec {5, 10, 15}, 65504.0}})
            for (const bool tiesAway : {false, true}) {
                const detail::MinifloatRounder r = detail::MinifloatRounder::make(spec, tiesAway, max);
                QVERIFY(r.roundBits(r.clipFromBits) > r.maxBits);
                QVERIFY(r.roundBits(r.clipFromBits - 1) <= r.maxBits);
                QVERIFY(r.roundBits(0x7F7FFFFFu) > r.maxBits);
            }
    }
};

QTEST_GUILESS_MAIN(TestQuant)
#include "tst_quant.moc"
