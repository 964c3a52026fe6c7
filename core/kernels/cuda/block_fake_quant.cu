// blockFakeQuantError on the device (kernels/cuda_kernels.h): the fused fake-quant + error pass of
// fake_quant_chunks.cuh, which finds the block scales itself for MX and NVFP4 blocks that tile the rows
// (kernels/block_scales.h, as the CPU backends), and otherwise takes them from a block reduction before it.

#include "formats/number_format.h"
#include "kernels/block_scales.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/fake_quant.cuh"
#include "kernels/cuda/group_ranges.cuh"
#include "kernels/cuda_kernels.h"
#include "quant/block_formats.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace qs::cuda {

namespace {

/// A block-format fake-quant pass ready to launch: the block geometry, and the element plan whose group
/// parameters are the block scales: found by the fused kernel itself (scalesInKernel: GroupPattern::MxBlocks,
/// Nvfp4Blocks), otherwise from a block reduction before it.
struct BlockPlan {
    Groups groups;
    I groupCount = 0;
    FakeQuantPlan plan;
    bool scalesInKernel = false;
    /// GroupPattern::Nvfp4Blocks: the tensor absmax (launchFiniteAbsKey), which launchBlockFakeQuant
    /// reduces before the pass (BlockRule::tensorAbsKey).
    DeviceBuffer<std::int32_t> tensorAbsKey;
};

/// Whether the fused kernel derives the block scales itself: MX blocks of 32 or NVFP4 blocks of 16 along
/// rows of a multiple of that, more than one block, n < 2^32 (the kernel's 32-bit row indices).
bool scalesInKernel(const Scheme& scheme, const Shape& shape)
{
    const I n = shapeElementCount(shape);
    const I last = shape.empty() ? 1 : shape.back();
    const I size = scheme.blockFormat == BlockFormat::NVFP4 ? 16 : 32;
    return kernel_detail::blockElementFormat(scheme.blockFormat) && blockFormatBlockSize(scheme) == size
        && last > 0 && last % size == 0 && n > size && n < (I(1) << 32);
}

BlockPlan blockPlan(const float* x, std::span<const float> values, const Shape& shape, const Scheme& scheme,
    DeviceBuffer<RowKeys>& keys)
{
    if (!kernel_detail::blockElementFormat(scheme.blockFormat))
        throw Error("blockFakeQuantError: block format " + blockFormatName(scheme.blockFormat)
            + " has no fused kernel");
    const I n = shapeElementCount(shape);
    if (n != static_cast<I>(values.size()))
        throw Error("blockFakeQuantError: shape " + shapeToString(shape) + " needs " + std::to_string(n)
            + " values, got " + std::to_string(values.size()));
    BlockPlan block;
    const I last = shape.empty() ? 1 : shape.back();
    block.groups.pattern = Pattern::Row;
    block.groups.length = last;
    block.groups.size = blockFormatBlockSize(scheme);
    block.groups.perLine = (last + block.groups.size - 1) / block.groups.size;
    block.groupCount = last == 0 ? 0 : n / last * block.groups.perLine;

    // The element scheme with groups of the block size along the last axis; placeholder scales of 1, replaced
    // by the block scales below.
    const bool nvfp4 = scheme.blockFormat == BlockFormat::NVFP4;
    const bool mxint8 = scheme.blockFormat == BlockFormat::MXINT8;
    Scheme element;
    element.format = formatByName(kernel_detail::blockElementFormat(scheme.blockFormat));
    element.granularity = Granularity::perGroup(block.groups.size);
    if (mxint8) {
        element.elementRounding = scheme.elementRounding;
        element.arithmetic = ScaleArithmetic::Divide;
    } else {
        element.format.minifloat.rounding = nvfp4 ? Rounding::NearestEven : scheme.elementRounding;
    }
    const std::vector<float> ones(static_cast<std::size_t>(block.groupCount), 1.0f);
    const Shape elementShape = shape.empty() ? Shape {1} : shape;
    block.plan = makeFakeQuantPlan(values, elementShape, element, ones, {});
    FakeQuantPlan& plan = block.plan;
    clipBeforeRounding(plan.args.grid);
    if (!mxint8)
        plan.args.grid.tiesAway = element.format.minifloat.rounding == Rounding::NearestAway;
    if (plan.kind == ElementKind::Minifloat) {
        // E2M1 elements rounded ties away (an MXFP4 element rounding; ties to even is MagicMinifloat): the
        // rounding by bins.
        const MagnitudeBins magnitude
            = magnitudeBins(detail::MinifloatRounder::make(std::get<MinifloatSpec>(element.format.spec),
                                plan.args.grid.tiesAway, formatMaxFinite(element.format)),
                element.format.name);
        if (installBins(plan.args.grid, plan.bins, magnitude.bins, magnitude.rounded.size(),
                [&](std::size_t region) { return static_cast<int>(magnitude.rounded[region]); }))
            plan.kind = ElementKind::MagnitudeTable;
    }

    const float largest = mxint8 ? 127.0f : static_cast<float>(formatMaxFinite(element.format));
    if (scalesInKernel(scheme, shape)) {
        if (plan.pattern != GroupPattern::Run || plan.args.groups.runLength != block.groups.size
            || !plan.args.groups.narrow)
            throw Error("blockFakeQuantError: the block plan did not get runs of its block size");
        block.scalesInKernel = true;
        plan.pattern = nvfp4 ? GroupPattern::Nvfp4Blocks : GroupPattern::MxBlocks;
        plan.scales = DeviceBuffer<float2>(static_cast<std::size_t>(block.groupCount));
        plan.args.scales = plan.scales.get();
        plan.args.reconstructionFinite = true;
        BlockRule& rule = plan.args.blocks;
        rule.largest = largest;
        rule.scaler = kernel_detail::blockScalerParams(scheme, 0.0f);
        rule.scales = plan.scales.get();
        if (nvfp4) {
            block.tensorAbsKey = DeviceBuffer<std::int32_t>(1);
            rule.tensorAbsKey = block.tensorAbsKey.get();
        }
        return block;
    }
    const GroupRanges ranges = deviceRanges(x, n, block.groups, block.groupCount, keys);
    const std::vector<kernel_detail::BlockScale> scales = kernel_detail::blockScales(scheme, ranges.ranges);
    std::vector<float2> scaleInverses(scales.size());
    plan.args.reconstructionFinite = true;
    for (std::size_t g = 0; g < scales.size(); ++g) {
        scaleInverses[g] = {scales[g].scale, scales[g].inverse};
        plan.args.reconstructionFinite
            = plan.args.reconstructionFinite && std::isfinite(largest * scales[g].scale);
    }
    plan.scales = DeviceBuffer<float2>::from(scaleInverses);
    plan.args.scales = plan.scales.get();
    // Of the patterns that take given scales, only General follows the grid's clip rule (ClipRule): the
    // others clip after rounding at compile time.
    plan.pattern = GroupPattern::General;
    return block;
}

/// The fused pass of `block` over the n values at `x`, after the tensor reduction NVFP4's global scale needs
/// (on the same stream: the kernel reads the absmax from the device).
void launchBlockFakeQuant(const BlockPlan& block, const float* x, I n, ChunkSums* chunks, ChunkSums* total)
{
    if (block.plan.pattern == GroupPattern::Nvfp4Blocks)
        launchFiniteAbsKey(x, n, block.tensorAbsKey.get(), nullptr);
    launchFakeQuant(x, n, block.plan, chunks, total, nullptr, TotalMode::Overlapped, nullptr);
}

} // namespace

} // namespace qs::cuda

