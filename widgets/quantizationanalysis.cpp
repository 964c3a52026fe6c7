#include "quantizationanalysis.h"

#include "base/error.h"
#include "calib/collected_histogram.h"
#include "calib/search_methods.h"
#include "kernels/kernels.h"
#include "quant/quantizer.h"

#include <algorithm>
#include <cmath>
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

void addOtherRanges(const qs::Tensor& tensor, const qs::Scheme& scheme, const std::string& chosenMethod,
    bool chosenPerTensor, std::vector<ClipRange>& out, const TaskControl& control)
{
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
        if (chosenPerTensor && method == chosenMethod)
            return;
        out.push_back(ClipRange {label, lo, hi, false});
    };
    add("min-max", "minmax", extent.min, extent.max);
    if (!(extent.absmax > 0))
        return;
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
}

qs::Histogram errorHistogram(const std::vector<float>& original, const std::vector<float>& reconstructed)
{
    std::vector<float> errors;
    errors.reserve(original.size());
    double largest = 0;
    for (std::size_t i = 0; i < original.size(); ++i) {
        if (!std::isfinite(original[i]))
            continue;
        const float e = reconstructed[i] - original[i];
        if (std::isfinite(e))
            largest = std::max(largest, static_cast<double>(std::fabs(e)));
        errors.push_back(e);
    }
    const double m = largest > 0 ? largest : 1.0;
    return qs::histogram(qs::Backend::Simd, errors, kErrorHistogramBins, -m, m, false);
}

} // namespace

QuantizationAnalysis analyzeQuantization(const qs::Tensor& tensor, const SchemeSettings& settings,
    const QuantizationFocus& focus, const TaskControl& control)
{
    const qs::Scheme& scheme = settings.scheme;
    QuantizationAnalysis result;
    result.tensorName = tensor.name;
    result.settings = settings;
    const std::int64_t groups = qs::groupCount(scheme, tensor.shape);
    const double bits = qs::effectiveBitsPerValue(scheme, tensor.shape);
    control.throwIfCancelled();

    std::vector<float> reconstructed;
    std::string chosenMethod;
    if (schemeHasOwnScales(scheme)) {
        const qs::QuantizedTensor quantized = qs::quantize(tensor, scheme);
        control.throwIfCancelled();
        reconstructed = qs::dequantize(quantized).data;
        result.report = qs::computeErrorReport(tensor.data, reconstructed, quantized.clippedCount, bits);
        const auto largest = std::max_element(quantized.scales.begin(), quantized.scales.end());
        const std::int64_t largestIndex
            = largest == quantized.scales.end() ? 0 : largest - quantized.scales.begin();
        std::tie(result.referenceGroup, result.referenceGroupLabel)
            = referenceGroup(scheme, tensor.shape, focus, largestIndex, groups);
    } else {
        const std::vector<qs::Tensor> batches = settings.batches > 1
            ? qs::splitBatches(tensor, settings.batches)
            : std::vector<qs::Tensor> {tensor};
        qs::CalibrationResult calibration = qs::calibrate(batches, scheme, settings.options);
        control.throwIfCancelled();
        reconstructed.reserve(tensor.data.size());
        std::vector<float> part;
        for (const qs::Tensor& batch : batches) {
            qs::fakeQuantizeInto(batch, scheme, part, calibration.ranges);
            reconstructed.insert(reconstructed.end(), part.begin(), part.end());
        }
        result.report = calibration.report;
        result.report.bitsPerValue = bits;
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
    result.errorHistogram = errorHistogram(tensor.data, reconstructed);
    control.throwIfCancelled();
    addOtherRanges(tensor, scheme, chosenMethod, groups <= 1, result.clipRanges, control);
    return result;
}

} // namespace qs::gui
