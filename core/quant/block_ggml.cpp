#include "base/error.h"
#include "quant/block_formats.h"
#include "tensor/dtype.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace qs::blockformat {

namespace {

constexpr std::int64_t kBlock = 32;

/// A C conversion of float to a (u)int8_t as x86-64 compilers emit it: cvttss2si to int32 (truncation; NaN
/// and out-of-range give INT32_MIN), then the low byte.
std::int32_t cFloatToInt8Bits(float value)
{
    const std::int32_t wide = (value > -2147483648.0f && value < 2147483648.0f)
        ? static_cast<std::int32_t>(value)
        : std::numeric_limits<std::int32_t>::min();
    return wide & 0xFF;
}

std::int32_t cFloatToInt8(float value)
{
    const std::int32_t bits = cFloatToInt8Bits(value);
    return bits >= 128 ? bits - 256 : bits;
}

float fp16Round(float value)
{
    return f16ToF32(f32ToF16(value));
}

bool hasMin(BlockFormat format)
{
    return format == BlockFormat::GgmlQ4_1 || format == BlockFormat::GgmlQ5_1;
}

} // namespace

GgmlBlock quantizeGgmlBlock(
    BlockFormat format, const float* x, std::int32_t* codes, std::int64_t countFrom, std::int64_t countTo)
{
    GgmlBlock result;
    switch (format) {
    case BlockFormat::GgmlQ8_0: {
        float amax = 0.0f;
        for (std::int64_t j = 0; j < kBlock; ++j) {
            const float v = std::fabs(x[j]);
            amax = amax > v ? amax : v;
        }
        const float d = amax / ((1 << 7) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        result.d = fp16Round(d);
        for (std::int64_t j = 0; j < kBlock; ++j)
            codes[j] = cFloatToInt8(std::round(x[j] * id));
        break;
    }
    case BlockFormat::GgmlQ4_0:
    case BlockFormat::GgmlQ5_0: {
        const bool five = format == BlockFormat::GgmlQ5_0;
        float amax = 0.0f;
        float max = 0.0f;
        for (std::int64_t j = 0; j < kBlock; ++j) {
            if (amax < std::fabs(x[j])) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        const float d = max / (five ? -16 : -8);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        result.d = fp16Round(d);
        const std::int32_t top = five ? 31 : 15;
        for (std::int64_t j = 0; j < kBlock; ++j) {
            const std::int32_t q = cFloatToInt8(x[j] * id + (five ? 16.5f : 8.5f));
            if (q > top && j >= countFrom && j < countTo)
                ++result.clipped;
            codes[j] = static_cast<std::uint8_t>(top < q ? top : q);
        }
        break;
    }
    case BlockFormat::GgmlQ4_1:
    case BlockFormat::GgmlQ5_1: {
        const bool five = format == BlockFormat::GgmlQ5_1;
        float min = std::numeric_limits<float>::max();
        float max = -std::numeric_limits<float>::max();
        for (std::int64_t j = 0; j < kBlock; ++j) {
            if (x[j] < min)
                min = x[j];
            if (x[j] > max)
                max = x[j];
        }
        const float d = (max - min) / ((1 << (five ? 5 : 4)) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        result.d = fp16Round(d);
        result.m = fp16Round(min);
        for (std::int64_t j = 0; j < kBlock; ++j) {
            const float level = (x[j] - min) * id + 0.5f;
            const bool counted = j >= countFrom && j < countTo;
            if (five) {
                // (uint8_t) without a clamp; only 5 bits are stored.
                const std::int32_t q = cFloatToInt8Bits(level);
                if (q > 31 && counted)
                    ++result.clipped;
                codes[j] = q & 0x1F;
            } else {
                const std::int32_t q = cFloatToInt8(level);
                if (q > 15 && counted)
                    ++result.clipped;
                codes[j] = static_cast<std::uint8_t>(15 < q ? 15 : q);
            }
        }
        break;
    }
    default:
        throw Error(blockFormatName(format) + " is not a ggml format");
    }
    return result;
}

void dequantizeGgmlCodes(
    BlockFormat format, const std::int32_t* codes, std::int64_t count, float d, float m, float* out)
{
    const std::int32_t bias = format == BlockFormat::GgmlQ4_0 ? 8 : format == BlockFormat::GgmlQ5_0 ? 16 : 0;
    if (hasMin(format)) {
        for (std::int64_t j = 0; j < count; ++j)
            out[j] = static_cast<float>(codes[j] - bias) * d + m;
    } else {
        for (std::int64_t j = 0; j < count; ++j)
            out[j] = static_cast<float>(codes[j] - bias) * d;
    }
}

namespace {

void checkCode(BlockFormat format, std::int32_t code)
{
    std::int32_t low = 0;
    std::int32_t high = 15;
    if (format == BlockFormat::GgmlQ8_0) {
        low = -128;
        high = 127;
    } else if (format == BlockFormat::GgmlQ5_0 || format == BlockFormat::GgmlQ5_1) {
        high = 31;
    }
    if (code < low || code > high)
        throw Error(blockFormatName(format) + " code " + std::to_string(code) + " is out of range");
}

} // namespace

QuantizedTensor quantizeGgml(const Tensor& tensor, const Scheme& scheme, const Geometry& g)
{
    if (g.rowLength % kBlock != 0)
        throw Error("ggml " + blockFormatName(scheme.blockFormat)
            + " needs rows of whole 32-value blocks; tensor '" + tensor.name + "' of shape "
            + shapeToString(tensor.shape) + " has rows of " + std::to_string(g.rowLength));
    QuantizedTensor q = emptyQuantized(tensor, scheme, g);
    if (hasMin(scheme.blockFormat))
        q.groupOffsets.assign(static_cast<std::size_t>(g.groupCount()), 0.0f);
    for (const float x : tensor.data)
        if (!std::isfinite(x))
            ++q.nonFiniteCount;
    for (std::int64_t group = 0; group < g.groupCount(); ++group) {
        const std::size_t start = static_cast<std::size_t>(group * kBlock);
        const GgmlBlock block = quantizeGgmlBlock(
            scheme.blockFormat, tensor.data.data() + start, q.codes.data() + start, 0, kBlock);
        q.scales[static_cast<std::size_t>(group)] = block.d;
        if (hasMin(scheme.blockFormat))
            q.groupOffsets[static_cast<std::size_t>(group)] = block.m;
        q.clippedCount += block.clipped;
    }
    return q;
}

Tensor dequantizeGgml(const QuantizedTensor& quantized, const Geometry& g)
{
    const BlockFormat format = quantized.scheme.blockFormat;
    if (g.rowLength % kBlock != 0)
        throw Error("ggml " + blockFormatName(format) + " needs rows of whole 32-value blocks");
    if (hasMin(format) && static_cast<std::int64_t>(quantized.groupOffsets.size()) != g.groupCount())
        throw Error("quantized " + blockFormatName(format) + " tensor has "
            + std::to_string(quantized.groupOffsets.size()) + " block minima; expected "
            + std::to_string(g.groupCount()));
    Tensor out = emptyDequantized(quantized);
    for (std::int64_t group = 0; group < g.groupCount(); ++group) {
        const std::int32_t* codes = quantized.codes.data() + group * kBlock;
        for (std::int64_t j = 0; j < kBlock; ++j)
            checkCode(format, codes[j]);
        const auto gi = static_cast<std::size_t>(group);
        dequantizeGgmlCodes(format, codes, kBlock, quantized.scales[gi],
            hasMin(format) ? quantized.groupOffsets[gi] : 0.0f, out.data.data() + group * kBlock);
    }
    return out;
}

std::vector<std::uint8_t> packGgml(const QuantizedTensor& quantized, const Geometry& g)
{
    const BlockFormat format = quantized.scheme.blockFormat;
    if (g.rowLength % kBlock != 0)
        throw Error("ggml " + blockFormatName(format) + " needs rows of whole 32-value blocks");
    if (hasMin(format) && static_cast<std::int64_t>(quantized.groupOffsets.size()) != g.groupCount())
        throw Error("quantized " + blockFormatName(format) + " tensor lacks its block minima");
    const bool five = format == BlockFormat::GgmlQ5_0 || format == BlockFormat::GgmlQ5_1;
    std::vector<std::uint8_t> out;
    for (std::int64_t group = 0; group < g.groupCount(); ++group) {
        const std::int32_t* q = quantized.codes.data() + group * kBlock;
        for (std::int64_t j = 0; j < kBlock; ++j)
            checkCode(format, q[j]);
        appendU16(out, f32ToF16(quantized.scales[static_cast<std::size_t>(group)]));
        if (hasMin(format))
            appendU16(out, f32ToF16(quantized.groupOffsets[static_cast<std::size_t>(group)]));
        if (format == BlockFormat::GgmlQ8_0) {
            for (std::int64_t j = 0; j < kBlock; ++j)
                out.push_back(static_cast<std::uint8_t>(q[j] & 0xFF));
            continue;
        }
        if (five) {
            std::uint32_t qh = 0;
            for (std::int64_t j = 0; j < kBlock; ++j)
                qh |= static_cast<std::uint32_t>((q[j] >> 4) & 1) << j;
            for (int shift = 0; shift < 32; shift += 8)
                out.push_back(static_cast<std::uint8_t>((qh >> shift) & 0xFF));
        }
        for (std::int64_t j = 0; j < kBlock / 2; ++j)
            out.push_back(static_cast<std::uint8_t>((q[j] & 0x0F) | ((q[j + kBlock / 2] & 0x0F) << 4)));
    }
    return out;
}

} // namespace qs::blockformat
