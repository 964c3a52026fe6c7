#include "calib/histogram.h"

#include "base/error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

namespace qs {

std::int64_t Histogram::total() const
{
    return std::accumulate(counts.begin(), counts.end(), std::int64_t {0});
}

Histogram computeHistogram(std::span<const float> values, int bins, double lo, double hi, bool absolute)
{
    if (bins < 1 || bins > (1 << 24))
        throw Error("histogram bin count " + std::to_string(bins) + " is outside 1..16777216");
    if (!std::isfinite(lo) || !std::isfinite(hi) || hi < lo)
        throw Error("histogram range [" + std::to_string(lo) + ", " + std::to_string(hi)
            + "] is not a valid interval");
    Histogram h;
    h.lo = lo;
    h.hi = hi;
    h.absolute = absolute;
    h.counts.assign(static_cast<std::size_t>(bins), 0);
    const double width = hi - lo;
    const double scale = width > 0 ? bins / width : 0.0;
    const auto last = static_cast<std::size_t>(bins - 1);
    for (const float raw : values) {
        if (!std::isfinite(raw)) {
            ++h.nonFinite;
            continue;
        }
        const double v = absolute ? std::fabs(static_cast<double>(raw)) : static_cast<double>(raw);
        if (v < lo) {
            ++h.below;
        } else if (v > hi) {
            ++h.above;
        } else {
            const double position = (v - lo) * scale;
            const auto bin = std::min(static_cast<std::size_t>(position), last);
            ++h.counts[width > 0 ? bin : last];
        }
    }
    return h;
}

Histogram computeHistogram(std::span<const float> values, int bins, bool absolute)
{
    double lo = std::numeric_limits<double>::infinity();
    double hi = -std::numeric_limits<double>::infinity();
    for (const float raw : values) {
        if (!std::isfinite(raw))
            continue;
        const double v = absolute ? std::fabs(static_cast<double>(raw)) : static_cast<double>(raw);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    if (lo > hi)
        lo = hi = 0;
    if (absolute)
        lo = 0;
    return computeHistogram(values, bins, lo, hi, absolute);
}

} // namespace qs
