#pragma once

// Internal to the CUDA backend: the fused fake-quant + error chunk kernel of fake_quant.cuh's element kinds,
// with its lane sums, group lookups and the overlapped reduction of the chunk sums. launchChunks<Kind> is
// instantiated once per kind group in its own file (fake_quant_integer.cu, fake_quant_minifloat.cu,
// fake_quant_minifloat_magic.cu, fake_quant_fp8.cu, fake_quant_fp6.cu, fake_quant_table.cu), so that nvcc
// compiles the kinds side by side.

#include "kernels/block_scales.h"
#include "kernels/cuda/fake_quant.cuh"
#include "kernels/float_run_accuracy.h"
#include "kernels/kernels.h"

namespace qs::cuda {

inline constexpr int kChunk = static_cast<int>(kKernelChunk);
inline constexpr int kLanes = kKernelLanes;
inline constexpr int kSteps = kChunk / kLanes; ///< elements per lane and chunk
inline constexpr int kBatch = 8; ///< loads a lane issues before it uses them
inline constexpr int kChunksPerBlock = kBlockThreads / kLanes;
static_assert(kSteps * kLanes == kChunk && kSteps % kBatch == 0 && 32 % kLanes == 0,
    "a chunk is whole batches of one load per lane, and a warp holds whole chunks");
inline constexpr int kSumCount = 6;
inline constexpr int kRunSteps = static_cast<int>(kKernelRun / kKernelLanes); ///< elements per lane and run
static_assert(kRunSteps % kBatch == 0 && kSteps % kRunSteps == 0, "runs are whole batches");
inline constexpr int kWarps = kBlockThreads / 32;
inline constexpr unsigned kMaxGrid = 1u << 20;
inline constexpr int kPrefetchRuns = 1; ///< how many runs ahead a chunk's lines are prefetched (2: slower)
inline constexpr int kLineFloats = 32; ///< floats per 128-byte line
inline constexpr int kRunLines = static_cast<int>(kKernelRun) / kLineFloats;
inline constexpr int kChunkBlocksPerSm = 3; ///< at most 80 registers per thread: 24 warps per SM

/// Whether `kind` finds x̂ by a table lookup (bins or a search).
__host__ __device__ constexpr bool lookupKind(ElementKind kind)
{
    return kind == ElementKind::Table || kind == ElementKind::BinnedTable
        || kind == ElementKind::MagnitudeTable;
}

/// Whether the chunk kernel of (Kind, Pattern, Shift) loads each batch of x one batch ahead, into registers,
/// before the arithmetic of the batch before it (and, for groups of 2 or 4 rows, the batch's group scales
/// too): for whole-chunk groups and groups of whole rows. Otherwise a warp's loads are in flight only between
/// its batches. The registers this takes allow 16 warps per SM (chunkBlocksPerSm). H100, 1 GiB, interleaved
/// medians of 15: int8 per tensor 0.418 -> 0.385 ms, per channel 0.417 -> 0.383, group 128 0.427 -> 0.407,
/// FP8 E4M3 per tensor 0.416 -> 0.382; with the scales ahead, int8 group 32 0.449 -> 0.438, FP4 group 32
/// 0.443 -> 0.436, NF4 group 64 0.439 -> 0.421 (without them, groups of 2 rows were slower: int8 group 32
/// 0.450 -> 0.454). Not for the block patterns, which stage x in shared memory (MX at 16 warps per SM: 0.456
/// -> 0.467 ms), nor the bit rounding (ElementKind::Minifloat), whose long arithmetic needs the 24 warps more
/// than the loads ahead (full runs: FP6 E2M3 per channel 0.657 -> 0.749 ms, FP4 group 32 0.678 -> 0.740).
template<ElementKind Kind, GroupPattern Pattern, int Shift> __host__ __device__ constexpr bool loadsAhead()
{
    return Kind != ElementKind::Minifloat
        && (Pattern == GroupPattern::WholeChunks || (Pattern == GroupPattern::Run && Shift > 0));
}

/// Whether the chunk kernel of `kind` and `pattern` with GroupIndexer::rowShift `rowShift` reads
/// FakeQuantArgs::rowScales, the scales alone, and takes their reciprocals (groups of 32 and 64 but for the
/// lookup kinds); makeFakeQuantPlan uploads them for those plans. H100, 1 GiB, interleaved medians of 15:
/// int8 group 32 0.438 -> 0.417 ms, FP4 group 32 0.435 -> 0.417; NF4 group 64, whose lookups leave fewer
/// instructions to spare, 0.426 -> 0.429, and so keeps the pairs.
__host__ __device__ constexpr bool readsRowScales(ElementKind kind, GroupPattern pattern, unsigned rowShift)
{
    return pattern == GroupPattern::Run && (rowShift == 1 || rowShift == 2) && !lookupKind(kind);
}

/// The chunk kernel's blocks per SM (its registers per thread: 65536 / (blocks · kBlockThreads)).
template<ElementKind Kind, GroupPattern Pattern, int Shift>
__host__ __device__ constexpr int chunkBlocksPerSm()
{
    return loadsAhead<Kind, Pattern, Shift>() ? 2 : kChunkBlocksPerSm;
}

/// The clip rule of the chunk kernel's pattern: the block patterns' references clip before rounding, General
/// (which the block formats take when their scales come from before the pass) reads the grid's flag, and
/// WholeChunks and Run clip after rounding (launchChunks checks that the plan agrees).
__host__ __device__ constexpr ClipRule clipRuleOf(GroupPattern pattern)
{
    switch (pattern) {
    case GroupPattern::MxBlocks:
    case GroupPattern::Nvfp4Blocks:
        return ClipRule::BeforeRounding;
    case GroupPattern::General:
        return ClipRule::Grid;
    case GroupPattern::WholeChunks:
    case GroupPattern::Run:
        break;
    }
    return ClipRule::AfterRounding;
}

/// One lane of a chunk in the double order (kernels.h: the chunks needsDoubleSums sends back): its six sums
/// (Σe², Σe, Σx², Σ|x|, Σx·x̂, Σx̂²) and the order-independent rest.
struct DoubleLaneSums {
    static constexpr bool kChecksRuns = false; ///< batches test each x for finiteness (processChunk)
    static constexpr bool kStaged = false; ///< full chunks read x from global memory (RunStage)
    static constexpr bool kSumsInSlots = false; ///< chunkTotals stores the sums in shared memory
    double sums[kSumCount] = {0, 0, 0, 0, 0, 0};
    double maxAbsError = 0;
    unsigned count = 0;
    unsigned clipped = 0;
    unsigned nonFinite = 0;

    /// The terms of x and its x̂, exactly as the scalar backend's doubleSumsChunk.
    __device__ void add(float x, float y, bool wasClipped)
    {
        if (!finiteBits(__float_as_uint(x))) {
            ++nonFinite;
            return;
        }
        const double xd = x;
        const double yd = y;
        const bool finiteY = finiteBits(__float_as_uint(y));
        const double e = finiteY ? fabs(__dsub_rn(xd, yd)) : __longlong_as_double(0x7FF0000000000000LL);
        sums[0] = __dadd_rn(sums[0], __dmul_rn(e, e));
        sums[1] = __dadd_rn(sums[1], e);
        sums[2] = __dadd_rn(sums[2], __dmul_rn(xd, xd));
        sums[3] = __dadd_rn(sums[3], fabs(xd));
        if (finiteY) {
            sums[4] = __dadd_rn(sums[4], __dmul_rn(xd, yd));
            sums[5] = __dadd_rn(sums[5], __dmul_rn(yd, yd));
        }
        maxAbsError = fmax(maxAbsError, e);
        ++count;
        countIf(clipped, wasClipped);
    }

    /// add() for a finite x and a finite x̂; the caller counts the elements.
    __device__ void addFinite(float x, float y, bool wasClipped)
    {
        add(x, y, wasClipped);
        --count;
    }

