// The kernels against independent references: fakeQuantError against qs::fakeQuantize (element values
// through sums accumulated here in the documented order, and ErrorReport numbers), histogram against
// qs::computeHistogram, min/max against a plain loop; every SIMD target this CPU runs against the same
// references and the scalar backend, for 1, 2 and 3 threads. Nothing here is timed against a threshold.

// (x - x̂)² must be rounded before it is added, as the kernels do (kernels.h).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "base/error.h"
#include "benchmarks/cuda/cuda_reference.h"
#include "benchmarks/cuda/table_bin_edges.h"
#include "calib/histogram.h"
#include "cli_process.h"
#include "formats/number_format.h"
#include "kernels/benchmark_suite.h"
#include "kernels/encoder_table.h"
#include "kernels/ggml_block_backends.h"
#include "kernels/kernel_backends.h"
#include "kernels/kernels.h"
#include "kernels/table_bins.h"
#include "kernels/timing.h"
#include "metrics/error_report.h"
#include "quant/block_formats.h"
#include "quant/block_reconstruction.h"
#include "quant/compare_matrix.h"
#include "quant/quantizer.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>
#include <atomic>
#include <bit>
#include <cfloat>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <random>

using namespace qs;
using qs::kernel_detail::encoderKey;
using qs::kernel_detail::encoderKeyValue;
using qs::kernel_detail::EncoderTable;
using qs::kernel_detail::encoderTable;
using qs::kernel_detail::tableBin;
using qs::kernel_detail::TableBins;
using qs::kernel_detail::tableBins;
using qs::testing::avx512BinEdgeValues;
using qs::testing::binEdgeValues;
using qs::testing::firstKeyOfBin;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
const int kThreadCounts[] = {1, 2, 3};

struct NamedScheme {
    const char* name;
    Scheme scheme;
};

Scheme schemeOf(
    const NumberFormat& format, Granularity granularity, RangeMode mode = RangeMode::SymmetricNarrow)
{
    Scheme scheme;
    scheme.format = format;
    scheme.granularity = granularity;
    scheme.rangeMode = mode;
    return scheme;
}

/// Every element semantics in scope: integer modes, arithmetic and rounding; the minifloats; lookup tables.
std::vector<NamedScheme> schemes()
{
    const Granularity tensor = Granularity::perTensor();
    const Granularity channel = Granularity::perChannel(0);
    NumberFormat e4m3Away = fp8E4M3Format();
    e4m3Away.minifloat.rounding = Rounding::NearestAway;
    NumberFormat e2m1Away = fp4E2M1Format();
    e2m1Away.minifloat.rounding = Rounding::NearestAway;
    NumberFormat bf16Away = bf16Format();
    bf16Away.minifloat.rounding = Rounding::NearestAway;
    NumberFormat fp16Away = fp16Format();
    fp16Away.minifloat.rounding = Rounding::NearestAway;
    // A lookup table longer than one vector of thresholds (the compare ladder on every target).
    NumberFormat table20;
    table20.name = "table20";
    LookupSpec spec;
    for (int i = 0; i < 20; ++i)
        spec.values.push_back(static_cast<float>(i * i) / 361.0f * 2.0f - 1.0f);
    table20.spec = spec;
    // A wide, finite-only minifloat (2^-2 .. 2^127, bias 0): too wide for the FPU rounding trick, so it takes
    // the per-lane bit rounding with ties to even.
    NumberFormat wide;
    wide.name = "e7m2_bias0";
    wide.spec = MinifloatSpec {7, 2, 0, MinifloatSpecials::FiniteOnly};
    std::vector<NamedScheme> list {
        {"int8 sym tensor", schemeOf(integerFormat(8, true), tensor)},
        {"int8 sym channel", schemeOf(integerFormat(8, true), channel)},
        {"int8 symfull group32",
            schemeOf(integerFormat(8, true), Granularity::perGroup(32), RangeMode::SymmetricFull)},
        {"int8 affine channel", schemeOf(integerFormat(8, true), channel, RangeMode::Affine)},
        {"int4 sym group128", schemeOf(integerFormat(4, true), Granularity::perGroup(128))},
        {"int4 affine group128",
            schemeOf(integerFormat(4, true), Granularity::perGroup(128), RangeMode::Affine)},
        {"int2 sym group7", schemeOf(integerFormat(2, true), Granularity::perGroup(7))},
        {"int16 affine tensor", schemeOf(integerFormat(16, true), tensor, RangeMode::Affine)},
        {"uint8 sym tensor", schemeOf(integerFormat(8, false), tensor)},
        {"uint4 affine group32",
            schemeOf(integerFormat(4, false), Granularity::perGroup(32), RangeMode::Affine)},
        {"fp8_e4m3 tensor", schemeOf(fp8E4M3Format(), tensor)},
        {"fp8_e4m3 channel", schemeOf(fp8E4M3Format(), channel)},
        {"fp8_e5m2 group32", schemeOf(fp8E5M2Format(), Granularity::perGroup(32))},
        {"fp16 tensor", schemeOf(fp16Format(), tensor)},
        {"bf16 channel", schemeOf(bf16Format(), channel)},
        {"fp6_e3m2 group32", schemeOf(fp6E3M2Format(), Granularity::perGroup(32))},
        {"fp4_e2m1 group32", schemeOf(fp4E2M1Format(), Granularity::perGroup(32))},
        {"fp8_e4m3 ties-away tensor", schemeOf(e4m3Away, tensor)},
        {"fp4_e2m1 ties-away group16", schemeOf(e2m1Away, Granularity::perGroup(16))},
        {"fp6_e2m3 tensor", schemeOf(fp6E2M3Format(), tensor)},
        {"fp4_e3m0 group32", schemeOf(fp4E3M0Format(), Granularity::perGroup(32))},
        {"fp4_e1m2 channel", schemeOf(fp4E1M2Format(), channel)},
        {"bf16 ties-away tensor", schemeOf(bf16Away, tensor)},
        {"fp16 ties-away group32", schemeOf(fp16Away, Granularity::perGroup(32))},
        {"table20 group32", schemeOf(table20, Granularity::perGroup(32))},
        {"e7m2 bias 0 channel", schemeOf(wide, channel)},
        {"nf4 group64", schemeOf(nf4Format(), Granularity::perGroup(64))},
        {"nf4 tensor", schemeOf(nf4Format(), tensor)},
        {"bnb_fp4 group64", schemeOf(bnbFp4Format(), Granularity::perGroup(64))},
        {"iq4_nl group32", schemeOf(iq4nlFormat(), Granularity::perGroup(32))},
        {"int8 sym block4x7", schemeOf(integerFormat(8, true), Granularity::block2D(4, 7))},
        {"uint4 affine block3x32",
            schemeOf(integerFormat(4, false), Granularity::block2D(3, 32), RangeMode::Affine)},
        {"fp8_e4m3 block2x128", schemeOf(fp8E4M3Format(), Granularity::block2D(2, 128))},
        {"nf4 block5x16", schemeOf(nf4Format(), Granularity::block2D(5, 16))},
    };
    Scheme divide = schemeOf(integerFormat(8, true), tensor);
    divide.arithmetic = ScaleArithmetic::Divide;
    list.push_back({"int8 sym tensor divide", divide});
    Scheme away = schemeOf(integerFormat(8, true), channel);
    away.elementRounding = Rounding::NearestAway;
    list.push_back({"int8 sym channel ties-away", away});
    Scheme awayAffine = schemeOf(integerFormat(4, false), Granularity::perGroup(32), RangeMode::Affine);
    awayAffine.elementRounding = Rounding::NearestAway;
    awayAffine.arithmetic = ScaleArithmetic::Divide;
    list.push_back({"uint4 affine group32 ties-away divide", awayAffine});
    Scheme bf16Scales = schemeOf(fp8E4M3Format(), Granularity::perGroup(32));
    bf16Scales.scaleFormat = ScaleFormat::BF16;
    list.push_back({"fp8_e4m3 group32 bf16 scales", bf16Scales});
    Scheme e8m0Scales = schemeOf(integerFormat(8, true), Granularity::perGroup(32));
    e8m0Scales.scaleFormat = ScaleFormat::E8M0;
    list.push_back({"int8 group32 e8m0 scales", e8m0Scales});
    Scheme nf4Divide = schemeOf(nf4Format(), Granularity::perGroup(64));
    nf4Divide.arithmetic = ScaleArithmetic::Divide;
    list.push_back({"nf4 group64 divide", nf4Divide});
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

/// The tie between the largest value of a grid (at least two values) and the next step beyond it, where
/// clipping starts.
float tieBeyondGrid(const std::vector<double>& grid)
{
    return static_cast<float>(grid.back() + (grid.back() - grid[grid.size() - 2]) / 2);
}

/// The format's grid, the midpoints between neighbours (ties), the floats just beside them, the tie beyond
/// the largest value, and the values that need care: ±0, subnormal floats, values beyond the grid, NaN, ±Inf,
/// ±FLT_MAX.
std::vector<float> edgeValues(const NumberFormat& format)
{
    std::vector<double> grid = formatValues(format);
    std::vector<float> values;
    for (std::size_t i = 0; i < grid.size(); ++i) {
        const auto v = static_cast<float>(grid[i]);
        values.push_back(v);
        if (i + 1 < grid.size()) {
            const auto middle = static_cast<float>((grid[i] + grid[i + 1]) / 2);
            values.insert(
                values.end(), {middle, std::nextafter(middle, -kInf), std::nextafter(middle, kInf)});
        }
    }
    if (grid.size() >= 2) {
        const float tie = tieBeyondGrid(grid);
        values.insert(values.end(), {tie, std::nextafter(tie, -kInf), std::nextafter(tie, kInf), -tie});
    }
    const auto top = static_cast<float>(formatMaxFinite(format));
    for (const float v :
        {0.0f, -0.0f, 1e-45f, -1e-45f, 3e-39f, -1e-38f, FLT_MIN, kNaN, -kNaN, kInf, -kInf, FLT_MAX, -FLT_MAX,
            top * 2, -top * 2, top * 1.0009765625f, -top * 1.5f, std::nextafter(top, kInf)})
        values.push_back(v);
    return values;
}

/// One fakeQuantError case: a tensor, a scheme and (optionally) the group ranges.
struct Case {
    Tensor tensor;
    Scheme scheme;
    std::optional<std::vector<GroupRange>> ranges;
};

/// Edge values on a per-tensor scheme whose range gives scale 1 (ties stay ties after x/scale).
Case edgeCase(const Scheme& base)
{
    Case c;
    c.scheme = base;
    c.scheme.granularity = Granularity::perTensor();
    c.scheme.scaleFormat = ScaleFormat::F32;
    std::vector<float> values = edgeValues(base.format);
    c.tensor = Tensor {"edge", {static_cast<std::int64_t>(values.size())}, std::move(values)};
    const std::vector<double> grid = formatValues(base.format);
    const double top = formatMaxFinite(base.format);
    c.ranges = std::vector<GroupRange> {base.rangeMode == RangeMode::Affine
            ? GroupRange {grid.front(), grid.back()}
            : GroupRange {-top, top}};
    return c;
}

/// binEdgeValues of every bin layout: 16 bins of two thresholds (16-lane SIMD targets), 32 of one spanning
/// the thresholds (CUDA) and the AVX-512 layout (bins32Layout).
std::vector<float> allLayoutsBinEdges(const NumberFormat& format)
{
    std::vector<float> values = binEdgeValues(format, 16, 2);
    for (const std::vector<float>& more : {binEdgeValues(format, 32, 1), avx512BinEdgeValues(format)})
        values.insert(values.end(), more.begin(), more.end());
    return values;
}

/// allLayoutsBinEdges on a per-tensor scheme of scale 1, as edgeCase; an empty tensor where there are none.
Case binEdgeCase(const Scheme& base)
{
    Case c = edgeCase(base);
    std::vector<float> values = allLayoutsBinEdges(base.format);
    c.tensor = Tensor {"bin edges", {static_cast<std::int64_t>(values.size())}, std::move(values)};
    return c;
}

/// Values within the grid at scale 1 (as edgeCase), with one value near the tie beyond the largest value,
/// where clipping starts, in each chunk: the tie, 1 and 2 floats either side, and their negations. The SIMD
/// passes take a run without the clip test while its |v| stay below a bound; a bound one float too high
/// leaves the clip of that chunk's value uncounted.
Case gridEdgeCase(const Scheme& base)
{
    Case c = edgeCase(base);
    const std::vector<double> grid = formatValues(base.format);
    const auto top = static_cast<float>(grid.back());
    std::vector<float> nearTie;
    float near = std::nextafter(std::nextafter(tieBeyondGrid(grid), 0.0f), 0.0f);
    for (int i = 0; i < 5; ++i, near = std::nextafter(near, kInf))
        nearTie.insert(nearTie.end(), {near, -near});
    std::vector<float> values(nearTie.size() * kKernelChunk);
    std::mt19937 random(15);
    std::uniform_real_distribution<float> inside(-0.9f * top, 0.9f * top);
    for (float& v : values)
        v = inside(random);
    for (std::size_t k = 0; k < nearTie.size(); ++k)
        values[k * kKernelChunk + 2000] = nearTie[k];
    c.tensor = Tensor {"grid edge", {static_cast<std::int64_t>(values.size())}, std::move(values)};
    return c;
}

/// Random values with a ragged shape, zero rows (all-zero groups), and a few NaN/Inf.
Case randomCase(const Scheme& scheme, Shape shape, unsigned seed, bool specials)
{
    Case c;
    c.scheme = scheme;
    const std::int64_t n = shapeElementCount(shape);
    std::vector<float> values = randomNormal(static_cast<std::size_t>(n), seed);
    if (shape.size() >= 2 && shape[0] > 0) {
        const std::int64_t rowLength = n / shape[0];
        for (std::int64_t i = 0; i < std::min(rowLength, n); ++i)
            values[static_cast<std::size_t>(i)] = 0; // channel 0 all zero
    }
    if (specials && n > 40) {
        values[5] = kNaN;
        values[static_cast<std::size_t>(n / 2)] = kInf;
        values[static_cast<std::size_t>(n - 3)] = -kInf;
        values[static_cast<std::size_t>(n / 3)] = 1e-42f;
        values[static_cast<std::size_t>(n / 4)] = -0.0f;
    }
    c.tensor = Tensor {"random", std::move(shape), std::move(values)};
    return c;
}

/// ErrorSums of (x, x̂) accumulated exactly as kernels.h documents it, independently of the kernels (the
/// emulation the CUDA checks use as well).
ErrorSums referenceSums(std::span<const float> x, std::span<const float> xhat, std::int64_t clipped)
{
    return cudaref::errorSums(x, xhat, clipped);
}

/// bitsandbytes blocks whose v = x / absmax lands exactly on and beside every decision threshold (absmax a
/// power of two, so the division is exact), with blocks of zeros, of -0, of subnormals (absmax below the
/// reference's 1e-38 floor), with ±Inf (absmax Inf: x̂ NaN) and with NaN, and a ragged last block.
std::vector<cudaref::BlockCase> bnbThresholdCases()
{
    std::vector<float> near;
    for (const BlockFormat format : {BlockFormat::BnbNF4, BlockFormat::BnbFP4}) {
        std::vector<float> values;
        for (std::uint32_t code = 0; code < 16; ++code)
            values.push_back(blockformat::bnbElementValue(format, code));
        std::sort(values.begin(), values.end());
        for (std::size_t k = 0; k + 1 < values.size(); ++k) {
            const auto middle = static_cast<float>((double(values[k]) + double(values[k + 1])) / 2);
            std::uint32_t bits = std::bit_cast<std::uint32_t>(middle);
            for (std::uint32_t step = 0; step < 9; ++step)
                if (middle != 0.0f)
                    near.push_back(std::bit_cast<float>(bits - 4 + step));
        }
    }
    const std::int64_t block = 64;
    const std::int64_t rows = 12;
    const std::int64_t rowLength = 3 * block + 17;
    std::vector<float> x(static_cast<std::size_t>(rows * rowLength));
    std::size_t next = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t b = 0; b * block < rowLength; ++b) {
            const std::int64_t start = r * rowLength + b * block;
            const std::int64_t length = std::min(block, rowLength - b * block);
            const float absmax = std::ldexp(1.0f, static_cast<int>((r * 3 + b) % 11) - 5);
            for (std::int64_t j = 0; j < length; ++j)
                x[static_cast<std::size_t>(start + j)] = near[next++ % near.size()] * absmax;
            x[static_cast<std::size_t>(start + (r + b) % length)] = (r % 2) ? -absmax : absmax;
        }
    }
    const auto fill
        = [&](std::int64_t row, float value) { std::fill_n(x.begin() + row * rowLength, block, value); };
    fill(1, 0.0f);
    fill(2, -0.0f);
    fill(3, 3e-40f);
    x[static_cast<std::size_t>(3 * rowLength + 5)] = -7e-39f;
    x[static_cast<std::size_t>(4 * rowLength + 9)] = INFINITY;
    x[static_cast<std::size_t>(5 * rowLength + 70)] = -INFINITY;
    x[static_cast<std::size_t>(6 * rowLength + 3)] = NAN;
    std::vector<cudaref::BlockCase> cases;
    for (const BlockFormat format : {BlockFormat::BnbNF4, BlockFormat::BnbFP4})
        for (const bool doubleQuantization : {false, true}) {
            Scheme scheme;
            scheme.blockFormat = format;
            scheme.doubleQuantization = doubleQuantization;
            cases.push_back({blockFormatName(format) + " thresholds" + (doubleQuantization ? " dq" : ""),
                scheme, Shape {rows, rowLength}, x});
        }
    return cases;
}

