#include "calib/collected_histogram.h"

#include "base/error.h"

#include <cmath>
#include <string>

namespace qs {

void checkHistogram(const CollectedHistogram& histogram, const char* who)
{
    if (histogram.counts.empty() || histogram.edges.size() != histogram.counts.size() + 1)
        throw Error(std::string(who)
            + ": the histogram needs at least one bin and one more edge than bins (got "
            + std::to_string(histogram.counts.size()) + " bins, " + std::to_string(histogram.edges.size())
            + " edges)");
    for (const double c : histogram.counts)
        if (!(c >= 0) || !std::isfinite(c))
            throw Error(std::string(who) + ": histogram counts must be finite and non-negative");
}

} // namespace qs
