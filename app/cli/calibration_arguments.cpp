#include "calibration_arguments.h"

#include "base/error.h"
#include "formats/number_format.h"

#include <cstdio>

namespace qs::cli {

namespace {

std::string shortNumber(double value)
{
    char text[40];
    std::snprintf(text, sizeof text, "%.9g", value);
    return text;
}

} // namespace

void addCalibrationArguments(CLI::App& command, CalibrationArguments& a, bool withBatchAxis)
{
    command.add_option(
        "--method,-m", a.method, "minmax, ema, percentile, entropy, mse or histogram-observer");
    command
        .add_option("--compat", a.compat, "Whose semantics: native, modelopt, pytorch, onnxruntime, tensorrt")
        ->capture_default_str();
    a.percentileOption = command.add_option("--percentile", a.percentile,
        "Percentile in (0, 100] (default: modelopt/native 99.99, onnxruntime 99.999)");
    a.binsOption = command.add_option(
        "--bins", a.bins, "Histogram bins, >= 2 (default 2048; onnxruntime entropy 128)");
    a.batchesOption = command.add_option("--batches", a.batches, "Split the tensor into N equal batches");
    if (withBatchAxis) {
        a.batchAxisOption
            = command.add_option("--batch-axis", a.batchAxis, "Every index along this axis is one batch");
        a.batchesOption->excludes(a.batchAxisOption);
    }
    command.add_option("--format", a.format, "Element format (see 'quantscope-cli formats')")
        ->capture_default_str();
    command
        .add_option("--granularity", a.granularity,
            "tensor, channel[:AXIS], group:SIZE[:AXIS] or block:ROWSxCOLS (groups of one batch)")
        ->capture_default_str();
    command.add_option("--range", a.range, "Integer range mode: sym, symfull or affine")
        ->capture_default_str();
    command.add_flag("--symmetric", a.symmetric,
        "ORT min-max/ema/percentile symmetric; native percentile on |x| (the default unless affine)");
    command.add_flag("--asymmetric", a.asymmetric, "The opposite of --symmetric (percentile: both tails)");
    command.add_option("--quantized-bins", a.quantizedBins, "Entropy levels (0 = the mode's default)")
        ->capture_default_str();
    command.add_option("--start-bin", a.startBin, "ModelOpt entropy/MSE first candidate bin")
        ->capture_default_str();
    command.add_option("--stride", a.stride, "ModelOpt entropy/MSE candidate stride")->capture_default_str();
    command.add_option("--averaging-constant", a.averagingConstant, "EMA constant c (PyTorch)")
        ->capture_default_str();
    command.add_flag("--skip-zeros", a.skipZeros, "ModelOpt: drop exact zeros from the histogram");
    command.add_flag("--mse-sweep", a.mseSweep,
        "ModelOpt MSE: MseCalibrator's amax multiplier sweep instead of the histogram search");
    command.add_option("--mse-steps", a.mseSteps, "Multiplier sweep candidates")->capture_default_str();
}

CalibrationOptions calibrationOptions(const CalibrationArguments& a)
{
    if (a.method.empty())
        throw Error("--method is required (minmax, ema, percentile, entropy, mse, histogram-observer)");
    if (a.symmetric && a.asymmetric)
        throw Error("choose one of --symmetric and --asymmetric");
    CalibrationOptions co;
    co.method = calibrationMethodByName(a.method);
    co.compat = compatibilityByName(a.compat);
    if (a.percentileOption && a.percentileOption->count() > 0) {
        if (!(a.percentile > 0 && a.percentile <= 100))
            throw Error("percentile " + shortNumber(a.percentile) + " is outside (0, 100]");
        co.percentile = a.percentile;
    }
    if (a.binsOption && a.binsOption->count() > 0) {
        if (a.bins < 2)
            throw Error("--bins must be at least 2, not " + std::to_string(a.bins));
        co.bins = a.bins;
    }
    co.quantizedBins = a.quantizedBins;
    co.startBin = a.startBin;
    co.stride = a.stride;
    co.averagingConstant = a.averagingConstant;
    co.skipZeros = a.skipZeros;
    co.mseSweep = a.mseSweep;
    co.mseSteps = a.mseSteps;
    if (a.symmetric)
        co.symmetric = true;
    if (a.asymmetric)
        co.symmetric = false;
    return co;
}

Scheme calibrationScheme(const CalibrationArguments& a)
{
    Scheme scheme;
    if (blockFormatByName(a.format) != BlockFormat::None)
        scheme.blockFormat = blockFormatByName(a.format);
    else
        scheme.format = formatByName(a.format);
    scheme.granularity = parseGranularity(a.granularity);
    scheme.rangeMode = rangeModeByName(a.range);
    return scheme;
}

} // namespace qs::cli
