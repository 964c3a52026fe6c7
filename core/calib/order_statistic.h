#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace qs {

/// Exact order statistics of the finite values of several spans taken together, without copying or
/// reordering them: two reading passes of a radix selection on the float32 bit patterns (first the top 16
/// bits, then the low 16 bits inside the bucket that holds the rank), each a 65,536-bin int64 histogram.
///
/// Ordering: the float order with -0 before +0 (the bit-pattern order), so the result is unique;
/// it equals what std::nth_element on a copy of the finite values returns, except that where that copy
/// holds both -0 and +0 at the rank, this returns the one the bit order puts there.
/// NaN and ±Inf are skipped. `ranks` are 0-based ranks among the finite values, each < finiteCount.
struct OrderStatistics {
    std::int64_t finiteCount = 0;
    std::vector<float> values; ///< one per requested rank, in the order asked
};

/// Counts the finite values of `spans` (one pass) — use it to turn percentiles into ranks.
std::int64_t countFinite(std::span<const std::span<const float>> spans);

/// The values at `ranks` (0-based, ascending order of the values). `magnitudes` selects among |x| instead
/// of x. Throws qs::Error when a rank is out of range.
std::vector<float> selectRanks(std::span<const std::span<const float>> spans,
    const std::vector<std::int64_t>& ranks, bool magnitudes, std::int64_t finiteCount);

} // namespace qs
