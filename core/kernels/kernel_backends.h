#pragma once

// Internal to the kernels module: what kernels.cpp (validation, threading, merging) hands to a CPU backend
// (scalar_kernels.cpp, simd_kernels.cpp), and the per-range entry points every CPU backend implements.

#include "kernels/block_scales.h"
#include "kernels/float_run_accuracy.h"
#include "kernels/kernels.h"
#include "kernels/mx_shared_exponent.h"
#include "kernels/table_bins.h"
#include "quant/scale_rounding.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <exception>
#include <limits>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace qs::kernel_detail {

/// float -> int32 that orders like the floats (-0 just below +0); NaNs land beyond ±Inf. Its own inverse.
inline std::int32_t orderedKey(float value)
{
    const auto bits = std::bit_cast<std::int32_t>(value);
    return bits ^ ((bits >> 31) & 0x7FFFFFFF);
}

inline float keyValue(std::int32_t key)
{
    return std::bit_cast<float>(key ^ ((key >> 31) & 0x7FFFFFFF));
}

inline bool isFiniteFloat(float value)
{
    return (std::bit_cast<std::uint32_t>(value) & 0x7FFFFFFFu) < 0x7F800000u;
}

/// A min/max partial over finite values, as ordered keys: mergeable in any order with the same result.
struct MinMaxPartial {
    std::int32_t minKey = std::numeric_limits<std::int32_t>::max();
    std::int32_t maxKey = std::numeric_limits<std::int32_t>::min();
    std::int64_t nonFinite = 0;

    void merge(const MinMaxPartial& other)
    {
        minKey = other.minKey < minKey ? other.minKey : minKey;
        maxKey = other.maxKey > maxKey ? other.maxKey : maxKey;
        nonFinite += other.nonFinite;
    }
    MinMaxResult result() const;
};

/// Histogram bins as computeHistogram defines them; a backend counts into `bins + 3` int64 slots: the bins,
/// then below, above and non-finite.
struct HistogramPlan {
    int bins = 1;
    double lo = 0;
    double hi = 0;
    double scale = 0; ///< bins / (hi - lo), 0 when hi == lo (every in-range value then goes to the last bin)
    bool absolute = false;
    int below() const { return bins; }
    int above() const { return bins + 1; }
    int nonFinite() const { return bins + 2; }
};

/// How an element's v = x·inverse (or x / scale) becomes x̂ (FakeQuantPlan documents each kind's fields).
/// GgmlOffset is ggml's Q4_0/Q5_0 element (quant/block_ggml.cpp): w = fl(v + offset) with offset =
/// FakeQuantPlan::truncationOffset (8.5, 16.5), t = trunc(w), x̂ = (min(t, qmax) - bias)·scale with bias =
/// offset - 1/2; the element clips when t > qmax. Defined for w in [0, 128), where the reference's int8
/// conversion does not wrap: ggmlParamsOf admits only blocks whose scale keeps every w there.
enum class ElementKind { Integer, Minifloat, Table, GgmlOffset };
enum class GroupPattern { Single, Channel, Row };

/// One group's parameters. Integers: q = clamp(round(v) + zeroPoint, qmin, qmax); the SIMD backend works
/// on q - zeroPoint, which must lie in [low, high] = [qmin - zeroPoint, qmax - zeroPoint].
struct GroupParams {
    float scale = 1;
    float inverse = 1; ///< 1.0f / scale, as the quantizer computes it
    std::int32_t zeroPoint = 0;
    float low = 0;
    float high = 0;
};

