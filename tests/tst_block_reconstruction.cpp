#include "base/error.h"
#include "quant/block_reconstruction.h"
#include "quant/quantizer.h"

#include <QtTest>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

using namespace qs;

Q_DECLARE_METATYPE(qs::Scheme)
Q_DECLARE_METATYPE(qs::Shape)
Q_DECLARE_METATYPE(std::vector<float>)

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Scheme blockScheme(BlockFormat format, std::int64_t blockSize = 0, bool doubleQuant = false)
{
    Scheme s;
    s.blockFormat = format;
    s.blockSize = blockSize;
    s.doubleQuantization = doubleQuant;
    return s;
}

/// Deterministic generator (LCG + Box-Muller), the same data on every platform.
class Normal {
public:
    explicit Normal(std::uint32_t seed)
        : state_(seed)
    {
    }
    float uniform()
    {
        state_ = state_ * 1664525u + 1013904223u;
        return (static_cast<float>(state_ >> 8) + 0.5f) / 16777216.0f;
    }
    float next()
    {
        const double u = uniform();
        const double v = uniform();
        return static_cast<float>(std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v));
    }
    std::uint32_t integer(std::uint32_t bound)
    {
        return static_cast<std::uint32_t>(uniform() * bound) % bound;
    }

private:
    std::uint32_t state_;
};

/// Normal values with a few large outliers, and (when `specials`) NaN, ±Inf, subnormals, all-zero blocks,
/// and values lying exactly on the formats' rounding ties and bitsandbytes' thresholds.
std::vector<float> testValues(std::int64_t count, std::uint32_t seed, bool specials)
{
    Normal rng(seed);
    std::vector<float> v(static_cast<std::size_t>(count));
    for (auto& x : v)
        x = rng.next() * 0.02f;
    for (std::int64_t i = 37; i < count; i += 97)
        v[static_cast<std::size_t>(i)] *= 60.0f;
    if (!specials)
        return v;
    auto put = [&](std::int64_t at, float value) {
        if (at < count)
            v[static_cast<std::size_t>(at)] = value;
    };
    // Whole blocks of zeros (for every block size up to 256 at least one aligned one), -0 included.
    for (std::int64_t i = 256; i < std::min<std::int64_t>(count, 512); ++i)
        v[static_cast<std::size_t>(i)] = (i % 3 == 0) ? -0.0f : 0.0f;
    put(40, kNaN);
    put(41, kInf);
    put(600, -kInf);
    put(601, kNaN);
    put(700, std::numeric_limits<float>::denorm_min());
    put(701, -1e-40f);
    // A block of only subnormals and one of a single Inf among zeros.
    for (std::int64_t i = 1024; i < 1056; ++i)
        put(i, static_cast<float>(i - 1040) * 1e-42f);
    for (std::int64_t i = 1088; i < 1120; ++i)
        put(i, i == 1100 ? kInf : 0.0f);
    // Ties: Q8_0 with amax 127 (d = 1) on k + 0.5, Q4_0 with max -8 (d = 1), Q4_1 with min 0 and max 15
    // (d = 1), ggml MXFP4 with amax 6 (d = 0.5) on the midpoints, bitsandbytes with absmax 1 on the
    // thresholds of its decision trees.
    const std::vector<std::vector<float>> tieBlocks = {
        {127.0f, 0.5f, -0.5f, 1.5f, -2.5f, 126.5f, -126.5f, 3.5f},
        {-8.0f, 0.5f, -0.5f, 1.5f, -2.5f, 6.5f, -7.5f, 7.5f},
        {0.0f, 15.0f, 0.5f, 1.5f, 2.5f, 13.5f, 14.5f, 7.5f},
        {6.0f, 0.25f, -0.25f, 0.75f, -0.75f, 1.25f, 1.75f, -2.5f, 3.5f, 5.0f, -5.0f},
        {1.0f, 0.03979014977812767f, -0.045525018125772476f, 0.3893125355243683f, -0.8480964004993439f,
            0.00260417f, -0.0859375f, 0.29166667f, -0.8333333f, 0.583333f},
    };
    std::int64_t at = 1152;
    for (const auto& block : tieBlocks) {
        for (std::size_t k = 0; k < 32; ++k)
            put(at + static_cast<std::int64_t>(k), k < block.size() ? block[k] : 0.0f);
        at += 32;
    }
    return v;
}

