#include "base/error.h"
#include "formats/format_codecs.h"

#include <array>
#include <cmath>
#include <string>

namespace qs::detail {

namespace {

constexpr std::size_t maxTableSize = 256;

std::size_t searchedCount(const LookupSpec& spec)
{
    return spec.signMagnitude ? spec.values.size() / 2 : spec.values.size();
}

} // namespace

void validateLookup(const LookupSpec& spec)
{
    const std::size_t n = spec.values.size();
    if (n < 2 || n > maxTableSize)
        throw Error("a lookup format needs 2 to 256 values, not " + std::to_string(n));
    if (spec.signMagnitude && n % 2 != 0)
        throw Error("a sign-magnitude lookup format needs an even number of values");
    for (float v : spec.values)
        if (!std::isfinite(v))
            throw Error("lookup format values must be finite");
    if (!spec.thresholds.empty()) {
        if (spec.thresholds.size() + 1 != searchedCount(spec))
            throw Error("a lookup format needs one threshold per pair of adjacent values");
        for (std::size_t i = 1; i < spec.thresholds.size(); ++i)
            if (!(spec.thresholds[i - 1] <= spec.thresholds[i]))
                throw Error("lookup format thresholds must be ascending");
    }
}

double decodeLookup(const LookupSpec& spec, std::uint32_t code)
{
    return spec.values[code];
}

std::uint32_t encodeLookup(const LookupSpec& spec, double x)
{
    // Only the checks memory safety needs: this runs once per element (validateLookup runs elsewhere).
    const std::size_t n = searchedCount(spec);
    if (spec.values.size() < 2 || spec.values.size() > maxTableSize
        || (!spec.thresholds.empty() && spec.thresholds.size() + 1 != n)
        || (spec.signMagnitude && spec.values.size() % 2 != 0))
        validateLookup(spec);

    bool ascending = true;
    for (std::size_t i = 1; i < n; ++i)
        ascending = ascending && spec.values[i - 1] <= spec.values[i];
    std::array<std::uint8_t, maxTableSize> order;
    if (!ascending) {
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t j = i;
            while (j > 0 && spec.values[order[j - 1]] > spec.values[i]) {
                order[j] = order[j - 1];
                --j;
            }
            order[j] = static_cast<std::uint8_t>(i);
        }
    }
    const auto sorted = [&](std::size_t k) -> std::size_t { return ascending ? k : order[k]; };

    const double key = spec.signMagnitude ? std::fabs(x) : x;
    const auto above = [&](std::size_t k) {
        const float threshold = spec.thresholds.empty()
            ? (spec.values[sorted(k)] + spec.values[sorted(k + 1)]) / 2.0f
            : spec.thresholds[k];
        return spec.tie == LookupTie::Lower ? key > threshold : key >= threshold;
    };
    // rank = number of thresholds below x; they ascend, so binary search (NaN is above none: rank 0).
    std::size_t rank = 0;
    std::size_t end = n - 1;
    while (rank < end) {
        const std::size_t middle = (rank + end) / 2;
        if (above(middle))
            rank = middle + 1;
        else
            end = middle;
    }
    auto code = static_cast<std::uint32_t>(sorted(rank));
    if (spec.signMagnitude && x < 0)
        code += static_cast<std::uint32_t>(n);
    return code;
}

} // namespace qs::detail