/// ggml blocks of 32 for the reconstruction and fused checks: blocks of zeros, of -0, with one nonzero
/// value, with the largest |x| twice with either sign first, subnormal and tiny scales (1/d infinite), NaN
/// and ±Inf, values whose max - min overflows, constant blocks, exact .5 ties of Q8_0 and Q4_0, and random
/// blocks over many magnitudes.
std::vector<std::vector<float>> ggmlEdgeBlocks()
{
    const std::int64_t block = 32;
    std::vector<std::vector<float>> blocks;
    std::mt19937 random(7);
    std::normal_distribution<float> normal;
    const auto randomBlock = [&](float magnitude) {
        std::vector<float> b(block);
        for (float& v : b)
            v = normal(random) * magnitude;
        return b;
    };
    blocks.push_back(randomBlock(1));
    blocks.push_back(std::vector<float>(block, 0.0f));
    blocks.push_back(std::vector<float>(block, -0.0f));
    std::vector<float> one(block, 0.0f);
    one[9] = 0.75f;
    blocks.push_back(one);
    one[9] = -0.75f;
    blocks.push_back(one);
    for (const float first : {-2.0f, 2.0f}) {
        std::vector<float> tie = randomBlock(0.3f);
        tie[3] = first;
        tie[10] = -first;
        tie[20] = 0.125f; // Q4_0: v = ±1/2 (d = ±1/4), x̂ 1/4 or 0 by the sign of d
        blocks.push_back(tie);
    }
    blocks.push_back(randomBlock(1e-40f));
    blocks.push_back(randomBlock(3 * FLT_MIN));
    blocks.push_back(randomBlock(1e-30f));
    std::vector<float> special = randomBlock(1);
    special[4] = kNaN;
    blocks.push_back(special);
    special[4] = kInf;
    blocks.push_back(special);
    special[4] = -kInf;
    blocks.push_back(special);
    std::vector<float> huge = randomBlock(1);
    huge[0] = 3e38f;
    huge[1] = -3e38f;
    blocks.push_back(huge);
    blocks.push_back(std::vector<float>(block, 1.5f));
    blocks.push_back(std::vector<float>(block, -1.5f));
    std::vector<float> ties(block);
    for (std::int64_t j = 0; j < block; ++j)
        ties[static_cast<std::size_t>(j)] = static_cast<float>(j) - 15.5f;
    ties[0] = 127.0f; // Q8_0: d = 1, every other value a .5 tie
    blocks.push_back(ties);
    ties[0] = -8.0f; // Q4_0: d = 1, x + 8.5 an integer
    blocks.push_back(ties);
    for (const float magnitude : {1e-20f, 1e-3f, 1.0f, 1e3f, 1e20f})
        for (int k = 0; k < 6; ++k)
            blocks.push_back(randomBlock(magnitude));
    return blocks;
}

/// The fused ggml cases: the edge blocks in one chunk (the subnormal scales send it to the reconstruction
/// path), the edge blocks whose Q4_0/Q5_0 scales are normal in the first of three chunks of rows of 4096 (the
/// fused pass, with a scale beyond fp16 and blocks whose largest |x| comes with both signs), a subnormal
/// scale in the second and NaN/±Inf in the third (both back to the reconstruction), for every ggml format.
std::vector<cudaref::BlockCase> ggmlEdgeCases()
{
    const std::vector<std::vector<float>> blocks = ggmlEdgeBlocks();
    std::vector<float> all;
    std::vector<float> usable;
    for (const std::vector<float>& b : blocks) {
        all.insert(all.end(), b.begin(), b.end());
        float largest = 0;
        bool finite = true;
        for (const float v : b) {
            largest = std::max(largest, std::fabs(v));
            finite = finite && std::isfinite(v);
        }
        if (finite && (largest == 0 || largest >= 16 * FLT_MIN))
            usable.insert(usable.end(), b.begin(), b.end());
    }
    const std::int64_t row = 4096;
    std::vector<float> chunks = randomNormal(static_cast<std::size_t>(3 * row), 41);
    std::copy(usable.begin(), usable.end(), chunks.begin());
    std::fill(chunks.begin() + row + 64, chunks.begin() + row + 96, 1e-40f);
    chunks[static_cast<std::size_t>(2 * row + 100)] = kNaN;
    chunks[static_cast<std::size_t>(2 * row + 200)] = -kInf;
    std::vector<cudaref::BlockCase> cases;
    for (const BlockFormat format : {BlockFormat::GgmlQ8_0, BlockFormat::GgmlQ4_0, BlockFormat::GgmlQ4_1,
             BlockFormat::GgmlQ5_0, BlockFormat::GgmlQ5_1, BlockFormat::GgmlMXFP4}) {
        Scheme scheme;
        scheme.blockFormat = format;
        const auto n = static_cast<std::int64_t>(all.size());
        cases.push_back({blockFormatName(format) + " edge blocks", scheme, Shape {n / 64, 64}, all});
        cases.push_back({blockFormatName(format) + " edge blocks in chunks", scheme, Shape {3, row}, chunks});
    }
    return cases;
}

