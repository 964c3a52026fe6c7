#pragma once

#include "calib/calibration.h"
#include "metrics/error_report.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <string>
#include <vector>

namespace qs::gui {

class TaskControl;

/// One calibration method × compatibility mode and its outcome on one tensor.
struct CalibrationRow {
    qs::CalibrationOptions options; ///< as requested (method, compat, base parameters)
    qs::CalibrationResult result; ///< valid when `error` is empty
    std::string error; ///< why this combination failed
    bool operator==(const CalibrationRow&) const = default;
};

/// Every candidate of one scheme on one tensor, in calibrationCandidates order.
struct CalibrationComparison {
    qs::Scheme scheme;
    qs::Shape batchShape;
    int batches = 1;
    std::vector<CalibrationRow> rows;
    /// Non-empty when no calibration applies to the scheme (block formats, ternary/binary): why.
    std::string unsupported;
    bool operator==(const CalibrationComparison&) const = default;
};

/// The error of fake-quantizing with one per-tensor threshold chosen by hand.
struct ThresholdEvaluation {
    double amax = 0;
    qs::GroupRange range; ///< what was applied: [-amax, amax], or [0, amax] for unsigned integers
    qs::ErrorReport report;
    bool operator==(const ThresholdEvaluation&) const = default;
};

/// Why no calibration method applies to `scheme` (block formats and ternary/binary take their scales from
/// the data by their own rules); empty when calibration applies.
std::string calibrationUnsupportedReason(const qs::Scheme& scheme);

/// The method × compatibility combinations worth comparing for `scheme`, each a copy of `base` (percentile,
/// bins, skipZeros ... as the user set them) with method, compat and mseSweep replaced:
///   minmax     native, modelopt, pytorch, onnxruntime
///   ema        native (= pytorch), onnxruntime          only when batches > 1
///   percentile native, modelopt, onnxruntime           at base.percentile (0: each mode's default)
///   entropy    native, modelopt, onnxruntime, tensorrt
///   mse        native (exact, on the data), modelopt (histogram), modelopt with mseSweep (MseCalibrator)
///   histogram-observer pytorch                          8-bit integer formats, per tensor only
/// Empty when calibrationUnsupportedReason(scheme) is not.
std::vector<qs::CalibrationOptions> calibrationCandidates(
    const qs::Scheme& scheme, const qs::CalibrationOptions& base, int batches);

/// "minmax", "percentile 99.99", "mse (sweep)" ...: the method as the table shows it.
std::string calibrationMethodLabel(const qs::CalibrationOptions& options);

/// Splits `tensor` into `count` equal batches along axis 0 (`quantscope-cli calibrate --batches`). Throws
/// qs::Error when count < 1, the tensor has rank 0, or axis 0 is not divisible by count.
std::vector<qs::Tensor> splitIntoBatches(const qs::Tensor& tensor, int count);

/// Runs calibrate(batches, scheme, candidate) for every candidate; a candidate that throws keeps its error
/// message in its row. `control` (optional) is polled between candidates (TaskCancelled unwinds) and
/// receives progress 0..100. Throws qs::Error for an empty batch list.
CalibrationComparison compareCalibrations(const std::vector<qs::Tensor>& batches, const qs::Scheme& scheme,
    const qs::CalibrationOptions& base, const TaskControl* control = nullptr);

/// The error of fake-quantizing `tensor` per tensor with the range [-amax, amax] ([0, amax] for unsigned
/// integer formats) under `scheme`'s format, range mode, scale format and arithmetic (granularity taken as
/// per tensor). Uses the fused SIMD kernel fakeQuantError where it supports the scheme (percentiles then 0),
/// else computeErrorReport of fakeQuantize. Throws qs::Error for a non-finite or negative amax, or a scheme
/// calibration does not apply to.
ThresholdEvaluation evaluateThreshold(const qs::Tensor& tensor, const qs::Scheme& scheme, double amax);

} // namespace qs::gui
