#pragma once

#include "kernels/kernels.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace qs {

/// A tensor quantized into its storage bytes: what packedQuantize writes and packedDequantize reads.
///
/// `bytes` by scheme (n = element count, elements in row-major order):
///   int8 / uint8 (IntegerSpec of 8 bits) one byte per element, the code q (zero point included) as a
///     two's-complement (int8) or unsigned (uint8) byte: QuantizedTensor::codes[i] & 0xFF;
///   int4 / uint4 (4 bits) two codes per byte over the flattened tensor, element 2i in the low nibble and
///     2i+1 in the high nibble (the MX/NVFP4 and torchao pack_uint4 order), q & 0xF, ceil(n/2) bytes, an odd
///     count padded with a 0 nibble;
///   fp8_e4m3 one byte per element, the E4M3 code;
///   BlockFormat::BnbNF4 (no double quantization) exactly packBlockFormat's bytes: the codes of the
///     flattened tensor two per byte, element 2i in the HIGH nibble (bitsandbytes), padded with code 7
///     (0.0), then one little-endian fp32 absmax per block;
///   BlockFormat::MXFP4 exactly packBlockFormat's bytes: per block in group order one E8M0 byte (0xFF =
///     NaN scale) then ceil(B/2) bytes of E2M1 codes, element 2i in the low nibble, a ragged block padded
///     with code 0.
/// `scales` and `zeroPoints` are QuantizedTensor::scales and ::zeroPoints of qs::quantize(tensor, scheme)
/// (zero points: affine integers only; for the block formats the scales are also stored in `bytes`).
struct PackedTensor {
    std::vector<std::uint8_t> bytes;
    std::vector<float> scales;
    std::vector<std::int32_t> zeroPoints;
    std::int64_t clippedCount = 0; ///< as QuantizedTensor::clippedCount
    std::int64_t nonFiniteCount = 0; ///< as QuantizedTensor::nonFiniteCount
    bool operator==(const PackedTensor&) const = default;
};

/// The storage layout of PackedTensor::bytes for a supported scheme (above): one byte per element (int8,
/// uint8, fp8_e4m3), two codes per byte (int4, uint4), bitsandbytes NF4, MXFP4.
enum class PackedLayout { Byte, Nibble, Nf4, Mxfp4 };

inline PackedLayout packedLayout(const Scheme& scheme)
{
    if (scheme.blockFormat == BlockFormat::BnbNF4)
        return PackedLayout::Nf4;
    if (scheme.blockFormat == BlockFormat::MXFP4)
        return PackedLayout::Mxfp4;
    const auto* integer = std::get_if<IntegerSpec>(&scheme.format.spec);
    return integer && integer->bits == 4 ? PackedLayout::Nibble : PackedLayout::Byte;
}

/// Size of PackedTensor::bytes in `layout` for n elements in `groupCount` groups (blocks of at most
/// `blockSize` elements for MXFP4).
inline std::int64_t packedByteCount(
    PackedLayout layout, std::int64_t n, std::int64_t groupCount, std::int64_t blockSize)
{
    switch (layout) {
    case PackedLayout::Byte:
        return n;
    case PackedLayout::Nibble:
        return (n + 1) / 2;
    case PackedLayout::Nf4:
        return (n + 1) / 2 + 4 * groupCount;
    case PackedLayout::Mxfp4:
        return groupCount * (1 + (blockSize + 1) / 2);
    }
    return 0;
}

/// Empty when packedQuantize runs `scheme` on `shape`, otherwise why not. Supported: integer formats of 8
/// or 4 bits (signed or unsigned, every RangeMode, ScaleFormat, ScaleArithmetic and element rounding) and
/// fp8_e4m3, at the granularities fakeQuantError supports; BlockFormat::BnbNF4 without double quantization
/// and BlockFormat::MXFP4, at any block size the reference accepts.
std::string packedQuantizeUnsupported(const Scheme& scheme, const Shape& shape);

/// Quantizes `values` (shape `shape`, row-major) with `scheme` into the storage bytes above. Equal, byte
/// for byte and count for count, to qs::quantize(tensor, scheme) with min-max ranges (and, for the block
/// formats, packBlockFormat of it) on every backend and thread count: element formats take each group's
/// scale and zero point from its finite min/max exactly as qs::quantize derives them, then per element
/// v = x · (1.0f / scale) or x / scale in float32 and the quantizer's rounding; NF4 s = x · (1.0f /
/// max(absmax, 1e-38f)) bucketed by the bitsandbytes decision tree (absmax = max |x| ignoring NaN);
/// MXFP4 v = x · 2^-e with e the shared exponent of the scheme's E8M0Rounding (as blockFakeQuantError).
/// Backend::Cuda runs kernels/cuda_packed.h. Throws qs::Error when the scheme is not
/// supported, the value count does not match the shape, or the backend cannot run here.
PackedTensor packedQuantize(Backend backend, std::span<const float> values, const Shape& shape,
    const Scheme& scheme, int threads = 0);

/// packedQuantize into `packed`, whose buffers are reused (nothing is allocated when they already have the
/// sizes); every field is overwritten. Same checks and errors.
void packedQuantizeInto(Backend backend, std::span<const float> values, const Shape& shape,
    const Scheme& scheme, PackedTensor& packed, int threads = 0);

/// The values qs::dequantize gives for the same quantized tensor, bit for bit, in float32: integers
/// (q - zp) · scale, fp8 decode(code) · scale, NF4 table[code] · absmax, MXFP4 decode(code) · 2^e (NaN for
/// an E8M0 byte of 0xFF). The block formats read their scales from `bytes`; the element formats from
/// `scales` and `zeroPoints`. Throws qs::Error when the scheme is not supported or the byte, scale or
/// zero-point counts do not match the shape and scheme.
std::vector<float> packedDequantize(
    Backend backend, const PackedTensor& packed, const Shape& shape, const Scheme& scheme, int threads = 0);

/// packedDequantize into `out`, which must hold exactly the shape's element count (qs::Error otherwise).
void packedDequantizeInto(Backend backend, const PackedTensor& packed, const Shape& shape,
    const Scheme& scheme, std::span<float> out, int threads = 0);

} // namespace qs
