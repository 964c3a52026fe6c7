#include "calib/histogram_collectors.h"

#include "base/error.h"
#include "calib/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace qs {

namespace {

using I = std::int64_t;

// Growth is driven by the data; a pathological batch (tiny first range, huge later value) would make the
// peers allocate billions of bins. Refuse instead of exhausting memory.
constexpr I kMaxBins = I(1) << 26;

// float32 counts saturate here: 2^24 + 1 rounds back to 2^24 (ties to even).
constexpr I kFloatCountLimit = I(1) << 24;

bool isFinite(float x)
{
    return std::isfinite(x);
}

void checkBins(I bins, const char* who)
{
    if (bins < 1 || bins > kMaxBins)
        throw Error(std::string(who) + ": histogram of " + std::to_string(bins) + " bins is outside 1.."
            + std::to_string(kMaxBins));
}

/// numpy's floor_divide on float32 scalars (npy_divmodf in npy_math_internal.h.src).
float numpyFloorDivide(float a, float b)
{
    if (b == 0)
        return a / b;
    float mod = std::fmod(a, b);
    float div = (a - mod) / b;
    if (mod != 0) {
        if ((b < 0) != (mod < 0)) {
            mod += b;
            div -= 1.0f;
        }
    }
    if (div == 0)
        return std::copysign(0.0f, a / b);
    float floored = std::floor(div);
    if (div - floored > 0.5f)
        floored += 1.0f;
    return floored;
}

float minOf(const std::vector<float>& x)
{
    return *std::min_element(x.begin(), x.end());
}

float maxOf(const std::vector<float>& x)
{
    return *std::max_element(x.begin(), x.end());
}

std::vector<double> widen(const std::vector<float>& values)
{
    return {values.begin(), values.end()};
}

std::vector<double> widen(const std::vector<I>& values)
{
    std::vector<double> out(values.size());
    for (std::size_t k = 0; k < values.size(); ++k)
        out[k] = double(values[k]);
    return out;
}

/// Adds `old` into the first old.size() entries of `hist` (`hist[:len(old)] += old`).
template<class T> void addPrefix(std::vector<T>& hist, const std::vector<double>& old, const char* who)
{
    if (old.size() > hist.size())
        throw Error(std::string(who) + ": the new histogram (" + std::to_string(hist.size())
            + " bins) is shorter than the old one (" + std::to_string(old.size()) + ")");
    for (std::size_t k = 0; k < old.size(); ++k)
        hist[k] = T(hist[k] + T(old[k]));
}

} // namespace

void HistogramCollector::finiteValues(std::span<const float> batch, std::vector<float>& out)
{
    ++batches_;
    out.clear();
    out.reserve(batch.size());
    for (const float v : batch) {
        if (isFinite(v))
            out.push_back(v);
        else
            ++nonFinite_;
    }
}

