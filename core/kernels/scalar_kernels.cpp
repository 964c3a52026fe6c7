// The scalar backend: the readable reference the SIMD and CUDA backends are tested against. One element at a
// time, in index order, with the quantizer's own element rounding (quant/scale_rounding.h).

// x + a·b must round a·b before the add, as in the SIMD backend (kernels.h, accumulation order).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "kernels/kernel_backends.h"
#include "quant/block_formats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qs::kernel_detail {

namespace {

using I = std::int64_t;

MinMaxPartial minMaxRange(const float* x, I n)
{
    MinMaxPartial partial;
    for (I i = 0; i < n; ++i) {
        if (!isFiniteFloat(x[i])) {
            ++partial.nonFinite;
            continue;
        }
        const std::int32_t key = orderedKey(x[i]);
        partial.minKey = std::min(partial.minKey, key);
        partial.maxKey = std::max(partial.maxKey, key);
    }
    return partial;
}

void histogramRange(const float* x, I n, const HistogramPlan& plan, std::int64_t* counts)
{
    for (I i = 0; i < n; ++i) {
        if (!isFiniteFloat(x[i])) {
            ++counts[plan.nonFinite()];
            continue;
        }
        const double v = plan.absolute ? std::fabs(static_cast<double>(x[i])) : static_cast<double>(x[i]);
        if (v < plan.lo) {
            ++counts[plan.below()];
        } else if (v > plan.hi) {
            ++counts[plan.above()];
        } else if (plan.scale == 0) {
            ++counts[plan.bins - 1];
        } else {
            const double position = (v - plan.lo) * plan.scale;
            ++counts[std::min(static_cast<I>(position), static_cast<I>(plan.bins - 1))];
        }
    }
}

/// Round-to-integer as the quantizer's roundSmall: |v| < 2^22 after its clamp, so adding 1.5·2^23 leaves no
/// fraction bits and the FPU's round-to-nearest-even does the work; ties-away corrects exact halves.
float roundIntegral(float v, bool tiesAway)
{
    constexpr float kMagic = 12582912.0f; // 1.5 * 2^23
    float rounded = (v + kMagic) - kMagic;
    if (tiesAway) {
        const float below = v - rounded;
        rounded += (v > 0 && below == 0.5f) ? 1.0f : 0.0f;
        rounded -= (v < 0 && below == -0.5f) ? 1.0f : 0.0f;
    }
    return rounded;
}

/// x̂ of one finite x, exactly as the quantizer's quantizePass; `clipped` as its clippedCount counts.
float fakeQuantize(const FakeQuantPlan& plan, const GroupParams& p, float x, bool& clipped)
{
    const float v = plan.divide ? x / p.scale : x * p.inverse;
    switch (plan.kind) {
    case ElementKind::Integer: {
        // A NaN v (a block whose scale is NaN) gives x̂ = NaN through the scale whatever its code.
        const float bounded = std::isnan(v) ? 0.0f
                                            : std::clamp(v, static_cast<float>(plan.qmin - p.zeroPoint - 1),
                                                static_cast<float>(plan.qmax - p.zeroPoint + 1));
        std::int32_t code = static_cast<std::int32_t>(roundIntegral(bounded, plan.tiesAway)) + p.zeroPoint;
        clipped = plan.clipBeforeRounding ? v > p.high || v < p.low : code < plan.qmin || code > plan.qmax;
        code = std::clamp(code, plan.qmin, plan.qmax);
        return static_cast<float>(code - p.zeroPoint) * p.scale;
    }
    case ElementKind::Minifloat: {
        const std::uint32_t bits = detail::floatBits(v);
        const std::uint32_t sign = bits & 0x80000000u;
        std::uint32_t rounded = plan.rounder.roundBits(bits & 0x7FFFFFFFu);
        clipped = (plan.clipBeforeRounding ? bits & 0x7FFFFFFFu : rounded) > plan.rounder.maxBits;
        rounded = std::min(rounded, plan.rounder.maxBits);
        return detail::bitsFloat(rounded | sign) * p.scale;
    }
    case ElementKind::Table: {
        const std::int32_t key = orderedKey(v);
        std::size_t region = 0;
        while (region < plan.thresholds.size() && key >= plan.thresholds[region])
            ++region;
        clipped = key > plan.highestKey || key < plan.lowestKey;
        return plan.values[region] * p.scale;
    }
    case ElementKind::GgmlOffset: {
        const float truncated = std::trunc(v + plan.truncationOffset);
        const auto top = static_cast<float>(plan.qmax);
        clipped = truncated > top;
        return (std::min(truncated, top) - (plan.truncationOffset - 0.5f)) * p.scale;
    }
    }
    return 0;
}

/// x̂ of the elements [begin, end) of one chunk into y[0, end - begin) (anything where x is not finite) and
/// how many clipped.
I reconstructChunk(const FakeQuantPlan& plan, const float* x, I begin, I end, float* y)
{
    I clipped = 0;
    GroupCursor cursor(plan, begin);
    for (I i = begin; i < end; ++i) {
        while (i >= cursor.end)
            cursor.advance();
        bool clip = false;
        y[i - begin] = isFiniteFloat(x[i]) ? fakeQuantize(plan, cursor.params(), x[i], clip) : 0.0f;
        clipped += clip;
    }
    return clipped;
}

/// The float-run sums of kernels.h of x[begin, end) against y[0, end - begin), one element at a time.
ChunkErrorSums floatRunSums(const float* x, const float* y, I begin, I end)
{
    ChunkErrorSums chunk;
    double lanes[kSumCount][kKernelLanes] = {};
    float runs[kSumCount][kKernelLanes] = {};
    const auto foldRuns = [&] {
        for (int s = 0; s < kSumCount; ++s)
            for (int lane = 0; lane < kKernelLanes; ++lane) {
                lanes[s][lane] += static_cast<double>(runs[s][lane]);
                runs[s][lane] = 0;
            }
    };
    float maxError = 0;
    for (I i = begin; i < end; ++i) {
        if (i > begin && (i - begin) % kKernelRun == 0)
            foldRuns();
        if (!isFiniteFloat(x[i])) {
            ++chunk.nonFinite;
            continue;
        }
        const float xhat = y[i - begin];
        float error = std::fabs(x[i] - xhat);
        if (std::isnan(error))
            error = std::numeric_limits<float>::infinity();
        const auto lane = static_cast<std::size_t>(i % kKernelLanes);
        runs[kSquaredError][lane] = std::fma(error, error, runs[kSquaredError][lane]);
        runs[kAbsError][lane] += error;
        runs[kSquaredSignal][lane] = std::fma(x[i], x[i], runs[kSquaredSignal][lane]);
        runs[kAbsSignal][lane] += std::fabs(x[i]);
        if (isFiniteFloat(xhat)) {
            runs[kProduct][lane] = std::fma(x[i], xhat, runs[kProduct][lane]);
            runs[kSquaredRecon][lane] = std::fma(xhat, xhat, runs[kSquaredRecon][lane]);
        }
        maxError = std::max(maxError, error);
        ++chunk.count;
    }
    foldRuns();
    addLanes(lanes, chunk);
    chunk.maxAbsError = maxError;
    return chunk;
}

ChunkErrorSums fakeQuantChunk(const FakeQuantPlan& plan, const float* x, I begin, I end)
{
    float y[kKernelChunk];
    const I clipped = reconstructChunk(plan, x, begin, end, y);
    ChunkErrorSums chunk = floatRunSums(x, y, begin, end);
    chunk.clipped = clipped;
    return chunk;
}

void blockAbsmaxRange(const FakeQuantPlan& plan, const float* x, I first, I last, MinMaxResult* out)
{
    for (I g = first; g < last; ++g) {
        const I row = g / plan.perRow;
        const I start = (g - row * plan.perRow) * plan.groupSize;
        const float* block = x + row * plan.rowLength + start;
        const I n = std::min(plan.groupSize, plan.rowLength - start);
        MinMaxResult r;
        for (I i = 0; i < n; ++i) {
            if (isFiniteFloat(block[i]))
                r.absmax = std::max(r.absmax, std::fabs(block[i]));
            else
                ++r.nonFinite;
        }
        out[g - first] = r;
    }
}

void groupMinMaxRange(const FakeQuantPlan& plan, const float* x, I first, I last, MinMaxPartial* out)
{
    for (I g = first; g < last; ++g) {
        const auto [begin, end] = rowGroupRange(plan, g);
        out[g - first] = minMaxRange(x + begin, end - begin);
    }
}

bool blockParamsRange(const FakeQuantPlan& plan, const BlockScaler& scaler, float largest, const float* x,
    I first, I last, MinMaxResult* scratch, GroupParams* out)
{
    blockAbsmaxRange(plan, x, first, last, scratch);
    return scalerBlockParams(scaler, plan, largest, scratch, last - first, out);
}

std::uint32_t streamRead(const float* x, I n)
{
    std::uint32_t sum = 0;
    for (I i = 0; i < n; ++i)
        sum += detail::floatBits(x[i]);
    return sum;
}

} // namespace

