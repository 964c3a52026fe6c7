#include "base/error.h"
#include "calib/calibration.h"
#include "calibration_arguments.h"
#include "commands.h"
#include "io/tensor_file.h"
#include "text_table.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

namespace qs::cli {

namespace {

struct CalibrateOptions {
    std::string file;
    std::string tensor;
    CalibrationArguments calibration;
    bool json = false;
};

/// Orders "batch_2" before "batch_10": runs of digits compare by value, everything else byte-wise.
bool naturalLess(const std::string& a, const std::string& b)
{
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < a.size() && j < b.size()) {
        const bool da = std::isdigit(static_cast<unsigned char>(a[i]));
        const bool db = std::isdigit(static_cast<unsigned char>(b[j]));
        if (da && db) {
            std::size_t ei = i;
            std::size_t ej = j;
            while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei])))
                ++ei;
            while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej])))
                ++ej;
            std::string na = a.substr(i, ei - i);
            std::string nb = b.substr(j, ej - j);
            na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
            nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
            if (na.size() != nb.size())
                return na.size() < nb.size();
            if (na != nb)
                return na < nb;
            i = ei;
            j = ej;
            continue;
        }
        if (a[i] != b[j])
            return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
        ++i;
        ++j;
    }
    return a.size() - i < b.size() - j;
}

/// The batches `name` stands for: one tensor, or every tensor under the group "name/" in natural order.
std::vector<Tensor> loadBatches(const TensorFile& file, const CalibrateOptions& options, std::string& what)
{
    std::string name = options.tensor;
    if (!file.find(name) && !name.empty() && name.front() != '/' && file.formatName() == "hdf5")
        name = "/" + name;
    if (file.find(name)) {
        const Tensor tensor = file.load(name);
        what = name;
        if (options.calibration.batchesGiven())
            return splitBatches(tensor, options.calibration.batches);
        if (options.calibration.batchAxisGiven())
            return batchesAlongAxis(tensor, options.calibration.batchAxis);
        return {tensor};
    }
    std::string prefix = name;
    while (!prefix.empty() && prefix.back() == '/')
        prefix.pop_back();
    prefix += '/';
    std::vector<std::string> members;
    for (const TensorInfo& info : file.tensors())
        if (info.name.size() > prefix.size() && info.name.compare(0, prefix.size(), prefix) == 0)
            members.push_back(info.name);
    if (members.empty())
        throwFileError(file.path(), options.tensor,
            "no such tensor or group (run 'quantscope-cli inspect FILE --list')");
    if (options.calibration.batchesGiven() || options.calibration.batchAxisGiven())
        throw Error("--batches and --batch-axis split one tensor; the group '" + options.tensor
            + "' is already fed as one batch per dataset");
    std::sort(members.begin(), members.end(), naturalLess);
    std::vector<Tensor> batches;
    for (const std::string& member : members)
        batches.push_back(file.load(member));
    what = prefix.substr(0, prefix.size() - 1) + " (" + std::to_string(members.size()) + " datasets)";
    return batches;
}

