#include "formats/number_format.h"
#include "io/tensor_file.h"
#include "quant/block_formats.h"
#include "quant/quantizer.h"
#include "string_rows.h"

#include <QFile>
#include <QtTest>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

using namespace qs;

// Our results against outputs of the real reference libraries, committed in tests/fixtures/reference
// (ml_dtypes 0.6.0 and torch 2.11 on CPU and CUDA; ggml d99724f _ref quantizers). Bit for bit.
namespace {

const QString kReference = QStringLiteral(QS_FIXTURES_DIR "/reference/");

std::vector<float> loadNpy(const QString& name)
{
    const auto file = TensorFile::open((kReference + QStringLiteral("python/") + name).toStdString());
    return file->load(file->tensors().front().name).data;
}

QByteArray loadRaw(const QString& name)
{
    QFile file(kReference + QStringLiteral("ggml/") + name);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return file.readAll();
}

std::uint32_t bits(float value)
{
    return std::bit_cast<std::uint32_t>(value);
}

std::vector<float> rawFloats(const QByteArray& bytes)
{
    std::vector<float> values(std::size_t(bytes.size()) / 4);
    std::memcpy(values.data(), bytes.constData(), values.size() * 4);
    return values;
}

NumberFormat withOptions(NumberFormat format, const char* compatibility)
{
    format.minifloat = minifloatCompatibility(compatibility);
    return format;
}

} // namespace

class TestReferenceLibraries : public QObject {
    Q_OBJECT

private slots:
    void minifloatCasts_data()
    {
        QTest::addColumn<QString>("codesFile");
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("compatibility");
        stringRow("ml_dtypes e4m3fn", {"ml_dtypes_float8_e4m3fn.npy", "fp8_e4m3", "ml_dtypes"});
        stringRow("ml_dtypes e5m2", {"ml_dtypes_float8_e5m2.npy", "fp8_e5m2", "ml_dtypes"});
        stringRow("ml_dtypes e3m2", {"ml_dtypes_float6_e3m2fn.npy", "fp6_e3m2", "ml_dtypes"});
        stringRow("ml_dtypes e2m3", {"ml_dtypes_float6_e2m3fn.npy", "fp6_e2m3", "ml_dtypes"});
        stringRow("ml_dtypes e2m1", {"ml_dtypes_float4_e2m1fn.npy", "fp4_e2m1", "ml_dtypes"});
        stringRow("torch cpu e4m3fn", {"torch_cpu_float8_e4m3fn.npy", "fp8_e4m3", "pytorch"});
        stringRow("torch cpu e5m2", {"torch_cpu_float8_e5m2.npy", "fp8_e5m2", "pytorch"});
        stringRow("torch cuda e4m3fn", {"torch_cuda_float8_e4m3fn.npy", "fp8_e4m3", "pytorch"});
        stringRow("torch cuda e5m2", {"torch_cuda_float8_e5m2.npy", "fp8_e5m2", "pytorch"});
    }

    void minifloatCasts()
    {
        QFETCH(QString, codesFile);
        QFETCH(QString, format);
        QFETCH(QString, compatibility);
        const std::vector<float> input = loadNpy(QStringLiteral("input_minifloat.npy"));
        const std::vector<float> expected = loadNpy(codesFile);
        QCOMPARE(expected.size(), input.size());
        const NumberFormat f
            = withOptions(formatByName(format.toStdString()), compatibility.toUtf8().constData());
        int mismatches = 0;
        QString first;
        for (std::size_t i = 0; i < input.size(); ++i) {
            const auto got = encodeValue(f, input[i]);
            const auto want = static_cast<std::uint32_t>(expected[i]);
            // ml_dtypes and torch give NaN codes a sign; any NaN code of the format is the same value.
            const bool bothNan = std::isnan(decodeValue(f, got)) && std::isnan(decodeValue(f, want));
            if (got != want && !bothNan) {
                if (mismatches++ == 0)
                    first = QStringLiteral("x=%1 got 0x%2 want 0x%3")
                                .arg(double(input[i]), 0, 'g', 10)
                                .arg(got, 0, 16)
                                .arg(want, 0, 16);
            }
        }
        QVERIFY2(mismatches == 0,
            qPrintable(QString::number(mismatches) + QStringLiteral(" mismatches, first: ") + first));
    }

