#pragma once

// Internal to the kernels module: what packed_kernels.cpp hands to a CPU backend for packed quantize and
// dequantize (the scalar reference in scalar_packed.cpp, the Highway targets in simd_packed.cpp).

#include "kernels/kernel_backends.h"
#include "kernels/packed_kernels.h"
#include "kernels/table_bins.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

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
    /// Nf4: dQuantizeNF4's thresholds t_k (blockformat::bnbNf4Thresholds), ascending.
    std::array<float, 15> nf4Thresholds {};
    /// Nf4: 16 bins (table_bins.h) over the keys encoderKey(t_k) + 1 (s > t_k exactly when key(s) >= that
    /// key, no t_k being -0), when they exist.
    TableBins nf4Bins;
};

/// Clipped and non-finite counts of an encoded range.
struct EncodeCounts {
    std::int64_t clipped = 0;
    std::int64_t nonFinite = 0;
};

/// A validated packedDequantize call: x̂ = (table[code] - zeroPoint) · scale per group, in float32 (integers:
/// table[code] = q, exact; other formats zeroPoint 0 and table[code] the decoded value), the codes read
/// straight from PackedTensor::bytes in `layout`.
struct UnpackPlan {
    /// What table[b] is for the byte codes b: the integer b itself (uint8), the byte read as int8, the
    /// minifloat bits decoded by minifloatByte (fp8; its few special codes excepted), or none of those (the
    /// table is read).
    enum class ByteValues { Unsigned, Signed, Minifloat, Table };

    /// A minifloat byte S | E exponent bits | M mantissa bits: normal 2^(e - bias) · (1 + m / 2^M), the
    /// float bits (e, m) << (23 - M) plus (127 - bias) << 23; subnormal (e = 0) m · 2^(1 - bias - M); the
    /// sign bit moved to bit 31. Codes whose table value differs (NaN, ±Inf) are the exceptions.
    struct MinifloatBytes {
        int exponentBits = 4;
        int mantissaBits = 3;
        int bias = 7;
        float subnormalScale = 0x1p-9f; ///< 2^(1 - bias - M)
        int exceptionCount = 0;
        std::array<std::uint8_t, 4> exceptionCodes {};
        std::array<float, 4> exceptionValues {};
    };

    std::array<float, 256> table {};
    FakeQuantPlan groups; ///< pattern and per group scale and zeroPoint
    PackedLayout layout = PackedLayout::Byte;
    ByteValues byteValues = ByteValues::Table;
    MinifloatBytes minifloat;
};

/// The value of minifloat byte b by UnpackPlan::MinifloatBytes' formula, without its exceptions.
inline float minifloatByte(const UnpackPlan::MinifloatBytes& format, std::uint8_t b)
{
    const int signShift = format.exponentBits + format.mantissaBits;
    const std::uint32_t magnitude = b & ((1u << signShift) - 1);
    const std::uint32_t mantissa = magnitude & ((1u << format.mantissaBits) - 1);
    const float value = (magnitude >> format.mantissaBits) == 0
        ? static_cast<float>(mantissa) * format.subnormalScale
        : detail::bitsFloat((magnitude << (23 - format.mantissaBits))
            + (static_cast<std::uint32_t>(127 - format.bias) << 23));
    return ((b >> signShift) & 1) != 0 ? -value : value;
}

/// Where the codes of one group lie in PackedTensor::bytes: the code of element i of the group is byte
/// (i - first) of `base` (PackedLayout::Byte) or its nibble i - first (two per byte, the even one in the low
/// nibble unless highFirst).
struct CodeRun {
    const std::uint8_t* base = nullptr;
    std::int64_t first = 0;
    bool nibbles = false;
    bool highFirst = false;

    std::uint8_t code(std::int64_t i) const
    {
        const std::int64_t j = i - first;
        if (!nibbles)
            return base[j];
        const bool high = ((j & 1) != 0) != highFirst;
        return static_cast<std::uint8_t>((base[j / 2] >> (high ? 4 : 0)) & 0x0F);
    }
};

/// The CodeRun of group `group` (MXFP4: its block's payload after the E8M0 byte; the others: the tensor's
/// codes from element 0).
inline CodeRun codeRun(const UnpackPlan& plan, const std::uint8_t* bytes, std::int64_t group)
{
    CodeRun run {bytes, 0, plan.layout != PackedLayout::Byte, plan.layout == PackedLayout::Nf4};
    if (plan.layout == PackedLayout::Mxfp4) {
        const std::int64_t payload = (plan.groups.groupSize + 1) / 2;
        run.base = bytes + group * (1 + payload) + 1;
        run.first = rowGroupRange(plan.groups, group).first;
    }
    return run;
}

/// One CPU implementation of the packed kernels. Each function works on one contiguous range on the
/// calling thread; packed_kernels.cpp splits the work and packs the nibbles.
struct CpuPackedKernels {
    const char* target = "";
    /// Codes of x[begin, end) into codes[0, end - begin) (one byte per element).
    EncodeCounts (*encodeRange)(
        const PackPlan& plan, const float* x, std::int64_t begin, std::int64_t end, std::uint8_t* codes)
        = nullptr;
    /// out[begin, end) from the codes of those elements in `bytes` (PackedTensor::bytes, plan.layout).
    void (*decodeRange)(
        const UnpackPlan& plan, const std::uint8_t* bytes, std::int64_t begin, std::int64_t end, float* out)
        = nullptr;
};

/// The scalar reference, and the code of one element (which the simd backend uses for non-finite lanes).
const CpuPackedKernels& scalarPackedKernels();
std::uint8_t encodeElement(const PackPlan& plan, const GroupParams& p, float x, bool& clipped);

/// The simd backend: the target setSimdTarget chose (by name), or Highway's best for this CPU.
const CpuPackedKernels& simdPackedKernels();

} // namespace qs::kernel_detail
