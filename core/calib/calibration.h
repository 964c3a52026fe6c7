#pragma once

#include "calib/collected_histogram.h"
#include "metrics/error_report.h"
#include "quant/quantizer.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace qs {

/// Calibration methods (../shared/reference/calibration.md).
enum class CalibrationMethod {
    MinMax, ///< running min/max (ModelOpt MaxCalibrator, PyTorch MinMaxObserver, ORT MinMax)
    MovingAverage, ///< PyTorch EMA (c = 0.01, first batch initialises) or ORT mean of per-batch extrema
    Percentile, ///< native: exact order statistic; compat: the peer's histogram percentile
    Entropy, ///< KL divergence search (native, ModelOpt/pytorch-quantization, ORT, TensorRT 2017 slides)
    Mse, ///< MSE search over thresholds for the scheme's own quantizer (any format)
    HistogramObserver, ///< PyTorch HistogramObserver non-linear L2 search (torch 2.11)
};

/// Whose exact semantics a method follows. Not every method has every mode; `calibrate` throws qs::Error
/// naming the valid modes when a combination does not exist.
enum class Compatibility {
    Native, ///< Quantscope's own: exact where possible, documented, fast
    ModelOpt, ///< NVIDIA ModelOpt / pytorch-quantization (torch_hist=True path unless stated)
    PyTorch, ///< torch.ao.quantization observers, torch 2.11
    OnnxRuntime, ///< onnxruntime.quantization.calibrate, 1.30
    TensorRT, ///< TensorRT entropy calibration as in the GTC 2017 slides (S7310)
};

/// "minmax", "ema", "percentile", "entropy", "mse", "histogram-observer".
std::string calibrationMethodName(CalibrationMethod method);
/// Case-insensitive; also "min-max", "moving-average", "kl". Throws qs::Error listing the names.
CalibrationMethod calibrationMethodByName(const std::string& name);
/// "native", "modelopt", "pytorch", "onnxruntime", "tensorrt".
std::string compatibilityName(Compatibility compat);
/// Case-insensitive; also "ort", "torch", "trt". Throws qs::Error listing the names.
Compatibility compatibilityByName(const std::string& name);

/// Parameters of a calibration run. Zero means "the compatibility mode's default" where noted; `calibrate`
/// returns them resolved in CalibrationResult::options.
struct CalibrationOptions {
    CalibrationMethod method = CalibrationMethod::MinMax;
    Compatibility compat = Compatibility::Native;
    /// In percent, (0, 100]; 0 = default (ModelOpt 99.99, ORT 99.999, native 99.99).
    double percentile = 0;
    /// Histogram bins, >= 2; 0 = default (2048; ORT entropy 128).
    int bins = 0;
    /// Entropy levels; 0 = default (ModelOpt and native 2^(bits-1+unsigned), ORT 128, TensorRT 128).
    int quantizedBins = 0;
    double averagingConstant = 0.01; ///< EMA constant c in (0, 1] (PyTorch)
    int startBin = 128; ///< ModelOpt entropy/MSE search start
    int stride = 1; ///< ModelOpt entropy/MSE search stride
    /// Unset = the mode's default: ORT percentile true (collect_absolute_value), ORT min-max/EMA false,
    /// native percentile true unless the scheme is affine. ORT: the calibrator's `symmetric` option (min-max
    /// (-absmax, absmax); percentile on |x| or on both tails). Native percentile: one-sided on |x| (true) or
    /// both tails of the signed values (false). Ignored elsewhere.
    std::optional<bool> symmetric;
    bool skipZeros = false; ///< ModelOpt HistogramCalibrator skip_zeros
    /// ModelOpt MSE: MseCalibrator (mtq algorithm "mse": initial amax x linspace(0.25, 4, mseSteps), any
    /// granularity) instead of HistogramCalibrator.compute_amax("mse") (pytorch-quantization's intended
    /// _compute_amax_mse; per tensor, or per channel as calibrate_weights).
    bool mseSweep = false;
    int mseSteps = 39; ///< MseCalibrator candidates (39 at ModelOpt HEAD: step_size 0.1)
    bool operator==(const CalibrationOptions&) const = default;
};

