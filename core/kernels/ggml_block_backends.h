#pragma once

// Internal to the kernels module: x̂ of the ggml blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, MXFP4) per CPU
// backend, for blockFakeQuantError (kernels.cpp).

#include "kernels/kernel_backends.h"
#include "quant/block_reconstruction.h"
#include "tensor/dtype.h"

#include <cfloat>
#include <cmath>
#include <cstdint>

namespace qs::kernel_detail {

/// ggml Q4_0/Q5_0 parameters of a block whose chosen value is `max` (see ggmlOffsetBlockParams); returns
/// whether the block is usable.
inline bool ggmlOffsetParamsOf(const FakeQuantPlan& plan, float max, GroupParams& out)
{
    const float bias = plan.truncationOffset - 0.5f;
    const float d = max / -bias;
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    out = {f16ToF32(f32ToF16(d)), inverse, 0, 0, 0};
    const float magnitude = std::fabs(d);
    return magnitude == 0.0f || magnitude >= FLT_MIN;
}

/// ggml Q4_0/Q5_0 block parameters of the 32 values at `block`, as quantizeGgmlBlock forms them: max = the
/// first x of largest |x| (NaN never taken, +0 when every |x| is 0), d = max / -bias (bias = offset - 1/2 of
/// `plan`), inverse = 1 / d (0 when d is 0), scale = fp16(d) (round to nearest even, overflow to ±Inf).
/// Returns whether the block is usable for the GgmlOffset element: d is 0 or at least FLT_MIN in magnitude.
/// Then for every finite x of the block |fl(x·inverse)| <= bias·(1 + 2^-21) (both d and its inverse are
/// normal, each within half an ulp), so w stays within [0, 128); a subnormal d can put w anywhere.
inline bool ggmlOffsetBlockParams(const FakeQuantPlan& plan, const float* block, GroupParams& out)
{
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < 32; ++j) {
        const float magnitude = std::fabs(block[j]);
        if (amax < magnitude) {
            amax = magnitude;
            max = block[j];
        }
    }
    return ggmlOffsetParamsOf(plan, max, out);
}

/// One CPU implementation:
/// - reconstructRange(r, begin, end, out) is r.reconstruct(begin, end, out), the same x̂ bit for bit and the
///   same clipped count;
/// - offsetBlockParams(plan, x, first, last, out), for Q4_0/Q5_0 (`plan`: ElementKind::GgmlOffset, the Row
///   pattern of blocks of 32 that tile their rows) on blocks [first, last) whose x are all finite: out[g -
///   first] as ggmlOffsetBlockParams gives it for every block; returns whether every block is usable.
///   Anything where some x is NaN or ±Inf.
struct CpuGgmlBlocks {
    const char* target = "";
    std::int64_t (*reconstructRange)(
        const BlockReconstruction& reconstruction, std::int64_t begin, std::int64_t end, float* out)
        = nullptr;
    bool (*offsetBlockParams)(
        const FakeQuantPlan& plan, const float* x, std::int64_t first, std::int64_t last, GroupParams* out)
        = nullptr;
};

/// CpuGgmlBlocks::offsetBlockParams one block at a time.
inline bool ggmlOffsetBlockRange(
    const FakeQuantPlan& plan, const float* x, std::int64_t first, std::int64_t last, GroupParams* out)
{
    bool usable = true;
    for (std::int64_t g = first; g < last; ++g)
        usable &= ggmlOffsetBlockParams(plan, x + g * 32, out[g - first]);
    return usable;
}

/// The quantizer's own per-block code (BlockReconstruction::reconstruct).
const CpuGgmlBlocks& scalarGgmlBlocks();

/// The simd backend, matched by name to the target simdKernels() uses: whole blocks a vector at a time; a
/// block that holds NaN/±Inf, whose scale or reciprocal is not finite, whose min or max is ±0 (Q4_1, Q5_1:
/// the sign of the zero the reference keeps depends on the order), whose codes would wrap around the int8
/// conversion, and MXFP4 take the reference's per-block code.
const CpuGgmlBlocks& simdGgmlBlocks();

} // namespace qs::kernel_detail