    __device__ void endRun() { }
    __device__ double sum(int s) const { return sums[s]; }
    __device__ double maxError() const { return maxAbsError; }
};

/// One lane of a chunk in the float-run order (kernels.h): float partials per run of kRunSteps elements of
/// the lane, widened into double lane sums at the end of each run.
struct RunLaneSums {
    /// Batches take every x as finite; a run whose partial of x² is not finite (a NaN or ±Inf x, or an x²
    /// beyond the float range) is dropped and done again element by element (processChunk).
    static constexpr bool kChecksRuns = true;
    static constexpr bool kStaged = true; ///< block patterns' full chunks read x from their copy (RunStage)
    static constexpr bool kSumsInSlots = true; ///< the double lane sums live in shared memory (`sums`)
    float runs[kSumCount] = {0, 0, 0, 0, 0, 0};
    /// The six double lane sums, in shared memory (slot s at sums[s · kBlockThreads]): touched once per run,
    /// they would otherwise hold twelve registers through the batches.
    double* sums;
    float maxAbsError = 0;
    unsigned count = 0;
    unsigned clipped = 0;
    unsigned nonFinite = 0;
    // The order-independent tallies as they stood at the start of the current run.
    float runStartMax = 0;
    unsigned runStartCount = 0;
    unsigned runStartClipped = 0;

    __device__ explicit RunLaneSums(double* slots)
        : sums(slots)
    {
#pragma unroll
        for (int s = 0; s < kSumCount; ++s)
            sums[s * kBlockThreads] = 0;
    }

    __device__ double sum(int s) const
    {
        return sums[s * kBlockThreads];
    }

    __device__ bool runFinite() const
    {
        return finiteBits(__float_as_uint(runs[2]));
    }

    /// Drops the current run: the tallies as they were at its start, the float partials back to +0.
    __device__ void restartRun()
    {
        maxAbsError = runStartMax;
        count = runStartCount;
        clipped = runStartClipped;
#pragma unroll
        for (int s = 0; s < kSumCount; ++s)
            runs[s] = 0;
    }

    /// The terms of x and its x̂, exactly as the scalar backend's fakeQuantChunk.
    __device__ void add(float x, float y, bool wasClipped)
    {
        if (!finiteBits(__float_as_uint(x))) {
            ++nonFinite;
            return;
        }
        ++count;
        if (finiteBits(__float_as_uint(y))) {
            addFinite(x, y, wasClipped);
            return;
        }
        const float e = __uint_as_float(0x7F800000u);
        runs[0] = __fadd_rn(runs[0], e);
        runs[1] = __fadd_rn(runs[1], e);
        runs[2] = __fmaf_rn(x, x, runs[2]);
        runs[3] = __fadd_rn(runs[3], fabsf(x));
        maxAbsError = e;
        countIf(clipped, wasClipped);
    }

    /// add() for a finite x and a finite x̂; the caller counts the elements.
    __device__ void addFinite(float x, float y, bool wasClipped)
    {
        const float e = fabsf(__fsub_rn(x, y));
        runs[0] = __fmaf_rn(e, e, runs[0]);
        runs[1] = __fadd_rn(runs[1], e);
        runs[2] = __fmaf_rn(x, x, runs[2]);
        runs[3] = __fadd_rn(runs[3], fabsf(x));
        runs[4] = __fmaf_rn(x, y, runs[4]);
        runs[5] = __fmaf_rn(y, y, runs[5]);
        maxAbsError = fmaxf(maxAbsError, e);
        countIf(clipped, wasClipped);
    }

    __device__ void endRun()
    {
#pragma unroll
        for (int s = 0; s < kSumCount; ++s) {
            sums[s * kBlockThreads] = __dadd_rn(sums[s * kBlockThreads], static_cast<double>(runs[s]));
            runs[s] = 0;
        }
        runStartMax = maxAbsError;
        runStartCount = count;
        runStartClipped = clipped;
    }
    __device__ float maxError() const
    {
        return maxAbsError;
    }
};

/// Group g's parameters from the device arrays (the scales by a coherent load: GroupPattern::MxBlocks writes
/// them in the same kernel).
template<class Index> __device__ inline GroupValues groupValues(const FakeQuantArgs& args, Index g)
{
    const float2 scale = args.scales[g];
    return {scale.x, scale.y, args.zeroPoints ? __ldg(args.zeroPoints + g) : 0.0f};
}

/// GroupPattern::MxBlocks and Nvfp4Blocks: the lane that holds block b of a run after runBlockScales (MX:
/// b in 0..7, lanes l and l ^ 4 hold the same block; NVFP4: 0..15), and the block that lane l holds.
template<bool Nvfp4> __device__ inline int laneOfRunBlock(int b)
{
    const int k = Nvfp4 ? b >> 2 : b >> 1;
    return (Nvfp4 ? (b & 3) << 2 : (b & 1) << 3) | ((k & 1) << 1) | (k >> 1);
}

template<bool Nvfp4> __device__ inline int runBlockOfLane(int lane)
{
    const int k = 2 * (lane & 1) + ((lane >> 1) & 1);
    return Nvfp4 ? 4 * k + (lane >> 2) : 2 * k + (lane >> 3);
}

/// The block patterns' copy of x in shared memory, for the first pass over a warp's two chunks when both are
/// full (x 16-byte aligned, as runBlockScales' quad loads need anyway). Each half-warp copies the runs of its
/// chunk by cp.async into kStageSlots slots of its own, run r + 1 while it computes run r (slot r %
/// kStageSlots): the copies hold no registers, so a run's reads stay in flight through the arithmetic of the
/// run before, and the block maxima and the elements read one copy (they read x twice from global memory
/// before). The run's block scales lie beside it, and every lane reads a pair's scale at once. With both
/// halves of the warp in step, the block step's shuffles and votes are whole-warp ones, without convergence
/// checks. H100, 1 GiB: MXFP8 0.553 -> 0.481 ms, MXFP4 0.640 -> 0.589, MXINT8 0.571 -> 0.511, NVFP4 1.104 ->
/// 1.057 (the copy alone: 2-4%). Not for the other patterns, which it slowed (int8 per tensor 0.428 -> 0.441
/// ms, group 32 0.497 -> 0.539). The DoubleLaneSums pass and the warp holding the last, partial chunk read x
/// from global memory.
inline constexpr int kStageSlots = 2;
/// Floats per half-warp: its slots, and 16 more so that the two halves of a warp read different banks.
inline constexpr int kStageFloats = kStageSlots * static_cast<int>(kKernelRun) + 16;
inline constexpr int kChunkRuns = kChunk / static_cast<int>(kKernelRun);
inline constexpr int kRunBlocks = 16; ///< block scales per run at most (NVFP4: 16 of 16, MX: 8 of 32)

struct RunStage {
    float* ring; ///< this half-warp's kStageSlots runs, 16-byte aligned
    float2* blockScales; ///< the current run's block scales {scale, 1 / scale}, by block of the run

    __device__ float* slot(int run) const { return ring + (run % kStageSlots) * kKernelRun; }

    /// Starts the copy of run `run` of the chunk at `chunk` (x + c · kChunk, 16-byte aligned) into its slot:
    /// lane l copies the quads l + 16k, as runBlockScales reads them; then closes the copy group.
    __device__ void copy(const float* chunk, int run, int lane) const
    {
        const float* source = chunk + run * kKernelRun + 4 * lane;
        const auto target = static_cast<unsigned>(__cvta_generic_to_shared(slot(run) + 4 * lane));
#pragma unroll
        for (int k = 0; k < 4; ++k)
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16;"
                         :
                         : "r"(target + 256 * k), "l"(source + 64 * k)
                         : "memory");
        asm volatile("cp.async.commit_group;" ::: "memory");
    }