namespace peer {

std::vector<float> torchLinspace(float start, float end, I steps)
{
    if (steps < 0)
        throw Error("torch.linspace: negative number of steps");
    std::vector<float> out(static_cast<std::size_t>(steps));
    if (steps == 0)
        return out;
    if (steps == 1) {
        out[0] = start;
        return out;
    }
    const float step = (end - start) / float(steps - 1);
    const I half = steps / 2;
    for (I i = 0; i < steps; ++i)
        out[std::size_t(i)]
            = i < half ? std::fma(step, float(i), start) : std::fma(-step, float(steps - i - 1), end);
    return out;
}

std::vector<float> torchArange(double end, double step)
{
    if (!(step > 0) || !std::isfinite(end) || !std::isfinite(step))
        throw Error(
            "torch.arange: invalid range [0, " + std::to_string(end) + ") with step " + std::to_string(step));
    const double size = std::ceil(end / step);
    if (!(size > 0))
        return {};
    if (size > double(kMaxBins))
        throw Error("torch.arange: " + std::to_string(size) + " elements is too many");
    const I n = I(size);
    const I vectorEnd = n / 16 * 16;
    std::vector<float> out(static_cast<std::size_t>(n));
    for (I i = 0; i < n; ++i) {
        if (i < vectorEnd) {
            const I first = i / 8 * 8;
            const float base = float(step * double(first));
            out[std::size_t(i)] = float(double(base) + double(i - first) * step);
        } else {
            out[std::size_t(i)] = float(step * double(i));
        }
    }
    return out;
}

std::vector<float> numpyLinspace(float start, float stop, I count)
{
    if (count < 0)
        throw Error("numpy.linspace: negative number of samples");
    std::vector<float> y(static_cast<std::size_t>(count));
    const I div = count - 1;
    const float delta = stop - start;
    if (div > 0) {
        const float step = delta / float(div);
        for (I i = 0; i < count; ++i)
            y[std::size_t(i)] = step == 0 ? (float(i) / float(div)) * delta : float(i) * step;
    } else {
        for (I i = 0; i < count; ++i)
            y[std::size_t(i)] = float(i) * delta;
    }
    for (float& v : y)
        v += start;
    if (count > 1)
        y.back() = stop;
    return y;
}

std::vector<double> numpyArange(double start, double stop, double step, bool float32Scalars)
{
    double length;
    double next;
    if (float32Scalars) {
        const float s = float(start);
        const float q = (float(stop) - s) / float(step);
        length = std::ceil(double(q));
        next = double(s + float(step));
        start = double(s);
    } else {
        length = std::ceil((stop - start) / step);
        next = start + step;
    }
    if (std::isnan(length))
        throw Error("numpy.arange: cannot compute the length (NaN)");
    if (!(length > 0))
        return {};
    if (length > double(kMaxBins))
        throw Error("numpy.arange: " + std::to_string(length) + " elements is too many");
    const I n = I(length);
    std::vector<double> out(static_cast<std::size_t>(n));
    out[0] = start;
    if (n > 1)
        out[1] = next;
    const double delta = next - start;
    for (I i = 2; i < n; ++i)
        out[std::size_t(i)] = start + double(i) * delta;
    return out;
}

std::vector<float> torchHistc(std::span<const float> values, I bins, double min, double max)
{
    checkBins(bins, "torch.histc");
    double lo = min;
    double hi = max;
    if (lo == hi && !values.empty()) {
        const auto [a, b] = std::minmax_element(values.begin(), values.end());
        lo = *a;
        hi = *b;
    }
    if (lo == hi) {
        lo -= 1;
        hi += 1;
    }
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi))
        throw Error("torch.histc: range of [" + std::to_string(lo) + ", " + std::to_string(hi)
            + "] is not finite or not increasing");
    const float left = float(lo);
    const float right = float(hi);
    const float span = right - left;
    const float binsF = float(bins);
    std::vector<I> counts(std::size_t(bins), 0);
    for (const float x : values) {
        if (!(x >= left && x <= right))
            continue;
        I pos = I(((x - left) * binsF) / span);
        pos = std::clamp<I>(pos, 0, bins - 1);
        ++counts[std::size_t(pos)];
    }
    std::vector<float> out(static_cast<std::size_t>(bins));
    for (std::size_t k = 0; k < out.size(); ++k)
        out[k] = float(std::min(counts[k], kFloatCountLimit));
    return out;
}

