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
    std::vector<float> groupOffsets; ///< per group additive offset (ggml Q4_1/Q5_1 `m`); binary (BitNet): the
                                     ///< centre α = mean(W) the signs are taken around, not added back
                                     ///< (x̂ = ±β); empty otherwise
    double tensorScale = 1.0; ///< second-level scale (NVFP4 global decode scale 1/global_scale); 1 if none
    std::int64_t clippedCount = 0; ///< finite elements whose magnitude exceeded the representable range
    std::int64_t nonFiniteCount = 0; ///< NaN/Inf inputs (passed through as NaN/Inf or the format's policy)
    /// Ternary: the elements, ascending, whose code is the zero code but whose x̂ is -0 (a finite negative or
    /// -0 input: torch.round(W·s) keeps the sign of zero and u / s keeps it too). The codes, like the
    /// transformers 2-bit packing, cannot hold it. Empty for every other format.
    std::vector<std::int64_t> negativeZeros;
    bool operator==(const QuantizedTensor&) const = default;
};

/// Quantizes `tensor` with `scheme`, using `ranges` (one per group of groupLayout) or min-max when absent.
///
/// Per group: scale from the range as documented at RangeMode (minifloats and lookup tables: scale = amax /
/// formatMaxFinite), rounded to the scale format (ScaleFormat, E8M0Rounding); then per element
/// v = x * (1.0f/scale) or x / scale in float32 (ScaleArithmetic) and
///   integers: q = clamp(round(v) + zp, qmin, qmax), round = scheme.elementRounding;
///   minifloats: the format's rounding of v, saturating at ±formatMaxFinite (scaled quantization always
///     saturates, whatever the format's overflow policy);
///   lookup tables: the table entry encodeValue picks for v.
/// "Clipped" = a finite x whose v rounds beyond the grid (integers: q outside [qmin, qmax]; minifloats: past
/// ±max; tables: v outside [first entry, last entry]).
/// Non-finite inputs count in nonFiniteCount and are excluded from min-max ranges. Integers have no NaN:
/// NaN becomes the zero point (x̂ = 0) and ±Inf saturates; other formats encode NaN/±Inf with encodeValue
/// (their own NaN/Inf policy). A zero range never divides by zero (see RangeMode, ScaleFormat).
///
/// Ternary and binary follow BitNet, per group of the scheme's granularity (per tensor is the reference
/// case). Their scale is a statistic of the weights, not a clipping range, so `ranges` are checked but
/// otherwise ignored, as are rangeMode, arithmetic and elementRounding. mean() is torch's CPU float32 mean
/// (blockformat::torchCpuMean) over the group's finite values in memory order; 0 for a group without any.
///   ternary (BitNet b1.58; transformers src/transformers/integrations/bitnet.py WeightQuant, formats.md §5):
///     s = 1.0f / max(mean|W|, 1e-5f);  u = clamp(round(W * s), -1, 1), round = the format's rounding
///     (RNE = torch.round: |W|·s = 0.5 -> 0, 1.5 -> 2 -> 1);  code = u + 1;  x̂ = u / s.
///     scales[g] = 1.0f / s, which gives u / s bit for bit (u = ±1: ±(1/s); u = 0: ±0, the sign of W, kept
///     in negativeZeros). Clipped = |round(W·s)| > 1 (the clamp changed it). NaN -> 0, ±Inf -> ±1.
///   binary (BitNet, arXiv 2310.11453): α = mean(W); code = W - α > 0 ? +1 : -1 (0 and NaN -> -1);
///     β = mean|W|; x̂ = code * β. scales[g] = β, groupOffsets[g] = α. Nothing clips. A group of zeros
///     has β = 0 (x̂ = -0, as torch's -1 · 0).
///   With the scale format F32 (the reference) the scales are used as computed. Other scale formats round
///   the decode scale (ternary 1/s, binary β > 0) as ScaleFormat says (E8M0 by E8M0Rounding with an element
///   grid of 1) and ternary then encodes with s = 1.0f / that scale.
///   torch sums tensors of >= 32768 values in parallel chunks, so for groups that large the mean equals
///   torch's when torch runs single-threaded (torch.set_num_threads(1)); groups that are not contiguous in
///   memory (per-channel along the last axis, groups along a leading axis) are summed in memory order,
///   where torch's strided reduction may differ in the last bit.
///   Checked bit for bit against torch 2.11 (CPU, AVX512 kernels): per tensor on tests/fixtures/reference
///   (16384 values: codes, s, x̂ with its signed zeros, α, β) and on 67200 values with one thread (16 threads
///   differ), per row of a [64, 300] tensor (s, x̂, α, β); per column of it, 158 of 300 β and 225 of 300 α
///   differ.
///
/// Block formats are delegated to quant/block_formats.h.
/// Throws qs::Error when ranges has the wrong size or holds a non-finite value or min > max, or when the
/// granularity does not fit the shape.
QuantizedTensor quantize(const Tensor& tensor, const Scheme& scheme,
    const std::optional<std::vector<GroupRange>>& ranges = std::nullopt);

/// x̂ from codes and scales, in float32: integers (q - zp) * scale; other formats decode(code) * scale
/// (ternary: negated at negativeZeros).
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
