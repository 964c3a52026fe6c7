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

/// Whether blockFakeQuantError takes ggml `format` as a fused pass: Q8_0 (ElementKind::Integer, ties away
/// from zero, codes in [-128, 127]) and Q4_0/Q5_0 (ElementKind::GgmlOffset).
inline bool ggmlFused(BlockFormat format)
{
    return format == BlockFormat::GgmlQ8_0 || format == BlockFormat::GgmlQ4_0
        || format == BlockFormat::GgmlQ5_0;
}

/// The block parameters of a ggmlFused format from the block's chosen value m (ggmlBlockParams), as
/// quantizeGgmlBlock forms them: d = m / 127 (Q8_0), m / -8 (Q4_0), m / -16 (Q5_0); inverse = 1 / d (0 when
/// d is 0); scale = fp16(d) (round to nearest even, overflow to ±Inf); Q8_0's low and high -128 and 127.
/// Returns whether the block is usable for the fused element: d is 0 or at least FLT_MIN in magnitude. Then
/// for every finite x of the block |fl(x·inverse)| <= B·(1 + 2^-21) with B = 127, 8 or 16 (d and its
/// inverse are normal, each within half an ulp): Q8_0's rounded v stays within the int8 range, Q4_0/Q5_0's
/// w within [0, 128), where the reference's int8 conversion does not wrap. A subnormal d can put v anywhere.
inline bool ggmlParamsOf(BlockFormat format, float m, GroupParams& out)
{
    const bool q8 = format == BlockFormat::GgmlQ8_0;
    const float d = q8 ? m / 127 : m / (format == BlockFormat::GgmlQ5_0 ? -16 : -8);
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    out = {f16ToF32(f32ToF16(d)), inverse, 0, q8 ? -128.0f : 0.0f, q8 ? 127.0f : 0.0f};
    const float magnitude = std::fabs(d);
    return magnitude == 0.0f || magnitude >= FLT_MIN;
}

/// ggmlParamsOf for the 32 values at `block`, whose chosen value is as quantizeGgmlBlock's: Q8_0 the largest
/// |x|, Q4_0/Q5_0 the first x of largest |x| (NaN never taken, +0 when every |x| is 0).
inline bool ggmlBlockParams(BlockFormat format, const float* block, GroupParams& out)
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
    return ggmlParamsOf(format, format == BlockFormat::GgmlQ8_0 ? amax : max, out);
}

/// One CPU implementation:
/// - reconstructRange(r, begin, end, out) is r.reconstruct(begin, end, out), the same x̂ bit for bit and the
///   same clipped count;
/// - blockParams(format, x, first, last, out), for a ggmlFused format on the blocks [first, last) of 32
///   (block g at x + 32·g) whose x are all finite: out[g - first] as ggmlBlockParams gives it for every
///   block; returns whether every block is usable. Anything where some x is NaN or ±Inf.
struct CpuGgmlBlocks {
    const char* target = "";
    std::int64_t (*reconstructRange)(
        const BlockReconstruction& reconstruction, std::int64_t begin, std::int64_t end, float* out)
        = nullptr;
    bool (*blockParams)(
        BlockFormat format, const float* x, std::int64_t first, std::int64_t last, GroupParams* out)
        = nullptr;
};

/// CpuGgmlBlocks::blockParams one block at a time.
inline bool ggmlBlockRange(
    BlockFormat format, const float* x, std::int64_t first, std::int64_t last, GroupParams* out)
{
    bool usable = true;
    for (std::int64_t g = first; g < last; ++g)
        usable &= ggmlBlockParams(format, x + g * 32, out[g - first]);
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