/// Objective of a search method against the candidate threshold (amax, or the upper end for asymmetric
/// searches), for plotting. `best` indexes the chosen candidate.
struct ObjectiveCurve {
    std::string objective; ///< "KL divergence", "MSE", "L2 (HistogramObserver)"
    std::vector<double> threshold; ///< candidate amax (tensor units), ascending
    std::vector<double> value; ///< objective per candidate (may hold +Inf)
    std::size_t best = 0;
    bool operator==(const ObjectiveCurve&) const = default;
};

/// The outcome of calibrating one tensor (or one activation over its batches) for one scheme.
struct CalibrationResult {
    CalibrationOptions options; ///< with defaults resolved (bins, percentile, symmetric, ...)
    std::vector<GroupRange> ranges; ///< per group of groupLayout(scheme, shape), tensor units
    /// Per group: the peer's qparams where it defines them, else as quantize() derives them from `ranges`
    /// (see calibrate).
    std::vector<float> scales;
    std::vector<std::int32_t> zeroPoints; ///< per group (affine), else empty
    /// Final bin count of the histogram used (0 if none; per-group histograms: the largest).
    std::int64_t histogramBins = 0;
    /// Final bin width, edges[1] - edges[0] (tensor units; 0 if none, or if per-group widths differ).
    double histogramBinWidth = 0;
    int batches = 1; ///< batches consumed, in order
    std::int64_t nonFiniteCount = 0; ///< NaN/Inf excluded from the ranges
    /// Search methods: one per group (per tensor: one); empty arrays for a group that needed no search (no
    /// finite value, all zero, constant).
    std::vector<ObjectiveCurve> curves;
    ErrorReport report; ///< error of fake-quantizing all batches with the resulting ranges
    bool operator==(const CalibrationResult&) const = default;
};

/// Splits `tensor` into `count` equal batches along axis 0, in order (throws qs::Error if shape[0] is not
/// divisible or count < 1). count == 1 returns the tensor itself. Batch i is named "NAME[a:b]" (rows a..b-1).
std::vector<Tensor> splitBatches(const Tensor& tensor, int count);

/// Splits along `axis` (negative from the end) into shape[axis] batches, each without that axis (a leading
/// batch axis), in index order; batch i is named "NAME[i]" for axis 0, "NAME[axis=A,i]" otherwise. Throws
/// qs::Error for a scalar or an axis out of range.
std::vector<Tensor> batchesAlongAxis(const Tensor& tensor, int axis);

