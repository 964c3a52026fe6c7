#pragma once

// Internal to the CUDA backend: the groups of the packed kernels (per tensor, per channel along axis 0,
// groups or blocks along the last axis, 2-D blocks over the last two axes) and their min/max reduction on
// the device, shared by the packed kernels and the block-format fake-quant error (packed.cu,
// block_fake_quant.cu).

#include "kernels/cuda/cuda_common.cuh"

#include <algorithm>
#include <vector>

namespace qs::cuda {

enum class Pattern { Single, Channel, Row, Block };

/// Element index -> group: Single 0; Channel i / inner; Row (i / length) · perLine + (i mod length) / size;
/// Block (2-D blocks of size × cols over matrices of rows × inner, the last two axes, ragged at the edges;
/// qs::groupLayout's order: row-major over (matrix, block row, block column)): with m = i / (rows · inner),
/// r = (i mod rows · inner) / inner and c = i mod inner, (m · blockRows + r / size) · perLine + c / cols.
struct Groups {
    Pattern pattern = Pattern::Single;
    I inner = 1; ///< Channel: elements per channel; Block: matrix columns (the last axis)
    I length = 1; ///< Row: line length
    I size = 1; ///< Row: group size; Block: block height in rows
    I perLine = 1; ///< Row: groups per line; Block: blocks per block row
    I rows = 1; ///< Block: matrix rows (the second-to-last axis)
    I cols = 1; ///< Block: block width in columns
    I blockRows = 1; ///< Block: block rows per matrix

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
        case Pattern::Block:
            return blockGroup(i, rows, inner, size, cols, blockRows, perLine);
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
    /// the line length and the group size multiples of width; fewer than 2^32 vectors; not 2-D blocks);
    /// fills *out if so.
    static bool make(const Groups& groups, I n, int width, VectorGroups* out)
    {
        if (groups.pattern == Pattern::Block || n % width != 0 || n / width >= (I(1) << 32))
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
        case Pattern::Block: // make() refuses 2-D blocks
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

/// The keys of every group of n elements, any pattern: launchGroupKeys for Row; for Block one warp per
/// block, each row of the block read by consecutive lanes, the same keys as launchGroupKeys (absBits
/// includes ±Inf); launchMinMaxRows for Single and Channel (absBits over the finite values).
void launchRangeKeys(const float* x, I n, const Groups& groups, I groupCount, RowKeys* out);

/// The groups' min/max on the device, downloaded: `ranges` over the finite values (absmax = max(|min|,
/// |max|), as minMaxGroups), and per group the largest non-NaN magnitude with ±Inf (Row and Block patterns;
/// the finite absmax otherwise). `keys` is resized.
struct GroupRanges {
    std::vector<MinMaxResult> ranges;
    std::vector<float> absmaxWithInfinity;
};
GroupRanges deviceRanges(
    const float* x, I n, const Groups& groups, I groupCount, DeviceBuffer<RowKeys>& keys);

} // namespace qs::cuda
