#include "kernels/kernels.h"

#include "base/error.h"
#include "formats/number_format.h"
#include "kernels/block_scales.h"
#include "kernels/encoder_table.h"
#include "kernels/ggml_block_backends.h"
#include "kernels/kernel_backends.h"
#include "kernels/table_bins.h"
#include "quant/block_formats.h"
#include "quant/block_reconstruction.h"

#if defined(QS_HAVE_CUDA)
#include "kernels/cuda_kernels.h"
#endif

#include <algorithm>
#include <bit>
#include <cctype>
#include <cfloat>
#include <cmath>
#include <hwy/cache_control.h>
#include <limits>
#include <thread>
#include <variant>

namespace qs {

namespace kernel_detail {

MinMaxResult MinMaxPartial::result() const
{
    MinMaxResult r;
    r.nonFinite = nonFinite;
    if (minKey > maxKey)
        return r;
    r.min = keyValue(minKey);
    r.max = keyValue(maxKey);
    r.absmax = std::max(std::fabs(r.min), std::fabs(r.max));
    return r;
}

} // namespace kernel_detail

namespace {

using I = std::int64_t;
using namespace kernel_detail;

std::string lower(std::string text)
{
    for (char& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

I chunkCount(I elements)
{
    return (elements + kKernelChunk - 1) / kKernelChunk;
}

[[noreturn]] void throwUnavailable(Backend backend)
{
    throw Error(
        "the " + backendName(backend) + " backend is not available: " + backendUnavailableReason(backend));
}

/// The CPU implementation of a backend (scalar or the selected SIMD target).
const CpuKernels& cpuKernels(Backend backend)
{
    return backend == Backend::Scalar ? scalarKernels() : simdKernels();
}

// ---- fakeQuantError validation and plan ----

I product(const Shape& shape, std::size_t from, std::size_t to)
{
    I n = 1;
    for (std::size_t i = from; i < to; ++i)
        n *= shape[i];
    return n;
}

/// A table kernel over `table` (encoder_table.h), with the bins of 16-lane SIMD targets (table_bins.h).
void setTable(FakeQuantPlan& plan, EncoderTable&& table)
{
    plan.kind = ElementKind::Table;
    plan.thresholds = std::move(table.thresholds);
    plan.values = std::move(table.values);
    plan.lowestKey = table.lowestKey;
    plan.highestKey = table.highestKey;
    plan.bins = tableBins(plan.thresholds, 16, 2);
    const Bins32Layout layout
        = bins32Layout(plan.thresholds, encoderKeyValue(plan.lowestKey), encoderKeyValue(plan.highestKey));
    plan.bins32 = layout.bins;
    plan.unclippedBound = layout.unclippedBound;
}

/// Largest |decoded value| an element can take before the scale.
float largestElement(const FakeQuantPlan& plan, const GroupParams& p)
{
    switch (plan.kind) {
    case ElementKind::Integer:
        return std::max(std::fabs(p.low), std::fabs(p.high));
    case ElementKind::Minifloat:
        return detail::bitsFloat(plan.rounder.maxBits);
    case ElementKind::Table: {
        float largest = 0;
        for (const float v : plan.values)
            largest = std::max(largest, std::fabs(v));
        return largest;
    }
    case ElementKind::GgmlOffset:
        return plan.truncationOffset - 0.5f;
    }
    return 0;
}

/// The group pattern of a supported granularity (fakeQuantErrorUnsupported is empty); returns the group
/// count.
I planGroups(const Shape& shape, const Granularity& granularity, FakeQuantPlan& plan)
{
    plan.elementCount = shapeElementCount(shape);
    switch (granularity.kind) {
    case Granularity::Kind::PerTensor:
        return 1;
    case Granularity::Kind::PerChannel:
        plan.pattern = GroupPattern::Channel;
        plan.inner = product(shape, 1, shape.size());
        return shape[0];
    case Granularity::Kind::PerGroup:
        plan.pattern = GroupPattern::Row;
        plan.rowLength = shape.back();
        plan.groupSize = granularity.groupSize;
        plan.perRow = (plan.rowLength + plan.groupSize - 1) / plan.groupSize;
        return product(shape, 0, shape.size() - 1) * plan.perRow;
    case Granularity::Kind::Block2D: {
        plan.pattern = GroupPattern::Row;
        plan.rowLength = shape.back();
        plan.groupSize = granularity.blockCols;
        plan.perRow = (plan.rowLength + plan.groupSize - 1) / plan.groupSize;
        plan.matrixRows = shape[shape.size() - 2];
        plan.blockHeight = granularity.blockRows;
        plan.blockRowsPerMatrix = (plan.matrixRows + plan.blockHeight - 1) / plan.blockHeight;
        return product(shape, 0, shape.size() - 2) * plan.blockRowsPerMatrix * plan.perRow;
    }
    }
    return 1;
}

/// Float bits of the smallest positive scale whose reciprocal 1.0f / scale is finite (a subnormal).
std::uint32_t smallestScaleBits()
{
    static const std::uint32_t bits = [] {
        std::uint32_t low = 1; // 1 / 2^-149 overflows
        std::uint32_t high = 0x00800000u; // 1 / FLT_MIN is finite
        while (high - low > 1) {
            const std::uint32_t middle = low + (high - low) / 2;
            (isFiniteFloat(1.0f / detail::bitsFloat(middle)) ? high : low) = middle;
        }
        return high;
    }();
    return bits;
}

/// The parameters of group g from validated scales and zero points (none: symmetric).
GroupParams givenGroup(const FakeQuantPlan& plan, std::span<const float> scales,
    std::span<const std::int32_t> zeroPoints, std::size_t g)
{
    const std::int32_t zeroPoint = zeroPoints.empty() ? 0 : zeroPoints[g];
    return {scales[g], 1.0f / scales[g], zeroPoint, static_cast<float>(plan.qmin - zeroPoint),
        static_cast<float>(plan.qmax - zeroPoint)};
}

/// A validated plan. With `materialize` false its groups are left out, to be made chunk by chunk from the
/// same scales and zero points (GivenGroupSource): a fine-grained scheme has hundreds of thousands.
FakeQuantPlan makePlan(std::span<const float> values, const Shape& shape, const Scheme& scheme,
    std::span<const float> scales, std::span<const std::int32_t> zeroPoints, bool materialize = true)
{
    if (const std::string reason = fakeQuantErrorUnsupported(scheme, shape); !reason.empty())
        throw Error("fakeQuantError: " + reason);
    FakeQuantPlan plan;
    const I groupCount = planGroups(shape, scheme.granularity, plan);
    if (plan.elementCount != static_cast<I>(values.size()))
        throw Error("fakeQuantError: shape " + shapeToString(shape) + " needs "
            + std::to_string(plan.elementCount) + " values, got " + std::to_string(values.size()));
    plan.divide = scheme.arithmetic == ScaleArithmetic::Divide;

    const Granularity& granularity = scheme.granularity;
    if (static_cast<I>(scales.size()) != groupCount)
        throw Error("fakeQuantError: " + granularityName(granularity) + " on " + shapeToString(shape)
            + " has " + std::to_string(groupCount) + " groups, got " + std::to_string(scales.size())
            + " scales");

    const NumberFormat& format = scheme.format;
    bool affine = false;
    if (const auto* integer = std::get_if<IntegerSpec>(&format.spec)) {
        const int top = integer->isSigned ? (1 << (integer->bits - 1)) - 1 : (1 << integer->bits) - 1;
        affine = scheme.rangeMode == RangeMode::Affine;
        plan.kind = ElementKind::Integer;
        plan.qmax = top;
        plan.qmin
            = !integer->isSigned ? 0 : (scheme.rangeMode == RangeMode::SymmetricNarrow ? -top : -top - 1);
        plan.tiesAway = scheme.elementRounding == Rounding::NearestAway;
        // round(v) stays within ±B for |v| < B + 1/2, ties to even or away.
        if (const int bound = std::min(plan.qmax, -plan.qmin); !affine && bound > 0)
            plan.unclippedBound = std::nextafter(static_cast<float>(bound) + 0.5f, 0.0f);
    } else if (const auto* minifloat = std::get_if<MinifloatSpec>(&format.spec);
               minifloat && detail::MinifloatRounder::supports(*minifloat)) {
        plan.kind = ElementKind::Minifloat;
        plan.tiesAway = format.minifloat.rounding == Rounding::NearestAway;
        plan.rounder = detail::MinifloatRounder::make(*minifloat, plan.tiesAway, formatMaxFinite(format));
        plan.unclippedBound = detail::bitsFloat(static_cast<std::uint32_t>(clipAboveBits(plan)));
    } else {
        setTable(plan, encoderTable(format, "the fused kernels"));
    }
    if (affine ? static_cast<I>(zeroPoints.size()) != groupCount : !zeroPoints.empty())
        throw Error("fakeQuantError: " + schemeName(scheme) + " takes "
            + (affine ? std::to_string(groupCount) + " zero points" : std::string("no zero points"))
            + ", got " + std::to_string(zeroPoints.size()));

    // Checked in branch-free passes over the inputs, then written once: a fine-grained scheme has hundreds of
    // thousands of groups.
    const std::size_t groups = scales.size();
    const std::uint32_t smallestScale = smallestScaleBits();
    std::uint32_t badScales = 0;
    std::uint32_t largestScale = 0;
    for (std::size_t g = 0; g < groups; ++g) {
        const std::uint32_t bits = detail::floatBits(scales[g]);
        badScales |= static_cast<std::uint32_t>(bits - smallestScale > 0x7F7FFFFFu - smallestScale);
        largestScale = std::max(largestScale, bits);
    }
    if (badScales)
        for (std::size_t g = 0; g < groups; ++g)
            if (const std::uint32_t bits = detail::floatBits(scales[g]);
                bits - smallestScale > 0x7F7FFFFFu - smallestScale)
                throw Error("fakeQuantError: scale " + std::to_string(g) + " (" + std::to_string(scales[g])
                    + ") is not a positive float with a finite reciprocal");
    std::int32_t badZeroPoints = 0;
    if (affine)
        for (std::size_t g = 0; g < groups; ++g)
            badZeroPoints
                |= static_cast<std::int32_t>(zeroPoints[g] < plan.qmin) | (zeroPoints[g] > plan.qmax);
    if (badZeroPoints)
        for (std::size_t g = 0; g < groups; ++g)
            if (zeroPoints[g] < plan.qmin || zeroPoints[g] > plan.qmax)
                throw Error("fakeQuantError: zero point " + std::to_string(g) + " ("
                    + std::to_string(zeroPoints[g]) + ") is outside [" + std::to_string(plan.qmin) + ", "
                    + std::to_string(plan.qmax) + "]");
    // x̂ stays finite when the largest element times the scale does: one product for minifloats, tables and
    // symmetric integers, one per group where the zero point moves the integer range.
    if (affine) {
        bool finite = true;
        for (std::size_t g = 0; g < groups; ++g)
            finite &= std::fabs(largestElement(plan, givenGroup(plan, scales, zeroPoints, g)) * scales[g])
                <= FLT_MAX;
        plan.reconstructionFinite = finite;
    } else if (groups > 0) {
        plan.reconstructionFinite = isFiniteFloat(
            largestElement(plan, givenGroup(plan, scales, {}, 0)) * detail::bitsFloat(largestScale));
    }
    if (materialize) {
        plan.groups.reserve(groups);
        for (std::size_t g = 0; g < groups; ++g)
            plan.groups.push_back(givenGroup(plan, scales, zeroPoints, g));
    }
    return plan;
}

/// Min/max of every group of `plan` (groupCount of them), threads splitting the chunks as kernels.h says.
std::vector<MinMaxResult> groupMinMax(const CpuKernels& kernels, const FakeQuantPlan& plan, I groupCount,
    std::span<const float> values, int threads)
{
    const int count = kernelThreads(threads);
    if (plan.pattern == GroupPattern::Row && plan.blockHeight == 1 && plan.rowLength % plan.groupSize == 0
        && kKernelChunk % plan.groupSize == 0) {
        // Every chunk holds whole groups: each thread reduces the groups of its chunks.
        std::vector<MinMaxPartial> partials(static_cast<std::size_t>(groupCount));
        const I perChunk = kKernelChunk / plan.groupSize;
        forEachThreadRange(chunkCount(plan.elementCount), count, [&](int, I first, I last) {
            const I begin = first * perChunk;
            const I end = std::min(groupCount, last * perChunk);
            if (begin < end)
                kernels.groupMinMaxRange(plan, values.data(), begin, end, partials.data() + begin);
        });
        std::vector<MinMaxResult> results;
        results.reserve(partials.size());
        for (const MinMaxPartial& partial : partials)
            results.push_back(partial.result());
        return results;
    }
    // Each thread reduces the runs of its element range into its own partials; min/max merge exactly.
    std::vector<std::vector<MinMaxPartial>> partials(static_cast<std::size_t>(count));
    forEachThreadRange(chunkCount(plan.elementCount), count, [&](int t, I first, I last) {
        const I begin = first * kKernelChunk;
        const I end = std::min(plan.elementCount, last * kKernelChunk);
        if (begin >= end)
            return;
        std::vector<MinMaxPartial>& mine = partials[static_cast<std::size_t>(t)];
        mine.assign(static_cast<std::size_t>(groupCount), MinMaxPartial {});
        GroupCursor cursor(plan, begin);
        for (I i = begin; i < end;) {
            while (i >= cursor.end)
                cursor.advance();
            const I stop = std::min(end, cursor.end);
            mine[static_cast<std::size_t>(cursor.group)].merge(
                kernels.minMaxRange(values.data() + i, stop - i));
            i = stop;
        }
    });
    std::vector<MinMaxResult> results;
    results.reserve(static_cast<std::size_t>(groupCount));
    for (I g = 0; g < groupCount; ++g) {
        MinMaxPartial total;
        for (const std::vector<MinMaxPartial>& mine : partials)
            if (!mine.empty())
                total.merge(mine[static_cast<std::size_t>(g)]);
        results.push_back(total.result());
    }
    return results;
}

/// The chunk totals added in kernels.h's order: in chunk order within spans of kKernelSpan chunks, then the
/// span totals in span order.
ErrorSums mergeChunks(std::span<const ChunkErrorSums> chunks)
{
    ErrorSums sums;
    double* totals[kSumCount] = {&sums.sumSquaredError, &sums.sumAbsError, &sums.sumSquaredSignal,
        &sums.sumAbsSignal, &sums.sumProduct, &sums.sumSquaredRecon};
    for (std::size_t first = 0; first < chunks.size(); first += kKernelSpan) {
        const std::size_t last = std::min(chunks.size(), first + static_cast<std::size_t>(kKernelSpan));
        double span[kSumCount] = {};
        for (std::size_t c = first; c < last; ++c) {
            for (int s = 0; s < kSumCount; ++s)
                span[s] += chunks[c].sums[s];
            sums.maxAbsError = std::max(sums.maxAbsError, chunks[c].maxAbsError);
            sums.count += chunks[c].count;
            sums.clipped += chunks[c].clipped;
            sums.nonFinite += chunks[c].nonFinite;
        }
        for (int s = 0; s < kSumCount; ++s)
            *totals[s] += span[s];
    }
    return sums;
}

/// Where a plan whose groups are made chunk by chunk gets them: prepare() gives `local` (a copy of the plan
/// made without its groups) the parameters of the groups that hold the elements [begin, end), with
/// reconstructionFinite for them; `scratch` is the calling thread's, kept from chunk to chunk.
class ChunkGroupSource {
public:
    virtual ~ChunkGroupSource() = default;
    virtual void prepare(I begin, I end, std::vector<MinMaxResult>& scratch, FakeQuantPlan& local) const = 0;

protected:
    /// Points `local` at the groups [first, last) of the blocks along the last axis that hold [begin, end).
    static std::pair<I, I> blocksOf(I begin, I end, FakeQuantPlan& local)
    {
        const I first = GroupCursor(local, begin).group;
        const I last = GroupCursor(local, end - 1).group + 1;
        local.groups.resize(static_cast<std::size_t>(last - first));
        local.groupBase = first;
        return {first, last};
    }
};

/// MX and NVFP4 (blockFakeQuantError): each block's absmax over the whole block, then its scale.
class BlockScaleSource final : public ChunkGroupSource {
public:
    BlockScaleSource(const CpuKernels& kernels, const float* values, const BlockScaler& scaler, float largest)
        : m_kernels(kernels)
        , m_values(values)
        , m_scaler(scaler)
        , m_largest(largest)
    {
    }

    void prepare(I begin, I end, std::vector<MinMaxResult>& scratch, FakeQuantPlan& local) const override
    {
        const auto [first, last] = blocksOf(begin, end, local);
        scratch.resize(static_cast<std::size_t>(last - first));
        local.reconstructionFinite = m_kernels.blockParamsRange(
            local, m_scaler, m_largest, m_values, first, last, scratch.data(), local.groups.data());
    }

private:
    const CpuKernels& m_kernels;
    const float* m_values;
    const BlockScaler& m_scaler;
    float m_largest; ///< the largest element value: x̂ of a block is finite when largest · scale is
};

/// bitsandbytes NF4/FP4 blocks (quant/block_bnb.cpp): v = x · (1 / max(absmax, 1e-38f)) with the block's
/// absmax (NaN ignored, ±Inf kept), x̂ = value · the absmax bitsandbytes stores (the decoded one with double
/// quantization). `absmax` and `decoded` hold every block's when given (double quantization needs them all
/// first); otherwise the absmax is taken chunk by chunk and stored as it is.
class BnbBlockSource final : public ChunkGroupSource {
public:
    BnbBlockSource(const CpuKernels& kernels, const float* values, std::span<const float> absmax,
        std::span<const float> decoded)
        : m_kernels(kernels)
        , m_values(values)
        , m_absmax(absmax)
        , m_decoded(decoded)
    {
    }

    void prepare(I begin, I end, std::vector<MinMaxResult>& scratch, FakeQuantPlan& local) const override
    {
        const auto [first, last] = blocksOf(begin, end, local);
        if (m_absmax.empty()) {
            scratch.resize(static_cast<std::size_t>(last - first));
            bnbAbsmax(m_kernels, local, m_values, first, last, scratch.data());
        }
        bool finite = true;
        for (I g = first; g < last; ++g) {
            const auto k = static_cast<std::size_t>(g - first);
            const float blockMax
                = m_absmax.empty() ? scratch[k].absmax : m_absmax[static_cast<std::size_t>(g)];
            const float scale = m_decoded.empty() ? blockMax : m_decoded[static_cast<std::size_t>(g)];
            local.groups[k] = {scale, 1.0f / std::max(blockMax, 1e-38f), 0, 0, 0};
            finite &= isFiniteFloat(scale);
        }
        local.reconstructionFinite = finite;
    }

    /// blocks[g - first].absmax = the absmax bitsandbytes takes of block g in [first, last): the block
    /// kernel's over the finite x, or the reference's own (±Inf kept) for a block that holds NaN/±Inf.
    static void bnbAbsmax(const CpuKernels& kernels, const FakeQuantPlan& plan, const float* values, I first,
        I last, MinMaxResult* blocks)
    {
        kernels.blockAbsmaxRange(plan, values, first, last, blocks);
        for (I g = first; g < last; ++g) {
            MinMaxResult& block = blocks[g - first];
            if (block.nonFinite != 0) {
                const auto [b, e] = rowGroupRange(plan, g);
                block.absmax = blockformat::bnbBlockAbsmax(values + b, e - b);
            }
        }
    }

private:
    const CpuKernels& m_kernels;
    const float* m_values;
    std::span<const float> m_absmax;
    std::span<const float> m_decoded;
};

/// Scales and zero points given per group (fakeQuantError), made into the plan's groups chunk by chunk.
class GivenGroupSource final : public ChunkGroupSource {
public:
    GivenGroupSource(std::span<const float> scales, std::span<const std::int32_t> zeroPoints)
        : m_scales(scales)
        , m_zeroPoints(zeroPoints)
    {
    }

    void prepare(I begin, I end, std::vector<MinMaxResult>&, FakeQuantPlan& local) const override
    {
        // Rows revisit the groups of their 2-D block row: from the first group of the first row to the last
        // of the last row.
        const bool rows = local.pattern == GroupPattern::Row;
        const I first = rows ? local.rowBase(begin / local.rowLength) : GroupCursor(local, begin).group;
        const I last = rows ? local.rowBase((end - 1) / local.rowLength) + local.perRow
                            : GroupCursor(local, end - 1).group + 1;
        local.groups.resize(static_cast<std::size_t>(last - first));
        local.groupBase = first;
        GroupParams* groups = local.groups.data();
        for (I g = first; g < last; ++g)
            groups[g - first] = givenGroup(local, m_scales, m_zeroPoints, static_cast<std::size_t>(g));
    }

private:
    std::span<const float> m_scales;
    std::span<const std::int32_t> m_zeroPoints;
};

/// The sums of chunk `c` of a validated plan on a CPU backend, summed again in double where its float runs
/// may have lost accuracy (needsDoubleSums).
ChunkErrorSums chunkSums(const CpuKernels& kernels, const FakeQuantPlan& plan, const float* values, I c)
{
    const I begin = c * kKernelChunk;
    const I end = std::min(plan.elementCount, begin + kKernelChunk);
    ChunkErrorSums chunk = kernels.fakeQuantChunk(plan, values, begin, end);
    if (needsDoubleSums(chunk))
        chunk = doubleSumsChunk(plan, values, begin, end);
    return chunk;
}

/// The chunk sums of a validated plan on a CPU backend, each chunk summed again in double where its float
/// runs may have lost accuracy (needsDoubleSums), merged in kernels.h's order. With a `source`, the plan's
/// groups are made chunk by chunk instead of held whole.
ErrorSums runFakeQuant(const CpuKernels& kernels, const FakeQuantPlan& plan, const float* values, int threads,
    const ChunkGroupSource* source = nullptr)
{
    const I chunks = chunkCount(plan.elementCount);
    std::vector<ChunkErrorSums> perChunk(static_cast<std::size_t>(chunks));
    forEachThreadRange(chunks, kernelThreads(threads), [&](int, I first, I last) {
        FakeQuantPlan local;
        std::vector<MinMaxResult> scratch;
        if (source && first < last)
            local = plan;
        for (I c = first; c < last; ++c) {
            const I begin = c * kKernelChunk;
            const I end = std::min(plan.elementCount, begin + kKernelChunk);
            if (source)
                source->prepare(begin, end, scratch, local);
            perChunk[static_cast<std::size_t>(c)] = chunkSums(kernels, source ? local : plan, values, c);
        }
    });
    return mergeChunks(perChunk);
}

} // namespace

namespace kernel_detail {

FakeQuantPlan fakeQuantPlan(std::span<const float> values, const Shape& shape, const Scheme& scheme,
    std::span<const float> scales, std::span<const std::int32_t> zeroPoints)
{
    return makePlan(values, shape, scheme, scales, zeroPoints);
}

std::int64_t planGroupPattern(const Shape& shape, const Granularity& granularity, FakeQuantPlan& plan)
{
    return planGroups(shape, granularity, plan);
}

std::vector<MinMaxResult> planGroupMinMax(const CpuKernels& kernels, const FakeQuantPlan& plan,
    std::int64_t groupCount, std::span<const float> values, int threads)
{
    return groupMinMax(kernels, plan, groupCount, values, threads);
}

} // namespace kernel_detail

// ---- registry ----

std::string backendName(Backend backend)
{
    switch (backend) {
    case Backend::Scalar:
        return "scalar";
    case Backend::Simd:
        return "simd";
    case Backend::Cuda:
        return "cuda";
    }
    return "unknown";
}

Backend backendByName(const std::string& name)
{
    const std::string key = lower(name);
    for (const Backend backend : allBackends())
        if (backendName(backend) == key)
            return backend;
    throw Error("unknown backend '" + name + "' (valid: scalar, simd, cuda)");
}

std::vector<Backend> allBackends()
{
    return {Backend::Scalar, Backend::Simd, Backend::Cuda};
}

bool backendAvailable(Backend backend)
{
    return backendUnavailableReason(backend).empty();
}

std::string backendUnavailableReason(Backend backend)
{
    if (backend != Backend::Cuda)
        return {};
#if defined(QS_HAVE_CUDA)
    return cudaAvailable() ? std::string() : std::string("no CUDA device found");
#else
    return "this build has no CUDA backend (configured with QS_ENABLE_CUDA=OFF or without nvcc)";
#endif
}

std::string backendTarget(Backend backend)
{
    switch (backend) {
    case Backend::Scalar:
        return scalarKernels().target;
    case Backend::Simd:
        return simdKernels().target;
    case Backend::Cuda:
#if defined(QS_HAVE_CUDA)
        return cudaAvailable() ? cudaDeviceName() : std::string();
#else
        return {};
#endif
    }
    return {};
}

int kernelThreads(int requested)
{
    if (requested > 0)
        return requested;
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::vector<std::string> simdTargets()
{
    std::vector<std::string> names;
    for (const CpuKernels* kernels : simdKernelTargets())
        names.emplace_back(kernels->target);
    return names;
}

void setSimdTarget(const std::string& name)
{
    if (name.empty()) {
        useSimdKernels(nullptr);
        return;
    }
    std::string valid;
    for (const CpuKernels* kernels : simdKernelTargets()) {
        if (lower(kernels->target) == lower(name)) {
            useSimdKernels(kernels);
            return;
        }
        valid += (valid.empty() ? "" : ", ") + std::string(kernels->target);
    }
    throw Error("SIMD target '" + name + "' is not available here (available: " + valid + ")");
}

// ---- kernels ----

MinMaxResult minMax(Backend backend, std::span<const float> values, int threads)
{
    if (backend == Backend::Cuda) {
#if defined(QS_HAVE_CUDA)
        if (!backendAvailable(backend))
            throwUnavailable(backend);
        return cudaMinMax(values, threads);
#else
        throwUnavailable(backend);
#endif
    }
    const CpuKernels& kernels = cpuKernels(backend);
    const auto n = static_cast<I>(values.size());
    const int count = kernelThreads(threads);
    std::vector<MinMaxPartial> partials(static_cast<std::size_t>(count));
    forEachThreadRange(chunkCount(n), count, [&](int t, I first, I last) {
        const I begin = first * kKernelChunk;
        const I end = std::min(n, last * kKernelChunk);
        if (begin < end)
            partials[static_cast<std::size_t>(t)] = kernels.minMaxRange(values.data() + begin, end - begin);
    });
    MinMaxPartial total;
    for (const MinMaxPartial& partial : partials)
        total.merge(partial);
    return total.result();
}

std::vector<MinMaxResult> minMaxRows(
    Backend backend, std::span<const float> values, std::int64_t rows, std::int64_t cols, int threads)
{
    if (rows < 0 || cols < 0 || rows * cols != static_cast<I>(values.size()))
        throw Error("minMaxRows: " + std::to_string(rows) + " x " + std::to_string(cols) + " does not match "
            + std::to_string(values.size()) + " values");
    if (backend == Backend::Cuda) {
#if defined(QS_HAVE_CUDA)
        if (!backendAvailable(backend))
            throwUnavailable(backend);
        return cudaMinMaxRows(values, rows, cols, threads);
#else
        throwUnavailable(backend);
#endif
    }
    const CpuKernels& kernels = cpuKernels(backend);
    const auto n = static_cast<I>(values.size());
    const int count = kernelThreads(threads);
    // Each thread reduces the row pieces of its element range; rows cut by a range boundary are merged after.
    std::vector<I> firstRow(static_cast<std::size_t>(count), 0);
    std::vector<std::vector<MinMaxPartial>> pieces(static_cast<std::size_t>(count));
    forEachThreadRange(chunkCount(n), count, [&](int t, I first, I last) {
        const I begin = first * kKernelChunk;
        const I end = std::min(n, last * kKernelChunk);
        if (begin >= end)
            return;
        std::vector<MinMaxPartial>& mine = pieces[static_cast<std::size_t>(t)];
        firstRow[static_cast<std::size_t>(t)] = begin / cols;
        for (I row = begin / cols; row * cols < end; ++row) {
            const I from = std::max(begin, row * cols);
            const I to = std::min(end, (row + 1) * cols);
            mine.push_back(kernels.minMaxRange(values.data() + from, to - from));
        }
    });
    std::vector<MinMaxPartial> merged(static_cast<std::size_t>(rows));
    for (std::size_t t = 0; t < pieces.size(); ++t)
        for (std::size_t k = 0; k < pieces[t].size(); ++k)
            merged[static_cast<std::size_t>(firstRow[t]) + k].merge(pieces[t][k]);
    std::vector<MinMaxResult> results;
    results.reserve(merged.size());
    for (const MinMaxPartial& partial : merged)
        results.push_back(partial.result());
    return results;
}

Histogram histogram(Backend backend, std::span<const float> values, int bins, double lo, double hi,
    bool absolute, int threads)
{
    if (bins < 1 || bins > (1 << 24))
        throw Error("histogram bin count " + std::to_string(bins) + " is outside 1..16777216");
    if (!std::isfinite(lo) || !std::isfinite(hi) || hi < lo)
        throw Error("histogram range [" + std::to_string(lo) + ", " + std::to_string(hi)
            + "] is not a valid interval");
    HistogramPlan plan;
    plan.bins = bins;
    plan.lo = lo;
    plan.hi = hi;
    plan.absolute = absolute;
    const double width = hi - lo;
    plan.scale = width > 0 ? bins / width : 0.0;
    if (!std::isfinite(plan.scale))
        throw Error("histogram range [" + std::to_string(lo) + ", " + std::to_string(hi)
            + "] is too narrow for " + std::to_string(bins) + " bins");
    if (backend == Backend::Cuda) {
#if defined(QS_HAVE_CUDA)
        if (!backendAvailable(backend))
            throwUnavailable(backend);
        return cudaHistogram(values, bins, lo, hi, absolute, threads);
#else
        throwUnavailable(backend);
#endif
    }
    const CpuKernels& kernels = cpuKernels(backend);
    const auto n = static_cast<I>(values.size());
    const int count = kernelThreads(threads);
    const auto slots = static_cast<std::size_t>(bins) + 3;
    std::vector<std::vector<std::int64_t>> counts(static_cast<std::size_t>(count));
    forEachThreadRange(chunkCount(n), count, [&](int t, I first, I last) {
        const I begin = first * kKernelChunk;
        const I end = std::min(n, last * kKernelChunk);
        std::vector<std::int64_t>& mine = counts[static_cast<std::size_t>(t)];
        mine.assign(slots, 0);
        if (begin < end)
            kernels.histogramRange(values.data() + begin, end - begin, plan, mine.data());
    });
    std::vector<std::int64_t> total(slots, 0);
    for (const std::vector<std::int64_t>& mine : counts)
        for (std::size_t s = 0; s < mine.size(); ++s)
            total[s] += mine[s];
    Histogram h;
    h.lo = lo;
    h.hi = hi;
    h.absolute = absolute;
    h.counts.assign(total.begin(), total.begin() + bins);
    h.below = total[static_cast<std::size_t>(plan.below())];
    h.above = total[static_cast<std::size_t>(plan.above())];
    h.nonFinite = total[static_cast<std::size_t>(plan.nonFinite())];
    return h;
}

std::string fakeQuantErrorUnsupported(const Scheme& scheme, const Shape& shape)
{
    if (scheme.blockFormat != BlockFormat::None)
        return "block format " + blockFormatName(scheme.blockFormat) + " has no fused kernel yet";
    const NumberFormat& format = scheme.format;
    if (std::holds_alternative<SignSpec>(format.spec))
        return "ternary and binary (BitNet) have no fused kernel yet";
    if (const auto* integer = std::get_if<IntegerSpec>(&format.spec);
        integer && (integer->bits < 2 || integer->bits > 16))
        return "integer formats have 2 to 16 bits, not " + std::to_string(integer->bits);
    if (formatCodeCount(format) > 256 && !std::holds_alternative<IntegerSpec>(format.spec)) {
        const auto* minifloat = std::get_if<MinifloatSpec>(&format.spec);
        if (!minifloat || !detail::MinifloatRounder::supports(*minifloat))
            return "number format '" + format.name + "' has too many codes for the fused kernels";
    }
    const auto rank = static_cast<int>(shape.size());
    const Granularity& granularity = scheme.granularity;
    switch (granularity.kind) {
    case Granularity::Kind::PerTensor:
        return {};
    case Granularity::Kind::PerChannel:
        if (granularity.axis < -rank || granularity.axis >= rank)
            return "per-channel axis " + std::to_string(granularity.axis) + " is out of range for shape "
                + shapeToString(shape);
        if (granularity.axis != 0 && granularity.axis != -rank)
            return "per-channel along axis " + std::to_string(granularity.axis)
                + " has no fused kernel yet (axis 0 only)";
        return {};
    case Granularity::Kind::PerGroup:
        if (granularity.groupSize < 1)
            return "group size must be at least 1 (got " + std::to_string(granularity.groupSize) + ")";
        if (granularity.axis < -rank || granularity.axis >= rank)
            return "group axis " + std::to_string(granularity.axis) + " is out of range for shape "
                + shapeToString(shape);
        if (granularity.axis != -1 && granularity.axis != rank - 1)
            return "groups along axis " + std::to_string(granularity.axis)
                + " have no fused kernel yet (last axis only)";
        return {};
    case Granularity::Kind::Block2D:
        if (granularity.blockRows < 1 || granularity.blockCols < 1)
            return "2-D block size must be at least 1x1 (got " + std::to_string(granularity.blockRows) + "x"
                + std::to_string(granularity.blockCols) + ")";
        if (rank < 2)
            return "2-D blocks need a tensor of rank 2 or more (shape " + shapeToString(shape) + ")";
        return {};
    }
    return "unknown granularity";
}

std::vector<MinMaxResult> minMaxGroups(Backend backend, std::span<const float> values, const Shape& shape,
    const Granularity& granularity, int threads)
{
    Scheme scheme;
    scheme.granularity = granularity;
    if (const std::string reason = fakeQuantErrorUnsupported(scheme, shape); !reason.empty())
        throw Error("minMaxGroups: " + reason);
    if (backend == Backend::Cuda)
        throw Error("minMaxGroups: the cuda backend has no per-group reduction of arbitrary groups; use "
                    "minMaxRows");
    FakeQuantPlan plan;
    const I groupCount = planGroups(shape, granularity, plan);
    if (plan.elementCount != static_cast<I>(values.size()))
        throw Error("minMaxGroups: shape " + shapeToString(shape) + " needs "
            + std::to_string(plan.elementCount) + " values, got " + std::to_string(values.size()));
    return groupMinMax(cpuKernels(backend), plan, groupCount, values, threads);
}

ErrorSums fakeQuantError(Backend backend, std::span<const float> values, const Shape& shape,
    const Scheme& scheme, std::span<const float> scales, std::span<const std::int32_t> zeroPoints,
    int threads)
{
    // Groups smaller than a chunk are made chunk by chunk, in cache.
    const bool fineGrained = static_cast<I>(scales.size()) > chunkCount(shapeElementCount(shape));
    const FakeQuantPlan plan = makePlan(values, shape, scheme, scales, zeroPoints, !fineGrained);
    if (backend == Backend::Cuda) {
#if defined(QS_HAVE_CUDA)
        if (!backendAvailable(backend))
            throwUnavailable(backend);
        return cudaFakeQuantError(values, shape, scheme, scales, zeroPoints, threads);
#else
        throwUnavailable(backend);
#endif
    }
    const GivenGroupSource given(scales, zeroPoints);
    return runFakeQuant(cpuKernels(backend), plan, values.data(), threads, fineGrained ? &given : nullptr);
}

std::string blockFakeQuantErrorUnsupported(const Scheme& scheme)
{
    if (scheme.blockFormat == BlockFormat::None)
        return "the scheme has no block format";
    if (!blockElementFormat(scheme.blockFormat) && !BlockReconstruction::supports(scheme))
        return "block format " + blockFormatName(scheme.blockFormat) + " has no fused kernel yet";
    return {};
}

namespace {

/// A ggmlFused format as a fused pass, with no group parameters yet: one row of blocks of 32 per row of the
/// tensor.
FakeQuantPlan ggmlFusedPlan(const Shape& shape, BlockFormat format)
{
    FakeQuantPlan plan;
    if (format == BlockFormat::GgmlQ8_0) {
        // std::round of v, which stays within ±127.5 in a usable block (ggmlParamsOf).
        plan.kind = ElementKind::Integer;
        plan.tiesAway = true;
        plan.qmin = -128;
        plan.qmax = 127;
        plan.unclippedBound = std::nextafter(127.5f, 0.0f);
    } else {
        const bool five = format == BlockFormat::GgmlQ5_0;
        plan.kind = ElementKind::GgmlOffset;
        plan.qmax = five ? 31 : 15;
        plan.truncationOffset = five ? 16.5f : 8.5f;
    }
    plan.pattern = GroupPattern::Row;
    plan.elementCount = shapeElementCount(shape);
    plan.rowLength = shape.empty() ? 1 : shape.back();
    plan.groupSize = 32;
    plan.perRow = plan.rowLength / plan.groupSize;
    return plan;
}

/// ggml blocks, chunk by chunk. Chunks of a ggmlFused format whose x are finite and whose blocks are all
/// usable (ggmlParamsOf) take the fused pass; the others, and the other formats, have x̂ made by the
/// backend's block reconstruction (ggml_block_backends.h: the quantizer's own per-block code, or the same
/// arithmetic a vector at a time) into a chunk buffer, then the backend's error accumulation over (x, x̂).
ErrorSums ggmlBlockError(
    Backend backend, std::span<const float> values, const Shape& shape, const Scheme& scheme, int threads)
{
    const BlockReconstruction reconstruction = BlockReconstruction::prepare(values, shape, scheme);
    const CpuKernels& kernels = cpuKernels(backend);
    const CpuGgmlBlocks& blocks = backend == Backend::Scalar ? scalarGgmlBlocks() : simdGgmlBlocks();
    const BlockFormat format = scheme.blockFormat;
    const bool fused = ggmlFused(format);
    const FakeQuantPlan plan = fused ? ggmlFusedPlan(shape, format) : FakeQuantPlan {};
    const auto n = static_cast<I>(values.size());
    std::vector<ChunkErrorSums> perChunk(static_cast<std::size_t>(chunkCount(n)));
    forEachThreadRange(chunkCount(n), kernelThreads(threads), [&](int, I first, I last) {
        std::vector<float> xhat(static_cast<std::size_t>(kKernelChunk));
        FakeQuantPlan local = fused && first < last ? plan : FakeQuantPlan {};
        for (I c = first; c < last; ++c) {
            const I begin = c * kKernelChunk;
            const I end = std::min(n, begin + kKernelChunk);
            ChunkErrorSums& chunk = perChunk[static_cast<std::size_t>(c)];
            if (fused) {
                // Chunks hold whole blocks: kKernelChunk and the row length are multiples of 32.
                local.groupBase = begin / local.groupSize;
                local.groups.resize(static_cast<std::size_t>((end - begin) / local.groupSize));
                if (blocks.blockParams(
                        format, values.data(), local.groupBase, end / local.groupSize, local.groups.data())) {
                    local.reconstructionFinite = std::all_of(local.groups.begin(), local.groups.end(),
                        [](const GroupParams& p) { return isFiniteFloat(p.scale); });
                    chunk = chunkSums(kernels, local, values.data(), c);
                    if (chunk.nonFinite == 0)
                        continue;
                }
            }
            const I clipped = blocks.reconstructRange(reconstruction, begin, end, xhat.data());
            chunk = kernels.errorChunk(values.data(), xhat.data(), begin, end);
            if (needsDoubleSums(chunk))
                chunk = doubleErrorChunk(values.data(), xhat.data(), begin, end);
            chunk.clipped = clipped;
        }
    });
    return mergeChunks(perChunk);
}

/// bitsandbytes NF4/FP4 (`plan`: the blocks along the last axis) as a lookup table of the regions of v
/// that dQuantizeNF4/dQuantizeFP4 give one code, with per-block parameters (BnbBlockSource).
ErrorSums bnbBlockError(const CpuKernels& kernels, FakeQuantPlan& plan, std::span<const float> values,
    const Scheme& scheme, int threads)
{
    const BlockFormat format = scheme.blockFormat;
    EncoderTable table = encoderTableOf([&](float v) { return blockformat::bnbElementCode(format, v); },
        [&](std::uint32_t code) { return double(blockformat::bnbElementValue(format, code)); },
        blockFormatName(format), "the fused kernels");
    setTable(plan, std::move(table));
    if (!scheme.doubleQuantization) {
        const BnbBlockSource blocks(kernels, values.data(), {}, {});
        return runFakeQuant(kernels, plan, values.data(), threads, &blocks);
    }
    // Double quantization stores the absmax of every block through one 8-bit code per block and a mean:
    // all of them first.
    const I groupCount = plan.elementCount == 0 ? 0 : plan.elementCount / plan.rowLength * plan.perRow;
    std::vector<MinMaxResult> blocks(static_cast<std::size_t>(groupCount));
    forEachThreadRange(groupCount, kernelThreads(threads), [&](int, I first, I last) {
        if (first < last)
            BnbBlockSource::bnbAbsmax(kernels, plan, values.data(), first, last, blocks.data() + first);
    });
    std::vector<float> absmax(blocks.size());
    for (std::size_t g = 0; g < blocks.size(); ++g)
        absmax[g] = blocks[g].absmax;
    const std::vector<float> decoded = blockformat::bnbDecodeAbsmax(absmax, true);
    const BnbBlockSource source(kernels, values.data(), absmax, decoded);
    return runFakeQuant(kernels, plan, values.data(), threads, &source);
}

} // namespace

int blockFakeQuantPasses(const Scheme& scheme)
{
    const bool bnb = blockformat::familyOf(scheme.blockFormat) == blockformat::Family::Bnb;
    return scheme.blockFormat == BlockFormat::NVFP4 || (bnb && scheme.doubleQuantization) ? 2 : 1;
}

ErrorSums blockFakeQuantError(
    Backend backend, std::span<const float> values, const Shape& shape, const Scheme& scheme, int threads)
{
    if (const std::string reason = blockFakeQuantErrorUnsupported(scheme); !reason.empty())
        throw Error("blockFakeQuantError: " + reason);
    const auto family = blockformat::familyOf(scheme.blockFormat);
    if (backend == Backend::Cuda
        && (family == blockformat::Family::Ggml || family == blockformat::Family::Bnb))
        throw Error("blockFakeQuantError: " + blockFormatName(scheme.blockFormat)
            + " runs on the scalar and simd backends only");
    if (family == blockformat::Family::Ggml)
        return ggmlBlockError(backend, values, shape, scheme, threads);
    const I blockSize = blockFormatBlockSize(scheme);
    if (backend == Backend::Cuda) {
#if defined(QS_HAVE_CUDA)
        if (!backendAvailable(backend))
            throwUnavailable(backend);
        return cudaBlockFakeQuantError(values, shape, scheme);
#else
        throwUnavailable(backend);
#endif
    }
    FakeQuantPlan plan;
    plan.elementCount = shapeElementCount(shape);
    if (plan.elementCount != static_cast<I>(values.size()))
        throw Error("blockFakeQuantError: shape " + shapeToString(shape) + " needs "
            + std::to_string(plan.elementCount) + " values, got " + std::to_string(values.size()));
    plan.pattern = GroupPattern::Row;
    plan.rowLength = shape.empty() ? 1 : shape.back();
    plan.groupSize = blockSize;
    plan.perRow = (plan.rowLength + blockSize - 1) / blockSize;
    const CpuKernels& kernels = cpuKernels(backend);
    if (family == blockformat::Family::Bnb)
        return bnbBlockError(kernels, plan, values, scheme, threads);

    const bool nvfp4 = scheme.blockFormat == BlockFormat::NVFP4;
    const bool mxint8 = scheme.blockFormat == BlockFormat::MXINT8;
    plan.clipBeforeRounding = true;
    plan.tiesAway = !nvfp4 && scheme.elementRounding == Rounding::NearestAway;
    // MXINT8: codes q = round(v · 64) in [-127, 127] of elements q / 64.
    float largest = 127;
    if (mxint8) {
        plan.kind = ElementKind::Integer;
        plan.qmin = -127;
        plan.qmax = 127;
        // x / 2^(e-6) rather than x · 2^(6-e): 2^133 is no float, 2^-133 is (a subnormal).
        plan.divide = true;
    } else {
        const NumberFormat element = formatByName(blockElementFormat(scheme.blockFormat));
        plan.kind = ElementKind::Minifloat;
        const auto& spec = std::get<MinifloatSpec>(element.spec);
        plan.rounder = detail::MinifloatRounder::make(spec, plan.tiesAway, formatMaxFinite(element));
        largest = detail::bitsFloat(plan.rounder.maxBits);
    }
    // NVFP4's global scale needs the tensor absmax first; MX blocks need nothing beyond their own elements.
    const float tensorAbsmax = nvfp4 ? minMax(backend, values, threads).absmax : 0.0f;
    const BlockScaler scaler(scheme, tensorAbsmax);
    const BlockScaleSource blocks(kernels, values.data(), scaler, largest);
    return runFakeQuant(kernels, plan, values.data(), threads, &blocks);
}

namespace {

/// Writes |x| of the finite values of x[0, n) to `out` from index `used` on, in memory order, and advances
/// `used` past them (`out` grows as needed and is never shrunk here, so a band reused group after group is
/// not filled again). One pass on the float bits that vectorises, and a second, compacting pass only for a
/// range that holds NaN/±Inf. The pass prefetches 8 KiB ahead (never past `last`, the tensor's last value),
/// as the SIMD kernels do: the hardware prefetchers alone leave it well short of the streaming-read
/// bandwidth.
void appendFiniteMagnitudes(
    const float* x, I n, const float* last, std::vector<float>& out, std::size_t& used)
{
    constexpr I kAhead = 2048;
    constexpr I kLine = 16;
    if (out.size() < used + static_cast<std::size_t>(n))
        out.resize(used + static_cast<std::size_t>(n));
    float* magnitudes = out.data() + used;
    std::uint32_t nonFinite = 0;
    for (I line = 0; line < n; line += kLine) {
        hwy::Prefetch(std::min(x + line + kAhead, last));
        for (I k = line; k < std::min(n, line + kLine); ++k) {
            const std::uint32_t magnitude = std::bit_cast<std::uint32_t>(x[k]) & 0x7FFFFFFFu;
            nonFinite |= magnitude >= 0x7F800000u ? 1u : 0u;
            magnitudes[k] = std::bit_cast<float>(magnitude);
        }
    }
    if (nonFinite == 0) {
        used += static_cast<std::size_t>(n);
        return;
    }
    for (I k = 0; k < n; ++k)
        if (isFiniteFloat(x[k]))
            out[used++] = std::fabs(x[k]);
}

/// The first band boundary at or after element i (ternaryFakeQuantError's bands: a group for Single and
/// Channel, the rows of one block row for Row); elementCount when there is none.
I bandStart(const FakeQuantPlan& plan, I i)
{
    switch (plan.pattern) {
    case GroupPattern::Single:
        return i == 0 ? 0 : plan.elementCount;
    case GroupPattern::Channel:
        return std::min(plan.elementCount, (i + plan.inner - 1) / plan.inner * plan.inner);
    case GroupPattern::Row: {
        I row = (i + plan.rowLength - 1) / plan.rowLength;
        const I local = row % plan.matrixRows;
        if (local % plan.blockHeight != 0)
            row = std::min(row - local + (local / plan.blockHeight + 1) * plan.blockHeight,
                row - local + plan.matrixRows);
        return std::min(plan.elementCount, row * plan.rowLength);
    }
    }
    return plan.elementCount;
}

} // namespace

std::string ternaryFakeQuantErrorUnsupported(const Scheme& scheme, const Shape& shape)
{
    const auto* sign = std::get_if<SignSpec>(&scheme.format.spec);
    if (scheme.blockFormat != BlockFormat::None || !sign || !sign->ternary)
        return "the scheme is not ternary";
    Scheme grid = scheme;
    grid.format = integerFormat(8, true);
    return fakeQuantErrorUnsupported(grid, shape);
}

ErrorSums ternaryFakeQuantError(
    Backend backend, std::span<const float> values, const Shape& shape, const Scheme& scheme, int threads)
{
    if (const std::string reason = ternaryFakeQuantErrorUnsupported(scheme, shape); !reason.empty())
        throw Error("ternaryFakeQuantError: " + reason);
    if (backend == Backend::Cuda)
        throw Error("ternaryFakeQuantError: ternary runs on the scalar and simd backends only");
    const CpuKernels& kernels = cpuKernels(backend);
    FakeQuantPlan plan;
    const I groupCount = planGroups(shape, scheme.granularity, plan);
    if (plan.elementCount != static_cast<I>(values.size()))
        throw Error("ternaryFakeQuantError: shape " + shapeToString(shape) + " needs "
            + std::to_string(plan.elementCount) + " values, got " + std::to_string(values.size()));
    plan.kind = ElementKind::Integer;
    plan.qmin = -1;
    plan.qmax = 1;
    plan.tiesAway = scheme.format.minifloat.rounding == Rounding::NearestAway;
    plan.groups.resize(static_cast<std::size_t>(groupCount));

    // The quantizer's BitNet scales (quantizer.h): per group, torch's CPU mean of the finite |x| in memory
    // order. Groups are visited in bands that no later element returns to (one group, a channel, the groups
    // of one row, or the blocks of one block row), so only one band's values are held at a time.
    const auto bandBaseOf = [&](const GroupCursor& cursor, I i) {
        return plan.pattern == GroupPattern::Row ? plan.rowBase(i / plan.rowLength) : cursor.group;
    };
    const auto setScale = [&](std::size_t g, float meanAbs) {
        const float s = 1.0f / std::max(meanAbs, 1e-5f);
        float stored = 1.0f / s;
        if (scheme.scaleFormat == ScaleFormat::E8M0)
            stored = detail::e8m0Scale(std::min(stored, FLT_MAX), 1.0, 0, scheme.e8m0Rounding);
        else if (scheme.scaleFormat != ScaleFormat::F32)
            stored = detail::roundScale(stored, scheme.scaleFormat);
        GroupParams& p = plan.groups[g];
        p.inverse = scheme.scaleFormat == ScaleFormat::F32 ? s : 1.0f / stored;
        p.scale = stored;
        p.low = -1;
        p.high = 1;
        return isFiniteFloat(p.scale);
    };
    // The scales of the bands that hold the elements [from, to) (band boundaries); `bandDone(i, finite)`
    // after each band that ends before element i, with whether the scales so far are finite. Returns whether
    // they all are.
    const auto scaleBands = [&](I from, I to, const auto& bandDone) {
        bool finite = true;
        if (from >= to)
            return finite;
        GroupCursor cursor(plan, from);
        std::vector<std::vector<float>> band(
            plan.pattern == GroupPattern::Row ? static_cast<std::size_t>(plan.perRow) : 1);
        // How many values of each band vector are its group's.
        std::vector<std::size_t> used(band.size(), 0);
        I bandBase = bandBaseOf(cursor, from);
        // Groups whose elements are one run of the cursor (not 2-D blocks), all finite: the mean straight
        // from x, already in the band.
        const bool wholeRuns = plan.pattern != GroupPattern::Row || plan.blockHeight == 1;
        std::vector<char> direct(band.size(), 0);
        const auto flush = [&] {
            for (std::size_t j = 0; j < band.size(); ++j) {
                if (direct[j] != 0) {
                    direct[j] = 0;
                    continue;
                }
                band[j].resize(used[j]);
                used[j] = 0;
                const float meanAbs = band[j].empty() ? 0.0f : blockformat::torchCpuMean(band[j]);
                finite = setScale(static_cast<std::size_t>(bandBase) + j, meanAbs) && finite;
            }
        };
        for (I i = from; i < to;) {
            while (i >= cursor.end)
                cursor.advance();
            const I base = bandBaseOf(cursor, i);
            if (base != bandBase) {
                flush();
                bandBase = base;
                bandDone(i, finite);
            }
            const auto slot = static_cast<std::size_t>(cursor.group - base);
            // A sum over every |x| is finite only when every x is (a huge finite sum takes the filtered path,
            // which gives the same).
            const float meanAbs = wholeRuns ? kernels.meanAbs(values.data() + i, cursor.end - i)
                                            : std::numeric_limits<float>::infinity();
            if (isFiniteFloat(meanAbs)) {
                finite = setScale(static_cast<std::size_t>(cursor.group), meanAbs) && finite;
                direct[slot] = 1;
            } else {
                appendFiniteMagnitudes(values.data() + i, cursor.end - i,
                    values.data() + plan.elementCount - 1, band[slot], used[slot]);
            }
            i = cursor.end;
        }
        flush();
        return finite;
    };
    const I chunks = chunkCount(plan.elementCount);
    const int threadCount = static_cast<int>(std::min<I>(kernelThreads(threads), chunks));
    std::vector<ChunkErrorSums> perChunk(static_cast<std::size_t>(chunks));
    const I groupTotal = static_cast<I>(plan.groups.size());
    const auto groupOfBand
        = [&](I i) { return i >= plan.elementCount ? groupTotal : bandBaseOf(GroupCursor(plan, i), i); };
    // The bands that hold [from, to) (band boundaries) on the calling thread: each chunk inside them runs
    // as soon as its scales are made, while its values are still in cache (the chunk sums do not depend on
    // when a chunk runs), with `local`, whose finiteness is that of the groups made so far. `local` is either
    // the plan itself, or (`appendGroups`) a plan of this thread's own that holds the groups from
    // local.groupBase on, to which each finished band's groups are copied. Returns whether its scales are
    // all finite.
    const auto runBands = [&](FakeQuantPlan& local, bool appendGroups, I from, I to) {
        I next = (from + kKernelChunk - 1) / kKernelChunk;
        const I stop = to == plan.elementCount ? chunks : to / kKernelChunk;
        const auto runReady = [&](I ready, bool finiteSoFar) {
            if (appendGroups) {
                const auto begin
                    = plan.groups.begin() + local.groupBase + static_cast<I>(local.groups.size());
                local.groups.insert(local.groups.end(), begin, plan.groups.begin() + groupOfBand(ready));
            }
            local.reconstructionFinite = finiteSoFar;
            for (; next < stop && std::min(plan.elementCount, (next + 1) * kKernelChunk) <= ready; ++next)
                perChunk[static_cast<std::size_t>(next)] = chunkSums(kernels, local, values.data(), next);
        };
        const bool finite = scaleBands(from, to, runReady);
        runReady(to, finite);
        return finite;
    };
    if (threadCount <= 1) {
        runBands(plan, false, 0, plan.elementCount);
        return mergeChunks(perChunk);
    }
    // Each thread takes whole bands (channels, or block rows of rows) with a plan of its own; the chunks
    // that straddle two threads' bands run once all are done.
    std::vector<I> cuts {0};
    for (int t = 1; t < threadCount; ++t)
        cuts.push_back(std::max(cuts.back(), bandStart(plan, plan.elementCount * t / threadCount)));
    cuts.push_back(plan.elementCount);
    std::vector<GroupParams> groups = std::move(plan.groups);
    const FakeQuantPlan withoutGroups = plan;
    plan.groups = std::move(groups);
    std::vector<char> finite(static_cast<std::size_t>(threadCount), 1);
    forEachThreadRange(threadCount, threadCount, [&](int, I first, I last) {
        for (I t = first; t < last; ++t) {
            const I from = cuts[static_cast<std::size_t>(t)];
            const I to = cuts[static_cast<std::size_t>(t) + 1];
            if (from >= to)
                continue;
            FakeQuantPlan local = withoutGroups;
            local.groupBase = groupOfBand(from);
            finite[static_cast<std::size_t>(t)] = runBands(local, true, from, to);
        }
    });
    plan.reconstructionFinite = std::all_of(finite.begin(), finite.end(), [](char f) { return f != 0; });
    I done = -1;
    for (std::size_t t = 1; t + 1 < cuts.size(); ++t) {
        const I c = cuts[t] / kKernelChunk;
        if (cuts[t] % kKernelChunk != 0 && cuts[t] < plan.elementCount && c != done) {
            perChunk[static_cast<std::size_t>(c)] = chunkSums(kernels, plan, values.data(), c);
            done = c;
        }
    }
    return mergeChunks(perChunk);
}

ErrorReport errorReportFromSums(const ErrorSums& sums, double bitsPerValue)
{
    return errorReportFromTotals(
        {sums.count, sums.sumSquaredError, sums.sumAbsError, double(sums.maxAbsError), sums.sumSquaredSignal,
            sums.sumAbsSignal, sums.sumSquaredRecon, sums.sumProduct, sums.clipped},
        bitsPerValue);
}

} // namespace qs
