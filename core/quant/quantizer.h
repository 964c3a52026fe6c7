#pragma once

#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace qs {

/// The clipping range of one group, in the tensor's units. Calibrators produce these; the default is min-max.
/// Symmetric modes use amax = max(|min|, |max|).
struct GroupRange {
    double min = 0;
    double max = 0;
    bool operator==(const GroupRange&) const = default;
};

/// How elements map to groups for a scheme and shape. Group g's elements are listed by `elementsOf`.
/// Group order: per-tensor 1 group; per-channel in channel order; per-group row-major over (other axes, group
/// index along the group axis); 2-D blocks row-major over (leading axes, block row, block col).
struct GroupLayout {
    std::int64_t groupCount = 0;
    std::vector<std::int64_t> groupOfElement; ///< one entry per element, row-major
};

/// Throws qs::Error when the granularity does not fit the shape (axis out of range, group size < 1,
/// 2-D blocks on a tensor of rank < 2) or a block format's block size is invalid.
GroupLayout groupLayout(const Scheme& scheme, const Shape& shape);

/// Min-max range of every group (NaN/Inf excluded; a group with no finite value gets [0, 0]).
std::vector<GroupRange> minMaxRanges(const Tensor& tensor, const Scheme& scheme);

/// A quantized tensor: codes, per-group scales (already rounded to the scheme's scale format) and zero points.
struct QuantizedTensor {
    Scheme scheme;
    Shape shape;
    std::vector<std::int32_t> codes;      ///< per element: integers the signed q; other formats the format code
    std::vector<float> scales;            ///< per group: x ≈ decode(code) * scale  (affine: (q - zp) * scale)
    std::vector<std::int32_t> zeroPoints; ///< per group, affine only (empty otherwise)
    std::vector<float> groupOffsets;      ///< per group additive offset (ggml Q4_1/Q5_1 `m`; empty otherwise)
    double tensorScale = 1.0;             ///< second-level scale (NVFP4 global decode scale 1/global_scale); 1 if none
    std::int64_t clippedCount = 0;        ///< finite elements whose magnitude exceeded the representable range
    std::int64_t nonFiniteCount = 0;      ///< NaN/Inf inputs (passed through as NaN/Inf or the format's policy)
    bool operator==(const QuantizedTensor&) const = default;
};

/// Quantizes `tensor` with `scheme`, using `ranges` (one per group of groupLayout) or min-max when absent.
/// All-zero or constant groups get a defined, finite, non-zero scale (never a division by zero).
/// Throws qs::Error when ranges has the wrong size or holds a non-finite value.
QuantizedTensor quantize(const Tensor& tensor, const Scheme& scheme,
                         const std::optional<std::vector<GroupRange>>& ranges = std::nullopt);

/// x̂ from codes and scales.
Tensor dequantize(const QuantizedTensor& quantized);

/// dequantize(quantize(tensor)) without keeping the codes.
Tensor fakeQuantize(const Tensor& tensor, const Scheme& scheme,
                    const std::optional<std::vector<GroupRange>>& ranges = std::nullopt);

} // namespace qs