/// Everything about a validated fakeQuantError call that the element loop needs.
/// Groups are contiguous runs of elements in increasing group order for every supported pattern:
///   Single  one group;
///   Channel group c = [c·inner, (c+1)·inner) (per channel along axis 0);
///   Row     row r of length rowLength holds groups base(r) + j = [r·rowLength + j·groupSize,
///           r·rowLength + min((j+1)·groupSize, rowLength)) (per group along the last axis, ragged at the
///           end; 2-D blocks of blockHeight × groupSize), with
///           base(r) = ((r / matrixRows)·blockRowsPerMatrix + (r mod matrixRows) / blockHeight)·perRow
///           (per group: blockHeight = matrixRows = blockRowsPerMatrix = 1, so base(r) = r·perRow).
struct FakeQuantPlan {
    ElementKind kind = ElementKind::Integer;
    bool divide = false; ///< ScaleArithmetic::Divide
    bool tiesAway = false; ///< integers: Scheme::elementRounding; minifloats: the format's rounding
    std::int32_t qmin = 0;
    std::int32_t qmax = 0;
    detail::MinifloatRounder rounder; ///< Minifloat: the quantizer's rounding of |v| on the float bits
    /// An element clips when v lies beyond the grid before rounding (minifloats |v| > max, integers v outside
    /// [low, high]: the MX and NVFP4 references clamp first) rather than when it rounds beyond it
    /// (qs::quantize); x̂ is the same either way.
    bool clipBeforeRounding = false;
    /// Integers: B > 0 when no element with |v| <= B clips in any group (the float below m + 1/2, m =
    /// min(qmax, -qmin) > 0, every zero point 0), else 0. Minifloats of fakeQuantError: the largest |v| that
    /// does not clip (clipAboveBits as a float); the block formats, whose scales leave a block's largest |v|
    /// beyond the grid often, 0. The SIMD backend takes runs whose |v| stay within B without the clamp
    /// (simd_kernels.cpp). Tables: min(-lowest, highest) of the extreme values when bins32 reaches past it
    /// (unclampedTableBins), else 0.
    float unclippedBound = 0;
    /// Table: region r holds the keys in [thresholds[r-1], thresholds[r]) and decodes to values[r];
    /// keys are orderedKey(v); lowestKey/highestKey are the keys of the table's extreme values (beyond
    /// them an element clips).
    std::vector<std::int32_t> thresholds;
    std::vector<float> values;
    std::int32_t lowestKey = 0;
    std::int32_t highestKey = 0;
    TableBins bins; ///< Table: 16 bins of at most two thresholds each (table_bins.h), when they exist
    /// Table: 32 bins of at most one threshold each, when they exist (AVX-512): unclampedTableBins of
    /// unclippedBound where that is set, else spanning the thresholds.
    TableBins bins32;
    /// GgmlOffset: the constant added to v before the truncation (8.5 for Q4_0, 16.5 for Q5_0).
    float truncationOffset = 0;

    std::vector<GroupParams> groups; ///< groups[g - groupBase] holds group g
    std::int64_t groupBase = 0; ///< block formats: the first group of the chunk whose parameters are held
    bool reconstructionFinite = true; ///< no group can produce a non-finite x̂ from a finite x

    GroupPattern pattern = GroupPattern::Single;
    std::int64_t elementCount = 0;
    std::int64_t inner = 1; ///< Channel
    std::int64_t rowLength = 1; ///< Row
    std::int64_t groupSize = 1; ///< Row
    std::int64_t perRow = 1; ///< Row
    std::int64_t blockHeight = 1; ///< Row: rows per 2-D block
    std::int64_t matrixRows = 1; ///< Row: rows of one matrix (second-to-last axis) for 2-D blocks
    std::int64_t blockRowsPerMatrix = 1; ///< Row: ceil(matrixRows / blockHeight)

    /// Group index of the first group of row `row` (Row pattern).
    std::int64_t rowBase(std::int64_t row) const
    {
        return ((row / matrixRows) * blockRowsPerMatrix + (row % matrixRows) / blockHeight) * perRow;
    }
};

/// Minifloats: an element clips exactly when the bits of |v| exceed this (|v| > the largest value with
/// clipBeforeRounding, else |v| at or past MinifloatRounder::clipFromBits).
inline std::int32_t clipAboveBits(const FakeQuantPlan& plan)
{
    return static_cast<std::int32_t>(
        plan.clipBeforeRounding ? plan.rounder.maxBits : plan.rounder.clipFromBits - 1);
}

/// Walks the groups of a plan in memory order: `group` holds the element indices [begin, end).
class GroupCursor {
public:
    GroupCursor(const FakeQuantPlan& plan, std::int64_t index)
        : m_plan(&plan)
    {
        switch (plan.pattern) {
        case GroupPattern::Single:
            break;
        case GroupPattern::Channel:
            group = index / plan.inner;
            break;
        case GroupPattern::Row:
            m_row = index / plan.rowLength;
            m_slot = (index - m_row * plan.rowLength) / plan.groupSize;
            group = plan.rowBase(m_row) + m_slot;
            break;
        }
        settle();
    }

    void advance()
    {
        ++group;
        if (m_plan->pattern == GroupPattern::Row && ++m_slot == m_plan->perRow) {
            m_slot = 0;
            ++m_row;
            group = m_plan->rowBase(m_row);
        }
        settle();
    }

    const GroupParams& params() const
    {
        return m_plan->groups[static_cast<std::size_t>(group - m_plan->groupBase)];
    }