    /// Waits for every copy group of this thread but the newest, then for the warp: run r is readable by
    /// every lane once the group of run r + 1 (or the empty group after the last run) is the newest.
    __device__ static void awaitRun()
    {
        asm volatile("cp.async.wait_group 1;" ::: "memory");
        __syncwarp();
    }
};

/// max(|a|, |b|), NaN when either is NaN (max.NaN: one FMNMX with the magnitudes as operand modifiers, where
/// the integer max of the magnitude bits takes three instructions).
__device__ inline float maxMagnitude(float a, float b)
{
    float m;
    asm("max.NaN.f32 %0, %1, %2;" : "=f"(m) : "f"(fabsf(a)), "f"(fabsf(b)));
    return m;
}

/// GroupPattern::Nvfp4Blocks: the global scales {global, globalInverse, decodeGlobal} of the absmax at
/// BlockRule::tensorAbsKey (kernel_detail::setNvfp4Globals).
__shared__ float nvfp4Globals[3];

/// Fills nvfp4Globals for the whole block; every thread of the block calls it.
__device__ inline void loadNvfp4Globals(const BlockRule& rule)
{
    if (threadIdx.x == 0) {
        kernel_detail::BlockScalerParams scaler = rule.scaler;
        const std::int32_t key = max(*rule.tensorAbsKey, 0x00800000);
        kernel_detail::setNvfp4Globals(scaler, __int_as_float(key - 0x00800000));
        nvfp4Globals[0] = scaler.global;
        nvfp4Globals[1] = scaler.globalInverse;
        nvfp4Globals[2] = scaler.decodeGlobal;
    }
    __syncthreads();
}

/// GroupPattern::MxBlocks and Nvfp4Blocks: the scales of the blocks (MX: 8 of 32, NVFP4: 16 of 16) in the
/// run of kKernelRun elements from `start` (blocks at or past n skipped; n is whole blocks): lane l reads
/// the float4 quads l + 16k (k = 0..3, all 16 lanes reading 256 contiguous bytes per load), which lie in
/// row 4k + l / 4 of the run; the lanes sharing a block reduce their four maxima transposed (each exchange
/// halves the values a lane holds), which leaves block runBlockOfLane(l) in lane l. Its scale goes to
/// `scale` and args.blocks.scales. Returns whether every block of the run takes the fast path: it gives
/// finite x̂ for finite x (its scale is not NaN and largest · scale is finite) and, MXINT8, has a float
/// reciprocal or only zeros; in every lane of the half-warp (which all call it). `run` holds the run's
/// values: x + start in global memory; or, with `stage`, its copy (RunStage): then the run is whole, both
/// halves of the warp call it together, the answer is the warp's, and the scales go to stage->blockScales,
/// and to args.blocks.scales only when the answer is no.
template<bool Nvfp4, bool Staged = false>
__device__ inline bool runBlockScales(const float* __restrict__ run, I start, I n, int lane,
    const FakeQuantArgs& args, float2& scale, const RunStage* stage = nullptr)
{
    // Staged: the whole warp, whose shuffles and votes then need no convergence checks.
    const unsigned mask = Staged ? kFullMask : ((threadIdx.x & 16u) != 0 ? 0xFFFF0000u : 0x0000FFFFu);
    // The largest magnitude bits: NaN (propagated by maxMagnitude) and ±Inf (0x7F800000 and above) outrank
    // every finite value.
    std::uint32_t m[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        m[k] = 0;
        if (Staged || start + 4 * I(lane + 16 * k) < n) {
            const float4* quad = reinterpret_cast<const float4*>(run + 4 * (lane + 16 * k));
            const float4 q = Staged ? *quad : __ldg(quad);
            m[k] = __float_as_uint(maxMagnitude(maxMagnitude(q.x, q.y), maxMagnitude(q.z, q.w)));
        }
    }
    const bool odd = (lane & 1) != 0;
    const std::uint32_t a0 = max(odd ? m[2] : m[0], __shfl_xor_sync(mask, odd ? m[0] : m[2], 1, kLanes));
    const std::uint32_t a1 = max(odd ? m[3] : m[1], __shfl_xor_sync(mask, odd ? m[1] : m[3], 1, kLanes));
    const bool second = (lane & 2) != 0;
    std::uint32_t magnitude = max(second ? a1 : a0, __shfl_xor_sync(mask, second ? a0 : a1, 2, kLanes));
    if constexpr (!Nvfp4)
        magnitude = max(magnitude, __shfl_xor_sync(mask, magnitude, 4, kLanes));
    const BlockRule& rule = args.blocks;
    constexpr int blockSize = Nvfp4 ? 16 : 32;
    const int block = runBlockOfLane<Nvfp4>(lane);
    bool safe = true;
    bool owner = false; ///< this lane writes its block's scale
    scale = {__uint_as_float(0x7FC00000u), 0.0f};
    if (Staged || start + blockSize * I(block) < n) {
        int exponent = 0;
        const float absmax = __uint_as_float(magnitude);
        if (magnitude >= 0x7F800000u) {
            safe = false;
        } else if constexpr (Nvfp4) {
            kernel_detail::BlockScalerParams scaler = rule.scaler;
            scaler.global = nvfp4Globals[0];
            scaler.globalInverse = nvfp4Globals[1];
            scaler.decodeGlobal = nvfp4Globals[2];
            const kernel_detail::BlockScale s = kernel_detail::nvfp4BlockScale(
                scaler, __uint_as_float(kernel_detail::nvfp4ScaleBits(scaler, absmax)));
            scale = {s.scale, s.inverse};
        } else if (!rule.scaler.mx(absmax, exponent)) {
            safe = false;
        } else if (rule.scaler.mxint8) {
            // The fast path multiplies by the reciprocal 2^(6-e), a float down to e = -121, and x · 2^(6-e)
            // rounds the same real number as x / 2^(e-6). A block below that takes the checked path, which
            // divides, unless it is all zeros (±0 · 0 = ±0 / 2^(e-6)).
            scale = {kernel_detail::powerOfTwo(exponent - 6),
                exponent >= -121 ? kernel_detail::powerOfTwo(6 - exponent) : 0.0f};
            safe = exponent >= -121 || magnitude == 0;
        } else {
            scale = {kernel_detail::powerOfTwo(exponent), kernel_detail::powerOfTwo(-exponent)};
        }
        safe = safe && finiteBits(__float_as_uint(__fmul_rn(rule.largest, scale.x)));
        owner = Nvfp4 || (lane & 4) == 0;
        if (Staged && owner)
            stage->blockScales[block] = scale;
    }
    const bool allSafe = __all_sync(mask, safe);
    // Staged, a safe run's batches read its scales from stage->blockScales (a run redone element by element
    // first writes them to args.scales, processChunk), so args.scales is written here only for a run whose
    // unsafe batches look their blocks up there: 8 bytes per block less to write (MX: 1/16 of x, NVFP4: 1/8).
    if (owner && (!Staged || !allSafe))
        rule.scales[start / blockSize + block] = scale;
    __syncwarp(mask);
    return allSafe;
}

/// The group parameters of a lane's elements of chunk c, visited in increasing index order: reloaded only
/// when an element lies past the current group's run (read once for whole-chunk groups).
template<GroupPattern Pattern> struct GroupCursor {
    GroupValues values {1, 1, 0};
    I end = -1;

    __device__ GroupCursor(const FakeQuantArgs& args, I c)
    {
        if constexpr (Pattern == GroupPattern::WholeChunks) {
            if (args.chunksPerGroup == 0) {
                values = {args.single[0], args.single[1], args.single[2]};
            } else {
                values = groupValues(args, static_cast<std::uint32_t>(c) / args.chunksPerGroup);
            }
        }
    }

    __device__ const GroupValues& at(const FakeQuantArgs& args, I i)
    {
        if constexpr (Pattern != GroupPattern::WholeChunks) {
            if (i >= end) {
                values = groupValues(args, args.groups.locate(Pattern, i, &end));
            }
        }
        return values;
    }

    /// Whether the elements first..last (ascending) all lie in one group, whose values are then `values`.
    __device__ bool spans(const FakeQuantArgs& args, I first, I last)
    {
        at(args, first);
        return Pattern == GroupPattern::WholeChunks || last < end;
    }
};