/// The CUDA checks' MX/NVFP4 block cases, the same formats on rows their blocks tile (the SIMD fast path),
/// and the ggml and bitsandbytes blocks (ggml rows are whole blocks of 32; bitsandbytes also with blocks of
/// 128 and double quantization).
std::vector<cudaref::BlockCase> fusedBlockCases()
{
    std::vector<cudaref::BlockCase> cases = cudaref::blockCases();
    for (const BlockFormat format : {BlockFormat::MXFP8_E4M3, BlockFormat::MXFP6_E2M3, BlockFormat::MXFP4,
             BlockFormat::MXINT8, BlockFormat::NVFP4}) {
        Scheme scheme;
        scheme.blockFormat = format;
        scheme.e8m0Rounding = E8M0Rounding::RCeil;
        const Shape shape {5, 4096};
        cases.push_back(
            {blockFormatName(format) + " tiled rows", scheme, shape, cudaref::blockCaseValues(shape, 6)});
    }
    for (const BlockFormat format :
        {BlockFormat::GgmlQ8_0, BlockFormat::GgmlQ4_0, BlockFormat::GgmlQ4_1, BlockFormat::GgmlQ5_0,
            BlockFormat::GgmlQ5_1, BlockFormat::GgmlMXFP4, BlockFormat::BnbNF4, BlockFormat::BnbFP4}) {
        const bool bnb = format == BlockFormat::BnbNF4 || format == BlockFormat::BnbFP4;
        for (const int variant : {0, 1, 5}) {
            Scheme scheme;
            scheme.blockFormat = format;
            Shape shape = bnb ? Shape {37, 300} : Shape {37, 320};
            if (variant == 1 && bnb) {
                scheme.blockSize = 128;
                scheme.doubleQuantization = true;
                shape = {3, 2, 4103};
            } else if (variant == 1) {
                shape = {3, 4096};
            }
            cases.push_back({blockFormatName(format) + " variant " + std::to_string(variant), scheme, shape,
                cudaref::blockCaseValues(shape, variant)});
        }
    }
    for (cudaref::BlockCase& c : bnbThresholdCases())
        cases.push_back(std::move(c));
    for (cudaref::BlockCase& c : ggmlEdgeCases())
        cases.push_back(std::move(c));
    std::vector<float> edges = qs::testing::bnbNf4Avx512BinEdgeBlocks();
    Scheme bnbNf4;
    bnbNf4.blockFormat = BlockFormat::BnbNF4;
    const Shape edgeShape {static_cast<std::int64_t>(edges.size() / 64), 64};
    cases.push_back({"bnb_nf4 AVX-512 bin edges", bnbNf4, edgeShape, std::move(edges)});
    return cases;
}

QByteArray describe(const ErrorSums& s)
{
    return QStringLiteral(
        "sse %1 sae %2 ssx %3 sax %4 sxy %5 syy %6 max %7 count %8 clipped %9 nonfinite %10")
        .arg(s.sumSquaredError, 0, 'g', 17)
        .arg(s.sumAbsError, 0, 'g', 17)
        .arg(s.sumSquaredSignal, 0, 'g', 17)
        .arg(s.sumAbsSignal, 0, 'g', 17)
        .arg(s.sumProduct, 0, 'g', 17)
        .arg(s.sumSquaredRecon, 0, 'g', 17)
        .arg(s.maxAbsError, 0, 'g', 17)
        .arg(s.count)
        .arg(s.clipped)
        .arg(s.nonFinite)
        .toUtf8();
}

/// Equal up to the kernels' float runs (kernels.h: about 1e-7 relative): relative 1e-5, or `absolute`
/// (SQNR near 0 dB is a difference of nearly equal logarithms).
bool close(double a, double b, double absolute = 1e-15)
{
    if (a == b)
        return true;
    const double difference = std::fabs(a - b);
    return difference <= 1e-5 * std::max(std::fabs(a), std::fabs(b)) || difference <= absolute;
}

/// The SIMD targets to try; Highway's own choice is restored when the test ends.
struct EveryTarget {
    std::vector<std::string> targets = simdTargets();
    ~EveryTarget() { setSimdTarget(""); }
};

/// -0 before +0, NaN/Inf skipped: the documented MinMaxResult, by a plain loop.
MinMaxResult referenceMinMax(std::span<const float> values)
{
    MinMaxResult r;
    bool any = false;
    const auto less
        = [](float a, float b) { return a < b || (a == b && std::signbit(a) && !std::signbit(b)); };
    for (const float v : values) {
        if (!std::isfinite(v)) {
            ++r.nonFinite;
            continue;
        }
        if (!any || less(v, r.min))
            r.min = v;
        if (!any || less(r.max, v))
            r.max = v;
        any = true;
    }
    r.absmax = std::max(std::fabs(r.min), std::fabs(r.max));
    return r;
}

bool sameBits(const MinMaxResult& a, const MinMaxResult& b)
{
    return std::bit_cast<std::uint32_t>(a.min) == std::bit_cast<std::uint32_t>(b.min)
        && std::bit_cast<std::uint32_t>(a.max) == std::bit_cast<std::uint32_t>(b.max)
        && std::bit_cast<std::uint32_t>(a.absmax) == std::bit_cast<std::uint32_t>(b.absmax)
        && a.nonFinite == b.nonFinite;
}

std::vector<float> specialMix(std::size_t n, unsigned seed)
{
    std::vector<float> values = randomNormal(n, seed);
    const float specials[] = {kNaN, kInf, -kInf, -0.0f, 0.0f, 1e-45f, -1e-40f, FLT_MAX, -FLT_MAX};
    std::mt19937 rng(seed + 1);
    for (std::size_t i = 0; i < n / 17; ++i)
        values[rng() % n] = specials[rng() % std::size(specials)];
    return values;
}

} // namespace

class TestKernels : public QObject {
    Q_OBJECT

private slots:
    void registry()
    {
        QCOMPARE(backendName(Backend::Scalar), std::string("scalar"));
        QCOMPARE(backendByName("SIMD"), Backend::Simd);
        QCOMPARE(backendByName("cuda"), Backend::Cuda);
        QVERIFY_THROWS_EXCEPTION(Error, backendByName("gpu"));
        QVERIFY(backendAvailable(Backend::Scalar));
        QVERIFY(backendAvailable(Backend::Simd));
        QCOMPARE(backendTarget(Backend::Scalar), std::string("scalar C++"));
        const std::vector<std::string> targets = simdTargets();
        QVERIFY(!targets.empty());
        QCOMPARE(backendTarget(Backend::Simd), targets.front());
        QVERIFY_THROWS_EXCEPTION(Error, setSimdTarget("NO_SUCH_TARGET"));
        for (const std::string& target : targets) {
            setSimdTarget(target);
            QCOMPARE(backendTarget(Backend::Simd), target);
        }
        setSimdTarget("");
        QCOMPARE(backendTarget(Backend::Simd), targets.front());
#if !defined(QS_HAVE_CUDA)
        QVERIFY(!backendAvailable(Backend::Cuda));
        QVERIFY(!backendUnavailableReason(Backend::Cuda).empty());
        const std::vector<float> values {1, 2};
        QVERIFY_THROWS_EXCEPTION(Error, minMax(Backend::Cuda, values));
#endif
        QCOMPARE(kernelThreads(3), 3);
        QVERIFY(kernelThreads(0) >= 1);
    }

    void fakeQuantMatchesQuantizer_data()
    {
        QTest::addColumn<int>("scheme");
        QTest::addColumn<int>("dataset");
        const std::vector<NamedScheme> list = schemes();
        for (int s = 0; s < static_cast<int>(list.size()); ++s)
            for (int d = 0; d < 11; ++d)
                if (d != 8 || !allLayoutsBinEdges(list[static_cast<std::size_t>(s)].scheme.format).empty())
                    QTest::addRow("%s / %d", list[static_cast<std::size_t>(s)].name, d) << s << d;
    }

    void fakeQuantMatchesQuantizer()
    {
        QFETCH(int, scheme);
        QFETCH(int, dataset);
        const Scheme base = schemes()[static_cast<std::size_t>(scheme)].scheme;
        Case c;
        switch (dataset) {
        case 0:
            c = edgeCase(base);
            break;
        case 1:
            c = randomCase(base, {37, 300}, 7, true); // ragged groups, a zero channel, specials
            break;
        case 2:
            c = randomCase(base, {3, 2, 4103}, 8, true); // 3-D, rows not a multiple of the vector width
            break;
        case 3:
            c = randomCase(base, {1}, 9, false);
            break;
        case 4:
            c = randomCase(base, {0, 5}, 10, false);
            break;
        case 5:
            c = randomCase(base, {2, 4096 * 2 + 17}, 11, false); // several chunks, threads split a row
            for (std::size_t i = 0; i < c.tensor.data.size(); i += 3)
                c.tensor.data[i] = 0; // many exact zeros
            break;
        case 6: {
            // Many values far beyond a range whose scale is not a power of two: (x - x̂)² is then not exact
            // in double, so a fused multiply-add would change the sums.
            std::vector<float> values = randomNormal(5000, 12);
            for (std::size_t i = 0; i < values.size(); ++i)
                values[i] *= i % 4 ? 3e6f : 1.0f;
            c.scheme = base;
            c.scheme.granularity = Granularity::perTensor();
            c.tensor = Tensor {"clipped", {static_cast<std::int64_t>(values.size())}, std::move(values)};
            c.ranges = std::vector<GroupRange> {{-2.7, base.rangeMode == RangeMode::Affine ? 1.9 : 2.7}};
            break;
        }
        case 7:
            c = randomCase(base, {5, 4096}, 13, true); // groups that tile their rows (the SIMD fast path)
            break;
        case 8:
            c = binEdgeCase(base);
            break;
        case 9: {
            // Runs within the range, then a few values just or far beyond it late in some chunks, one at the
            // bound itself, one NaN: the SIMD integer pass takes runs without the clamp while their |v| stay
            // within the grid, and a run that leaves it (and the rest of its chunk) with the clamp.
            std::vector<float> values(3 * 4096 + 100);
            std::mt19937 random(14);
            std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
            for (float& v : values)
                v = uniform(random);
            values[100] = 1.0f;
            values[4096 + 2000] = 1.0000001f;
            values[2 * 4096 + 3000] = -40.0f;
            values[2 * 4096 + 3500] = std::numeric_limits<float>::quiet_NaN();
            values[2 * 4096 + 3999] = 1.5f;
            c.scheme = base;
            c.scheme.granularity = Granularity::perTensor();
            c.tensor = Tensor {"late clips", {static_cast<std::int64_t>(values.size())}, std::move(values)};
            c.ranges = std::vector<GroupRange> {{-1.0, 1.0}};
            break;
        }
        case 10:
            c = gridEdgeCase(base);
            break;
        }
        if (!fakeQuantErrorUnsupported(c.scheme, c.tensor.shape).empty())
            QSKIP("granularity does not apply to this shape");
        const QuantizedTensor quantized = quantize(c.tensor, c.scheme, c.ranges);
        const Tensor reconstructed = fakeQuantize(c.tensor, c.scheme, c.ranges);
        const ErrorSums expected = referenceSums(c.tensor.data, reconstructed.data, quantized.clippedCount);
        QCOMPARE(expected.nonFinite, quantized.nonFiniteCount);

        const auto check = [&](Backend backend, int threads, const std::string& target) {
            const ErrorSums actual = fakeQuantError(backend, c.tensor.values(), c.tensor.shape, c.scheme,
                quantized.scales, quantized.zeroPoints, threads);
            QVERIFY2(actual == expected,
                QByteArray::fromStdString(
                    backendName(backend) + " " + target + " threads " + std::to_string(threads))
                    + "\n  actual   " + describe(actual) + "\n  expected " + describe(expected));
        };
        EveryTarget every;
        for (const int threads : kThreadCounts) {
            check(Backend::Scalar, threads, "");
            for (const std::string& target : every.targets) {
                setSimdTarget(target);
                check(Backend::Simd, threads, target);
            }
        }
        if (dataset == 0 || dataset == 8) {
            // Block by block as well: in the whole-tensor sums the huge edge values would hide a wrong x̂ of
            // a small one (a tie rounded the wrong way has the same |error|, only Σx̂² and Σx·x̂ see it).
            const std::size_t n = c.tensor.data.size();
            std::int64_t clipped = 0;
            for (std::size_t begin = 0; begin < n; begin += kKernelLanes) {
                const std::size_t count = std::min<std::size_t>(kKernelLanes, n - begin);
                const std::span<const float> x = std::span(c.tensor.data).subspan(begin, count);
                const Shape shape {static_cast<std::int64_t>(count)};
                // Per tensor, so the scale (and zero point) of the whole tensor applies to every slice.
                ErrorSums sliceExpected
                    = referenceSums(x, std::span(reconstructed.data).subspan(begin, count), 0);
                const ErrorSums scalar = fakeQuantError(
                    Backend::Scalar, x, shape, c.scheme, quantized.scales, quantized.zeroPoints, 1);
                sliceExpected.clipped = scalar.clipped;
                clipped += scalar.clipped;
                QVERIFY(scalar == sliceExpected);
                for (const std::string& target : every.targets) {
                    setSimdTarget(target);
                    const ErrorSums actual = fakeQuantError(
                        Backend::Simd, x, shape, c.scheme, quantized.scales, quantized.zeroPoints, 1);
                    QVERIFY2(actual == sliceExpected,
                        QByteArray::fromStdString(target) + " at " + QByteArray::number(qulonglong(begin))
                            + ": x " + QByteArray::number(x[0], 'g', 9) + "..\n  actual   " + describe(actual)
                            + "\n  expected " + describe(sliceExpected));
                }
            }
            QCOMPARE(clipped, quantized.clippedCount);
        }

        // The same numbers as ErrorReport on fakeQuantize's output (up to the summation order).
        const ErrorReport report
            = computeErrorReport(c.tensor.data, reconstructed.data, quantized.clippedCount, 4.0);
        const ErrorReport fromSums
            = errorReportFromSums(fakeQuantError(Backend::Simd, c.tensor.values(), c.tensor.shape, c.scheme,
                                      quantized.scales, quantized.zeroPoints),
                4.0);
        QCOMPARE(fromSums.count, report.count);
        QCOMPARE(float(fromSums.maxAbsError), float(report.maxAbsError)); // float e (kernels.h)
        QCOMPARE(fromSums.clippedShare, report.clippedShare);
        QCOMPARE(fromSums.bitsPerValue, report.bitsPerValue);
        for (const auto& [name, a, b, absolute] : {std::tuple {"mse", fromSums.mse, report.mse, 0.0},
                 std::tuple {"rmse", fromSums.rmse, report.rmse, 0.0},
                 std::tuple {"sqnr", fromSums.sqnrDb, report.sqnrDb, 1e-6},
                 std::tuple {"mean abs", fromSums.meanAbsError, report.meanAbsError, 0.0},
                 std::tuple {"relative rmse", fromSums.relativeRmse, report.relativeRmse, 0.0},
                 std::tuple {"cosine", fromSums.cosine, report.cosine, 1e-15}})
            QVERIFY2(close(a, b, absolute),
                QByteArray(name) + ": " + QByteArray::number(a, 'g', 17) + " vs "
                    + QByteArray::number(b, 'g', 17));
    }