    std::int64_t group = 0;
    std::int64_t end = 0;

private:
    void settle()
    {
        switch (m_plan->pattern) {
        case GroupPattern::Single:
            end = m_plan->elementCount;
            break;
        case GroupPattern::Channel:
            end = (group + 1) * m_plan->inner;
            break;
        case GroupPattern::Row: {
            const std::int64_t slotEnd = (m_slot + 1) * m_plan->groupSize;
            end = m_row * m_plan->rowLength + (slotEnd < m_plan->rowLength ? slotEnd : m_plan->rowLength);
            break;
        }
        }
    }

    const FakeQuantPlan* m_plan; // a pointer, so that a cursor can be saved and restored
    std::int64_t m_row = 0;
    std::int64_t m_slot = 0;
};

/// The accumulators of ErrorSums, in the order of `ChunkErrorSums::sums`.
enum Sum { kSquaredError, kAbsError, kSquaredSignal, kAbsSignal, kProduct, kSquaredRecon, kSumCount };

/// The error sums of one chunk of kKernelChunk elements (fewer for the last).
struct ChunkErrorSums {
    double sums[kSumCount] = {};
    double maxAbsError = 0;
    std::int64_t count = 0;
    std::int64_t clipped = 0;
    std::int64_t nonFinite = 0;
};

/// Adds the lane accumulators of a chunk in lane order 0..kKernelLanes-1 (kernels.h); every backend ends a
/// chunk with it, so the order is the same by construction.
inline void addLanes(const double (&lanes)[kSumCount][kKernelLanes], ChunkErrorSums& chunk)
{
    for (int s = 0; s < kSumCount; ++s) {
        double total = 0;
        for (int lane = 0; lane < kKernelLanes; ++lane)
            total += lanes[s][lane];
        chunk.sums[s] = total;
    }
}

/// Whether a chunk summed with float runs must be summed again in double (float_run_accuracy.h).
inline bool needsDoubleSums(const ChunkErrorSums& chunk)
{
    return floatRunsInaccurate(chunk.sums);
}

/// The double sums of kernels.h (after needsDoubleSums) of x[begin, end) against the given x̂ y[0, end -
/// begin) of one chunk; clipped left 0.
ChunkErrorSums doubleErrorChunk(const float* x, const float* y, std::int64_t begin, std::int64_t end);

/// The chunk's sums in double, element by element (kernels.h, the order after needsDoubleSums), with the
/// scalar reference's x̂: every backend's x̂ equals it bit for bit, so every backend falls back to this.
ChunkErrorSums doubleSumsChunk(
    const FakeQuantPlan& plan, const float* x, std::int64_t begin, std::int64_t end);

/// The element range [begin, end) of group g of a Row plan of one row of groups per row (blockHeight 1: the
/// groups along the last axis, the block formats), a row's last group ragged.
inline std::pair<std::int64_t, std::int64_t> rowGroupRange(const FakeQuantPlan& plan, std::int64_t g)
{
    const std::int64_t row = g / plan.perRow;
    const std::int64_t begin = row * plan.rowLength + (g % plan.perRow) * plan.groupSize;
    return {begin, std::min(begin + plan.groupSize, (row + 1) * plan.rowLength)};
}

/// One CPU implementation (the scalar reference, or one Highway target). Each function works on one
/// contiguous range on the calling thread; kernels.cpp splits the work and merges.
struct CpuKernels {
    const char* target = "";
    /// Min/max keys and non-finite count of x[0, n).
    MinMaxPartial (*minMaxRange)(const float* x, std::int64_t n) = nullptr;
    /// Adds the histogram slots (HistogramPlan) of x[0, n) to counts[0, bins + 3).
    void (*histogramRange)(const float* x, std::int64_t n, const HistogramPlan& plan, std::int64_t* counts)
        = nullptr;
    /// Error sums of the elements [begin, end) of one chunk (begin a multiple of kKernelChunk) with float
    /// runs (kernels.h); the caller sums the chunk again with doubleSumsChunk when needsDoubleSums says so.
    ChunkErrorSums (*fakeQuantChunk)(
        const FakeQuantPlan& plan, const float* x, std::int64_t begin, std::int64_t end)
        = nullptr;
    /// Error sums (float runs, kernels.h) of x[begin, end) of one chunk against the given x̂ y[0, end -
    /// begin); clipped left 0. The caller sums again with doubleErrorChunk when needsDoubleSums says so.
    ChunkErrorSums (*errorChunk)(const float* x, const float* y, std::int64_t begin, std::int64_t end)
        = nullptr;
    /// Reads x[0, n) once as fast as the target can (the bandwidth baseline); returns a checksum so the
    /// reads cannot be optimised away.
    std::uint32_t (*streamRead)(const float* x, std::int64_t n) = nullptr;
    /// The blocks [first, last) of a block format (`plan`: Row pattern, one row of blocks per row, as
    /// blockFakeQuantError sets it): out[g - first].absmax = max |x| over the finite x of block g (+0 when
    /// it has none), .nonFinite = its NaN/±Inf count; min and max are left 0. The absmax equals
    /// minMaxGroups' (max(|min|, |max|)) bit for bit.
    void (*blockAbsmaxRange)(
        const FakeQuantPlan& plan, const float* x, std::int64_t first, std::int64_t last, MinMaxResult* out)
        = nullptr;
    /// The min/max keys and non-finite count of each group [first, last) of a Row plan of one row of groups
    /// per row (rowGroupRange) into out[g - first], as minMaxRange of the group's elements.
    void (*groupMinMaxRange)(
        const FakeQuantPlan& plan, const float* x, std::int64_t first, std::int64_t last, MinMaxPartial* out)
        = nullptr;
    /// The parameters of the blocks [first, last) (`plan` as for blockAbsmaxRange) into out[g - first],
    /// exactly as scalerBlockParams gives them from blockAbsmaxRange's results (which `scratch`, room for
    /// last - first, may receive); returns whether largest · scale is finite for every one of them.
    bool (*blockParamsRange)(const FakeQuantPlan& plan, const BlockScaler& scaler, float largest,
        const float* x, std::int64_t first, std::int64_t last, MinMaxResult* scratch, GroupParams* out)
        = nullptr;
    /// torch's CPU float32 mean of |x[0, n)| (blockformat::torchCpuMeanAbs, bit for bit; n >= 1).
    float (*meanAbs)(const float* x, std::int64_t n) = nullptr;
};