ChunkErrorSums doubleErrorChunk(const float* x, const float* y, std::int64_t begin, std::int64_t end)
{
    ChunkErrorSums chunk;
    double lanes[kSumCount][kKernelLanes] = {};
    for (I i = begin; i < end; ++i) {
        if (!isFiniteFloat(x[i])) {
            ++chunk.nonFinite;
            continue;
        }
        const double xd = x[i];
        const double yd = y[i - begin];
        double error = std::fabs(xd - yd);
        if (std::isnan(error))
            error = std::numeric_limits<double>::infinity();
        const auto lane = static_cast<std::size_t>(i % kKernelLanes);
        lanes[kSquaredError][lane] += error * error;
        lanes[kAbsError][lane] += error;
        lanes[kSquaredSignal][lane] += xd * xd;
        lanes[kAbsSignal][lane] += std::fabs(xd);
        if (std::isfinite(yd)) {
            lanes[kProduct][lane] += xd * yd;
            lanes[kSquaredRecon][lane] += yd * yd;
        }
        chunk.maxAbsError = std::max(chunk.maxAbsError, error);
        ++chunk.count;
    }
    addLanes(lanes, chunk);
    return chunk;
}

ChunkErrorSums doubleSumsChunk(
    const FakeQuantPlan& plan, const float* x, std::int64_t begin, std::int64_t end)
{
    float y[kKernelChunk];
    const I clipped = reconstructChunk(plan, x, begin, end, y);
    ChunkErrorSums chunk = doubleErrorChunk(x, y, begin, end);
    chunk.clipped = clipped;
    return chunk;
}

const CpuKernels& scalarKernels()
{
    static const CpuKernels kernels {"scalar C++", &minMaxRange, &histogramRange, &fakeQuantChunk,
        &floatRunSums, &streamRead, &blockAbsmaxRange, &groupMinMaxRange, &blockParamsRange,
        &blockformat::torchCpuMeanAbs};
    return kernels;
}

} // namespace qs::kernel_detail