std::vector<I> numpyHistogram(
    std::span<const float> values, I bins, float first, float last, std::vector<float>* edges)
{
    checkBins(bins, "numpy.histogram");
    if (first > last)
        throw Error("numpy.histogram: max must be larger than min in range parameter");
    if (!std::isfinite(first) || !std::isfinite(last))
        throw Error("numpy.histogram: supplied range of [" + std::to_string(first) + ", "
            + std::to_string(last) + "] is not finite");
    if (first == last) {
        first -= 0.5f;
        last += 0.5f;
    }
    std::vector<float> e = numpyLinspace(first, last, bins + 1);
    for (std::size_t k = 0; k + 1 < e.size(); ++k)
        if (!(e[k] < e[k + 1]))
            throw Error("numpy.histogram: Too many bins for data range. Cannot create " + std::to_string(bins)
                + " finite-sized bins");
    const float denom = last - first;
    const float numerator = float(bins);
    std::vector<I> counts(std::size_t(bins), 0);
    for (const float x : values) {
        if (!(x >= first && x <= last))
            continue;
        const float f = ((x - first) / denom) * numerator;
        I index = std::clamp<I>(I(f), 0, bins);
        if (index == bins)
            --index;
        if (x < e[std::size_t(index)])
            --index;
        if (x >= e[std::size_t(index) + 1] && index != bins - 1)
            ++index;
        ++counts[std::size_t(std::clamp<I>(index, 0, bins - 1))];
    }
    if (edges)
        *edges = std::move(e);
    return counts;
}

std::vector<I> numpyHistogramEdges(std::span<const float> values, std::span<const double> edges)
{
    if (edges.size() < 2)
        throw Error("numpy.histogram: `bins` must hold at least two edges");
    for (std::size_t k = 0; k + 1 < edges.size(); ++k)
        if (edges[k] > edges[k + 1])
            throw Error("numpy.histogram: `bins` must increase monotonically, when an array");
    const std::size_t bins = edges.size() - 1;
    std::vector<I> counts(bins, 0);
    const double first = edges.front();
    const double last = edges.back();
    for (const float raw : values) {
        const double x = raw;
        if (!(x >= first && x <= last))
            continue;
        const auto above = std::upper_bound(edges.begin(), edges.end(), x);
        const std::size_t bin = std::min<std::size_t>(std::size_t(above - edges.begin()) - 1, bins - 1);
        ++counts[bin];
    }
    return counts;
}

} // namespace peer

// ModelOpt / pytorch-quantization ---------------------------------------------------------------------------

ModelOptHistogramCollector::ModelOptHistogramCollector(int bins, bool torchHist, bool skipZeros)
    : bins_(bins)
    , torchHist_(torchHist)
    , skipZeros_(skipZeros)
    , numBins_(bins)
{
    checkBins(bins, "ModelOpt HistogramCalibrator");
}

void ModelOptHistogramCollector::collect(std::span<const float> batch)
{
    finiteValues(batch, scratch_);
    std::vector<float>& x = scratch_;
    for (float& v : x)
        v = std::fabs(v);
    if (skipZeros_)
        x.erase(std::remove(x.begin(), x.end(), 0.0f), x.end());
    if (x.empty())
        return;
    const double low = minOf(x);
    const double high = maxOf(x);
    minSeen_ = started_ ? std::min(minSeen_, low) : low;
    maxSeen_ = started_ ? std::max(maxSeen_, high) : high;
    if (torchHist_)
        collectTorch(x);
    else
        collectNumpy(x);
    started_ = true;
}

void ModelOptHistogramCollector::collectTorch(std::vector<float>& x)
{
    const float xMax = maxOf(x);
    if (!started_) {
        counts_ = widen(peer::torchHistc(x, bins_, 0.0, double(xMax)));
        edges_ = widen(peer::torchLinspace(0.0f, xMax, I(bins_) + 1));
        return;
    }
    if (double(xMax) > edges_.back()) {
        const float width = float(edges_[1]) - float(edges_[0]);
        const float bins = std::ceil(xMax / width);
        if (!(width > 0) || !(bins <= float(kMaxBins)))
            throw Error("ModelOpt HistogramCalibrator: cannot grow the histogram to " + std::to_string(xMax)
                + " with bins of width " + std::to_string(width)
                + " (the first batch fixes the width; ModelOpt itself fails here)");
        numBins_ = I(bins);
        edges_ = widen(peer::torchArange(double(xMax + width), double(width)));
        if (edges_.empty())
            throw Error("ModelOpt HistogramCalibrator: torch.arange gave no bin edges");
    }
    std::vector<float> hist = peer::torchHistc(x, numBins_, 0.0, edges_.back());
    addPrefix(hist, counts_, "ModelOpt HistogramCalibrator");
    counts_ = widen(hist);
}