/// The order-independent part of the total (max and counts), reduced over the block into thread 0.
struct Counts {
    double maxAbsError;
    unsigned long long count;
    unsigned long long clipped;
    unsigned long long nonFinite;

    __device__ void add(const ChunkSums& s)
    {
        maxAbsError = fmax(maxAbsError, s.maxAbsError);
        count += s.count;
        clipped += s.clipped;
        nonFinite += s.nonFinite;
    }

    __device__ void reduceBlock(Counts* warpCounts)
    {
        for (int offset = 16; offset > 0; offset /= 2) {
            maxAbsError = fmax(maxAbsError, __shfl_xor_sync(kFullMask, maxAbsError, offset));
            count += __shfl_xor_sync(kFullMask, count, offset);
            clipped += __shfl_xor_sync(kFullMask, clipped, offset);
            nonFinite += __shfl_xor_sync(kFullMask, nonFinite, offset);
        }
        if (threadIdx.x % 32 == 0)
            warpCounts[threadIdx.x / 32] = *this;
        __syncthreads();
        if (threadIdx.x == 0)
            for (int w = 1; w < kWarps; ++w) {
                maxAbsError = fmax(maxAbsError, warpCounts[w].maxAbsError);
                count += warpCounts[w].count;
                clipped += warpCounts[w].clipped;
                nonFinite += warpCounts[w].nonFinite;
            }
    }
};

/// Chunk c's fields, read from L2 (another block may just have written them).
__device__ inline ChunkSums loadChunk(const ChunkSums* chunk)
{
    ChunkSums s;
    for (int f = 0; f < kSumCount; ++f)
        s.sums[f] = __ldcg(chunk->sums + f);
    s.maxAbsError = __ldcg(&chunk->maxAbsError);
    s.count = __ldcg(&chunk->count);
    s.clipped = __ldcg(&chunk->clipped);
    s.nonFinite = __ldcg(&chunk->nonFinite);
    return s;
}

/// `start` plus `count` consecutive ChunkSums records, the sums added in index order (kernels.h: chunk
/// totals within a span from +0, span totals from +0), by a whole warp: lanes load 32 records at once (the
/// next 32 while the current ones are added), then each record's six sums pass through the lanes in order,
/// the six chains side by side (one chain at a time waits a shuffle's latency per addition); max and counts
/// in any order. Every lane returns the result. The records were written by other blocks: read from L2
/// after a fence.
__device__ inline ChunkSums sumRecordsInOrder(const ChunkSums* records, I count, const ChunkSums& start)
{
    const int lane = static_cast<int>(threadIdx.x % 32);
    __threadfence();
    const ChunkSums zero {{0, 0, 0, 0, 0, 0}, 0, 0, 0, 0, 0, 0};
    double sums[kSumCount];
#pragma unroll
    for (int f = 0; f < kSumCount; ++f)
        sums[f] = start.sums[f];
    Counts counts {0, 0, 0, 0};
    ChunkSums next = lane < count ? loadChunk(records + lane) : zero;
    for (I base = 0; base < count; base += 32) {
        const ChunkSums batch = next;
        next = base + 32 + lane < count ? loadChunk(records + base + 32 + lane) : zero;
        counts.add(batch);
        const I length = min(I(32), count - base);
#pragma unroll
        for (int k = 0; k < 32; ++k) {
#pragma unroll
            for (int f = 0; f < kSumCount; ++f) {
                const double term = __shfl_sync(kFullMask, batch.sums[f], k);
                if (k < length)
                    sums[f] = __dadd_rn(sums[f], term);
            }
        }
    }
    for (int offset = 16; offset > 0; offset /= 2) {
        counts.maxAbsError = fmax(counts.maxAbsError, __shfl_xor_sync(kFullMask, counts.maxAbsError, offset));
        counts.count += __shfl_xor_sync(kFullMask, counts.count, offset);
        counts.clipped += __shfl_xor_sync(kFullMask, counts.clipped, offset);
        counts.nonFinite += __shfl_xor_sync(kFullMask, counts.nonFinite, offset);
    }
    ChunkSums result = zero;
#pragma unroll
    for (int f = 0; f < kSumCount; ++f)
        result.sums[f] = sums[f];
    result.maxAbsError = fmax(start.maxAbsError, counts.maxAbsError);
    result.count = start.count + counts.count;
    result.clipped = start.clipped + counts.clipped;
    result.nonFinite = start.nonFinite + counts.nonFinite;
    return result;
}

/// TotalMode::Overlapped: adds the written span totals that follow the chain record's spans into it, in
/// span order, while a warp holds the chain (one at a time: a warp that finds it held leaves, and the holder
/// looks for written spans again after letting go, so none is left behind); the warp that adds the last
/// span writes *total. So the total is ready when the last span is, without a warp that adds every span
/// at the end.
__device__ inline void foldSpans(ChunkSums* spans, I spanCount, ChunkSums* chain, ChunkSums* total)
{
    const int lane = static_cast<int>(threadIdx.x % 32);
    for (;;) {
        bool held = false;
        if (lane == 0)
            held = atomicCAS(&chain->flag, 0u, 1u) == 0u;
        if (!__shfl_sync(kFullMask, held, 0))
            return;
        __threadfence();
        ChunkSums running = loadChunk(chain);
        const I start = __ldcg(&chain->ready);
        I next = start;
        for (;;) {
            // The written spans from `next` on, up to 32 at a time.
            const bool written = next + lane < spanCount && __ldcg(&spans[next + lane].flag) == 1u;
            const unsigned ballot = __ballot_sync(kFullMask, written);
            const int run = ballot == kFullMask ? 32 : __ffs(static_cast<int>(~ballot)) - 1;
            if (run == 0)
                break;
            running = sumRecordsInOrder(spans + next, run, running);
            next += run;
            if (run < 32)
                break;
        }
        if (lane == 0) {
            if (next > start) {
                running.ready = static_cast<unsigned>(next);
                running.flag = 1;
                *chain = running;
                if (next == spanCount) {
                    running.ready = 1;
                    running.flag = 0;
                    *total = running;
                }
                __threadfence();
            }
            atomicExch(&chain->flag, 0u);
            __threadfence();
        }
        const bool more = next < spanCount && __ldcg(&spans[next].flag) == 1u;
        if (!__shfl_sync(kFullMask, more, 0))
            return;
    }
}

/// TotalMode::Overlapped, after a warp wrote its chunks c0 and c0 + 1 (when below chunkTotal): each chunk is
/// counted into its span (the span record's `ready` counts its chunks); the warp that completes a span adds
/// the span's chunk totals in chunk order into the span record, marks it written and adds the written spans
/// into the chain (foldSpans).
__device__ inline void completeSpans(ChunkSums* chunks, I chunkTotal, I c0, ChunkSums* total)
{
    ChunkSums* spans = chunks + chunkTotal;
    const I spanCount = (chunkTotal + kKernelSpan - 1) / kKernelSpan;
    const int lane = static_cast<int>(threadIdx.x % 32);
    const I c = c0 + lane / kLanes;
    long long completed = -1;
    if (lane % kLanes == 0 && c < chunkTotal) {
        __threadfence();
        const I span = c / kKernelSpan;
        const auto expected = static_cast<unsigned>(min(I(kKernelSpan), chunkTotal - span * kKernelSpan));
        if (atomicAdd(&spans[span].ready, 1u) == expected - 1)
            completed = span;
    }
    for (int half = 0; half < 2; ++half) {
        const long long span = __shfl_sync(kFullMask, completed, half * kLanes);
        if (span < 0)
            continue;
        const I first = span * kKernelSpan;
        const ChunkSums zero {{0, 0, 0, 0, 0, 0}, 0, 0, 0, 0, 0, 0};
        ChunkSums spanTotal
            = sumRecordsInOrder(chunks + first, min(I(kKernelSpan), chunkTotal - first), zero);
        if (lane == 0) {
            spanTotal.ready = 0;
            spanTotal.flag = 0;
            spans[span] = spanTotal;
            __threadfence();
            atomicExch(&spans[span].flag, 1u);
        }
        foldSpans(spans, spanCount, spans + spanCount, total);
    }
}