    void tableBinsMatchTheSearch()
    {
        const auto regionOf = [](const std::vector<std::int32_t>& thresholds, std::int32_t key) {
            return static_cast<int>(
                std::upper_bound(thresholds.begin(), thresholds.end(), key) - thresholds.begin());
        };
        std::vector<std::pair<std::string, EncoderTable>> tables;
        for (const NumberFormat& format : {nf4Format(), iq4nlFormat(), bnbFp4Format()})
            tables.emplace_back(format.name, encoderTable(format, "the test"));
        for (const BlockFormat format : {BlockFormat::BnbNF4, BlockFormat::BnbFP4})
            tables.emplace_back(blockFormatName(format), qs::testing::bnbEncoderTable(format));
        std::mt19937 rng(21);
        std::uniform_int_distribution<std::int32_t> anyKey(encoderKey(-kInf), encoderKey(kInf));
        int binned = 0;
        for (const auto& [name, table] : tables) {
            std::vector<std::pair<TableBins, int>> layouts;
            for (const auto& [count, perBin] : {std::pair {16, 2}, std::pair {32, 1}, std::pair {8, 2}})
                layouts.emplace_back(tableBins(table.thresholds, count, perBin), perBin);
            layouts.emplace_back(qs::testing::avx512Bins(table), 1);
            for (const auto& [bins, perBin] : layouts) {
                if (bins.count == 0)
                    continue;
                ++binned;
                const int count = bins.count;
                std::vector<std::int32_t> keys;
                for (int bin = 1; bin < count; ++bin)
                    keys.push_back(firstKeyOfBin(bins, bin));
                keys.insert(keys.end(), table.thresholds.begin(), table.thresholds.end());
                for (const float v :
                    {0.0f, -0.0f, 1e-45f, -1e-45f, FLT_MIN, -FLT_MIN, FLT_MAX, -FLT_MAX, kInf, -kInf})
                    keys.push_back(encoderKey(v));
                for (int i = 0; i < 100000; ++i)
                    keys.push_back(anyKey(rng));
                for (const std::int32_t around : keys)
                    for (std::int64_t step = -4; step <= 4; ++step) {
                        const std::int64_t wide = std::int64_t {around} + step;
                        if (wide < encoderKey(-kInf) || wide > encoderKey(kInf))
                            continue;
                        const auto key = static_cast<std::int32_t>(wide);
                        const auto bin = static_cast<std::size_t>(tableBin(bins, encoderKeyValue(key)));
                        QVERIFY(bin < static_cast<std::size_t>(count));
                        int region = bins.base[bin];
                        for (int k = 0; k < perBin; ++k)
                            region += key >= bins.thresholds[static_cast<std::size_t>(k)][bin] ? 1 : 0;
                        if (region != regionOf(table.thresholds, key))
                            QFAIL(qPrintable(QString::fromStdString(name)
                                + QStringLiteral(": key %1 (%2) in bin %3: region %4, the search %5")
                                      .arg(key)
                                      .arg(double(encoderKeyValue(key)), 0, 'g', 9)
                                      .arg(bin)
                                      .arg(region)
                                      .arg(regionOf(table.thresholds, key))));
                    }
            }
        }
        QVERIFY(binned >= 6);
        // NF4 takes the bins on 16-lane SIMD targets; bitsandbytes' FP4 has three thresholds within 0.006 of
        // zero, too close for 16 bins.
        QCOMPARE(tableBins(encoderTable(nf4Format(), "the test").thresholds, 16, 2).count, 16);
        QCOMPARE(tableBins(encoderTable(nf4Format(), "the test").thresholds, 32, 1).count, 32); // CUDA
        QCOMPARE(tableBins(tables.back().second.thresholds, 16, 2).count, 0);
        QCOMPARE(tableBins({5}, 16, 2).count, 0);
        QCOMPARE(tableBins({1, 2, 3}, 16, 3).count, 0);
        // AVX-512: NF4's bins reach past ±1, its extreme values, so that no |v| <= 1 needs the clamp.
        const EncoderTable nf4 = encoderTable(nf4Format(), "the test");
        const qs::kernel_detail::Bins32Layout layout = qs::kernel_detail::bins32Layout(nf4.thresholds, -1, 1);
        QCOMPARE(layout.unclippedBound, 1.0f);
        QCOMPARE(layout.bins.count, 32);
        for (const float v : {-1.0f, 1.0f}) {
            const float position = std::fma(v, layout.bins.scale, layout.bins.offset);
            QVERIFY(position >= TableBins::kOrigin && position <= TableBins::kOrigin + 31);
        }
        QCOMPARE(qs::kernel_detail::bins32Layout(nf4.thresholds, 0, 1).unclippedBound, 0.0f);
        QCOMPARE(qs::kernel_detail::unclampedTableBins({5}, 1).count, 0);
    }

    void fakeQuantSizesAroundTheVectorWidth()
    {
        const Scheme schemesToTry[] = {schemeOf(integerFormat(8, true), Granularity::perTensor()),
            schemeOf(fp8E4M3Format(), Granularity::perGroup(5)),
            schemeOf(nf4Format(), Granularity::perChannel(0))};
        EveryTarget every;
        for (const std::int64_t n : {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 4095, 4096, 4097, 8191, 8209}) {
            for (const Scheme& scheme : schemesToTry) {
                const Tensor tensor {
                    "t", {n}, specialMix(static_cast<std::size_t>(n), static_cast<unsigned>(n))};
                const QuantizedTensor quantized = quantize(tensor, scheme);
                const ErrorSums expected
                    = referenceSums(tensor.data, fakeQuantize(tensor, scheme).data, quantized.clippedCount);
                for (const std::string& target : every.targets) {
                    setSimdTarget(target);
                    for (const int threads : kThreadCounts) {
                        QVERIFY2(fakeQuantError(Backend::Simd, tensor.values(), tensor.shape, scheme,
                                     quantized.scales, quantized.zeroPoints, threads)
                                == expected,
                            QByteArray::fromStdString(
                                target + " n=" + std::to_string(n) + " " + schemeName(scheme)));
                        QVERIFY(fakeQuantError(Backend::Scalar, tensor.values(), tensor.shape, scheme,
                                    quantized.scales, quantized.zeroPoints, threads)
                            == expected);
                    }
                }
            }
        }
    }

    void fakeQuantRejectsBadInput()
    {
        const Tensor tensor {"t", {2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}};
        const Scheme perChannel = schemeOf(integerFormat(8, true), Granularity::perChannel(0));
        const std::vector<float> twoScales {0.1f, 0.2f};
        const std::vector<std::int32_t> none;
        QCOMPARE(
            fakeQuantError(Backend::Scalar, tensor.values(), tensor.shape, perChannel, twoScales, none).count,
            8);
        const std::vector<float> oneScale {0.1f};
        QVERIFY_THROWS_EXCEPTION(Error,
            fakeQuantError(Backend::Scalar, tensor.values(), tensor.shape, perChannel, oneScale, none));
        const std::vector<float> zeroScale {0.1f, 0.0f};
        QVERIFY_THROWS_EXCEPTION(
            Error, fakeQuantError(Backend::Simd, tensor.values(), tensor.shape, perChannel, zeroScale, none));
        const std::vector<float> tinyScale {0.1f, 1e-45f}; // its reciprocal overflows
        QVERIFY_THROWS_EXCEPTION(
            Error, fakeQuantError(Backend::Simd, tensor.values(), tensor.shape, perChannel, tinyScale, none));
        const Scheme affine = schemeOf(integerFormat(8, true), Granularity::perChannel(0), RangeMode::Affine);
        const std::vector<std::int32_t> badZero {0, 128};
        QVERIFY_THROWS_EXCEPTION(
            Error, fakeQuantError(Backend::Simd, tensor.values(), tensor.shape, affine, twoScales, badZero));
        QVERIFY_THROWS_EXCEPTION(
            Error, fakeQuantError(Backend::Simd, tensor.values(), tensor.shape, affine, twoScales, none));
        QVERIFY_THROWS_EXCEPTION(Error,
            fakeQuantError(
                Backend::Simd, tensor.values(), {3, 4}, perChannel, std::vector<float>(3, 0.1f), none));

        const Scheme lastAxisChannel = schemeOf(integerFormat(8, true), Granularity::perChannel(1));
        QVERIFY(!fakeQuantErrorUnsupported(lastAxisChannel, tensor.shape).empty());
        QVERIFY(!fakeQuantErrorUnsupported(
            schemeOf(integerFormat(8, true), Granularity::perGroup(2, 0)), tensor.shape)
                     .empty());
        QVERIFY(fakeQuantErrorUnsupported(
            schemeOf(integerFormat(8, true), Granularity::block2D(2, 2)), tensor.shape)
                    .empty());
        QCOMPARE(
            fakeQuantErrorUnsupported(schemeOf(integerFormat(8, true), Granularity::block2D(2, 2)), {12}),
            std::string("2-D blocks need a tensor of rank 2 or more (shape [12])"));
        QVERIFY(!fakeQuantErrorUnsupported(schemeOf(ternaryFormat(), Granularity::perTensor()), tensor.shape)
                     .empty());
        Scheme mx;
        mx.blockFormat = BlockFormat::MXFP4;
        QVERIFY(!fakeQuantErrorUnsupported(mx, tensor.shape).empty());
        QVERIFY(!fakeQuantErrorUnsupported(perChannel, {}).empty());
        QVERIFY(fakeQuantErrorUnsupported(
            schemeOf(integerFormat(8, true), Granularity::perChannel(-2)), tensor.shape)
                    .empty());
        QVERIFY_THROWS_EXCEPTION(Error,
            fakeQuantError(Backend::Simd, tensor.values(), tensor.shape, lastAxisChannel, twoScales, none));
    }

