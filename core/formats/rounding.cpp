#include "formats/format_codecs.h"

#include <cmath>

namespace qs::detail {

// Explicit tie handling instead of std::nearbyint: results must not depend on the FPU rounding mode.
double roundIntegral(double x, Rounding rounding)
{
    if (rounding == Rounding::NearestAway)
        return std::round(x);
    const double lower = std::floor(x);
    const double fraction = x - lower;
    if (fraction > 0.5 || (fraction == 0.5 && std::fmod(lower, 2.0) != 0.0))
        return lower + 1.0;
    return lower;
}

} // namespace qs::detail