/// Asks L2 for the 128-byte line at `p` ahead of its loads (the chunk kernel: a run kPrefetchRuns ahead).
__device__ inline void prefetchLine(const float* p)
{
    asm volatile("prefetch.global.L2 [%0];" : : "l"(p));
}

/// Element i on its own, whatever x is (the non-finite policies included), in the group of values p: x̂
/// written when `Write`, its terms added to `acc`.
template<ElementKind Kind, GroupPattern Pattern, bool Divide, bool Write, bool TiesAway, class LaneSums>
__device__ inline void addElement(const float* __restrict__ x, I i, const GroupValues& p,
    const FakeQuantArgs& args, LaneSums& acc, float* __restrict__ out)
{
    const float xi = x[i];
    float y[2];
    bool clipped[2];
    fakeQuantPair<Kind, Divide, TiesAway, false, clipRuleOf(Pattern)>(xi, 0.0f, p, p, args.grid, y, clipped);
    if constexpr (Write)
        out[i] = y[0];
    acc.add(xi, y[0], clipped[0]);
}

/// The lane sums of chunk c for one lane (kernels.h order): the elements base + 16·k in index order, in
/// batches of kBatch loads (a run's kRunSteps for whole-chunk groups and groups of whole rows, but for the
/// table kinds). A batch inside one group (the usual case) takes the fast path without per-element checks
/// when its x are finite: RunLaneSums assumes so and redoes a run that shows otherwise, DoubleLaneSums
/// tests each x. Other batches and the last, partial chunk go element by element. LaneSums::kStaged, block
/// patterns: the batches read x from its copy in `stage` when both chunks of the warp are full (`warpFull`;
/// both halves then call this together); otherwise the chunk goes element by element.
///
/// Shift, GroupPattern::Run only: 1 or 2 for runs of exactly 2^Shift rows of kLanes elements (groups of 32 or
/// 64), 3 for runs of 2^s rows with s >= 3 (GroupIndexer::rowShift), 0 otherwise. A compile-time geometry
/// spares the batch its choice of group path and the index arithmetic that choice kept in registers (H100, 1
/// GiB: int8 group 32 0.485 -> 0.468 ms, NF4 group 64 0.516 -> 0.504, int8 group 128 0.440 -> 0.433).
template<ElementKind Kind, GroupPattern Pattern, int Shift, bool Divide, bool Write, bool TiesAway,
    class LaneSums>
