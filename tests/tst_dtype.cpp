#include "base/error.h"
#include "tensor/dtype.h"

#include <QtTest>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

using namespace qs;

namespace {

/// Independent reference decoder for a sign/exponent/mantissa minifloat, in long double.
long double referenceMinifloat(unsigned code, int exponentBits, int mantissaBits, int bias)
{
    const unsigned sign = code >> (exponentBits + mantissaBits);
    const unsigned e = (code >> mantissaBits) & ((1u << exponentBits) - 1);
    const unsigned m = code & ((1u << mantissaBits) - 1);
    long double magnitude;
    if (e == 0)
        magnitude = std::ldexp(static_cast<long double>(m), 1 - bias - mantissaBits);
    else
        magnitude
            = std::ldexp(static_cast<long double>((1u << mantissaBits) + m), int(e) - bias - mantissaBits);
    return sign ? -magnitude : magnitude;
}

void compareBits(float got, float expected, unsigned code)
{
    if (std::isnan(expected)) {
        QVERIFY2(std::isnan(got), qPrintable(QString::number(code, 16)));
        return;
    }
    QVERIFY2(std::bit_cast<std::uint32_t>(got) == std::bit_cast<std::uint32_t>(expected),
        qPrintable(QStringLiteral("code 0x%1: got %2, expected %3")
                       .arg(code, 0, 16)
                       .arg(double(got), 0, 'g', 10)
                       .arg(double(expected), 0, 'g', 10)));
}

} // namespace

