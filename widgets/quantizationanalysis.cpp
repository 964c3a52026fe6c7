#include "quantizationanalysis.h"

#include "base/error.h"
#include "calib/collected_histogram.h"
#include "calib/search_methods.h"
#include "kernels/kernels.h"
#include "quant/quantizer.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <variant>

namespace qs::gui {

namespace {

constexpr int kClipHistogramBins = 2048;

std::int64_t largestGroup(const std::vector<qs::GroupRange>& ranges)
{
    std::int64_t best = 0;
    double bestAmax = -1;
    for (std::size_t g = 0; g < ranges.size(); ++g) {
        const double amax = std::max(std::fabs(ranges[g].min), std::fabs(ranges[g].max));
        if (amax > bestAmax) {
            bestAmax = amax;
            best = static_cast<std::int64_t>(g);
        }
    }
    return best;
}

int normalizedAxis(int axis, std::size_t rank)
{
    const int r = static_cast<int>(rank);
    return axis < 0 ? axis + r : axis;
}

/// The reference group and its label, given the per-group amax order as a fallback.
std::pair<std::int64_t, std::string> referenceGroup(const qs::Scheme& scheme, const qs::Shape& shape,
    const QuantizationFocus& focus, std::int64_t largest, std::int64_t groups)
{
    if (groups <= 1)
        return {0, "per tensor"};
    const qs::Granularity& g = scheme.granularity;
    if (scheme.blockFormat == qs::BlockFormat::None && g.kind == qs::Granularity::Kind::PerChannel
        && normalizedAxis(g.axis, shape.size()) == focus.channelAxis && focus.focusChannel >= 0
        && focus.focusChannel < groups)
        return {focus.focusChannel, "channel " + std::to_string(focus.focusChannel)};
    const std::string unit = g.kind == qs::Granularity::Kind::PerChannel ? "channel" : "group";
    return {largest, unit + " " + std::to_string(largest) + " (largest range)"};
}

std::vector<double> gridLevels(const qs::Scheme& scheme, float scale, std::int32_t zeroPoint)
{
    const qs::NumberFormat& format = scheme.format;
    if (qs::formatBits(format) > 8)
        return {};
    std::vector<double> levels;
    if (const auto* integer = std::get_if<qs::IntegerSpec>(&format.spec)) {
        const std::int64_t qmax = integer->isSigned ? (std::int64_t {1} << (integer->bits - 1)) - 1
                                                    : (std::int64_t {1} << integer->bits) - 1;
        std::int64_t qmin = integer->isSigned ? -qmax - 1 : 0;
        if (integer->isSigned && scheme.rangeMode == qs::RangeMode::SymmetricNarrow)
            qmin = -qmax;
        for (std::int64_t q = qmin; q <= qmax; ++q)
            levels.push_back(static_cast<double>(static_cast<float>(q - zeroPoint) * scale));
        return levels;
    }
    for (const double v : qs::formatValues(format))
        levels.push_back(static_cast<double>(static_cast<float>(v) * scale));
    std::sort(levels.begin(), levels.end());
    levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
    return levels;
}

/// Bits and signedness the native entropy search uses for the scheme's elements.
std::pair<int, bool> entropyBits(const qs::Scheme& scheme)
{
    if (scheme.blockFormat != qs::BlockFormat::None)
        return {qs::blockFormatInfo(scheme.blockFormat).elementBits, false};
    if (const auto* integer = std::get_if<qs::IntegerSpec>(&scheme.format.spec))
        return {integer->bits, !integer->isSigned};
    return {qs::formatBits(scheme.format), false};
}

} // namespace

std::vector<MethodRange> methodClipRanges(
    const qs::Tensor& tensor, const qs::Scheme& scheme, const TaskControl& control)
{
    std::vector<MethodRange> out;
    const qs::MinMaxResult extent = qs::minMax(qs::Backend::Simd, tensor.data);
    const bool oneSided = [&] {
        const auto* integer = std::get_if<qs::IntegerSpec>(&scheme.format.spec);
        return scheme.blockFormat == qs::BlockFormat::None && integer && !integer->isSigned
            && scheme.rangeMode != qs::RangeMode::Affine;
    }();
    const auto symmetric = [oneSided](double amax) {
        return std::pair<double, double> {oneSided ? 0.0 : -amax, amax};
    };
    const auto add = [&](const std::string& label, const std::string& method, double lo, double hi) {
        out.push_back(MethodRange {ClipRange {label, lo, hi, false}, method});
    };
    add("min-max", "minmax", extent.min, extent.max);
    if (!(extent.absmax > 0))
        return out;
    control.throwIfCancelled();

    const qs::Histogram h = qs::histogram(
        qs::Backend::Simd, tensor.data, kClipHistogramBins, 0.0, static_cast<double>(extent.absmax), true);
    qs::CollectedHistogram collected;
    collected.absolute = true;
    collected.minSeen = 0;
    collected.maxSeen = extent.absmax;
    collected.edges.reserve(h.binCount() + 1);
    for (std::size_t i = 0; i < h.binCount(); ++i)
        collected.edges.push_back(h.edge(i));
    collected.edges.push_back(h.hi);
    collected.counts.assign(h.counts.begin(), h.counts.end());

    for (const double p : {99.9, 99.99}) {
        const auto [lo, hi] = symmetric(qs::modelOptPercentileAmax(collected, p));
        // Kept even when the chosen method is a percentile: its percentile may be another one.
        add(p == 99.9 ? "percentile 99.9 %" : "percentile 99.99 %", std::string(), lo, hi);
    }
    control.throwIfCancelled();
    try {
        const auto [bits, isUnsigned] = entropyBits(scheme);
        const qs::SearchResult kl
            = qs::entropySearch(collected, qs::Compatibility::Native, bits, isUnsigned, 0, 128, 1);
        add("entropy (KL)", "entropy", kl.range.min, kl.range.max);
    } catch (const qs::Error&) {
        // A histogram too coarse for the level count: the line is left out.
    }
    control.throwIfCancelled();
    if (!schemeHasOwnScales(scheme)) {
        qs::Scheme perTensor = scheme;
        perTensor.granularity = qs::Granularity::perTensor();
        try {
            const qs::SearchResult mse
                = qs::mseHistogramSearch(collected, perTensor, qs::Compatibility::Native, 128, 1);
            add("MSE", "mse", mse.range.min, mse.range.max);
        } catch (const qs::Error&) {
            // Not every scheme has an MSE search (the line is left out).
        }
    }
    return out;
}

namespace {

/// The largest finite |x̂ − x|, and x̂ − x of every finite x.
std::pair<double, std::vector<float>> errors(
    std::span<const float> original, std::span<const float> reconstructed)
{
    std::vector<float> out;
    out.reserve(original.size());
    double largest = 0;
    for (std::size_t i = 0; i < original.size(); ++i) {
        if (!std::isfinite(original[i]))
            continue;
        const float e = reconstructed[i] - original[i];
        if (std::isfinite(e))
            largest = std::max(largest, static_cast<double>(std::fabs(e)));
        out.push_back(e);
    }
    return {largest, std::move(out)};
}

/// The error histogram over [−m, m]: m = the largest finite error counted, or `reportMax` (the whole
/// tensor's, in double) when that is finite and larger.
qs::Histogram errorHistogram(
    std::span<const float> original, std::span<const float> reconstructed, double reportMax)
{
    const auto [largest, e] = errors(original, reconstructed);
    const double widest = std::isfinite(reportMax) ? std::max(largest, reportMax) : largest;
    const double m = widest > 0 ? widest : 1.0;
    return qs::histogram(qs::Backend::Simd, e, kErrorHistogramBins, -m, m, false);
}

/// A sample of `tensor` whose fake-quantized values equal the whole tensor's at the same elements: its
/// ranges are those of the groups it holds.
struct ErrorSample {
    qs::Tensor tensor;
    std::vector<qs::GroupRange> ranges;
    std::int64_t stride = 1;
};

std::int64_t ceilDivide(std::int64_t a, std::int64_t b)
{
    return (a + b - 1) / b;
}

/// Every stride-th element (per tensor) or every stride-th slice along axis 0 (when each slice holds its
/// own run of consecutive groups, or every slice all of them); nullopt when the tensor is small enough to
/// be counted whole or its groups do not follow axis 0.
std::optional<ErrorSample> errorSample(
    const qs::Tensor& tensor, const qs::Scheme& scheme, const std::vector<qs::GroupRange>& ranges)
{
    const auto elements = static_cast<std::int64_t>(tensor.data.size());
    if (elements <= kErrorSampleMaxElements)
        return std::nullopt;
    ErrorSample sample;
    const qs::Granularity& g = scheme.granularity;
    if (g.kind == qs::Granularity::Kind::PerTensor) {
        sample.stride = ceilDivide(elements, kErrorSampleMaxElements);
        sample.tensor.shape = {ceilDivide(elements, sample.stride)};
        sample.tensor.data.reserve(static_cast<std::size_t>(sample.tensor.shape[0]));
        for (std::int64_t i = 0; i < elements; i += sample.stride)
            sample.tensor.data.push_back(tensor.data[static_cast<std::size_t>(i)]);
        sample.ranges = ranges;
        return sample;
    }
    const std::size_t rank = tensor.shape.size();
    if (rank < 2 || tensor.shape[0] < 2)
        return std::nullopt;
    const std::int64_t slices = tensor.shape[0];
    const int axis = normalizedAxis(g.axis, rank);
    bool shared = false;
    if (g.kind == qs::Granularity::Kind::PerChannel)
        shared = axis != 0;
    else if ((g.kind == qs::Granularity::Kind::PerGroup && axis == 0)
        || (g.kind == qs::Granularity::Kind::Block2D && rank < 3))
        return std::nullopt;
    const auto groups = static_cast<std::int64_t>(ranges.size());
    if (!shared && groups % slices != 0)
        return std::nullopt;
    const std::int64_t groupsPerSlice = shared ? groups : groups / slices;
    const std::int64_t sliceSize = elements / slices;
    sample.stride = ceilDivide(elements, kErrorSampleMaxElements);
    sample.tensor.shape = tensor.shape;
    sample.tensor.shape[0] = ceilDivide(slices, sample.stride);
    sample.tensor.data.reserve(static_cast<std::size_t>(sample.tensor.shape[0] * sliceSize));
    if (shared)
        sample.ranges = ranges;
    for (std::int64_t s = 0; s < slices; s += sample.stride) {
        const auto first = tensor.data.begin() + static_cast<std::ptrdiff_t>(s * sliceSize);
        sample.tensor.data.insert(
            sample.tensor.data.end(), first, first + static_cast<std::ptrdiff_t>(sliceSize));
        if (!shared) {
            const auto group = ranges.begin() + static_cast<std::ptrdiff_t>(s * groupsPerSlice);
            sample.ranges.insert(
                sample.ranges.end(), group, group + static_cast<std::ptrdiff_t>(groupsPerSlice));
        }
    }
    return sample;
}

/// The scales and zero points qs::quantize derives from `ranges` (the calibration's own may be a peer's
/// qparams): one (min, max) row per group quantized with its range.
qs::QuantizedTensor quantizerParams(const qs::Scheme& scheme, const std::vector<qs::GroupRange>& ranges)
{
    qs::Tensor rows;
    rows.shape = {static_cast<std::int64_t>(ranges.size()), 2};
    for (const qs::GroupRange& r : ranges) {
        rows.data.push_back(static_cast<float>(r.min));
        rows.data.push_back(static_cast<float>(r.max));
    }
    qs::Scheme perRow = scheme;
    perRow.granularity = qs::Granularity::perChannel(0);
    return qs::quantize(rows, perRow, ranges);
}

/// The fused report of a scheme with its own scales, or nullopt where no kernel covers it.
std::optional<qs::ErrorReport> ownScalesFusedReport(
    const qs::Tensor& tensor, const qs::Scheme& scheme, double bits)
{
    if (scheme.blockFormat != qs::BlockFormat::None) {
        if (!qs::blockFakeQuantErrorUnsupported(scheme).empty())
            return std::nullopt;
        return qs::errorReportFromSums(
            qs::blockFakeQuantError(qs::Backend::Simd, tensor.values(), tensor.shape, scheme), bits);
    }
    if (!qs::ternaryFakeQuantErrorUnsupported(scheme, tensor.shape).empty())
        return std::nullopt;
    return qs::errorReportFromSums(
        qs::ternaryFakeQuantError(qs::Backend::Simd, tensor.values(), tensor.shape, scheme), bits);
}

} // namespace

qs::ErrorReport referenceErrorReport(const qs::Tensor& tensor, const SchemeSettings& settings)
{
    const qs::Scheme& scheme = settings.scheme;
    const double bits = qs::effectiveBitsPerValue(scheme, tensor.shape);
    if (schemeHasOwnScales(scheme)) {
        const qs::QuantizedTensor quantized = qs::quantize(tensor, scheme);
        return qs::computeErrorReport(
            tensor.data, qs::dequantize(quantized).data, quantized.clippedCount, bits);
    }
    const std::vector<qs::Tensor> batches = settings.batches > 1 ? qs::splitBatches(tensor, settings.batches)
                                                                 : std::vector<qs::Tensor> {tensor};
    qs::ErrorReport report = qs::calibrate(batches, scheme, settings.options).report;
    report.bitsPerValue = bits;
    return report;
}

QuantizationAnalysis analyzeQuantization(const qs::Tensor& tensor, const SchemeSettings& settings,
    const QuantizationFocus& focus, const TaskControl& control, const QuantizationReuse& reuse)
{
    const qs::Scheme& scheme = settings.scheme;
    QuantizationAnalysis result;
    result.tensorName = tensor.name;
    result.settings = settings;
    const std::int64_t groups = qs::groupCount(scheme, tensor.shape);
    const double bits = qs::effectiveBitsPerValue(scheme, tensor.shape);
    control.throwIfCancelled();

    std::string chosenMethod;
    if (schemeHasOwnScales(scheme)) {
        const qs::QuantizedTensor quantized = qs::quantize(tensor, scheme);
        control.throwIfCancelled();
        const std::vector<float> reconstructed = qs::dequantize(quantized).data;
        control.throwIfCancelled();
        const bool big = static_cast<std::int64_t>(tensor.data.size()) >= kFusedReportMinElements;
        if (const std::optional<qs::ErrorReport> fused
            = big ? ownScalesFusedReport(tensor, scheme, bits) : std::nullopt) {
            result.report = *fused;
            result.errorPercentilesKnown = false;
        } else {
            result.report = qs::computeErrorReport(tensor.data, reconstructed, quantized.clippedCount, bits);
        }
        control.throwIfCancelled();
        result.errorHistogram = errorHistogram(tensor.data, reconstructed, result.report.maxAbsError);
        const auto largest = std::max_element(quantized.scales.begin(), quantized.scales.end());
        const std::int64_t largestIndex
            = largest == quantized.scales.end() ? 0 : largest - quantized.scales.begin();
        std::tie(result.referenceGroup, result.referenceGroupLabel)
            = referenceGroup(scheme, tensor.shape, focus, largestIndex, groups);
    } else {
        std::vector<qs::Tensor> ownBatches;
        if (settings.batches > 1)
            ownBatches = qs::splitBatches(tensor, settings.batches);
        else if (!reuse.wholeBatch)
            ownBatches = {tensor};
        const std::vector<qs::Tensor>& batches
            = settings.batches <= 1 && reuse.wholeBatch ? *reuse.wholeBatch : ownBatches;
        // The fused kernel measures one tensor fed whole; batches keep the reference path.
        const bool fused = batches.size() == 1
            && static_cast<std::int64_t>(tensor.data.size()) >= kFusedReportMinElements
            && qs::fakeQuantErrorUnsupported(scheme, tensor.shape).empty();
        qs::CalibrationResult calibration = fused ? qs::calibrateRanges(batches, scheme, settings.options)
                                                  : qs::calibrate(batches, scheme, settings.options);
        control.throwIfCancelled();
        if (fused) {
            const qs::QuantizedTensor params = quantizerParams(scheme, calibration.ranges);
            result.report
                = qs::errorReportFromSums(qs::fakeQuantError(qs::Backend::Simd, tensor.values(), tensor.shape,
                                              scheme, params.scales, params.zeroPoints),
                    bits);
            result.errorPercentilesKnown = false;
            calibration.report = result.report;
            control.throwIfCancelled();
            std::vector<float> reconstructed;
            if (std::optional<ErrorSample> sample = errorSample(tensor, scheme, calibration.ranges)) {
                qs::fakeQuantizeInto(sample->tensor, scheme, reconstructed, sample->ranges);
                result.errorHistogram
                    = errorHistogram(sample->tensor.data, reconstructed, result.report.maxAbsError);
                result.errorSampleStride = sample->stride;
            } else {
                qs::fakeQuantizeInto(tensor, scheme, reconstructed, calibration.ranges);
                result.errorHistogram = errorHistogram(tensor.data, reconstructed, result.report.maxAbsError);
            }
        } else {
            std::vector<float> reconstructed;
            reconstructed.reserve(tensor.data.size());
            std::vector<float> part;
            for (const qs::Tensor& batch : batches) {
                qs::fakeQuantizeInto(batch, scheme, part, calibration.ranges);
                reconstructed.insert(reconstructed.end(), part.begin(), part.end());
            }
            result.report = calibration.report;
            result.report.bitsPerValue = bits;
            control.throwIfCancelled();
            result.errorHistogram = errorHistogram(tensor.data, reconstructed, result.report.maxAbsError);
        }
        std::tie(result.referenceGroup, result.referenceGroupLabel)
            = referenceGroup(scheme, batches.front().shape, focus, largestGroup(calibration.ranges), groups);
        const auto group = static_cast<std::size_t>(result.referenceGroup);
        chosenMethod = qs::calibrationMethodName(calibration.options.method);
        std::string label = chosenMethod;
        if (calibration.options.compat != qs::Compatibility::Native)
            label += " (" + qs::compatibilityName(calibration.options.compat) + ")";
        if (groups > 1)
            label += ", " + result.referenceGroupLabel;
        if (group < calibration.ranges.size())
            result.clipRanges.push_back(
                ClipRange {label, calibration.ranges[group].min, calibration.ranges[group].max, true});
        if (group < calibration.scales.size()) {
            const std::int32_t zeroPoint
                = group < calibration.zeroPoints.size() ? calibration.zeroPoints[group] : 0;
            result.grid = gridLevels(scheme, calibration.scales[group], zeroPoint);
        }
        result.calibration = std::move(calibration);
    }
    control.throwIfCancelled();
    result.methodRanges
        = reuse.methodRanges ? *reuse.methodRanges : methodClipRanges(tensor, scheme, control);
    for (const MethodRange& m : result.methodRanges)
        // The chosen per-tensor method's line is already there (percentiles are kept: theirs may differ).
        if (!(groups <= 1 && !m.method.empty() && m.method == chosenMethod))
            result.clipRanges.push_back(m.range);
    return result;
}

} // namespace qs::gui
