#pragma once

#include "calib/calibration.h"
#include "quant/scheme.h"

#include <CLI/CLI.hpp>
#include <string>

namespace qs::cli {

/// The calibration and scheme options shared by `calibrate` and `export`, as the user typed them.
struct CalibrationArguments {
    std::string method;
    std::string compat = "native";
    double percentile = 0;
    int bins = 0;
    int batches = 1;
    int batchAxis = 0;
    std::string format = "int8";
    std::string granularity = "tensor";
    std::string range = "sym";
    bool symmetric = false;
    bool asymmetric = false;
    int quantizedBins = 0;
    int startBin = 128;
    int stride = 1;
    double averagingConstant = 0.01;
    bool skipZeros = false;
    bool mseSweep = false;
    int mseSteps = 39;

    CLI::Option* percentileOption = nullptr;
    CLI::Option* binsOption = nullptr;
    CLI::Option* batchesOption = nullptr;
    CLI::Option* batchAxisOption = nullptr; ///< null when the command has no --batch-axis

    bool batchesGiven() const { return batchesOption && batchesOption->count() > 0; }
    bool batchAxisGiven() const { return batchAxisOption && batchAxisOption->count() > 0; }
};

/// Registers --method, --compat, --percentile, --bins, --batches, [--batch-axis], --format, --granularity,
/// --range, --symmetric, --asymmetric, --quantized-bins, --start-bin, --stride, --averaging-constant,
/// --skip-zeros, --mse-sweep and --mse-steps on `command`, writing into `arguments` (which must outlive it).
void addCalibrationArguments(CLI::App& command, CalibrationArguments& arguments, bool withBatchAxis);

/// The CalibrationOptions the arguments ask for; throws qs::Error for a missing method, an unknown name or an
/// absurd value (percentile outside (0, 100], bins < 2, both --symmetric and --asymmetric).
CalibrationOptions calibrationOptions(const CalibrationArguments& arguments);

/// The Scheme of --format (element or block format), --granularity and --range; throws qs::Error for
/// unknown names.
Scheme calibrationScheme(const CalibrationArguments& arguments);

} // namespace qs::cli