/// Calibrates `scheme` on `batches` (fed in order; all batches share the shape that defines the groups,
/// except per tensor, where they may differ, e.g. a smaller last batch). Per-channel/per-group ranges are
/// computed per group where the method supports it (min-max, EMA, native percentile, native entropy, native
/// MSE, ModelOpt per-channel percentile/MSE as calibrate_weights, ModelOpt's MseCalibrator sweep); histogram
/// compatibility modes that are per-tensor only in the peer throw qs::Error for other granularities.
///
/// Valid method x compatibility pairs (others throw qs::Error naming the valid modes):
///   minmax      native, modelopt, pytorch, onnxruntime, tensorrt
///   ema         native (= pytorch), pytorch, onnxruntime (mean of the per-batch extrema)
///   percentile  native (exact order statistic), modelopt, onnxruntime
///   entropy     native, modelopt, onnxruntime, tensorrt
///   mse         native (exact, on the data), modelopt
///   histogram-observer  pytorch (native is taken as pytorch)
/// What each peer sees: every batch is one collect()/forward() call of the peer, in order (ORT's
/// quantize_static stacks a whole collect_data() into one call: pass the set as one batch to reproduce that).
/// Histograms: ModelOpt HistogramCalibrator(torch_hist=True) per tensor, numpy.histogram(|w_c|, range=(0,
/// max)) per channel (calibrate_weights, the batches pooled); ORT HistogramCollector (collect_value for
/// entropy and asymmetric percentile, collect_absolute_value for symmetric percentile); PyTorch
/// HistogramObserver; native and TensorRT: nativeHistogram over |x| (exact range first).
///
/// Ranges: min-max [min, max] (ModelOpt/TensorRT: [-amax, amax]); searches as search_methods.h returns them;
/// HistogramObserver's searched [new_min, new_max]. Scales and zero points: PyTorch's _calculate_qparams for
/// integer schemes it defines (signed symmetric full range = per_tensor/channel_symmetric qint8-like, signed
/// symmetric narrow = the [-qmax, qmax] custom range, affine = per_tensor/channel_affine; eps 2^-23), ORT's
/// compute_scale_zp for signed symmetric narrow ([-qmax, qmax]) and affine schemes; otherwise (and for
/// native, ModelOpt and TensorRT) what quantize() derives from the ranges. The error report always
/// fake-quantizes with quantize() and the ranges; the two agree except for degenerate ranges (amax below
/// qmax·2^-23: PyTorch's eps floor; an all-zero range: ORT's scale 1) and, for ORT affine, a zero point that
/// rounds differently in float64.
/// Degenerate data: a group without any finite value gets [0, 0]; a histogram method on a group whose
/// finite values are all zero (|x| histograms), or all equal (HistogramObserver), returns that min-max range
/// without a search (no curve).
/// NaN/Inf are excluded from every statistic and counted in nonFiniteCount (ModelOpt asserts on them, torch
/// and numpy fail on NaN): the peers' results equal ours on the finite values.
/// Throws qs::Error for an empty batch list, mismatched shapes, an empty tensor, absurd parameters
/// (percentile outside (0, 100], bins < 2, averaging constant outside (0, 1]), a block format or
/// ternary/binary (they take their scales from the data by their own rules), or an invalid method x compat
/// combination.
CalibrationResult calibrate(
    const std::vector<Tensor>& batches, const Scheme& scheme, const CalibrationOptions& options);

/// `calibrate` without the error report (CalibrationResult::report left default-constructed): the ranges,
/// scales, zero points, histogram facts and curves are equal to calibrate's. For callers that measure the
/// error themselves (the GUI's fused SIMD pass), since the report's reference pass costs more than most
/// methods. Throws as calibrate does.
CalibrationResult calibrateRanges(
    const std::vector<Tensor>& batches, const Scheme& scheme, const CalibrationOptions& options);

// Building blocks of `calibrate`, exposed for tests, the GUI and scripts. `batches` share one shape (per
// tensor: any shapes) and the groups are those of groupLayout(scheme, shape). NaN/Inf are excluded everywhere
// and added to *nonFinite when it is given. A group without any finite value gets [0, 0].

/// Throws qs::Error unless there is at least one batch, every batch holds as many values as its shape, and
/// (except per tensor, where a smaller last batch is fine) all batches share one shape.
void checkCalibrationBatches(const std::vector<Tensor>& batches, const Scheme& scheme);

/// The finite values of every group, batch after batch, each in memory order.
std::vector<std::vector<float>> groupFiniteValues(
    const std::vector<Tensor>& batches, const Scheme& scheme, std::int64_t* nonFinite = nullptr);

/// Per batch, the min and max of every group's finite values (NaN where a group has none in that batch).
struct BatchExtrema {
    std::vector<float> min;
    std::vector<float> max;
};
std::vector<BatchExtrema> batchGroupExtrema(
    const std::vector<Tensor>& batches, const Scheme& scheme, std::int64_t* nonFinite = nullptr);

/// Running min/max per group: MinMaxObserver / PerChannelMinMaxObserver, ORT MinMaxCalibrater (nanmin/nanmax
/// of the per-batch ReduceMin/ReduceMax), ModelOpt MaxCalibrator before it takes max(|min|, |max|). Exact.
std::vector<GroupRange> runningMinMaxRanges(
    const std::vector<Tensor>& batches, const Scheme& scheme, std::int64_t* nonFinite = nullptr);

