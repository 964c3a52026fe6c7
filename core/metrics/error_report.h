#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace qs {

/// Error of a reconstruction x̂ against the original x, over the elements where x is finite.
/// Everything is accumulated in double.
struct ErrorReport {
    std::int64_t count = 0;    ///< elements compared (finite x)
    double mse = 0;            ///< mean (x - x̂)²
    double rmse = 0;           ///< sqrt(mse)
    double sqnrDb = 0;         ///< 10·log10(Σx² / Σ(x-x̂)²); +Inf when the error is 0, 0 when Σx² = 0 and error 0
    double maxAbsError = 0;
    double meanAbsError = 0;
    double relativeRmse = 0;   ///< rmse / mean|x| (0 when mean|x| = 0)
    double cosine = 0;         ///< Σx·x̂ / (‖x‖·‖x̂‖); 1 when both are all zero, 0 when exactly one is
    double p50AbsError = 0;    ///< percentiles of |x - x̂| (nearest-rank on the sorted errors)
    double p95AbsError = 0;
    double p99AbsError = 0;
    double clippedShare = 0;   ///< clipped elements / count (as reported by the quantizer)
    double bitsPerValue = 0;   ///< effective bits per value incl. scales and zero points
    bool operator==(const ErrorReport&) const = default;
};

/// Compares `original` with `reconstructed` (same length; throws qs::Error otherwise).
ErrorReport computeErrorReport(std::span<const float> original, std::span<const float> reconstructed,
                               std::int64_t clippedCount = 0, double bitsPerValue = 0);

} // namespace qs
