#include "base/error.h"
#include "formats/number_format.h"
#include "quant/block_formats.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace qs::blockformat {

namespace {

struct MxElement {
    bool isInteger = false; ///< MXINT8
    NumberFormat format; ///< minifloat elements
    int emax = 0;
    int mantissaBits = 0;
    double maxValue = 0;
};

MxElement mxElement(BlockFormat blockFormat, Rounding rounding)
{
    MxElement e;
    switch (blockFormat) {
    case BlockFormat::MXFP8_E4M3:
        e = {false, fp8E4M3Format(), 8, 3, 448.0};
        break;
    case BlockFormat::MXFP8_E5M2:
        e = {false, fp8E5M2Format(), 15, 2, 57344.0};
        break;
    case BlockFormat::MXFP6_E3M2:
        e = {false, fp6E3M2Format(), 4, 2, 28.0};
        break;
    case BlockFormat::MXFP6_E2M3:
        e = {false, fp6E2M3Format(), 2, 3, 7.5};
        break;
    case BlockFormat::MXFP4:
        e = {false, fp4E2M1Format(), 2, 1, 6.0};
        break;
    case BlockFormat::MXINT8:
        e = {true, integerFormat(8, true), 0, 6, 127.0 / 64.0};
        break;
    default:
        throw Error(blockFormatName(blockFormat) + " is not an MX format");
    }
    // Values reach the element encoder already clamped to ±max, so only the rounding matters; saturation
    // keeps ties-away at the top of the range (e.g. E4M3 464 -> 480) on the largest finite value.
    e.format.minifloat.rounding = rounding;
    e.format.minifloat.overflow = OverflowPolicy::Saturate;
    e.format.minifloat.inf = InfPolicy::Saturate;
    return e;
}

int exponentField(std::uint32_t bits)
{
    return static_cast<int>((bits >> 23) & 0xFF);
}

/// The unclamped shared exponent of a block with finite amax; NaN scale when it does not exist.
struct SharedExponent {
    int exponent = 0;
    bool isNan = false;
};

SharedExponent sharedExponent(float amax, const MxElement& element, E8M0Rounding mode)
{
    if (!std::isfinite(amax))
        return {0, true};
    const auto bits = std::bit_cast<std::uint32_t>(amax);
    switch (mode) {
    case E8M0Rounding::Floor:
        return {exponentField(bits) - 127 - element.emax, false};
    case E8M0Rounding::Ceil:
        return {exponentField(bits) - 127 + ((bits & 0x7FFFFFu) != 0 ? 1 : 0) - element.emax, false};
    case E8M0Rounding::Even: {
        const std::uint32_t rounded = (bits + (1u << (22 - element.mantissaBits))) & 0xFF800000u;
        // torchao tests finiteness after this rounding, so an amax that rounds up to 2^128 is a NaN scale.
        if (exponentField(rounded) == 0xFF)
            return {0, true};
        return {exponentField(rounded) - 127 - element.emax, false};
    }
    case E8M0Rounding::RCeil: {
        const float descale = amax * static_cast<float>(1.0 / element.maxValue);
        const auto d = std::bit_cast<std::uint32_t>(descale);
        const std::uint32_t mantissa = d & 0x7FFFFFu;
        const bool roundUp = exponentField(d) == 0 ? mantissa > 0x400000u : mantissa != 0;
        return {exponentField(d) + (roundUp ? 1 : 0) - 127, false};
    }
    }
    return {0, true};
}

double roundInteger(double value, Rounding rounding)
{
    const double away = std::copysign(std::floor(std::fabs(value) + 0.5), value);
    if (rounding == Rounding::NearestAway)
        return away;
    if (std::fabs(away - value) == 0.5 && std::fmod(away, 2.0) != 0)
        return away - std::copysign(1.0, value);
    return away;
}

std::uint8_t e8m0Byte(float scale)
{
    if (std::isnan(scale))
        return 0xFF;
    int exponent = 0;
    const double mantissa = std::frexp(static_cast<double>(scale), &exponent);
    if (mantissa != 0.5 || exponent - 1 < -127 || exponent - 1 > 127)
        throw Error("MX scale " + std::to_string(scale) + " is not a power of two in [2^-127, 2^127]");
    return static_cast<std::uint8_t>(exponent - 1 + 127);
}

} // namespace