/// PyTorch MovingAverageMinMaxObserver / MovingAveragePerChannelMinMaxObserver (observer.py, torch 2.11): the
/// first batch that has finite values in a group initialises its min/max with that batch's extrema, every
/// later one updates, in float32 with c rounded to float32:
///   min = min + c·(batch_min - min),  max = max + c·(batch_max - max)
/// (torch evaluates the three operations as separate float32 tensor ops: no fused multiply-add).
std::vector<GroupRange> emaMinMaxRanges(const std::vector<Tensor>& batches, const Scheme& scheme,
    double averagingConstant, std::int64_t* nonFinite = nullptr);

/// ORT MinMaxCalibrater with moving_average=True inside one collect_data() (calibrate.py compute_data): per
/// group np.nanmean of the per-batch minima and of the maxima. As numpy does it: the float32 sum of the batch
/// extrema (NaN replaced by 0) divided in float64 by the number of non-NaN batches, rounded to float32; the
/// sum is numpy's pairwise one (8-way unrolled blocks of 128) for one group (ORT's [batches, 1] array) and a
/// plain running sum over the batches for several groups (ORT per_channel's [batches, channels] array). It is
/// not an EMA (ORT's EMA applies only across collect_data calls).
///   symmetric: (-m, m) with m = max(|mean min|, |mean max|).
std::vector<GroupRange> ortMeanMinMaxRanges(const std::vector<Tensor>& batches, const Scheme& scheme,
    bool symmetric, std::int64_t* nonFinite = nullptr);

/// ORT's `symmetric` min-max range: (-m, m), m = max(|min|, |max|).
GroupRange ortSymmetricRange(const GroupRange& range);

/// Nearest-rank order statistic: the 1-based rank k = ceil(p/100 · n), clamped to [1, n], of the value
/// returned for percentile p among n values. p/100 · n is evaluated in double and a relative 1e-12 is
/// subtracted before the ceiling, so that 99.99 % of 10000 values is rank 9999 (not 10000 through rounding).
std::int64_t percentileRank(double percentile, std::int64_t n);

/// Native exact percentile per group, no histogram involved (per tensor: a two-pass radix selection on the
/// batches in place, calib/order_statistic.h; several groups: std::nth_element on each group's finite
/// values):
///   symmetric: amax = the percentileRank(p, n)-th smallest |x|; range [-amax, amax]
///   both tails (symmetric = false), cutting (100 - p)/2 % on each side:
///     max = the k-th smallest x with k = percentileRank((100 + p)/2, n)
///     min = the (n + 1 - k)-th smallest x (the mirror rank: the k-th largest)
/// p = 100 gives the min-max range.
std::vector<GroupRange> exactPercentileRanges(const std::vector<Tensor>& batches, const Scheme& scheme,
    double percentile, bool symmetric, std::int64_t* nonFinite = nullptr);

/// ModelOpt/pytorch-quantization _compute_amax_percentile on a collected |x| histogram:
///   hist = counts truncated to integers (ModelOpt's .int()); cdf = cumsum(hist / hist.sum()) in float64
///   idx = searchsorted(cdf, p/100, side='left')   (the first bin whose cdf >= p/100)
///   amax = edges[idx]  (the LEFT edge of that bin, slightly below the true quantile), as float32
///   (ModelOpt returns torch.tensor(edge)). An empty histogram gives edges[0].
/// Throws qs::Error for p outside [0, 100] (the peer's ValueError).
double modelOptPercentileAmax(const CollectedHistogram& histogram, double percentile);

/// ORT HistogramCollector.compute_percentile (calibrate.py, 1.30):
///   cdf = cumsum(hist / hist.sum()) in float64
///   symmetric (histogram of |x|): e = edges[searchsorted(cdf, p/100)]; range (-e, e)
///   asymmetric (signed histogram): cut = (100 - p)/200; (edges[searchsorted(cdf, cut)],
///                                                         edges[searchsorted(cdf, 1 - cut)])
///   then lo = max(lo, seenMin), hi = min(hi, seenMax): the running signed min/max of the data, which can
///   make a symmetric range asymmetric.
/// Throws qs::Error for p outside [0, 100].
GroupRange ortPercentileRange(
    const CollectedHistogram& histogram, double percentile, bool symmetric, double seenMin, double seenMax);

} // namespace qs