    void minMaxMatchesReference_data()
    {
        QTest::addColumn<int>("size");
        for (const int n : {0, 1, 2, 15, 16, 17, 33, 4095, 4097, 100003})
            QTest::addRow("%d", n) << n;
    }

    void minMaxMatchesReference()
    {
        QFETCH(int, size);
        std::vector<std::vector<float>> inputs {randomNormal(static_cast<std::size_t>(size), 3),
            specialMix(static_cast<std::size_t>(size), 4),
            std::vector<float>(static_cast<std::size_t>(size), kNaN),
            std::vector<float>(static_cast<std::size_t>(size), -0.0f)};
        if (size >= 2) {
            std::vector<float> zeros(static_cast<std::size_t>(size), 0.0f);
            zeros[static_cast<std::size_t>(size - 1)] = -0.0f; // -0 is the min, +0 the max, wherever they are
            inputs.push_back(zeros);
        }
        EveryTarget every;
        for (const std::vector<float>& values : inputs) {
            const MinMaxResult expected = referenceMinMax(values);
            for (const int threads : kThreadCounts) {
                QVERIFY(sameBits(minMax(Backend::Scalar, values, threads), expected));
                for (const std::string& target : every.targets) {
                    setSimdTarget(target);
                    const MinMaxResult actual = minMax(Backend::Simd, values, threads);
                    QVERIFY2(sameBits(actual, expected),
                        QByteArray::fromStdString(target) + ": " + QByteArray::number(actual.min) + " "
                            + QByteArray::number(actual.max) + " " + QByteArray::number(actual.nonFinite));
                }
            }
            // The quantizer's own per-tensor range agrees.
            const Tensor tensor {"t", {static_cast<std::int64_t>(values.size())}, values};
            const GroupRange range = minMaxRanges(tensor, Scheme {}).front();
            QCOMPARE(range.min, double(expected.min));
            QCOMPARE(range.max, double(expected.max));
        }
    }

    void minMaxRowsMatchesReference()
    {
        EveryTarget every;
        const std::pair<std::int64_t, std::int64_t> shapes[]
            = {{0, 4}, {4, 0}, {1, 1}, {3, 5000}, {37, 300}, {1000, 7}, {5, 4096}, {2, 12289}};
        for (const auto& [rows, cols] : shapes) {
            const std::vector<float> values = specialMix(static_cast<std::size_t>(rows * cols), 5);
            std::vector<MinMaxResult> expected;
            for (std::int64_t r = 0; r < rows; ++r)
                expected.push_back(referenceMinMax(std::span(values).subspan(
                    static_cast<std::size_t>(r * cols), static_cast<std::size_t>(cols))));
            const auto same = [&](const std::vector<MinMaxResult>& actual) {
                if (actual.size() != expected.size())
                    return false;
                for (std::size_t r = 0; r < actual.size(); ++r)
                    if (!sameBits(actual[r], expected[r]))
                        return false;
                return true;
            };
            for (const int threads : kThreadCounts) {
                QVERIFY(same(minMaxRows(Backend::Scalar, values, rows, cols, threads)));
                for (const std::string& target : every.targets) {
                    setSimdTarget(target);
                    QVERIFY2(same(minMaxRows(Backend::Simd, values, rows, cols, threads)),
                        QByteArray::fromStdString(
                            target + " " + std::to_string(rows) + "x" + std::to_string(cols)));
                }
            }
        }
        const std::vector<float> six(6, 1.0f);
        QVERIFY_THROWS_EXCEPTION(Error, minMaxRows(Backend::Scalar, six, 4, 2));
    }