__device__ void processChunk(const float* __restrict__ x, I n, I c, int lane, const FakeQuantArgs& args,
    LaneSums& acc, float* __restrict__ out, const RunStage& stage, bool warpFull)
{
    // Whole-chunk groups and groups of whole rows: a whole run's loads in flight at once (H100, 1 GiB: int8 /
    // int4 group 128 0.433 / 0.435 -> 0.426 / 0.424 ms; int8 / FP4 group 32 0.462 / 0.467 -> 0.446 / 0.444,
    // int8 group 64 0.439 -> 0.435). The table kinds keep batches of kBatch, whose bin lookups hold more
    // registers (NF4 group 64 0.501 -> 0.530 ms with a run per batch; group 128 0.509 -> 0.488 back at
    // kBatch), and so do other groups (a run's 16 loads per lane measured slower through the cursor's group
    // lookups). Where loadsAhead says so, each batch's loads are issued one batch ahead.
    constexpr bool fixedRows = Pattern == GroupPattern::Run && Shift > 0;
    constexpr int batch
        = Pattern == GroupPattern::WholeChunks || (fixedRows && !lookupKind(Kind)) ? kRunSteps : kBatch;
    static_assert(kRunSteps % batch == 0, "runs are whole batches");
    GroupCursor<Pattern> cursor(args, c);
    const I base = c * kChunk + lane;
    constexpr bool nvfp4 = Pattern == GroupPattern::Nvfp4Blocks;
    constexpr bool blocks = Pattern == GroupPattern::MxBlocks || nvfp4;
    constexpr bool staged = LaneSums::kStaged && blocks;
    float2 runScale {0, 0};
    bool runSafe = true;
    const I end = min(n, (c + 1) * kChunk);
    if (end < (c + 1) * kChunk || (staged && !warpFull)) {
        if constexpr (blocks) {
            for (I start = c * kChunk; start < end; start += kKernelRun)
                runBlockScales<nvfp4>(x + start, start, n, lane, args, runScale);
        }
        int steps = 0;
        for (I i = base; i < end; i += kLanes) {
            if (steps++ == kRunSteps) {
                acc.endRun();
                steps = 1;
            }
            addElement<Kind, Pattern, Divide, Write, TiesAway>(x, i, cursor.at(args, i), args, acc, out);
        }
        acc.endRun();
        return;
    }
    const unsigned half = (threadIdx.x & 16u) != 0 ? 0xFFFF0000u : 0x0000FFFFu;
    const float* chunkStart = x + c * kChunk;
    // Line `lane` of the run kPrefetchRuns ahead, from the batch's first element (first = c · kChunk + lane +
    // 16 · step).
    const int prefetchOffset = kPrefetchRuns * static_cast<int>(kKernelRun) + (kLineFloats - 1) * lane;
    if constexpr (staged)
        stage.copy(chunkStart, 0, lane);
    constexpr bool pipelined = loadsAhead<Kind, Pattern, Shift>();
    [[maybe_unused]] float ahead[pipelined ? batch : 1];
    if constexpr (pipelined) {
#pragma unroll
        for (int j = 0; j < batch; ++j)
            ahead[j] = __ldcs(x + base + j * kLanes);
    }
    // Runs of 2 or 4 rows: a batch's rows lie in rowGroups groups from row >> Shift on. With args.rowScales,
    // lane l reads the scale of group l % rowGroups of them, and the half-warp shares them by shuffles;
    // otherwise (the lookup kinds) every lane reads every {scale, inverse} by 16-byte loads, two groups each.
    constexpr int rowGroups = fixedRows && Shift < 3 ? batch >> Shift : 0;
    constexpr bool byRowScales = readsRowScales(Kind, Pattern, Shift);
    const auto rowOf = [&](int at) { return static_cast<std::uint32_t>(c) * (kChunk / kLanes) + at; };
    const auto loadRowScale = [&](int at) {
        return __ldg(args.rowScales + (rowOf(at) >> Shift) + lane % (rowGroups > 0 ? rowGroups : 1));
    };
    constexpr int aheadQuads = pipelined && !byRowScales ? rowGroups / 2 : 0;
    const auto loadScaleQuads = [&](int at, float4* q) {
        const float4* quads = reinterpret_cast<const float4*>(args.scales + (rowOf(at) >> Shift));
#pragma unroll
        for (int k = 0; k < aheadQuads; ++k)
            q[k] = __ldg(quads + k);
    };
    [[maybe_unused]] float rowScaleAhead = 0;
    [[maybe_unused]] float4 scalesAhead[aheadQuads > 0 ? aheadQuads : 1];
    if constexpr (pipelined && byRowScales) {
        rowScaleAhead = loadRowScale(0);
    } else if constexpr (aheadQuads > 0) {
        loadScaleQuads(0, scalesAhead);
    }
    // Two batches per iteration: `ahead` and v trade registers instead of copying; staged, an iteration is a
    // run, whose copy's addresses, block step and row offsets are then known at compile time (H100, 1 GiB,
    // interleaved medians of 15: MXFP4 0.4585 / 0.4618 / 0.4593 -> 0.4467 / 0.4477 / 0.4454 ms, MXFP8 0.4545
    // / 0.4547 / 0.4583 -> 0.4482 / 0.4496 / 0.4472, MXINT8 0.4561 / 0.4620 / 0.4559 -> 0.4516 / 0.4502 /
    // 0.4523, NVFP4 0.7949 / 0.7956 / 0.7988 -> 0.7830 / 0.7840 / 0.7892; batches of a whole run instead:
    // MXFP4 as fast, the others not).
#pragma unroll(pipelined || staged ? 2 : 1)
    for (int step = 0; step < kSteps; step += batch) {
        const I first = base + I(step) * kLanes;
        const int run = step / kRunSteps;
        if (staged && step % kRunSteps == 0) {
            // Every lane is done with the slot that run + 1 takes, and with the block scales of the run
            // before.
            __syncwarp();
            if (run + 1 < kChunkRuns)
                stage.copy(chunkStart, run + 1, lane);
            else
                asm volatile("cp.async.commit_group;" ::: "memory");
            RunStage::awaitRun();
        }
        // The next run's lines on their way to L2, for batches shorter than a run (H100: MX blocks before
        // staging 0.570 -> 0.544 ms, groups of 128 in batches of 8 0.455 -> 0.434 ms); not for batches of
        // whole runs, which have their loads in flight already (whole-chunk groups 0.422 -> 0.452 ms with
        // it).
        if (!staged && batch < kRunSteps && step % kRunSteps == 0 && step + kPrefetchRuns * kRunSteps < kSteps
            && lane < kRunLines)
            prefetchLine(x + first + prefetchOffset);
        if constexpr (blocks) {
            if (step % kRunSteps == 0) {
                const I start = c * kChunk + I(step) * kLanes;
                runSafe = staged
                    ? runBlockScales<nvfp4, true>(stage.slot(run), start, n, lane, args, runScale, &stage)
                    : runBlockScales<nvfp4>(x + start, start, n, lane, args, runScale);
            }
        }
        float v[batch];
        [[maybe_unused]] float rowScale = 0;
        [[maybe_unused]] float4 scalesNow[aheadQuads > 0 ? aheadQuads : 1];
        if constexpr (staged) {
            const float* rows = stage.slot(run) + (step % kRunSteps) * kLanes + lane;
#pragma unroll
            for (int j = 0; j < batch; ++j)
                v[j] = rows[j * kLanes];
        } else if constexpr (pipelined) {
#pragma unroll
            for (int j = 0; j < batch; ++j)
                v[j] = ahead[j];
            if constexpr (byRowScales)
                rowScale = rowScaleAhead;
            if constexpr (aheadQuads > 0) {
#pragma unroll
                for (int k = 0; k < aheadQuads; ++k)
                    scalesNow[k] = scalesAhead[k];
            }
            if (step + batch < kSteps) {
#pragma unroll
                for (int j = 0; j < batch; ++j)
                    ahead[j] = __ldcs(x + first + (batch + j) * kLanes);
                if constexpr (byRowScales)
                    rowScaleAhead = loadRowScale(step + batch);
                else if constexpr (aheadQuads > 0)
                    loadScaleQuads(step + batch, scalesAhead);
            }
        } else {
#pragma unroll
            for (int j = 0; j < batch; ++j)
                v[j] = __ldcs(x + first + j * kLanes);
        }
        // Blocks: row r of the run is in block r (NVFP4) or r / 2 (MX), whose scale laneOfRunBlock holds
        // (and, staged, blockScales).
        GroupValues blockValues[batch] {};
        if constexpr (blocks) {
#pragma unroll
            for (int j = 0; j < batch; j += nvfp4 ? 1 : 2) {
                const int row = step % kRunSteps + j;
                const int block = nvfp4 ? row : row / 2;
                if constexpr (staged) {
                    blockValues[j] = {stage.blockScales[block].x, stage.blockScales[block].y, 0.0f};
                } else {
                    const int source = laneOfRunBlock<nvfp4>(block);
                    blockValues[j] = {__shfl_sync(half, runScale.x, source, kLanes),
                        __shfl_sync(half, runScale.y, source, kLanes), 0.0f};
                }
                if constexpr (!nvfp4)
                    blockValues[j + 1] = blockValues[j];
            }
        }
        // Runs of 2 or 4 rows: the batch's group values, before the branches below, in which the lanes of a
        // DoubleLaneSums pass may part.
        [[maybe_unused]] GroupValues rowGroupValues[rowGroups > 0 ? rowGroups : 1];
        if constexpr (byRowScales) {
            if constexpr (!pipelined)
                rowScale = loadRowScale(step);
            const float inverse = Divide ? 0.0f : __frcp_rn(rowScale);
#pragma unroll
            for (int k = 0; k < rowGroups; ++k)
                rowGroupValues[k] = {__shfl_sync(half, rowScale, k, kLanes),
                    Divide ? 0.0f : __shfl_sync(half, inverse, k, kLanes), 0.0f};
        } else if constexpr (rowGroups > 0) {
            // The batch's first group is a multiple of its even count of groups, and args.scales a whole
            // allocation: the pairs are 16-byte aligned (int8 group 32 0.4616 -> 0.4459 ms with the run per
            // batch, against 0.4544 with that alone).
            static_assert(rowGroups % 2 == 0, "whole pairs of groups per batch");
            const float4* quads = reinterpret_cast<const float4*>(args.scales + (rowOf(step) >> Shift));
#pragma unroll
            for (int k = 0; k < rowGroups; k += 2) {
                const float4 q = aheadQuads > 0 ? scalesNow[k / 2] : __ldg(quads + k / 2);
                rowGroupValues[k] = {q.x, q.y, 0.0f};
                rowGroupValues[k + 1] = {q.z, q.w, 0.0f};
            }
        }
        bool finite = args.reconstructionFinite && runSafe;
        if constexpr (!LaneSums::kChecksRuns) {
#pragma unroll
            for (int j = 0; j < batch; ++j)
                finite = finite && finiteBits(__float_as_uint(v[j]));
        }
        float y[batch];
        bool clipped[batch];
        // A batch of finite x: the finite arithmetic, with each pair's group values from `groupsOf`; block
        // batches multiply by the blocks' encode factors (MXINT8's reciprocals included, runBlockScales).
        const auto finiteBatch = [&](auto groupsOf) {
            constexpr bool divide = Divide && !blocks;
#pragma unroll
            for (int j = 0; j < batch; j += 2) {
                GroupValues p0;
                GroupValues p1;
                groupsOf(j, p0, p1);
                float pair[2];
                bool pairClipped[2];
                fakeQuantPair<Kind, divide, TiesAway, true, clipRuleOf(Pattern)>(
                    v[j], v[j + 1], p0, p1, args.grid, pair, pairClipped);
                y[j] = pair[0];
                y[j + 1] = pair[1];
                clipped[j] = pairClipped[0];
                clipped[j + 1] = pairClipped[1];
            }
#pragma unroll
            for (int j = 0; j < batch; ++j)
                acc.addFinite(v[j], y[j], clipped[j]);
            acc.count += batch;
        };
        GroupValues p;
        const auto oneGroup = [&] {
            if (Pattern != GroupPattern::WholeChunks
                && !cursor.spans(args, first, first + (batch - 1) * kLanes))
                return false;
            p = cursor.values;
            return true;
        };
        if (blocks && finite) {
            finiteBatch([&](int j, GroupValues& p0, GroupValues& p1) {
                p0 = blockValues[j];
                p1 = blockValues[j + 1];
            });
        } else if (fixedRows && finite) {
            // Runs of 2^s whole rows of 16 (GroupIndexer::rowShift; Shift is s, or 3 for any s >= 3): the
            // batch's rows (a run's 16, the table kinds' 8) start a group (row is a multiple of 8) and lie in
            // the batch / 2^s groups from row >> s on (Shift 3: 2 groups of 8 rows or 1 longer one): Shift 1
            // and 2 take rowGroupValues, Shift 3 loads them at offsets from one address, independent of each
            // other (a cursor would wait for each in turn).
            constexpr int rowsPerGroup = Shift >= 3 ? 8 : 1 << Shift;
            const std::uint32_t row = static_cast<std::uint32_t>(c) * (kChunk / kLanes) + step;
            const std::uint32_t g0 = row >> (Shift >= 3 ? args.groups.rowShift : Shift);
            const float* zeroPoints = args.zeroPoints ? args.zeroPoints + g0 : nullptr;
            GroupValues groups[batch / rowsPerGroup];
            if constexpr (Shift < 3) {
#pragma unroll
                for (int k = 0; k < rowGroups; ++k) {
                    groups[k] = rowGroupValues[k];
                    groups[k].zeroPoint = zeroPoints ? __ldg(zeroPoints + k) : 0.0f;
                }
            } else {
#pragma unroll
                for (int k = 0; k < batch / rowsPerGroup; ++k) {
                    const std::uint32_t offset = ((row + 8 * k) >> args.groups.rowShift) - g0;
                    const float2 scale = __ldg(args.scales + g0 + offset);
                    groups[k] = {scale.x, scale.y, zeroPoints ? __ldg(zeroPoints + offset) : 0.0f};
                }
            }
            finiteBatch([&](int j, GroupValues& p0, GroupValues& p1) { p0 = p1 = groups[j / rowsPerGroup]; });
        } else if (finite && oneGroup()) {
            finiteBatch([&](int, GroupValues& p0, GroupValues& p1) { p0 = p1 = p; });
        } else if (finite) {
            // Groups shorter than the batch's span of 8 · 16 elements: the values of each element's group, in
            // element order (the cursor only moves forward).
            finiteBatch([&](int j, GroupValues& p0, GroupValues& p1) {
                p0 = cursor.at(args, first + j * kLanes);
                p1 = cursor.at(args, first + (j + 1) * kLanes);
            });
        } else {
            for (int j = 0; j < batch; j += 2) {
                const GroupValues p0 = cursor.at(args, first + j * kLanes);
                const GroupValues p1 = cursor.at(args, first + (j + 1) * kLanes);
                float pair[2];
                bool pairClipped[2];
                fakeQuantPair<Kind, Divide, TiesAway, false, clipRuleOf(Pattern)>(
                    v[j], v[j + 1], p0, p1, args.grid, pair, pairClipped);
                y[j] = pair[0];
                y[j + 1] = pair[1];
                clipped[j] = pairClipped[0];
                clipped[j + 1] = pairClipped[1];
            }
            for (int j = 0; j < batch; ++j)
                acc.add(v[j], y[j], clipped[j]);
        }
        if constexpr (Write) {
#pragma unroll
            for (int j = 0; j < batch; ++j)
                __stcs(out + first + j * kLanes, y[j]);
        }
        if ((step + batch) % kRunSteps == 0) {
            if constexpr (LaneSums::kChecksRuns) {
                if (args.reconstructionFinite && runSafe && !acc.runFinite()) {
                    // The run's elements again, element by element with their own group cursor (the batch
                    // cursor has moved on). Staged, runBlockScales left a safe run's block scales out of
                    // args.scales: this lane writes them there first.
                    if constexpr (staged) {
                        constexpr int runBlocks = nvfp4 ? 16 : 8;
                        const I firstBlock = (c * kChunk + I(run) * kKernelRun) / (nvfp4 ? 16 : 32);
                        for (int b = 0; b < runBlocks; ++b)
                            args.blocks.scales[firstBlock + b] = stage.blockScales[b];
                    }
                    acc.restartRun();
                    GroupCursor<Pattern> again(args, c);
                    // A count of steps: with a bound on the index, nvcc kept the loop's 64-bit trip count
                    // through every batch (spilled and reloaded in each).
                    const I runFirst = first + I(batch - kRunSteps) * kLanes;
#pragma unroll 1
                    for (int k = 0; k < kRunSteps; ++k) {
                        const I i = runFirst + I(k) * kLanes;
                        addElement<Kind, Pattern, Divide, Write, TiesAway>(
                            x, i, again.at(args, i), args, acc, out);
                    }
                }
            }
            acc.endRun();
        }
    }
}

