#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace qs {

/// A histogram with equal-width bins and int64 counts (float counts saturate at 2^24: NVIDIA/TensorRT#2757).
/// Bin i covers [lo + i·w, lo + (i+1)·w) with w = (hi - lo)/bins; the last bin also includes `hi`
/// (numpy.histogram's convention). Values outside [lo, hi] are counted in `below`/`above`, never in a bin.
/// NaN and ±Inf are counted in `nonFinite` and nowhere else.
struct Histogram {
    double lo = 0;
    double hi = 0;
    bool absolute = false; ///< true when the histogram is over |x|
    std::vector<std::int64_t> counts;
    std::int64_t below = 0;
    std::int64_t above = 0;
    std::int64_t nonFinite = 0;

    std::size_t binCount() const { return counts.size(); }
    double binWidth() const { return counts.empty() ? 0.0 : (hi - lo) / static_cast<double>(counts.size()); }
    double edge(std::size_t i) const { return lo + binWidth() * static_cast<double>(i); }
    double center(std::size_t i) const { return lo + binWidth() * (static_cast<double>(i) + 0.5); }
    std::int64_t total() const;
    bool operator==(const Histogram&) const = default;
};

/// Histogram of `values` (or of |values| when `absolute`) with `bins` bins over [lo, hi].
/// Throws qs::Error when bins < 1 or bins > 2^24, or when lo/hi are not finite or hi < lo.
/// hi == lo puts every value equal to lo in the last bin.
Histogram computeHistogram(
    std::span<const float> values, int bins, double lo, double hi, bool absolute = false);

/// Histogram over the finite range of the data: [min, max] (or [0, max|x|] when `absolute`).
/// An input with no finite value gives [0, 0] with all counts zero.
Histogram computeHistogram(std::span<const float> values, int bins, bool absolute = false);

} // namespace qs