void ModelOptHistogramCollector::collectNumpy(std::vector<float>& x)
{
    if (!started_) {
        std::vector<float> edges;
        counts_ = widen(peer::numpyHistogram(x, bins_, minOf(x), maxOf(x), &edges));
        edges_ = widen(edges);
        return;
    }
    const float xMax = maxOf(x);
    if (double(xMax) > edges_.back()) {
        std::vector<double> added;
        if (edgesFloat64_) {
            const double width = edges_[1] - edges_[0];
            added = peer::numpyArange(edges_.back() + width, double(xMax) + width, width, false);
        } else {
            const float width = float(edges_[1]) - float(edges_[0]);
            added = peer::numpyArange(
                double(float(edges_.back()) + width), double(xMax + width), double(width), true);
        }
        edges_.insert(edges_.end(), added.begin(), added.end());
        edgesFloat64_ = true;
    }
    std::vector<I> hist = peer::numpyHistogramEdges(x, edges_);
    addPrefix(hist, counts_, "ModelOpt HistogramCalibrator");
    counts_ = widen(hist);
}

CollectedHistogram ModelOptHistogramCollector::histogram() const
{
    CollectedHistogram h;
    h.absolute = true;
    if (!started_)
        return h;
    h.counts = counts_;
    h.edges = edges_;
    // torch.arange and the float32 ceil may disagree by one (see the header).
    const std::size_t wanted = h.counts.size() + 1;
    if (h.edges.size() > wanted) {
        h.edges.resize(wanted);
    } else if (h.edges.size() < wanted) {
        const double width = h.edges.size() >= 2 ? double(float(h.edges[1]) - float(h.edges[0])) : 0.0;
        for (std::size_t i = h.edges.size(); i < wanted; ++i)
            h.edges.push_back(double(float(width * double(i))));
    }
    h.minSeen = minSeen_;
    h.maxSeen = maxSeen_;
    return h;
}

// ONNX Runtime ----------------------------------------------------------------------------------------------

OrtHistogramCollector::OrtHistogramCollector(int bins, bool absolute)
    : bins_(bins)
    , absolute_(absolute)
{
    checkBins(bins, "ORT HistogramCollector");
}

void OrtHistogramCollector::collect(std::span<const float> batch)
{
    finiteValues(batch, scratch_);
    if (scratch_.empty())
        return;
    const float low = minOf(scratch_);
    const float high = maxOf(scratch_);
    if (absolute_)
        collectAbsolute(scratch_);
    else
        collectValue(scratch_);
    // Python's min(old, new) keeps `old` unless `new` is smaller.
    min_ = started_ ? (low < min_ ? low : min_) : low;
    max_ = started_ ? (high > max_ ? high : max_) : high;
    started_ = true;
}

void OrtHistogramCollector::collectAbsolute(const std::vector<float>& values)
{
    std::vector<float> x(values.size());
    for (std::size_t k = 0; k < x.size(); ++k)
        x[k] = std::fabs(values[k]);
    const float absLow = minOf(x);
    const float absHigh = maxOf(x);
    if (!started_) {
        std::vector<float> edges;
        counts_ = widen(peer::numpyHistogram(x, bins_, absLow, absHigh, &edges));
        edges_ = widen(edges);
        absMin_ = absLow;
        absMax_ = absHigh;
        return;
    }
    absMin_ = std::min(absMin_, absLow);
    absMax_ = std::max(absMax_, absHigh);
    std::vector<double> edges = edges_;
    if (absHigh > float(edges.back())) {
        const float width = float(edges[1]) - float(edges[0]);
        const std::vector<double> added = peer::numpyArange(
            double(float(edges.back()) + width), double(absHigh + width), double(width), true);
        edges.insert(edges.end(), added.begin(), added.end());
    }
    std::vector<I> hist = peer::numpyHistogramEdges(x, edges);
    addPrefix(hist, counts_, "ORT HistogramCollector");
    counts_ = widen(hist);
    for (double& e : edges)
        e = double(float(e));
    edges_ = std::move(edges);
}