nlohmann::ordered_json number(double value)
{
    return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

template<class T> nlohmann::ordered_json perGroup(const std::vector<T>& values)
{
    if (values.size() == 1)
        return number(double(values.front()));
    auto list = nlohmann::ordered_json::array();
    for (const T& v : values)
        list.push_back(number(double(v)));
    return list;
}

nlohmann::ordered_json curveJson(const ObjectiveCurve& curve)
{
    nlohmann::ordered_json j;
    j["objective"] = curve.objective;
    auto threshold = nlohmann::ordered_json::array();
    auto value = nlohmann::ordered_json::array();
    for (double t : curve.threshold)
        threshold.push_back(number(t));
    for (double v : curve.value)
        value.push_back(number(v));
    j["threshold"] = threshold;
    j["value"] = value;
    if (curve.threshold.empty()) {
        j["best"] = nullptr;
        j["best_threshold"] = nullptr;
        j["best_value"] = nullptr;
    } else {
        j["best"] = curve.best;
        j["best_threshold"] = number(curve.threshold[curve.best]);
        j["best_value"] = number(curve.value[curve.best]);
    }
    return j;
}

nlohmann::ordered_json reportJson(const ErrorReport& r)
{
    return {{"count", r.count}, {"mse", number(r.mse)}, {"rmse", number(r.rmse)},
        {"sqnr_db", number(r.sqnrDb)}, {"max_abs_error", number(r.maxAbsError)},
        {"mean_abs_error", number(r.meanAbsError)}, {"rel_rmse", number(r.relativeRmse)},
        {"cosine", number(r.cosine)}, {"p50_abs_error", number(r.p50AbsError)},
        {"p95_abs_error", number(r.p95AbsError)}, {"p99_abs_error", number(r.p99AbsError)},
        {"clipped_share", number(r.clippedShare)}, {"bits_per_value", number(r.bitsPerValue)}};
}

nlohmann::ordered_json resultJson(const TensorFile& file, const std::string& what,
    const std::vector<Tensor>& batches, const Scheme& scheme, const CalibrationResult& result)
{
    const CalibrationOptions& o = result.options;
    std::vector<double> mins;
    std::vector<double> maxs;
    std::vector<double> amaxs;
    for (const GroupRange& r : result.ranges) {
        mins.push_back(r.min);
        maxs.push_back(r.max);
        amaxs.push_back(std::max(std::fabs(r.min), std::fabs(r.max)));
    }
    std::vector<std::int32_t> zeroPoints = result.zeroPoints;
    if (zeroPoints.empty())
        zeroPoints.assign(result.scales.size(), 0);

    nlohmann::ordered_json j;
    j["file"] = file.path();
    j["tensor"] = what;
    j["batch_shape"] = batches.front().shape;
    j["method"] = calibrationMethodName(o.method);
    j["compat"] = compatibilityName(o.compat);
    j["scheme"] = schemeName(scheme);
    j["format"] = scheme.format.name;
    j["granularity"] = granularityName(scheme.granularity);
    j["range_mode"] = rangeModeName(scheme.rangeMode);
    j["groups"] = result.ranges.size();
    j["percentile"] = o.method == CalibrationMethod::Percentile ? number(o.percentile) : nullptr;
    j["symmetric"] = o.symmetric.value_or(true);
    j["quantized_bins"]
        = o.method == CalibrationMethod::Entropy ? nlohmann::ordered_json(o.quantizedBins) : nullptr;
    j["amax"] = perGroup(amaxs);
    j["min"] = perGroup(mins);
    j["max"] = perGroup(maxs);
    j["scale"] = perGroup(result.scales);
    j["zero_point"] = perGroup(zeroPoints);
    j["bins"] = result.histogramBins;
    j["bin_width"] = number(result.histogramBinWidth);
    j["batches"] = result.batches;
    j["non_finite"] = result.nonFiniteCount;
    j["report"] = reportJson(result.report);
    auto curves = nlohmann::ordered_json::array();
    for (const ObjectiveCurve& curve : result.curves)
        curves.push_back(curveJson(curve));
    j["curve"] = result.curves.size() == 1 ? curves.front() : nlohmann::ordered_json(nullptr);
    j["curves"] = curves;
    return j;
}

std::string fmt(double value)
{
    if (std::isnan(value))
        return "nan";
    if (std::isinf(value))
        return value > 0 ? "inf" : "-inf";
    char text[40];
    std::snprintf(text, sizeof text, "%.9g", value);
    return text;
}

std::string resultText(const TensorFile& file, const std::string& what, const std::vector<Tensor>& batches,
    const Scheme& scheme, const CalibrationResult& result)
{
    const CalibrationOptions& o = result.options;
    std::string text = file.path() + "  " + what + "  " + std::to_string(result.batches) + " batch"
        + (result.batches == 1 ? "" : "es") + " of " + shapeToString(batches.front().shape) + "\n";
    text += "method " + calibrationMethodName(o.method) + " (" + compatibilityName(o.compat) + ")";
    if (o.method == CalibrationMethod::Percentile)
        text += ", percentile " + fmt(o.percentile)
            + (o.symmetric.value_or(true) ? " of |x|" : ", both tails");
    if (o.method == CalibrationMethod::Entropy)
        text += ", " + std::to_string(o.quantizedBins) + " levels";
    text += "\nscheme " + schemeName(scheme) + "\n";
    if (result.histogramBins > 0)
        text += "histogram " + std::to_string(result.histogramBins) + " bins"
            + (result.histogramBinWidth > 0 ? ", width " + fmt(result.histogramBinWidth) : std::string())
            + "\n";
    if (result.nonFiniteCount > 0)
        text += std::to_string(result.nonFiniteCount) + " NaN/Inf values excluded\n";
    text += "\n";

    const bool affine = !result.zeroPoints.empty();
    std::vector<TextTable::Column> columns {{"GROUP", TextTable::Align::Right},
        {"MIN", TextTable::Align::Right}, {"MAX", TextTable::Align::Right}, {"AMAX", TextTable::Align::Right},
        {"SCALE", TextTable::Align::Right}};
    if (affine)
        columns.push_back({"ZERO POINT", TextTable::Align::Right});
    TextTable table(std::move(columns));
    const std::size_t groups = result.ranges.size();
    const std::size_t shown = groups <= 16 ? groups : 8;
    for (std::size_t g = 0; g < shown; ++g) {
        const GroupRange& r = result.ranges[g];
        std::vector<std::string> row {std::to_string(g), fmt(r.min), fmt(r.max),
            fmt(std::max(std::fabs(r.min), std::fabs(r.max))), fmt(result.scales[g])};
        if (affine)
            row.push_back(std::to_string(result.zeroPoints[g]));
        table.addRow(std::move(row));
    }
    text += table.render();
    if (shown < groups)
        text += "... " + std::to_string(groups - shown) + " more groups (--json lists them all)\n";

    const ErrorReport& r = result.report;
    text += "\nerror of the resulting scheme over all batches (" + std::to_string(r.count) + " values)\n";
    text += "  MSE " + fmt(r.mse) + "  SQNR "
        + (std::isfinite(r.sqnrDb) ? formatNumber(r.sqnrDb) : fmt(r.sqnrDb)) + " dB  max |e| "
        + fmt(r.maxAbsError) + "  cosine " + fmt(r.cosine) + "\n";
    text += "  clipped " + formatPercent(r.clippedShare) + "  bits per value " + formatNumber(r.bitsPerValue)
        + "\n";

    if (result.curves.size() == 1 && !result.curves.front().threshold.empty()) {
        const ObjectiveCurve& c = result.curves.front();
        text += "\n" + c.objective + ": " + std::to_string(c.threshold.size()) + " candidates from "
            + fmt(c.threshold.front()) + " to " + fmt(c.threshold.back()) + ", best "
            + fmt(c.threshold[c.best]) + " (value " + fmt(c.value[c.best]) + ")\n";
    } else if (result.curves.size() > 1) {
        text += "\n" + result.curves.front().objective + ": one search per group (--json has the curves)\n";
    }
    return text;
}

int runCalibrate(const CalibrateOptions& options)
{
    if (options.calibration.method.empty())
        throw Error("calibrate needs --method (minmax, ema, percentile, entropy, mse, histogram-observer)");
    const CalibrationOptions co = calibrationOptions(options.calibration);
    const Scheme scheme = calibrationScheme(options.calibration);

    const auto file = TensorFile::open(options.file);
    CalibrateOptions resolved = options;
    if (resolved.tensor.empty()) {
        if (file->tensors().size() != 1)
            throw Error(
                "calibrate needs --tensor NAME (list the names with 'quantscope-cli inspect FILE --list')");
        resolved.tensor = file->tensors().front().name;
    }
    std::string what;
    const std::vector<Tensor> batches = loadBatches(*file, resolved, what);
    const CalibrationResult result = calibrate(batches, scheme, co);
    if (options.json)
        std::cout << resultJson(*file, what, batches, scheme, result).dump(2) << "\n";
    else
        std::cout << resultText(*file, what, batches, scheme, result);
    return 0;
}

} // namespace

Action addCalibrateCommand(CLI::App& app)
{
    auto options = std::make_shared<CalibrateOptions>();
    CLI::App* command = app.add_subcommand("calibrate",
        "Calibrate one tensor (or an HDF5 group of batches) with a method and report ranges, scales and the "
        "error");
    command->footer("Batches: --batches N splits the tensor into N equal parts along axis 0; --batch-axis A "
                    "makes every index\n"
                    "along A one batch. For an HDF5 file, --tensor may name a group (\"/calib/layer0\"): "
                    "every dataset under\n"
                    "it is one batch, in natural name order (batch_2 before batch_10). Each batch is one "
                    "collect()/forward()\n"
                    "call of the peer calibrator, in order.");
    command->add_option("FILE", options->file, "safetensors, *.safetensors.index.json, npy, npz or HDF5 file")
        ->required();
    command->add_option("--tensor,-t", options->tensor,
        "The tensor (full name), or an HDF5 group of batches; optional when the file holds one tensor");
    addCalibrationArguments(*command, options->calibration, true);
    command->add_flag("--json", options->json, "Print one JSON document");
    return [options] { return runCalibrate(*options); };
}

} // namespace qs::cli