/// The totals of a chunk from its 16 lanes (kernels.h: the lane sums in lane order 0..15), in every lane; the
/// whole warp calls it. The lane sums go through shared memory: `slots` holds this thread's (sum s at
/// slots[s · kBlockThreads]: RunLaneSums keeps them there, others are stored), lane s < 6 adds sum s over the
/// half-warp's lanes in lane order and puts the total in place of its own entry of sum s (no other lane reads
/// that row), and every lane reads the six totals back. The tallies, at most kChunk each, are reduced in 32
/// bits by shuffles. (Shuffling the 16 lanes' six double sums to every lane cost about 3 instructions per
/// element, of 28 for int8 per channel on the H100.)
template<class LaneSums> __device__ ChunkSums chunkTotals(const LaneSums& acc, double* slots, int lane)
{
    if constexpr (!LaneSums::kSumsInSlots) {
#pragma unroll
        for (int s = 0; s < kSumCount; ++s)
            slots[s * kBlockThreads] = acc.sum(s);
    }
    __syncwarp();
    double* const laneZero = slots - lane;
    if (lane < kSumCount) {
        double* const column = laneZero + lane * kBlockThreads;
        double sum = 0;
#pragma unroll
        for (int l = 0; l < kLanes; ++l)
            sum = __dadd_rn(sum, column[l]);
        column[lane] = sum;
    }
    __syncwarp();
    ChunkSums result;
#pragma unroll
    for (int s = 0; s < kSumCount; ++s)
        result.sums[s] = laneZero[s * kBlockThreads + s];
    auto maxAbsError = acc.maxError();
    unsigned count = acc.count;
    unsigned clipped = acc.clipped;
    unsigned nonFinite = acc.nonFinite;
#pragma unroll
    for (int offset = kLanes / 2; offset > 0; offset /= 2) {
        maxAbsError = max(maxAbsError, __shfl_xor_sync(kFullMask, maxAbsError, offset, kLanes));
        count += __shfl_xor_sync(kFullMask, count, offset, kLanes);
        clipped += __shfl_xor_sync(kFullMask, clipped, offset, kLanes);
        nonFinite += __shfl_xor_sync(kFullMask, nonFinite, offset, kLanes);
    }
    result.maxAbsError = maxAbsError;
    result.count = count;
    result.clipped = clipped;
    result.nonFinite = nonFinite;
    result.ready = 0;
    result.flag = 0;
    // Every lane has read the slots before the next chunk writes them.
    __syncwarp();
    return result;
}