void OrtHistogramCollector::collectValue(const std::vector<float>& x)
{
    const float low = minOf(x);
    const float high = maxOf(x);
    const float th = std::fabs(high) > std::fabs(low) ? std::fabs(high) : std::fabs(low);
    if (!started_) {
        std::vector<float> edges;
        counts_ = widen(peer::numpyHistogram(x, bins_, -th, th, &edges));
        edges_ = widen(edges);
        threshold_ = th;
        return;
    }
    const I oldBins = I(counts_.size());
    if (th <= threshold_) {
        std::vector<I> hist = peer::numpyHistogram(x, oldBins, -threshold_, threshold_);
        addPrefix(hist, counts_, "ORT HistogramCollector");
        counts_ = widen(hist);
        return;
    }
    std::vector<float> edges;
    if (threshold_ == 0) {
        std::vector<I> hist = peer::numpyHistogram(x, oldBins, -th, th, &edges);
        addPrefix(hist, counts_, "ORT HistogramCollector");
        counts_ = widen(hist);
        edges_ = widen(edges);
        threshold_ = th;
        return;
    }
    const float stride = (2.0f * threshold_) / float(oldBins);
    const float steps = numpyFloorDivide(th - threshold_, stride) + 1.0f;
    if (!(steps < float(kMaxBins)))
        throw Error("ORT HistogramCollector: growing the histogram to " + std::to_string(th)
            + " needs too many bins");
    const I half = I(steps);
    const I newBins = oldBins + 2 * half;
    checkBins(newBins, "ORT HistogramCollector");
    const float newThreshold = float(half) * stride + threshold_;
    std::vector<I> hist = peer::numpyHistogram(x, newBins, -newThreshold, newThreshold, &edges);
    for (I k = 0; k < oldBins; ++k)
        hist[std::size_t(half + k)] += I(counts_[std::size_t(k)]);
    counts_ = widen(hist);
    edges_ = widen(edges);
    threshold_ = newThreshold;
}

CollectedHistogram OrtHistogramCollector::histogram() const
{
    CollectedHistogram h;
    h.absolute = absolute_;
    if (!started_)
        return h;
    h.edges = edges_;
    h.counts = counts_;
    h.minSeen = absolute_ ? absMin_ : min_;
    h.maxSeen = absolute_ ? absMax_ : max_;
    return h;
}

// PyTorch HistogramObserver ---------------------------------------------------------------------------------

PyTorchHistogramCollector::PyTorchHistogramCollector(int bins)
    : bins_(bins)
{
    checkBins(bins, "HistogramObserver");
}

