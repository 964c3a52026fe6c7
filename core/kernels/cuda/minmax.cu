#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda_kernels.h"

#include <algorithm>
#include <bit>
#include <string>
#include <vector>

namespace qs::cuda {

namespace {

/// Elements one warp reduces before it merges into its row: rows up to this long take one warp and one
/// plain store, longer rows are split and merged with integer atomics (order-independent: keys and counts).
constexpr I kSegment = 8192;
constexpr std::uint32_t kNoMinKey = 0xFFFFFFFFu;

struct Extremes {
    std::uint32_t minKey = kNoMinKey;
    std::uint32_t maxKey = 0;
    std::uint32_t absBits = 0;
    std::uint32_t nonFinite = 0;

    __device__ void add(float v)
    {
        const std::uint32_t bits = __float_as_uint(v);
        if (!finiteBits(bits)) {
            ++nonFinite;
            return;
        }
        const std::uint32_t key = orderedKey(bits);
        minKey = min(minKey, key);
        maxKey = max(maxKey, key);
        absBits = max(absBits, bits & 0x7FFFFFFFu);
    }

    __device__ void add(const float4& v)
    {
        add(v.x);
        add(v.y);
        add(v.z);
        add(v.w);
    }
};

__global__ void initRowsKernel(RowKeys* out, I rows)
{
    for (I r = I(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += I(gridDim.x) * blockDim.x)
        out[r] = {kNoMinKey, 0, 0, 0, 0};
}

/// One warp per segment of a row; `Vector`: the row starts and the segment length are multiples of 4 floats
/// and x is 16-byte aligned.
template<bool Vector>
__global__ void __launch_bounds__(kBlockThreads) minMaxRowsKernel(
    const float* __restrict__ x, I rows, I cols, I segmentsPerRow, I segmentLength, RowKeys* __restrict__ out)
{
    const int lane = static_cast<int>(threadIdx.x) & 31;
    const I warps = (I(gridDim.x) * blockDim.x) >> 5;
    const I segments = rows * segmentsPerRow;
    for (I s = (I(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; s < segments; s += warps) {
        const I row = s / segmentsPerRow;
        const I first = (s - row * segmentsPerRow) * segmentLength;
        const I count = min(segmentLength, cols - first);
        const float* p = x + row * cols + first;
        Extremes e;
        I k = lane;
        if constexpr (Vector) {
            const auto* q = reinterpret_cast<const float4*>(p);
            const I quads = count / 4;
            for (; k + 96 < quads; k += 128) {
                const float4 a = __ldcs(q + k);
                const float4 b = __ldcs(q + k + 32);
                const float4 c = __ldcs(q + k + 64);
                const float4 d = __ldcs(q + k + 96);
                e.add(a);
                e.add(b);
                e.add(c);
                e.add(d);
            }
            for (; k < quads; k += 32)
                e.add(__ldcs(q + k));
            k = 4 * quads + lane;
        }
        for (; k < count; k += 32)
            e.add(__ldcs(p + k));
        e.minKey = __reduce_min_sync(kFullMask, e.minKey);
        e.maxKey = __reduce_max_sync(kFullMask, e.maxKey);
        e.absBits = __reduce_max_sync(kFullMask, e.absBits);
        e.nonFinite = __reduce_add_sync(kFullMask, e.nonFinite);
        if (lane != 0)
            continue;
        if (segmentsPerRow == 1) {
            out[row] = {e.minKey, e.maxKey, e.absBits, 0, e.nonFinite};
            continue;
        }
        if (e.minKey != kNoMinKey) {
            atomicMin(&out[row].minKey, e.minKey);
            atomicMax(&out[row].maxKey, e.maxKey);
            atomicMax(&out[row].absBits, e.absBits);
        }
        if (e.nonFinite != 0)
            atomicAdd(&out[row].nonFinite, static_cast<unsigned long long>(e.nonFinite));
    }
}

/// Rows of at most 128 floats (a multiple of 4, 16-byte aligned): one float4 per lane, each warp loading
/// four consecutive rows before it reduces them, so that a warp has more than one load in flight.
__global__ void __launch_bounds__(kBlockThreads)
    minMaxShortRowsKernel(const float* __restrict__ x, I rows, I cols, RowKeys* __restrict__ out)
{
    constexpr int kRows = 4;
    const int lane = static_cast<int>(threadIdx.x) & 31;
    const I quads = cols / 4;
    const I warps = (I(gridDim.x) * blockDim.x) >> 5;
    const auto* q = reinterpret_cast<const float4*>(x);
    for (I first = ((I(blockIdx.x) * blockDim.x + threadIdx.x) >> 5) * kRows; first < rows;
         first += warps * kRows) {
        float4 v[kRows];
        for (int u = 0; u < kRows; ++u)
            if (first + u < rows && lane < quads)
                v[u] = __ldcs(q + (first + u) * quads + lane);
        for (int u = 0; u < kRows && first + u < rows; ++u) {
            Extremes e;
            if (lane < quads)
                e.add(v[u]);
            e.minKey = __reduce_min_sync(kFullMask, e.minKey);
            e.maxKey = __reduce_max_sync(kFullMask, e.maxKey);
            e.absBits = __reduce_max_sync(kFullMask, e.absBits);
            e.nonFinite = __reduce_add_sync(kFullMask, e.nonFinite);
            if (lane == 0)
                out[first + u] = {e.minKey, e.maxKey, e.absBits, 0, e.nonFinite};
        }
    }
}

} // namespace

void launchMinMaxRows(const float* x, I rows, I cols, RowKeys* out, cudaStream_t stream)
{
    if (rows == 0)
        return;
    const int sms = multiprocessorCount();
    if (cols == 0) {
        initRowsKernel<<<static_cast<unsigned>(std::min<I>((rows + 255) / 256, 8 * sms)), 256, 0, stream>>>(
            out, rows);
        checkLaunch("min/max initialisation");
        return;
    }
    const I segmentLength = std::min(cols, kSegment);
    const I segmentsPerRow = (cols + segmentLength - 1) / segmentLength;
    if (segmentsPerRow > 1) {
        initRowsKernel<<<static_cast<unsigned>(std::min<I>((rows + 255) / 256, 8 * sms)), 256, 0, stream>>>(
            out, rows);
        checkLaunch("min/max initialisation");
    }
    const I warpsPerBlock = kBlockThreads / 32;
    const bool vector
        = cols % 4 == 0 && segmentLength % 4 == 0 && reinterpret_cast<std::uintptr_t>(x) % 16 == 0;
    if (vector && cols <= 128) {
        const I blocks = std::min<I>((rows + 4 * warpsPerBlock - 1) / (4 * warpsPerBlock), I(8) * sms);
        minMaxShortRowsKernel<<<static_cast<unsigned>(blocks), kBlockThreads, 0, stream>>>(
            x, rows, cols, out);
        checkLaunch("min/max kernel");
        return;
    }
    const I blocks = std::min<I>((rows * segmentsPerRow + warpsPerBlock - 1) / warpsPerBlock, I(8) * sms);
    if (vector)
        minMaxRowsKernel<true><<<static_cast<unsigned>(blocks), kBlockThreads, 0, stream>>>(
            x, rows, cols, segmentsPerRow, segmentLength, out);
    else
        minMaxRowsKernel<false><<<static_cast<unsigned>(blocks), kBlockThreads, 0, stream>>>(
            x, rows, cols, segmentsPerRow, segmentLength, out);
    checkLaunch("min/max kernel");
}

namespace {

/// A float's key for launchFiniteAbsKey: (bits & 0x7FFFFFFF) + 2^23 as int32, negative exactly for NaN and
/// ±Inf (an exponent field of 255 carries into the sign bit), so one signed max skips them.
__device__ inline std::int32_t finiteAbsKey(float v)
{
    return static_cast<std::int32_t>((__float_as_uint(v) & 0x7FFFFFFFu) + 0x00800000u);
}

__device__ inline std::int32_t finiteAbsKey(const float4& v)
{
    return max(max(finiteAbsKey(v.x), finiteAbsKey(v.y)), max(finiteAbsKey(v.z), finiteAbsKey(v.w)));
}

/// Grid-stride over x: quads (x 16-byte aligned) four at a time, then the rest one by one; one atomic max per
/// warp.
__global__ void __launch_bounds__(kBlockThreads)
    finiteAbsKeyKernel(const float* __restrict__ x, I n, std::int32_t* __restrict__ key)
{
    const I thread = I(blockIdx.x) * blockDim.x + threadIdx.x;
    const I threads = I(gridDim.x) * blockDim.x;
    std::int32_t best = 0;
    I rest = 0;
    if (reinterpret_cast<std::uintptr_t>(x) % 16 == 0) {
        const auto* q = reinterpret_cast<const float4*>(x);
        const I quads = n / 4;
        I k = thread;
        for (; k + 3 * threads < quads; k += 4 * threads) {
            const float4 a = __ldcs(q + k);
            const float4 b = __ldcs(q + k + threads);
            const float4 c = __ldcs(q + k + 2 * threads);
            const float4 d = __ldcs(q + k + 3 * threads);
            best = max(
                best, max(max(finiteAbsKey(a), finiteAbsKey(b)), max(finiteAbsKey(c), finiteAbsKey(d))));
        }
        for (; k < quads; k += threads)
            best = max(best, finiteAbsKey(__ldcs(q + k)));
        rest = 4 * quads;
    }
    for (I i = rest + thread; i < n; i += threads)
        best = max(best, finiteAbsKey(__ldcs(x + i)));
    best = __reduce_max_sync(kFullMask, best);
    if ((threadIdx.x & 31) == 0 && best > 0)
        atomicMax(key, best);
}

} // namespace

void launchFiniteAbsKey(const float* x, I n, std::int32_t* key, cudaStream_t stream)
{
    check(cudaMemsetAsync(key, 0, sizeof(std::int32_t), stream), "cudaMemsetAsync");
    if (n == 0)
        return;
    const I blocks
        = std::min<I>((n / 4 + kBlockThreads - 1) / kBlockThreads + 1, I(8) * multiprocessorCount());
    finiteAbsKeyKernel<<<static_cast<unsigned>(blocks), kBlockThreads, 0, stream>>>(x, n, key);
    checkLaunch("absmax kernel");
}

MinMaxResult minMaxResult(const RowKeys& keys)
{
    MinMaxResult result;
    result.nonFinite = static_cast<std::int64_t>(keys.nonFinite);
    if (keys.minKey == kNoMinKey)
        return result;
    result.min = std::bit_cast<float>(keyBits(keys.minKey));
    result.max = std::bit_cast<float>(keyBits(keys.maxKey));
    result.absmax = std::bit_cast<float>(keys.absBits);
    return result;
}

} // namespace qs::cuda

namespace qs {

std::vector<MinMaxResult> cudaMinMaxRows(
    std::span<const float> values, std::int64_t rows, std::int64_t cols, int)
{
    if (rows < 0 || cols < 0 || (cols > 0 && rows > static_cast<std::int64_t>(values.size()) / cols)
        || rows * cols != static_cast<std::int64_t>(values.size()))
        throw Error("cannot view " + std::to_string(values.size()) + " values as " + std::to_string(rows)
            + " rows of " + std::to_string(cols));
    std::vector<MinMaxResult> results(static_cast<std::size_t>(rows));
    if (values.empty())
        return results;
    const auto x = cuda::DeviceBuffer<float>::from(values);
    cuda::DeviceBuffer<cuda::RowKeys> keys(static_cast<std::size_t>(rows));
    cuda::launchMinMaxRows(x.get(), rows, cols, keys.get(), nullptr);
    std::vector<cuda::RowKeys> host(static_cast<std::size_t>(rows));
    cuda::download(host.data(), keys.get(), host.size());
    for (std::size_t r = 0; r < host.size(); ++r)
        results[r] = cuda::minMaxResult(host[r]);
    return results;
}

MinMaxResult cudaMinMax(std::span<const float> values, int)
{
    if (values.empty())
        return {};
    return cudaMinMaxRows(values, 1, static_cast<std::int64_t>(values.size())).front();
}

} // namespace qs
