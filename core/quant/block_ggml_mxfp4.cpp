#include "base/error.h"
#include "quant/block_formats.h"

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

/// best_index_mxfp4: the first index with the strictly smallest float32 |kvalues[i] * d - x|.
std::int32_t bestIndex(float x, float d)
{
    std::int32_t best = 0;
    float bestError = std::fabs(static_cast<float>(kValues[0]) * d - x);
    for (std::int32_t i = 1; i < 16; ++i) {
        const float error = std::fabs(static_cast<float>(kValues[i]) * d - x);
        if (error < bestError) {
            best = i;
            bestError = error;
        }
    }
    return best;
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

QuantizedTensor quantizeGgmlMxfp4(const Tensor& tensor, const Scheme& scheme, const Geometry& g)
{
    checkWholeBlocks(g);
    QuantizedTensor q = emptyQuantized(tensor, scheme, g);
    for (std::int64_t group = 0; group < g.groupCount(); ++group) {
        const float* x = tensor.data.data() + group * kBlock;
        std::int32_t* codes = q.codes.data() + group * kBlock;
        float amax = 0.0f;
        for (std::int64_t j = 0; j < kBlock; ++j) {
            if (!std::isfinite(x[j]))
                ++q.nonFiniteCount;
            if (amax < std::fabs(x[j]))
                amax = std::fabs(x[j]);
        }
        const std::uint8_t e
            = amax > 0.0f ? cFloatToUint8(std::floor(std::log2(amax)) - 2.0f + 127.0f) : std::uint8_t {0};
        const float d = e8m0Half(e);
        q.scales[static_cast<std::size_t>(group)] = d;
        for (std::int64_t j = 0; j < kBlock; ++j) {
            codes[j] = bestIndex(x[j], d);
            if (std::isfinite(x[j]) && std::fabs(x[j]) > kLargestValue * d)
                ++q.clippedCount;
        }
    }
    return q;
}

Tensor dequantizeGgmlMxfp4(const QuantizedTensor& quantized, const Geometry& g)
{
    checkWholeBlocks(g);
    Tensor out = emptyDequantized(quantized);
    for (std::int64_t group = 0; group < g.groupCount(); ++group) {
        const float d = e8m0Half(e8m0HalfByte(quantized.scales[static_cast<std::size_t>(group)]));
        for (std::int64_t j = 0; j < kBlock; ++j) {
            const auto i = static_cast<std::size_t>(group * kBlock + j);
            const std::int32_t code = quantized.codes[i];
            checkCode(code);
            out.data[i] = static_cast<float>(kValues[code]) * d;
        }
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
