#pragma once

// The CUDA backend of the packed kernels (kernels/packed_kernels.h). Compiled only when nvcc is found;
// callers guard every use with `#if defined(QS_HAVE_CUDA)`. Plain C++: no CUDA header is included here.
//
// Results equal packedQuantize / packedDequantize on the CPU backends, byte for byte and bit for bit: the
// group min/max (finite values, -0 < +0, by ordered integer keys) and the block absmax are reduced on the
// device; the group parameters are derived from them on the host exactly as the CPU backends do
// (qs::quantize of the (min, max) rows for element formats; NF4 absmax including ±Inf and ignoring NaN; the
// MX shared exponent of kernels/mx_shared_exponent.h); then one kernel writes the packed bytes directly (one
// thread per output byte: two codes for the nibble layouts, a block's E8M0 byte by its first thread) with
// every float operation an explicit round-to-nearest intrinsic (no contraction), and the clipped and
// non-finite counts reduced with integer atomics. Dequantize: one thread per element, (table[code] - zp) ·
// scale with the reference's own decode table.
//
// Supported: what packedQuantizeUnsupported accepts except 2-D blocks (per tensor, per channel along axis 0,
// per group along the last axis; NF4 and MXFP4 at any block size).

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

/// Median device time in milliseconds of `repeats` (>= 1) runs, CUDA events around each run after two
/// untimed warm-ups, on data copied to the device once: `unpack` false times the group reduction and the
/// packing kernel (the host derivation of the group parameters between them is done once, untimed); true
/// times the dequantize kernel on the packed bytes.
double cudaTimePackedMs(
    bool unpack, std::span<const float> values, const Shape& shape, const Scheme& scheme, int repeats);

} // namespace qs