    void minifloatDecodeTables_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("format");
        stringRow("e4m3fn", {"ml_dtypes_float8_e4m3fn_decode.npy", "fp8_e4m3"});
        stringRow("e5m2", {"ml_dtypes_float8_e5m2_decode.npy", "fp8_e5m2"});
        stringRow("e3m2", {"ml_dtypes_float6_e3m2fn_decode.npy", "fp6_e3m2"});
        stringRow("e2m3", {"ml_dtypes_float6_e2m3fn_decode.npy", "fp6_e2m3"});
        stringRow("e2m1", {"ml_dtypes_float4_e2m1fn_decode.npy", "fp4_e2m1"});
    }

    void minifloatDecodeTables()
    {
        QFETCH(QString, file);
        QFETCH(QString, format);
        const std::vector<float> expected = loadNpy(file);
        const NumberFormat f = formatByName(format.toStdString());
        QCOMPARE(int(expected.size()), formatCodeCount(f));
        for (std::size_t code = 0; code < expected.size(); ++code) {
            const float got = float(decodeValue(f, std::uint32_t(code)));
            if (std::isnan(expected[code]))
                QVERIFY(std::isnan(got));
            else
                QCOMPARE(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(expected[code]));
        }
    }

    void ggmlBlocksAndDequantization_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<int>("blockFormat");
        QTest::newRow("q8_0") << "q8_0" << int(BlockFormat::GgmlQ8_0);
        QTest::newRow("q4_0") << "q4_0" << int(BlockFormat::GgmlQ4_0);
        QTest::newRow("q4_1") << "q4_1" << int(BlockFormat::GgmlQ4_1);
        QTest::newRow("q5_0") << "q5_0" << int(BlockFormat::GgmlQ5_0);
        QTest::newRow("q5_1") << "q5_1" << int(BlockFormat::GgmlQ5_1);
        QTest::newRow("mxfp4") << "mxfp4" << int(BlockFormat::GgmlMXFP4);
    }

    void ggmlBlocksAndDequantization()
    {
        QFETCH(QString, type);
        QFETCH(int, blockFormat);
        const std::vector<float> input = rawFloats(loadRaw(type + QStringLiteral("_input.f32")));
        const QByteArray blocks = loadRaw(type + QStringLiteral("_blocks.bin"));
        const std::vector<float> dequant = rawFloats(loadRaw(type + QStringLiteral("_dequant.f32")));
        QCOMPARE(input.size(), std::size_t(1024));
        Scheme scheme;
        scheme.blockFormat = BlockFormat(blockFormat);
        const Tensor tensor {"x", {4, 256}, input};
        const QuantizedTensor q = quantizeBlockFormat(tensor, scheme);
        const std::vector<std::uint8_t> packed = packBlockFormat(q);
        QCOMPARE(int(packed.size()), int(blocks.size()));
        for (int i = 0; i < blocks.size(); ++i)
            QVERIFY2(packed[std::size_t(i)] == std::uint8_t(blocks[i]),
                qPrintable(
                    QStringLiteral("byte %1 (block %2) differs").arg(i).arg(i / (blocks.size() / 32))));
        const Tensor ours = dequantizeBlockFormat(q);
        for (std::size_t i = 0; i < dequant.size(); ++i)
            QVERIFY2(std::bit_cast<std::uint32_t>(ours.data[i]) == std::bit_cast<std::uint32_t>(dequant[i]),
                qPrintable(QStringLiteral("element %1: %2 vs %3")
                               .arg(i)
                               .arg(double(ours.data[i]))
                               .arg(double(dequant[i]))));
    }

    void pytorchPerTensorSymmetricInt8()
    {
        const std::vector<float> w = loadNpy(QStringLiteral("input_weights.npy"));
        const std::vector<float> qparams = loadNpy(QStringLiteral("torch_minmax_symmetric_qparams.npy"));
        const std::vector<float> expected = loadNpy(QStringLiteral("torch_quantize_per_tensor_int8.npy"));
        Scheme scheme;
        scheme.rangeMode = RangeMode::SymmetricFull;
        scheme.arithmetic = ScaleArithmetic::MultiplyReciprocal;
        const QuantizedTensor q = quantize(Tensor {"w", {64, 256}, w}, scheme);
        QCOMPARE(q.scales.size(), std::size_t(1));
        QCOMPARE(q.scales[0], qparams[0]);
        for (std::size_t i = 0; i < w.size(); ++i)
            QCOMPARE(float(q.codes[i]), expected[i]);
    }

    void pytorchPerTensorAffineUint8()
    {
        const std::vector<float> w = loadNpy(QStringLiteral("input_weights.npy"));
        const std::vector<float> qparams = loadNpy(QStringLiteral("torch_minmax_affine_qparams.npy"));
        const std::vector<float> expected = loadNpy(QStringLiteral("torch_quantize_per_tensor_uint8.npy"));
        Scheme scheme;
        scheme.format = integerFormat(8, false);
        scheme.rangeMode = RangeMode::Affine;
        scheme.arithmetic = ScaleArithmetic::MultiplyReciprocal;
        const QuantizedTensor q = quantize(Tensor {"w", {64, 256}, w}, scheme);
        QCOMPARE(q.scales[0], qparams[0]);
        QCOMPARE(float(q.zeroPoints.at(0)), qparams[1]);
        for (std::size_t i = 0; i < w.size(); ++i)
            QCOMPARE(float(q.codes[i]), expected[i]);
    }

    void pytorchPerChannelSymmetricInt8()
    {
        const std::vector<float> w = loadNpy(QStringLiteral("input_weights.npy"));
        const std::vector<float> scales = loadNpy(QStringLiteral("torch_per_channel_symmetric_scales.npy"));
        const std::vector<float> expected = loadNpy(QStringLiteral("torch_quantize_per_channel_int8.npy"));
        Scheme scheme;
        scheme.granularity = parseGranularity("channel:0");
        scheme.rangeMode = RangeMode::SymmetricFull;
        const QuantizedTensor q = quantize(Tensor {"w", {64, 256}, w}, scheme);
        QCOMPARE(q.scales.size(), scales.size());
        for (std::size_t c = 0; c < scales.size(); ++c)
            QCOMPARE(q.scales[c], scales[c]);
        for (std::size_t i = 0; i < w.size(); ++i)
            QCOMPARE(float(q.codes[i]), expected[i]);
    }

    // BitNet b1.58 per tensor, as transformers' WeightQuant computes it with torch 2.11 on the CPU:
    // s = 1 / clamp(mean|W|, 1e-5), u = clamp(round(W s), -1, 1), dequant u / s (with -0 for negative W
    // that round to zero).
    void bitnetTernaryPerTensor()
    {
        const std::vector<float> w = loadNpy(QStringLiteral("input_weights.npy"));
        const std::vector<float> s = loadNpy(QStringLiteral("torch_bitnet_ternary_scale.npy"));
        const std::vector<float> codes = loadNpy(QStringLiteral("torch_bitnet_ternary_codes.npy"));
        const std::vector<float> dequant = loadNpy(QStringLiteral("torch_bitnet_ternary_dequant.npy"));
        QCOMPARE(codes.size(), w.size());
        QCOMPARE(dequant.size(), w.size());
        std::vector<float> magnitudes(w.size());
        std::transform(w.begin(), w.end(), magnitudes.begin(), [](float x) { return std::fabs(x); });
        QCOMPARE(bits(1.0f / std::max(blockformat::torchCpuMean(magnitudes), 1e-5f)), bits(s.at(0)));

        Scheme scheme;
        scheme.format = ternaryFormat();
        const Tensor t {"w", {64, 256}, w};
        const QuantizedTensor q = quantize(t, scheme);
        QCOMPARE(q.scales.size(), std::size_t(1));
        QCOMPARE(bits(q.scales[0]), bits(1.0f / s[0]));
        for (std::size_t i = 0; i < w.size(); ++i)
            QVERIFY2(float(q.codes[i] - 1) == codes[i], qPrintable(QStringLiteral("element %1").arg(i)));
        const Tensor back = dequantize(q);
        const Tensor fake = fakeQuantize(t, scheme);
        std::size_t negativeZeros = 0;
        for (std::size_t i = 0; i < w.size(); ++i) {
            QVERIFY2(bits(back.data[i]) == bits(dequant[i]),
                qPrintable(QStringLiteral("element %1: %2 vs %3")
                               .arg(i)
                               .arg(double(back.data[i]))
                               .arg(double(dequant[i]))));
            QVERIFY2(bits(fake.data[i]) == bits(dequant[i]), qPrintable(QStringLiteral("element %1").arg(i)));
            negativeZeros += bits(dequant[i]) == 0x80000000u;
        }
        QVERIFY(negativeZeros > 0);
        QCOMPARE(q.negativeZeros.size(), negativeZeros);
    }

    // BitNet (1-bit): alpha = mean(W), sign(W - alpha) with 0 -> -1, beta = mean|W|, dequant sign * beta.
    void bitnetBinaryPerTensor()
    {
        const std::vector<float> w = loadNpy(QStringLiteral("input_weights.npy"));
        const std::vector<float> scale = loadNpy(QStringLiteral("torch_bitnet_binary_scale.npy"));
        const std::vector<float> dequant = loadNpy(QStringLiteral("torch_bitnet_binary_dequant.npy"));
        QCOMPARE(scale.size(), std::size_t(2));
        QCOMPARE(dequant.size(), w.size());
        Scheme scheme;
        scheme.format = binaryFormat();
        const Tensor t {"w", {64, 256}, w};
        const QuantizedTensor q = quantize(t, scheme);
        QCOMPARE(q.groupOffsets.size(), std::size_t(1));
        QCOMPARE(bits(q.groupOffsets[0]), bits(scale[0]));
        QCOMPARE(q.scales.size(), std::size_t(1));
        QCOMPARE(bits(q.scales[0]), bits(scale[1]));
        const Tensor back = dequantize(q);
        const Tensor fake = fakeQuantize(t, scheme);
        for (std::size_t i = 0; i < w.size(); ++i) {
            QVERIFY2(bits(back.data[i]) == bits(dequant[i]), qPrintable(QStringLiteral("element %1").arg(i)));
            QVERIFY2(bits(fake.data[i]) == bits(dequant[i]), qPrintable(QStringLiteral("element %1").arg(i)));
        }
    }
};

QTEST_APPLESS_MAIN(TestReferenceLibraries)
#include "tst_reference_libraries.moc"
