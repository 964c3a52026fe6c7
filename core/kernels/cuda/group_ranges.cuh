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

/// A grid of at most 32 blocks per multiprocessor covering `work` threads.
inline unsigned gridFor(I work)
{
    const I blocks = (work + kBlockThreads - 1) / kBlockThreads;
    return static_cast<unsigned>(std::clamp<I>(blocks, 1, I(32) * multiprocessorCount()));
}

/// Per group of the Row pattern (one warp each): the min/max keys of the finite values, the largest
/// magnitude of the non-NaN values (±Inf included) in absBits, and the non-finite count.
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
