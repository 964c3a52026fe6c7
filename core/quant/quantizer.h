#pragma once

#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace qs {

/// The clipping range of one group, in the tensor's units. Calibrators produce these; the default is min-max.
/// Symmetric modes use amax = max(|min|, |max|); values are converted to float32 before use.
struct GroupRange {
    double min = 0;
    double max = 0;
    bool operator==(const GroupRange&) const = default;
};

/// How elements map to groups for a scheme and shape.
/// Group order: per-tensor 1 group; per-channel in channel order; per-group row-major over (other axes, group
/// index along the group axis), so for groups along the last axis of [R, C]: group = r·ceil(C/G) + c/G;
/// 2-D blocks row-major over (leading axes, block row, block col). Block formats: groups of their block size
/// along the last axis (ragged at the end of each row).
struct GroupLayout {
    std::int64_t groupCount = 0;
    std::vector<std::int64_t> groupOfElement; ///< one entry per element, row-major
};

/// Throws qs::Error when the granularity does not fit the shape (axis out of range, group or block size < 1,
/// 2-D blocks on a tensor of rank < 2) or a block format's block size is invalid.
/// Materialises one index per element: meant for views and tests; the quantizer itself does not use it.
GroupLayout groupLayout(const Scheme& scheme, const Shape& shape);

/// Number of groups without materialising the layout (same errors as groupLayout).
std::int64_t groupCount(const Scheme& scheme, const Shape& shape);

/// Min-max range of every group (NaN/Inf excluded; a group with no finite value gets [0, 0]).
std::vector<GroupRange> minMaxRanges(const Tensor& tensor, const Scheme& scheme);

/// A quantized tensor: codes, per-group scales (already rounded to the scheme's scale format) and zero
/// points.
struct QuantizedTensor {
    Scheme scheme;
    Shape shape;
    std::vector<std::int32_t> codes; ///< per element: integers the q itself (int8 -128..127, uint8
                                     ///< 0..255, zero point included); other formats the format's code
    std::vector<float> scales; ///< per group: x ≈ decode(code) * scale  (affine: (q - zp) * scale)
    std::vector<std::int32_t> zeroPoints; ///< per group, affine only (empty otherwise)
    std::vector<float> groupOffsets; ///< per group additive offset (ggml Q4_1/Q5_1 `m`; empty otherwise)
    double tensorScale = 1.0; ///< second-level scale (NVFP4 global decode scale 1/global_scale); 1 if none
    std::int64_t clippedCount = 0; ///< finite elements whose magnitude exceeded the representable range
    std::int64_t nonFiniteCount = 0; ///< NaN/Inf inputs (passed through as NaN/Inf or the format's policy)
    bool operator==(const QuantizedTensor&) const = default;
};

/// Quantizes `tensor` with `scheme`, using `ranges` (one per group of groupLayout) or min-max when absent.
///
/// Per group: scale from the range as documented at RangeMode (minifloats, lookup tables, ternary/binary:
/// scale = amax / formatMaxFinite), rounded to the scale format (ScaleFormat, E8M0Rounding); then per element
/// v = x * (1.0f/scale) or x / scale in float32 (ScaleArithmetic) and
///   integers: q = clamp(round(v) + zp, qmin, qmax), round = scheme.elementRounding;
///   minifloats: the format's rounding of v, saturating at ±formatMaxFinite (scaled quantization always
///     saturates, whatever the format's overflow policy);
///   lookup tables and ternary/binary: the table entry encodeValue picks for v.
/// "Clipped" = a finite x whose v rounds beyond the grid (integers: q outside [qmin, qmax]; minifloats: past
/// ±max; tables: v outside [first entry, last entry]).
/// Non-finite inputs count in nonFiniteCount and are excluded from min-max ranges. Integers have no NaN:
/// NaN becomes the zero point (x̂ = 0) and ±Inf saturates; other formats encode NaN/±Inf with encodeValue
/// (their own NaN/Inf policy). A zero range never divides by zero (see RangeMode, ScaleFormat).
/// Block formats are delegated to quant/block_formats.h.
/// Throws qs::Error when ranges has the wrong size or holds a non-finite value or min > max, or when the
/// granularity does not fit the shape.
QuantizedTensor quantize(const Tensor& tensor, const Scheme& scheme,
    const std::optional<std::vector<GroupRange>>& ranges = std::nullopt);

/// x̂ from codes and scales, in float32: integers (q - zp) * scale; other formats decode(code) * scale.
Tensor dequantize(const QuantizedTensor& quantized);

/// dequantize(quantize(tensor)) without keeping the codes.
Tensor fakeQuantize(const Tensor& tensor, const Scheme& scheme,
    const std::optional<std::vector<GroupRange>>& ranges = std::nullopt);

/// What fakeQuantizeInto counts besides the values (as in QuantizedTensor).
struct FakeQuantizeCounts {
    std::int64_t clippedCount = 0;
    std::int64_t nonFiniteCount = 0;
};

/// fakeQuantize into a caller-owned buffer (resized to the element count): for loops that reuse memory.
FakeQuantizeCounts fakeQuantizeInto(const Tensor& tensor, const Scheme& scheme, std::vector<float>& out,
    const std::optional<std::vector<GroupRange>>& ranges = std::nullopt);

} // namespace qs
