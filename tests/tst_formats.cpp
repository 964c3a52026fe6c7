#include "base/error.h"
#include "formats/number_format.h"
#include "tensor/dtype.h"

#include <QtTest>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace qs;

namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

QString hex(std::uint32_t code)
{
    return QStringLiteral("0x%1").arg(code, 0, 16);
}

QString describe(double x)
{
    return QString::number(x, 'g', 17);
}

/// Formats by name with optional compatibility and rounding overrides, as the data tables spell them.
NumberFormat configured(const QString& name, const QString& compatibility = {}, const QString& rounding = {})
{
    NumberFormat format = formatByName(name.toStdString());
    if (!compatibility.isEmpty())
        format.minifloat = minifloatCompatibility(compatibility.toStdString());
    if (rounding == QLatin1String("away"))
        format.minifloat.rounding = Rounding::NearestAway;
    return format;
}

/// Independent decoder: the OCP/IEEE formula in long double, specials from the layout.
long double referenceMinifloat(std::uint32_t code, const MinifloatSpec& s)
{
    const std::uint32_t sign = code >> (s.exponentBits + s.mantissaBits);
    const std::uint32_t e = (code >> s.mantissaBits) & ((1u << s.exponentBits) - 1);
    const std::uint32_t m = code & ((1u << s.mantissaBits) - 1);
    const bool topExponent = e == (1u << s.exponentBits) - 1;
    long double magnitude;
    if (s.specials == MinifloatSpecials::Ieee && topExponent)
        magnitude = m == 0 ? INFINITY : NAN;
    else if (s.specials == MinifloatSpecials::NanOnlyFn && topExponent && m == (1u << s.mantissaBits) - 1)
        magnitude = NAN;
    else if (e == 0)
        magnitude = std::ldexp(static_cast<long double>(m), 1 - s.bias - s.mantissaBits);
    else
        magnitude = std::ldexp(
            static_cast<long double>((1u << s.mantissaBits) + m), int(e) - s.bias - s.mantissaBits);
    return sign ? -magnitude : magnitude;
}

bool sameValue(double got, double expected)
{
    if (std::isnan(expected))
        return std::isnan(got);
    return got == expected && std::signbit(got) == std::signbit(expected);
}

/// Brute-force RNE reference for finite x: the nearest of the non-negative finite values, the value one
/// quantum above max standing for "overflow"; a tie picks the neighbour that is an even multiple of the gap.
/// Returns the non-negative code (index), or -1 for overflow.
int referenceMagnitudeCode(const std::vector<double>& positives, double overflowValue, double magnitude)
{
    if (magnitude > overflowValue)
        return -1;
    const auto upper = std::lower_bound(positives.begin(), positives.end(), magnitude);
    if (upper != positives.end() && *upper == magnitude)
        return int(upper - positives.begin());
    const double lo = *(upper - 1);
    const double hi = upper == positives.end() ? overflowValue : *upper;
    const int loCode = int(upper - positives.begin()) - 1;
    const int hiCode = upper == positives.end() ? -1 : loCode + 1;
    if (magnitude - lo < hi - magnitude)
        return loCode;
    if (magnitude - lo > hi - magnitude)
        return hiCode;
    return std::fmod(lo / (hi - lo), 2.0) == 0.0 ? loCode : hiCode;
}

struct MinifloatReference {
    MinifloatSpec spec;
    std::vector<double> positives; // value of code c for c = 0..maxFinite
    double overflowValue = 0;
    std::uint32_t signBit = 0;
};

MinifloatReference minifloatReference(const NumberFormat& format)
{
    MinifloatReference r;
    r.spec = std::get<MinifloatSpec>(format.spec);
    r.signBit = 1u << (r.spec.exponentBits + r.spec.mantissaBits);
    for (std::uint32_t code = 0; code < r.signBit; ++code) {
        const long double v = referenceMinifloat(code, r.spec);
        if (!std::isfinite(v))
            break;
        r.positives.push_back(double(v));
    }
    const double max = r.positives.back();
    r.overflowValue = max + std::ldexp(1.0, std::ilogb(max) - r.spec.mantissaBits);
    return r;
}

// ---- Transcriptions of the reference quantizers (bitsandbytes csrc/kernels.cu, ggml-quants.c) ----

unsigned char bnbQuantizeNF4(float x)
{
    if (x > 0.03979014977812767f) {
        if (x > 0.3893125355243683f) {
            if (x > 0.6427869200706482f)
                return x > 0.8614784181118011f ? 0b1111 : 0b1110;
            return x > 0.5016634166240692f ? 0b1101 : 0b1100;
        }
        if (x > 0.2035212516784668f)
            return x > 0.2920137718319893f ? 0b1011 : 0b1010;
        return x > 0.1202552504837513f ? 0b1001 : 0b1000;
    }
    if (x > -0.33967943489551544f) {
        if (x > -0.13791173323988914f)
            return x > -0.045525018125772476f ? 0b0111 : 0b0110;
        return x > -0.23460740596055984f ? 0b0101 : 0b0100;
    }
    if (x > -0.6106329262256622f)
        return x > -0.4599952697753906f ? 0b0011 : 0b0010;
    return x > -0.8480964004993439f ? 0b0001 : 0b0000;
}

unsigned char bnbQuantizeFP4(float x)
{
    const int sign = x < 0 ? 0b1000 : 0b0000;
    x = std::fabs(x);
    if (x > 0.29166667f) {
        if (x > 0.583333f)
            return (x > 0.8333333f ? 0b0011 : 0b0010) + sign;
        return (x > 0.4166667f ? 0b101 : 0b100) + sign;
    }
    if (x > 0.0859375f)
        return (x > 0.20833333f ? 0b0111 : 0b0110) + sign;
    return (x > 0.00260417f ? 0b0001 : 0b0000) + sign;
}

const std::int8_t kvaluesIq4nl[16]
    = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

int ggmlBestIndexInt8(int n, const std::int8_t* val, float x)
{
    if (x <= val[0])
        return 0;
    if (x >= val[n - 1])
        return n - 1;
    int ml = 0, mu = n - 1;
    while (mu - ml > 1) {
        const int mav = (ml + mu) / 2;
        if (x < val[mav])
            mu = mav;
        else
            ml = mav;
    }
    return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

/// Random floats whose exponents cover [lowExponent, highExponent], random mantissa and sign.
std::vector<float> randomFloats(std::size_t count, int lowExponent, int highExponent, unsigned seed)
{
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> exponent(lowExponent, highExponent);
    std::uniform_int_distribution<std::uint32_t> mantissa(0, (1u << 23) - 1);
    std::vector<float> values(count);
    for (float& v : values) {
        const float magnitude = std::ldexp(1.0f + float(mantissa(rng)) * 0x1p-23f, exponent(rng));
        v = (rng() & 1u) ? -magnitude : magnitude;
    }
    return values;
}

} // namespace

