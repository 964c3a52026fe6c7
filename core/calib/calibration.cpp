#include "calib/calibration.h"

#include "base/error.h"
#include "calib/histogram_collectors.h"
#include "calib/search_methods.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <variant>

namespace qs {

namespace {

using I = std::int64_t;
using M = CalibrationMethod;
using C = Compatibility;

constexpr float kTorchEps = 1.1920928955078125e-07f; // torch.finfo(torch.float32).eps
constexpr double kFloat32Tiny = 1.1754943508222875e-38; // numpy.finfo(float32).tiny

std::string number(double value)
{
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

std::string lower(std::string text)
{
    for (char& c : text)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

std::vector<C> validCompats(M method)
{
    switch (method) {
    case M::MinMax:
        return {C::Native, C::ModelOpt, C::PyTorch, C::OnnxRuntime, C::TensorRT};
    case M::MovingAverage:
        return {C::Native, C::PyTorch, C::OnnxRuntime};
    case M::Percentile:
        return {C::Native, C::ModelOpt, C::OnnxRuntime};
    case M::Entropy:
        return {C::Native, C::ModelOpt, C::OnnxRuntime, C::TensorRT};
    case M::Mse:
        return {C::Native, C::ModelOpt};
    case M::HistogramObserver:
        return {C::Native, C::PyTorch};
    }
    return {};
}

void checkCombination(M method, C compat)
{
    const std::vector<C> valid = validCompats(method);
    if (std::find(valid.begin(), valid.end(), compat) != valid.end())
        return;
    std::string names;
    for (C c : valid)
        names += (names.empty() ? "" : ", ") + compatibilityName(c);
    throw Error("calibration method '" + calibrationMethodName(method) + "' has no '"
        + compatibilityName(compat) + "' compatibility mode (valid: " + names + ")");
}

const IntegerSpec* integerSpec(const Scheme& scheme)
{
    return std::get_if<IntegerSpec>(&scheme.format.spec);
}

void checkScheme(const Scheme& scheme)
{
    if (scheme.blockFormat != BlockFormat::None)
        throw Error("block format " + blockFormatName(scheme.blockFormat)
            + " computes its own scales from the data; calibration applies to element formats (use a "
              "scheme with the same element format and a granularity instead)");
    if (std::holds_alternative<SignSpec>(scheme.format.spec))
        throw Error("format '" + scheme.format.name
            + "' takes BitNet's statistics of the weights instead of a clipping range; calibration "
              "does not apply");
}

void requirePerTensor(const Scheme& scheme, const std::string& what, bool channelToo = false)
{
    const Granularity::Kind kind = scheme.granularity.kind;
    if (kind == Granularity::Kind::PerTensor || (channelToo && kind == Granularity::Kind::PerChannel))
        return;
    throw Error(what + " is per tensor" + (channelToo ? " or per channel" : "") + " only, not "
        + granularityName(scheme.granularity) + " (use --compat native for other granularities)");
}

CalibrationOptions resolveOptions(const CalibrationOptions& in, const Scheme& scheme)
{
    CalibrationOptions o = in;
    if (o.method == M::HistogramObserver && o.compat == C::Native)
        o.compat = C::PyTorch;
    checkCombination(o.method, o.compat);

    if (o.percentile < 0 || o.percentile > 100 || std::isnan(o.percentile))
        throw Error("percentile " + number(o.percentile) + " is outside (0, 100]");
    if (o.method == M::Percentile && o.percentile == 0)
        o.percentile = o.compat == C::OnnxRuntime ? 99.999 : 99.99;
    if (o.bins < 0 || o.bins == 1 || o.bins > (1 << 24))
        throw Error("histogram bins must be 2 to 16777216, not " + std::to_string(o.bins));
    const bool usesHistogram = o.method == M::Entropy || o.method == M::HistogramObserver
        || (o.method == M::Percentile && o.compat != C::Native)
        || (o.method == M::Mse && o.compat == C::ModelOpt && !o.mseSweep);
    if (usesHistogram && o.bins == 0)
        o.bins = o.method == M::Entropy && o.compat == C::OnnxRuntime ? 128 : 2048;
    if (o.quantizedBins < 0)
        throw Error("quantized bins must be positive, not " + std::to_string(o.quantizedBins));
    if (o.method == M::Entropy && o.quantizedBins == 0) {
        if (o.compat == C::OnnxRuntime || o.compat == C::TensorRT) {
            o.quantizedBins = 128;
        } else {
            const IntegerSpec* integer = integerSpec(scheme);
            const int bits = integer ? integer->bits : formatBits(scheme.format);
            const bool isUnsigned = integer && !integer->isSigned;
            o.quantizedBins = 1 << (bits - 1 + (isUnsigned ? 1 : 0));
        }
    }
    if (!(o.averagingConstant > 0 && o.averagingConstant <= 1))
        throw Error("averaging constant " + number(o.averagingConstant) + " is outside (0, 1]");
    if (o.startBin < 0 || o.stride < 1)
        throw Error("start bin must be >= 0 and stride >= 1 (got " + std::to_string(o.startBin) + ", "
            + std::to_string(o.stride) + ")");
    if (o.mseSteps < 1)
        throw Error("MSE sweep steps must be >= 1, not " + std::to_string(o.mseSteps));
    if (!o.symmetric) {
        if (o.compat == C::OnnxRuntime)
            o.symmetric = o.method == M::Percentile;
        else
            o.symmetric = scheme.rangeMode != RangeMode::Affine;
    }
    return o;
}

/// What a calibration run produces besides the report.
struct Outcome {
    std::vector<GroupRange> ranges;
    std::vector<ObjectiveCurve> curves;
    I bins = 0;
    double width = 0;
    bool widthVaries = false;
    I nonFinite = 0;

    void noteHistogram(const CollectedHistogram& h)
    {
        if (h.counts.empty())
            return;
        const double w = h.edges.size() > 1 ? h.edges[1] - h.edges[0] : 0;
        if (bins > 0 && w != width)
            widthVaries = true;
        bins = std::max(bins, I(h.counts.size()));
        width = w;
    }
};

std::vector<std::span<const float>> batchSpans(const std::vector<Tensor>& batches)
{
    std::vector<std::span<const float>> spans;
    for (const Tensor& b : batches)
        spans.emplace_back(b.data);
    return spans;
}

template<class Collector>
CollectedHistogram feed(Collector& collector, const std::vector<Tensor>& batches, Outcome& out)
{
    for (const Tensor& b : batches)
        collector.collect(b.data);
    out.nonFinite += collector.nonFiniteCount();
    return collector.histogram();
}

GroupRange symmetricAmax(double amax)
{
    return {-amax, amax};
}

double absMax(const GroupRange& r)
{
    return std::max(std::fabs(r.min), std::fabs(r.max));
}

/// True when an |x| histogram holds nothing but zeros (or nothing): there is no threshold to search.
bool emptyMagnitudes(const CollectedHistogram& h)
{
    return h.counts.empty() || !(std::max(std::fabs(h.minSeen), std::fabs(h.maxSeen)) > 0);
}

void addSearch(Outcome& out, const SearchResult& search)
{
    out.ranges.push_back(search.range);
    out.curves.push_back(search.curve);
}

void addSkipped(Outcome& out, const GroupRange& range, const char* objective)
{
    out.ranges.push_back(range);
    ObjectiveCurve curve;
    curve.objective = objective;
    out.curves.push_back(curve);
}

struct Bits {
    int bits = 8;
    bool isUnsigned = false;
};

Bits schemeBits(const Scheme& scheme)
{
    const IntegerSpec* integer = integerSpec(scheme);
    if (integer)
        return {integer->bits, !integer->isSigned};
    return {formatBits(scheme.format), false};
}

// Methods ---------------------------------------------------------------------------------------------------

Outcome runMinMax(const std::vector<Tensor>& batches, const Scheme& scheme, const CalibrationOptions& o)
{
    Outcome out;
    out.ranges = runningMinMaxRanges(batches, scheme, &out.nonFinite);
    for (GroupRange& r : out.ranges) {
        if (o.compat == C::ModelOpt || o.compat == C::TensorRT)
            r = symmetricAmax(absMax(r));
        else if (o.compat == C::OnnxRuntime && *o.symmetric)
            r = ortSymmetricRange(r);
    }
    return out;
}

Outcome runMovingAverage(
    const std::vector<Tensor>& batches, const Scheme& scheme, const CalibrationOptions& o)
{
    Outcome out;
    if (o.compat == C::OnnxRuntime)
        out.ranges = ortMeanMinMaxRanges(batches, scheme, *o.symmetric, &out.nonFinite);
    else
        out.ranges = emaMinMaxRanges(batches, scheme, o.averagingConstant, &out.nonFinite);
    return out;
}

Outcome runPercentile(const std::vector<Tensor>& batches, const Scheme& scheme, const CalibrationOptions& o)
{
    Outcome out;
    if (o.compat == C::Native) {
        out.ranges = exactPercentileRanges(batches, scheme, o.percentile, *o.symmetric, &out.nonFinite);
        return out;
    }
    if (o.compat == C::ModelOpt) {
        requirePerTensor(
            scheme, "ModelOpt percentile calibration (HistogramCalibrator, calibrate_weights)", true);
        if (scheme.granularity.kind == Granularity::Kind::PerChannel) {
            for (const std::vector<float>& values : groupFiniteValues(batches, scheme, &out.nonFinite)) {
                const CollectedHistogram h = modelOptWeightHistogram(values, o.bins);
                out.noteHistogram(h);
                out.ranges.push_back(emptyMagnitudes(h)
                        ? GroupRange {}
                        : symmetricAmax(modelOptPercentileAmax(h, o.percentile)));
            }
            return out;
        }
        ModelOptHistogramCollector collector(o.bins, true, o.skipZeros);
        const CollectedHistogram h = feed(collector, batches, out);
        out.noteHistogram(h);
        out.ranges.push_back(
            emptyMagnitudes(h) ? GroupRange {} : symmetricAmax(modelOptPercentileAmax(h, o.percentile)));
        return out;
    }
    requirePerTensor(scheme, "ONNX Runtime percentile calibration (HistogramCollector)");
    OrtHistogramCollector collector(o.bins, *o.symmetric);
    const CollectedHistogram h = feed(collector, batches, out);
    out.noteHistogram(h);
    if (h.counts.empty())
        out.ranges.push_back({});
    else if (*o.symmetric)
        out.ranges.push_back(
            ortPercentileRange(h, o.percentile, true, collector.signedMin(), collector.signedMax()));
    else
        out.ranges.push_back(ortPercentileRange(h, o.percentile, false, h.minSeen, h.maxSeen));
    return out;
}

Outcome runEntropy(const std::vector<Tensor>& batches, const Scheme& scheme, const CalibrationOptions& o)
{
    Outcome out;
    const Bits bits = schemeBits(scheme);
    const auto search = [&](const CollectedHistogram& h) {
        out.noteHistogram(h);
        if (emptyMagnitudes(h))
            addSkipped(out, {}, "KL divergence");
        else
            addSearch(out,
                entropySearch(
                    h, o.compat, bits.bits, bits.isUnsigned, o.quantizedBins, o.startBin, o.stride));
    };
    switch (o.compat) {
    case C::Native:
        if (scheme.granularity.kind == Granularity::Kind::PerTensor) {
            search(nativeHistogram(batchSpans(batches), o.bins, true, &out.nonFinite));
        } else {
            for (const std::vector<float>& values : groupFiniteValues(batches, scheme, &out.nonFinite))
                search(nativeHistogram({std::span<const float>(values)}, o.bins, true));
        }
        break;
    case C::ModelOpt: {
        requirePerTensor(scheme, "ModelOpt entropy calibration (HistogramCalibrator)");
        ModelOptHistogramCollector collector(o.bins, true, o.skipZeros);
        search(feed(collector, batches, out));
        break;
    }
    case C::OnnxRuntime: {
        requirePerTensor(scheme, "ONNX Runtime entropy calibration (HistogramCollector)");
        OrtHistogramCollector collector(o.bins, false);
        search(feed(collector, batches, out));
        break;
    }
    case C::TensorRT:
        requirePerTensor(scheme, "TensorRT entropy calibration");
        search(nativeHistogram(batchSpans(batches), o.bins, true, &out.nonFinite));
        break;
    case C::PyTorch:
        break;
    }
    return out;
}

Outcome runMse(const std::vector<Tensor>& batches, const Scheme& scheme, const CalibrationOptions& o)
{
    Outcome out;
    if (o.compat == C::Native || o.mseSweep) {
        for (const std::vector<float>& values : groupFiniteValues(batches, scheme, &out.nonFinite)) {
            float amax = 0;
            for (const float v : values)
                amax = std::max(amax, std::fabs(v));
            if (!(amax > 0))
                addSkipped(out, {}, "MSE");
            else if (o.compat == C::Native)
                addSearch(out, mseExactSearch(values, scheme));
            else
                addSearch(out, mseMultiplierSweep(values, amax, scheme, o.mseSteps));
        }
        return out;
    }
    requirePerTensor(
        scheme, "ModelOpt histogram MSE calibration (HistogramCalibrator, calibrate_weights)", true);
    const auto search = [&](const CollectedHistogram& h) {
        out.noteHistogram(h);
        if (emptyMagnitudes(h))
            addSkipped(out, {}, "MSE");
        else
            addSearch(out, mseHistogramSearch(h, scheme, C::ModelOpt, o.startBin, o.stride));
    };
    if (scheme.granularity.kind == Granularity::Kind::PerChannel) {
        for (const std::vector<float>& values : groupFiniteValues(batches, scheme, &out.nonFinite))
            search(modelOptWeightHistogram(values, o.bins));
        return out;
    }
    ModelOptHistogramCollector collector(o.bins, true, o.skipZeros);
    search(feed(collector, batches, out));
    return out;
}

Outcome runHistogramObserver(
    const std::vector<Tensor>& batches, const Scheme& scheme, const CalibrationOptions& o)
{
    requirePerTensor(scheme, "PyTorch HistogramObserver");
    Outcome out;
    PyTorchHistogramCollector collector(o.bins);
    const CollectedHistogram h = feed(collector, batches, out);
    out.noteHistogram(h);
    if (h.counts.empty()) {
        addSkipped(out, {}, "L2 (HistogramObserver)");
    } else if (h.minSeen == h.maxSeen) {
        addSkipped(out, {h.minSeen, h.maxSeen}, "L2 (HistogramObserver)");
    } else {
        const int bits = schemeBits(scheme).bits;
        addSearch(out, histogramObserverSearch(h, 1 << bits));
    }
    return out;
}

// Scales and zero points ------------------------------------------------------------------------------------

struct QParams {
    float scale = 1;
    std::int32_t zeroPoint = 0;
};

/// The integer grid of a scheme as the peers spell it: affine → the format's whole range; signed symmetric →
/// narrow [-top, top] or, for SymmetricFull, [-top - 1, top]; unsigned symmetric has none.
struct IntegerGrid {
    int qmin = 0;
    int qmax = 0;
    bool symmetric = false;
};

std::optional<IntegerGrid> integerGrid(const Scheme& scheme)
{
    const IntegerSpec* integer = integerSpec(scheme);
    if (!integer)
        return std::nullopt;
    const int top = (1 << (integer->bits - 1)) - 1;
    if (scheme.rangeMode == RangeMode::Affine)
        return IntegerGrid {
            integer->isSigned ? -top - 1 : 0, integer->isSigned ? top : (1 << integer->bits) - 1, false};
    if (!integer->isSigned)
        return std::nullopt;
    return IntegerGrid {scheme.rangeMode == RangeMode::SymmetricFull ? -top - 1 : -top, top, true};
}

/// torch.ao UniformQuantizationObserverBase._calculate_qparams, float32 tensors (see calibration.h).
std::optional<QParams> pytorchQParams(const GroupRange& range, const Scheme& scheme)
{
    const std::optional<IntegerGrid> grid = integerGrid(scheme);
    if (!grid)
        return std::nullopt;
    const auto [qmin, qmax, symmetric] = *grid;
    const float minNeg = std::min(float(range.min), 0.0f);
    const float maxPos = std::max(float(range.max), 0.0f);
    QParams q;
    if (symmetric) {
        const float amax = std::max(-minNeg, maxPos);
        q.scale = std::max(amax / float(double(qmax - qmin) / 2), kTorchEps);
        return q;
    }
    q.scale = std::max((maxPos - minNeg) / float(qmax - qmin), kTorchEps);
    const float shifted = std::nearbyint(minNeg / q.scale);
    q.zeroPoint = std::int32_t(std::clamp(double(qmin) - double(shifted), double(qmin), double(qmax)));
    return q;
}

/// onnxruntime quant_utils.compute_scale_zp (1.30) for the ranges get_qmin_qmax_for_qType gives (no
/// full-range symmetric grid).
std::optional<QParams> ortQParams(const GroupRange& range, const Scheme& scheme)
{
    const std::optional<IntegerGrid> grid = integerGrid(scheme);
    if (!grid || (grid->symmetric && scheme.rangeMode != RangeMode::SymmetricNarrow))
        return std::nullopt;
    const auto [qmin, qmax, symmetric] = *grid;
    float rmin = std::min(float(range.min), 0.0f);
    float rmax = std::max(float(range.max), 0.0f);
    if (symmetric) {
        const float absmax = std::max(std::fabs(rmin), std::fabs(rmax));
        rmin = -absmax;
        rmax = absmax;
    }
    const double scale = double(rmax - rmin) / (double(qmax) - double(qmin));
    QParams q;
    if (scale < kFloat32Tiny)
        return q;
    q.zeroPoint = symmetric ? std::int32_t(std::nearbyint((qmin + qmax) / 2.0))
                            : std::int32_t(std::nearbyint(double(qmin) - double(rmin) / scale));
    q.scale = float(scale);
    return q;
}

void applyPeerQParams(CalibrationResult& result, const Scheme& scheme)
{
    const C compat = result.options.compat;
    const bool pytorch = compat == C::PyTorch;
    if (!pytorch && compat != C::OnnxRuntime)
        return;
    std::vector<float> scales;
    std::vector<std::int32_t> zeroPoints;
    for (const GroupRange& r : result.ranges) {
        const std::optional<QParams> q = pytorch ? pytorchQParams(r, scheme) : ortQParams(r, scheme);
        if (!q)
            return;
        scales.push_back(q->scale);
        zeroPoints.push_back(q->zeroPoint);
    }
    result.scales = std::move(scales);
    if (scheme.rangeMode == RangeMode::Affine)
        result.zeroPoints = std::move(zeroPoints);
}

ErrorReport reportFor(
    const std::vector<Tensor>& batches, const Scheme& scheme, const std::vector<GroupRange>& ranges)
{
    const double bits = effectiveBitsPerValue(scheme, batches.front().shape);
    I clipped = 0;
    std::vector<float> out;
    if (batches.size() == 1) {
        clipped = fakeQuantizeInto(batches.front(), scheme, out, ranges).clippedCount;
        return computeErrorReport(batches.front().data, out, clipped, bits);
    }
    std::vector<float> original;
    std::vector<float> reconstructed;
    for (const Tensor& b : batches) {
        clipped += fakeQuantizeInto(b, scheme, out, ranges).clippedCount;
        original.insert(original.end(), b.data.begin(), b.data.end());
        reconstructed.insert(reconstructed.end(), out.begin(), out.end());
    }
    return computeErrorReport(original, reconstructed, clipped, bits);
}

} // namespace

std::string calibrationMethodName(CalibrationMethod method)
{
    switch (method) {
    case M::MinMax:
        return "minmax";
    case M::MovingAverage:
        return "ema";
    case M::Percentile:
        return "percentile";
    case M::Entropy:
        return "entropy";
    case M::Mse:
        return "mse";
    case M::HistogramObserver:
        return "histogram-observer";
    }
    return "unknown";
}

CalibrationMethod calibrationMethodByName(const std::string& name)
{
    const std::string n = lower(name);
    if (n == "minmax" || n == "min-max" || n == "max")
        return M::MinMax;
    if (n == "ema" || n == "moving-average" || n == "movingaverage")
        return M::MovingAverage;
    if (n == "percentile")
        return M::Percentile;
    if (n == "entropy" || n == "kl")
        return M::Entropy;
    if (n == "mse")
        return M::Mse;
    if (n == "histogram-observer" || n == "histogram_observer" || n == "histogramobserver")
        return M::HistogramObserver;
    throw Error("unknown calibration method '" + name
        + "' (valid: minmax, ema, percentile, entropy, mse, histogram-observer)");
}

std::string compatibilityName(Compatibility compat)
{
    switch (compat) {
    case C::Native:
        return "native";
    case C::ModelOpt:
        return "modelopt";
    case C::PyTorch:
        return "pytorch";
    case C::OnnxRuntime:
        return "onnxruntime";
    case C::TensorRT:
        return "tensorrt";
    }
    return "unknown";
}

Compatibility compatibilityByName(const std::string& name)
{
    const std::string n = lower(name);
    if (n == "native")
        return C::Native;
    if (n == "modelopt" || n == "pytorch-quantization")
        return C::ModelOpt;
    if (n == "pytorch" || n == "torch")
        return C::PyTorch;
    if (n == "onnxruntime" || n == "ort")
        return C::OnnxRuntime;
    if (n == "tensorrt" || n == "trt")
        return C::TensorRT;
    throw Error("unknown compatibility mode '" + name
        + "' (valid: native, modelopt, pytorch, onnxruntime, tensorrt)");
}

std::vector<Tensor> splitBatches(const Tensor& tensor, int count)
{
    if (count < 1)
        throw Error("the batch count must be at least 1, not " + std::to_string(count));
    if (count == 1)
        return {tensor};
    if (tensor.shape.empty() || tensor.shape[0] % count != 0)
        throw Error("tensor '" + tensor.name + "' of shape " + shapeToString(tensor.shape)
            + " cannot be split into " + std::to_string(count) + " equal batches along axis 0");
    const I rows = tensor.shape[0] / count;
    const I rowSize = tensor.shape[0] == 0 ? 0 : tensor.elementCount() / tensor.shape[0];
    std::vector<Tensor> batches(static_cast<std::size_t>(count));
    for (I i = 0; i < count; ++i) {
        Tensor& b = batches[std::size_t(i)];
        b.name = tensor.name + "[" + std::to_string(i * rows) + ":" + std::to_string((i + 1) * rows) + "]";
        b.shape = tensor.shape;
        b.shape[0] = rows;
        const auto first = tensor.data.begin() + std::ptrdiff_t(i * rows * rowSize);
        b.data.assign(first, first + std::ptrdiff_t(rows * rowSize));
    }
    return batches;
}

std::vector<Tensor> batchesAlongAxis(const Tensor& tensor, int axis)
{
    const int rank = int(tensor.shape.size());
    if (rank == 0)
        throw Error("tensor '" + tensor.name + "' is a scalar; it has no batch axis");
    if (axis < -rank || axis >= rank)
        throw Error("batch axis " + std::to_string(axis) + " is out of range for shape "
            + shapeToString(tensor.shape));
    const int a = axis < 0 ? axis + rank : axis;
    I outer = 1;
    for (int d = 0; d < a; ++d)
        outer *= tensor.shape[std::size_t(d)];
    I inner = 1;
    for (int d = a + 1; d < rank; ++d)
        inner *= tensor.shape[std::size_t(d)];
    const I count = tensor.shape[std::size_t(a)];
    Shape shape = tensor.shape;
    shape.erase(shape.begin() + a);
    std::vector<Tensor> batches(static_cast<std::size_t>(count));
    for (I i = 0; i < count; ++i) {
        Tensor& b = batches[std::size_t(i)];
        b.name = a == 0 ? tensor.name + "[" + std::to_string(i) + "]"
                        : tensor.name + "[axis=" + std::to_string(a) + "," + std::to_string(i) + "]";
        b.shape = shape;
        b.data.reserve(std::size_t(outer * inner));
        for (I o = 0; o < outer; ++o) {
            const auto first = tensor.data.begin() + std::ptrdiff_t((o * count + i) * inner);
            b.data.insert(b.data.end(), first, first + std::ptrdiff_t(inner));
        }
    }
    return batches;
}

CalibrationResult calibrateRanges(
    const std::vector<Tensor>& batches, const Scheme& scheme, const CalibrationOptions& options)
{
    if (batches.empty())
        throw Error("calibration needs at least one batch");
    checkScheme(scheme);
    const bool perTensor = scheme.granularity.kind == Granularity::Kind::PerTensor;
    for (const Tensor& b : batches)
        if (!perTensor && b.shape != batches.front().shape)
            throw Error("all calibration batches must have the same shape: '" + b.name + "' is "
                + shapeToString(b.shape) + ", '" + batches.front().name + "' is "
                + shapeToString(batches.front().shape));
    for (const Tensor& b : batches)
        if (shapeElementCount(b.shape) == 0)
            throw Error("cannot calibrate on a batch without elements ('" + b.name + "', shape "
                + shapeToString(b.shape) + ")");
    groupCount(scheme, batches.front().shape);

    CalibrationResult result;
    result.options = resolveOptions(options, scheme);
    const CalibrationOptions& o = result.options;
    result.batches = int(batches.size());

    Outcome out;
    switch (o.method) {
    case M::MinMax:
        out = runMinMax(batches, scheme, o);
        break;
    case M::MovingAverage:
        out = runMovingAverage(batches, scheme, o);
        break;
    case M::Percentile:
        out = runPercentile(batches, scheme, o);
        break;
    case M::Entropy:
        out = runEntropy(batches, scheme, o);
        break;
    case M::Mse:
        out = runMse(batches, scheme, o);
        break;
    case M::HistogramObserver:
        out = runHistogramObserver(batches, scheme, o);
        break;
    }
    for (GroupRange& r : out.ranges) {
        if (!(r.min <= r.max))
            r = {std::min(r.min, r.max), std::max(r.min, r.max)};
        // -amax of a zero amax is -0: report it as 0.
        r.min += 0.0;
        r.max += 0.0;
    }
    result.ranges = std::move(out.ranges);
    result.curves = std::move(out.curves);
    result.histogramBins = out.bins;
    result.histogramBinWidth = out.widthVaries ? 0.0 : out.width;
    result.nonFiniteCount = out.nonFinite;

    // The scales and zero points depend on the ranges only: quantizing one (min, max) row per group with
    // those ranges derives them without a pass over the data.
    Tensor rangeRows;
    rangeRows.shape = {static_cast<std::int64_t>(result.ranges.size()), 2};
    for (const GroupRange& r : result.ranges) {
        rangeRows.data.push_back(static_cast<float>(r.min));
        rangeRows.data.push_back(static_cast<float>(r.max));
    }
    Scheme perRow = scheme;
    perRow.granularity = Granularity::perChannel(0);
    const QuantizedTensor quantized = quantize(rangeRows, perRow, result.ranges);
    result.scales = quantized.scales;
    result.zeroPoints = quantized.zeroPoints;
    applyPeerQParams(result, scheme);
    return result;
}

CalibrationResult calibrate(
    const std::vector<Tensor>& batches, const Scheme& scheme, const CalibrationOptions& options)
{
    CalibrationResult result = calibrateRanges(batches, scheme, options);
    result.report = reportFor(batches, scheme, result.ranges);
    return result;
}

} // namespace qs
