#include "formats/number_format.h"
#include "kernels/cuda/fake_quant.cuh"
#include "kernels/cuda_kernels.h"
#include "kernels/encoder_table.h"
#include "kernels/float_run_accuracy.h"
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

constexpr int kChunk = static_cast<int>(kKernelChunk);
constexpr int kLanes = kKernelLanes;
constexpr int kSteps = kChunk / kLanes; ///< elements per lane and chunk
constexpr int kBatch = 8; ///< loads a lane issues before it uses them
constexpr int kChunksPerBlock = kBlockThreads / kLanes;
static_assert(kSteps * kLanes == kChunk && kSteps % kBatch == 0 && 32 % kLanes == 0,
    "a chunk is whole batches of one load per lane, and a warp holds whole chunks");
constexpr int kSumCount = 6;
constexpr int kRunSteps = static_cast<int>(kKernelRun / kKernelLanes); ///< elements per lane and run
static_assert(kRunSteps % kBatch == 0 && kSteps % kRunSteps == 0, "runs are whole batches");
constexpr int kWarps = kBlockThreads / 32;
constexpr unsigned kMaxGrid = 1u << 20;
constexpr int kChunkBlocksPerSm = 3; ///< at most 80 registers per thread: 24 warps per SM

/// One lane of a chunk in the double order (kernels.h: the chunks needsDoubleSums sends back): its six sums
/// (Σe², Σe, Σx², Σ|x|, Σx·x̂, Σx̂²) and the order-independent rest.
struct DoubleLaneSums {
    static constexpr bool kChecksRuns = false; ///< batches test each x for finiteness (processChunk)
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
        clipped += wasClipped;
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
        clipped += wasClipped;
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
        clipped += wasClipped;
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
    __device__ double maxError() const
    {
        return maxAbsError;
    }
};

