#pragma once

#include "calib/collected_histogram.h"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace qs {

// Histogram accumulation over calibration batches, exactly as each peer calibrator does it
// (../shared/reference/calibration.md §1.3, §2.4, §3.3). Every collector is fed one batch per call, in order,
// the way the peer's own collect()/forward() is called once per batch; the result depends on the order and on
// how the data is split into batches, as in the peer.
//
// Common rules, where Quantscope deviates from the peers on purpose:
// * NaN and ±Inf are removed from a batch before the peer's algorithm sees it and are counted in
//   nonFiniteCount(). ModelOpt's torch.histc and numpy fail on NaN (and on Inf ranges), ORT's np.histogram
//   fails on them, HistogramObserver drops ±Inf (with a warning) and fails on NaN.
// * A batch with no finite value (after skip_zeros, for ModelOpt) is skipped: batchCount() counts it, the
//   histogram does not change. The peers fail or record a range of [0, 0] there.
// * Counts are never float32 except where the peer itself holds float32 counts (torch.histc,
//   HistogramObserver); those are reproduced as float32, including their saturation at 2^24
//   (NVIDIA/TensorRT#2757).
//
// Peer arithmetic, reproduced bit for bit and checked against torch 2.11.0 (CPU, 1 thread) and numpy 2.5.2:
// * torch.linspace(start, end, steps), float32 on CPU: step = (end - start) / (steps - 1) in float32;
//   element i < steps/2 is fma(step, i, start), the others fma(-step, steps - 1 - i, end): one rounding each.
// * torch.arange(0, end, step), float32 on CPU: length ceil(end / step) in double; element i is
//   float(step·i) computed in double, except that runs of 8 (16 elements per vectorised iteration, from the
//   start) are float(float(step·i0) + k·step) with i0 the run's first index; the last length mod 16 elements
//   are scalar.
// * torch.histc(x, bins, min, max), float32: values outside [min, max] are dropped; bin =
//   int(((x - min) · bins) / (max - min)) in float32, bins - 1 for x == max; counts are float32 sums of 1.
//   min == max takes the batch's own aminmax instead, and if that is a single value v, [v - 1, v + 1].
// * numpy.linspace(start, stop, n) on float32 scalars (numpy 2, NEP 50):
//   step = float32(stop - start) / (n - 1) and element i = float32(i · step) + start, both in float32; the
//   last element is stop.
// * numpy.histogram(x, n, range) on float32 data: float32 edges as numpy.linspace; bin =
//   int(((x - first) / (last - first)) · n) in float32, then moved down one if x < edges[bin] and up one if
//   x >= edges[bin + 1] (not past the last bin); the last bin includes `last`. An empty range
//   (first == last) becomes [first - 0.5, last + 0.5]. With explicit edges: bin k holds
//   edges[k] <= x < edges[k + 1], the last bin also x == edges[n]; values outside are dropped.
// * numpy.arange(start, stop, step) on float32 scalars returns float64: length ceil(float32((stop - start) /
//   step)) (float32 subtraction and division); element 1 is float32(start + step), element i >= 2 is
//   start + i·(element 1 - start) in double. On float64 scalars everything is in double.

/// One peer's histogram collector.
class HistogramCollector {
public:
    virtual ~HistogramCollector() = default;

    /// Feeds one batch (one call of the peer's collect/forward).
    virtual void collect(std::span<const float> batch) = 0;

    /// The histogram as the peer holds it now: edges exactly as the peer's float32/float64 values, counts as
    /// the peer's int64 or float32 counts. Empty (no bins) before the first batch with a finite value.
    virtual CollectedHistogram histogram() const = 0;

    std::int64_t nonFiniteCount() const { return nonFinite_; }
    int batchCount() const { return batches_; }

protected:
    /// Copies the finite values of `batch` into `out` (cleared first), counting the others and the batch.
    void finiteValues(std::span<const float> batch, std::vector<float>& out);

private:
    std::int64_t nonFinite_ = 0;
    int batches_ = 0;
};

