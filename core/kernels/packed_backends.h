#pragma once

// Internal to the kernels module: what packed_kernels.cpp hands to a CPU backend for packed quantize and
// dequantize (the scalar reference in scalar_packed.cpp, the Highway targets in simd_packed.cpp).

#include "kernels/kernel_backends.h"

#include <array>
#include <cstdint>

namespace qs::kernel_detail {

/// How an element becomes a one-byte code.
enum class CodeKind {
    Integer, ///< q = clamp(round(v) + zp, qmin, qmax), stored as q & 0xFF
    Minifloat, ///< rounder.codeOf(rounded |v|, saturated) | signCode when v is negative
    Nf4, ///< the number of nf4Thresholds below s (the bitsandbytes decision tree, strict '>')
};

/// A validated packedQuantize call. `groups` walks the groups (GroupCursor) and holds per group the scale,
/// 1.0f / scale (NF4: 1.0f / max(absmax, 1e-38f); MXFP4: 2^-e) and the integer bounds; a group whose
/// scale is NaN (an MX block holding NaN/±Inf) stores nanCode for every element.
struct PackPlan {
    CodeKind kind = CodeKind::Integer;
    FakeQuantPlan groups; ///< pattern, groups, divide, tiesAway, qmin/qmax, rounder, clipBeforeRounding
    std::uint32_t signCode = 0x80; ///< Minifloat: the sign bit of a code
    std::uint8_t nanCode = 0; ///< Minifloat: code of NaN x (and of every element of a NaN-scale block)
    std::uint8_t negativeNanCode = 0; ///< Minifloat: code of a NaN x with its sign bit set
    std::uint8_t positiveInfinityCode = 0; ///< Minifloat: code of +Inf x
    std::uint8_t negativeInfinityCode = 0; ///< Minifloat: code of -Inf x
    /// Nf4: the float32 t_k with x > t_k exactly when double(x) > the tree's k-th double literal, ascending.
    std::array<float, 15> nf4Thresholds {};
};

/// Clipped and non-finite counts of an encoded range.
struct EncodeCounts {
    std::int64_t clipped = 0;
    std::int64_t nonFinite = 0;
};

/// A validated packedDequantize call: x̂ = (table[code] - zeroPoint) · scale per group, in float32 (integers:
/// table[code] = q, exact; other formats zeroPoint 0 and table[code] the decoded value).
struct UnpackPlan {
    std::array<float, 256> table {};
    FakeQuantPlan groups; ///< pattern and per group scale and zeroPoint
};

/// One CPU implementation of the packed kernels. Each function works on one contiguous range on the
/// calling thread; packed_kernels.cpp splits the work and packs or unpacks the nibbles.
struct CpuPackedKernels {
    const char* target = "";
    /// Codes of x[begin, end) into codes[begin, end) (one byte per element).
    EncodeCounts (*encodeRange)(
        const PackPlan& plan, const float* x, std::int64_t begin, std::int64_t end, std::uint8_t* codes)
        = nullptr;
    /// out[begin, end) from codes[begin, end).
    void (*decodeRange)(
        const UnpackPlan& plan, const std::uint8_t* codes, std::int64_t begin, std::int64_t end, float* out)
        = nullptr;
};

/// The scalar reference, and the code of one element (which the simd backend uses for non-finite lanes).
const CpuPackedKernels& scalarPackedKernels();
std::uint8_t encodeElement(const PackPlan& plan, const GroupParams& p, float x, bool& clipped);

/// The simd backend: the target setSimdTarget chose (by name), or Highway's best for this CPU.
const CpuPackedKernels& simdPackedKernels();

} // namespace qs::kernel_detail
