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

/// A per-tensor clipping range of one calibration method on the whole tensor (see
/// QuantizationAnalysis::clipRanges).
struct MethodRange {
    ClipRange range;
    std::string method; ///< qs::calibrationMethodName of the method; empty for the percentile lines
    bool operator==(const MethodRange&) const = default;
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
    /// Where a fused SIMD kernel covers the scheme (qs::fakeQuantError, blockFakeQuantError,
    /// ternaryFakeQuantError), the tensor is fed whole and holds at least kFusedReportMinElements values,
    /// the report comes from its sums
    /// (qs::errorReportFromSums: equal to qs::computeErrorReport up to rounding) and the percentiles of |e|
    /// are not known (left 0, errorPercentilesKnown false).
    qs::ErrorReport report;
    bool errorPercentilesKnown = true;
    /// x̂ − x over the finite x (x̂ = the dequantized value), symmetric around 0: [−m, m] with m the largest
    /// finite |x̂ − x| counted, or the report's maxAbsError when that is finite and larger ([−1, 1]
    /// when every error is 0). A non-finite x̂ counts in nonFinite. With errorSampleStride = 1 every element
    /// is counted, so counts plus nonFinite add up to report.count.
    qs::Histogram errorHistogram;
    /// 1: errorHistogram counts every element. k > 1: it counts a fixed-stride sample of about
    /// kErrorSampleMaxElements values (per tensor every k-th element, otherwise every k-th slice along
    /// axis 0 with its groups' ranges, so each sampled x̂ equals the whole tensor's).
    std::int64_t errorSampleStride = 1;
    /// The group whose range and grid are drawn: 0 per tensor; per channel along the Distribution view's
    /// axis, the focus channel (its top outlier channel); otherwise the group with the largest amax.
    std::int64_t referenceGroup = 0;
    std::string referenceGroupLabel; ///< "per tensor", "channel 7", "group 12 (largest range)"
    /// The chosen range (of the reference group) first, then the other methods' per-tensor ranges on the
    /// whole tensor: min-max, percentile 99.9 % and 99.99 % of |x|, native entropy, native MSE (the last
    /// three on a 2048-bin |x| histogram; entropy and MSE for the scheme's element format).
    std::vector<ClipRange> clipRanges;
    /// Every other method's range as methodClipRanges computes it (before the chosen one is left out).
    std::vector<MethodRange> methodRanges;
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
/// Smallest tensor whose error report comes from the fused kernels (smaller ones keep the reference path,
/// percentiles included: it is fast there), as in qs::compareSchemes.
inline constexpr std::int64_t kFusedReportMinElements = 65536;
/// Largest sample QuantizationAnalysis::errorHistogram counts on big tensors (see errorSampleStride).
inline constexpr std::int64_t kErrorSampleMaxElements = std::int64_t {1} << 20;

/// The per-tensor ranges of the other methods on the whole tensor, for `scheme`'s element format: min-max,
/// percentile 99.9 % and 99.99 % of |x|, native entropy and native MSE on a 2048-bin |x| histogram (lines a
/// method cannot give, e.g. MSE for a scheme with its own scales, are left out). They depend on the tensor
/// and the scheme only.
std::vector<MethodRange> methodClipRanges(
    const qs::Tensor& tensor, const qs::Scheme& scheme, const TaskControl& control);

/// The error report of `tensor` with `settings` on the reference path, percentiles included: calibrate()'s
/// report (bitsPerValue set), or for schemes with their own scales qs::computeErrorReport of the tensor and
/// its dequantized quantization. Throws qs::Error as analyzeQuantization does.
qs::ErrorReport referenceErrorReport(const qs::Tensor& tensor, const SchemeSettings& settings);

/// What a caller already has, to spare work (null: computed).
struct QuantizationReuse {
    /// A one-element batch list holding `tensor` (or an equal copy): the calibrators take batch lists, and
    /// without it the data is copied into one when settings.batches is 1.
    const std::vector<qs::Tensor>* wholeBatch = nullptr;
    /// methodClipRanges(tensor, settings.scheme) from an earlier analysis of the same tensor and scheme.
    const std::vector<MethodRange>* methodRanges = nullptr;
};

/// Calibrates (qs::calibrate, or qs::calibrateRanges where the report is fused; calibration->report is then
/// `report`) and quantizes `tensor` with `settings`, and gathers everything above.
/// Polls `control` between steps. Throws TaskCancelled, or qs::Error with the reason when the scheme does not
/// fit the tensor (granularity, method × compatibility, batches that do not divide the leading axis…).
QuantizationAnalysis analyzeQuantization(const qs::Tensor& tensor, const SchemeSettings& settings,
    const QuantizationFocus& focus, const TaskControl& control, const QuantizationReuse& reuse = {});

} // namespace qs::gui
