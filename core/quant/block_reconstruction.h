#pragma once

// Exact reconstruction x̂ of any range of a tensor in a ggml or bitsandbytes block format, computed block by
// block from the input values without materialising the codes of the whole tensor (no Qt).

#include "quant/block_formats.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <span>
#include <vector>

namespace qs {

/// x̂ = dequantize(quantize(tensor, scheme)) for the ggml block formats (GgmlQ8_0, GgmlQ4_0, GgmlQ4_1,
/// GgmlQ5_0, GgmlQ5_1, GgmlMXFP4) and the bitsandbytes ones (BnbNF4, BnbFP4, any valid block size, with or
/// without double quantization), element for element and bit for bit (the algorithms are the references'
/// described in quant/block_formats.h; both paths call the same per-block code).
///
/// prepare() does what needs the whole tensor once: the checks, and for bitsandbytes double quantization the
/// decoded absmax of every block (one float per block). reconstruct() is const and keeps no mutable state,
/// so one prepared object serves several threads at once. The object refers to `values` without copying
/// them: they must stay alive and unchanged while it is used.
class BlockReconstruction {
public:
    /// Throws qs::Error (naming the problem) when the scheme is not a ggml or bitsandbytes block format,
    /// when values.size() does not match the shape, and for whatever qs::quantize rejects for this scheme
    /// and shape (an invalid block size, ggml rows that are not whole 32-value blocks).
    static BlockReconstruction prepare(
        std::span<const float> values, const Shape& shape, const Scheme& scheme);

    /// True for the ggml and bitsandbytes block formats listed above.
    static bool supports(const Scheme& scheme);

    /// Writes x̂ of the flat (row-major) elements [begin, end) to out[0, end - begin), equal bit for bit to
    /// dequantize(quantize(tensor, scheme)).data[begin, end), and returns how many of these elements count
    /// as clipped exactly as QuantizedTensor::clippedCount counts them (so the counts of ranges that
    /// partition the tensor sum to clippedCount). Blocks cut by the range are quantized whole and only the
    /// asked elements written. Throws qs::Error unless 0 <= begin <= end <= elementCount().
    std::int64_t reconstruct(std::int64_t begin, std::int64_t end, float* out) const;

    std::int64_t elementCount() const { return static_cast<std::int64_t>(m_values.size()); }
    const Scheme& scheme() const { return m_scheme; }
    /// The values prepare() was given, and their blocks (the last axis cut into the scheme's blocks).
    std::span<const float> values() const { return m_values; }
    const blockformat::Geometry& geometry() const { return m_geometry; }

private:
    BlockReconstruction() = default;

    std::span<const float> m_values;
    Scheme m_scheme;
    blockformat::Geometry m_geometry;
    std::vector<float> m_decodedAbsmax; ///< bitsandbytes with double quantization: per block, in group order
};

} // namespace qs
