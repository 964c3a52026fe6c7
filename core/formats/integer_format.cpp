#include "base/error.h"
#include "formats/format_codecs.h"

#include <cmath>
#include <string>

namespace qs::detail {

void validateInteger(const IntegerSpec& spec)
{
    if (spec.bits < 2 || spec.bits > 16)
        throw Error("integer formats have 2 to 16 bits, not " + std::to_string(spec.bits));
}

double decodeInteger(const IntegerSpec& spec, std::uint32_t code)
{
    const std::uint32_t signBit = 1u << (spec.bits - 1);
    if (spec.isSigned && (code & signBit) != 0)
        return double(std::int64_t(code) - (std::int64_t(1) << spec.bits));
    return double(code);
}

std::uint32_t encodeInteger(const IntegerSpec& spec, Rounding rounding, double x)
{
    if (std::isnan(x))
        return 0;
    const double lowest = spec.isSigned ? -std::ldexp(1.0, spec.bits - 1) : 0.0;
    const double highest
        = spec.isSigned ? std::ldexp(1.0, spec.bits - 1) - 1 : std::ldexp(1.0, spec.bits) - 1;
    double q;
    if (x <= lowest)
        q = lowest;
    else if (x >= highest)
        q = highest;
    else
        q = roundIntegral(x, rounding); // stays in [lowest, highest]: both ends are integers
    const auto twosComplement = static_cast<std::uint32_t>(static_cast<std::int32_t>(q));
    return twosComplement & ((1u << spec.bits) - 1);
}

} // namespace qs::detail
