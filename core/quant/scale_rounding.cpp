#include "quant/scale_rounding.h"

#include "tensor/dtype.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

namespace qs::detail {

namespace {

const MinifloatRounder& e4m3Rounder()
{
    static const MinifloatRounder rounder = MinifloatRounder::make(MinifloatSpec {4, 3, 7}, false, 448.0);
    return rounder;
}

bool isPowerOfTwo(float value)
{
    int exponent = 0;
    return std::frexp(value, &exponent) == 0.5f;
}

} // namespace

bool MinifloatRounder::supports(const MinifloatSpec& spec)
{
    if (spec.exponentBits < 1 || spec.exponentBits > 8 || spec.mantissaBits < 0 || spec.mantissaBits > 22)
        return false;
    const int minSubnormalExponent = 1 - spec.bias - spec.mantissaBits;
    const int topField = (1 << spec.exponentBits) - (spec.specials == MinifloatSpecials::Ieee ? 2 : 1);
    const int maxExponent = topField - spec.bias;
    return minSubnormalExponent >= -149 && maxExponent <= 127;
}

MinifloatRounder MinifloatRounder::make(const MinifloatSpec& spec, bool tiesAway, double maxFinite)
{
    MinifloatRounder rounder;
    rounder.mantissaBits = spec.mantissaBits;
    rounder.bias = spec.bias;
    rounder.tiesAway = tiesAway;
    rounder.maxBits = floatBits(static_cast<float>(maxFinite));
    std::uint32_t low = rounder.maxBits; // rounds to the largest value
    std::uint32_t high = 0x7F800000u; // +Inf rounds past it
    while (high - low > 1) {
        const std::uint32_t middle = low + (high - low) / 2;
        (rounder.roundBits(middle) > rounder.maxBits ? high : low) = middle;
    }
    rounder.clipFromBits = high;
    return rounder;
}

float minimumScale(ScaleFormat format)
{
    switch (format) {
    case ScaleFormat::F32:
    case ScaleFormat::BF16:
        return FLT_MIN;
    case ScaleFormat::F16:
        return std::ldexp(1.0f, -24);
    case ScaleFormat::E8M0:
        return std::ldexp(1.0f, -127);
    case ScaleFormat::E4M3:
        return std::ldexp(1.0f, -9);
    }
    return FLT_MIN;
}

float maximumScale(ScaleFormat format)
{
    switch (format) {
    case ScaleFormat::F32:
        return FLT_MAX;
    case ScaleFormat::F16:
        return 65504.0f;
    case ScaleFormat::BF16:
        return bf16ToF32(0x7F7F);
    case ScaleFormat::E8M0:
        return std::ldexp(1.0f, 127);
    case ScaleFormat::E4M3:
        return 448.0f;
    }
    return FLT_MAX;
}

float roundScale(float scale, ScaleFormat format)
{
    float rounded = scale;
    switch (format) {
    case ScaleFormat::F32:
        break;
    case ScaleFormat::F16:
        rounded = f16ToF32(f32ToF16(scale));
        break;
    case ScaleFormat::BF16:
        rounded = bf16ToF32(f32ToBf16(scale));
        break;
    case ScaleFormat::E8M0: {
        // E8M0 scales of real groups come from e8m0Scale; only the fixed zero-range scales (1, eps) get here.
        int exponent = 0;
        std::frexp(scale, &exponent);
        rounded = std::ldexp(1.0f, std::clamp(exponent - 1, -127, 127));
        break;
    }
    case ScaleFormat::E4M3: {
        const MinifloatRounder& rounder = e4m3Rounder();
        rounded = bitsFloat(std::min(rounder.roundBits(floatBits(scale)), rounder.maxBits));
        break;
    }
    }
    if (!(rounded >= minimumScale(format)))
        return minimumScale(format);
    return std::min(rounded, maximumScale(format));
}

float e8m0Scale(float span, double elemMax, int elemMantissaBits, E8M0Rounding rounding)
{
    const int emax = std::ilogb(elemMax);
    int exponent = 0;
    switch (rounding) {
    case E8M0Rounding::Floor:
        exponent = std::ilogb(span) - emax;
        break;
    case E8M0Rounding::Ceil:
        exponent = std::ilogb(span) + (isPowerOfTwo(span) ? 0 : 1) - emax;
        break;
    case E8M0Rounding::Even: {
        std::uint32_t bits = floatBits(span);
        if (elemMantissaBits < 23)
            bits += 1u << (23 - elemMantissaBits - 1);
        exponent = std::ilogb(bitsFloat(bits & 0xFF800000u)) - emax;
        break;
    }
    case E8M0Rounding::RCeil: {
        const float ratio = span / static_cast<float>(elemMax);
        exponent = std::ilogb(ratio) + (isPowerOfTwo(ratio) ? 0 : 1);
        break;
    }
    }
    return std::ldexp(1.0f, std::clamp(exponent, -127, 127));
}

} // namespace qs::detail
