#include "formats/number_format.h"
#include "kernels/cuda/fake_quant_chunks.cuh"
#include "kernels/cuda_kernels.h"
#include "kernels/encoder_table.h"
#include "kernels/table_bins.h"
#include "quant/group_geometry.h"
#include "quant/scale_rounding.h"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <limits>
#include <string>
#include <variant>
#include <vector>

namespace qs::cuda {

namespace {

/// Shared memory of reduceChunks: one tile of span totals, by sum, and the per-warp counts.
struct ChainShared {
    double tile[kSumCount][kBlockThreads];
    Counts warpCounts[kWarps];
    double finals[kSumCount];
};

/// The total of the chunk sums (one block), kernels.h's order: thread t adds the chunks of span t (of each
/// tile of kBlockThreads spans) in chunk order from 0, then one lane of warp 0 per sum adds the tile's span
/// totals in span order; max and counts in any order.
__device__ void reduceChunks(const ChunkSums* chunks, I count, ChunkSums* total, ChainShared& shared)
{
    const int warp = static_cast<int>(threadIdx.x / 32);
    const int lane = static_cast<int>(threadIdx.x % 32);
    Counts counts {0, 0, 0, 0};
    double running = 0;
    const I spans = (count + kKernelSpan - 1) / kKernelSpan;
    for (I tile = 0; tile * kBlockThreads < spans; ++tile) {
        const I span = tile * kBlockThreads + threadIdx.x;
        double spanSums[kSumCount] = {0, 0, 0, 0, 0, 0};
        if (span < spans) {
            const I last = min(count, (span + 1) * kKernelSpan);
            for (I c = span * kKernelSpan; c < last; ++c) {
                const ChunkSums s = loadChunk(chunks + c);
#pragma unroll
                for (int f = 0; f < kSumCount; ++f)
                    spanSums[f] = __dadd_rn(spanSums[f], s.sums[f]);
                counts.add(s);
            }
        }
#pragma unroll
        for (int f = 0; f < kSumCount; ++f)
            shared.tile[f][threadIdx.x] = spanSums[f];
        __syncthreads();
        if (warp == 0 && lane < kSumCount) {
            const int length = static_cast<int>(min(I(kBlockThreads), spans - tile * kBlockThreads));
            for (int k = 0; k < length; ++k)
                running = __dadd_rn(running, shared.tile[lane][k]);
        }
        __syncthreads();
    }
    if (warp == 0 && lane < kSumCount)
        shared.finals[lane] = running;
    counts.reduceBlock(shared.warpCounts);
    if (threadIdx.x == 0) {
        ChunkSums result;
        for (int f = 0; f < kSumCount; ++f)
            result.sums[f] = shared.finals[f];
        result.maxAbsError = counts.maxAbsError;
        result.count = counts.count;
        result.clipped = counts.clipped;
        result.nonFinite = counts.nonFinite;
        result.ready = 1;
        result.flag = 0;
        *total = result;
    }
}

__global__ void __launch_bounds__(kBlockThreads)
    totalKernel(const ChunkSums* __restrict__ chunks, I count, ChunkSums* __restrict__ total)
{
    __shared__ ChainShared shared;
    reduceChunks(chunks, count, total, shared);
}

/// The element kind of a minifloat that qs::quantize rounds on the float bits: the hardware FP8 conversion
/// where it gives the same codes (ties to even; E4M3 and E5M2 saturated to their own largest value, or a
/// format of the same mantissa width whose values up to its largest, scaled by 2^(bias - the hardware bias),
/// are hardware values), the magic addition where it rounds alike, otherwise the bit rounding.
ElementKind minifloatKind(const NumberFormat& format, const MinifloatSpec& spec)
{
    if (format.minifloat.rounding != Rounding::NearestEven)
        return ElementKind::Minifloat;
    const double largest = formatMaxFinite(format);
    if (spec == MinifloatSpec {4, 3, 7, MinifloatSpecials::NanOnlyFn} && largest == 448.0)
        return ElementKind::E4M3Hardware;
    if (spec == MinifloatSpec {5, 2, 15, MinifloatSpecials::Ieee} && largest == 57344.0)
        return ElementKind::E5M2Hardware;
    if (spec.mantissaBits == 3 && std::ldexp(largest, spec.bias - 7) <= 448.0)
        return ElementKind::E4M3Embedded;
    if (spec.mantissaBits == 2 && std::ldexp(largest, spec.bias - 15) <= 57344.0)
        return ElementKind::E5M2Embedded;
    if (detail::MinifloatRounder::make(spec, false, largest).roundsByMagicAddition())
        return ElementKind::MagicMinifloat;
    return ElementKind::Minifloat;
}

/// The integer grid of quantizer.cpp's elementGrid: narrow symmetric signed [-qmax, qmax], otherwise the
/// format's full range.
void integerGrid(const Scheme& scheme, const IntegerSpec& spec, ElementGrid& grid)
{
    const int top = spec.isSigned ? (1 << (spec.bits - 1)) - 1 : (1 << spec.bits) - 1;
    grid.qmax = top;
    grid.qmin = spec.isSigned ? -top - 1 : 0;
    if (spec.isSigned && scheme.rangeMode == RangeMode::SymmetricNarrow)
        grid.qmin = -top;
    grid.qminFloat = static_cast<float>(grid.qmin);
    grid.qmaxFloat = static_cast<float>(grid.qmax);
    grid.tiesAway = scheme.elementRounding == Rounding::NearestAway;
}

/// x̂ / scale of the non-finite inputs: the format's encodeValue and decodeValue, as the quantizer does.
void nonFiniteUnits(const NumberFormat& format, ElementGrid& grid)
{
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    const double inputs[4] = {nan, std::copysign(nan, -1.0), inf, -inf};
    for (int k = 0; k < 4; ++k)
        grid.nonFiniteUnits[k] = static_cast<float>(decodeValue(format, encodeValue(format, inputs[k])));
}

/// The format's encoder table (encoder_table.h, the same table the CPU kernels use).
void buildTable(const NumberFormat& format, std::vector<std::int32_t>& thresholds, std::vector<float>& values,
    ElementGrid& grid)
{
    kernel_detail::EncoderTable table = kernel_detail::encoderTable(format, "the CUDA table kernel");
    thresholds = std::move(table.thresholds);
    values = std::move(table.values);
    grid.lowestKey = table.lowestKey;
    grid.highestKey = table.highestKey;
}

/// Whether BinnedTable's float compares order v as the keys of `thresholds` and of the grid's extremes do:
/// they differ only at ±0, for a threshold key of +0 (-0 below it, +0 from it on) or a zero extreme. The
/// extremes' values go to the grid.
bool binsCompareAsFloats(const std::vector<std::int32_t>& thresholds, ElementGrid& grid)
{
    grid.lowestValue = kernel_detail::encoderKeyValue(grid.lowestKey);
    grid.highestValue = kernel_detail::encoderKeyValue(grid.highestKey);
    return std::find(thresholds.begin(), thresholds.end(), 0) == thresholds.end() && grid.lowestValue != 0
        && grid.highestValue != 0;
}

/// The group pattern and lookup of a granularity's geometry over n elements.
void groupLookup(const detail::GroupGeometry& g, I n, FakeQuantPlan& plan)
{
    GroupIndexer& indexer = plan.args.groups;
    indexer.length = g.length;
    indexer.inner = g.inner;
    indexer.size = g.size;
    indexer.perLine = g.perLine;
    indexer.lineBlocks = g.lineBlocks;
    indexer.cols = g.cols;
    indexer.narrow = n < (I(1) << 32);
    plan.pattern = GroupPattern::General;
    I run = 0;
    using Pattern = detail::GroupGeometry::Pattern;
    switch (g.pattern) {
    case Pattern::Single:
        break;
    case Pattern::Channel:
        indexer.layout = GroupIndexer::Layout::Channel;
        if (g.outer == 1)
            run = g.inner;
        break;
    case Pattern::Group:
        indexer.layout = g.inner == 1 ? GroupIndexer::Layout::GroupLast : GroupIndexer::Layout::GroupInner;
        if (g.inner == 1 && g.length % g.size == 0)
            run = g.size;
        break;
    case Pattern::Block:
        indexer.layout = GroupIndexer::Layout::Block;
        break;
    }
    if (indexer.narrow) {
        // Every divisor below is at most n < 2^32. Set for every pattern: a plan may be switched to General
        // (block_fake_quant.cu).
        indexer.runDivider = FastDivider::make(static_cast<std::uint32_t>(std::max<I>(run, 1)));
        if (indexer.layout == GroupIndexer::Layout::GroupLast) {
            indexer.lengthDivider = FastDivider::make(static_cast<std::uint32_t>(g.length));
            indexer.sizeDivider = FastDivider::make(static_cast<std::uint32_t>(g.size));
        }
    }
    if (g.groupCount == 1) {
        plan.pattern = GroupPattern::WholeChunks;
        return;
    }
    if (run > 0 && run % kChunk == 0 && n / kChunk < (I(1) << 32)) {
        // Runs of whole chunks (per-channel rows of 4096, say): a chunk's group once per chunk, and the
        // whole run's loads of the one-group pass (16 per lane, against 8 across groups).
        plan.pattern = GroupPattern::WholeChunks;
        plan.args.chunksPerGroup = static_cast<std::uint32_t>(run / kChunk);
        return;
    }
    if (run > 0) {
        plan.pattern = GroupPattern::Run;
        indexer.runLength = run;
        for (std::uint32_t shift = 1; shift <= 7; ++shift)
            if (indexer.narrow && run == (I(kLanes) << shift))
                indexer.rowShift = shift;
    }
}

} // namespace

bool supportedScheme(const Scheme& scheme, ElementKind* kind)
{
    if (scheme.blockFormat != BlockFormat::None)
        return false;
    const NumberFormat& format = scheme.format;
    if (const auto* integer = std::get_if<IntegerSpec>(&format.spec)) {
        *kind = ElementKind::Integer;
        return integer->bits >= 2 && integer->bits <= 16;
    }
    if (std::holds_alternative<SignSpec>(format.spec))
        return false;
    try {
        const auto* minifloat = std::get_if<MinifloatSpec>(&format.spec);
        if (minifloat && detail::MinifloatRounder::supports(*minifloat)) {
            const double maxFinite = formatMaxFinite(format);
            if (!(maxFinite > 0) || !std::isfinite(maxFinite))
                return false;
            *kind = minifloatKind(format, *minifloat);
            return true;
        }
        *kind = ElementKind::Table;
        return formatCodeCount(format) <= 256;
    } catch (const Error&) {
        return false;
    }
}

FakeQuantPlan makeFakeQuantPlan(std::span<const float> values, const Shape& shape, const Scheme& scheme,
    std::span<const float> scales, std::span<const std::int32_t> zeroPoints)
{
    FakeQuantPlan plan;
    if (!supportedScheme(scheme, &plan.kind))
        throw Error("the CUDA backend does not run the scheme " + schemeName(scheme));
    const detail::GroupGeometry geometry = detail::groupGeometry(scheme.granularity, shape);
    const auto n = static_cast<I>(values.size());
    if (geometry.elementCount != n)
        throw Error("shape " + shapeToString(shape) + " needs " + std::to_string(geometry.elementCount)
            + " values, got " + std::to_string(n));
    if (static_cast<I>(scales.size()) != geometry.groupCount)
        throw Error("expected " + std::to_string(geometry.groupCount) + " scales for " + schemeName(scheme)
            + " on " + shapeToString(shape) + ", got " + std::to_string(scales.size()));
    std::vector<float2> scaleInverses(scales.size());
    for (std::size_t g = 0; g < scales.size(); ++g) {
        scaleInverses[g] = {scales[g], 1.0f / scales[g]};
        if (!(scales[g] > 0) || !std::isfinite(scales[g]) || !std::isfinite(scaleInverses[g].y))
            throw Error("scale " + std::to_string(g) + " (" + std::to_string(scales[g])
                + ") is not a positive float with a finite reciprocal");
    }

    const NumberFormat& format = scheme.format;
    ElementGrid& grid = plan.args.grid;
    bool affine = false;
    float largestUnit = 0; ///< non-integers: the largest |x̂ / scale|
    if (const auto* integer = std::get_if<IntegerSpec>(&format.spec)) {
        integerGrid(scheme, *integer, grid);
        affine = scheme.rangeMode == RangeMode::Affine;
    } else if (plan.kind == ElementKind::Table) {
        std::vector<std::int32_t> thresholds;
        std::vector<float> table;
        buildTable(format, thresholds, table, grid);
        for (const float value : table)
            largestUnit = std::max(largestUnit, std::fabs(value));
        plan.thresholds = DeviceBuffer<std::int32_t>::from(thresholds);
        plan.values = DeviceBuffer<float>::from(table);
        grid.thresholds = plan.thresholds.get();
        grid.values = plan.values.get();
        grid.thresholdCount = static_cast<int>(thresholds.size());
        if (binsCompareAsFloats(thresholds, grid)) {
            kernel_detail::TableBins bins = kernel_detail::tableBins(thresholds, kTableBins, 1);
            for (std::int32_t& threshold : bins.thresholds[0])
                threshold = std::bit_cast<std::int32_t>(kernel_detail::encoderKeyValue(threshold));
            if (installBins(grid, plan.bins, bins, table.size(),
                    [&](std::size_t region) { return std::bit_cast<int>(table[region]); }))
                plan.kind = ElementKind::BinnedTable;
        }
        nonFiniteUnits(format, grid);
    } else {
        const auto& minifloat = std::get<MinifloatSpec>(format.spec);
        grid.mantissaBits = minifloat.mantissaBits;
        grid.bias = minifloat.bias;
        grid.tiesAway = format.minifloat.rounding == Rounding::NearestAway;
        largestUnit = static_cast<float>(formatMaxFinite(format));
        grid.maxBits = std::bit_cast<std::uint32_t>(largestUnit);
        if (hardwareFp8(plan.kind)) {
            const int hardwareBias
                = plan.kind == ElementKind::E4M3Hardware || plan.kind == ElementKind::E4M3Embedded ? 7 : 15;
            grid.hardwareScale = std::ldexp(1.0f, minifloat.bias - hardwareBias);
        }
        if (plan.kind == ElementKind::MagicMinifloat) {
            grid.smallestNormal = std::ldexp(1.0f, 1 - minifloat.bias);
            grid.magicFactor = std::ldexp(1.5f, 23 - minifloat.mantissaBits);
        }
        if (clipsFromThreshold(plan.kind))
            grid.clipFrom = std::bit_cast<float>(
                detail::MinifloatRounder::make(minifloat, false, formatMaxFinite(format)).clipFromBits);
        nonFiniteUnits(format, grid);
    }
    const std::size_t expectedZeroPoints = affine ? scales.size() : 0;
    if (zeroPoints.size() != expectedZeroPoints)
        throw Error("expected " + std::to_string(expectedZeroPoints) + " zero points for "
            + schemeName(scheme) + ", got " + std::to_string(zeroPoints.size()));
    for (std::size_t g = 0; g < zeroPoints.size(); ++g)
        if (zeroPoints[g] < grid.qmin || zeroPoints[g] > grid.qmax)
            throw Error("zero point " + std::to_string(g) + " (" + std::to_string(zeroPoints[g])
                + ") is outside [" + std::to_string(grid.qmin) + ", " + std::to_string(grid.qmax) + "]");

    const std::vector<float> zeroPointValues(zeroPoints.begin(), zeroPoints.end());
    for (std::size_t g = 0; g < scales.size(); ++g) {
        const float zeroPoint = zeroPointValues.empty() ? 0.0f : zeroPointValues[g];
        const float largest = plan.kind == ElementKind::Integer
            ? std::max(std::fabs(grid.qminFloat - zeroPoint), std::fabs(grid.qmaxFloat - zeroPoint))
            : largestUnit;
        plan.args.reconstructionFinite = plan.args.reconstructionFinite && std::isfinite(largest * scales[g]);
    }

    plan.divide = scheme.arithmetic == ScaleArithmetic::Divide;
    plan.elementCount = n;
    groupLookup(geometry, n, plan);
    if (plan.pattern == GroupPattern::WholeChunks && plan.args.chunksPerGroup == 0) {
        if (!scales.empty()) {
            plan.args.single[0] = scales[0];
            plan.args.single[1] = scaleInverses[0].y;
            plan.args.single[2] = zeroPointValues.empty() ? 0.0f : zeroPointValues[0];
        }
        return plan;
    }
    plan.scales = DeviceBuffer<float2>::from(scaleInverses);
    plan.zeroPoints = DeviceBuffer<float>::from(zeroPointValues);
    plan.args.scales = plan.scales.get();
    plan.args.zeroPoints = zeroPoints.empty() ? nullptr : plan.zeroPoints.get();
    if (readsRowScales(plan.kind, plan.pattern, plan.args.groups.rowShift)) {
        plan.rowScales = DeviceBuffer<float>::from(scales);
        plan.args.rowScales = plan.rowScales.get();
    }
    return plan;
}

I chunkCount(I n)
{
    return (n + kChunk - 1) / kChunk;
}

I workspaceEntries(I n)
{
    return chunkCount(n) + (chunkCount(n) + kKernelSpan - 1) / kKernelSpan + 1;
}

void launchFakeQuant(const float* x, I n, const FakeQuantPlan& plan, ChunkSums* chunks, ChunkSums* total,
    float* out, TotalMode mode, cudaStream_t stream)
{
    if ((mode == TotalMode::Counts) != (out != nullptr))
        throw Error("the fused kernel reduces counts only when it writes x̂, and writes x̂ only then");
    if ((plan.pattern == GroupPattern::MxBlocks || plan.pattern == GroupPattern::Nvfp4Blocks)
        && reinterpret_cast<std::uintptr_t>(x) % 16 != 0)
        throw Error("the block kernels read x in 16-byte pieces: x must be 16-byte aligned");
    const I count = chunkCount(n);
    if (count == 0) {
        check(cudaMemsetAsync(total, 0, sizeof(ChunkSums), stream), "cudaMemsetAsync");
        return;
    }
    if (mode == TotalMode::Overlapped) {
        // The span records and the chain start at zero (counters, flags, the chain's sums).
        check(cudaMemsetAsync(
                  chunks + count, 0, std::size_t(workspaceEntries(n) - count) * sizeof(ChunkSums), stream),
            "cudaMemsetAsync");
    }
    if (mode == TotalMode::Counts)
        check(cudaMemsetAsync(total, 0, sizeof(ChunkSums), stream), "cudaMemsetAsync");
    static_assert(kChunksPerBlock == 2 * kWarps, "a warp takes two chunks per iteration");
    const auto grid
        = static_cast<unsigned>(std::min<I>((count + kChunksPerBlock - 1) / kChunksPerBlock, kMaxGrid));
    const ChunkTargets to {chunks, out, mode == TotalMode::AfterChunks ? nullptr : total};
    switch (plan.kind) {
    case ElementKind::Integer:
        launchChunks<ElementKind::Integer>(x, n, plan, to, grid, stream);
        break;
    case ElementKind::Minifloat:
        launchChunks<ElementKind::Minifloat>(x, n, plan, to, grid, stream);
        break;
    case ElementKind::MagicMinifloat:
        launchChunks<ElementKind::MagicMinifloat>(x, n, plan, to, grid, stream);
        break;
    case ElementKind::E4M3Hardware:
        launchChunks<ElementKind::E4M3Hardware>(x, n, plan, to, grid, stream);
        break;
    case ElementKind::E5M2Hardware:
        launchChunks<ElementKind::E5M2Hardware>(x, n, plan, to, grid, stream);
        break;
    case ElementKind::E4M3Embedded:
        launchChunks<ElementKind::E4M3Embedded>(x, n, plan, to, grid, stream);
        break;
    case ElementKind::E5M2Embedded:
        launchChunks<ElementKind::E5M2Embedded>(x, n, plan, to, grid, stream);
        break;
    case ElementKind::Table:
        launchChunks<ElementKind::Table>(x, n, plan, to, grid, stream);
        break;
    case ElementKind::BinnedTable:
        launchChunks<ElementKind::BinnedTable>(x, n, plan, to, grid, stream);
        break;
    case ElementKind::MagnitudeTable:
        launchChunks<ElementKind::MagnitudeTable>(x, n, plan, to, grid, stream);
        break;
    }
    checkLaunch("fake-quant kernel");
    if (mode != TotalMode::AfterChunks)
        return;
    totalKernel<<<1, kBlockThreads, 0, stream>>>(chunks, count, total);
    checkLaunch("fake-quant total");
}

ErrorSums errorSums(const ChunkSums& total)
{
    ErrorSums sums;
    sums.sumSquaredError = total.sums[0];
    sums.sumAbsError = total.sums[1];
    sums.sumSquaredSignal = total.sums[2];
    sums.sumAbsSignal = total.sums[3];
    sums.sumProduct = total.sums[4];
    sums.sumSquaredRecon = total.sums[5];
    sums.maxAbsError = total.maxAbsError;
    sums.count = static_cast<std::int64_t>(total.count);
    sums.clipped = static_cast<std::int64_t>(total.clipped);
    sums.nonFinite = static_cast<std::int64_t>(total.nonFinite);
    return sums;
}

} // namespace qs::cuda