/// ModelOpt / pytorch-quantization HistogramCalibrator.collect (calib/histogram.py), per tensor.
/// Every batch is first made |x| (x.abs() if min(x) < 0) and, with skip_zeros, its exact zeros dropped.
///
/// torch_hist=True (the default):
///   first batch: hist = torch.histc(x, bins, min=0, max=max(x)), edges = torch.linspace(0, max(x), bins + 1)
///   later:       if max(x) > edges[-1]: width = edges[1] - edges[0] (float32); bins = ceil(max(x) / width)
///                (float32); edges = torch.arange(0, max(x) + width, width)
///                hist = torch.histc(x, bins, min=0, max=edges[-1]); hist[:len(old)] += old  (float32)
/// The bin width never changes after the first batch: the histogram grows by appending bins. torch.arange and
/// the float32 ceil can disagree by one, leaving ModelOpt with one edge more (or fewer) than bins + 1;
/// histogram() then keeps the first bins + 1 edges (or extends them by i·width), which is all that ModelOpt's
/// entropy and percentile read (its MSE search fails on the mismatch).
/// A first batch whose max is 0 gives width 0; growing such a histogram fails in ModelOpt (int(inf)) and
/// throws qs::Error here.
///
/// torch_hist=False (numpy):
///   first batch: hist, edges = numpy.histogram(x, bins)  (range [min(x), max(x)], float32 edges)
///   later:       if max(x) > edges[-1]: width = edges[1] - edges[0];
///                edges = hstack(edges, numpy.arange(edges[-1] + width, max(x) + width, width))
///                hist = numpy.histogram(x, edges); hist[:len(old)] += old                 (int64 counts)
/// The appended numpy.arange is float64, so the edges are float64 from the first growth on. Values below
/// edges[0] (the first batch's smallest |x|) are dropped.
///
/// histogram(): absolute = true, minSeen/maxSeen = smallest/largest |x| fed to the histogram.
class ModelOptHistogramCollector final : public HistogramCollector {
public:
    explicit ModelOptHistogramCollector(int bins = 2048, bool torchHist = true, bool skipZeros = false);
    void collect(std::span<const float> batch) override;
    CollectedHistogram histogram() const override;

private:
    void collectTorch(std::vector<float>& x);
    void collectNumpy(std::vector<float>& x);

    int bins_;
    bool torchHist_;
    bool skipZeros_;
    std::int64_t numBins_; ///< ModelOpt's _num_bins (torch path)
    bool started_ = false;
    std::vector<double> edges_; ///< float32 values, or float64 (numpy path after growth)
    bool edgesFloat64_ = false;
    std::vector<double> counts_; ///< float32 values (torch) or int64 values (numpy)
    double minSeen_ = 0;
    double maxSeen_ = 0;
    std::vector<float> scratch_;
};

/// ONNX Runtime HistogramCollector (onnxruntime/python/tools/quantization/calibrate.py, 1.30), int64 counts.
///
/// Absolute (collect_absolute_value: percentile with symmetric=True, the default):
///   first batch: hist, edges = numpy.histogram(|x|, bins)  (range [min|x|, max|x|], float32 edges)
///   later:       if max|x| > edges[-1]: width = edges[1] - edges[0] (float32);
///                edges = hstack(edges, numpy.arange(edges[-1] + width, max|x| + width, width))   (float64)
///                hist = numpy.histogram(|x|, edges); edges = edges.astype(float32); hist[:len(old)] += old
///   Values below edges[0] (the first batch's smallest |x|) are dropped.
///   histogram(): absolute = true, minSeen/maxSeen = smallest/largest |x|; signedMin()/signedMax() are the
///   running min(x)/max(x) that compute_percentile clamps to.
///
/// Signed (collect_value: entropy, distribution, percentile with symmetric=False), MXNet's combine_histogram:
///   th = max(|min(x)|, |max(x)|) (float32)
///   first batch: hist, edges = numpy.histogram(x, bins, range=(-th, th))
///   later, th <= old_th: hist = old + numpy.histogram(x, len(old), range=(-old_th, old_th)); edges unchanged
///          old_th == 0:  hist = old + numpy.histogram(x, len(old), range=(-th, th)) (the old counts keep
///                        their indices though their bins moved: the peer's own behaviour)
///          otherwise:    stride = 2·old_th / old_bins; half = int((th - old_th) // stride + 1);
///                        bins' = old_bins + 2·half; th' = half·stride + old_th          (all float32)
///                        hist = numpy.histogram(x, bins', range=(-th', th'))
///                        hist[half : bins' - half] += old
///   The first batch fixes the bin width; growth adds `half` bins on each side (128 -> 128 + 2·half).
///
///   histogram(): absolute = false, minSeen/maxSeen = running min(x)/max(x) (signed).
///
/// ORT's quantize_static stacks all batches of one collect_data() call into one array before collecting, so
/// it calls collect() once per collect_data(); feed the concatenated set as one batch to reproduce that.
class OrtHistogramCollector final : public HistogramCollector {
public:
    OrtHistogramCollector(int bins, bool absolute);
    void collect(std::span<const float> batch) override;
    CollectedHistogram histogram() const override;
    double signedMin() const { return min_; }
    double signedMax() const { return max_; }
    double threshold() const { return threshold_; } ///< signed collector: the current th

private:
    void collectAbsolute(const std::vector<float>& x);
    void collectValue(const std::vector<float>& x);

