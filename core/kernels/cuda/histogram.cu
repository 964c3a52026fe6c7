#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda_kernels.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

namespace qs::cuda {

namespace {

/// Shared-memory budget of the per-block counts (the default 48 KiB, no opt-in needed).
constexpr int kSharedBins = 12288;
/// Per-block copies of the counts are filled by warp (warp w uses copy w % replicas) to spread atomic
/// conflicts; up to this many while they fit in 32 KiB.
constexpr int kMaxReplicas = 8;
constexpr int kReplicaBins = 8192;

/// Whether v lies in [lo, hi] (false for NaN and ±Inf: lo and hi are finite).
template<bool FloatPath> __device__ bool inRange(float v, const HistogramPlan& plan)
{
    if constexpr (FloatPath)
        return v >= plan.loFloat && v <= plan.hiFloat;
    else
        return static_cast<double>(v) >= plan.lo && static_cast<double>(v) <= plan.hi;
}

/// The bin of v in [lo, hi] by the double expression (cuda_kernels.h).
__device__ unsigned doubleBin(float v, const HistogramPlan& plan)
{
    const auto last = static_cast<unsigned>(plan.bins - 1);
    if (plan.degenerate)
        return last;
    const double position = __dmul_rn(__dsub_rn(static_cast<double>(v), plan.lo), plan.scale);
    return position < static_cast<double>(last) ? static_cast<unsigned>(position) : last;
}

/// The float path's bin of v when `sure`: v in [lo, hi] and the float position farther than bins · 2^-20
/// from an integer, where it floors to the double expression's bin (cuda_kernels.h). position = (v - lo) ·
/// scale lies in [0, bins · (1 + 2^-22)] with bins <= 2^20, so adding 2^23 rounding down gives 2^23 +
/// floor(position) exactly, its mantissa bits the integer. A position of bins or more is within
/// bins · 3·2^-24 of bins, so never sure: a sure bin is at most bins - 1. NaN and ±Inf are never in range.
__device__ unsigned floatBin(float v, const HistogramPlan& plan, bool& sure)
{
    constexpr float kOrigin = 8388608.0f;
    const float position = __fmul_rn(__fsub_rn(v, plan.loFloat), plan.scaleFloat);
    const float biased = __fadd_rd(position, kOrigin);
    const float fraction = __fsub_rn(position, __fsub_rn(biased, kOrigin));
    sure = v >= plan.loFloat && v <= plan.hiFloat && fraction > plan.margin && fraction < plan.upperMargin;
    return __float_as_uint(biased) - __float_as_uint(kOrigin);
}

/// `Shared`: bin counts privatised per block in `replicas` shared uint32 copies, added to `counts` at the
/// end; otherwise int64 atomics straight to `counts`. Below, above and non-finite are counted per thread and
/// added to counts[bins], [bins + 1], [bins + 2] once per warp. The float path takes 8 values at a time and
/// counts those it is sure of at once, without a branch; the others (out of range, non-finite, or near a
/// bin edge: rare in most data) are marked and counted afterwards by the full tests.
template<bool FloatPath, bool Shared, bool Absolute>
__global__ void __launch_bounds__(kBlockThreads) histogramKernel(const float* __restrict__ x, I n,
    HistogramPlan plan, int replicas, unsigned long long* __restrict__ counts)
{
    extern __shared__ unsigned int local[];
    if constexpr (Shared) {
        for (int b = static_cast<int>(threadIdx.x); b < replicas * plan.bins; b += kBlockThreads)
            local[b] = 0;
        __syncthreads();
    }
    unsigned int* mine = local + ((threadIdx.x >> 5) % static_cast<unsigned>(replicas)) * plan.bins;
    const auto add = [&](unsigned bin) {
        if constexpr (Shared)
            atomicAdd(mine + bin, 1u);
        else
            atomicAdd(counts + bin, 1ull);
    };
    // A thread sees at most 2^30 / kBlockThreads values (launch), so uint32 counts cannot overflow.
    unsigned outside[3] = {0, 0, 0}; // below, above, non-finite
    const auto countFully = [&](float raw) {
        const float v = Absolute ? fabsf(raw) : raw;
        if (inRange<FloatPath>(v, plan))
            add(doubleBin(v, plan));
        else if (!finiteBits(__float_as_uint(raw)))
            ++outside[2];
        else if (FloatPath ? v < plan.loFloat : static_cast<double>(v) < plan.lo)
            ++outside[0];
        else
            ++outside[1];
    };
    const auto countValues = [&]<int N>(const float(&raw)[N]) {
        if constexpr (FloatPath) {
            unsigned unsure = 0;
#pragma unroll
            for (int k = 0; k < N; ++k) {
                bool sure;
                const unsigned bin = floatBin(Absolute ? fabsf(raw[k]) : raw[k], plan, sure);
                if (sure)
                    add(bin);
                else
                    unsure |= 1u << k;
            }
            if (unsure != 0) {
#pragma unroll
                for (int k = 0; k < N; ++k)
                    if (unsure & (1u << k))
                        countFully(raw[k]);
            }
        } else {
#pragma unroll
            for (int k = 0; k < N; ++k)
                countFully(raw[k]);
        }
    };
    const I stride = I(gridDim.x) * kBlockThreads;
    const I quads = n / 4;
    const auto* q = reinterpret_cast<const float4*>(x);
    I k = I(blockIdx.x) * kBlockThreads + threadIdx.x;
    for (; k + stride < quads; k += 2 * stride) {
        const float4 a = __ldcs(q + k);
        const float4 b = __ldcs(q + k + stride);
        const float values[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
        countValues(values);
    }
    for (; k < quads; k += stride) {
        const float4 a = __ldcs(q + k);
        const float values[4] = {a.x, a.y, a.z, a.w};
        countValues(values);
    }
    for (I i = 4 * quads + I(blockIdx.x) * kBlockThreads + threadIdx.x; i < n; i += stride) {
        const float values[1] = {x[i]};
        countValues(values);
    }
    for (int k = 0; k < 3; ++k) {
        const unsigned long long sum = __reduce_add_sync(kFullMask, outside[k]);
        if ((threadIdx.x & 31) == 0 && sum != 0)
            atomicAdd(counts + plan.bins + k, sum);
    }
    if constexpr (Shared) {
        __syncthreads();
        for (int b = static_cast<int>(threadIdx.x); b < plan.bins; b += kBlockThreads) {
            unsigned sum = 0;
            for (int r = 0; r < replicas; ++r)
                sum += local[r * plan.bins + b];
            if (sum != 0)
                atomicAdd(counts + b, static_cast<unsigned long long>(sum));
        }
    }
}

template<bool FloatPath, bool Shared, bool Absolute>
void launch(const float* x, I n, const HistogramPlan& plan, int replicas, unsigned long long* counts,
    cudaStream_t stream)
{
    const auto kernel = histogramKernel<FloatPath, Shared, Absolute>;
    const std::size_t shared = Shared ? std::size_t(replicas) * std::size_t(plan.bins) * sizeof(unsigned) : 0;
    int perSm = 0;
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, kernel, kBlockThreads, shared),
        "occupancy query");
    // A block counts at most 2^30 values so that its uint32 counts cannot overflow.
    const I needed = std::max<I>((n + (I(1) << 30) - 1) >> 30, 1);
    const I fill = I(std::max(perSm, 1)) * multiprocessorCount();
    const I useful = std::max<I>((n / 4 + kBlockThreads - 1) / kBlockThreads, 1);
    const I blocks = std::max(needed, std::min(fill, useful));
    kernel<<<static_cast<unsigned>(blocks), kBlockThreads, shared, stream>>>(x, n, plan, replicas, counts);
    checkLaunch("histogram kernel");
}

} // namespace