namespace qs {

bool cudaSupportsScheme(const Scheme& scheme)
{
    cuda::ElementKind kind;
    return cuda::supportedScheme(scheme, &kind);
}

ErrorSums cudaFakeQuantError(std::span<const float> values, const Shape& shape, const Scheme& scheme,
    std::span<const float> scales, std::span<const std::int32_t> zeroPoints, int)
{
    const cuda::FakeQuantPlan plan = cuda::makeFakeQuantPlan(values, shape, scheme, scales, zeroPoints);
    if (values.empty())
        return {};
    const auto n = static_cast<cuda::I>(values.size());
    const auto x = cuda::DeviceBuffer<float>::from(values);
    cuda::DeviceBuffer<cuda::ChunkSums> chunks(static_cast<std::size_t>(cuda::workspaceEntries(n)));
    cuda::DeviceBuffer<cuda::ChunkSums> total(1);
    cuda::launchFakeQuant(
        x.get(), n, plan, chunks.get(), total.get(), nullptr, cuda::TotalMode::Overlapped, nullptr);
    cuda::ChunkSums host;
    cuda::download(&host, total.get(), 1);
    return cuda::errorSums(host);
}

CudaFakeQuantized cudaFakeQuantize(std::span<const float> values, const Shape& shape, const Scheme& scheme,
    std::span<const float> scales, std::span<const std::int32_t> zeroPoints)
{
    const cuda::FakeQuantPlan plan = cuda::makeFakeQuantPlan(values, shape, scheme, scales, zeroPoints);
    CudaFakeQuantized result;
    if (values.empty())
        return result;
    const auto n = static_cast<cuda::I>(values.size());
    const auto x = cuda::DeviceBuffer<float>::from(values);
    cuda::DeviceBuffer<float> out(values.size());
    cuda::DeviceBuffer<cuda::ChunkSums> chunks(static_cast<std::size_t>(cuda::workspaceEntries(n)));
    cuda::DeviceBuffer<cuda::ChunkSums> total(1);
    cuda::launchFakeQuant(
        x.get(), n, plan, chunks.get(), total.get(), out.get(), cuda::TotalMode::Counts, nullptr);
    result.values.resize(values.size());
    cuda::download(result.values.data(), out.get(), values.size());
    cuda::ChunkSums host;
    cuda::download(&host, total.get(), 1);
    result.clippedCount = static_cast<std::int64_t>(host.clipped);
    result.nonFiniteCount = static_cast<std::int64_t>(host.nonFinite);
    return result;
}

} // namespace qs
