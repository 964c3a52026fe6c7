#include "base/error.h"
#include "quant/block_formats.h"

#include <QtTest>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace qs;

Q_DECLARE_METATYPE(qs::BlockFormat)
Q_DECLARE_METATYPE(qs::E8M0Rounding)
Q_DECLARE_METATYPE(qs::Rounding)
Q_DECLARE_METATYPE(std::vector<float>)
Q_DECLARE_METATYPE(std::vector<int>)

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Tensor makeTensor(const Shape& shape, std::vector<float> values)
{
    Tensor t;
    t.shape = shape;
    t.data = std::move(values);
    t.data.resize(static_cast<std::size_t>(shapeElementCount(shape)), 0.0f);
    return t;
}

Scheme blockScheme(BlockFormat format)
{
    Scheme s;
    s.blockFormat = format;
    return s;
}

QByteArray bytes(const std::vector<std::uint8_t>& v)
{
    return QByteArray(reinterpret_cast<const char*>(v.data()), static_cast<qsizetype>(v.size()));
}

bool sameFloat(float a, float b)
{
    return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

// QCOMPARE compares floating point values fuzzily; these compare bit patterns.
#define QCOMPARE_EXACT(actual, expected)                                                                     \
    do {                                                                                                     \
        const float a_ = (actual);                                                                           \
        const float e_ = (expected);                                                                         \
        QVERIFY2(sameFloat(a_, e_),                                                                          \
            qPrintable(                                                                                      \
                QString("%1 is %2, expected %3").arg(#actual).arg(a_, 0, 'g', 9).arg(e_, 0, 'g', 9)));       \
    } while (false)

#define QCOMPARE_EXACT_DOUBLE(actual, expected)                                                              \
    do {                                                                                                     \
        const double a_ = (actual);                                                                          \
        const double e_ = (expected);                                                                        \
        QVERIFY2(std::bit_cast<std::uint64_t>(a_) == std::bit_cast<std::uint64_t>(e_),                       \
            qPrintable(                                                                                      \
                QString("%1 is %2, expected %3").arg(#actual).arg(a_, 0, 'g', 17).arg(e_, 0, 'g', 17)));     \
    } while (false)

/// Deterministic values with a spread of magnitudes (no library RNG, so the data is the same everywhere).
std::vector<float> pseudoRandom(std::size_t n, std::uint32_t seed)
{
    std::vector<float> v(n);
    std::uint32_t s = seed;
    for (std::size_t i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        const float unit = static_cast<float>(s >> 8) / 16777216.0f - 0.5f;
        v[i] = unit * std::ldexp(1.0f, static_cast<int>((i / 32) % 7) - 3);
    }
    return v;
}

/// The 256 values of bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), dumped
/// bit for bit from bitsandbytes' Python function run on torch 2.11 (CPU).
constexpr std::uint32_t kTorchDynamicMap[256] = {0xBF7E3333u, 0xBF7A999Au, 0xBF770000u, 0xBF736666u,
    0xBF6FCCCDu, 0xBF6C3333u, 0xBF68999Au, 0xBF650000u, 0xBF616666u, 0xBF5DCCCDu, 0xBF5A3333u, 0xBF56999Au,
    0xBF530000u, 0xBF4F6666u, 0xBF4BCCCDu, 0xBF483333u, 0xBF44999Au, 0xBF410000u, 0xBF3D6666u, 0xBF39CCCDu,
    0xBF363334u, 0xBF32999Au, 0xBF2F0000u, 0xBF2B6666u, 0xBF27CCCDu, 0xBF243334u, 0xBF20999Au, 0xBF1D0000u,
    0xBF196666u, 0xBF15CCCDu, 0xBF123334u, 0xBF0E999Au, 0xBF0B0000u, 0xBF076666u, 0xBF03CCCCu, 0xBF003333u,
    0xBEF93332u, 0xBEF20000u, 0xBEEACCCCu, 0xBEE3999Au, 0xBEDC6666u, 0xBED53333u, 0xBECE0000u, 0xBEC6CCCCu,
    0xBEBF999Au, 0xBEB86666u, 0xBEB13333u, 0xBEAA0000u, 0xBEA2CCCCu, 0xBE9B999Au, 0xBE946666u, 0xBE8D3334u,
    0xBE860000u, 0xBE7D9999u, 0xBE6F3333u, 0xBE60CCCDu, 0xBE526666u, 0xBE440000u, 0xBE35999Au, 0xBE273333u,
    0xBE18CCCDu, 0xBE0A6666u, 0xBDF80000u, 0xBDDB3334u, 0xBDC9EB85u, 0xBDC428F7u, 0xBDBE6667u, 0xBDB8A3D7u,
    0xBDB2E148u, 0xBDAD1EB8u, 0xBDA75C2Au, 0xBDA1999Au, 0xBD9BD70Au, 0xBD96147Bu, 0xBD9051EBu, 0xBD8A8F5Du,
    0xBD84CCCDu, 0xBD7E147Bu, 0xBD728F5Du, 0xBD670A3Du, 0xBD5B851Fu, 0xBD500000u, 0xBD447AE1u, 0xBD38F5C3u,
    0xBD2D70A3u, 0xBD21EB85u, 0xBD166667u, 0xBD0AE148u, 0xBCFEB852u, 0xBCE7AE15u, 0xBCD0A3D7u, 0xBCB9999Au,
    0xBCA28F5Du, 0xBC8B851Fu, 0xBC68F5C3u, 0xBC3AE148u, 0xBC1F3B64u, 0xBC160418u, 0xBC0CCCCDu, 0xBC039581u,
    0xBBF4BC6Au, 0xBBE24DD3u, 0xBBCFDF3Bu, 0xBBBD70A4u, 0xBBAB020Du, 0xBB989374u, 0xBB8624DDu, 0xBB676C8Au,
    0xBB428F5Cu, 0xBB1DB22Du, 0xBAF1A9FCu, 0xBAA7EF9Du, 0xBA7765FFu, 0xBA59E83Eu, 0xBA3C6A80u, 0xBA1EECC1u,
    0xBA016F01u, 0xB9C7E283u, 0xB98CE705u, 0xB923D70Bu, 0xB8BA1F4Bu, 0xB88AEFB3u, 0xB8378034u, 0xB7B24206u,
    0xB70205FFu, 0xB65A1A94u, 0xB513A3B7u, 0x00000000u, 0x3513A3B7u, 0x365A1A94u, 0x370205FFu, 0x37B24206u,
    0x38378034u, 0x388AEFB3u, 0x38BA1F4Bu, 0x3923D70Bu, 0x398CE705u, 0x39C7E283u, 0x3A016F01u, 0x3A1EECC1u,
    0x3A3C6A80u, 0x3A59E83Eu, 0x3A7765FFu, 0x3AA7EF9Du, 0x3AF1A9FCu, 0x3B1DB22Du, 0x3B428F5Cu, 0x3B676C8Au,
    0x3B8624DDu, 0x3B989374u, 0x3BAB020Du, 0x3BBD70A4u, 0x3BCFDF3Bu, 0x3BE24DD3u, 0x3BF4BC6Au, 0x3C039581u,
    0x3C0CCCCDu, 0x3C160418u, 0x3C1F3B64u, 0x3C3AE148u, 0x3C68F5C3u, 0x3C8B851Fu, 0x3CA28F5Du, 0x3CB9999Au,
    0x3CD0A3D7u, 0x3CE7AE15u, 0x3CFEB852u, 0x3D0AE148u, 0x3D166667u, 0x3D21EB85u, 0x3D2D70A3u, 0x3D38F5C3u,
    0x3D447AE1u, 0x3D500000u, 0x3D5B851Fu, 0x3D670A3Du, 0x3D728F5Du, 0x3D7E147Bu, 0x3D84CCCDu, 0x3D8A8F5Du,
    0x3D9051EBu, 0x3D96147Bu, 0x3D9BD70Au, 0x3DA1999Au, 0x3DA75C2Au, 0x3DAD1EB8u, 0x3DB2E148u, 0x3DB8A3D7u,
    0x3DBE6667u, 0x3DC428F7u, 0x3DC9EB85u, 0x3DDB3334u, 0x3DF80000u, 0x3E0A6666u, 0x3E18CCCDu, 0x3E273333u,
    0x3E35999Au, 0x3E440000u, 0x3E526666u, 0x3E60CCCDu, 0x3E6F3333u, 0x3E7D9999u, 0x3E860000u, 0x3E8D3334u,
    0x3E946666u, 0x3E9B999Au, 0x3EA2CCCCu, 0x3EAA0000u, 0x3EB13333u, 0x3EB86666u, 0x3EBF999Au, 0x3EC6CCCCu,
    0x3ECE0000u, 0x3ED53333u, 0x3EDC6666u, 0x3EE3999Au, 0x3EEACCCCu, 0x3EF20000u, 0x3EF93332u, 0x3F003333u,
    0x3F03CCCCu, 0x3F076666u, 0x3F0B0000u, 0x3F0E999Au, 0x3F123334u, 0x3F15CCCDu, 0x3F196666u, 0x3F1D0000u,
    0x3F20999Au, 0x3F243334u, 0x3F27CCCDu, 0x3F2B6666u, 0x3F2F0000u, 0x3F32999Au, 0x3F363334u, 0x3F39CCCDu,
    0x3F3D6666u, 0x3F410000u, 0x3F44999Au, 0x3F483333u, 0x3F4BCCCDu, 0x3F4F6666u, 0x3F530000u, 0x3F56999Au,
    0x3F5A3333u, 0x3F5DCCCDu, 0x3F616666u, 0x3F650000u, 0x3F68999Au, 0x3F6C3333u, 0x3F6FCCCDu, 0x3F736666u,
    0x3F770000u, 0x3F7A999Au, 0x3F7E3333u, 0x3F800000u};

/// Pseudo-random inputs the torch goldens below were computed from (same formula in NumPy).
std::vector<float> hashSequence(int n, int salt)
{
    std::vector<float> v(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        const std::uint64_t h
            = ((static_cast<std::uint64_t>(i + salt) * 2654435761ull) % 4294967296ull) % 1000003ull;
        v[static_cast<std::size_t>(i)] = static_cast<float>(h) / 999983.0f;
    }
    return v;
}

} // namespace

class TestBlockFormats : public QObject {
    Q_OBJECT

private slots:
    // ---- sizes ----

    void bitsPerValue_data()
    {
        QTest::addColumn<BlockFormat>("format");
        QTest::addColumn<qint64>("blockSize");
        QTest::addColumn<bool>("doubleQuant");
        QTest::addColumn<double>("expected");
        QTest::newRow("mxfp4") << BlockFormat::MXFP4 << qint64(0) << false << 4.25;
        QTest::newRow("mxfp8_e4m3") << BlockFormat::MXFP8_E4M3 << qint64(0) << false << 8.25;
        QTest::newRow("mxfp8_e5m2") << BlockFormat::MXFP8_E5M2 << qint64(32) << false << 8.25;
        QTest::newRow("mxfp6_e2m3") << BlockFormat::MXFP6_E2M3 << qint64(0) << false << 6.25;
        QTest::newRow("mxint8") << BlockFormat::MXINT8 << qint64(0) << false << 8.25;
        QTest::newRow("nvfp4") << BlockFormat::NVFP4 << qint64(0) << false << 4.5;
        QTest::newRow("q4_0") << BlockFormat::GgmlQ4_0 << qint64(0) << false << 4.5;
        QTest::newRow("q8_0") << BlockFormat::GgmlQ8_0 << qint64(0) << false << 8.5;
        QTest::newRow("q4_1") << BlockFormat::GgmlQ4_1 << qint64(0) << false << 5.0;
        QTest::newRow("q5_0") << BlockFormat::GgmlQ5_0 << qint64(0) << false << 5.5;
        QTest::newRow("q5_1") << BlockFormat::GgmlQ5_1 << qint64(0) << false << 6.0;
        QTest::newRow("mxfp4_ggml") << BlockFormat::GgmlMXFP4 << qint64(0) << false << 4.25;
        QTest::newRow("nf4 b64") << BlockFormat::BnbNF4 << qint64(64) << false << 4.5;
        QTest::newRow("nf4 b64 dq") << BlockFormat::BnbNF4 << qint64(64) << true
                                    << 4 + 8.0 / 64 + 32.0 / (64 * 256);
        QTest::newRow("fp4 b128") << BlockFormat::BnbFP4 << qint64(128) << false << 4.25;
    }

    void bitsPerValue()
    {
        QFETCH(BlockFormat, format);
        QFETCH(qint64, blockSize);
        QFETCH(bool, doubleQuant);
        QFETCH(double, expected);
        QCOMPARE_EXACT_DOUBLE(blockFormatBitsPerValue(format, blockSize, doubleQuant), expected);
        if (doubleQuant)
            QVERIFY(std::fabs(expected - 4.127) < 1e-3);
    }

    void blockSizes()
    {
        QCOMPARE(defaultBlockSize(BlockFormat::MXFP4), qint64(32));
        QCOMPARE(defaultBlockSize(BlockFormat::NVFP4), qint64(16));
        QCOMPARE(defaultBlockSize(BlockFormat::BnbNF4), qint64(64));
        QCOMPARE(defaultBlockSize(BlockFormat::GgmlQ5_1), qint64(32));
        QCOMPARE(defaultBlockSize(BlockFormat::GgmlMXFP4), qint64(32));
        QCOMPARE(defaultBlockSize(BlockFormat::None), qint64(0));
        Scheme s = blockScheme(BlockFormat::GgmlQ4_0);
        s.blockSize = 64;
        QVERIFY_THROWS_EXCEPTION(Error, blockFormatBlockSize(s));
        s = blockScheme(BlockFormat::BnbNF4);
        s.blockSize = 48;
        QVERIFY_THROWS_EXCEPTION(Error, blockFormatBlockSize(s));
        s.blockSize = 128;
        QCOMPARE(blockFormatBlockSize(s), qint64(128));
        QVERIFY_THROWS_EXCEPTION(Error, blockFormatBlockSize(Scheme {}));
        QVERIFY_THROWS_EXCEPTION(Error, quantizeBlockFormat(makeTensor({4}, {}), Scheme {}));
    }

    // ---- MX ----

    void mxSharedExponent_data()
    {
        QTest::addColumn<BlockFormat>("format");
        QTest::addColumn<E8M0Rounding>("mode");
        QTest::addColumn<float>("amax");
        QTest::addColumn<int>("e8m0");
        const auto floor = E8M0Rounding::Floor;
        // Floor: exponent field of amax - 127 - emax, clamped to [-127, 127], + 127.
        QTest::newRow("e4m3 1.0") << BlockFormat::MXFP8_E4M3 << floor << 1.0f << 119;
        QTest::newRow("e4m3 511") << BlockFormat::MXFP8_E4M3 << floor << 511.0f << 127;
        QTest::newRow("e4m3 2^-10") << BlockFormat::MXFP8_E4M3 << floor << 0.0009765625f << 109;
        QTest::newRow("e5m2 1.0") << BlockFormat::MXFP8_E5M2 << floor << 1.0f << 112;
        QTest::newRow("e5m2 65536") << BlockFormat::MXFP8_E5M2 << floor << 65536.0f << 128;
        QTest::newRow("e3m2 1.5") << BlockFormat::MXFP6_E3M2 << floor << 1.5f << 123;
        QTest::newRow("e2m3 7.9") << BlockFormat::MXFP6_E2M3 << floor << 7.9f << 127;
        QTest::newRow("fp4 6") << BlockFormat::MXFP4 << floor << 6.0f << 127;
        QTest::newRow("fp4 -0.75") << BlockFormat::MXFP4 << floor << -0.75f << 124;
        QTest::newRow("fp4 3e38") << BlockFormat::MXFP4 << floor << 3e38f << 252;
        QTest::newRow("fp4 2^-124") << BlockFormat::MXFP4 << floor << std::ldexp(1.0f, -124) << 1;
        QTest::newRow("fp4 2^-125") << BlockFormat::MXFP4 << floor << std::ldexp(1.0f, -125) << 0;
        QTest::newRow("fp4 subnormal") << BlockFormat::MXFP4 << floor << 1e-40f << 0;
        QTest::newRow("int8 1.5") << BlockFormat::MXINT8 << floor << 1.5f << 127;
        QTest::newRow("int8 3e38") << BlockFormat::MXINT8 << floor << 3e38f << 254;
        // Ceil: +1 when the mantissa is not zero.
        QTest::newRow("ceil e4m3 1.0") << BlockFormat::MXFP8_E4M3 << E8M0Rounding::Ceil << 1.0f << 119;
        QTest::newRow("ceil e4m3 1.5") << BlockFormat::MXFP8_E4M3 << E8M0Rounding::Ceil << 1.5f << 120;
        QTest::newRow("ceil e4m3 511") << BlockFormat::MXFP8_E4M3 << E8M0Rounding::Ceil << 511.0f << 128;
        QTest::newRow("ceil int8 3e38 clamps") << BlockFormat::MXINT8 << E8M0Rounding::Ceil << 3e38f << 254;
        // Even: amax rounded to the element mantissa width first (E2M1: 1 bit; 1.5 stays, 1.75 -> 2).
        QTest::newRow("even fp4 1.5") << BlockFormat::MXFP4 << E8M0Rounding::Even << 1.5f << 125;
        QTest::newRow("even fp4 1.75") << BlockFormat::MXFP4 << E8M0Rounding::Even << 1.75f << 126;
        QTest::newRow("even e4m3 511") << BlockFormat::MXFP8_E4M3 << E8M0Rounding::Even << 511.0f << 128;
        // RCeil: smallest power of two >= amax * float32(1/elemMax).
        QTest::newRow("rceil e4m3 448") << BlockFormat::MXFP8_E4M3 << E8M0Rounding::RCeil << 448.0f << 127;
        QTest::newRow("rceil e4m3 449") << BlockFormat::MXFP8_E4M3 << E8M0Rounding::RCeil << 449.0f << 128;
        QTest::newRow("rceil fp4 6") << BlockFormat::MXFP4 << E8M0Rounding::RCeil << 6.0f << 127;
        QTest::newRow("rceil fp4 6.5") << BlockFormat::MXFP4 << E8M0Rounding::RCeil << 6.5f << 128;
        QTest::newRow("rceil fp4 0.75") << BlockFormat::MXFP4 << E8M0Rounding::RCeil << 0.75f << 124;
    }

    void mxSharedExponent()
    {
        QFETCH(BlockFormat, format);
        QFETCH(E8M0Rounding, mode);
        QFETCH(float, amax);
        QFETCH(int, e8m0);
        Scheme s = blockScheme(format);
        s.e8m0Rounding = mode;
        const QuantizedTensor q = quantizeBlockFormat(makeTensor({32}, {0.0f, amax * 0.5f, amax}), s);
        QCOMPARE(q.scales.size(), std::size_t(1));
        QVERIFY(sameFloat(q.scales[0], std::ldexp(1.0f, e8m0 - 127)));
        QCOMPARE(int(packBlockFormat(q).at(0)), e8m0);
    }

    void mxElements_data()
    {
        QTest::addColumn<BlockFormat>("format");
        QTest::addColumn<E8M0Rounding>("mode");
        QTest::addColumn<Rounding>("rounding");
        QTest::addColumn<std::vector<float>>("values");
        QTest::addColumn<std::vector<int>>("codes");
        QTest::addColumn<std::vector<float>>("decoded");
        QTest::addColumn<int>("clipped");
        const auto floor = E8M0Rounding::Floor;
        const auto rne = Rounding::NearestEven;
        const auto away = Rounding::NearestAway;
        // X = 1 (amax 6); E2M1 ties: 2.5 between 2 and 3, 0.25 between 0 and 0.5, 5 between 4 and 6, ...
        const std::vector<float> ties = {6.0f, 2.5f, 0.25f, 5.0f, -2.5f, 1.25f, 3.5f, 0.75f};
        QTest::newRow("e2m1 ties RNE")
            << BlockFormat::MXFP4 << floor << rne << ties << std::vector<int> {7, 4, 0, 6, 0xC, 2, 6, 2}
            << std::vector<float> {6, 2, 0, 4, -2, 1, 4, 1} << 0;
        QTest::newRow("e2m1 ties away")
            << BlockFormat::MXFP4 << floor << away << ties << std::vector<int> {7, 5, 1, 7, 0xD, 3, 6, 2}
            << std::vector<float> {6, 3, 0.5f, 6, -3, 1.5f, 4, 1} << 0;
        // FLOOR: amax 511 gives X = 1 and 511 > 448 clamps; RCEIL takes X = 2 instead (255.5 -> 256).
        QTest::newRow("e4m3 floor clamps")
            << BlockFormat::MXFP8_E4M3 << floor << rne << std::vector<float> {511, 1}
            << std::vector<int> {0x7E, 0x38} << std::vector<float> {448, 1} << 1;
        QTest::newRow("e4m3 rceil") << BlockFormat::MXFP8_E4M3 << E8M0Rounding::RCeil << rne
                                    << std::vector<float> {511, 1} << std::vector<int> {0x78, 0x30}
                                    << std::vector<float> {512, 1} << 0;
        // X = 1/8 (amax 0.75): 0.75 -> 6, 0.3 -> 2.4 -> 2, -0.01 -> -0.08 -> -0 (sign kept).
        QTest::newRow("e2m1 scaled") << BlockFormat::MXFP4 << floor << rne
                                     << std::vector<float> {0.75f, 0.3f, -0.01f} << std::vector<int> {7, 4, 8}
                                     << std::vector<float> {0.75f, 0.25f, -0.0f} << 0;
        // MXINT8: q = clamp(round(64 V/X), ±127), X = 1 for amax in [1, 2).
        const std::vector<float> ints = {1.0f, 2.5f / 64, -2.5f / 64, 1.99f, -1.0f, 0.5f / 64};
        QTest::newRow("int8 RNE") << BlockFormat::MXINT8 << floor << rne << ints
                                  << std::vector<int> {64, 2, -2, 127, -64, 0}
                                  << std::vector<float> {1, 2.0f / 64, -2.0f / 64, 127.0f / 64, -1, 0} << 1;
        QTest::newRow("int8 away") << BlockFormat::MXINT8 << floor << away << ints
                                   << std::vector<int> {64, 3, -3, 127, -64, 1}
                                   << std::vector<float> {1, 3.0f / 64, -3.0f / 64, 127.0f / 64, -1,
                                          1.0f / 64}
                                   << 1;
        // E5M2 saturates at 57344 (X = 1 for amax in [2^15, 2^16)).
        QTest::newRow("e5m2 floor clamps")
            << BlockFormat::MXFP8_E5M2 << floor << rne << std::vector<float> {65000, 1}
            << std::vector<int> {0x7B, 0x3C} << std::vector<float> {57344, 1} << 1;
    }

    void mxElements()
    {
        QFETCH(BlockFormat, format);
        QFETCH(E8M0Rounding, mode);
        QFETCH(Rounding, rounding);
        QFETCH(std::vector<float>, values);
        QFETCH(std::vector<int>, codes);
        QFETCH(std::vector<float>, decoded);
        QFETCH(int, clipped);
        Scheme s = blockScheme(format);
        s.e8m0Rounding = mode;
        s.elementRounding = rounding;
        const QuantizedTensor q = quantizeBlockFormat(makeTensor({32}, values), s);
        const Tensor back = dequantizeBlockFormat(q);
        for (std::size_t i = 0; i < codes.size(); ++i) {
            QCOMPARE(q.codes[i], codes[i]);
            QVERIFY2(sameFloat(back.data[i], decoded[i]),
                qPrintable(QString("element %1: %2 != %3").arg(i).arg(back.data[i]).arg(decoded[i])));
        }
        QCOMPARE(q.clippedCount, qint64(clipped));
    }

    void mxZeroNanAndInfBlocks()
    {
        std::vector<float> values(32 * 4, 0.0f);
        values[32] = kNaN;
        values[33] = 1.0f;
        values[64 + 7] = -std::numeric_limits<float>::infinity();
        values[96] = 3.0f;
        const QuantizedTensor q
            = quantizeBlockFormat(makeTensor({4, 32}, values), blockScheme(BlockFormat::MXFP8_E4M3));
        QVERIFY(sameFloat(q.scales[0], std::ldexp(1.0f, -127)));
        QVERIFY(std::isnan(q.scales[1]));
        QVERIFY(std::isnan(q.scales[2]));
        QCOMPARE_EXACT(q.scales[3], 2.0f / 256);
        QCOMPARE(q.nonFiniteCount, qint64(2));
        const Tensor back = dequantizeBlockFormat(q);
        for (int i = 0; i < 32; ++i) {
            QVERIFY(sameFloat(back.data[std::size_t(i)], 0.0f));
            QVERIFY(std::isnan(back.data[std::size_t(32 + i)]));
            QVERIFY(std::isnan(back.data[std::size_t(64 + i)]));
        }
        QCOMPARE_EXACT(back.data[96], 3.0f);
        const std::vector<std::uint8_t> packed = packBlockFormat(q);
        QCOMPARE(packed.size(), std::size_t(4 * 33));
        QCOMPARE(int(packed[0]), 0);
        QCOMPARE(int(packed[33]), 0xFF);
        QCOMPARE(int(packed[66]), 0xFF);
        QCOMPARE(int(packed[99]), 127 - 7); // 3.0: floor(log2 3) - 8 = -7
    }

    void mxRceilNeverClamps()
    {
        for (BlockFormat format : {BlockFormat::MXFP8_E4M3, BlockFormat::MXFP8_E5M2, BlockFormat::MXFP6_E3M2,
                 BlockFormat::MXFP6_E2M3, BlockFormat::MXFP4, BlockFormat::MXINT8}) {
            std::vector<float> values = pseudoRandom(32 * 64, 7);
            for (std::size_t b = 0; b < 64; ++b)
                values[b * 32 + b % 32] = std::ldexp(1.99f - 0.015f * float(b), int(b % 9) - 4);
            Scheme s = blockScheme(format);
            s.e8m0Rounding = E8M0Rounding::RCeil;
            QCOMPARE(quantizeBlockFormat(makeTensor({64, 32}, values), s).clippedCount, qint64(0));
            s.e8m0Rounding = E8M0Rounding::Floor;
            QVERIFY(quantizeBlockFormat(makeTensor({64, 32}, values), s).clippedCount > 0);
        }
    }

    void mxPackLayout()
    {
        // One E8M0 byte per block, then element 2i in the low nibble (MXFP4); a ragged block is padded.
        const QuantizedTensor fp4
            = quantizeBlockFormat(makeTensor({1, 40}, {6.0f, 2.5f, 0.25f, 5.0f, -2.5f, 1.25f, 3.5f, 0.75f}),
                blockScheme(BlockFormat::MXFP4));
        QCOMPARE(bytes(packBlockFormat(fp4)).toHex(),
            QByteArray("7f"
                       "47602c26")
                + QByteArray("00").repeated(12) + QByteArray("00").repeated(1 + 16));
        const QuantizedTensor int8 = quantizeBlockFormat(
            makeTensor({3}, {1.0f, -2.5f / 64, -1.0f}), blockScheme(BlockFormat::MXINT8));
        const std::vector<std::uint8_t> packed = packBlockFormat(int8);
        QCOMPARE(packed.size(), std::size_t(33));
        QCOMPARE(bytes(packed).left(4).toHex(), QByteArray("7f40fec0"));
    }

    // ---- NVFP4 ----

    void nvfp4TwoLevelScale()
    {
        // amax 4096: global = (1/4096) * 2688 = 0.65625 exactly.
        // Block 0: SF = 0.65625 * (4096 * float(1/6)) = 448.0000134 -> 448.0f -> E4M3 448 (0x7E);
        //   outScale = 1 / (448 * (1/0.65625)) = 6/4096; x * outScale = 6, -3, 1.5, 0.879, 0.146, -0.513.
        // Block 1: vecMax 1000: SF = 109.375 -> E4M3 112 (0x6E, between 104 and 112); outScale = 6/1024:
        //   5.86 -> 6, -2.93 -> -3, 1.465 -> 1.5, 0.0117 -> 0.
        std::vector<float> values(32, 0.0f);
        const float block0[] = {4096, -2048, 1024, 600, 100, -350};
        const float block1[] = {1000, -500, 250, 2};
        std::copy(std::begin(block0), std::end(block0), values.begin());
        std::copy(std::begin(block1), std::end(block1), values.begin() + 16);
        const QuantizedTensor q
            = quantizeBlockFormat(makeTensor({1, 32}, values), blockScheme(BlockFormat::NVFP4));
        QCOMPARE_EXACT_DOUBLE(q.tensorScale, 1.0 / 0.65625);
        QCOMPARE(q.scales, (std::vector<float> {448.0f, 112.0f}));
        const std::vector<int> codes0 = {0x7, 0xD, 0x3, 0x2, 0x0, 0x9};
        const std::vector<int> codes1 = {0x7, 0xD, 0x3, 0x0};
        for (std::size_t i = 0; i < codes0.size(); ++i)
            QCOMPARE(q.codes[i], codes0[i]);
        for (std::size_t i = 0; i < codes1.size(); ++i)
            QCOMPARE(q.codes[16 + i], codes1[i]);
        QCOMPARE(q.clippedCount, qint64(0));
        // Dequant e2m1 * (sf8 / global): 448 / 0.65625 = 682.66669f, 112 / 0.65625 = 170.66667f.
        const Tensor back = dequantizeBlockFormat(q);
        QCOMPARE_EXACT(back.data[0], 4096.0f);
        QCOMPARE_EXACT(back.data[1], -2048.0f);
        QCOMPARE_EXACT(back.data[3], 682.66668701171875f);
        QCOMPARE_EXACT(back.data[5], -341.333343505859375f);
        QCOMPARE_EXACT(back.data[16], 1024.0f);
        QCOMPARE_EXACT(back.data[18], 256.0f);
        // Elements low nibble first, 8 bytes per block; the E4M3 bytes; the fp32 global scale.
        QCOMPARE(bytes(packBlockFormat(q)).toHex(),
            QByteArray("d72390"
                       "0000000000"
                       "d703"
                       "000000000000"
                       "7e6e"
                       "0000283f"));
    }

    void nvfp4GlobalScaleIsReciprocalTimes2688()
    {
        // torch evaluates `2688.0 / amax` as amax.reciprocal() * 2688: float(1/7) * 2688 = 384.0000172 rounds
        // to 384.00003 (0x43C00001), where the true quotient is exactly 384.
        const QuantizedTensor q
            = quantizeBlockFormat(makeTensor({16}, {7.0f, -3.5f}), blockScheme(BlockFormat::NVFP4));
        QCOMPARE_EXACT_DOUBLE(q.tensorScale, 1.0 / static_cast<double>(std::bit_cast<float>(0x43C00001u)));
        QCOMPARE(bytes(packBlockFormat(q)).right(4).toHex(), QByteArray("0100c043"));
    }

    void nvfp4ZeroTensorAndNonFinite()
    {
        const QuantizedTensor zero
            = quantizeBlockFormat(makeTensor({20}, {}), blockScheme(BlockFormat::NVFP4));
        QCOMPARE_EXACT_DOUBLE(zero.tensorScale, 1.0);
        QCOMPARE(zero.scales, (std::vector<float> {0.0f, 0.0f}));
        for (const float v : dequantizeBlockFormat(zero).data)
            QCOMPARE_EXACT(v, 0.0f);
        QCOMPARE(packBlockFormat(zero).size(), std::size_t(8 + 8 + 2 + 4));

        std::vector<float> values(32, 1.0f);
        values[20] = std::numeric_limits<float>::infinity();
        const QuantizedTensor q
            = quantizeBlockFormat(makeTensor({32}, values), blockScheme(BlockFormat::NVFP4));
        QCOMPARE(q.nonFiniteCount, qint64(1));
        QCOMPARE_EXACT_DOUBLE(q.tensorScale, 1.0 / 2688.0); // amax over the finite values: 1
        QVERIFY(std::isnan(q.scales[1]));
        const Tensor back = dequantizeBlockFormat(q);
        QCOMPARE_EXACT(back.data[0], 1.0f);
        QVERIFY(std::isnan(back.data[17]));
        QCOMPARE(int(packBlockFormat(q).at(17)), 0x7F);
    }

    // ---- bitsandbytes ----

    void bnbPacking_data()
    {
        QTest::addColumn<BlockFormat>("format");
        QTest::addColumn<std::vector<float>>("values");
        QTest::addColumn<QByteArray>("hex");
        // NF4: 1 -> 15, -1 -> 0, 0 -> 7, 0.5 -> 12 (0.5 < 0.5016634); element 2j in the high nibble.
        QTest::newRow("nf4") << BlockFormat::BnbNF4 << std::vector<float> {1.0f, -1.0f, 0.0f, 0.5f}
                             << QByteArray("f07c"
                                           "0000803f");
        // An odd count is padded with the code of 0.0 (7).
        QTest::newRow("nf4 odd") << BlockFormat::BnbNF4 << std::vector<float> {1.0f, -1.0f, 0.5f}
                                 << QByteArray("f0c7"
                                               "0000803f");
        // FP4 (sign bit 3; 1 -> 0b011, 0.5 -> 0b101, 0.25 -> 0b111, -0.001 -> -0).
        QTest::newRow("fp4") << BlockFormat::BnbFP4 << std::vector<float> {1.0f, -0.5f, 0.25f, -0.001f}
                             << QByteArray("3d78"
                                           "0000803f");
        // Values on a decision-tree threshold take the lower code (strict '>').
        QTest::newRow("nf4 threshold")
            << BlockFormat::BnbNF4
            << std::vector<float> {1.0f, 0.03979014977812767f, 0.8614784181118011f, 0.0f}
            << QByteArray("f7e7"
                          "0000803f");
    }

    void bnbPacking()
    {
        QFETCH(BlockFormat, format);
        QFETCH(std::vector<float>, values);
        QFETCH(QByteArray, hex);
        const auto n = static_cast<std::int64_t>(values.size());
        const QuantizedTensor q = quantizeBlockFormat(makeTensor({n}, values), blockScheme(format));
        QCOMPARE(bytes(packBlockFormat(q)).toHex(), hex);
    }

    void bnbTailBlockHasItsOwnAbsmax()
    {
        std::vector<float> values(70, 0.0f);
        values[0] = 2.0f;
        values[1] = -1.0f;
        values[64] = 0.5f;
        values[65] = -0.25f;
        values[69] = 0.125f;
        const QuantizedTensor q
            = quantizeBlockFormat(makeTensor({2, 70}, values), blockScheme(BlockFormat::BnbNF4));
        QCOMPARE(q.scales, (std::vector<float> {2.0f, 0.5f, 0.0f, 0.0f}));
        QCOMPARE(q.codes[0], 15);
        QCOMPARE(q.codes[1], 2); // -0.5 -> -0.5250731 (above -0.6106, not above -0.4600)
        QCOMPARE(q.codes[2], 7);
        QCOMPARE(q.codes[64], 15);
        QCOMPARE(q.codes[65], 2);
        QCOMPARE(q.codes[69], 10); // 0.25 -> 0.2461123
        QCOMPARE(q.codes[70], 7); // second row: zero blocks
        const Tensor back = dequantizeBlockFormat(q);
        QCOMPARE_EXACT(back.data[64], 0.5f);
        QCOMPARE_EXACT(back.data[65], -0.5250730514526367f * 0.5f);
        QCOMPARE_EXACT(back.data[69], 0.24611230194568634f * 0.5f);
        QCOMPARE_EXACT(back.data[1], -0.5250730514526367f * 2.0f);
    }

    void bnbDynamicMapMatchesTorch()
    {
        const std::vector<float>& map = blockformat::bnbDynamicMap();
        QCOMPARE(map.size(), std::size_t(256));
        for (std::size_t i = 0; i < 256; ++i)
            QVERIFY2(
                std::bit_cast<std::uint32_t>(map[i]) == kTorchDynamicMap[i], qPrintable(QString::number(i)));
    }

    void torchMeanMatchesTorch_data()
    {
        QTest::addColumn<int>("n");
        QTest::addColumn<quint32>("bits");
        // torch.from_numpy(seq).mean() on torch 2.11 (CPU, AVX2 and AVX512 alike).
        QTest::newRow("5") << 5 << quint32(0x3efbf16e);
        QTest::newRow("37") << 37 << quint32(0x3ef75c3e);
        QTest::newRow("1000") << 1000 << quint32(0x3f0035dc);
        QTest::newRow("20000") << 20000 << quint32(0x3efffb94);
    }

    void torchMeanMatchesTorch()
    {
        QFETCH(int, n);
        QFETCH(quint32, bits);
        QCOMPARE(std::bit_cast<std::uint32_t>(blockformat::torchCpuMean(hashSequence(n, 0))), bits);
    }

    void bnbDoubleQuantization()
    {
        // 600 blocks whose absmax is 3 * seq + 0.25; offset, absmax2 and codes from bitsandbytes' torch path.
        std::vector<float> absmax = hashSequence(600, 7);
        std::vector<float> values(600 * 64, 0.0f);
        for (std::size_t b = 0; b < 600; ++b)
            values[b * 64 + b % 64] = (b % 2 ? -1.0f : 1.0f) * (absmax[b] * 3.0f + 0.25f);
        Scheme s = blockScheme(BlockFormat::BnbNF4);
        s.doubleQuantization = true;
        const QuantizedTensor q = quantizeBlockFormat(makeTensor({600, 64}, values), s);
        QCOMPARE(q.groupOffsets.size(), std::size_t(3 + 1));
        QCOMPARE(std::bit_cast<std::uint32_t>(q.groupOffsets[3]), 0x3fdfdb82u);
        QCOMPARE(std::bit_cast<std::uint32_t>(q.groupOffsets[0]), 0x3fbe3e22u);
        QCOMPARE(std::bit_cast<std::uint32_t>(q.groupOffsets[1]), 0x3fc02546u);
        QCOMPARE(std::bit_cast<std::uint32_t>(q.groupOffsets[2]), 0x3fbe3ad4u);
        const int firstCodes[] = {24, 198, 10, 191, 252, 65, 245, 50, 230, 36, 216, 28, 202, 14, 177, 0, 83,
            242, 53, 234, 39, 220, 25, 206};
        for (std::size_t i = 0; i < std::size(firstCodes); ++i)
            QCOMPARE(q.zeroPoints[i], firstCodes[i]);
        // absmax = map[code] * absmax2 + offset, and it scales the elements.
        const std::vector<float>& map = blockformat::bnbDynamicMap();
        const float expected0 = map[std::size_t(firstCodes[0])] * q.groupOffsets[0] + q.groupOffsets[3];
        QCOMPARE(q.scales[0], expected0);
        QCOMPARE(dequantizeBlockFormat(q).data[0], expected0);
        const std::vector<std::uint8_t> packed = packBlockFormat(q);
        QCOMPARE(packed.size(), std::size_t(600 * 64 / 2 + 600 + 3 * 4 + 4));
        QCOMPARE(int(packed[600 * 32]), firstCodes[0]);
        QCOMPARE(std::bit_cast<std::uint32_t>(blockformat::torchCpuMean({1.0f, 2.0f, 3.0f})), 0x40000000u);
    }

    void bnbDoubleQuantizationOfEqualAbsmax()
    {
        // Every absmax equal: absmax - offset = 0 in a chunk whose absmax2 is 0 -> code 0 (as the kernels
        // store).
        std::vector<float> values(64 * 3, 0.0f);
        values[0] = values[64] = values[128] = 1.5f;
        Scheme s = blockScheme(BlockFormat::BnbFP4);
        s.doubleQuantization = true;
        const QuantizedTensor q = quantizeBlockFormat(makeTensor({192}, values), s);
        QCOMPARE(q.zeroPoints, (std::vector<std::int32_t> {0, 0, 0}));
        QCOMPARE(q.scales, (std::vector<float> {1.5f, 1.5f, 1.5f}));
        QCOMPARE_EXACT(dequantizeBlockFormat(q).data[64], 1.5f);
    }

    // ---- ggml ----

    void ggmlQ4_0()
    {
        // max = -8 -> d = 1: -8 -> (int8)(0.5) = 0; 7.9 -> 16.4 -> 16 -> MIN 15 (clipped); 0.5 -> 9.0 -> 9
        // (up); -0.5 -> 8; 1.5 -> 10; -2.5 -> 6.0 -> 6 (up); 3.2 -> 11.7 -> 11; 0 -> 8.
        const QuantizedTensor q = quantizeBlockFormat(
            makeTensor({32}, {-8, 7.9f, 0.5f, -0.5f, 1.5f, -2.5f, 3.2f}), blockScheme(BlockFormat::GgmlQ4_0));
        const std::vector<std::int32_t> expected = {0, 15, 9, 8, 10, 6, 11, 8};
        QCOMPARE(std::vector<std::int32_t>(q.codes.begin(), q.codes.begin() + 8), expected);
        QCOMPARE(q.clippedCount, qint64(1));
        QCOMPARE(q.scales, (std::vector<float> {1.0f}));
        QCOMPARE(bytes(packBlockFormat(q)).toHex(),
            QByteArray("003c"
                       "808f89888a868b88"
                       "8888888888888888"));
        const Tensor back = dequantizeBlockFormat(q);
        QCOMPARE_EXACT(back.data[0], -8.0f);
        QCOMPARE_EXACT(back.data[1], 7.0f);
        QCOMPARE_EXACT(back.data[5], -2.0f);

        // A positive extreme: d = 4 / -8 = -0.5; 4 -> q 0 and -4 -> 16.5 -> 15 (first of equal |x| wins).
        const QuantizedTensor p
            = quantizeBlockFormat(makeTensor({32}, {4, -4}), blockScheme(BlockFormat::GgmlQ4_0));
        QCOMPARE(p.codes[0], 0);
        QCOMPARE(p.codes[1], 15);
        QCOMPARE_EXACT(p.scales[0], -0.5f);
        QCOMPARE(bytes(packBlockFormat(p)).left(2).toHex(), QByteArray("00b8"));
        QCOMPARE_EXACT(dequantizeBlockFormat(p).data[1], -3.5f);
    }

    void ggmlQ8_0()
    {
        // amax 127 -> d = 1; roundf rounds ties away from zero.
        const QuantizedTensor q
            = quantizeBlockFormat(makeTensor({32}, {127, 2.5f, -2.5f, 0.5f, -0.5f, 1.4999f, -126.5f}),
                blockScheme(BlockFormat::GgmlQ8_0));
        QCOMPARE(std::vector<std::int32_t>(q.codes.begin(), q.codes.begin() + 7),
            (std::vector<std::int32_t> {127, 3, -3, 1, -1, 1, -127}));
        QCOMPARE(bytes(packBlockFormat(q)).left(9).toHex(),
            QByteArray("003c"
                       "7f03fd01ff0181"));
        QCOMPARE(packBlockFormat(q).size(), std::size_t(34));

        // q uses the float32 d = 1.0004, not the stored fp16 d = 1.0: 124.52 / 1.0004 = 124.47 -> 124
        // (124.52 / 1.0 would give 125); dequantization then uses the fp16 d.
        const QuantizedTensor r
            = quantizeBlockFormat(makeTensor({32}, {127.0508f, 124.52f}), blockScheme(BlockFormat::GgmlQ8_0));
        QCOMPARE_EXACT(r.scales[0], 1.0f);
        QCOMPARE(r.codes[1], 124);
        QCOMPARE_EXACT(dequantizeBlockFormat(r).data[1], 124.0f);
    }

    void ggmlQ4_1()
    {
        // min -1, max 2: d = 3/15 = 0.2f (fp16 0x3266 = 0.199951171875), id = 5, m = fp16(-1) = 0xBC00.
        // q = (x + 1) * 5 + 0.5 truncated: -1 -> 0, 2 -> 15, 0 -> 5, 0.45 -> 7, 1 -> 10.
        const QuantizedTensor q
            = quantizeBlockFormat(makeTensor({32}, {-1, 2, 0, 0.45f, 1}), blockScheme(BlockFormat::GgmlQ4_1));
        QCOMPARE(std::vector<std::int32_t>(q.codes.begin(), q.codes.begin() + 6),
            (std::vector<std::int32_t> {0, 15, 5, 7, 10, 5}));
        QCOMPARE(q.scales, (std::vector<float> {0.199951171875f}));
        QCOMPARE(q.groupOffsets, (std::vector<float> {-1.0f}));
        QCOMPARE(bytes(packBlockFormat(q)).toHex(),
            QByteArray("663200bc"
                       "505f55575a5555555555555555555555"));
        const Tensor back = dequantizeBlockFormat(q);
        QCOMPARE_EXACT(back.data[1], 1.999267578125f);
        QCOMPARE_EXACT(back.data[2], -0.000244140625f);
        QCOMPARE_EXACT(back.data[3], 0.399658203125f);
        QCOMPARE_EXACT(back.data[4], 0.99951171875f);
    }

    void ggmlQ5_0()
    {
        // max = -16 -> d = 1; q = (int8)(x + 16.5): -16 -> 0, 15 -> 31, 0 -> 16, 1 -> 17, -1 -> 15, 15.9 ->
        // 32 -> 31.
        std::vector<float> values(32, 0.0f);
        values[0] = -16;
        values[1] = 15;
        values[16] = 1;
        values[17] = -1;
        values[31] = 15.9f;
        const QuantizedTensor q
            = quantizeBlockFormat(makeTensor({32}, values), blockScheme(BlockFormat::GgmlQ5_0));
        QCOMPARE(q.codes[0], 0);
        QCOMPARE(q.codes[1], 31);
        QCOMPARE(q.codes[2], 16);
        QCOMPARE(q.codes[16], 17);
        QCOMPARE(q.codes[17], 15);
        QCOMPARE(q.codes[31], 31);
        QCOMPARE(q.clippedCount, qint64(1));
        // qh bit j = bit 4 of q_j: all set but elements 0 and 17 -> 0xFFFDFFFE, little-endian.
        QCOMPARE(bytes(packBlockFormat(q)).toHex(),
            QByteArray("003c"
                       "fefffdff"
                       "10ff")
                + QByteArray("00").repeated(13) + QByteArray("f0"));
        QCOMPARE_EXACT(dequantizeBlockFormat(q).data[16], 1.0f);
        QCOMPARE_EXACT(dequantizeBlockFormat(q).data[0], -16.0f);
    }

    void ggmlQ5_1()
    {
        // min 0, max 31: d = 1, m = 0; q = (uint8)(x + 0.5): 15.5 -> 16, 16.49 -> 16, 3.7 -> 4, 1 -> 1.
        std::vector<float> values(32, 1.0f);
        values[0] = 0;
        values[1] = 31;
        values[2] = 15.5f;
        values[3] = 16.49f;
        values[4] = 3.7f;
        const QuantizedTensor q
            = quantizeBlockFormat(makeTensor({32}, values), blockScheme(BlockFormat::GgmlQ5_1));
        QCOMPARE(std::vector<std::int32_t>(q.codes.begin(), q.codes.begin() + 6),
            (std::vector<std::int32_t> {0, 31, 16, 16, 4, 1}));
        QCOMPARE(bytes(packBlockFormat(q)).toHex(),
            QByteArray("003c"
                       "0000"
                       "0e000000"
                       "101f10101411111111111111111111"
                       "11"));
        QCOMPARE_EXACT(dequantizeBlockFormat(q).data[2], 16.0f);
    }

    void ggmlMxfp4()
    {
        // Block 0: amax 6 -> e = floor(log2 6) - 2 + 127 = 127, d = 2^(127-128) = 0.5, grid kvalues * 0.5 =
        // {0, .5, 1, 1.5, 2, 3, 4, 6, 0, -.5, ..., -6}. The search keeps the first index with the strictly
        // smallest error: 0.75 -> code 1 (0.5), -0.75 -> 9 (-0.5), 1.25 -> 2, 2.5 -> 4, 3.5 -> 5, 5 -> 6,
        // -1.75 -> 11 (-1.5): ties to the smaller magnitude; -0.25, -0 and 0.25 -> code 0 (+0, not code 8).
        // Block 1: amax 7 -> d = 0.5 too; ±7 exceed 12 d = 6 and saturate (clipped). Block 2: zeros -> e = 0.
        std::vector<float> values(96, 0.0f);
        const float first[]
            = {6, 0.75f, -0.75f, -0.25f, -0.0f, 0.25f, 1.25f, 5, 2.5f, 3.5f, -1.75f, 0.3f, -6};
        std::copy(std::begin(first), std::end(first), values.begin());
        values[16] = -3.0f;
        values[32] = 7.0f;
        values[33] = -7.0f;
        values[34] = 1.0f;
        const QuantizedTensor q
            = quantizeBlockFormat(makeTensor({96}, values), blockScheme(BlockFormat::GgmlMXFP4));
        QCOMPARE(std::vector<std::int32_t>(q.codes.begin(), q.codes.begin() + 13),
            (std::vector<std::int32_t> {7, 1, 9, 0, 0, 0, 2, 6, 4, 5, 11, 1, 15}));
        QCOMPARE(q.codes[16], 13);
        QCOMPARE(q.codes[32], 7);
        QCOMPARE(q.codes[33], 15);
        QCOMPARE(q.codes[34], 2);
        QCOMPARE(q.clippedCount, qint64(2));
        QCOMPARE(q.scales, (std::vector<float> {0.5f, 0.5f, std::ldexp(1.0f, -128)}));
        // ggml's layout: e, then qs[j] = element j (low nibble) | element j + 16 (high nibble).
        const QByteArray packed = bytes(packBlockFormat(q));
        QCOMPARE(packed.size(), qsizetype(3 * 17));
        QCOMPARE(packed.left(17).toHex(),
            QByteArray("7f"
                       "d7010900000002060405"
                       "0b010f000000"));
        QCOMPARE(packed.mid(17, 4).toHex(), QByteArray("7f070f02"));
        QCOMPARE(packed.mid(34).toHex(), QByteArray("00").repeated(17));
        const Tensor back = dequantizeBlockFormat(q);
        QCOMPARE_EXACT(back.data[1], 0.5f);
        QCOMPARE_EXACT(back.data[2], -0.5f);
        QCOMPARE_EXACT(back.data[3], 0.0f); // +0 for -0.25
        QCOMPARE_EXACT(back.data[4], 0.0f); // +0 for -0
        QCOMPARE_EXACT(back.data[16], -3.0f);
        QCOMPARE_EXACT(back.data[33], -6.0f);
        QCOMPARE_EXACT(back.data[40], 0.0f);

        // OCP MXFP4 rounds the same block to nearest even and packs element pairs: not the same bytes.
        QVERIFY(bytes(packBlockFormat(
                    quantizeBlockFormat(makeTensor({96}, values), blockScheme(BlockFormat::MXFP4))))
            != packed);
    }

    void ggmlMxfp4Exponent()
    {
        // e follows glibc's log2f as ggml calls it: log2f(2^20 - 2^-4) rounds to 20.0, so e = 20 - 2 + 127 =
        // 145 (the exponent field would give 144); 8 d = 2^20 is then the nearest value.
        QuantizedTensor q
            = quantizeBlockFormat(makeTensor({32}, {0x1.fffffep19f}), blockScheme(BlockFormat::GgmlMXFP4));
        QCOMPARE(std::uint8_t(packBlockFormat(q)[0]), std::uint8_t(145));
        QCOMPARE(q.codes[0], 6);
        QCOMPARE_EXACT(dequantizeBlockFormat(q).data[0], 1048576.0f);
        // No clamp: amax = 1e-40 gives floor(log2) - 2 + 127 = -8, converted to uint8 as gcc does on x86-64
        // (cvttss2si, low byte) -> 248, d = 2^120; the value is far below d/2 and stores code 0.
        q = quantizeBlockFormat(makeTensor({32}, {1e-40f}), blockScheme(BlockFormat::GgmlMXFP4));
        QCOMPARE(std::uint8_t(packBlockFormat(q)[0]), std::uint8_t(248));
        QCOMPARE_EXACT(q.scales[0], std::ldexp(1.0f, 120));
        QCOMPARE(q.codes[0], 0);
        // An infinite amax converts to e = 0 there (d = 2^-128). Every error |kvalue d - x| then rounds to
        // |x| in float32 for x = ±1 (clipped), and the Inf and the NaN (which amax skips) find no smaller
        // error than code 0's either: the whole block stores code 0.
        q = quantizeBlockFormat(
            makeTensor({32}, {INFINITY, 1.0f, kNaN, -1.0f}), blockScheme(BlockFormat::GgmlMXFP4));
        QCOMPARE(std::uint8_t(packBlockFormat(q)[0]), std::uint8_t(0));
        QCOMPARE(std::vector<std::int32_t>(q.codes.begin(), q.codes.begin() + 4),
            (std::vector<std::int32_t> {0, 0, 0, 0}));
        QCOMPARE(q.nonFiniteCount, qint64(2));
        QCOMPARE(q.clippedCount, qint64(2));
        QCOMPARE_EXACT(dequantizeBlockFormat(q).data[0], 0.0f);
        // Rows of whole blocks only; names.
        QVERIFY_THROWS_EXCEPTION(
            Error, quantizeBlockFormat(makeTensor({2, 48}, {}), blockScheme(BlockFormat::GgmlMXFP4)));
        QCOMPARE(blockFormatByName("mxfp4_ggml"), BlockFormat::GgmlMXFP4);
        QCOMPARE(blockFormatByName("GGML_MXFP4"), BlockFormat::GgmlMXFP4);
        QCOMPARE(blockFormatByName("mxfp4"), BlockFormat::MXFP4);
        QCOMPARE(blockFormatInfo(BlockFormat::GgmlMXFP4).elementMax, 12.0);
    }

    void ggmlNeedsWholeBlocks()
    {
        QVERIFY_THROWS_EXCEPTION(
            Error, quantizeBlockFormat(makeTensor({2, 48}, {}), blockScheme(BlockFormat::GgmlQ8_0)));
        const QuantizedTensor q
            = quantizeBlockFormat(makeTensor({2, 64}, {}), blockScheme(BlockFormat::GgmlQ5_1));
        QCOMPARE(q.scales.size(), std::size_t(4));
        QCOMPARE(packBlockFormat(q).size(), std::size_t(4 * 24));
    }

    // ---- every format ----

    void roundTripIsIdempotent_data()
    {
        QTest::addColumn<BlockFormat>("format");
        for (BlockFormat f : {BlockFormat::MXFP8_E4M3, BlockFormat::MXFP8_E5M2, BlockFormat::MXFP6_E3M2,
                 BlockFormat::MXFP6_E2M3, BlockFormat::MXFP4, BlockFormat::MXINT8, BlockFormat::NVFP4,
                 BlockFormat::BnbNF4, BlockFormat::BnbFP4, BlockFormat::GgmlQ8_0, BlockFormat::GgmlQ4_0,
                 BlockFormat::GgmlQ4_1, BlockFormat::GgmlQ5_0, BlockFormat::GgmlQ5_1, BlockFormat::GgmlMXFP4})
            QTest::newRow(blockFormatName(f).c_str()) << f;
    }

    void roundTripIsIdempotent()
    {
        QFETCH(BlockFormat, format);
        const Tensor x = makeTensor({3, 96}, pseudoRandom(3 * 96, 11));
        const QuantizedTensor q1 = quantizeBlockFormat(x, blockScheme(format));
        const Tensor y1 = dequantizeBlockFormat(q1);
        const QuantizedTensor q2 = quantizeBlockFormat(y1, blockScheme(format));
        const Tensor y2 = dequantizeBlockFormat(q2);
        std::vector<std::int32_t> codes1 = q1.codes;
        std::vector<std::int32_t> codes2 = q2.codes;
        // bitsandbytes' FP4 tree gives -0.0 the +0 code (x < 0 is false): a -0 code comes back as +0.
        const bool signedZeroCodes = format == BlockFormat::BnbFP4;
        if (signedZeroCodes) {
            std::replace(codes1.begin(), codes1.end(), 8, 0);
            std::replace(codes2.begin(), codes2.end(), 8, 0);
        }
        QCOMPARE(codes2, codes1);
        QCOMPARE(q2.scales, q1.scales);
        QCOMPARE(q2.groupOffsets, q1.groupOffsets);
        QCOMPARE_EXACT_DOUBLE(q2.tensorScale, q1.tensorScale);
        for (std::size_t i = 0; i < y1.data.size(); ++i)
            QVERIFY2(y1.data[i] == y2.data[i], qPrintable(QString::number(i)));
        if (!signedZeroCodes)
            QCOMPARE(bytes(packBlockFormat(q2)), bytes(packBlockFormat(q1)));
        QVERIFY(y1.data != x.data);
    }

    void inconsistentQuantizedTensorThrows()
    {
        QuantizedTensor q
            = quantizeBlockFormat(makeTensor({64}, pseudoRandom(64, 3)), blockScheme(BlockFormat::MXFP4));
        q.scales.pop_back();
        QVERIFY_THROWS_EXCEPTION(Error, dequantizeBlockFormat(q));
        QVERIFY_THROWS_EXCEPTION(Error, packBlockFormat(q));
        QuantizedTensor g = quantizeBlockFormat(makeTensor({32}, {}), blockScheme(BlockFormat::GgmlQ4_0));
        g.codes[3] = 16;
        QVERIFY_THROWS_EXCEPTION(Error, dequantizeBlockFormat(g));
        QuantizedTensor m = quantizeBlockFormat(makeTensor({32}, {}), blockScheme(BlockFormat::GgmlMXFP4));
        m.codes[3] = 16;
        QVERIFY_THROWS_EXCEPTION(Error, dequantizeBlockFormat(m));
        QVERIFY_THROWS_EXCEPTION(Error, packBlockFormat(m));
        m.codes[3] = 0;
        m.scales[0] = 0.75f; // not a power of two
        QVERIFY_THROWS_EXCEPTION(Error, packBlockFormat(m));
        Tensor bad = makeTensor({4}, {});
        bad.data.pop_back();
        QVERIFY_THROWS_EXCEPTION(Error, quantizeBlockFormat(bad, blockScheme(BlockFormat::NVFP4)));
    }
};

QTEST_APPLESS_MAIN(TestBlockFormats)

#include "tst_block_formats.moc"
