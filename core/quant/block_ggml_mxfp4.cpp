#include "base/error.h"
#include "quant/block_formats.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

// ggml's own MXFP4 (quantize_row_mxfp4_ref / dequantize_row_mxfp4, ggml @d99724f); see block_formats.h.

namespace qs::blockformat {

namespace {

constexpr std::int64_t kBlock = 32;

/// kvalues_mxfp4 (ggml-common.h kvalues_fp4): twice the E2M1 values, code 8 is a second zero.
constexpr std::int8_t kValues[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
constexpr float kLargestValue = 12.0f;

/// `(uint8_t)value` as x86-64 compilers emit it: cvttss2si to int32 (truncation; NaN and out-of-range give
/// INT32_MIN), then the low byte.
std::uint8_t cFloatToUint8(float value)
{
    const std::int32_t wide = (value > -2147483648.0f && value < 2147483648.0f)
        ? static_cast<std::int32_t>(value)
        : std::numeric_limits<std::int32_t>::min();
    return static_cast<std::uint8_t>(wide & 0xFF);
}

/// GGML_E8M0_TO_FP32_HALF: 2^(e-128), exact for every byte (e < 2 gives the float subnormals 2^-128, 2^-127).
float e8m0Half(std::uint8_t e)
{
    return std::ldexp(1.0f, static_cast<int>(e) - 128);
}

/// The inverse of e8m0Half for the scales quantizeGgmlMxfp4 stores; throws for any other value.
std::uint8_t e8m0HalfByte(float d)
{
    int exponent = 0;
    const float mantissa = std::frexp(d, &exponent);
    const int e = exponent - 1 + 128;
    if (mantissa != 0.5f || e < 0 || e > 255)
        throw Error("ggml MXFP4 scale " + std::to_string(d) + " is not a power of two in [2^-128, 2^127]");
    return static_cast<std::uint8_t>(e);
}

/// best_index_mxfp4 for the 32 values of a block: the first index with the strictly smallest float32
/// |kvalues[i] * d - x|. Candidates run in the outer loop so that the elements vectorise; the comparisons
/// are the reference's, in its order.
void bestIndices(const float* x, float d, std::int32_t* codes)
{
    std::array<float, kBlock> value;
    std::array<float, kBlock> bestError;
    std::array<std::int32_t, kBlock> best {};
    for (std::size_t j = 0; j < value.size(); ++j) {
        value[j] = x[j];
        bestError[j] = std::fabs(static_cast<float>(kValues[0]) * d - value[j]);
    }
    for (std::int32_t i = 1; i < 16; ++i) {
        const float candidate = static_cast<float>(kValues[i]) * d;
        for (std::size_t j = 0; j < value.size(); ++j) {
            const float error = std::fabs(candidate - value[j]);
            const float previous = bestError[j];
            // A mask rather than a branch on `better`, which GCC does not if-convert.
            const std::int32_t better = -static_cast<std::int32_t>(error < previous);
            best[j] = (best[j] & ~better) | (i & better);
            bestError[j] = error < previous ? error : previous;
        }
    }
    std::copy(best.begin(), best.end(), codes);
}

void checkWholeBlocks(const Geometry& g)
{
    if (g.rowLength % kBlock != 0)
        throw Error("mxfp4_ggml needs rows of whole 32-value blocks (as ggml asserts), not rows of "
            + std::to_string(g.rowLength));
}

void checkCode(std::int32_t code)
{
    if (code < 0 || code > 15)
        throw Error("mxfp4_ggml code " + std::to_string(code) + " is out of range");
}

} // namespace

GgmlMxfp4Block quantizeGgmlMxfp4Block(
    const float* x, std::int32_t* codes, std::int64_t countFrom, std::int64_t countTo)
{
    GgmlMxfp4Block block;
    float amax = 0.0f;
    for (std::int64_t j = 0; j < kBlock; ++j)
        if (amax < std::fabs(x[j]))
            amax = std::fabs(x[j]);
    for (std::int64_t j = countFrom; j < countTo; ++j)
        if (!std::isfinite(x[j]))
            ++block.nonFinite;
    const std::uint8_t e
        = amax > 0.0f ? cFloatToUint8(std::floor(std::log2(amax)) - 2.0f + 127.0f) : std::uint8_t {0};
    const float d = e8m0Half(e);
    block.d = d;
    bestIndices(x, d, codes);
    for (std::int64_t j = countFrom; j < countTo; ++j)
        if (std::isfinite(x[j]) && std::fabs(x[j]) > kLargestValue * d)
            ++block.clipped;
    return block;
}

void dequantizeGgmlMxfp4Codes(const std::int32_t* codes, std::int64_t count, float d, float* out)
{
    for (std::int64_t j = 0; j < count; ++j)
        out[j] = static_cast<float>(kValues[codes[j]]) * d;
}

QuantizedTensor quantizeGgmlMxfp4(const Tensor& tensor, const Scheme& scheme, const Geometry& g)
{
    checkWholeBlocks(g);
    QuantizedTensor q = emptyQuantized(tensor, scheme, g);
    for (std::int64_t group = 0; group < g.groupCount(); ++group) {
        const GgmlMxfp4Block block = quantizeGgmlMxfp4Block(
            tensor.data.data() + group * kBlock, q.codes.data() + group * kBlock, 0, kBlock);
        q.scales[static_cast<std::size_t>(group)] = block.d;
        q.clippedCount += block.clipped;
        q.nonFiniteCount += block.nonFinite;
    }
    return q;
}

Tensor dequantizeGgmlMxfp4(const QuantizedTensor& quantized, const Geometry& g)
{
    checkWholeBlocks(g);
    Tensor out = emptyDequantized(quantized);
    for (std::int64_t group = 0; group < g.groupCount(); ++group) {
        const float d = e8m0Half(e8m0HalfByte(quantized.scales[static_cast<std::size_t>(group)]));
        const std::int32_t* codes = quantized.codes.data() + group * kBlock;
        for (std::int64_t j = 0; j < kBlock; ++j)
            checkCode(codes[j]);
        dequantizeGgmlMxfp4Codes(codes, kBlock, d, out.data.data() + group * kBlock);
    }
    return out;
}

std::vector<std::uint8_t> packGgmlMxfp4(const QuantizedTensor& quantized, const Geometry& g)
{
    checkWholeBlocks(g);
    std::vector<std::uint8_t> out;
    out.reserve(static_cast<std::size_t>(g.groupCount() * (1 + kBlock / 2)));
    for (std::int64_t group = 0; group < g.groupCount(); ++group) {
        const std::int32_t* q = quantized.codes.data() + group * kBlock;
        for (std::int64_t j = 0; j < kBlock; ++j)
            checkCode(q[j]);
        out.push_back(e8m0HalfByte(quantized.scales[static_cast<std::size_t>(group)]));
        for (std::int64_t j = 0; j < kBlock / 2; ++j)
            out.push_back(static_cast<std::uint8_t>(q[j] | (q[j + kBlock / 2] << 4)));
    }
    return out;
}

} // namespace qs::blockformat
