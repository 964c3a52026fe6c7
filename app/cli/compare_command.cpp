#include "base/error.h"
#include "commands.h"
#include "io/tensor_file.h"
#include "quant/compare_matrix.h"
#include "text_table.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

namespace qs::cli {

namespace {

struct CompareOptions {
    std::string file;
    std::string tensor;
    std::vector<std::string> formats;
    std::vector<std::string> granularities;
    std::string metric = "sqnr";
    std::string range = "sym";
    std::string scaleFormat = "f32";
    std::string e8m0 = "floor";
    std::string arithmetic = "reciprocal";
    bool json = false;
    bool csv = false;
    bool percentiles = false;
};

const char* const kColumns[] = {"format", "granularity", "scheme", "mse", "rmse", "sqnr_db", "max_abs_error",
    "mean_abs_error", "rel_rmse", "cosine", "p50_abs_error", "p95_abs_error", "p99_abs_error",
    "clipped_share", "bits_per_value", "count", "error"};

/// Indices of p50, p95 and p99 in metricValues.
constexpr std::size_t kFirstPercentile = 7;
constexpr std::size_t kLastPercentile = 9;

/// Whether metricValues' entry `index` of `cell` holds a computed value.
bool hasValue(const CompareCell& cell, std::size_t index)
{
    return cell.error.empty() && (cell.percentiles || index < kFirstPercentile || index > kLastPercentile);
}

std::vector<double> metricValues(const ErrorReport& r)
{
    return {r.mse, r.rmse, r.sqnrDb, r.maxAbsError, r.meanAbsError, r.relativeRmse, r.cosine, r.p50AbsError,
        r.p95AbsError, r.p99AbsError, r.clippedShare, r.bitsPerValue};
}

nlohmann::ordered_json number(double value)
{
    return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json cellJson(const CompareCell& cell)
{
    nlohmann::ordered_json j;
    j[kColumns[0]] = cell.format;
    j[kColumns[1]] = cell.granularity;
    j[kColumns[2]] = schemeName(cell.scheme);
    const std::vector<double> values = metricValues(cell.report);
    for (std::size_t i = 0; i < values.size(); ++i)
        j[kColumns[3 + i]] = hasValue(cell, i) ? number(values[i]) : nullptr;
    j["count"] = cell.report.count;
    j["error"] = cell.error.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(cell.error);
    return j;
}

std::string csvField(const std::string& text)
{
    if (text.find_first_of(",\"\n") == std::string::npos)
        return text;
    std::string quoted = "\"";
    for (char c : text) {
        if (c == '"')
            quoted += '"';
        quoted += c;
    }
    return quoted + "\"";
}

std::string csvNumber(double value)
{
    if (std::isnan(value))
        return "nan";
    if (std::isinf(value))
        return value > 0 ? "inf" : "-inf";
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

std::string csvText(const std::vector<CompareCell>& cells)
{
    std::string out;
    for (const char* column : kColumns)
        out += std::string(out.empty() ? "" : ",") + column;
    out += "\n";
    for (const CompareCell& cell : cells) {
        std::vector<std::string> fields {
            csvField(cell.format), csvField(cell.granularity), csvField(schemeName(cell.scheme))};
        const std::vector<double> values = metricValues(cell.report);
        for (std::size_t i = 0; i < values.size(); ++i)
            fields.push_back(hasValue(cell, i) ? csvNumber(values[i]) : std::string());
        fields.push_back(std::to_string(cell.report.count));
        fields.push_back(csvField(cell.error));
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (i)
                out += ',';
            out += fields[i];
        }
        out += '\n';
    }
    return out;
}

std::string metricCell(const CompareCell& cell, const std::string& metric)
{
    if (!cell.error.empty())
        return "-";
    const ErrorReport& r = cell.report;
    char text[64];
    if (metric == "sqnr") {
        if (std::isinf(r.sqnrDb))
            std::snprintf(text, sizeof text, "%s (%.3f)", r.sqnrDb > 0 ? "inf" : "-inf", r.bitsPerValue);
        else
            std::snprintf(text, sizeof text, "%.2f (%.3f)", r.sqnrDb, r.bitsPerValue);
    } else {
        std::snprintf(
            text, sizeof text, "%.4g (%.3f)", metric == "mse" ? r.mse : r.maxAbsError, r.bitsPerValue);
    }
    return text;
}

std::string tableText(const Tensor& tensor, const std::string& dtype, const std::vector<CompareCell>& cells,
    const std::vector<std::string>& formats, const std::vector<std::string>& granularities,
    const CompareOptions& options)
{
    const std::string metricTitle = options.metric == "sqnr" ? "SQNR in dB (higher is better)"
        : options.metric == "mse"                            ? "MSE (lower is better)"
                                                             : "max |error| (lower is better)";
    std::string text = "tensor " + tensor.name + "  " + shapeToString(tensor.shape) + "  " + dtype + "\n";
    text += metricTitle + "; in brackets: bits per value including scales and zero points\n";
    text += "ranges min-max, integer range " + options.range + ", scales " + options.scaleFormat
        + (options.scaleFormat == "e8m0" ? " (" + options.e8m0 + ")" : std::string()) + ", x/scale by "
        + options.arithmetic + "\n\n";

    std::vector<TextTable::Column> columns {{"FORMAT"}};
    for (const std::string& granularity : granularities)
        columns.push_back({granularity, TextTable::Align::Right});
    TextTable table(std::move(columns));
    std::set<std::string> notes;
    for (std::size_t f = 0; f < formats.size(); ++f) {
        std::vector<std::string> row {formats[f]};
        for (std::size_t g = 0; g < granularities.size(); ++g) {
            const CompareCell& cell = cells[f * granularities.size() + g];
            row.push_back(metricCell(cell, options.metric));
            const bool expected = cell.error.find(kNativeGranularity) != std::string::npos;
            if (!cell.error.empty() && !expected)
                notes.insert(cell.format + " " + cell.granularity + ": " + cell.error);
        }
        table.addRow(std::move(row));
    }
    text += table.render();
    text += "\n- = not applicable (block formats are evaluated on their own blocks in the 'native' column)\n";
    for (const std::string& note : notes)
        text += "  " + note + "\n";
    return text;
}

int runCompare(CompareOptions options)
{
    if (options.json && options.csv)
        throw Error("choose one of --json and --csv");
    if (options.metric != "sqnr" && options.metric != "mse" && options.metric != "max")
        throw Error("unknown metric '" + options.metric + "' (valid: sqnr, mse, max)");
    Scheme base;
    base.rangeMode = rangeModeByName(options.range);
    base.scaleFormat = scaleFormatByName(options.scaleFormat);
    base.e8m0Rounding = e8m0RoundingByName(options.e8m0);
    base.arithmetic = scaleArithmeticByName(options.arithmetic);

    std::vector<std::string> formats = options.formats;
    std::vector<std::string> granularities = options.granularities;
    if (formats.empty()) {
        formats = defaultCompareFormats();
        for (const std::string& block : defaultCompareBlockFormats())
            formats.push_back(block);
    }
    if (granularities.empty())
        granularities = defaultCompareGranularities();
    const bool anyBlock = std::any_of(formats.begin(), formats.end(),
        [](const std::string& f) { return blockFormatByName(f) != BlockFormat::None; });
    if (anyBlock
        && std::find(granularities.begin(), granularities.end(), kNativeGranularity) == granularities.end())
        granularities.push_back(kNativeGranularity);
    validateCompareNames(formats, granularities);

    if (options.tensor.empty())
        throw Error("compare needs --tensor NAME (list the names with 'quantscope-cli inspect FILE --list')");
    const auto file = TensorFile::open(options.file);
    const TensorInfo* info = file->find(options.tensor);
    if (!info)
        throwFileError(
            file->path(), options.tensor, "no such tensor (run 'quantscope-cli inspect FILE --list')");
    const Tensor tensor = file->load(options.tensor);
    if (tensor.elementCount() == 0)
        throwFileError(file->path(), options.tensor, "the tensor has no elements");

    qs::CompareOptions compareOptions;
    compareOptions.exactPercentiles = options.percentiles;
    const std::vector<CompareCell> cells
        = compareSchemes(tensor, formats, granularities, base, compareOptions);
    if (options.json) {
        auto list = nlohmann::ordered_json::array();
        for (const CompareCell& cell : cells)
            list.push_back(cellJson(cell));
        std::cout << list.dump(2) << "\n";
    } else if (options.csv) {
        std::cout << csvText(cells);
    } else {
        std::cout << tableText(tensor, info->dtypeName, cells, formats, granularities, options);
    }
    return 0;
}

} // namespace

Action addCompareCommand(CLI::App& app)
{
    auto options = std::make_shared<CompareOptions>();
    CLI::App* command = app.add_subcommand(
        "compare", "Quantize one tensor with every format x granularity and report the error matrix");
    command->add_option("FILE", options->file, "safetensors, *.safetensors.index.json, npy, npz or HDF5 file")
        ->required();
    command->add_option("--tensor,-t", options->tensor, "The tensor to quantize (full name)");
    command
        ->add_option("--formats", options->formats,
            "Comma-separated element and block formats (see 'quantscope-cli formats'); default: 13 "
            "element formats and every block format")
        ->delimiter(',');
    command
        ->add_option("--granularities", options->granularities,
            "Comma-separated: tensor, channel[:AXIS], group:SIZE[:AXIS], block:ROWSxCOLS, native; "
            "default: tensor,channel:0,group:128,block:128x128 ('native' is added for block formats)")
        ->delimiter(',');
    command->add_option("--metric", options->metric, "Table metric: sqnr, mse or max")->capture_default_str();
    command->add_option("--range", options->range, "Integer range mode: sym, symfull or affine")
        ->capture_default_str();
    command->add_option("--scale-format", options->scaleFormat, "Scale storage: f32, f16, bf16, e8m0 or e4m3")
        ->capture_default_str();
    command->add_option("--e8m0", options->e8m0, "E8M0 exponent rounding: floor, ceil, even or rceil")
        ->capture_default_str();
    command
        ->add_option("--arithmetic", options->arithmetic, "x/scale as reciprocal (PyTorch) or divide (ONNX)")
        ->capture_default_str();
    command->add_flag("--json", options->json, "Print a JSON array with one object per cell");
    command->add_flag("--csv", options->csv, "Print CSV with one row per cell");
    command->add_flag("--percentiles", options->percentiles,
        "Compute p50/p95/p99 of |error| exactly (reference path, slower on large tensors; without it they "
        "are null in the cells the fused kernels compute)");
    return [options] { return runCompare(*options); };
}

} // namespace qs::cli