class TestFormats : public QObject {
    Q_OBJECT

private slots:
    void formatProperties_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("bits");
        QTest::addColumn<int>("codeCount");
        QTest::addColumn<double>("maxFinite");
        QTest::addColumn<int>("valueCount");
        QTest::addColumn<bool>("standard");

        QTest::newRow("int2") << "int2" << 2 << 4 << 1.0 << 4 << true;
        QTest::newRow("int4") << "int4" << 4 << 16 << 7.0 << 16 << true;
        QTest::newRow("uint4") << "uint4" << 4 << 16 << 15.0 << 16 << true;
        QTest::newRow("int6") << "int6" << 6 << 64 << 31.0 << 64 << true;
        QTest::newRow("int8") << "int8" << 8 << 256 << 127.0 << 256 << true;
        QTest::newRow("uint8") << "uint8" << 8 << 256 << 255.0 << 256 << true;
        QTest::newRow("int12") << "int12" << 12 << 4096 << 2047.0 << 4096 << true;
        QTest::newRow("int16") << "int16" << 16 << 65536 << 32767.0 << 65536 << true;
        QTest::newRow("uint16") << "uint16" << 16 << 65536 << 65535.0 << 65536 << true;
        // value counts: codes - NaN codes - Inf codes - the -0 code
        QTest::newRow("fp16") << "fp16" << 16 << 65536 << 65504.0 << 65536 - 2046 - 2 - 1 << true;
        QTest::newRow("bf16") << "bf16" << 16 << 65536 << 0x1.FEp127 << 65536 - 254 - 2 - 1 << true;
        QTest::newRow("fp8_e4m3") << "fp8_e4m3" << 8 << 256 << 448.0 << 256 - 2 - 1 << true;
        QTest::newRow("fp8_e5m2") << "fp8_e5m2" << 8 << 256 << 57344.0 << 256 - 6 - 2 - 1 << true;
        QTest::newRow("fp6_e3m2") << "fp6_e3m2" << 6 << 64 << 28.0 << 63 << true;
        QTest::newRow("fp6_e2m3") << "fp6_e2m3" << 6 << 64 << 7.5 << 63 << true;
        QTest::newRow("fp4_e2m1") << "fp4_e2m1" << 4 << 16 << 6.0 << 15 << true;
        QTest::newRow("fp4_e1m2") << "fp4_e1m2" << 4 << 16 << 3.5 << 15 << false;
        QTest::newRow("fp4_e3m0") << "fp4_e3m0" << 4 << 16 << 16.0 << 15 << false;
        QTest::newRow("e3m4 generic") << "e3m4" << 8 << 256 << 31.0 << 255 << false;
        QTest::newRow("e5m0 generic") << "e5m0" << 6 << 64 << 65536.0 << 63 << false;
        QTest::newRow("nf4") << "nf4" << 4 << 16 << 1.0 << 16 << true;
        QTest::newRow("bnb_fp4") << "bnb_fp4" << 4 << 16 << 1.0 << 15 << true;
        QTest::newRow("iq4_nl") << "iq4_nl" << 4 << 16 << 127.0 << 16 << true;
        QTest::newRow("ternary") << "ternary" << 2 << 3 << 1.0 << 3 << true;
        QTest::newRow("binary") << "binary" << 1 << 2 << 1.0 << 2 << true;
    }

    void formatProperties()
    {
        QFETCH(QString, name);
        QFETCH(int, bits);
        QFETCH(int, codeCount);
        QFETCH(double, maxFinite);
        QFETCH(int, valueCount);
        QFETCH(bool, standard);

        const NumberFormat format = formatByName(name.toStdString());
        QCOMPARE(format.name, name.toStdString());
        QVERIFY(!format.reference.empty());
        QCOMPARE(format.standard, standard);
        QCOMPARE(formatBits(format), bits);
        QCOMPARE(formatCodeCount(format), codeCount);
        QCOMPARE_EQ(formatMaxFinite(format), maxFinite);

        const std::vector<double> values = formatValues(format);
        QCOMPARE(int(values.size()), valueCount);
        for (std::size_t i = 0; i < values.size(); ++i) {
            QVERIFY2(std::isfinite(values[i]), qPrintable(describe(values[i])));
            QVERIFY2(!(values[i] == 0 && std::signbit(values[i])), "-0 listed");
            if (i > 0)
                QVERIFY2(values[i - 1] < values[i], qPrintable(describe(values[i])));
        }
        const double largest = std::max(std::fabs(values.front()), values.back());
        const auto* integer = std::get_if<IntegerSpec>(&format.spec);
        if (integer && integer->isSigned) {
            QCOMPARE_EQ(values.back(), maxFinite); // two's complement: -(max + 1) exists, the scale uses max
            QCOMPARE_EQ(largest, maxFinite + 1);
        } else {
            QCOMPARE_EQ(largest, maxFinite);
        }
        // every listed value is a fixed point of the format
        for (double v : values)
            QVERIFY2(roundToFormat(format, v) == v, qPrintable(describe(v)));
    }

    void documentedValueSets_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QList<double>>("positives");

        // formats.md §1.1, dumped from ml_dtypes FromRep
        QTest::newRow("fp4_e2m1") << "fp4_e2m1" << QList<double> {0, 0.5, 1, 1.5, 2, 3, 4, 6};
        QTest::newRow("fp6_e2m3") << "fp6_e2m3"
                                  << QList<double> {0, .125, .25, .375, .5, .625, .75, .875, 1, 1.125, 1.25,
                                         1.375, 1.5, 1.625, 1.75, 1.875, 2, 2.25, 2.5, 2.75, 3, 3.25, 3.5,
                                         3.75, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5};
        QTest::newRow("fp6_e3m2") << "fp6_e3m2"
                                  << QList<double> {0, .0625, .125, .1875, .25, .3125, .375, .4375, .5, .625,
                                         .75, .875, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12,
                                         14, 16, 20, 24, 28};
        // non-standard, generic bias 2^(E-1)-1
        QTest::newRow("fp4_e1m2") << "fp4_e1m2" << QList<double> {0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5};
        QTest::newRow("fp4_e3m0") << "fp4_e3m0" << QList<double> {0, 0.25, 0.5, 1, 2, 4, 8, 16};
    }

    void documentedValueSets()
    {
        QFETCH(QString, name);
        QFETCH(QList<double>, positives);
        const NumberFormat format = formatByName(name.toStdString());
        for (int code = 0; code < positives.size(); ++code)
            QCOMPARE_EQ(decodeValue(format, std::uint32_t(code)), positives[code]);
        const std::uint32_t signBit = std::uint32_t(positives.size());
        for (int code = 0; code < positives.size(); ++code)
            QVERIFY(sameValue(decodeValue(format, signBit | std::uint32_t(code)), -positives[code]));
    }

    void everyCodeRoundTrips_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("nanCodes");
        QTest::addColumn<QList<int>>("nonCanonical"); // codes whose value encodes to another code

        QTest::newRow("fp8_e4m3") << "fp8_e4m3" << 2 << QList<int> {};
        QTest::newRow("fp8_e5m2") << "fp8_e5m2" << 6 << QList<int> {};
        QTest::newRow("fp6_e3m2") << "fp6_e3m2" << 0 << QList<int> {};
        QTest::newRow("fp6_e2m3") << "fp6_e2m3" << 0 << QList<int> {};
        QTest::newRow("fp4_e2m1") << "fp4_e2m1" << 0 << QList<int> {};
        QTest::newRow("fp4_e1m2") << "fp4_e1m2" << 0 << QList<int> {};
        QTest::newRow("fp4_e3m0") << "fp4_e3m0" << 0 << QList<int> {};
        QTest::newRow("e3m4") << "e3m4" << 0 << QList<int> {};
        QTest::newRow("nf4") << "nf4" << 0 << QList<int> {};
        // bnb dQuantizeFP4 gives -0.0 the sign of "x < 0" (false): the canonical zero is code 0.
        QTest::newRow("bnb_fp4") << "bnb_fp4" << 0 << QList<int> {8};
        QTest::newRow("iq4_nl") << "iq4_nl" << 0 << QList<int> {};
        QTest::newRow("int4") << "int4" << 0 << QList<int> {};
        QTest::newRow("uint4") << "uint4" << 0 << QList<int> {};
        QTest::newRow("int6") << "int6" << 0 << QList<int> {};
        QTest::newRow("int8") << "int8" << 0 << QList<int> {};
        QTest::newRow("uint8") << "uint8" << 0 << QList<int> {};
        QTest::newRow("int2") << "int2" << 0 << QList<int> {};
        QTest::newRow("ternary") << "ternary" << 0 << QList<int> {};
        QTest::newRow("binary") << "binary" << 0 << QList<int> {};
    }

    void everyCodeRoundTrips()
    {
        QFETCH(QString, name);
        QFETCH(int, nanCodes);
        QFETCH(QList<int>, nonCanonical);

        const NumberFormat format = formatByName(name.toStdString());
        const int count = formatCodeCount(format);
        int nans = 0;
        for (int code = 0; code < count; ++code) {
            const double value = decodeValue(format, std::uint32_t(code));
            if (const auto* spec = std::get_if<MinifloatSpec>(&format.spec)) {
                const double expected = double(referenceMinifloat(std::uint32_t(code), *spec));
                QVERIFY2(sameValue(value, expected),
                    qPrintable(hex(code) + ": " + describe(value) + " vs " + describe(expected)));
            }
            if (std::isnan(value)) {
                ++nans;
                continue;
            }
            const std::uint32_t encoded = encodeValue(format, value);
            if (nonCanonical.contains(code)) {
                QVERIFY2(encoded != std::uint32_t(code), qPrintable(hex(code)));
                QVERIFY(sameValue(std::fabs(decodeValue(format, encoded)), std::fabs(value)));
            } else {
                QVERIFY2(encoded == std::uint32_t(code),
                    qPrintable(hex(code) + " (" + describe(value) + ") encodes to " + hex(encoded)));
            }
        }
        QCOMPARE(nans, nanCodes);
    }

    void integerCodesAreTwosComplement()
    {
        for (int bits = 2; bits <= 16; ++bits) {
            const NumberFormat s = integerFormat(bits, true);
            const NumberFormat u = integerFormat(bits, false);
            const std::uint32_t mask = (1u << bits) - 1;
            for (std::int32_t q = -(1 << (bits - 1)); q < (1 << (bits - 1)); ++q) {
                QCOMPARE(encodeValue(s, q), std::uint32_t(q) & mask);
                QCOMPARE_EQ(decodeValue(s, std::uint32_t(q) & mask), double(q));
            }
            for (std::int32_t q = 0; q < (1 << bits); ++q)
                QCOMPARE_EQ(decodeValue(u, std::uint32_t(q)), double(q));
        }
    }

    void fp8MatchesDtypeDecoders()
    {
        const NumberFormat e4m3 = fp8E4M3Format();
        const NumberFormat e5m2 = fp8E5M2Format();
        for (std::uint32_t code = 0; code < 256; ++code) {
            QVERIFY2(sameValue(decodeValue(e4m3, code), double(e4m3ToF32(std::uint8_t(code)))),
                qPrintable(hex(code)));
            QVERIFY2(sameValue(decodeValue(e5m2, code), double(e5m2ToF32(std::uint8_t(code)))),
                qPrintable(hex(code)));
        }
    }

    void fp16Bf16EveryCode()
    {
        const NumberFormat fp16 = fp16Format();
        const NumberFormat bf16 = bf16Format();
        for (std::uint32_t code = 0; code < 65536; ++code) {
            const double h = decodeValue(fp16, code);
            const double b = decodeValue(bf16, code);
            QVERIFY2(sameValue(h, double(f16ToF32(std::uint16_t(code)))), qPrintable(hex(code)));
            QVERIFY2(sameValue(b, double(bf16ToF32(std::uint16_t(code)))), qPrintable(hex(code)));
            if (!std::isnan(h))
                QVERIFY2(encodeValue(fp16, h) == code, qPrintable(hex(code)));
            if (!std::isnan(b))
                QVERIFY2(encodeValue(bf16, b) == code, qPrintable(hex(code)));
        }
    }

    void fp16Bf16MatchDtypeEncoders()
    {
        const NumberFormat fp16 = fp16Format();
        const NumberFormat bf16 = bf16Format();
        std::vector<float> inputs;
        // every bit pattern class: uniformly random 32-bit words (all exponents, NaN, Inf)
        std::mt19937 rng(20240611);
        for (int i = 0; i < 2'000'000; ++i)
            inputs.push_back(std::bit_cast<float>(std::uint32_t(rng())));
        // fp16's own range, subnormals included
        const std::vector<float> near = randomFloats(2'000'000, -27, 16, 7);
        inputs.insert(inputs.end(), near.begin(), near.end());
        // exact midpoints between neighbouring fp16 and bf16 values, and one float ulp either side
        for (std::uint32_t code = 0; code < 0x7BFF; ++code) {
            const float mid
                = float((double(f16ToF32(std::uint16_t(code))) + f16ToF32(std::uint16_t(code + 1))) / 2);
            for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
                inputs.push_back(x);
                inputs.push_back(-x);
            }
        }
        for (std::uint32_t code = 0; code < 0x7F80; ++code) {
            const float lo = bf16ToF32(std::uint16_t(code));
            const float hi = bf16ToF32(std::uint16_t(code + 1));
            const float mid = std::bit_cast<float>((std::bit_cast<std::uint32_t>(lo) + 0x8000u));
            QVERIFY(lo < mid && mid < hi);
            for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
                inputs.push_back(x);
                inputs.push_back(-x);
            }
        }
        for (float x :
            {65504.0f, 65519.99f, 65520.0f, 1e9f, -65520.0f, 0x1p-25f, 0x1.8p-25f, 0x1p-149f, 3.4e38f})
            inputs.push_back(x);

        std::size_t nansSeen = 0;
        for (float x : inputs) {
            const std::uint32_t h = encodeValue(fp16, x);
            const std::uint32_t b = encodeValue(bf16, x);
            if (std::isnan(x)) {
                ++nansSeen;
                const std::uint32_t sign = std::signbit(x) ? 0x8000u : 0u;
                if (h != (sign | 0x7E00u) || b != (sign | 0x7FC0u))
                    QFAIL(qPrintable(
                        "NaN " + hex(std::bit_cast<std::uint32_t>(x)) + " -> " + hex(h) + ", " + hex(b)));
                continue;
            }
            if (h != f32ToF16(x))
                QFAIL(qPrintable("fp16 " + describe(x) + ": " + hex(h) + " vs f32ToF16 " + hex(f32ToF16(x))));
            if (b != f32ToBf16(x))
                QFAIL(
                    qPrintable("bf16 " + describe(x) + ": " + hex(b) + " vs f32ToBf16 " + hex(f32ToBf16(x))));
        }
        QVERIFY(nansSeen > 0);
        QVERIFY(inputs.size() > 4'000'000);
    }

    void minifloatsMatchBruteForce_data()
    {
        QTest::addColumn<QString>("name");
        for (const char* name : {"fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "fp4_e1m2",
                 "fp4_e3m0", "e3m4", "e5m0", "e2m5", "fp16"})
            QTest::newRow(name) << QString::fromLatin1(name);
    }

    /// RNE against an independent nearest-value search, on random floats and on every midpoint (± 1 ulp),
    /// for the saturating (preset) and the non-saturating (ml_dtypes) overflow.
    void minifloatsMatchBruteForce()
    {
        QFETCH(QString, name);
        const NumberFormat saturating = configured(name, QStringLiteral("ml_dtypes_saturate"));
        const NumberFormat nonSaturating = configured(name, QStringLiteral("ml_dtypes"));
        const MinifloatReference ref = minifloatReference(saturating);
        const std::uint32_t maxCode = std::uint32_t(ref.positives.size() - 1);
        const std::uint32_t nonFiniteCode = ref.spec.specials == MinifloatSpecials::Ieee
            ? (((1u << ref.spec.exponentBits) - 1) << ref.spec.mantissaBits)
            : ref.spec.specials == MinifloatSpecials::NanOnlyFn ? ref.signBit - 1
                                                                : maxCode;

        std::vector<float> inputs;
        for (std::size_t i = 0; i + 1 < ref.positives.size(); ++i) {
            const float mid = float((ref.positives[i] + ref.positives[i + 1]) / 2);
            QCOMPARE_EQ(double(mid), (ref.positives[i] + ref.positives[i + 1]) / 2);
            inputs.insert(inputs.end(), {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)});
        }
        const float overflowMid = float((ref.positives.back() + ref.overflowValue) / 2);
        inputs.insert(inputs.end(),
            {overflowMid, std::nextafter(overflowMid, 0.0f), std::nextafter(overflowMid, INFINITY),
                float(ref.overflowValue), 1e30f});
        const int minExponent = std::ilogb(ref.positives[1]) - 2;
        const int maxExponent = std::ilogb(ref.overflowValue) + 1;
        const std::vector<float> random = randomFloats(200'000, minExponent, maxExponent, 99);
        inputs.insert(inputs.end(), random.begin(), random.end());

        int checked = 0;
        for (float input : inputs) {
            for (float x : {input, -input}) {
                const int magnitudeCode
                    = referenceMagnitudeCode(ref.positives, ref.overflowValue, std::fabs(x));
                const std::uint32_t sign = std::signbit(x) ? ref.signBit : 0u;
                const std::uint32_t expectedSat
                    = sign | (magnitudeCode < 0 ? maxCode : std::uint32_t(magnitudeCode));
                const std::uint32_t expectedNonSat
                    = sign | (magnitudeCode < 0 ? nonFiniteCode : std::uint32_t(magnitudeCode));
                const std::uint32_t gotSat = encodeValue(saturating, x);
                const std::uint32_t gotNonSat = encodeValue(nonSaturating, x);
                if (gotSat != expectedSat || gotNonSat != expectedNonSat)
                    QFAIL(qPrintable(describe(x) + ": saturating " + hex(gotSat) + " (expected "
                        + hex(expectedSat) + "), non-saturating " + hex(gotNonSat) + " (expected "
                        + hex(expectedNonSat) + ")"));
                ++checked;
            }
        }
        QVERIFY(checked > 400'000);
    }

    void goldenVectors_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("compatibility"); // empty: the preset's own options
        QTest::addColumn<QString>("rounding"); // empty: RNE
        QTest::addColumn<double>("input");
        QTest::addColumn<uint>("expected");

        const auto row = [](const char* name, const char* compat, const char* rounding, double x, uint code) {
            QTest::addRow("%s %s %s %.17g", name, compat, rounding, x)
                << QString::fromLatin1(name) << QString::fromLatin1(compat) << QString::fromLatin1(rounding)
                << x << code;
        };

        // formats.md §1.2 / §8: FP8 E4M3 (fn)
        row("fp8_e4m3", "ml_dtypes", "", 448, 0x7E);
        row("fp8_e4m3", "ml_dtypes", "", 464, 0x7E);
        row("fp8_e4m3", "cuda_satfinite", "", 464, 0x7E);
        row("fp8_e4m3", "ml_dtypes", "", 465, 0x7F);
        row("fp8_e4m3", "pytorch", "", 465, 0x7F);
        row("fp8_e4m3", "onnx_nosat", "", 465, 0x7F);
        row("fp8_e4m3", "ml_dtypes_saturate", "", 465, 0x7E);
        row("fp8_e4m3", "cuda_satfinite", "", 465, 0x7E);
        row("fp8_e4m3", "onnx_saturate", "", 465, 0x7E);
        row("fp8_e4m3", "", "", 465, 0x7E); // preset default = ml_dtypes_saturate
        row("fp8_e4m3", "", "away", 464, 0x7E);
        row("fp8_e4m3", "ml_dtypes", "away", 464, 0x7F);
        row("fp8_e4m3", "ml_dtypes", "", kInf, 0x7F);
        row("fp8_e4m3", "ml_dtypes_saturate", "", kInf, 0x7F);
        row("fp8_e4m3", "pytorch", "", kInf, 0x7F);
        row("fp8_e4m3", "", "", kInf, 0x7F);
        row("fp8_e4m3", "cuda_satfinite", "", kInf, 0x7E);
        row("fp8_e4m3", "onnx_saturate", "", kInf, 0x7E);
        row("fp8_e4m3", "ml_dtypes", "", -kInf, 0xFF);
        row("fp8_e4m3", "ml_dtypes_saturate", "", -kInf, 0xFF);
        row("fp8_e4m3", "cuda_satfinite", "", -kInf, 0xFE);
        row("fp8_e4m3", "onnx_saturate", "", -kInf, 0xFE);
        row("fp8_e4m3", "ml_dtypes", "", kNaN, 0x7F);
        row("fp8_e4m3", "cuda_satfinite", "", kNaN, 0x7F);
        row("fp8_e4m3", "ml_dtypes", "", -kNaN, 0xFF);
        row("fp8_e4m3", "pytorch", "", -1e6, 0xFF);
        row("fp8_e4m3", "ml_dtypes_saturate", "", -1e6, 0xFE);
        row("fp8_e4m3", "ml_dtypes", "", 0x1p-10, 0x00);
        row("fp8_e4m3", "ml_dtypes", "", -0x1p-10, 0x80);
        row("fp8_e4m3", "ml_dtypes", "", 0x1p-10 + 0x1p-30, 0x01);
        row("fp8_e4m3", "ml_dtypes", "", 0x1.8p-9, 0x02);
        row("fp8_e4m3", "ml_dtypes", "", 0x1p-9, 0x01);
        row("fp8_e4m3", "ml_dtypes", "", 0x1p-6, 0x08);
        row("fp8_e4m3", "ml_dtypes", "", 0x1.Fp-7, 0x08); // subnormal rounding carries into the exponent
        row("fp8_e4m3", "ml_dtypes", "", 0.0, 0x00);
        row("fp8_e4m3", "ml_dtypes", "", -0.0, 0x80);
        row("fp8_e4m3", "ml_dtypes", "", 1.0, 0x38);
        row("fp8_e4m3", "ml_dtypes", "", 1e-300, 0x00);
        row("fp8_e4m3", "ml_dtypes", "", -4.9406564584124654e-324, 0x80); // double subnormal input
        row("fp8_e4m3", "ml_dtypes", "", 1.7976931348623157e308, 0x7F);
        row("fp8_e4m3", "", "", -1.7976931348623157e308, 0xFE);
        // FP8 E5M2
        row("fp8_e5m2", "ml_dtypes", "", 57344, 0x7B);
        row("fp8_e5m2", "ml_dtypes", "", 61439, 0x7B);
        row("fp8_e5m2", "ml_dtypes", "", 61440, 0x7C);
        row("fp8_e5m2", "pytorch", "", 65536, 0x7C);
        row("fp8_e5m2", "ml_dtypes", "", -61440, 0xFC);
        row("fp8_e5m2", "ml_dtypes_saturate", "", 61440, 0x7B);
        row("fp8_e5m2", "cuda_satfinite", "", 61440, 0x7B);
        row("fp8_e5m2", "", "", 61440, 0x7B);
        row("fp8_e5m2", "ml_dtypes", "", kInf, 0x7C);
        row("fp8_e5m2", "ml_dtypes_saturate", "", kInf, 0x7C);
        row("fp8_e5m2", "ml_dtypes", "", -kInf, 0xFC);
        row("fp8_e5m2", "cuda_satfinite", "", kInf, 0x7B);
        row("fp8_e5m2", "onnx_saturate", "", -kInf, 0xFB);
        row("fp8_e5m2", "ml_dtypes", "", kNaN, 0x7E);
        row("fp8_e5m2", "ml_dtypes", "", -kNaN, 0xFE);
        row("fp8_e5m2", "ml_dtypes", "", 0x1p-17, 0x00);
        row("fp8_e5m2", "ml_dtypes", "", 1e308, 0x7C);
        row("fp8_e5m2", "ml_dtypes", "", 0x1.8p-16, 0x02);
        // OCP MX E2M1 (codes: 0 .5 1 1.5 2 3 4 6 -> 0..7); ties per formats.md §7.3 / vLLM cast_to_fp4
        row("fp4_e2m1", "", "", 0.25, 0);
        row("fp4_e2m1", "", "", 0.75, 2);
        row("fp4_e2m1", "", "", 1.25, 2);
        row("fp4_e2m1", "", "", 1.75, 4);
        row("fp4_e2m1", "", "", 2.5, 4);
        row("fp4_e2m1", "", "", 3.5, 6);
        row("fp4_e2m1", "", "", 5, 6);
        row("fp4_e2m1", "", "", 5.01, 7);
        row("fp4_e2m1", "", "", 7, 7);
        row("fp4_e2m1", "ml_dtypes", "", 7, 7);
        row("fp4_e2m1", "ml_dtypes", "", 1e30, 7);
        row("fp4_e2m1", "", "", -7, 0xF);
        row("fp4_e2m1", "", "", -0.25, 0x8);
        row("fp4_e2m1", "", "", kInf, 7);
        row("fp4_e2m1", "ml_dtypes", "", kInf, 7);
        row("fp4_e2m1", "ml_dtypes", "", -kInf, 0xF);
        row("fp4_e2m1", "cuda_satfinite", "", -kInf, 0xF);
        row("fp4_e2m1", "ml_dtypes", "", kNaN, 0x8);
        row("fp4_e2m1", "ml_dtypes", "", -kNaN, 0x0);
        row("fp4_e2m1", "", "", kNaN, 0x8);
        row("fp4_e2m1", "cuda_satfinite", "", kNaN, 0x7);
        row("fp4_e2m1", "cuda_satfinite", "", -kNaN, 0x7);
        row("fp4_e2m1", "onnx_saturate", "", kNaN, 0x7);
        row("fp4_e2m1", "onnx_nosat", "", 1e30, 0x7);
        row("fp4_e2m1", "onnx_nosat", "", kNaN, 0x7);
        // ties-away (microxcaling "nearest") vs RNE
        row("fp4_e2m1", "", "away", 0.75, 2);
        row("fp4_e2m1", "", "away", 2.5, 5);
        row("fp4_e2m1", "", "away", -2.5, 0xD);
        row("fp4_e2m1", "", "away", 0.25, 1);
        row("fp4_e2m1", "", "away", 5, 7);
        row("fp4_e2m1", "", "away", 2.4999999, 4);
        // MX FP6 overflow after rounding
        row("fp6_e2m3", "", "", 7.75, 0x1F);
        row("fp6_e2m3", "", "", 7.7499, 0x1F);
        row("fp6_e3m2", "", "", 30, 0x1F);
        row("fp6_e3m2", "", "", -1000, 0x3F);
        row("fp6_e3m2", "", "", 0.03125, 0x00); // half the smallest subnormal: tie to even 0
        row("fp6_e3m2", "", "", 0.09375, 0x02); // 1.5 subnormal units: tie to even 2
        // fp16 / bf16 (IEEE: overflow -> Inf)
        row("fp16", "", "", 65504, 0x7BFF);
        row("fp16", "", "", 65519.99, 0x7BFF);
        row("fp16", "", "", 65520, 0x7C00);
        row("fp16", "ml_dtypes_saturate", "", 65520, 0x7BFF);
        row("fp16", "", "", -kInf, 0xFC00);
        row("fp16", "", "", kNaN, 0x7E00);
        row("fp16", "", "", -kNaN, 0xFE00);
        row("fp16", "", "", 0x1p-25, 0x0000);
        row("fp16", "", "", 0x1.8p-25, 0x0001);
        row("bf16", "", "", kNaN, 0x7FC0);
        row("bf16", "", "", -kNaN, 0xFFC0);
        row("bf16", "", "", 1e39, 0x7F80);
        // integers: RNE, full two's-complement range, saturating; NaN -> 0
        row("int4", "", "", 7.5, 0x7);
        row("int4", "", "", 6.5, 0x6);
        row("int4", "", "", -8.5, 0x8);
        row("int4", "", "", 2.5, 0x2);
        row("int4", "", "", 3.5, 0x4);
        row("int4", "", "", -2.5, 0xE);
        row("int4", "", "", -0.5, 0x0);
        row("int4", "", "", 1e300, 0x7);
        row("int4", "", "", -kInf, 0x8);
        row("int4", "", "", kNaN, 0x0);
        row("int4", "", "away", 2.5, 0x3);
        row("int4", "", "away", -2.5, 0xD);
        row("uint4", "", "", -3, 0x0);
        row("uint4", "", "", 14.5, 0xE);
        row("uint4", "", "", 15.4, 0xF);
        row("uint4", "", "", 16, 0xF);
        row("int8", "", "", -128.4, 0x80);
        row("int8", "", "", 127.5, 0x7F);
        row("int8", "", "", -1, 0xFF);
        row("int16", "", "", 40000, 0x7FFF);
        row("int16", "", "", -32768.5, 0x8000);
        row("uint16", "", "", 65535.4, 0xFFFF);
        // BitNet ternary: RNE like torch.round, then clamp; binary: x > 0
        row("ternary", "", "", 0.5, 1);
        row("ternary", "", "", -0.5, 1);
        row("ternary", "", "", 0.5000001, 2);
        row("ternary", "", "", 1.5, 2);
        row("ternary", "", "", -1.5, 0);
        row("ternary", "", "", 1e30, 2);
        row("ternary", "", "", -kInf, 0);
        row("ternary", "", "", kNaN, 1);
        row("ternary", "", "away", 0.5, 2);
        row("ternary", "", "away", -0.5, 0);
        row("binary", "", "", 0, 0);
        row("binary", "", "", -0.0, 0);
        row("binary", "", "", 1e-30, 1);
        row("binary", "", "", -1e-30, 0);
        row("binary", "", "", kNaN, 0);
        // IQ4_NL: ties to the upper entry (best_index_int8)
        row("iq4_nl", "", "", -115.5, 1);
        row("iq4_nl", "", "", -4.5, 8);
        row("iq4_nl", "", "", 7, 9);
        row("iq4_nl", "", "", 101, 15);
        row("iq4_nl", "", "", 100.999, 14);
        row("iq4_nl", "", "", 500, 15);
        row("iq4_nl", "", "", -500, 0);
        // NF4 / bnb FP4 extremes, zero and NaN (every comparison false -> lowest bucket, as the CUDA trees)
        row("nf4", "", "", 0, 7);
        row("nf4", "", "", -0.0, 7);
        row("nf4", "", "", 1.5, 15);
        row("nf4", "", "", -1.5, 0);
        row("nf4", "", "", kNaN, 0);
        row("bnb_fp4", "", "", 0, 0);
        row("bnb_fp4", "", "", -0.0, 0);
        row("bnb_fp4", "", "", -0.001, 8);
        row("bnb_fp4", "", "", 1.5, 3);
        row("bnb_fp4", "", "", -1.5, 11);
        row("bnb_fp4", "", "", kNaN, 0);
    }

    void goldenVectors()
    {
        QFETCH(QString, name);
        QFETCH(QString, compatibility);
        QFETCH(QString, rounding);
        QFETCH(double, input);
        QFETCH(uint, expected);
        const NumberFormat format = configured(name, compatibility, rounding);
        QCOMPARE(hex(encodeValue(format, input)), hex(expected));
        const double value = roundToFormat(format, input);
        QVERIFY(sameValue(value, decodeValue(format, expected)));
    }

    void nf4Thresholds_data()
    {
        QTest::addColumn<float>("threshold");
        QTest::addColumn<uint>("lowerCode");
        // formats.md §3 (bitsandbytes dQuantizeNF4), ascending
        const float thresholds[15] = {-0.8480964004993439f, -0.6106329262256622f, -0.4599952697753906f,
            -0.33967943489551544f, -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f,
            0.03979014977812767f, 0.1202552504837513f, 0.2035212516784668f, 0.2920137718319893f,
            0.3893125355243683f, 0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f};
        for (uint i = 0; i < 15; ++i)
            QTest::addRow("%.9g", double(thresholds[i])) << thresholds[i] << i;
    }

    void nf4Thresholds()
    {
        QFETCH(float, threshold);
        QFETCH(uint, lowerCode);
        const NumberFormat nf4 = nf4Format();
        QCOMPARE(encodeValue(nf4, threshold), lowerCode);
        QCOMPARE(encodeValue(nf4, std::nextafter(threshold, -INFINITY)), lowerCode);
        QCOMPARE(encodeValue(nf4, std::nextafter(threshold, INFINITY)), lowerCode + 1);
        QCOMPARE(std::uint32_t(bnbQuantizeNF4(threshold)), lowerCode);
        QCOMPARE(std::uint32_t(bnbQuantizeNF4(std::nextafter(threshold, INFINITY))), lowerCode + 1);
    }

    void bnbFp4Thresholds_data()
    {
        QTest::addColumn<float>("threshold");
        QTest::addColumn<uint>("lowerCode");
        QTest::addColumn<uint>("upperCode");
        // formats.md §3 (bitsandbytes dQuantizeFP4) on |x|; codes of 0, 1/192, 1/6, 1/4, 1/3, 1/2, 2/3, 1
        QTest::newRow("0.00260417") << 0.00260417f << 0u << 1u;
        QTest::newRow("0.0859375") << 0.0859375f << 1u << 6u;
        QTest::newRow("0.20833333") << 0.20833333f << 6u << 7u;
        QTest::newRow("0.29166667") << 0.29166667f << 7u << 4u;
        QTest::newRow("0.4166667") << 0.4166667f << 4u << 5u;
        QTest::newRow("0.583333") << 0.583333f << 5u << 2u;
        QTest::newRow("0.8333333") << 0.8333333f << 2u << 3u;
    }

    void bnbFp4Thresholds()
    {
        QFETCH(float, threshold);
        QFETCH(uint, lowerCode);
        QFETCH(uint, upperCode);
        const NumberFormat fp4 = bnbFp4Format();
        const float above = std::nextafter(threshold, INFINITY);
        const float below = std::nextafter(threshold, 0.0f);
        QCOMPARE(encodeValue(fp4, threshold), lowerCode);
        QCOMPARE(encodeValue(fp4, below), lowerCode);
        QCOMPARE(encodeValue(fp4, above), upperCode);
        QCOMPARE(encodeValue(fp4, -threshold), lowerCode | 8u);
        QCOMPARE(encodeValue(fp4, -above), upperCode | 8u);
        QCOMPARE(std::uint32_t(bnbQuantizeFP4(threshold)), lowerCode);
        QCOMPARE(std::uint32_t(bnbQuantizeFP4(-above)), upperCode | 8u);
    }

    void lookupTablesMatchReferences()
    {
        // NF4 values: formats.md §3 / bitsandbytes get_4bit_type('nf4')
        const float nf4Values[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
            -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f,
            0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f,
            0.5626170039176941f, 0.7229568362236023f, 1.0f};
        const NumberFormat nf4 = nf4Format();
        for (std::uint32_t code = 0; code < 16; ++code)
            QCOMPARE_EQ(decodeValue(nf4, code), double(nf4Values[code]));

        // bnb FP4: get_4bit_type('fp4') = {0, .0625, 8, 12, 4, 6, 2, 3} / 12 in float32, sign bit 3
        const float fp4Raw[8] = {0, 0.0625f, 8, 12, 4, 6, 2, 3};
        const double documented[8] = {0, 0.005208333, 0.6666667, 1.0, 0.3333333, 0.5, 0.1666667, 0.25};
        const NumberFormat fp4 = bnbFp4Format();
        for (std::uint32_t code = 0; code < 8; ++code) {
            QCOMPARE_EQ(decodeValue(fp4, code), double(fp4Raw[code] / 12.0f));
            QVERIFY(std::fabs(decodeValue(fp4, code) - documented[code]) < 1e-7);
            QVERIFY(sameValue(decodeValue(fp4, code | 8u), -decodeValue(fp4, code)));
        }

        const NumberFormat iq4 = iq4nlFormat();
        for (std::uint32_t code = 0; code < 16; ++code)
            QCOMPARE_EQ(decodeValue(iq4, code), double(kvaluesIq4nl[code]));
    }

    /// The encoders against transcriptions of bitsandbytes' CUDA trees and ggml's best_index_int8.
    void lookupEncodersMatchReferenceCode()
    {
        const NumberFormat nf4 = nf4Format();
        const NumberFormat fp4 = bnbFp4Format();
        const NumberFormat iq4 = iq4nlFormat();

        std::vector<float> unit = randomFloats(300'000, -12, 0, 3);
        for (const auto& spec : {std::get<LookupSpec>(nf4.spec), std::get<LookupSpec>(fp4.spec)})
            for (float t : spec.thresholds)
                for (float x = std::nextafter(t, -INFINITY); x <= std::nextafter(t, INFINITY);
                     x = std::nextafter(x, INFINITY))
                    unit.insert(unit.end(), {x, -x});
        // the float32 midpoints the torch backend would use, where they differ from the CUDA literals
        for (const auto& spec : {std::get<LookupSpec>(nf4.spec), std::get<LookupSpec>(fp4.spec)}) {
            std::vector<float> sorted(spec.values.begin(), spec.values.end());
            std::sort(sorted.begin(), sorted.end());
            for (std::size_t i = 0; i + 1 < sorted.size(); ++i)
                unit.insert(unit.end(), {(sorted[i] + sorted[i + 1]) / 2, -(sorted[i] + sorted[i + 1]) / 2});
        }
        for (float x : unit) {
            if (encodeValue(nf4, x) != bnbQuantizeNF4(x))
                QFAIL(qPrintable("nf4 " + describe(x)));
            if (encodeValue(fp4, x) != bnbQuantizeFP4(x))
                QFAIL(qPrintable("bnb_fp4 " + describe(x)));
        }

        std::vector<float> wide = randomFloats(300'000, -6, 7, 5);
        for (int i = 0; i + 1 < 16; ++i) {
            const float mid = (kvaluesIq4nl[i] + kvaluesIq4nl[i + 1]) / 2.0f;
            wide.insert(wide.end(), {mid, std::nextafter(mid, -INFINITY), std::nextafter(mid, INFINITY)});
        }
        for (float x : wide)
            if (encodeValue(iq4, x) != std::uint32_t(ggmlBestIndexInt8(16, kvaluesIq4nl, x)))
                QFAIL(qPrintable("iq4_nl " + describe(x)));
    }

    void formatByNameRoundTrips()
    {
        const std::vector<NumberFormat> formats = allFormats();
        QVERIFY(formats.size() >= 30);
        for (const NumberFormat& format : formats) {
            QVERIFY2(formatByName(format.name) == format, format.name.c_str());
            QVERIFY(!format.reference.empty());
            for (const NumberFormat& other : formats)
                if (&other != &format)
                    QVERIFY2(other.name != format.name, format.name.c_str());
        }
        QCOMPARE(formatByName("FP8_E4M3"), fp8E4M3Format());
        QCOMPARE(formatByName("  NF4 "), nf4Format());
        QCOMPARE(formatByName("int11"), integerFormat(11, true));
        QCOMPARE(formatByName("uint9"), integerFormat(9, false));
        QCOMPARE(fp8E4M3Format().minifloat, minifloatCompatibility("ml_dtypes_saturate"));
        QCOMPARE(fp4E2M1Format().minifloat, minifloatCompatibility("ml_dtypes_saturate"));
        QCOMPARE(fp16Format().minifloat, minifloatCompatibility("ml_dtypes"));
    }

    void genericMinifloats()
    {
        const NumberFormat e3m4 = formatByName("e3m4");
        QCOMPARE(e3m4.name, std::string("e3m4"));
        QCOMPARE(e3m4, minifloatFormat(3, 4));
        QVERIFY(!e3m4.standard);
        const auto& spec = std::get<MinifloatSpec>(e3m4.spec);
        QCOMPARE(spec.bias, 3);
        QCOMPARE(spec.specials, MinifloatSpecials::FiniteOnly);
        QCOMPARE_EQ(formatMaxFinite(e3m4), 31.0);
        QCOMPARE_EQ(roundToFormat(e3m4, 1.03125), 1.0); // tie between 1 and 1.0625 -> even
        QCOMPARE_EQ(roundToFormat(e3m4, 1.09375), 1.125); // tie between 1.0625 and 1.125 -> even
        QCOMPARE_EQ(roundToFormat(e3m4, 100.0), 31.0);
        QCOMPARE(formatByName("e8m0").name, std::string("e8m0"));

        // names of standard layouts resolve to the presets, never to a finite-only look-alike
        QCOMPARE(formatByName("e4m3"), fp8E4M3Format());
        QCOMPARE(formatByName("E5M2"), fp8E5M2Format());
        QCOMPARE(minifloatFormat(2, 1), fp4E2M1Format());
        QCOMPARE(minifloatFormat(5, 10), fp16Format());
        QCOMPARE(minifloatFormat(8, 7), bf16Format());
        QCOMPARE_EQ(formatMaxFinite(formatByName("e4m3")), 448.0);
    }

    void badNamesThrow_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("unknown") << "foo"
                                 << "unknown number format 'foo'";
        QTest::newRow("empty") << ""
                               << "unknown number format ''";
        QTest::newRow("e9m30") << "e9m30"
                               << "1 <= X <= 8";
        QTest::newRow("e0m3") << "e0m3"
                              << "1 <= X <= 8";
        QTest::newRow("e4m11") << "e4m11"
                               << "0 <= Y <= 10";
        QTest::newRow("e99999m1") << "e99999m1"
                                  << "valid names";
        QTest::newRow("int1") << "int1"
                              << "2 to 16 bits";
        QTest::newRow("int32") << "int32"
                               << "2 to 16 bits";
        QTest::newRow("uint17") << "uint17"
                                << "2 to 16 bits";
        QTest::newRow("fp8") << "fp8"
                             << "valid names";
    }

    void badNamesThrow()
    {
        QFETCH(QString, name);
        QFETCH(QString, mentions);
        try {
            formatByName(name.toStdString());
            QFAIL("no qs::Error");
        } catch (const Error& e) {
            const QString message = QString::fromStdString(e.what());
            QVERIFY2(message.contains(mentions), qPrintable(message));
            if (mentions == QLatin1String("valid names") || message.startsWith(QLatin1String("unknown")))
                for (const char* listed :
                    {"int8", "fp8_e4m3", "fp4_e2m1", "nf4", "bnb_fp4", "iq4_nl", "ternary", "eXmY"})
                    QVERIFY2(message.contains(QLatin1String(listed)), qPrintable(message));
        }
    }

    void compatibilityNames()
    {
        const MinifloatOptions mlDtypes {
            Rounding::NearestEven, OverflowPolicy::NonFinite, InfPolicy::Propagate, NanPolicy::NegativeZero};
        const MinifloatOptions mlDtypesSaturate {
            Rounding::NearestEven, OverflowPolicy::Saturate, InfPolicy::Propagate, NanPolicy::NegativeZero};
        const MinifloatOptions cuda {
            Rounding::NearestEven, OverflowPolicy::Saturate, InfPolicy::Saturate, NanPolicy::PositiveMax};
        QCOMPARE(minifloatCompatibility("ml_dtypes"), mlDtypes);
        QCOMPARE(minifloatCompatibility("pytorch"), mlDtypes);
        QCOMPARE(minifloatCompatibility("ML_DTYPES_SATURATE"), mlDtypesSaturate);
        QCOMPARE(minifloatCompatibility("cuda_satfinite"), cuda);
        QCOMPARE(minifloatCompatibility("onnx_saturate").overflow, OverflowPolicy::Saturate);
        QCOMPARE(minifloatCompatibility("onnx_saturate").inf, InfPolicy::Saturate);
        QCOMPARE(minifloatCompatibility("onnx_nosat").overflow, OverflowPolicy::NonFinite);
        QCOMPARE(minifloatCompatibility("onnx_nosat").inf, InfPolicy::Propagate);
        QCOMPARE(MinifloatOptions {}, mlDtypesSaturate);
        QVERIFY_THROWS_EXCEPTION(Error, minifloatCompatibility("tensorflow"));
        try {
            minifloatCompatibility("x");
        } catch (const Error& e) {
            QVERIFY(QString::fromStdString(e.what()).contains(QLatin1String("cuda_satfinite")));
        }
    }

    void invalidInputsThrow()
    {
        QVERIFY_THROWS_EXCEPTION(Error, decodeValue(fp4E2M1Format(), 16));
        QVERIFY_THROWS_EXCEPTION(Error, decodeValue(ternaryFormat(), 3));
        QVERIFY_THROWS_EXCEPTION(Error, decodeValue(nf4Format(), 16));
        QVERIFY_THROWS_EXCEPTION(Error, decodeValue(integerFormat(4, true), 16));
        QVERIFY_THROWS_EXCEPTION(Error, integerFormat(1, true));
        QVERIFY_THROWS_EXCEPTION(Error, minifloatFormat(9, 30));

        NumberFormat bad = fp8E4M3Format();
        bad.spec = MinifloatSpec {12, 3, 7, MinifloatSpecials::FiniteOnly};
        QVERIFY_THROWS_EXCEPTION(Error, encodeValue(bad, 1.0));
        bad.spec = MinifloatSpec {1, 0, 0, MinifloatSpecials::Ieee};
        QVERIFY_THROWS_EXCEPTION(Error, formatMaxFinite(bad));
        bad.spec = IntegerSpec {17, true};
        QVERIFY_THROWS_EXCEPTION(Error, encodeValue(bad, 1.0));
        bad.spec = LookupSpec {{1.0f}, LookupTie::Lower, {}, false};
        QVERIFY_THROWS_EXCEPTION(Error, encodeValue(bad, 1.0));
        bad.spec = LookupSpec {{0.0f, 1.0f, 2.0f}, LookupTie::Lower, {0.5f}, false};
        QVERIFY_THROWS_EXCEPTION(Error, encodeValue(bad, 1.0));
    }

    void customLookupUsesFloatMidpoints()
    {
        NumberFormat format;
        format.name = "custom";
        format.spec = LookupSpec {{2.0f, -1.0f, 0.5f}, LookupTie::Lower, {}, false}; // unsorted on purpose
        QCOMPARE(encodeValue(format, -0.25), 1u); // midpoint of -1 and 0.5 -> lower
        QCOMPARE(encodeValue(format, -0.2499), 2u);
        QCOMPARE(encodeValue(format, 1.25), 2u);
        QCOMPARE(encodeValue(format, 1.2501), 0u);
        std::get<LookupSpec>(format.spec).tie = LookupTie::Upper;
        QCOMPARE(encodeValue(format, -0.25), 2u);
        QCOMPARE(encodeValue(format, 1.25), 0u);
        QCOMPARE(formatValues(format), (std::vector<double> {-1.0, 0.5, 2.0}));
        QCOMPARE_EQ(formatMaxFinite(format), 2.0);
    }
};

QTEST_APPLESS_MAIN(TestFormats)
#include "tst_formats.moc"
