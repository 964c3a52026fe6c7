#pragma once

// Internal to the CUDA backend: contiguous groups (per tensor, per channel along axis 0, groups or blocks
// along the last axis) and their min/max reduction on the device, shared by the packed kernels and the
// block-format fake-quant error (packed.cu, block_fake_quant.cu).

#include "kernels/cuda/cuda_common.cuh"

#include <algorithm>
#include <vector>

namespace qs::cuda {

enum class Pattern { Single, Channel, Row };

/// Element index -> group: Single 0; Channel i / inner; Row (i / length) · perLine + (i mod length) / size.
struct Groups {
    Pattern pattern = Pattern::Single;
    I inner = 1;
    I length = 1;
    I size = 1;
    I perLine = 1;

    __host__ __device__ I of(I i) const
    {
        switch (pattern) {
        case Pattern::Single:
            return 0;
        case Pattern::Channel:
            return i / inner;
        case Pattern::Row: {
            const I line = i / length;
            return line * perLine + (i - line * length) / size;
        }
        }
        return 0;
    }
    /// First element of group g (Row pattern).
    __host__ __device__ I begin(I g) const { return (g / perLine) * length + (g % perLine) * size; }
    __host__ __device__ I end(I g) const
    {
        const I stop = begin(g) + size;
        const I lineEnd = (g / perLine + 1) * length;
        return stop < lineEnd ? stop : lineEnd;
    }
};

/// The group of a vector of `width` consecutive elements that all lie in one group, by 32-bit fast division
/// (no 64-bit division per element): vector v is elements [width·v, width·v + width). `offset` receives v's
/// index among its group's vectors (Row pattern; 0 otherwise).
struct VectorGroups {
    Pattern pattern = Pattern::Single;
    FastDivider channel; ///< inner / width vectors per channel
    FastDivider line; ///< length / width vectors per line
    FastDivider block; ///< size / width vectors per group
    std::uint32_t lineVectors = 1;
    std::uint32_t blockVectors = 1;
    I perLine = 1;

    /// Whether `groups` on n elements keep every vector of `width` inside one group (n, the channel size,
    /// the line length and the group size multiples of width; fewer than 2^32 vectors); fills *out if so.
    static bool make(const Groups& groups, I n, int width, VectorGroups* out)
    {
        if (n % width != 0 || n / width >= (I(1) << 32))
            return false;
        VectorGroups v;
        v.pattern = groups.pattern;
        if (groups.pattern == Pattern::Channel) {
            if (groups.inner % width != 0 || groups.inner == 0)
                return false;
            v.channel = FastDivider::make(static_cast<std::uint32_t>(groups.inner / width));
        } else if (groups.pattern == Pattern::Row) {
            if (groups.length % width != 0 || groups.size % width != 0 || groups.length == 0)
                return false;
            v.lineVectors = static_cast<std::uint32_t>(groups.length / width);
            v.blockVectors = static_cast<std::uint32_t>(groups.size / width);
            v.line = FastDivider::make(v.lineVectors);
            v.block = FastDivider::make(v.blockVectors);
            v.perLine = groups.perLine;
        }
        *out = v;
        return true;
    }

#if defined(__CUDACC__)
    __device__ I of(std::uint32_t vector, std::uint32_t* offset) const
    {
        *offset = 0;
        switch (pattern) {
        case Pattern::Single:
            return 0;
        case Pattern::Channel:
            return channel.divide(vector);
        case Pattern::Row: {
            const std::uint32_t l = line.divide(vector);
            const std::uint32_t r = vector - l * lineVectors;
            const std::uint32_t b = block.divide(r);
            *offset = r - b * blockVectors;
            return I(l) * perLine + b;
        }
        }
        return 0;
    }
#endif
};

/// A grid of at most 32 blocks per multiprocessor covering `work` threads.
inline unsigned gridFor(I work)
{
    const I blocks = (work + kBlockThreads - 1) / kBlockThreads;
    return static_cast<unsigned>(std::clamp<I>(blocks, 1, I(32) * multiprocessorCount()));
}

/// Per group of the Row pattern: the min/max keys of the finite values, the largest magnitude of the
/// non-NaN values (±Inf included) in absBits, and the non-finite count. Lines and groups of a multiple of 4
/// floats (16-byte aligned x) are read as float4, 4 elements per lane, with up to 32 lanes per group and
/// several groups per warp; others one warp per group, one element per lane.
void launchGroupKeys(const float* x, const Groups& groups, I groupCount, RowKeys* out);

/// The groups' min/max on the device, downloaded: `ranges` over the finite values (absmax = max(|min|,
/// |max|), as minMaxGroups), and per group the largest non-NaN magnitude with ±Inf (Row pattern; the finite
/// absmax otherwise). `keys` is resized.
struct GroupRanges {
    std::vector<MinMaxResult> ranges;
    std::vector<float> absmaxWithInfinity;
};
GroupRanges deviceRanges(
    const float* x, I n, const Groups& groups, I groupCount, DeviceBuffer<RowKeys>& keys);

} // namespace qs::cuda