    int bins_;
    bool absolute_;
    bool started_ = false;
    std::vector<double> edges_; ///< float32 values
    std::vector<double> counts_; ///< int64 values
    float min_ = 0;
    float max_ = 0;
    float threshold_ = 0;
    float absMin_ = 0;
    float absMax_ = 0;
    std::vector<float> scratch_;
};

/// torch.ao.quantization.HistogramObserver.forward, torch 2.11 (after pytorch/pytorch#129387), per tensor, on
/// signed values with float32 counts:
///   first batch: min, max = aminmax(x); hist = torch.histc(x, bins, min, max)
///   later:       new_min = min(min, min(x)); new_max = max(max, max(x))
///                upd = torch.histc(x, bins, new_min, new_max)      (the new batch binned on the new range)
///                range unchanged:  hist = hist + upd
///                old min == max:   hist = upd + histc(old_min, bins, new_min, new_max) · sum(hist)
///                otherwise:        hist = upd + _upscale_histogram(hist, min, max, new_min, new_max)
///   _upscale_histogram: every bin split into 16 sub-bins of hist/16 at the mid points
///     torch.linspace(min, max, 16·bins + 1)[:-1] + 0.5·(max - min)/(16·bins), each moved to the new bin
///     torch.bucketize(mid, torch.linspace(new_min, new_max, bins + 1), right=True) - 1 (clamped to
///     [0, bins - 1]) and summed with torch.bincount (float32, in index order).
/// sum(hist) is taken in double and rounded to float32 (torch's own float32 reduction order is not
/// reproduced; the two agree while the total is below 2^24).
///
/// histogram(): absolute = false, minSeen/maxSeen = the observer's min_val/max_val, edges = torch.linspace of
/// the range the counts are binned on: [min_val, max_val], except while min_val == max_val = v, when
/// torch.histc bins on [v - 1, v + 1].
class PyTorchHistogramCollector final : public HistogramCollector {
public:
    explicit PyTorchHistogramCollector(int bins = 2048);
    void collect(std::span<const float> batch) override;
    CollectedHistogram histogram() const override;

private:
    int bins_;
    bool started_ = false;
    float min_ = 0;
    float max_ = 0;
    std::vector<float> hist_;
    std::vector<float> scratch_;
};

/// Quantscope's own histogram: two passes over all batches, first the exact range ([0, max|x|] when
/// `absolute`, else [min, max]), then int64 counts in `bins` equal bins of that range (computeHistogram of
/// calib/histogram.h: bin = floor((v - lo)·bins/(hi - lo)) in double, the last bin includes hi; edges
/// lo + i·w with w = (hi - lo)/bins, the last edge hi). Independent of batch order and split. NaN/Inf are
/// excluded (their number is added to *nonFinite when given). With no finite value the range is [0, 0].
CollectedHistogram nativeHistogram(const std::vector<std::span<const float>>& batches, int bins,
    bool absolute, std::int64_t* nonFinite = nullptr);

/// ModelOpt calibrate_weights' histogram of one channel (or the whole weight): numpy.histogram(|w|, bins,
/// range=(0, max|w|)), float32 edges, int64 counts (absolute = true). Non-finite values are excluded.
CollectedHistogram modelOptWeightHistogram(std::span<const float> values, int bins);

/// The peers' own arithmetic (see the comment at the top), exposed for tests.
namespace peer {
std::vector<float> torchLinspace(float start, float end, std::int64_t steps);
std::vector<float> torchArange(double end, double step); ///< torch.arange(0, end, step), float32 on CPU
std::vector<float> numpyLinspace(float start, float stop, std::int64_t count);
/// numpy.arange on float32 scalars (float32Scalars) or float64 scalars; the result is float64 either way.
std::vector<double> numpyArange(double start, double stop, double step, bool float32Scalars);
/// torch.histc(values, bins, min, max) as float32 counts (one thread).
std::vector<float> torchHistc(std::span<const float> values, std::int64_t bins, double min, double max);
/// numpy.histogram(values, bins, range=(first, last)) with float32 range scalars: counts; `edges` receives
/// the float32 edges. Throws qs::Error where numpy raises ("Too many bins for data range").
std::vector<std::int64_t> numpyHistogram(std::span<const float> values, std::int64_t bins, float first,
    float last, std::vector<float>* edges = nullptr);
/// numpy.histogram(values, bins=edges): counts of the bins between ascending explicit edges.
std::vector<std::int64_t> numpyHistogramEdges(std::span<const float> values, std::span<const double> edges);
} // namespace peer

} // namespace qs