bool sameBits(float a, float b)
{
    return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

/// Checks out[0, end - begin) against reference[begin, end), bit for bit.
void verifyRange(const std::vector<float>& reference, std::int64_t begin, const std::vector<float>& out)
{
    for (std::size_t k = 0; k < out.size(); ++k) {
        const float expected = reference[static_cast<std::size_t>(begin) + k];
        if (!sameBits(out[k], expected))
            QFAIL(qPrintable(QString("element %1 is %2 (0x%3), expected %4 (0x%5)")
                                 .arg(begin + static_cast<std::int64_t>(k))
                                 .arg(out[k], 0, 'g', 9)
                                 .arg(std::bit_cast<std::uint32_t>(out[k]), 8, 16, QChar('0'))
                                 .arg(expected, 0, 'g', 9)
                                 .arg(std::bit_cast<std::uint32_t>(expected), 8, 16, QChar('0'))));
    }
}

/// Reconstructs [0, count) in pieces cut at `cuts` (ascending, inside the tensor), checks every piece
/// against the reference and returns the sum of the clipped counts.
std::int64_t reconstructInPieces(
    const BlockReconstruction& r, const std::vector<float>& reference, const std::vector<std::int64_t>& cuts)
{
    std::int64_t clipped = 0;
    std::int64_t begin = 0;
    std::vector<std::int64_t> ends = cuts;
    ends.push_back(r.elementCount());
    for (const std::int64_t end : ends) {
        std::vector<float> out(static_cast<std::size_t>(end - begin), 12345.0f);
        clipped += r.reconstruct(begin, end, out.data());
        verifyRange(reference, begin, out);
        if (QTest::currentTestFailed())
            break;
        begin = end;
    }
    return clipped;
}

void addSchemeRows(const char* data, const Shape& ggmlShape, const Shape& bnbShape, bool specials)
{
    const std::uint32_t seed = specials ? 7u : 3u;
    for (const BlockFormat f : {BlockFormat::GgmlQ8_0, BlockFormat::GgmlQ4_0, BlockFormat::GgmlQ4_1,
             BlockFormat::GgmlQ5_0, BlockFormat::GgmlQ5_1, BlockFormat::GgmlMXFP4})
        QTest::newRow((blockFormatName(f) + " " + data).c_str())
            << blockScheme(f) << ggmlShape << testValues(shapeElementCount(ggmlShape), seed, specials);
    for (const BlockFormat f : {BlockFormat::BnbNF4, BlockFormat::BnbFP4})
        for (const std::int64_t block : {32, 64, 128, 256, 4096})
            for (const bool dq : {false, true})
                QTest::newRow(
                    (blockFormatName(f) + " b" + std::to_string(block) + (dq ? " dq " : " ") + data).c_str())
                    << blockScheme(f, block, dq) << bnbShape
                    << testValues(shapeElementCount(bnbShape), seed, specials);
}

} // namespace

class TestBlockReconstruction : public QObject {
    Q_OBJECT

private slots:
    void equalsDequantizeOfQuantize_data()
    {
        QTest::addColumn<Scheme>("scheme");
        QTest::addColumn<Shape>("shape");
        QTest::addColumn<std::vector<float>>("values");
        // bitsandbytes rows of 2500 values: a ragged last block for every block size, and more than 256
        // blocks so that double quantization has several chunks of absmax2.
        addSchemeRows("normal", {9, 512}, {7, 2500}, false);
        addSchemeRows("specials", {9, 512}, {7, 2500}, true);
        addSchemeRows("small", {2, 64}, {3, 45}, true);
        QTest::newRow("bnb_nf4 scalar")
            << blockScheme(BlockFormat::BnbNF4) << Shape {} << std::vector<float> {-3.5f};
        QTest::newRow("bnb_fp4_block dq vector of 1")
            << blockScheme(BlockFormat::BnbFP4, 32, true) << Shape {1} << std::vector<float> {0.25f};
        QTest::newRow("q4_1 empty") << blockScheme(BlockFormat::GgmlQ4_1) << Shape {0, 32}
                                    << std::vector<float> {};
        QTest::newRow("bnb_nf4 dq empty")
            << blockScheme(BlockFormat::BnbNF4, 64, true) << Shape {3, 0} << std::vector<float> {};
    }

