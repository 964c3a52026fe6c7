#include "quant/block_reconstruction.h"

#include "base/error.h"

#include <algorithm>
#include <array>
#include <string>

namespace qs {

namespace {

constexpr std::int64_t kLargestBlock = 4096;

std::string supportedFormatsMessage(const Scheme& scheme)
{
    return "exact block reconstruction supports the ggml (q8_0, q4_0, q4_1, q5_0, q5_1, mxfp4_ggml) and "
           "bitsandbytes (bnb_nf4, bnb_fp4_block) block formats, not "
        + schemeName(scheme);
}

} // namespace

bool BlockReconstruction::supports(const Scheme& scheme)
{
    const auto family = blockformat::familyOf(scheme.blockFormat);
    return family == blockformat::Family::Ggml || family == blockformat::Family::Bnb;
}

BlockReconstruction BlockReconstruction::prepare(
    std::span<const float> values, const Shape& shape, const Scheme& scheme)
{
    if (!supports(scheme))
        throw Error(supportedFormatsMessage(scheme));
    const std::int64_t count = shapeElementCount(shape);
    if (static_cast<std::int64_t>(values.size()) != count)
        throw Error("a tensor of shape " + shapeToString(shape) + " needs " + std::to_string(count)
            + " values, not " + std::to_string(values.size()));
    const std::int64_t blockSize = blockFormatBlockSize(scheme);
    BlockReconstruction r;
    r.m_values = values;
    r.m_scheme = scheme;
    r.m_geometry = blockformat::geometry(shape, blockSize);
    const blockformat::Geometry& g = r.m_geometry;
    if (blockformat::familyOf(scheme.blockFormat) == blockformat::Family::Ggml) {
        if (g.rowLength % blockSize != 0)
            throw Error("ggml " + blockFormatName(scheme.blockFormat)
                + " needs rows of whole 32-value blocks; shape " + shapeToString(shape) + " has rows of "
                + std::to_string(g.rowLength));
        return r;
    }
    if (scheme.doubleQuantization) {
        std::vector<float> absmax(static_cast<std::size_t>(g.groupCount()));
        for (std::int64_t row = 0; row < g.rows; ++row)
            for (std::int64_t b = 0; b < g.blocksPerRow; ++b)
                absmax[static_cast<std::size_t>(row * g.blocksPerRow + b)]
                    = blockformat::bnbBlockAbsmax(values.data() + g.blockStart(row, b), g.blockLength(b));
        r.m_decodedAbsmax = blockformat::bnbDecodeAbsmax(absmax, true);
    }
    return r;
}

std::int64_t BlockReconstruction::reconstruct(std::int64_t begin, std::int64_t end, float* out) const
{
    const std::int64_t count = elementCount();
    if (begin < 0 || end < begin || end > count)
        throw Error("range [" + std::to_string(begin) + ", " + std::to_string(end)
            + ") is not inside the tensor's " + std::to_string(count) + " elements");
    const BlockFormat format = m_scheme.blockFormat;
    const blockformat::Geometry& g = m_geometry;
    const auto family = blockformat::familyOf(format);
    std::array<std::int32_t, kLargestBlock> codes;
    std::int64_t clipped = 0;
    std::int64_t i = begin;
    while (i < end) {
        const std::int64_t row = i / g.rowLength;
        const std::int64_t b = (i - row * g.rowLength) / g.blockSize;
        const std::int64_t start = g.blockStart(row, b);
        const std::int64_t length = g.blockLength(b);
        const std::int64_t from = i - start;
        const std::int64_t to = std::min(length, end - start);
        const float* x = m_values.data() + start;
        float* target = out + (i - begin);
        if (family == blockformat::Family::Bnb) {
            const blockformat::BnbBlock block
                = blockformat::quantizeBnbBlock(format, x, length, codes.data(), from, to);
            const float absmax = m_decodedAbsmax.empty()
                ? block.absmax
                : m_decodedAbsmax[static_cast<std::size_t>(row * g.blocksPerRow + b)];
            blockformat::dequantizeBnbCodes(format, codes.data() + from, to - from, absmax, target);
            clipped += block.clipped;
        } else if (format == BlockFormat::GgmlMXFP4) {
            const blockformat::GgmlMxfp4Block block
                = blockformat::quantizeGgmlMxfp4Block(x, codes.data(), from, to);
            blockformat::dequantizeGgmlMxfp4Codes(codes.data() + from, to - from, block.d, target);
            clipped += block.clipped;
        } else {
            const blockformat::GgmlBlock block
                = blockformat::quantizeGgmlBlock(format, x, codes.data(), from, to);
            blockformat::dequantizeGgmlCodes(
                format, codes.data() + from, to - from, block.d, block.m, target);
            clipped += block.clipped;
        }
        i = start + to;
    }
    return clipped;
}

} // namespace qs