/// Per chunk (16 threads, half a warp), the scalar backend's order: lane l adds the elements
/// base + l + 16·k in index order; then the 16 lane sums are added in lane order 0..15. A warp takes two
/// consecutive chunks per iteration, so that its halves stay converged for the shuffles. The total
/// (TotalMode): writing x̂ (Counts), each block adds its chunks' max and counts into *total (zeroed before)
/// with atomics; otherwise with `total` (Overlapped), the warps that complete a span or the whole also add
/// them (completeSpans), without it totalKernel adds the chunk records afterwards (AfterChunks). The
/// counts live only in the kernels that write x̂: a block tally's registers slowed the sums' kernels 3-5%.
template<ElementKind Kind, GroupPattern Pattern, int Shift, bool Divide, bool Write>
__global__ void __launch_bounds__(kBlockThreads, (chunkBlocksPerSm<Kind, Pattern, Shift>()))
    chunkKernel(const float* __restrict__ x, I n, FakeQuantArgs args, ChunkSums* __restrict__ chunks,
        float* __restrict__ out, ChunkSums* __restrict__ total)
{
    if constexpr (Kind == ElementKind::BinnedTable || Kind == ElementKind::MagnitudeTable)
        loadTableBins(args.grid.bins);
    if constexpr (Pattern == GroupPattern::Nvfp4Blocks)
        loadNvfp4Globals(args.blocks);
    const I chunkTotal = (n + kChunk - 1) / kChunk;
    const I producer = blockIdx.x;
    const I producers = gridDim.x;
    const int lane = static_cast<int>(threadIdx.x % kLanes);
    Counts tally {0, 0, 0, 0};
    constexpr bool blocks = Pattern == GroupPattern::MxBlocks || Pattern == GroupPattern::Nvfp4Blocks;
    __shared__ __align__(16) float stageRings[blocks ? kChunksPerBlock * kStageFloats : 4];
    __shared__ float2 stageScales[blocks ? kChunksPerBlock * kRunBlocks : 1];
    const int halfWarp = static_cast<int>(threadIdx.x / kLanes);
    const RunStage stage {stageRings + (blocks ? halfWarp * kStageFloats : 0),
        stageScales + (blocks ? halfWarp * kRunBlocks : 0)};
    for (I pair = producer * kWarps + threadIdx.x / 32; 2 * pair < chunkTotal; pair += producers * kWarps) {
        const I c = 2 * pair + (threadIdx.x / kLanes) % 2;
        const bool warpFull = (2 * pair + 2) * kChunk <= n;
        constexpr bool roundsTies = Kind == ElementKind::Integer || Kind == ElementKind::Minifloat;
        const bool tiesAway = roundsTies && args.grid.tiesAway;
        const auto process = [&](auto& acc, float* target) {
            if (c >= chunkTotal)
                return;
            if (tiesAway)
                processChunk<Kind, Pattern, Shift, Divide, Write, roundsTies>(
                    x, n, c, lane, args, acc, target, stage, warpFull);
            else
                processChunk<Kind, Pattern, Shift, Divide, Write, false>(
                    x, n, c, lane, args, acc, target, stage, warpFull);
        };
        __shared__ double laneSums[kSumCount * kBlockThreads];
        double* const slots = laneSums + threadIdx.x;
        RunLaneSums acc(slots);
        process(acc, out);
        ChunkSums result = chunkTotals(acc, slots, lane);
        if constexpr (!Write) {
            // Rare (kernels.h): both chunks of the warp take part in the shuffles, only the one that needs it
            // adds its elements again.
            const bool again = c < chunkTotal && floatRunsInaccurate(result.sums);
            if (__any_sync(kFullMask, again)) {
                DoubleLaneSums exact;
                if (again)
                    process(exact, nullptr);
                const ChunkSums exactResult = chunkTotals(exact, slots, lane);
                if (again)
                    result = exactResult;
            }
        }
        if (lane == 0 && c < chunkTotal) {
            chunks[c] = result;
            if constexpr (Write)
                tally.add(result);
        }
        if (!Write && total)
            completeSpans(chunks, chunkTotal, 2 * pair, total);
    }
    if constexpr (Write) {
        __shared__ Counts warpCounts[kWarps];
        tally.reduceBlock(warpCounts);
        if (threadIdx.x == 0) {
            atomicAdd(&total->count, tally.count);
            atomicAdd(&total->clipped, tally.clipped);
            atomicAdd(&total->nonFinite, tally.nonFinite);
            // max e is never NaN (kernels.h: e of a finite x only) and never negative: its bits order as it
            // does.
            atomicMax(reinterpret_cast<unsigned long long*>(&total->maxAbsError),
                static_cast<unsigned long long>(__double_as_longlong(tally.maxAbsError)));
        }
    }
}

/// Where launchChunks writes: the chunk sums, x̂ (or null), the total (null: after the chunks, totalKernel).
struct ChunkTargets {
    ChunkSums* chunks;
    float* out;
    ChunkSums* total;
};

/// launchChunks for one pattern (and, GroupPattern::Run, the Shift of processChunk).
template<ElementKind Kind, GroupPattern Pattern, int Shift = 0>
void launchChunks(const float* x, I n, const FakeQuantPlan& plan, const ChunkTargets& to, unsigned grid,
    cudaStream_t stream)
{
    const auto launch = [&](auto kernel) {
        kernel<<<grid, kBlockThreads, 0, stream>>>(x, n, plan.args, to.chunks, to.out, to.total);
    };
    constexpr ClipRule clip = clipRuleOf(Pattern);
    if (clip != ClipRule::Grid && plan.args.grid.clipBeforeRounding != (clip == ClipRule::BeforeRounding))
        throw Error("the fused kernel's group pattern does not clip as the plan's grid does");
    if (plan.divide)
        to.out ? launch(chunkKernel<Kind, Pattern, Shift, true, true>)
               : launch(chunkKernel<Kind, Pattern, Shift, true, false>);
    else
        to.out ? launch(chunkKernel<Kind, Pattern, Shift, false, true>)
               : launch(chunkKernel<Kind, Pattern, Shift, false, false>);
}

template<ElementKind Kind>
void launchChunks(const float* x, I n, const FakeQuantPlan& plan, const ChunkTargets& to, unsigned grid,
    cudaStream_t stream)
{
    switch (plan.pattern) {
    case GroupPattern::WholeChunks:
        launchChunks<Kind, GroupPattern::WholeChunks>(x, n, plan, to, grid, stream);
        return;
    case GroupPattern::Run:
        switch (plan.args.groups.rowShift) {
        case 0:
            launchChunks<Kind, GroupPattern::Run, 0>(x, n, plan, to, grid, stream);
            return;
        case 1:
            launchChunks<Kind, GroupPattern::Run, 1>(x, n, plan, to, grid, stream);
            return;
        case 2:
            launchChunks<Kind, GroupPattern::Run, 2>(x, n, plan, to, grid, stream);
            return;
        default:
            launchChunks<Kind, GroupPattern::Run, 3>(x, n, plan, to, grid, stream);
            return;
        }
    case GroupPattern::MxBlocks:
        if constexpr (Kind != ElementKind::Table && Kind != ElementKind::BinnedTable) {
            launchChunks<Kind, GroupPattern::MxBlocks>(x, n, plan, to, grid, stream);
            return;
        }
        throw Error("the MX block kernel has no such element kind");
    case GroupPattern::Nvfp4Blocks:
        if constexpr (Kind == ElementKind::MagicMinifloat || Kind == ElementKind::Minifloat
            || Kind == ElementKind::MagnitudeTable) {
            launchChunks<Kind, GroupPattern::Nvfp4Blocks>(x, n, plan, to, grid, stream);
            return;
        }
        throw Error("the NVFP4 block kernel has no such element kind");
    case GroupPattern::General:
        launchChunks<Kind, GroupPattern::General>(x, n, plan, to, grid, stream);
        return;
    }
}

// Instantiated in fake_quant_integer.cu, fake_quant_minifloat.cu, fake_quant_minifloat_magic.cu,
// fake_quant_fp8.cu, fake_quant_fp6.cu and fake_quant_table.cu.
extern template void launchChunks<ElementKind::Integer>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);
extern template void launchChunks<ElementKind::MagicMinifloat>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);
extern template void launchChunks<ElementKind::Minifloat>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);
extern template void launchChunks<ElementKind::E4M3Hardware>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);
extern template void launchChunks<ElementKind::E5M2Hardware>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);
extern template void launchChunks<ElementKind::E4M3Embedded>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);
extern template void launchChunks<ElementKind::E5M2Embedded>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);
extern template void launchChunks<ElementKind::Table>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);
extern template void launchChunks<ElementKind::BinnedTable>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);
extern template void launchChunks<ElementKind::MagnitudeTable>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);

} // namespace qs::cuda