    void minMaxGroupsMatchesQuantizerRanges()
    {
        EveryTarget every;
        const std::pair<Shape, Granularity> cases[]
            = {{{37, 300}, Granularity::perTensor()}, {{37, 300}, Granularity::perChannel(0)},
                {{37, 300}, Granularity::perGroup(128)}, {{37, 300}, Granularity::perGroup(7)},
                {{37, 300}, Granularity::block2D(4, 7)}, {{3, 5, 4103}, Granularity::block2D(2, 128)},
                {{3, 5, 4103}, Granularity::perGroup(4096)}, {{2, 9000}, Granularity::perChannel(0)},
                {{0, 5}, Granularity::block2D(2, 2)}, {{40, 512}, Granularity::perGroup(128)},
                {{6, 4096}, Granularity::perGroup(32)}, {{9, 64}, Granularity::perGroup(16)}};
        for (const auto& [shape, granularity] : cases) {
            const auto n = static_cast<std::size_t>(shapeElementCount(shape));
            Tensor tensor {"t", shape, specialMix(n, 21)};
            if (granularity.kind == Granularity::Kind::PerGroup
                && shape.back() % granularity.groupSize == 0) {
                // Groups that tile their rows: mostly finite, so that most vectors of groups are all finite.
                tensor.data = randomNormal(n, 22);
                for (const std::size_t i : {std::size_t {4100}, std::size_t {9001}, std::size_t {15000}})
                    tensor.data[i % n] = i % 2 == 0 ? kNaN : -kInf;
                tensor.data[n / 2] = -0.0f;
            }
            if (tensor.data.size() > 300)
                std::fill(
                    tensor.data.begin(), tensor.data.begin() + 300, kNaN); // groups with no finite value
            Scheme scheme;
            scheme.granularity = granularity;
            const std::vector<GroupRange> expected = minMaxRanges(tensor, scheme);
            const auto same = [&](const std::vector<MinMaxResult>& actual) {
                if (actual.size() != expected.size())
                    return false;
                for (std::size_t g = 0; g < actual.size(); ++g)
                    if (double(actual[g].min) != expected[g].min || double(actual[g].max) != expected[g].max
                        || actual[g].absmax != std::max(std::fabs(actual[g].min), std::fabs(actual[g].max)))
                        return false;
                return true;
            };
            const QByteArray what
                = QByteArray::fromStdString(shapeToString(shape) + " " + granularityName(granularity));
            for (const int threads : kThreadCounts) {
                const std::vector<MinMaxResult> scalar
                    = minMaxGroups(Backend::Scalar, tensor.values(), shape, granularity, threads);
                QVERIFY2(same(scalar), what);
                for (const std::string& target : every.targets) {
                    setSimdTarget(target);
                    const std::vector<MinMaxResult> simd
                        = minMaxGroups(Backend::Simd, tensor.values(), shape, granularity, threads);
                    QVERIFY2(same(simd), what + " " + QByteArray::fromStdString(target));
                    for (std::size_t g = 0; g < simd.size(); ++g)
                        QVERIFY2(simd[g].nonFinite == scalar[g].nonFinite,
                            what + " " + QByteArray::fromStdString(target) + " non-finite count of group "
                                + QByteArray::number(qulonglong(g)));
                }
            }
        }
        const std::vector<float> six(6, 1.0f);
        QVERIFY_THROWS_EXCEPTION(Error, minMaxGroups(Backend::Simd, six, {2, 2}, Granularity::perTensor()));
        try {
            minMaxGroups(Backend::Simd, six, {2, 3}, Granularity::perChannel(1));
            QFAIL("per-channel along axis 1 was accepted");
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).find("axis 0 only") != std::string::npos);
        }
    }

    void blockFakeQuantMatchesReference_data()
    {
        QTest::addColumn<int>("index");
        const std::vector<cudaref::BlockCase> cases = fusedBlockCases();
        for (std::size_t i = 0; i < cases.size(); ++i)
            QTest::newRow(cases[i].name.c_str()) << static_cast<int>(i);
    }

    /// blockFakeQuantError against the sums of (x, dequantize(quantize(x))) accumulated here, on the CUDA
    /// checks' block cases (every E8M0 and element rounding, odd block sizes, ragged last blocks, all-zero
    /// and NaN/±Inf blocks, subnormals, ties), blocks that tile their rows, and the ggml and bitsandbytes
    /// blocks, for every SIMD target and thread count.
    void blockFakeQuantMatchesReference()
    {
        QFETCH(int, index);
        static const std::vector<cudaref::BlockCase> cases = fusedBlockCases();
        const cudaref::BlockCase& c = cases[static_cast<std::size_t>(index)];
        const Scheme& scheme = c.scheme;
        const Shape& shape = c.shape;
        const Tensor tensor {"t", shape, c.values};
        const QuantizedTensor q = quantize(tensor, scheme);
        const Tensor reconstructed = dequantize(q);
        const ErrorSums expected = referenceSums(tensor.data, reconstructed.data, q.clippedCount);
        QCOMPARE(expected.nonFinite, q.nonFiniteCount);
        EveryTarget every;
        for (const int threads : kThreadCounts) {
            const ErrorSums scalar
                = blockFakeQuantError(Backend::Scalar, tensor.values(), shape, scheme, threads);
            QVERIFY2(scalar == expected,
                "scalar\n  actual   " + describe(scalar) + "\n  expected " + describe(expected));
            for (const std::string& target : every.targets) {
                setSimdTarget(target);
                const ErrorSums actual
                    = blockFakeQuantError(Backend::Simd, tensor.values(), shape, scheme, threads);
                QVERIFY2(actual == expected,
                    QByteArray::fromStdString(target) + "\n  actual   " + describe(actual) + "\n  expected "
                        + describe(expected));
            }
        }
    }

    /// The SIMD ggml blocks (simdGgmlBlocks) against BlockReconstruction::reconstruct, x̂ bit for bit and the
    /// clipped count, on every target and on ranges that cut blocks, over ggmlEdgeBlocks.
    void ggmlBlocksMatchReference()
    {
        const std::int64_t block = 32;
        const std::vector<std::vector<float>> blocks = ggmlEdgeBlocks();
        std::vector<float> x;
        for (const std::vector<float>& b : blocks)
            x.insert(x.end(), b.begin(), b.end());
        const auto n = static_cast<std::int64_t>(x.size());
        const Shape shape {n / (2 * block), 2 * block};
        QCOMPARE(shapeElementCount(shape), n);
        const std::pair<std::int64_t, std::int64_t> ranges[]
            = {{0, n}, {5, n - 7}, {3 * block, 9 * block}, {block + 1, block + 2}, {n - 1, n}};
        EveryTarget every;
        for (const BlockFormat format : {BlockFormat::GgmlQ8_0, BlockFormat::GgmlQ4_0, BlockFormat::GgmlQ4_1,
                 BlockFormat::GgmlQ5_0, BlockFormat::GgmlQ5_1, BlockFormat::GgmlMXFP4}) {
            Scheme scheme;
            scheme.blockFormat = format;
            const BlockReconstruction r = BlockReconstruction::prepare(x, shape, scheme);
            for (const auto& [begin, end] : ranges) {
                std::vector<float> expected(static_cast<std::size_t>(end - begin));
                const std::int64_t expectedClipped = r.reconstruct(begin, end, expected.data());
                for (const std::string& target : every.targets) {
                    setSimdTarget(target);
                    std::vector<float> actual(expected.size(), 123.0f);
                    const std::int64_t clipped
                        = kernel_detail::simdGgmlBlocks().reconstructRange(r, begin, end, actual.data());
                    const QByteArray where = QByteArray::fromStdString(blockFormatName(format) + " " + target
                        + " [" + std::to_string(begin) + ", " + std::to_string(end) + ")");
                    QVERIFY2(clipped == expectedClipped, where);
                    for (std::size_t i = 0; i < expected.size(); ++i)
                        QVERIFY2(std::bit_cast<std::uint32_t>(actual[i])
                                == std::bit_cast<std::uint32_t>(expected[i]),
                            where + " element " + QByteArray::number(static_cast<qint64>(begin + i)) + ": "
                                + QByteArray::number(actual[i], 'g', 9) + " vs "
                                + QByteArray::number(expected[i], 'g', 9));
                }
            }
        }
    }

    /// CpuKernels::meanAbs (the ternary scales) against blockformat::torchCpuMeanAbs bit for bit on every
    /// target, at sizes around the vector width, the rows of 4 vectors and the cascade's level steps, on
    /// values whose sum depends on its order (a plain sequential mean differs on some of them).
    void meanAbsMatchesTorchOrder()
    {
        std::mt19937 random(11);
        std::normal_distribution<float> normal;
        std::uniform_int_distribution<int> exponent(-12, 12);
        std::vector<float> x(300000);
        for (float& v : x)
            v = std::ldexp(normal(random), exponent(random));
        std::vector<std::int64_t> sizes;
        for (std::int64_t n = 1; n <= 80; ++n)
            sizes.push_back(n);
        for (const std::int64_t n : {127, 128, 129, 511, 512, 513, 1023, 1024, 1025, 2047, 2048, 2049, 4096,
                 4103, 8192, 16383, 16384, 16416, 65536, 65567, 131072, 262144, 262151, 299999})
            sizes.push_back(n);
        int orderSensitive = 0;
        EveryTarget every;
        for (const std::int64_t n : sizes) {
            const float expected = blockformat::torchCpuMeanAbs(x.data(), n);
            float sequential = 0;
            for (std::int64_t k = 0; k < n; ++k)
                sequential += std::fabs(x[static_cast<std::size_t>(k)]);
            orderSensitive += sequential / static_cast<float>(n) != expected;
            QCOMPARE(kernel_detail::scalarKernels().meanAbs(x.data(), n), expected);
            for (const std::string& target : every.targets) {
                setSimdTarget(target);
                const float actual = kernel_detail::simdKernels().meanAbs(x.data(), n);
                QVERIFY2(std::bit_cast<std::uint32_t>(actual) == std::bit_cast<std::uint32_t>(expected),
                    QByteArray::fromStdString(target + " n " + std::to_string(n)) + ": "
                        + QByteArray::number(actual, 'g', 9) + " vs " + QByteArray::number(expected, 'g', 9));
            }
        }
        QVERIFY(orderSensitive > 10);
    }

    /// The SIMD block scales (CpuKernels::blockParamsRange) against the scalar reference (blockAbsmaxRange,
    /// then BlockScaler block by block) on every target: block absmax 0, subnormal, 2^-127, float neighbours
    /// of powers of two and of the E8M0 rounding points, random magnitudes over every binade, FLT_MAX, blocks
    /// holding NaN or -Inf; blocks of 16 and 32 that tile the row and blocks of 16 with a ragged last one;
    /// every MX format and E8M0 rounding, NVFP4 with several tensor absmax values.
    void blockParamsMatchScaler()
    {
        std::vector<float> absmax;
        for (const float v :
            {0.0f, 1e-45f, 3e-39f, FLT_MIN, 0x1p-127f, 448.0f, 6.0f, 7.5f, 127.0f / 64, FLT_MAX})
            absmax.push_back(v);
        for (int e = -149; e <= 127; ++e) {
            const std::uint32_t bits = std::bit_cast<std::uint32_t>(std::ldexp(1.0f, e));
            for (const std::int32_t step : {-3, -1, 0, 1, 2, 0x40000, 0x3FFFFF, 0x400000, 0x400001, 0x600000})
                if (static_cast<std::int64_t>(bits) + step >= 0 && bits + step < 0x7F800000u)
                    absmax.push_back(std::bit_cast<float>(bits + static_cast<std::uint32_t>(step)));
        }
        std::mt19937 random(11);
        for (int i = 0; i < 4000; ++i)
            absmax.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(random() % 0x7F800000u)));
        const auto blockCount = static_cast<std::int64_t>(absmax.size());
        EveryTarget every;
        const auto check = [&](const Scheme& scheme, float tensorAbsmax, std::int64_t groupSize,
                               std::int64_t ragged, const QByteArray& what) {
            kernel_detail::FakeQuantPlan plan;
            plan.pattern = kernel_detail::GroupPattern::Row;
            plan.groupSize = groupSize;
            plan.rowLength = blockCount * groupSize - ragged;
            plan.perRow = blockCount;
            plan.elementCount = plan.rowLength;
            plan.qmin = -127;
            plan.qmax = 127;
            // Block k: ±absmax[k] and smaller values; every 61st block also NaN or -Inf.
            std::vector<float> x(static_cast<std::size_t>(plan.rowLength));
            for (std::size_t i = 0; i < x.size(); ++i) {
                const std::size_t k = i / static_cast<std::size_t>(groupSize);
                const std::size_t j = i % static_cast<std::size_t>(groupSize);
                x[i] = j == 0 ? absmax[k] : j == 1 ? -absmax[k] : absmax[k] / static_cast<float>(j + 1);
                if (j == 2 && k % 61 == 5)
                    x[i] = k % 2 != 0 ? std::numeric_limits<float>::quiet_NaN() : -kInf;
            }
            const kernel_detail::BlockScaler scaler(scheme, tensorAbsmax);
            const float largest = 448.0f;
            std::vector<MinMaxResult> scratch(absmax.size());
            std::vector<kernel_detail::GroupParams> expected(absmax.size());
            const bool expectedFinite = kernel_detail::scalarKernels().blockParamsRange(
                plan, scaler, largest, x.data(), 0, blockCount, scratch.data(), expected.data());
            for (const std::string& target : every.targets) {
                setSimdTarget(target);
                std::vector<kernel_detail::GroupParams> actual(absmax.size());
                const bool finite = kernel_detail::simdKernels().blockParamsRange(
                    plan, scaler, largest, x.data(), 0, blockCount, scratch.data(), actual.data());
                QVERIFY2(
                    finite == expectedFinite, what + " " + QByteArray::fromStdString(target) + " finite");
                for (std::size_t k = 0; k < absmax.size(); ++k) {
                    const auto bits = [](const kernel_detail::GroupParams& p) {
                        return std::array<std::uint32_t, 4> {std::bit_cast<std::uint32_t>(p.scale),
                            std::bit_cast<std::uint32_t>(p.inverse), std::bit_cast<std::uint32_t>(p.low),
                            std::bit_cast<std::uint32_t>(p.high)};
                    };
                    QVERIFY2(
                        bits(actual[k]) == bits(expected[k]) && actual[k].zeroPoint == expected[k].zeroPoint,
                        what + " " + QByteArray::fromStdString(target) + " block "
                            + QByteArray::number(qulonglong(k)) + " absmax "
                            + QByteArray::number(absmax[k], 'g', 9) + ": scale "
                            + QByteArray::number(actual[k].scale, 'g', 9) + " vs "
                            + QByteArray::number(expected[k].scale, 'g', 9) + ", inverse "
                            + QByteArray::number(actual[k].inverse, 'g', 9) + " vs "
                            + QByteArray::number(expected[k].inverse, 'g', 9));
                }
            }
        };
        const auto layouts = [&](const Scheme& scheme, float tensorAbsmax, const QByteArray& what) {
            check(scheme, tensorAbsmax, 16, 0, what + " blocks of 16");
            check(scheme, tensorAbsmax, 32, 0, what + " blocks of 32");
            check(scheme, tensorAbsmax, 16, 5, what + " blocks of 16, the last ragged");
        };
        for (const BlockFormat format : {BlockFormat::MXFP8_E4M3, BlockFormat::MXFP8_E5M2,
                 BlockFormat::MXFP6_E3M2, BlockFormat::MXFP6_E2M3, BlockFormat::MXFP4, BlockFormat::MXINT8}) {
            for (const E8M0Rounding rounding :
                {E8M0Rounding::Floor, E8M0Rounding::Ceil, E8M0Rounding::Even, E8M0Rounding::RCeil}) {
                Scheme scheme;
                scheme.blockFormat = format;
                scheme.e8m0Rounding = rounding;
                layouts(scheme, 0,
                    QByteArray::fromStdString(blockFormatName(format)) + " rounding "
                        + QByteArray::number(static_cast<int>(rounding)));
            }
        }
        Scheme nvfp4;
        nvfp4.blockFormat = BlockFormat::NVFP4;
        for (const float tensorAbsmax : {0.0f, 1e-30f, 1.0f, 448.0f, 3e38f, FLT_MAX})
            layouts(nvfp4, tensorAbsmax, "nvfp4 tensor absmax " + QByteArray::number(tensorAbsmax, 'g', 9));
    }

    void ternaryFakeQuantMatchesReference_data()
    {
        QTest::addColumn<int>("variant");
        for (int v = 0; v < 8; ++v)
            QTest::addRow("%d", v) << v;
    }

    /// ternaryFakeQuantError against the sums of (x, fakeQuantize(x)) accumulated here: every supported
    /// granularity (ragged groups and blocks, a 3-D tensor), scale formats, ties away, zero and non-finite
    /// groups, every SIMD target and thread count.
    void ternaryFakeQuantMatchesReference()
    {
        QFETCH(int, variant);
        Scheme scheme;
        scheme.format = ternaryFormat();
        Shape shape {37, 300};
        switch (variant) {
        case 0:
            scheme.granularity = Granularity::perTensor();
            break;
        case 1:
            scheme.granularity = Granularity::perChannel(0);
            break;
        case 2:
            scheme.granularity = Granularity::perGroup(7);
            scheme.scaleFormat = ScaleFormat::BF16;
            break;
        case 3:
            scheme.granularity = Granularity::perGroup(128);
            scheme.scaleFormat = ScaleFormat::E8M0;
            scheme.e8m0Rounding = E8M0Rounding::Ceil;
            break;
        case 4:
            scheme.granularity = Granularity::block2D(4, 7);
            break;
        case 5:
            scheme.granularity = Granularity::block2D(2, 128);
            shape = {3, 5, 4103};
            break;
        case 6:
            scheme.granularity = Granularity::perTensor();
            scheme.format.minifloat.rounding = Rounding::NearestAway;
            shape = {70000}; // torch's mean sums >= 32768 values in chunks
            break;
        case 7:
            scheme.granularity = Granularity::perChannel(0);
            scheme.scaleFormat = ScaleFormat::F16;
            shape = {2, 3, 50};
            break;
        }
        const std::int64_t n = shapeElementCount(shape);
        std::vector<float> values = randomNormal(static_cast<std::size_t>(n), 60 + variant);
        for (std::size_t i = 0; i < 300; ++i)
            values[i] = 0; // all-zero groups
        values[static_cast<std::size_t>(n / 2)] = kNaN;
        values[static_cast<std::size_t>(n / 3)] = kInf;
        values[static_cast<std::size_t>(n / 5)] = -kInf;
        values[static_cast<std::size_t>(n / 7)] = -1e-42f;
        for (std::size_t i = 301; i < values.size(); i += 11)
            values[i] *= 0.01f; // many elements round to ±0, some exactly at the ties
        const Tensor tensor {"t", shape, values};
        QVERIFY(ternaryFakeQuantErrorUnsupported(scheme, shape).empty());
        const QuantizedTensor q = quantize(tensor, scheme);
        const ErrorSums expected
            = referenceSums(tensor.data, fakeQuantize(tensor, scheme).data, q.clippedCount);
        EveryTarget every;
        for (const int threads : kThreadCounts) {
            const ErrorSums scalar
                = ternaryFakeQuantError(Backend::Scalar, tensor.values(), shape, scheme, threads);
            QVERIFY2(scalar == expected,
                "scalar\n  actual   " + describe(scalar) + "\n  expected " + describe(expected));
            for (const std::string& target : every.targets) {
                setSimdTarget(target);
                const ErrorSums actual
                    = ternaryFakeQuantError(Backend::Simd, tensor.values(), shape, scheme, threads);
                QVERIFY2(actual == expected,
                    QByteArray::fromStdString(target) + "\n  actual   " + describe(actual) + "\n  expected "
                        + describe(expected));
            }
        }
        QVERIFY(!ternaryFakeQuantErrorUnsupported(Scheme {}, shape).empty());
        Scheme lastAxis = scheme;
        lastAxis.granularity = Granularity::perChannel(1);
        QVERIFY(!ternaryFakeQuantErrorUnsupported(lastAxis, {4, 4}).empty());
        QVERIFY_THROWS_EXCEPTION(Error, ternaryFakeQuantError(Backend::Simd, tensor.values(), {3}, scheme));
    }

    void blockFakeQuantRejectsBadInput()
    {
        const std::vector<float> values(64, 1.0f);
        Scheme scheme;
        QCOMPARE(blockFakeQuantErrorUnsupported(scheme), std::string("the scheme has no block format"));
        scheme.blockFormat = BlockFormat::GgmlQ4_0;
        QVERIFY(blockFakeQuantErrorUnsupported(scheme).empty());
        QVERIFY_THROWS_EXCEPTION(Error, blockFakeQuantError(Backend::Simd, values, {2, 30}, scheme));
        QVERIFY_THROWS_EXCEPTION(Error, blockFakeQuantError(Backend::Simd, values, {2, 33}, scheme));
        QVERIFY_THROWS_EXCEPTION(Error, blockFakeQuantError(Backend::Cuda, values, {64}, scheme));
        scheme.blockFormat = BlockFormat::MXFP4;
        QVERIFY(blockFakeQuantErrorUnsupported(scheme).empty());
        QVERIFY_THROWS_EXCEPTION(Error, blockFakeQuantError(Backend::Simd, values, {2, 30}, scheme));
        QVERIFY_THROWS_EXCEPTION(Error, blockFakeQuantError(Backend::Cuda, values, {64}, scheme));
        scheme.blockSize = -3;
        QVERIFY_THROWS_EXCEPTION(Error, blockFakeQuantError(Backend::Simd, values, {64}, scheme));
    }

    /// The compare matrix's fused cells: the report of the scalar fakeQuantError with qs::quantize's scales,
    /// exactly; the reference path's report up to the summation order; progress and cancel as before.
    void compareMatrixFusedCells()
    {
        Tensor tensor {"t", {300, 257}, randomNormal(300 * 257, 31)};
        QVERIFY(static_cast<std::int64_t>(tensor.data.size()) >= kCompareFusedMinElements);
        for (std::size_t i = 0; i < 257; ++i)
            tensor.data[i] = 0; // an all-zero channel
        tensor.data[1000] = kNaN;
        tensor.data[2000] = kInf;
        tensor.data[3000] = -kInf;
        tensor.data[4000] = 1e-42f;
        for (std::size_t i = 5000; i < tensor.data.size(); i += 997)
            tensor.data[i] *= 40; // outliers
        const std::vector<std::string> formats {
            "int8", "int4", "uint8", "fp8_e4m3", "fp4_e2m1", "nf4", "bf16", "ternary", "mxfp4"};
        const std::vector<std::string> granularities {
            "tensor", "channel:0", "group:128", "block:16x64", "channel:1", "native"};
        Scheme base;
        base.rangeMode = RangeMode::Affine; // uint8 gets zero points; the signed formats too
        std::atomic<int> calls {0};
        const std::vector<CompareCell> fused = compareSchemes(tensor, formats, granularities, base,
            CompareOptions {}, nullptr, [&](const CompareCell&) { ++calls; });
        QCOMPARE(calls.load(), static_cast<int>(formats.size() * granularities.size()));
        CompareOptions exact;
        exact.exactPercentiles = true;
        const std::vector<CompareCell> reference
            = compareSchemes(tensor, formats, granularities, base, exact);
        int fusedCount = 0;
        for (std::size_t i = 0; i < fused.size(); ++i) {
            const CompareCell& a = fused[i];
            const CompareCell& b = reference[i];
            const QByteArray what = QByteArray::fromStdString(a.format + " " + a.granularity);
            QCOMPARE(a.error, b.error);
            QVERIFY2(b.percentiles, what);
            if (!a.error.empty())
                continue;
            const bool block = a.scheme.blockFormat != BlockFormat::None;
            const bool ternary = a.format == "ternary";
            const bool fusable = block ? blockFakeQuantErrorUnsupported(a.scheme).empty()
                : ternary              ? ternaryFakeQuantErrorUnsupported(a.scheme, tensor.shape).empty()
                                       : fakeQuantErrorUnsupported(a.scheme, tensor.shape).empty();
            QCOMPARE(a.percentiles, !fusable);
            const QuantizedTensor q = quantize(tensor, a.scheme);
            const double bits = effectiveBitsPerValue(a.scheme, tensor.shape);
            QCOMPARE(b.report, computeErrorReport(tensor.data, dequantize(q).data, q.clippedCount, bits));
            if (!fusable) {
                QCOMPARE(a.report, b.report);
                continue;
            }
            ++fusedCount;
            const ErrorSums sums = block
                ? blockFakeQuantError(Backend::Scalar, tensor.values(), tensor.shape, a.scheme, 1)
                : ternary ? ternaryFakeQuantError(Backend::Scalar, tensor.values(), tensor.shape, a.scheme, 1)
                          : fakeQuantError(Backend::Scalar, tensor.values(), tensor.shape, a.scheme, q.scales,
                              q.zeroPoints, 1);
            QCOMPARE(a.report, errorReportFromSums(sums, bits));
            QCOMPARE(a.report.count, b.report.count);
            QCOMPARE(float(a.report.maxAbsError), float(b.report.maxAbsError));
            QCOMPARE(a.report.clippedShare, b.report.clippedShare);
            QCOMPARE(a.report.bitsPerValue, b.report.bitsPerValue);
            QCOMPARE(a.report.p99AbsError, 0.0);
            for (const auto& [name, x, y] : {std::tuple {"mse", a.report.mse, b.report.mse},
                     std::tuple {"sqnr", a.report.sqnrDb, b.report.sqnrDb},
                     std::tuple {"mean abs", a.report.meanAbsError, b.report.meanAbsError},
                     std::tuple {"relative rmse", a.report.relativeRmse, b.report.relativeRmse},
                     std::tuple {"cosine", a.report.cosine, b.report.cosine}})
                QVERIFY2(close(x, y), what + " " + name);
        }
        // 8 element formats at 4 granularities, and mxfp4 in its native column.
        QCOMPARE(fusedCount, 8 * 4 + 1);

        // An all-subnormal tensor: the quantizer's smallest scale (FLT_MIN) reaches the fused pass unchanged.
        const Tensor tiny {"tiny", {300, 257}, std::vector<float>(300 * 257, 1e-44f)};
        const std::vector<CompareCell> tinyCells = compareSchemes(tiny, {"int8"}, {"tensor"});
        QVERIFY(tinyCells[0].error.empty());
        QVERIFY(!tinyCells[0].percentiles);
        const QuantizedTensor tinyQ = quantize(tiny, tinyCells[0].scheme);
        QCOMPARE(tinyQ.scales.front(), FLT_MIN);
        const ErrorReport tinyReference = computeErrorReport(tiny.data, dequantize(tinyQ).data,
            tinyQ.clippedCount, effectiveBitsPerValue(tinyCells[0].scheme, tiny.shape));
        QCOMPARE(tinyCells[0].report.count, tinyReference.count);
        QCOMPARE(float(tinyCells[0].report.maxAbsError), float(tinyReference.maxAbsError));
        QCOMPARE(tinyCells[0].report.clippedShare, tinyReference.clippedShare);
        QVERIFY(close(tinyCells[0].report.mse, tinyReference.mse));

        // Small tensors keep the reference path; cancel still stops every cell.
        const Tensor small {"s", {4, 64}, randomNormal(256, 9)};
        const std::vector<CompareCell> smallCells = compareSchemes(small, {"int8"}, {"group:32"});
        QVERIFY(smallCells[0].percentiles);
        std::atomic<bool> cancel {true};
        const std::vector<CompareCell> cancelled = compareSchemes(
            tensor, {"int8", "mxfp4"}, {"tensor", "native"}, base, CompareOptions {}, &cancel);
        QCOMPARE(cancelled[0].error, std::string("cancelled"));
        QCOMPARE(cancelled[3].error, std::string("cancelled"));
    }

    void histogramMatchesComputeHistogram_data()
    {
        QTest::addColumn<int>("size");
        QTest::addColumn<int>("bins");
        QTest::addColumn<double>("lo");
        QTest::addColumn<double>("hi");
        QTest::addColumn<bool>("absolute");
        QTest::newRow("full range") << 100003 << 2048 << -1.0 << 1.0 << false;
        QTest::newRow("narrow, below and above") << 30001 << 100 << -0.5 << 0.25 << false;
        QTest::newRow("absolute") << 30001 << 2048 << 0.0 << 3.0 << true;
        QTest::newRow("absolute above zero") << 30001 << 7 << 0.5 << 1.5 << true;
        QTest::newRow("one bin") << 4097 << 1 << -2.0 << 2.0 << false;
        QTest::newRow("lo == hi") << 4097 << 16 << 0.0 << 0.0 << false;
        QTest::newRow("many bins") << 20000 << 70000 << -3.0 << 3.0 << false;
        QTest::newRow("odd edges") << 9000 << 3 << -0.1 << 0.7 << false;
        QTest::newRow("empty") << 0 << 10 << 0.0 << 1.0 << false;
        QTest::newRow("one value") << 1 << 10 << -1.0 << 1.0 << true;
        QTest::newRow("17 values") << 17 << 10 << -1.0 << 1.0 << false;
    }

    void histogramMatchesComputeHistogram()
    {
        QFETCH(int, size);
        QFETCH(int, bins);
        QFETCH(double, lo);
        QFETCH(double, hi);
        QFETCH(bool, absolute);
        std::vector<float> values = specialMix(static_cast<std::size_t>(size), 6);
        // Values exactly on bin edges and on lo/hi.
        const double width = bins > 0 && hi > lo ? (hi - lo) / bins : 0;
        for (std::size_t i = 0; i < values.size(); i += 11)
            values[i] = static_cast<float>(
                lo + width * static_cast<double>(i % (static_cast<std::size_t>(bins) + 1)));
        if (!values.empty())
            values.back() = static_cast<float>(hi);
        const Histogram expected = computeHistogram(values, bins, lo, hi, absolute);
        EveryTarget every;
        for (const int threads : kThreadCounts) {
            QVERIFY(histogram(Backend::Scalar, values, bins, lo, hi, absolute, threads) == expected);
            for (const std::string& target : every.targets) {
                setSimdTarget(target);
                const Histogram actual = histogram(Backend::Simd, values, bins, lo, hi, absolute, threads);
                QVERIFY2(actual == expected,
                    QByteArray::fromStdString(target) + " below " + QByteArray::number(actual.below) + "/"
                        + QByteArray::number(expected.below) + " above " + QByteArray::number(actual.above)
                        + "/" + QByteArray::number(expected.above) + " nonfinite "
                        + QByteArray::number(actual.nonFinite) + "/"
                        + QByteArray::number(expected.nonFinite));
            }
        }
    }

    void histogramRejectsBadInput()
    {
        const std::vector<float> values {1, 2, 3};
        QVERIFY_THROWS_EXCEPTION(Error, histogram(Backend::Simd, values, 0, 0, 1, false));
        QVERIFY_THROWS_EXCEPTION(Error, histogram(Backend::Simd, values, (1 << 24) + 1, 0, 1, false));
        QVERIFY_THROWS_EXCEPTION(Error, histogram(Backend::Simd, values, 8, 1, 0, false));
        QVERIFY_THROWS_EXCEPTION(Error, histogram(Backend::Scalar, values, 8, 0, HUGE_VAL, false));
    }

    void timingHarness()
    {
        int calls = 0;
        const TimingStats stats = timeRepeated([&] { ++calls; }, TimingOptions {2, 5});
        QCOMPARE(calls, 7);
        QCOMPARE(stats.repeats, 5);
        QCOMPARE(stats.samplesMs.size(), std::size_t(5));
        QVERIFY(stats.minMs <= stats.p10Ms && stats.p10Ms <= stats.medianMs);
        QVERIFY(stats.medianMs <= stats.p90Ms && stats.p90Ms <= stats.maxMs);
        QCOMPARE(timeRepeated([] {}, TimingOptions {0, 0}).repeats, 1);

        const TimingStats known = timingStats({10, 1, 4, 2, 3});
        QCOMPARE(known.medianMs, 3.0);
        QCOMPARE(known.minMs, 1.0);
        QCOMPARE(known.maxMs, 10.0);
        QVERIFY(std::fabs(known.p10Ms - 1.4) < 1e-12);
        QVERIFY(std::fabs(known.p90Ms - 7.6) < 1e-12);
        QCOMPARE(known.samplesMs, (std::vector<double> {10, 1, 4, 2, 3}));
        QCOMPARE(timingStats({4, 1, 3, 2}).medianMs, 2.5);
        QCOMPARE(timingStats({}).repeats, 0);
        QCOMPARE(gigabytesPerSecond(2e9, 1000), 2.0);

        const BandwidthBaseline baseline = measureBandwidth(1 << 20, 2, TimingOptions {1, 3});
        QCOMPARE(baseline.threads, 2);
        QCOMPARE(baseline.bytes, std::int64_t(1 << 20));
        QCOMPARE(baseline.read.repeats, 3);
        QCOMPARE(baseline.copy.repeats, 3);
        QVERIFY(baseline.readGbps > 0 && baseline.copyGbps > 0);
        QVERIFY_THROWS_EXCEPTION(Error, measureBandwidth(2, 1));
    }

    void benchmarkSuite()
    {
        const Tensor tensor = syntheticBenchTensor(3 * 4096, 5);
        QCOMPARE(tensor.shape, (Shape {3, 4096}));
        QCOMPARE(syntheticBenchTensor(100).shape, (Shape {1, 100}));
        QCOMPARE(syntheticBenchTensor(3 * 4096, 5), tensor);
        BenchOptions options;
        options.threads = {1, 2};
        options.timing = {0, 1};
        options.minimumBaselineBytes = 1 << 20;
        const BenchReport report = runBenchmarks(tensor, options);
        QCOMPARE(report.baselines.size(), std::size_t(2));
        QVERIFY(report.baselineFor(1) && report.baselineFor(2));
        QCOMPARE(report.results.size(), benchKernels().size() * 3 * 2);
        // Bytes moved: the tensor per pass, plus the parameters read or the codes written.
        const std::int64_t n = tensor.elementCount();
        const std::map<std::string, std::int64_t> moved {{"minmax", 4 * n}, {"histogram_abs", 4 * n},
            {"fq_int8_tensor", 4 * n + 4}, {"fq_int8_channel", 4 * n + 3 * 4},
            {"fq_int8_affine_channel", 4 * n + 3 * 8}, {"fq_int4_group128", 4 * n + n / 128 * 4},
            {"fq_mxfp4", 4 * n}, {"fq_nvfp4", 8 * n}, {"fq_ternary_channel", 4 * n},
            {"pack_int8_channel", 5 * n + 3 * 4}, {"unpack_int8_channel", 5 * n + 3 * 4},
            {"pack_int4_group128", 4 * n + n / 2 + n / 128 * 4}};
        for (const BenchResult& result : report.results) {
            const QByteArray label = QByteArray::fromStdString(result.kernel + " " + result.backend);
            if (result.backend == "cuda"
                && (!backendAvailable(Backend::Cuda)
                    || result.skipReason == "no CUDA kernel for this format yet")) {
                QVERIFY2(result.skipped && !result.skipReason.empty(), label);
                continue;
            }
            QVERIFY2(!result.skipped, label + ": " + QByteArray::fromStdString(result.skipReason));
            QVERIFY2(result.checked && result.matchesScalar, label);
            QCOMPARE(result.elements, tensor.elementCount());
            if (const auto expected = moved.find(result.kernel); expected != moved.end())
                QCOMPARE(result.bytes, expected->second);
            QCOMPARE(result.timing.repeats, 1);
            QVERIFY(result.gbps > 0);
            QCOMPARE(result.inputGbps, result.gbps * double(4 * n) / double(result.bytes));
            // GPU kernels timed on the host (copies included) have no baseline to be a fraction of.
            QVERIFY(result.fractionOfBaseline > 0 || (result.backend == "cuda" && !result.deviceTimed));
        }
        options.kernels = {"minmax", "nope"};
        QVERIFY_THROWS_EXCEPTION(Error, runBenchmarks(tensor, options));

        // A scalar tensor: per-channel and per-group kernels do not apply and say why.
        options.kernels = {"fq_int8_tensor", "fq_int8_channel"};
        options.backends = {Backend::Simd};
        const BenchReport scalarReport = runBenchmarks(Tensor {"s", {}, {2.5f}}, options);
        QVERIFY(!scalarReport.results.at(0).skipped);
        QVERIFY(scalarReport.results.at(2).skipped && !scalarReport.results.at(2).skipReason.empty());
    }

    void cliBenchJson()
    {
        const CliResult r = runCli({QStringLiteral("bench"), QStringLiteral("--size"), QStringLiteral("5000"),
            QStringLiteral("--backend"), QStringLiteral("all"), QStringLiteral("--kernels"),
            QStringLiteral("minmax,histogram,fq_int8_channel,fq_nf4_group64"), QStringLiteral("--threads"),
            QStringLiteral("1"), QStringLiteral("--repeats"), QStringLiteral("2"), QStringLiteral("--warmup"),
            QStringLiteral("0"), QStringLiteral("--json")});
        QCOMPARE(r.exitCode, 0);
        QJsonParseError error;
        const QJsonObject doc = QJsonDocument::fromJson(r.out, &error).object();
        QCOMPARE(error.error, QJsonParseError::NoError);
        const QJsonObject baseline = doc.value(QStringLiteral("baseline")).toObject();
        for (const char* key :
            {"threads", "bytes", "read_gbps", "copy_gbps", "read_median_ms", "copy_median_ms"})
            QVERIFY2(baseline.contains(QLatin1String(key)), key);
        QCOMPARE(doc.value(QStringLiteral("elements")).toInt(), 5000);
        const QJsonArray results = doc.value(QStringLiteral("results")).toArray();
        QCOMPARE(results.size(), 4 * 3);
        int ran = 0;
        for (const QJsonValue& value : results) {
            const QJsonObject o = value.toObject();
            for (const char* key : {"kernel", "backend", "target", "elements", "threads", "skipped"})
                QVERIFY2(o.contains(QLatin1String(key)), key);
            if (o.value(QStringLiteral("skipped")).toBool()) {
                QCOMPARE(o.value(QStringLiteral("backend")).toString(), QStringLiteral("cuda"));
                QVERIFY(!o.value(QStringLiteral("reason")).toString().isEmpty());
                continue;
            }
            ++ran;
            for (const char* key : {"median_ms", "spread", "gbps", "fraction_of_baseline", "repeats",
                     "matches_scalar", "device_timed"})
                QVERIFY2(o.contains(QLatin1String(key)), key);
            const QJsonObject spread = o.value(QStringLiteral("spread")).toObject();
            for (const char* key : {"min_ms", "p10_ms", "p90_ms", "max_ms"})
                QVERIFY2(spread.contains(QLatin1String(key)), key);
            QVERIFY(spread.value(QStringLiteral("min_ms")).toDouble()
                <= o.value(QStringLiteral("median_ms")).toDouble());
            QCOMPARE(o.value(QStringLiteral("elements")).toInt(), 5000);
            QCOMPARE(o.value(QStringLiteral("threads")).toInt(), 1);
            QCOMPARE(o.value(QStringLiteral("repeats")).toInt(), 2);
            QVERIFY(o.value(QStringLiteral("matches_scalar")).toBool());
        }
        QVERIFY(ran >= 8);
    }

    void cliBenchTableAndErrors()
    {
        const CliResult table
            = runCli({QStringLiteral("bench"), QStringLiteral("--size"), QStringLiteral("4096"),
                QStringLiteral("--backend"), QStringLiteral("simd"), QStringLiteral("--kernels"),
                QStringLiteral("minmax"), QStringLiteral("--repeats"), QStringLiteral("1")});
        QCOMPARE(table.exitCode, 0);
        QVERIFY(table.out.contains("minmax"));
        QVERIFY(table.out.contains("GB/s"));

        const CliResult badBackend
            = runCli({QStringLiteral("bench"), QStringLiteral("--backend"), QStringLiteral("gpu")});
        QVERIFY(badBackend.exitCode != 0);
        QVERIFY(badBackend.err.contains("gpu"));
        const CliResult badKernel
            = runCli({QStringLiteral("bench"), QStringLiteral("--kernels"), QStringLiteral("nope")});
        QVERIFY(badKernel.exitCode != 0);
        QVERIFY(badKernel.err.contains("nope"));
    }
};

QTEST_GUILESS_MAIN(TestKernels)
#include "tst_kernels.moc"
