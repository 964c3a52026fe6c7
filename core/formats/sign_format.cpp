#include "formats/format_codecs.h"

#include <algorithm>
#include <cmath>

namespace qs::detail {

double decodeSign(const SignSpec& spec, std::uint32_t code)
{
    if (spec.ternary)
        return double(code) - 1.0;
    return code != 0 ? 1.0 : -1.0;
}

std::uint32_t encodeSign(const SignSpec& spec, Rounding rounding, double x)
{
    if (!spec.ternary)
        return x > 0 ? 1u : 0u;
    if (std::isnan(x))
        return 1;
    // Round first, clamp after (transformers WeightQuant: clamp(round(x), -1, 1)), so 1.5 -> 2 -> 1.
    const double q = std::clamp(roundIntegral(std::clamp(x, -4.0, 4.0), rounding), -1.0, 1.0);
    return static_cast<std::uint32_t>(static_cast<int>(q) + 1);
}

} // namespace qs::detail