    void equalsDequantizeOfQuantize()
    {
        QFETCH(Scheme, scheme);
        QFETCH(Shape, shape);
        QFETCH(std::vector<float>, values);
        Tensor tensor;
        tensor.shape = shape;
        tensor.data = values;
        const QuantizedTensor quantized = quantize(tensor, scheme);
        const std::vector<float> reference = dequantize(quantized).data;
        QVERIFY(BlockReconstruction::supports(scheme));
        const BlockReconstruction r = BlockReconstruction::prepare(values, shape, scheme);
        QCOMPARE(r.elementCount(), static_cast<std::int64_t>(values.size()));
        const auto count = static_cast<std::int64_t>(values.size());

        // The whole tensor at once.
        QCOMPARE(reconstructInPieces(r, reference, {}), quantized.clippedCount);
        if (QTest::currentTestFailed())
            return;

        // Pieces cut at arbitrary offsets: mid-block, on block boundaries, across rows, empty pieces.
        Normal rng(count == 0 ? 1u : static_cast<std::uint32_t>(count));
        std::vector<std::int64_t> cuts;
        for (std::int64_t at = 0; count > 0;) {
            at += static_cast<std::int64_t>(rng.integer(count < 200 ? 7u : 700u));
            if (at >= count)
                break;
            cuts.push_back(at);
        }
        QCOMPARE(reconstructInPieces(r, reference, cuts), quantized.clippedCount);
        if (QTest::currentTestFailed())
            return;

        // Every element on its own: the per-element clipped counts add up to the reference's.
        if (count <= 5000) {
            std::vector<std::int64_t> every;
            for (std::int64_t i = 1; i < count; ++i)
                every.push_back(i);
            QCOMPARE(reconstructInPieces(r, reference, every), quantized.clippedCount);
        }
    }

    void clippedCountsOfOneBlockSplit()
    {
        // Q4_0 block with max -8 (d = 1): 7.6 and 7.9 clip (q = 16 > 15) and decode as 7.
        std::vector<float> values(32, 0.0f);
        values[0] = -8.0f;
        values[5] = 7.6f;
        values[20] = 7.9f;
        const Scheme scheme = blockScheme(BlockFormat::GgmlQ4_0);
        const BlockReconstruction r = BlockReconstruction::prepare(values, {32}, scheme);
        Tensor tensor;
        tensor.shape = {32};
        tensor.data = values;
        QCOMPARE(quantize(tensor, scheme).clippedCount, std::int64_t {2});
        std::vector<float> out(32);
        QCOMPARE(r.reconstruct(0, 5, out.data()), std::int64_t {0});
        QCOMPARE(r.reconstruct(5, 6, out.data()), std::int64_t {1});
        QCOMPARE(out[0], 7.0f);
        QCOMPARE(r.reconstruct(6, 32, out.data()), std::int64_t {1});
        QCOMPARE(out[14], 7.0f);
        QCOMPARE(r.reconstruct(0, 0, out.data()), std::int64_t {0});
    }

    void concurrentRangesFromOnePreparedTensor()
    {
        const Shape shape {64, 1000};
        const std::vector<float> values = testValues(shapeElementCount(shape), 11, true);
        for (const Scheme& scheme :
            {blockScheme(BlockFormat::BnbNF4, 64, true), blockScheme(BlockFormat::GgmlQ5_1, 0)}) {
            const Shape used = scheme.blockFormat == BlockFormat::GgmlQ5_1 ? Shape {125, 512} : shape;
            Tensor tensor;
            tensor.shape = used;
            tensor.data = values;
            const QuantizedTensor quantized = quantize(tensor, scheme);
            const std::vector<float> reference = dequantize(quantized).data;
            const BlockReconstruction r = BlockReconstruction::prepare(values, used, scheme);
            const std::int64_t count = r.elementCount();
            constexpr int kThreads = 4;
            std::vector<std::vector<float>> outs(kThreads);
            std::vector<std::int64_t> clipped(kThreads, 0);
            std::vector<std::thread> threads;
            for (int t = 0; t < kThreads; ++t) {
                threads.emplace_back([&, t] {
                    // Interleaved chunks of 4096 (with an odd offset), as the compare matrix splits work.
                    std::vector<float> chunk(4096);
                    for (std::int64_t begin = 4096 * t + 13; begin < count; begin += 4096 * kThreads) {
                        const std::int64_t end = std::min(count, begin + 4096);
                        clipped[static_cast<std::size_t>(t)] += r.reconstruct(begin, end, chunk.data());
                        outs[static_cast<std::size_t>(t)].insert(outs[static_cast<std::size_t>(t)].end(),
                            chunk.begin(), chunk.begin() + (end - begin));
                    }
                });
            }
            for (auto& thread : threads)
                thread.join();
            std::int64_t total = 0;
            std::vector<float> head(13);
            total += r.reconstruct(0, 13, head.data());
            verifyRange(reference, 0, head);
            for (int t = 0; t < kThreads; ++t) {
                total += clipped[static_cast<std::size_t>(t)];
                std::size_t k = 0;
                for (std::int64_t begin = 4096 * t + 13; begin < count; begin += 4096 * kThreads) {
                    const std::int64_t end = std::min(count, begin + 4096);
                    const std::vector<float> piece(
                        outs[static_cast<std::size_t>(t)].begin() + static_cast<std::ptrdiff_t>(k),
                        outs[static_cast<std::size_t>(t)].begin()
                            + static_cast<std::ptrdiff_t>(k + static_cast<std::size_t>(end - begin)));
                    verifyRange(reference, begin, piece);
                    k += static_cast<std::size_t>(end - begin);
                }
            }
            QCOMPARE(total, quantized.clippedCount);
        }
    }