HistogramPlan histogramPlan(int bins, double lo, double hi, bool absolute)
{
    if (bins < 1 || bins > (1 << 24))
        throw Error("histogram bin count " + std::to_string(bins) + " is outside 1..16777216");
    if (!std::isfinite(lo) || !std::isfinite(hi) || hi < lo)
        throw Error("histogram range [" + std::to_string(lo) + ", " + std::to_string(hi)
            + "] is not a valid interval");
    HistogramPlan plan;
    plan.bins = bins;
    plan.absolute = absolute;
    plan.lo = lo;
    plan.hi = hi;
    const double width = hi - lo;
    plan.degenerate = !(width > 0);
    plan.scale = plan.degenerate ? 0.0 : bins / width;
    plan.loFloat = static_cast<float>(lo);
    plan.hiFloat = static_cast<float>(hi);
    plan.scaleFloat = static_cast<float>(plan.scale);
    plan.margin = std::ldexp(static_cast<float>(bins), -20);
    plan.upperMargin = 1.0f - plan.margin;
    plan.floatPath = !plan.degenerate && bins <= (1 << 20) && static_cast<double>(plan.loFloat) == lo
        && static_cast<double>(plan.hiFloat) == hi && std::isfinite(plan.scaleFloat)
        && plan.scaleFloat >= FLT_MIN;
    return plan;
}