QuantizedTensor quantizeMx(const Tensor& tensor, const Scheme& scheme, const Geometry& g)
{
    const MxElement element = mxElement(scheme.blockFormat, scheme.elementRounding);
    QuantizedTensor q = emptyQuantized(tensor, scheme, g);
    const std::uint32_t nanCode
        = element.isInteger ? 0 : encodeValue(element.format, std::numeric_limits<double>::quiet_NaN());

    for (std::int64_t r = 0; r < g.rows; ++r) {
        for (std::int64_t b = 0; b < g.blocksPerRow; ++b) {
            const std::int64_t start = g.blockStart(r, b);
            const std::int64_t length = g.blockLength(b);
            float amax = 0.0f;
            bool finite = true;
            for (std::int64_t i = start; i < start + length; ++i) {
                const float x = tensor.data[static_cast<std::size_t>(i)];
                if (!std::isfinite(x)) {
                    finite = false;
                    ++q.nonFiniteCount;
                }
                amax = std::max(amax, std::fabs(x));
            }
            const std::size_t group = static_cast<std::size_t>(r * g.blocksPerRow + b);
            const SharedExponent shared
                = finite ? sharedExponent(amax, element, scheme.e8m0Rounding) : SharedExponent {0, true};
            if (shared.isNan) {
                q.scales[group] = std::numeric_limits<float>::quiet_NaN();
                for (std::int64_t i = start; i < start + length; ++i)
                    q.codes[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(nanCode);
                continue;
            }
            const int exponent = std::clamp(shared.exponent, -127, 127);
            q.scales[group] = std::ldexp(1.0f, exponent);
            for (std::int64_t i = start; i < start + length; ++i) {
                double scaled
                    = std::ldexp(static_cast<double>(tensor.data[static_cast<std::size_t>(i)]), -exponent);
                if (std::fabs(scaled) > element.maxValue) {
                    ++q.clippedCount;
                    scaled = std::copysign(element.maxValue, scaled);
                }
                if (element.isInteger) {
                    const double level
                        = std::clamp(roundInteger(scaled * 64.0, scheme.elementRounding), -127.0, 127.0);
                    q.codes[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(level);
                } else {
                    q.codes[static_cast<std::size_t>(i)]
                        = static_cast<std::int32_t>(encodeValue(element.format, scaled));
                }
            }
        }
    }
    return q;
}

Tensor dequantizeMx(const QuantizedTensor& quantized, const Geometry& g)
{
    const MxElement element = mxElement(quantized.scheme.blockFormat, quantized.scheme.elementRounding);
    std::vector<double> decoded;
    if (!element.isInteger) {
        decoded.resize(static_cast<std::size_t>(formatCodeCount(element.format)));
        for (std::size_t code = 0; code < decoded.size(); ++code)
            decoded[code] = decodeValue(element.format, static_cast<std::uint32_t>(code));
    }
    Tensor out = emptyDequantized(quantized);
    for (std::int64_t r = 0; r < g.rows; ++r) {
        for (std::int64_t b = 0; b < g.blocksPerRow; ++b) {
            const double scale = quantized.scales[static_cast<std::size_t>(r * g.blocksPerRow + b)];
            const std::int64_t start = g.blockStart(r, b);
            for (std::int64_t i = start; i < start + g.blockLength(b); ++i) {
                const std::int32_t code = quantized.codes[static_cast<std::size_t>(i)];
                double value;
                if (element.isInteger) {
                    if (code < -127 || code > 127)
                        throw Error("MXINT8 code " + std::to_string(code) + " is outside [-127, 127]");
                    value = code / 64.0;
                } else {
                    if (code < 0 || code >= static_cast<std::int32_t>(decoded.size()))
                        throw Error(
                            element.format.name + " code " + std::to_string(code) + " is out of range");
                    value = decoded[static_cast<std::size_t>(code)];
                }
                out.data[static_cast<std::size_t>(i)] = static_cast<float>(value * scale);
            }
        }
    }
    return out;
}

std::vector<std::uint8_t> packMx(const QuantizedTensor& quantized, const Geometry& g)
{
    const bool fp4 = quantized.scheme.blockFormat == BlockFormat::MXFP4;
    const std::int64_t payload = fp4 ? (g.blockSize + 1) / 2 : g.blockSize;
    std::vector<std::uint8_t> out;
    out.reserve(static_cast<std::size_t>(g.groupCount() * (1 + payload)));
    std::vector<std::uint8_t> block(static_cast<std::size_t>(g.blockSize));
    for (std::int64_t r = 0; r < g.rows; ++r) {
        for (std::int64_t b = 0; b < g.blocksPerRow; ++b) {
            out.push_back(e8m0Byte(quantized.scales[static_cast<std::size_t>(r * g.blocksPerRow + b)]));
            std::fill(block.begin(), block.end(), std::uint8_t {0});
            const std::int64_t start = g.blockStart(r, b);
            for (std::int64_t i = 0; i < g.blockLength(b); ++i)
                block[static_cast<std::size_t>(i)]
                    = static_cast<std::uint8_t>(quantized.codes[static_cast<std::size_t>(start + i)] & 0xFF);
            if (fp4) {
                for (std::int64_t i = 0; i < payload; ++i) {
                    const std::uint8_t low = block[static_cast<std::size_t>(2 * i)] & 0x0F;
                    const std::uint8_t high
                        = 2 * i + 1 < g.blockSize ? block[static_cast<std::size_t>(2 * i + 1)] & 0x0F : 0;
                    out.push_back(static_cast<std::uint8_t>(low | (high << 4)));
                }
            } else {
                out.insert(out.end(), block.begin(), block.end());
            }
        }
    }
    return out;
}

} // namespace qs::blockformat