    void badInput_data()
    {
        QTest::addColumn<Scheme>("scheme");
        QTest::addColumn<Shape>("shape");
        QTest::addColumn<int>("valueCount");
        QTest::addColumn<QString>("message");
        QTest::newRow("integer scheme")
            << Scheme {} << Shape {32} << 32
            << "exact block reconstruction supports the ggml (q8_0, q4_0, q4_1, q5_0, "
               "q5_1, mxfp4_ggml) and bitsandbytes (bnb_nf4, bnb_fp4_block) block "
               "formats, not int8 sym tensor";
        QTest::newRow("ocp mxfp4")
            << blockScheme(BlockFormat::MXFP4) << Shape {32} << 32
            << "exact block reconstruction supports the ggml (q8_0, q4_0, q4_1, q5_0, q5_1, "
               "mxfp4_ggml) and bitsandbytes (bnb_nf4, bnb_fp4_block) block formats, not "
               "mxfp4";
        QTest::newRow("size mismatch") << blockScheme(BlockFormat::BnbNF4) << Shape {4, 8} << 31
                                       << "a tensor of shape [4, 8] needs 32 values, not 31";
        QTest::newRow("ggml ragged row")
            << blockScheme(BlockFormat::GgmlQ4_0) << Shape {2, 48} << 96
            << "ggml q4_0 needs rows of whole 32-value blocks; shape [2, 48] has rows "
               "of 48";
        QTest::newRow("ggml mxfp4 ragged row")
            << blockScheme(BlockFormat::GgmlMXFP4) << Shape {40} << 40
            << "ggml mxfp4_ggml needs rows of whole 32-value blocks; shape [40] "
               "has rows of 40";
        QTest::newRow("ggml block size") << blockScheme(BlockFormat::GgmlQ8_0, 64) << Shape {64} << 64
                                         << "ggml q8_0 has a fixed block size of 32, not 64";
        QTest::newRow("bnb block size") << blockScheme(BlockFormat::BnbFP4, 48, true) << Shape {96} << 96
                                        << "bitsandbytes bnb_fp4_block accepts block sizes 32, 64, 128, ..., "
                                           "4096, not 48";
        QTest::newRow("negative dimension") << blockScheme(BlockFormat::BnbNF4) << Shape {-1, 4} << 0
                                            << "shape [-1, 4] has a negative dimension";
    }

    void badInput()
    {
        QFETCH(Scheme, scheme);
        QFETCH(Shape, shape);
        QFETCH(int, valueCount);
        QFETCH(QString, message);
        const std::vector<float> values(static_cast<std::size_t>(valueCount), 1.0f);
        QCOMPARE(BlockReconstruction::supports(scheme),
            scheme.blockFormat != BlockFormat::MXFP4 && scheme.blockFormat != BlockFormat::None);
        try {
            BlockReconstruction::prepare(values, shape, scheme);
            QFAIL("prepare accepted bad input");
        } catch (const Error& e) {
            QCOMPARE(QString::fromStdString(e.what()), message);
        }
    }

    void badRange_data()
    {
        QTest::addColumn<qint64>("begin");
        QTest::addColumn<qint64>("end");
        QTest::newRow("negative begin") << qint64(-1) << qint64(4);
        QTest::newRow("end before begin") << qint64(10) << qint64(9);
        QTest::newRow("past the end") << qint64(60) << qint64(65);
    }

    void badRange()
    {
        QFETCH(qint64, begin);
        QFETCH(qint64, end);
        const std::vector<float> values(64, 0.5f);
        const BlockReconstruction r
            = BlockReconstruction::prepare(values, {64}, blockScheme(BlockFormat::BnbNF4));
        std::vector<float> out(80);
        try {
            r.reconstruct(begin, end, out.data());
            QFAIL("reconstruct accepted a bad range");
        } catch (const Error& e) {
            QCOMPARE(QString::fromStdString(e.what()),
                QString("range [%1, %2) is not inside the tensor's 64 elements").arg(begin).arg(end));
        }
    }
};

QTEST_APPLESS_MAIN(TestBlockReconstruction)

#include "tst_block_reconstruction.moc"
