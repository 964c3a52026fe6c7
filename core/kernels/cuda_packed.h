#pragma once

// The CUDA backend of the packed kernels (kernels/packed_kernels.h). Compiled only when nvcc is found;
// callers guard every use with `#if defined(QS_HAVE_CUDA)`. Plain C++: no CUDA header is included here.
//
// Results equal packedQuantize / packedDequantize on the CPU backends, byte for byte and bit for bit: the
// group min/max (finite values, -0 < +0, by ordered integer keys) and the block absmax are reduced on the
// device; the group parameters are derived from them on the host exactly as the CPU backends do
// (qs::quantize of the (min, max) rows for element formats; NF4 absmax including ±Inf and ignoring NaN; the
// MX shared exponent of kernels/mx_shared_exponent.h); then one kernel writes the packed bytes directly,
// every float operation an explicit round-to-nearest intrinsic (no contraction), FP8 E4M3 with ties to even
// and saturation by the hardware conversion (sm_89 and later), and the clipped and non-finite counts reduced
// with integer atomics. Dequantize: (table[code] - zp) · scale with the reference's own decode table.
//
// Work assignment: where the element count, the channel size, the line length and the group size are
// multiples of 4 (and there are fewer than 2^34 elements), each thread takes vectors of 4 consecutive
// elements of one group, two a grid apart per step: one float4 load each, the group by 32-bit
// multiply-shift divisions (no 64-bit division), its parameters loaded once, integers rounded in float
// with no conversion, one 4- or 2-byte store of the codes (dequantize: one code load, one float4 store).
// Other shapes, and 2-D blocks, take one thread per output byte (per element for dequantize). The group
// ranges along the last axis are read as float4 by up to 32 lanes per group, several groups per warp; for
// the schemes of cudaPackedSinglePass they are reduced inside the packing kernel (x read once) and the group
// parameters derived there too. A 2-D block's range is reduced by one warp, row by row.
//
// Supported: everything packedQuantizeUnsupported accepts (per tensor, per channel along axis 0, per group
// along the last axis, 2-D blocks over the last two axes in qs::groupLayout's order; NF4 and MXFP4 at any
// block size).

#include "kernels/packed_kernels.h"

#include <span>
#include <string>
#include <vector>

namespace qs {

/// Empty when the CUDA packed kernels run `scheme` on `shape` (given packedQuantizeUnsupported is empty),
/// otherwise why not.
std::string cudaPackedUnsupported(const Scheme& scheme, const Shape& shape);

/// packedQuantize on device 0. Throws qs::Error for an unsupported scheme, a size that does not match the
/// shape, or a CUDA error.
PackedTensor cudaPackedQuantize(std::span<const float> values, const Shape& shape, const Scheme& scheme);

/// packedDequantize on device 0 (same checks of the byte, scale and zero-point counts).
std::vector<float> cudaPackedDequantize(const PackedTensor& packed, const Shape& shape, const Scheme& scheme);

/// Whether cudaPackedQuantize runs `scheme` on `shape` in a single pass over x: element formats (int8,
/// uint8, int4, uint4, fp8_e4m3) with ScaleFormat::F32 per group along the last axis, BlockFormat::BnbNF4
/// and BlockFormat::MXFP4, the group (block) size dividing the line and equal to 4 · 2^k (k <= 7: 4 to
/// 512). Then one kernel reduces each group's range in registers, derives its parameters exactly as the
/// two-pass path does (element formats: quant/quantizer.cpp's groupParams, i.e. span by RangeMode,
/// span / elemMax, PyTorch's eps floor, the F32 scale clamped to [FLT_MIN, FLT_MAX], 1.0f / scale, the affine
/// zero point; NF4: absmax of the non-NaN values and 1 / max(absmax, 1e-38); MXFP4: the shared exponent of
/// kernels/mx_shared_exponent.h, a NaN scale for a block holding NaN or ±Inf) and writes the codes, the
/// scales and the zero points (the NF4 absmax tail is appended on the host). Other schemes take two passes
/// (group ranges, then codes).
bool cudaPackedSinglePass(const Scheme& scheme, const Shape& shape);

/// Median device time in milliseconds of `repeats` (>= 1) runs, CUDA events around each run after two
/// untimed warm-ups, on data copied to the device once: `unpack` false times the packing (the single-pass
/// kernel, or the group reduction and the packing kernel, the host derivation of the group parameters
/// between them done once, untimed); true times the dequantize kernel on the packed bytes.
double cudaTimePackedMs(
    bool unpack, std::span<const float> values, const Shape& shape, const Scheme& scheme, int repeats);

/// FP8 E4M3 codes of `values` times a caller-given `scale`, with no range pass: the counterpart of PyTorch's
/// `(x * scale).to(torch.float8_e4m3fn)`. Per element v = x · scale in float32 (round to nearest even);
/// a finite x gives the fp8_e4m3 code of v with its own rounding (ties to even) and saturation: a v whose
/// rounded magnitude exceeds 448 (|v| > 464, ±Inf from an overflowing product included) gives ±448 and is
/// counted in clippedCount, where torch gives NaN for |v| >= 480. A NaN or ±Inf x gives
/// encodeValue(fp8_e4m3, x)'s code and is counted in nonFiniteCount. These are exactly the codes
/// packedQuantize writes for fp8_e4m3 per tensor when its 1.0f / scale equals `scale`. One byte per element,
/// in order. Throws qs::Error for a non-finite scale or a CUDA error.
struct ScaledE4M3 {
    std::vector<std::uint8_t> codes;
    std::int64_t clippedCount = 0;
    std::int64_t nonFiniteCount = 0;
    bool operator==(const ScaledE4M3&) const = default;
};
ScaledE4M3 cudaScaledE4M3(std::span<const float> values, float scale);

/// Median device time in milliseconds of cudaScaledE4M3's kernel (as cudaTimePackedMs: data copied to the
/// device once, two untimed warm-ups, CUDA events around each of `repeats` >= 1 runs).
double cudaTimeScaledE4M3Ms(std::span<const float> values, float scale, int repeats);

} // namespace qs
