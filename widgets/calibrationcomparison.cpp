#include "calibrationcomparison.h"

#include "base/error.h"
#include "kernels/kernels.h"
#include "quant/quantizer.h"
#include "taskcontrol.h"

#include <cmath>
#include <cstdio>
#include <variant>

namespace qs::gui {

namespace {

bool isSignFormat(const qs::NumberFormat& format)
{
    return std::holds_alternative<qs::SignSpec>(format.spec);
}

bool isUnsignedInteger(const qs::NumberFormat& format)
{
    const auto* spec = std::get_if<qs::IntegerSpec>(&format.spec);
    return spec && !spec->isSigned;
}

qs::CalibrationOptions candidate(const qs::CalibrationOptions& base, qs::CalibrationMethod method,
    qs::Compatibility compat, bool mseSweep = false)
{
    qs::CalibrationOptions options = base;
    options.method = method;
    options.compat = compat;
    options.mseSweep = mseSweep;
    return options;
}

} // namespace

std::string calibrationUnsupportedReason(const qs::Scheme& scheme)
{
    if (scheme.blockFormat != qs::BlockFormat::None)
        return "The block format " + qs::blockFormatName(scheme.blockFormat)
            + " takes its scales from each block by its reference algorithm: there is no range to calibrate.";
    if (isSignFormat(scheme.format))
        return "The " + scheme.format.name
            + " format takes its scale from the mean magnitude of the weights (BitNet): there is no range to "
              "calibrate.";
    return {};
}

std::vector<qs::CalibrationOptions> calibrationCandidates(
    const qs::Scheme& scheme, const qs::CalibrationOptions& base, int batches)
{
    using M = qs::CalibrationMethod;
    using C = qs::Compatibility;
    if (!calibrationUnsupportedReason(scheme).empty())
        return {};
    std::vector<qs::CalibrationOptions> out;
    for (C compat : {C::Native, C::ModelOpt, C::PyTorch, C::OnnxRuntime})
        out.push_back(candidate(base, M::MinMax, compat));
    if (batches > 1) {
        out.push_back(candidate(base, M::MovingAverage, C::Native));
        out.push_back(candidate(base, M::MovingAverage, C::OnnxRuntime));
    }
    for (C compat : {C::Native, C::ModelOpt, C::OnnxRuntime})
        out.push_back(candidate(base, M::Percentile, compat));
    for (C compat : {C::Native, C::ModelOpt, C::OnnxRuntime, C::TensorRT})
        out.push_back(candidate(base, M::Entropy, compat));
    out.push_back(candidate(base, M::Mse, C::Native));
    out.push_back(candidate(base, M::Mse, C::ModelOpt));
    out.push_back(candidate(base, M::Mse, C::ModelOpt, true));
    const auto* integer = std::get_if<qs::IntegerSpec>(&scheme.format.spec);
    if (integer && integer->bits == 8 && scheme.granularity.kind == qs::Granularity::Kind::PerTensor)
        out.push_back(candidate(base, M::HistogramObserver, C::PyTorch));
    return out;
}

std::string calibrationMethodLabel(const qs::CalibrationOptions& options)
{
    std::string label = qs::calibrationMethodName(options.method);
    if (options.method == qs::CalibrationMethod::Percentile && options.percentile > 0) {
        char text[32];
        std::snprintf(text, sizeof text, " %.6g", options.percentile);
        label += text;
    }
    if (options.method == qs::CalibrationMethod::Mse && options.compat == qs::Compatibility::ModelOpt)
        label += options.mseSweep ? " (sweep)" : " (histogram)";
    return label;
}

std::vector<qs::Tensor> splitIntoBatches(const qs::Tensor& tensor, int count)
{
    if (count < 1)
        throw qs::Error("the batch count must be at least 1, not " + std::to_string(count));
    if (count == 1)
        return {tensor};
    if (tensor.shape.empty())
        throw qs::Error("a scalar cannot be split into " + std::to_string(count) + " batches");
    const std::int64_t rows = tensor.shape.front();
    if (rows % count != 0)
        throw qs::Error("axis 0 of " + qs::shapeToString(tensor.shape) + " (" + std::to_string(rows)
            + ") does not split into " + std::to_string(count) + " equal batches");
    qs::Shape shape = tensor.shape;
    shape.front() = rows / count;
    const std::size_t size = tensor.data.size() / static_cast<std::size_t>(count);
    std::vector<qs::Tensor> out;
    out.reserve(static_cast<std::size_t>(count));
    for (int b = 0; b < count; ++b) {
        const auto first
            = tensor.data.begin() + static_cast<std::ptrdiff_t>(size * static_cast<std::size_t>(b));
        out.push_back(
            {tensor.name, shape, std::vector<float>(first, first + static_cast<std::ptrdiff_t>(size))});
    }
    return out;
}

CalibrationComparison compareCalibrations(const std::vector<qs::Tensor>& batches, const qs::Scheme& scheme,
    const qs::CalibrationOptions& base, const TaskControl* control)
{
    if (batches.empty())
        throw qs::Error("calibration needs at least one batch");
    CalibrationComparison out;
    out.scheme = scheme;
    out.batchShape = batches.front().shape;
    out.batches = static_cast<int>(batches.size());
    out.unsupported = calibrationUnsupportedReason(scheme);
    const std::vector<qs::CalibrationOptions> candidates
        = calibrationCandidates(scheme, base, static_cast<int>(batches.size()));
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        if (control) {
            control->throwIfCancelled();
            control->setProgress(static_cast<int>(100 * i / candidates.size()));
        }
        CalibrationRow row;
        row.options = candidates[i];
        try {
            row.result = qs::calibrate(batches, scheme, candidates[i]);
        } catch (const std::exception& e) {
            row.error = e.what();
        }
        out.rows.push_back(std::move(row));
    }
    return out;
}

ThresholdEvaluation evaluateThreshold(const qs::Tensor& tensor, const qs::Scheme& scheme, double amax)
{
    if (!std::isfinite(amax) || amax < 0)
        throw qs::Error("the threshold must be a finite value >= 0, not " + std::to_string(amax));
    if (const std::string reason = calibrationUnsupportedReason(scheme); !reason.empty())
        throw qs::Error(reason);
    qs::Scheme perTensor = scheme;
    perTensor.granularity = qs::Granularity::perTensor();
    ThresholdEvaluation out;
    out.amax = amax;
    out.range = {isUnsignedInteger(scheme.format) ? 0.0 : -amax, amax};
    const std::vector<qs::GroupRange> ranges {out.range};
    const double bits = qs::effectiveBitsPerValue(perTensor, tensor.shape);
    if (qs::fakeQuantErrorUnsupported(perTensor, tensor.shape).empty()) {
        // The scale depends only on the range, so one probe element gives the scale quantize() would use.
        const qs::QuantizedTensor probe = qs::quantize({tensor.name, {1}, {0.0f}}, perTensor, ranges);
        const qs::ErrorSums sums = qs::fakeQuantError(
            qs::Backend::Simd, tensor.values(), tensor.shape, perTensor, probe.scales, probe.zeroPoints);
        out.report = qs::errorReportFromSums(sums, bits);
        return out;
    }
    const qs::QuantizedTensor quantized = qs::quantize(tensor, perTensor, ranges);
    const qs::Tensor reconstructed = qs::dequantize(quantized);
    out.report
        = qs::computeErrorReport(tensor.values(), reconstructed.values(), quantized.clippedCount, bits);
    return out;
}

} // namespace qs::gui
