#include "base/error.h"
#include "formats/number_format.h"
#include "quant/block_formats.h"
#include "tensor/dtype.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace qs::blockformat {

namespace {

constexpr std::uint8_t kE4M3Nan = 0x7F;

NumberFormat e4m3Scale()
{
    NumberFormat f = fp8E4M3Format();
    f.minifloat.rounding = Rounding::NearestEven;
    f.minifloat.overflow = OverflowPolicy::Saturate;
    f.minifloat.inf = InfPolicy::Saturate;
    return f;
}

NumberFormat e2m1Element()
{
    NumberFormat f = fp4E2M1Format();
    f.minifloat.rounding = Rounding::NearestEven;
    f.minifloat.overflow = OverflowPolicy::Saturate;
    f.minifloat.inf = InfPolicy::Saturate;
    return f;
}

/// The E4M3 byte of a block scale (a non-negative E4M3 value, or NaN).
std::uint8_t e4m3Byte(const NumberFormat& scaleFormat, float scale)
{
    if (std::isnan(scale))
        return kE4M3Nan;
    const auto code = static_cast<std::uint8_t>(encodeValue(scaleFormat, scale));
    if (std::signbit(scale) || code == kE4M3Nan || e4m3ToF32(code) != scale)
        throw Error("NVFP4 block scale " + std::to_string(scale) + " is not a non-negative FP8 E4M3 value");
    return code;
}

/// The float32 global encode scale from the tensor scale stored in a QuantizedTensor.
float globalScale(double tensorScale)
{
    return static_cast<float>(1.0 / tensorScale);
}

} // namespace

QuantizedTensor quantizeNvfp4(const Tensor& tensor, const Scheme& scheme, const Geometry& g)
{
    const NumberFormat scaleFormat = e4m3Scale();
    const NumberFormat element = e2m1Element();
    QuantizedTensor q = emptyQuantized(tensor, scheme, g);

    float amaxTensor = 0.0f;
    for (const float x : tensor.data) {
        if (std::isfinite(x))
            amaxTensor = std::max(amaxTensor, std::fabs(x));
        else
            ++q.nonFiniteCount;
    }
    // Python's `2688.0 / tensor` is tensor.reciprocal() * 2688.0 in torch: two float32 roundings.
    const float global = amaxTensor > 0.0f ? (1.0f / amaxTensor) * 2688.0f : 1.0f;
    q.tensorScale = 1.0 / static_cast<double>(global);
    const float sixth = static_cast<float>(1.0 / 6.0);
    const float globalInverse = 1.0f / global;
    const std::uint32_t nanCode = encodeValue(element, std::numeric_limits<double>::quiet_NaN());

    for (std::int64_t r = 0; r < g.rows; ++r) {
        for (std::int64_t b = 0; b < g.blocksPerRow; ++b) {
            const std::int64_t start = g.blockStart(r, b);
            const std::int64_t end = start + g.blockLength(b);
            const std::size_t group = static_cast<std::size_t>(r * g.blocksPerRow + b);
            float vecMax = 0.0f;
            bool finite = true;
            for (std::int64_t i = start; i < end; ++i) {
                const float x = tensor.data[static_cast<std::size_t>(i)];
                finite = finite && std::isfinite(x);
                vecMax = std::max(vecMax, std::fabs(x));
            }
            if (!finite) {
                q.scales[group] = std::numeric_limits<float>::quiet_NaN();
                for (std::int64_t i = start; i < end; ++i)
                    q.codes[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(nanCode);
                continue;
            }
            const float sf = global * (vecMax * sixth);
            const float sf8 = e4m3ToF32(static_cast<std::uint8_t>(encodeValue(scaleFormat, sf)));
            const float inverse = sf8 * globalInverse;
            const float outputScale = inverse == 0.0f ? 0.0f : 1.0f / inverse;
            q.scales[group] = sf8;
            for (std::int64_t i = start; i < end; ++i) {
                float scaled = tensor.data[static_cast<std::size_t>(i)] * outputScale;
                if (std::fabs(scaled) > 6.0f) {
                    ++q.clippedCount;
                    scaled = std::copysign(6.0f, scaled);
                }
                q.codes[static_cast<std::size_t>(i)]
                    = static_cast<std::int32_t>(encodeValue(element, scaled));
            }
        }
    }
    return q;
}

Tensor dequantizeNvfp4(const QuantizedTensor& quantized, const Geometry& g)
{
    const NumberFormat element = e2m1Element();
    float decoded[16];
    for (std::uint32_t code = 0; code < 16; ++code)
        decoded[code] = static_cast<float>(decodeValue(element, code));
    const float global = globalScale(quantized.tensorScale);
    Tensor out = emptyDequantized(quantized);
    for (std::int64_t r = 0; r < g.rows; ++r) {
        for (std::int64_t b = 0; b < g.blocksPerRow; ++b) {
            const float blockScale
                = quantized.scales[static_cast<std::size_t>(r * g.blocksPerRow + b)] / global;
            const std::int64_t start = g.blockStart(r, b);
            for (std::int64_t i = start; i < start + g.blockLength(b); ++i) {
                const std::int32_t code = quantized.codes[static_cast<std::size_t>(i)];
                if (code < 0 || code > 15)
                    throw Error("NVFP4 code " + std::to_string(code) + " is outside [0, 15]");
                out.data[static_cast<std::size_t>(i)] = decoded[code] * blockScale;
            }
        }
    }
    return out;
}

std::vector<std::uint8_t> packNvfp4(const QuantizedTensor& quantized, const Geometry& g)
{
    const std::int64_t bytesPerBlock = (g.blockSize + 1) / 2;
    std::vector<std::uint8_t> out;
    out.reserve(static_cast<std::size_t>(g.groupCount() * (bytesPerBlock + 1) + 4));
    for (std::int64_t r = 0; r < g.rows; ++r) {
        for (std::int64_t b = 0; b < g.blocksPerRow; ++b) {
            const std::int64_t start = g.blockStart(r, b);
            const std::int64_t length = g.blockLength(b);
            auto codeAt = [&](std::int64_t i) -> std::uint8_t {
                return i < length
                    ? static_cast<std::uint8_t>(quantized.codes[static_cast<std::size_t>(start + i)] & 0x0F)
                    : 0;
            };
            for (std::int64_t i = 0; i < bytesPerBlock; ++i)
                out.push_back(static_cast<std::uint8_t>(codeAt(2 * i) | (codeAt(2 * i + 1) << 4)));
        }
    }
    const NumberFormat scaleFormat = e4m3Scale();
    for (const float scale : quantized.scales)
        out.push_back(e4m3Byte(scaleFormat, scale));
    appendF32(out, globalScale(quantized.tensorScale));
    return out;
}

} // namespace qs::blockformat