namespace qs {

bool cudaBlockFakeQuantOnePass(const Scheme& scheme, const Shape& shape)
{
    return scheme.blockFormat != BlockFormat::NVFP4 && cuda::scalesInKernel(scheme, shape);
}

ErrorSums cudaBlockFakeQuantError(std::span<const float> values, const Shape& shape, const Scheme& scheme)
{
    const auto x = cuda::DeviceBuffer<float>::from(values);
    cuda::DeviceBuffer<cuda::RowKeys> keys;
    const cuda::BlockPlan block = cuda::blockPlan(x.get(), values, shape, scheme, keys);
    if (values.empty())
        return {};
    const auto n = static_cast<cuda::I>(values.size());
    cuda::DeviceBuffer<cuda::ChunkSums> chunks(static_cast<std::size_t>(cuda::workspaceEntries(n)));
    cuda::DeviceBuffer<cuda::ChunkSums> total(1);
    cuda::launchBlockFakeQuant(block, x.get(), n, chunks.get(), total.get());
    cuda::ChunkSums host;
    cuda::download(&host, total.get(), 1);
    return cuda::errorSums(host);
}

double cudaTimeBlockFakeQuantMs(
    std::span<const float> values, const Shape& shape, const Scheme& scheme, int repeats)
{
    if (repeats < 1)
        throw Error("kernel timing needs at least one repeat, not " + std::to_string(repeats));
    const auto x = cuda::DeviceBuffer<float>::from(values);
    cuda::DeviceBuffer<cuda::RowKeys> keys;
    cuda::BlockPlan block = cuda::blockPlan(x.get(), values, shape, scheme, keys);
    const auto n = static_cast<cuda::I>(values.size());
    cuda::DeviceBuffer<cuda::ChunkSums> chunks(static_cast<std::size_t>(cuda::workspaceEntries(n)));
    cuda::DeviceBuffer<cuda::ChunkSums> total(1);
    const auto run = [&] {
        if (!block.scalesInKernel)
            cuda::launchGroupKeys(x.get(), block.groups, block.groupCount, keys.get());
        cuda::launchBlockFakeQuant(block, x.get(), n, chunks.get(), total.get());
    };
    run();
    run();
    cuda::check(cudaDeviceSynchronize(), "warm-up");
    std::vector<float> times;
    cudaEvent_t start;
    cudaEvent_t stop;
    cuda::check(cudaEventCreate(&start), "cudaEventCreate");
    cuda::check(cudaEventCreate(&stop), "cudaEventCreate");
    for (int r = 0; r < repeats; ++r) {
        cuda::check(cudaEventRecord(start), "cudaEventRecord");
        run();
        cuda::check(cudaEventRecord(stop), "cudaEventRecord");
        cuda::check(cudaEventSynchronize(stop), "cudaEventSynchronize");
        float ms = 0;
        cuda::check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
        times.push_back(ms);
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    std::sort(times.begin(), times.end());
    const std::size_t middle = times.size() / 2;
    return times.size() % 2 ? times[middle] : 0.5 * (double(times[middle - 1]) + double(times[middle]));
}

} // namespace qs
