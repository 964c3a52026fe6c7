#include "base/error.h"
#include "formats/format_codecs.h"

#include <bit>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

namespace qs::detail {

namespace {

struct Layout {
    int exponentBits;
    int mantissaBits;
    std::uint32_t signBit;
    std::uint32_t exponentMask; // all-ones exponent field, unshifted
    std::uint32_t mantissaMask;
};

Layout layoutOf(const MinifloatSpec& spec)
{
    return {spec.exponentBits, spec.mantissaBits, 1u << (spec.exponentBits + spec.mantissaBits),
        (1u << spec.exponentBits) - 1, (1u << spec.mantissaBits) - 1};
}

// floor(log2(x)) for finite x > 0; bit extraction because this runs once per encoded element.
int binaryExponent(double x)
{
    const int biased = int(std::bit_cast<std::uint64_t>(x) >> 52);
    if (biased != 0)
        return biased - 1023;
    int exponent = 0;
    std::frexp(x, &exponent);
    return exponent - 1;
}

// x * 2^k, exact while the result is a normal double; a multiply where 2^k is a normal double.
double scaleByPowerOfTwo(double x, int k)
{
    if (k < -1022 || k > 1023)
        return std::ldexp(x, k);
    return x * std::bit_cast<double>(std::uint64_t(k + 1023) << 52);
}

std::uint32_t quietNanCode(const MinifloatSpec& spec, const Layout& layout)
{
    if (spec.specials == MinifloatSpecials::Ieee)
        return (layout.exponentMask << layout.mantissaBits) | (1u << (layout.mantissaBits - 1));
    return layout.signBit - 1;
}

} // namespace

void validateMinifloat(const MinifloatSpec& spec)
{
    const auto fail = [&](const char* problem) {
        throw Error("invalid minifloat spec e" + std::to_string(spec.exponentBits) + "m"
            + std::to_string(spec.mantissaBits) + " bias " + std::to_string(spec.bias) + ": " + problem);
    };
    if (spec.exponentBits < 1 || spec.exponentBits > 8)
        fail("needs 1 to 8 exponent bits");
    if (spec.mantissaBits < 0 || spec.mantissaBits > 20)
        fail("needs 0 to 20 mantissa bits");
    if (std::abs(spec.bias) > 512)
        fail("the bias must lie in [-512, 512]");
    if (spec.specials != MinifloatSpecials::FiniteOnly && spec.exponentBits < 2)
        fail("formats with Inf or NaN codes need at least 2 exponent bits");
    if (spec.specials == MinifloatSpecials::Ieee && spec.mantissaBits < 1)
        fail("IEEE-style NaN codes need at least 1 mantissa bit");
}

std::uint32_t minifloatMaxFiniteCode(const MinifloatSpec& spec)
{
    const Layout layout = layoutOf(spec);
    switch (spec.specials) {
    case MinifloatSpecials::Ieee:
        return (layout.exponentMask << layout.mantissaBits) - 1;
    case MinifloatSpecials::NanOnlyFn:
        return layout.signBit - 2;
    case MinifloatSpecials::FiniteOnly:
        break;
    }
    return layout.signBit - 1;
}

double decodeMinifloat(const MinifloatSpec& spec, std::uint32_t code)
{
    const Layout layout = layoutOf(spec);
    const bool negative = (code & layout.signBit) != 0;
    const std::uint32_t exponent = (code >> layout.mantissaBits) & layout.exponentMask;
    const std::uint32_t mantissa = code & layout.mantissaMask;
    double magnitude;
    if (spec.specials == MinifloatSpecials::Ieee && exponent == layout.exponentMask)
        magnitude = mantissa == 0 ? std::numeric_limits<double>::infinity()
                                  : std::numeric_limits<double>::quiet_NaN();
    else if (spec.specials == MinifloatSpecials::NanOnlyFn && exponent == layout.exponentMask
        && mantissa == layout.mantissaMask)
        magnitude = std::numeric_limits<double>::quiet_NaN();
    else if (exponent == 0)
        magnitude = std::ldexp(double(mantissa), 1 - spec.bias - spec.mantissaBits);
    else
        magnitude = std::ldexp(
            double((1u << spec.mantissaBits) | mantissa), int(exponent) - spec.bias - spec.mantissaBits);
    return negative ? -magnitude : magnitude;
}

std::uint32_t encodeMinifloat(const MinifloatSpec& spec, const MinifloatOptions& options, double x)
{
    const Layout layout = layoutOf(spec);
    const bool negative = std::signbit(x);
    const std::uint32_t sign = negative ? layout.signBit : 0u;
    const std::uint32_t maxCode = minifloatMaxFiniteCode(spec);

    // What ml_dtypes calls infinity(): Inf where it exists, the NaN code for e4m3fn, max for the MX types.
    const auto nonFinite = [&] {
        switch (spec.specials) {
        case MinifloatSpecials::Ieee:
            return sign | (layout.exponentMask << layout.mantissaBits);
        case MinifloatSpecials::NanOnlyFn:
            return sign | quietNanCode(spec, layout);
        case MinifloatSpecials::FiniteOnly:
            break;
        }
        return sign | maxCode;
    };

    if (std::isnan(x)) {
        if (spec.specials != MinifloatSpecials::FiniteOnly)
            return sign | quietNanCode(spec, layout);
        if (options.nan == NanPolicy::PositiveMax)
            return maxCode;
        return negative ? 0u : layout.signBit;
    }
    if (std::isinf(x))
        return options.inf == InfPolicy::Saturate ? (sign | maxCode) : nonFinite();

    const double magnitude = std::fabs(x);
    if (magnitude == 0.0)
        return sign;

    const int minNormalExponent = 1 - spec.bias;
    const int exponent = binaryExponent(magnitude); // magnitude in [2^exponent, 2^(exponent+1))
    const bool subnormal = exponent < minNormalExponent;
    const int quantumExponent = (subnormal ? minNormalExponent : exponent) - spec.mantissaBits;
    const double units = roundIntegral(scaleByPowerOfTwo(magnitude, -quantumExponent), options.rounding);
    const auto count = static_cast<std::uint32_t>(units);

    // count may be 2^(M+1) after rounding up: the addition carries into the exponent field. Overflow is
    // judged on that rounded code, as ml_dtypes does: e4m3fn 464 rounds to 448 and stays finite. No
    // wrap-around: exponent + bias <= 1023 + 512 and M <= 20.
    const std::uint32_t magnitudeCode = subnormal
        ? count
        : (static_cast<std::uint32_t>(exponent + spec.bias) << spec.mantissaBits) + count
            - (1u << spec.mantissaBits);
    if (magnitudeCode > maxCode)
        return options.overflow == OverflowPolicy::Saturate ? (sign | maxCode) : nonFinite();
    return sign | magnitudeCode;
}

std::vector<double> minifloatValues(const MinifloatSpec& spec)
{
    if (spec.exponentBits + spec.mantissaBits > 24)
        throw Error("minifloat e" + std::to_string(spec.exponentBits) + "m"
            + std::to_string(spec.mantissaBits) + " has too many values to list");
    const std::uint32_t maxCode = minifloatMaxFiniteCode(spec);
    // Non-negative codes 0..maxCode are finite and strictly increasing in value.
    std::vector<double> values;
    values.reserve(2 * std::size_t(maxCode) + 1);
    for (std::uint32_t code = maxCode; code > 0; --code)
        values.push_back(-decodeMinifloat(spec, code));
    for (std::uint32_t code = 0; code <= maxCode; ++code)
        values.push_back(decodeMinifloat(spec, code));
    return values;
}

} // namespace qs::detail
