#pragma once

// Internal to the kernels module: x̂ of the ggml blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, MXFP4) per CPU
// backend, for blockFakeQuantError (kernels.cpp).

#include "quant/block_reconstruction.h"

#include <cstdint>

namespace qs::kernel_detail {

/// One CPU implementation: reconstructRange(r, begin, end, out) is r.reconstruct(begin, end, out), the same
/// x̂ bit for bit and the same clipped count.
struct CpuGgmlBlocks {
    const char* target = "";
    std::int64_t (*reconstructRange)(
        const BlockReconstruction& reconstruction, std::int64_t begin, std::int64_t end, float* out)
        = nullptr;
};

/// The quantizer's own per-block code (BlockReconstruction::reconstruct).
const CpuGgmlBlocks& scalarGgmlBlocks();

/// The simd backend, matched by name to the target simdKernels() uses: whole blocks a vector at a time; a
/// block that holds NaN/±Inf, whose scale or reciprocal is not finite, whose min or max is ±0 (Q4_1, Q5_1:
/// the sign of the zero the reference keeps depends on the order), whose codes would wrap around the int8
/// conversion, and MXFP4 take the reference's per-block code.
const CpuGgmlBlocks& simdGgmlBlocks();

} // namespace qs::kernel_detail
