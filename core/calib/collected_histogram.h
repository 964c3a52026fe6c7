#pragma once

#include <cstdint>
#include <vector>

namespace qs {

/// A histogram as a peer calibrator holds it after collecting batches: explicit edges (which may be float32
/// values, stored exactly as double) and counts (double: exact for int64 counts up to 2^53, and able to hold
/// PyTorch's float counts). `edges.size() == counts.size() + 1`, ascending.
struct CollectedHistogram {
    std::vector<double> edges;
    std::vector<double> counts;
    double minSeen = 0; ///< smallest finite value seen (signed; for |x| histograms the smallest |x|)
    double maxSeen = 0; ///< largest finite value seen
    bool absolute = false; ///< true when the histogram is over |x|
    bool operator==(const CollectedHistogram&) const = default;

    std::size_t binCount() const { return counts.size(); }
};

/// Throws qs::Error ("WHO: ...") unless the histogram has at least one bin, one more edge than bins, and
/// finite, non-negative counts.
void checkHistogram(const CollectedHistogram& histogram, const char* who);

} // namespace qs
