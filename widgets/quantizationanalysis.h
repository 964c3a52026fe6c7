#pragma once

#include "calib/calibration.h"
#include "calib/histogram.h"
#include "metrics/error_report.h"
#include "schemesettings.h"
#include "taskcontrol.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qs::gui {

/// A clipping range drawn over the histogram, in tensor units.
struct ClipRange {
    std::string label; ///< "min-max", "percentile 99.9 %", "entropy (KL)", "MSE", or the chosen method's name
    double min = 0;
    double max = 0;
    bool chosen = false; ///< the range of the scheme dock's method (drawn bold)
    bool operator==(const ClipRange&) const = default;
};

/// What the Distribution view shows about quantizing one tensor with one SchemeSettings. Immutable once
/// published.
struct QuantizationAnalysis {
    std::uint64_t id = 0; ///< unique per request within a session
    std::uint64_t analysisId = 0; ///< TensorAnalysis::id of the tensor it was computed on
    int fileId = -1;
    std::string tensorName;
    SchemeSettings settings;
    /// The chosen method's outcome (ranges, scales, zero points per group, curves); absent for schemes
    /// with their own scales (schemeHasOwnScales), which are quantized with their reference rules.
    std::optional<qs::CalibrationResult> calibration;
    /// Error of the whole tensor quantized with the scheme and the chosen ranges; bitsPerValue included.
    qs::ErrorReport report;
    /// x̂ − x over the finite x (x̂ = the dequantized value), symmetric around 0: [−m, m] with m the largest
    /// finite |x̂ − x| ([−1, 1] when every error is 0). A non-finite x̂ counts in nonFinite, so counts plus
    /// nonFinite add up to report.count.
    qs::Histogram errorHistogram;
    /// The group whose range and grid are drawn: 0 per tensor; per channel along the Distribution view's
    /// axis, the focus channel (its top outlier channel); otherwise the group with the largest amax.
    std::int64_t referenceGroup = 0;
    std::string referenceGroupLabel; ///< "per tensor", "channel 7", "group 12 (largest range)"
    /// The chosen range (of the reference group) first, then the other methods' per-tensor ranges on the
    /// whole tensor: min-max, percentile 99.9 % and 99.99 % of |x|, native entropy, native MSE (the last
    /// three on a 2048-bin |x| histogram; entropy and MSE for the scheme's element format).
    std::vector<ClipRange> clipRanges;
    /// The representable values after scaling, ascending, for the reference group's scale (and zero
    /// point): element formats of at most 8 bits that are calibrated; empty otherwise.
    std::vector<double> grid;

    bool operator==(const QuantizationAnalysis&) const = default;
};

/// Where the reference group comes from: the Distribution view's channel axis and focus channel.
struct QuantizationFocus {
    int channelAxis = 0; ///< already effective for the tensor's rank
    std::int64_t focusChannel = -1; ///< -1: none
};

/// Number of bins of QuantizationAnalysis::errorHistogram.
inline constexpr int kErrorHistogramBins = 201;

/// Calibrates (qs::calibrate) and quantizes `tensor` with `settings`, and gathers everything above. Polls
/// `control` between steps. Throws TaskCancelled, or qs::Error with the reason when the scheme does not fit
/// the tensor (granularity, method × compatibility, batches that do not divide the leading axis…).
QuantizationAnalysis analyzeQuantization(const qs::Tensor& tensor, const SchemeSettings& settings,
    const QuantizationFocus& focus, const TaskControl& control);

} // namespace qs::gui