/// Group g's parameters from the device arrays.
__device__ inline GroupValues groupValues(const FakeQuantArgs& args, I g)
{
    return {__ldg(args.scales + g), __ldg(args.inverses + g),
        args.zeroPoints ? __ldg(args.zeroPoints + g) : 0.0f};
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

/// Shared memory of reduceChunks: one tile of span totals, by sum, and the per-warp counts.
struct ChainShared {
    double tile[kSumCount][kBlockThreads];
    Counts warpCounts[kWarps];
    double finals[kSumCount];
};

/// Chunk c's fields, read from L2 (another block may just have written them).
__device__ ChunkSums loadChunk(const ChunkSums* chunk)
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

/// The total of the chunk sums (one block), kernels.h's order: thread t adds the chunks of span t (of each
/// tile of kBlockThreads spans) in chunk order from 0, then one lane of warp 0 per sum adds the tile's span
/// totals in span order; max and counts in any order.
__device__ void reduceChunks(const ChunkSums* chunks, I count, ChunkSums* total, ChainShared& shared)
{
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int lane = static_cast<int>(threadIdx.x) % 32;
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

/// `start` plus `count` consecutive ChunkSums records, the sums added in index order (kernels.h: chunk
/// totals within a span from +0, span totals from +0), by a whole warp: lanes load 32 records at once (the
/// next 32 while the current ones are added), then each record's six sums pass through the lanes in order,
/// the six chains side by side (one chain at a time waits a shuffle's latency per addition); max and counts
/// in any order. Every lane returns the result. The records were written by other blocks: read from L2
/// after a fence.
__device__ ChunkSums sumRecordsInOrder(const ChunkSums* records, I count, const ChunkSums& start)
{
    const int lane = static_cast<int>(threadIdx.x) % 32;
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
__device__ void foldSpans(ChunkSums* spans, I spanCount, ChunkSums* chain, ChunkSums* total)
{
    const int lane = static_cast<int>(threadIdx.x) % 32;
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
__device__ void completeSpans(ChunkSums* chunks, I chunkTotal, I c0, ChunkSums* total)
{
    ChunkSums* spans = chunks + chunkTotal;
    const I spanCount = (chunkTotal + kKernelSpan - 1) / kKernelSpan;
    const int lane = static_cast<int>(threadIdx.x) % 32;
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

/// Element i on its own, whatever x is (the non-finite policies included): x̂ written when `Write`, its terms
/// added to `acc`. The cursor must not have passed i's group.
template<ElementKind Kind, GroupPattern Pattern, bool Divide, bool Write, bool TiesAway, class LaneSums>
__device__ inline void addElement(const float* __restrict__ x, I i, const FakeQuantArgs& args,
    GroupCursor<Pattern>& cursor, LaneSums& acc, float* __restrict__ out)
{
    const float xi = x[i];
    const GroupValues p = cursor.at(args, i);
    float y[2];
    bool clipped[2];
    fakeQuantPair<Kind, Divide, TiesAway, false>(xi, 0.0f, p, p, args.grid, y, clipped);
    if constexpr (Write)
        out[i] = y[0];
    acc.add(xi, y[0], clipped[0]);
}

/// The lane sums of chunk c for one lane (kernels.h order): the elements base + 16·k in index order, in
/// batches of kBatch loads (a run's kRunSteps for whole-chunk groups). A batch inside one group (the usual
/// case) takes the fast path without per-element checks when its x are finite: RunLaneSums assumes so and
/// redoes a run that shows otherwise, DoubleLaneSums tests each x. Other batches and the last, partial chunk
/// go element by element.
template<ElementKind Kind, GroupPattern Pattern, bool Divide, bool Write, bool TiesAway, class LaneSums>
__device__ void processChunk(const float* __restrict__ x, I n, I c, int lane, const FakeQuantArgs& args,
    LaneSums& acc, float* __restrict__ out)
{
    // Whole-chunk groups: a whole run's loads in flight at once. Other groups keep batches of kBatch: a
    // run's 16 loads per lane measured slower there (they hold more registers through the group lookups).
    constexpr int batch = Pattern == GroupPattern::WholeChunks ? kRunSteps : kBatch;
    static_assert(kRunSteps % batch == 0, "runs are whole batches");
    GroupCursor<Pattern> cursor(args, c);
    const I base = c * kChunk + lane;
    if ((c + 1) * kChunk > n) {
        int steps = 0;
        for (I i = base; i < n; i += kLanes) {
            if (steps++ == kRunSteps) {
                acc.endRun();
                steps = 1;
            }
            addElement<Kind, Pattern, Divide, Write, TiesAway>(x, i, args, cursor, acc, out);
        }
        acc.endRun();
        return;
    }
    for (int step = 0; step < kSteps; step += batch) {
        const I first = base + I(step) * kLanes;
        float v[batch];
#pragma unroll
        for (int j = 0; j < batch; ++j)
            v[j] = __ldcs(x + first + j * kLanes);
        bool finite = args.reconstructionFinite;
        if constexpr (!LaneSums::kChecksRuns) {
#pragma unroll
            for (int j = 0; j < batch; ++j)
                finite = finite && finiteBits(__float_as_uint(v[j]));
        }
        float y[batch];
        bool clipped[batch];
        // A batch of finite x: the finite arithmetic, with each pair's group values from `groupOf`.
        const auto finiteBatch = [&](auto groupOf) {
#pragma unroll
            for (int j = 0; j < batch; j += 2) {
                // In element order: the cursor only moves forward.
                const GroupValues p0 = groupOf(j);
                const GroupValues p1 = groupOf(j + 1);
                float pair[2];
                bool pairClipped[2];
                fakeQuantPair<Kind, Divide, TiesAway, true>(
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
        if (finite && cursor.spans(args, first, first + (batch - 1) * kLanes)) {
            const GroupValues p = cursor.values;
            finiteBatch([&](int) { return p; });
        } else if (finite) {
            // Groups shorter than the batch's span of 8 · 16 elements: the values of each element's group.
            finiteBatch([&](int j) { return cursor.at(args, first + j * kLanes); });
        } else {
            for (int j = 0; j < batch; j += 2) {
                const GroupValues p0 = cursor.at(args, first + j * kLanes);
                const GroupValues p1 = cursor.at(args, first + (j + 1) * kLanes);
                float pair[2];
                bool pairClipped[2];
                fakeQuantPair<Kind, Divide, TiesAway, false>(
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
                if (args.reconstructionFinite && !acc.runFinite()) {
                    // The run's elements again, element by element with their own group cursor (the batch
                    // cursor has moved on).
                    acc.restartRun();
                    GroupCursor<Pattern> again(args, c);
                    for (I i = first + I(batch - kRunSteps) * kLanes; i <= first + I(batch - 1) * kLanes;
                         i += kLanes)
                        addElement<Kind, Pattern, Divide, Write, TiesAway>(x, i, args, again, acc, out);
                }
            }
            acc.endRun();
        }
    }
}

/// The totals of a chunk from its 16 lanes (kernels.h: the lane sums in lane order 0..15), in every lane.
template<class LaneSums> __device__ ChunkSums chunkTotals(const LaneSums& acc)
{
    ChunkSums result;
    for (int s = 0; s < kSumCount; ++s) {
        double sum = 0;
        for (int l = 0; l < kLanes; ++l)
            sum = __dadd_rn(sum, __shfl_sync(kFullMask, acc.sum(s), l, kLanes));
        result.sums[s] = sum;
    }
    double maxAbsError = acc.maxError();
    unsigned long long count = acc.count;
    unsigned long long clipped = acc.clipped;
    unsigned long long nonFinite = acc.nonFinite;
    for (int offset = kLanes / 2; offset > 0; offset /= 2) {
        maxAbsError = fmax(maxAbsError, __shfl_xor_sync(kFullMask, maxAbsError, offset, kLanes));
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
    return result;
}

/// Per chunk (16 threads, half a warp), the scalar backend's order: lane l adds the elements
/// base + l + 16·k in index order; then the 16 lane sums are added in lane order 0..15. A warp takes two
/// consecutive chunks per iteration, so that its halves stay converged for the shuffles. The total
/// (TotalMode): writing x̂ (Counts), each block adds its chunks' max and counts into *total (zeroed before)
/// with atomics; otherwise with `total` (Overlapped), the warps that complete a span or the whole also add
/// them (completeSpans), without it totalKernel adds the chunk records afterwards (AfterChunks). The
/// counts live only in the kernels that write x̂: a block tally's registers slowed the sums' kernels 3-5%.
template<ElementKind Kind, GroupPattern Pattern, bool Divide, bool Write>
__global__ void __launch_bounds__(kBlockThreads, kChunkBlocksPerSm)
    chunkKernel(const float* __restrict__ x, I n, FakeQuantArgs args, ChunkSums* __restrict__ chunks,
        float* __restrict__ out, ChunkSums* __restrict__ total)
{
    if constexpr (Kind == ElementKind::Table || Kind == ElementKind::MagnitudeTable) {
        if (args.grid.bins != nullptr)
            loadTableBins(args.grid.bins);
    }
    const I chunkTotal = (n + kChunk - 1) / kChunk;
    const I producer = blockIdx.x;
    const I producers = gridDim.x;
    const int lane = static_cast<int>(threadIdx.x) % kLanes;
    Counts tally {0, 0, 0, 0};
    for (I pair = producer * kWarps + threadIdx.x / 32; 2 * pair < chunkTotal; pair += producers * kWarps) {
        const I c = 2 * pair + (threadIdx.x / kLanes) % 2;
        constexpr bool roundsTies = Kind == ElementKind::Integer || Kind == ElementKind::Minifloat;
        const bool tiesAway = roundsTies && args.grid.tiesAway;
        const auto process = [&](auto& acc, float* target) {
            if (c >= chunkTotal)
                return;
            if (tiesAway)
                processChunk<Kind, Pattern, Divide, Write, roundsTies>(x, n, c, lane, args, acc, target);
            else
                processChunk<Kind, Pattern, Divide, Write, false>(x, n, c, lane, args, acc, target);
        };
        __shared__ double laneSums[kSumCount * kBlockThreads];
        RunLaneSums acc(laneSums + threadIdx.x);
        process(acc, out);
        ChunkSums result = chunkTotals(acc);
        if constexpr (!Write) {
            // Rare (kernels.h): both chunks of the warp take part in the shuffles, only the one that needs it
            // adds its elements again.
            const bool again = c < chunkTotal && floatRunsInaccurate(result.sums);
            if (__any_sync(kFullMask, again)) {
                DoubleLaneSums exact;
                if (again)
                    process(exact, nullptr);
                const ChunkSums exactResult = chunkTotals(exact);
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

template<ElementKind Kind, GroupPattern Pattern>
void launchChunks(const float* x, I n, const FakeQuantPlan& plan, const ChunkTargets& to, unsigned grid,
    cudaStream_t stream)
{
    const auto launch = [&](auto kernel) {
        kernel<<<grid, kBlockThreads, 0, stream>>>(x, n, plan.args, to.chunks, to.out, to.total);
    };
    if (plan.divide)
        to.out ? launch(chunkKernel<Kind, Pattern, true, true>)
               : launch(chunkKernel<Kind, Pattern, true, false>);
    else
        to.out ? launch(chunkKernel<Kind, Pattern, false, true>)
               : launch(chunkKernel<Kind, Pattern, false, false>);
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
        launchChunks<Kind, GroupPattern::Run>(x, n, plan, to, grid, stream);
        return;
    case GroupPattern::General:
        launchChunks<Kind, GroupPattern::General>(x, n, plan, to, grid, stream);
        return;
    }
}

/// The element kind of a minifloat that qs::quantize rounds on the float bits: the hardware FP8 conversion
/// where it gives the same codes (ties to even, saturated to the format's own largest value), otherwise the
/// bit rounding.
ElementKind minifloatKind(const NumberFormat& format, const MinifloatSpec& spec)
{
    if (format.minifloat.rounding != Rounding::NearestEven)
        return ElementKind::Minifloat;
    if (spec == MinifloatSpec {4, 3, 7, MinifloatSpecials::NanOnlyFn} && formatMaxFinite(format) == 448.0)
        return ElementKind::E4M3Hardware;
    if (spec == MinifloatSpec {5, 2, 15, MinifloatSpecials::Ieee} && formatMaxFinite(format) == 57344.0)
        return ElementKind::E5M2Hardware;
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
    }
    if (indexer.narrow) {
        // Every divisor below is at most n < 2^32.
        indexer.runDivider = FastDivider::make(static_cast<std::uint32_t>(std::max<I>(run, 1)));
        if (indexer.layout == GroupIndexer::Layout::GroupLast) {
            indexer.lengthDivider = FastDivider::make(static_cast<std::uint32_t>(g.length));
            indexer.sizeDivider = FastDivider::make(static_cast<std::uint32_t>(g.size));
        }
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
    std::vector<float> inverses(scales.size());
    for (std::size_t g = 0; g < scales.size(); ++g) {
        inverses[g] = 1.0f / scales[g];
        if (!(scales[g] > 0) || !std::isfinite(scales[g]) || !std::isfinite(inverses[g]))
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
        if (const kernel_detail::TableBins bins = kernel_detail::tableBins(thresholds, kTableBins, 1);
            bins.count == kTableBins) {
            const std::vector<int4> entries = binEntries(bins, [&](int region) {
                return std::bit_cast<int>(table[std::min<std::size_t>(region, table.size() - 1)]);
            });
            plan.bins = DeviceBuffer<int4>::from(entries);
            grid.bins = plan.bins.get();
            grid.binScale = bins.scale;
            grid.binOffset = bins.offset;
        }
        nonFiniteUnits(format, grid);
    } else {
        const auto& minifloat = std::get<MinifloatSpec>(format.spec);
        grid.mantissaBits = minifloat.mantissaBits;
        grid.bias = minifloat.bias;
        grid.tiesAway = format.minifloat.rounding == Rounding::NearestAway;
        largestUnit = static_cast<float>(formatMaxFinite(format));
        grid.maxBits = std::bit_cast<std::uint32_t>(largestUnit);
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
            plan.args.single[1] = inverses[0];
            plan.args.single[2] = zeroPointValues.empty() ? 0.0f : zeroPointValues[0];
        }
        return plan;
    }
    plan.scales = DeviceBuffer<float>::from(scales);
    plan.inverses = DeviceBuffer<float>::from(inverses);
    plan.zeroPoints = DeviceBuffer<float>::from(zeroPointValues);
    plan.args.scales = plan.scales.get();
    plan.args.inverses = plan.inverses.get();
    plan.args.zeroPoints = zeroPoints.empty() ? nullptr : plan.zeroPoints.get();
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
    case ElementKind::E4M3Hardware:
        launchChunks<ElementKind::E4M3Hardware>(x, n, plan, to, grid, stream);
        break;
    case ElementKind::E5M2Hardware:
        launchChunks<ElementKind::E5M2Hardware>(x, n, plan, to, grid, stream);
        break;
    case ElementKind::Table:
        launchChunks<ElementKind::Table>(x, n, plan, to, grid, stream);
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