void PyTorchHistogramCollector::collect(std::span<const float> batch)
{
    finiteValues(batch, scratch_);
    const std::vector<float>& x = scratch_;
    if (x.empty())
        return;
    const float xMin = minOf(x);
    const float xMax = maxOf(x);
    if (!started_) {
        min_ = xMin;
        max_ = xMax;
        hist_ = peer::torchHistc(x, bins_, xMin, xMax);
        started_ = true;
        return;
    }
    const float newMin = std::min(min_, xMin);
    const float newMax = std::max(max_, xMax);
    const std::vector<float> update = peer::torchHistc(x, bins_, newMin, newMax);
    if (newMin == min_ && newMax == max_) {
        for (std::size_t k = 0; k < hist_.size(); ++k)
            hist_[k] = hist_[k] + update[k];
        return;
    }
    std::vector<float> old(std::size_t(bins_), 0.0f);
    if (min_ == max_) {
        double total = 0;
        for (const float c : hist_)
            total += c;
        const float one[] = {min_};
        const std::vector<float> position = peer::torchHistc(one, bins_, newMin, newMax);
        for (std::size_t k = 0; k < old.size(); ++k)
            old[k] = position[k] * float(total);
    } else {
        const I upsample = 16;
        const I fine = I(bins_) * upsample;
        const float binSize = (max_ - min_) / float(fine);
        const float halfBin = 0.5f * binSize;
        const std::vector<float> grid = peer::torchLinspace(min_, max_, fine + 1);
        const std::vector<float> boundaries = peer::torchLinspace(newMin, newMax, I(bins_) + 1);
        for (I j = 0; j < fine; ++j) {
            const float mid = grid[std::size_t(j)] + halfBin;
            const I above
                = I(std::upper_bound(boundaries.begin(), boundaries.end(), mid) - boundaries.begin());
            const I bucket = std::clamp<I>(above - 1, 0, I(bins_) - 1);
            old[std::size_t(bucket)] += hist_[std::size_t(j / upsample)] / float(upsample);
        }
    }
    for (std::size_t k = 0; k < hist_.size(); ++k)
        hist_[k] = update[k] + old[k];
    min_ = newMin;
    max_ = newMax;
}

CollectedHistogram PyTorchHistogramCollector::histogram() const
{
    CollectedHistogram h;
    if (!started_)
        return h;
    const double lo = min_ == max_ ? double(min_) - 1 : double(min_);
    const double hi = min_ == max_ ? double(max_) + 1 : double(max_);
    h.edges = widen(peer::torchLinspace(float(lo), float(hi), I(bins_) + 1));
    h.counts = widen(hist_);
    h.minSeen = min_;
    h.maxSeen = max_;
    return h;
}

// Native and calibrate_weights ------------------------------------------------------------------------------

CollectedHistogram nativeHistogram(
    const std::vector<std::span<const float>>& batches, int bins, bool absolute, std::int64_t* nonFinite)
{
    double low = std::numeric_limits<double>::infinity();
    double high = -std::numeric_limits<double>::infinity();
    I bad = 0;
    for (const std::span<const float> batch : batches)
        for (const float raw : batch) {
            if (!isFinite(raw)) {
                ++bad;
                continue;
            }
            const double v = absolute ? std::fabs(double(raw)) : double(raw);
            low = std::min(low, v);
            high = std::max(high, v);
        }
    if (nonFinite)
        *nonFinite += bad;
    CollectedHistogram h;
    h.absolute = absolute;
    if (low > high)
        low = high = 0;
    h.minSeen = low;
    h.maxSeen = high;
    const double lo = absolute ? 0.0 : low;
    h.counts.assign(std::size_t(bins), 0);
    for (const std::span<const float> batch : batches) {
        const Histogram part = computeHistogram(batch, bins, lo, high, absolute);
        for (std::size_t k = 0; k < part.counts.size(); ++k)
            h.counts[k] += double(part.counts[k]);
    }
    const double width = (high - lo) / double(bins);
    h.edges.resize(std::size_t(bins) + 1);
    for (int i = 0; i < bins; ++i)
        h.edges[std::size_t(i)] = lo + width * double(i);
    h.edges.back() = high;
    return h;
}

CollectedHistogram modelOptWeightHistogram(std::span<const float> values, int bins)
{
    std::vector<float> x;
    x.reserve(values.size());
    for (const float v : values)
        if (isFinite(v))
            x.push_back(std::fabs(v));
    const float high = x.empty() ? 0.0f : maxOf(x);
    std::vector<float> edges;
    CollectedHistogram h;
    h.absolute = true;
    h.counts = widen(peer::numpyHistogram(x, bins, 0.0f, high, &edges));
    h.edges = widen(edges);
    h.minSeen = x.empty() ? 0.0 : double(minOf(x));
    h.maxSeen = high;
    return h;
}

} // namespace qs