/// The scalar path behind CpuKernels::blockParamsRange: out[k] = {scale, inverse, 0, qmin, qmax} of
/// scaler(blocks[k]); returns whether largest · scale is finite for every k (a NaN scale is not).
inline bool scalerBlockParams(const BlockScaler& scaler, const FakeQuantPlan& plan, float largest,
    const MinMaxResult* blocks, std::int64_t count, GroupParams* out)
{
    const auto low = static_cast<float>(plan.qmin);
    const auto high = static_cast<float>(plan.qmax);
    bool finite = true;
    for (std::int64_t k = 0; k < count; ++k) {
        const BlockScale scale = scaler(blocks[k]);
        out[k] = {scale.scale, scale.inverse, 0, low, high};
        finite &= isFiniteFloat(largest * scale.scale);
    }
    return finite;
}

/// Runs work(thread, first, last) on `threads` threads over [0, taskCount), thread t taking
/// [t·taskCount/T, (t+1)·taskCount/T) (kernels.h); the calling thread takes the first range.
template<class Work> void forEachThreadRange(std::int64_t taskCount, int threads, Work&& work)
{
    const int count = static_cast<int>(std::clamp<std::int64_t>(taskCount, 1, std::max(threads, 1)));
    if (count == 1) {
        work(0, std::int64_t {0}, taskCount);
        return;
    }
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(count));
    const auto run = [&](int t) {
        try {
            work(t, taskCount * t / count, taskCount * (t + 1) / count);
        } catch (...) {
            errors[static_cast<std::size_t>(t)] = std::current_exception();
        }
    };
    std::vector<std::thread> workers;
    workers.reserve(static_cast<std::size_t>(count - 1));
    for (int t = 1; t < count; ++t)
        workers.emplace_back(run, t);
    run(0);
    for (std::thread& worker : workers)
        worker.join();
    for (const std::exception_ptr& error : errors)
        if (error)
            std::rethrow_exception(error);
}

/// fakeQuantError's validated plan (its errors, prefixed "fakeQuantError: ").
FakeQuantPlan fakeQuantPlan(std::span<const float> values, const Shape& shape, const Scheme& scheme,
    std::span<const float> scales, std::span<const std::int32_t> zeroPoints);
/// Sets the group pattern of a granularity fakeQuantErrorUnsupported accepts; returns the group count.
std::int64_t planGroupPattern(const Shape& shape, const Granularity& granularity, FakeQuantPlan& plan);
/// Min/max of every group of `plan`, on `threads` threads (minMaxGroups' reduction).
std::vector<MinMaxResult> planGroupMinMax(const CpuKernels& kernels, const FakeQuantPlan& plan,
    std::int64_t groupCount, std::span<const float> values, int threads);

const CpuKernels& scalarKernels();

/// The simd backend: the target setSimdTarget chose, or Highway's best for this CPU.
const CpuKernels& simdKernels();
/// Every compiled target this CPU supports, best first.
std::vector<const CpuKernels*> simdKernelTargets();
/// nullptr: Highway's choice; otherwise one of simdKernelTargets().
void useSimdKernels(const CpuKernels* kernels);

} // namespace qs::kernel_detail