void launchHistogram(
    const float* x, I n, const HistogramPlan& plan, unsigned long long* counts, cudaStream_t stream)
{
    check(cudaMemsetAsync(counts, 0, (std::size_t(plan.bins) + 3) * sizeof(unsigned long long), stream),
        "cudaMemsetAsync");
    if (n == 0)
        return;
    int replicas = 0;
    if (plan.bins <= kSharedBins) {
        replicas = 1;
        while (replicas < kMaxReplicas && 2 * replicas * plan.bins <= kReplicaBins)
            replicas *= 2;
    }
    const auto run = [&]<bool Shared>() {
        if (plan.floatPath && plan.absolute)
            launch<true, Shared, true>(x, n, plan, std::max(replicas, 1), counts, stream);
        else if (plan.floatPath)
            launch<true, Shared, false>(x, n, plan, std::max(replicas, 1), counts, stream);
        else if (plan.absolute)
            launch<false, Shared, true>(x, n, plan, std::max(replicas, 1), counts, stream);
        else
            launch<false, Shared, false>(x, n, plan, std::max(replicas, 1), counts, stream);
    };
    if (replicas == 0)
        run.template operator()<false>();
    else
        run.template operator()<true>();
}

} // namespace qs::cuda

namespace qs {

Histogram cudaHistogram(std::span<const float> values, int bins, double lo, double hi, bool absolute, int)
{
    const cuda::HistogramPlan plan = cuda::histogramPlan(bins, lo, hi, absolute);
    Histogram h;
    h.lo = lo;
    h.hi = hi;
    h.absolute = absolute;
    h.counts.assign(static_cast<std::size_t>(bins), 0);
    if (values.empty())
        return h;
    const auto x = cuda::DeviceBuffer<float>::from(values);
    cuda::DeviceBuffer<unsigned long long> counts(static_cast<std::size_t>(bins) + 3);
    cuda::launchHistogram(x.get(), static_cast<cuda::I>(values.size()), plan, counts.get(), nullptr);
    std::vector<unsigned long long> host(static_cast<std::size_t>(bins) + 3);
    cuda::download(host.data(), counts.get(), host.size());
    for (std::size_t b = 0; b < h.counts.size(); ++b)
        h.counts[b] = static_cast<std::int64_t>(host[b]);
    h.below = static_cast<std::int64_t>(host[h.counts.size()]);
    h.above = static_cast<std::int64_t>(host[h.counts.size() + 1]);
    h.nonFinite = static_cast<std::int64_t>(host[h.counts.size() + 2]);
    return h;
}

std::vector<std::int64_t> cudaHistogram(
    std::span<const float> values, int bins, float lo, float hi, bool absolute)
{
    return cudaHistogram(values, bins, static_cast<double>(lo), static_cast<double>(hi), absolute, 0).counts;
}

} // namespace qs