class TestDType : public QObject {
    Q_OBJECT

private slots:
    void namesRoundTrip()
    {
        for (DType t : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::F8_E4M3, DType::F8_E5M2,
                 DType::I8, DType::U8, DType::I16, DType::U16, DType::I32, DType::U32, DType::I64, DType::U64,
                 DType::BOOL})
            QCOMPARE(dtypeFromName(dtypeName(t)), t);
        QCOMPARE(dtypeFromName("F8_E8M0"), DType::Unsupported);
        QCOMPARE(dtypeFromName("C64"), DType::Unsupported);
        QCOMPARE(dtypeSize(DType::BF16), std::size_t(2));
        QCOMPARE(dtypeSize(DType::Unsupported), std::size_t(0));
    }

    void everyE4M3Code()
    {
        for (unsigned code = 0; code < 256; ++code) {
            const bool nan = (code & 0x7F) == 0x7F; // S.1111.111 only: e4m3fn has no Inf
            const float expected = nan ? NAN : float(referenceMinifloat(code, 4, 3, 7));
            compareBits(e4m3ToF32(std::uint8_t(code)), expected, code);
        }
        QCOMPARE(e4m3ToF32(0x7E), 448.0f);
        QCOMPARE(e4m3ToF32(0x08), 0.015625f);
        QCOMPARE(e4m3ToF32(0x01), 0.001953125f);
        QCOMPARE(e4m3ToF32(0xFE), -448.0f);
        QVERIFY(std::signbit(e4m3ToF32(0x80)));
    }

    void everyE5M2Code()
    {
        for (unsigned code = 0; code < 256; ++code) {
            const unsigned e = (code >> 2) & 0x1F;
            const unsigned m = code & 3;
            float expected;
            if (e == 0x1F)
                expected = m ? NAN : ((code & 0x80) ? -INFINITY : INFINITY);
            else
                expected = float(referenceMinifloat(code, 5, 2, 15));
            compareBits(e5m2ToF32(std::uint8_t(code)), expected, code);
        }
        QCOMPARE(e5m2ToF32(0x7B), 57344.0f);
        QCOMPARE(e5m2ToF32(0x04), std::ldexp(1.0f, -14));
    }

    void everyF16Code()
    {
        for (unsigned code = 0; code < 65536; ++code) {
            const unsigned e = (code >> 10) & 0x1F;
            const unsigned m = code & 0x3FF;
            float expected;
            if (e == 0x1F)
                expected = m ? NAN : ((code & 0x8000) ? -INFINITY : INFINITY);
            else
                expected = float(referenceMinifloat(code, 5, 10, 15));
            compareBits(f16ToF32(std::uint16_t(code)), expected, code);
            if (!std::isnan(expected))
                QCOMPARE(f32ToF16(expected), std::uint16_t(code));
        }
        QCOMPARE(f16ToF32(0x7BFF), 65504.0f);
        QCOMPARE(f16ToF32(0x0001), std::ldexp(1.0f, -24));
    }

    void everyBf16Code()
    {
        for (unsigned code = 0; code < 65536; ++code) {
            const unsigned e = (code >> 7) & 0xFF;
            const unsigned m = code & 0x7F;
            float expected;
            if (e == 0xFF)
                expected = m ? NAN : ((code & 0x8000) ? -INFINITY : INFINITY);
            else
                expected = float(referenceMinifloat(code, 8, 7, 127));
            compareBits(bf16ToF32(std::uint16_t(code)), expected, code);
            if (!std::isnan(expected))
                QCOMPARE(f32ToBf16(expected), std::uint16_t(code));
        }
    }

    void encodersRoundToNearestEven_data()
    {
        QTest::addColumn<float>("input");
        QTest::addColumn<int>("f16");
        QTest::addColumn<int>("bf16");
        // 1 + 2^-11 is halfway between 1 and the next half (0x3C01): ties to even -> 0x3C00.
        QTest::newRow("f16 tie down") << (1.0f + std::ldexp(1.0f, -11)) << 0x3C00 << 0x3F80;
        QTest::newRow("f16 tie up") << (1.0f + 3 * std::ldexp(1.0f, -11)) << 0x3C02 << 0x3F80;
        QTest::newRow("bf16 tie down") << (1.0f + std::ldexp(1.0f, -8)) << 0x3C04 << 0x3F80;
        QTest::newRow("bf16 tie up") << (1.0f + 3 * std::ldexp(1.0f, -8)) << 0x3C0C << 0x3F82;
        QTest::newRow("f16 overflow") << 65520.0f << 0x7C00 << 0x4780;
        QTest::newRow("f16 max") << 65519.0f << 0x7BFF << 0x4780;
        QTest::newRow("f16 smallest subnormal tie") << std::ldexp(1.0f, -25) << 0x0000 << 0x3300;
        QTest::newRow("f16 subnormal round up") << std::ldexp(1.5f, -25) << 0x0001 << 0x3340;
        QTest::newRow("negative") << -2.0f << 0xC000 << 0xC000;
    }

    void encodersRoundToNearestEven()
    {
        QFETCH(float, input);
        QFETCH(int, f16);
        QFETCH(int, bf16);
        QCOMPARE(int(f32ToF16(input)), f16);
        QCOMPARE(int(f32ToBf16(input)), bf16);
    }

    void nanStaysNan()
    {
        QVERIFY(std::isnan(f16ToF32(f32ToF16(NAN))));
        QVERIFY(std::isnan(bf16ToF32(f32ToBf16(NAN))));
        QCOMPARE(f32ToF16(INFINITY), std::uint16_t(0x7C00));
        QCOMPARE(f32ToBf16(-INFINITY), std::uint16_t(0xFF80));
    }

    void convertsBigEndianAndBool()
    {
        const unsigned char be16[] = {0x80, 0x00, 0x7F, 0xFF};
        float out[2];
        convertToF32(DType::I16, reinterpret_cast<const std::byte*>(be16), 2, out, ByteOrder::Big);
        QCOMPARE(out[0], -32768.0f);
        QCOMPARE(out[1], 32767.0f);
        const unsigned char be64[] = {0x3F, 0xF0, 0, 0, 0, 0, 0, 0};
        convertToF32(DType::F64, reinterpret_cast<const std::byte*>(be64), 1, out, ByteOrder::Big);
        QCOMPARE(out[0], 1.0f);
        const unsigned char flags[] = {0, 2};
        convertToF32(DType::BOOL, reinterpret_cast<const std::byte*>(flags), 2, out);
        QCOMPARE(out[0], 0.0f);
        QCOMPARE(out[1], 1.0f);
        QVERIFY_THROWS_EXCEPTION(
            Error, convertToF32(DType::Unsupported, reinterpret_cast<const std::byte*>(flags), 1, out));
    }

    void wideIntegersRoundToNearestEven()
    {
        const std::int64_t values[] = {(std::int64_t(1) << 24) + 1, (std::int64_t(1) << 24) + 3};
        float out[2];
        convertToF32(DType::I64, reinterpret_cast<const std::byte*>(values), 2, out);
        QCOMPARE(double(out[0]), 16777216.0);
        QCOMPARE(double(out[1]), 16777220.0);
    }
};

QTEST_APPLESS_MAIN(TestDType)
#include "tst_dtype.moc"
