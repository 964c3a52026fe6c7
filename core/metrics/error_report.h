#pragma once

#include "tensor/tensor.h"

#include <cstdint>
#include <span>
#include <vector>

namespace qs {

/// Error of a reconstruction x̂ against the original x, over the elements where x is finite (NaN/±Inf in x
/// are skipped; a non-finite x̂ at a finite x counts as an infinite error). Everything is accumulated in
/// double; e = x - x̂.
struct ErrorReport {
    std::int64_t count = 0; ///< elements compared (finite x)
    double mse = 0; ///< Σe² / count
    double rmse = 0; ///< sqrt(mse)
    double sqnrDb = 0; ///< 10·log10(Σx² / Σe²); +Inf when Σe² = 0 < Σx², 0 when both are 0,
                       ///< -Inf when Σx² = 0 < Σe²
    double maxAbsError = 0; ///< max |e|
    double meanAbsError = 0; ///< Σ|e| / count
    double relativeRmse = 0; ///< rmse / mean|x| (0 when mean|x| = 0); the ik_llama.cpp-style relative error
    double cosine = 0; ///< Σx·x̂ / sqrt(Σx²·Σx̂²), clamped to [-1, 1]; 1 when both are all zero, 0 when
                       ///< exactly one is
    double p50AbsError = 0; ///< percentiles of |e|, nearest rank: the ceil(p·count/100)-th smallest
    double p95AbsError = 0;
    double p99AbsError = 0;
    double clippedShare = 0; ///< clippedCount / count (as reported by the quantizer)
    double bitsPerValue = 0; ///< effective bits per value incl. scales and zero points (passed through)
    bool operator==(const ErrorReport&) const = default;
};

/// The double-precision totals every ErrorReport field except the percentiles follows from (over finite x).
struct ErrorTotals {
    std::int64_t count = 0;
    double sumSquaredError = 0; ///< Σ (x - x̂)²
    double sumAbsError = 0; ///< Σ |x - x̂|
    double maxAbsError = 0;
    double sumSquaredSignal = 0; ///< Σ x²
    double sumAbsSignal = 0; ///< Σ |x|
    double sumSquaredRecon = 0; ///< Σ x̂²
    double sumProduct = 0; ///< Σ x·x̂
    std::int64_t clipped = 0;
};

/// The report that follows from `totals` (percentiles left 0), with the formulas documented at ErrorReport.
ErrorReport errorReportFromTotals(const ErrorTotals& totals, double bitsPerValue = 0);

/// Compares `original` with `reconstructed` (same length; throws qs::Error otherwise). Two passes, O(n)
/// time; the percentiles are exact (radix selection on the bits of |e|), with O(1) extra memory besides the
/// elements of the few histogram buckets that hold the requested ranks.
ErrorReport computeErrorReport(std::span<const float> original, std::span<const float> reconstructed,
    std::int64_t clippedCount = 0, double bitsPerValue = 0);

/// One report per index along `axis` of the common shape (negative axis from the end), in channel order,
/// e.g. per output channel of a [out, in] weight with axis 0. clippedShare and bitsPerValue are 0.
/// Throws qs::Error when the shapes differ, a size does not match its shape, or the axis is out of range.
std::vector<ErrorReport> perChannelErrorReports(
    const Tensor& original, const Tensor& reconstructed, int axis);

} // namespace qs
