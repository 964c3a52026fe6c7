#include "base/error.h"
#include "commands.h"
#include "io/tensor_file.h"
#include "tensor/stats.h"
#include "text_table.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

namespace qs::cli {

namespace {

struct InspectOptions {
    std::string file;
    std::string tensor;
    int axis = 0;
    int top = 5;
    bool json = false;
    bool listOnly = false;
};

struct TensorReport {
    SummaryStats stats;
    int axis = 0;
    std::vector<OutlierChannel> outliers;
};

TensorReport analyse(const TensorFile& file, const TensorInfo& info, const InspectOptions& options)
{
    const Tensor tensor = file.load(info.name);
    TensorReport report;
    report.stats = computeSummaryStats(tensor.values());
    if (!tensor.shape.empty() && tensor.elementCount() > 0) {
        const int rank = static_cast<int>(tensor.shape.size());
        if (options.axis >= rank || options.axis < -rank)
            throwFileError(file.path(), info.name,
                "axis " + std::to_string(options.axis) + " is out of range for shape "
                    + shapeToString(tensor.shape));
        const ChannelStats channels = computeChannelStats(tensor, options.axis);
        report.axis = channels.axis;
        report.outliers = topOutlierChannels(channels, static_cast<std::size_t>(options.top));
    }
    return report;
}

nlohmann::ordered_json infoJson(const TensorInfo& info)
{
    return {{"name", info.name}, {"shape", info.shape}, {"dtype", info.dtypeName},
        {"loadable", info.loadable()}, {"bytes", info.byteSize}, {"file", info.file},
        {"location", info.location}};
}

void addReportJson(nlohmann::ordered_json& j, const TensorReport& r)
{
    const SummaryStats& s = r.stats;
    j["count"] = s.count;
    j["finite_count"] = s.finiteCount;
    j["nan_count"] = s.nanCount;
    j["inf_count"] = s.infCount;
    j["zero_count"] = s.zeroCount;
    j["min"] = s.min;
    j["max"] = s.max;
    j["absmax"] = s.absmax;
    j["mean"] = s.mean;
    j["std"] = s.std;
    j["kurtosis"] = s.kurtosis;
    j["beyond_3sigma_share"] = s.beyond3SigmaShare;
    j["beyond_6sigma_share"] = s.beyond6SigmaShare;
    j["zero_share"] = s.zeroShare;
    j["outlier_axis"] = r.axis;
    auto outliers = nlohmann::ordered_json::array();
    for (const OutlierChannel& o : r.outliers)
        outliers.push_back({{"channel", o.channel}, {"absmax", o.absmax},
            {"ratio_to_median", std::isfinite(o.ratio) ? nlohmann::ordered_json(o.ratio) : nullptr}});
    j["outlier_channels"] = outliers;
}

std::string reportText(const TensorInfo& info, const TensorReport& r)
{
    const SummaryStats& s = r.stats;
    std::string text = info.name + "  " + shapeToString(info.shape) + "  " + info.dtypeName + "\n";
    text += "  count " + std::to_string(s.count) + "   NaN " + std::to_string(s.nanCount) + "   Inf "
        + std::to_string(s.infCount) + "   zeros " + formatPercent(s.zeroShare) + "\n";
    text += "  min " + formatNumber(s.min) + "   max " + formatNumber(s.max) + "   absmax "
        + formatNumber(s.absmax) + "\n";
    text += "  mean " + formatNumber(s.mean) + "   std " + formatNumber(s.std) + "   kurtosis "
        + formatNumber(s.kurtosis) + "\n";
    text += "  beyond 3σ " + formatPercent(s.beyond3SigmaShare) + "   beyond 6σ "
        + formatPercent(s.beyond6SigmaShare) + "\n";
    if (!r.outliers.empty()) {
        text += "  top channels by absmax (axis " + std::to_string(r.axis) + "):";
        for (const OutlierChannel& o : r.outliers)
            text += "  #" + std::to_string(o.channel) + " " + formatNumber(o.absmax) + " ("
                + formatNumber(o.ratio) + "× median)";
        text += "\n";
    }
    return text;
}

int runInspect(const InspectOptions& options)
{
    const auto file = TensorFile::open(options.file);
    std::vector<const TensorInfo*> selected;
    if (!options.tensor.empty()) {
        const TensorInfo* info = file->find(options.tensor);
        if (!info)
            throwFileError(
                file->path(), options.tensor, "no such tensor (run 'quantscope-cli inspect FILE --list')");
        selected.push_back(info);
    } else {
        for (const TensorInfo& info : file->tensors())
            selected.push_back(&info);
    }

    if (options.json) {
        if (!options.tensor.empty()) {
            auto j = infoJson(*selected.front());
            addReportJson(j, analyse(*file, *selected.front(), options));
            j["format"] = file->formatName();
            std::cout << j.dump(2) << "\n";
            return 0;
        }
        nlohmann::ordered_json doc = {{"file", file->path()}, {"format", file->formatName()}};
        auto list = nlohmann::ordered_json::array();
        for (const TensorInfo* info : selected) {
            auto j = infoJson(*info);
            if (!options.listOnly && info->loadable())
                addReportJson(j, analyse(*file, *info, options));
            list.push_back(std::move(j));
        }
        doc["tensors"] = std::move(list);
        std::cout << doc.dump(2) << "\n";
        return 0;
    }

    double totalBytes = 0;
    TextTable table({{"NAME"}, {"SHAPE"}, {"DTYPE"}, {"SIZE", TextTable::Align::Right}});
    for (const TensorInfo& info : file->tensors()) {
        totalBytes += static_cast<double>(info.byteSize);
        table.addRow(
            {info.name, shapeToString(info.shape), info.dtypeName + (info.loadable() ? "" : " (unsupported)"),
                formatBytes(static_cast<double>(info.byteSize))});
    }
    std::cout << file->path() << ": " << file->formatName() << ", " << file->tensors().size() << " tensors, "
              << formatBytes(totalBytes) << "\n\n"
              << table.render();
    if (options.listOnly)
        return 0;
    for (const TensorInfo* info : selected) {
        std::cout << "\n";
        if (!info->loadable() && options.tensor.empty()) {
            std::cout << info->name << "  " << shapeToString(info->shape) << "  " << info->dtypeName
                      << "\n  (dtype cannot be converted to float32; no statistics)\n";
            continue;
        }
        std::cout << reportText(*info, analyse(*file, *info, options));
    }
    return 0;
}

} // namespace

Action addInspectCommand(CLI::App& app)
{
    auto options = std::make_shared<InspectOptions>();
    CLI::App* command
        = app.add_subcommand("inspect", "List the tensors of a file and print their statistics");
    command->add_option("FILE", options->file, "safetensors, *.safetensors.index.json, npy, npz or HDF5 file")
        ->required();
    command->add_option("--tensor,-t", options->tensor, "Only this tensor (full name)");
    command
        ->add_option(
            "--axis", options->axis, "Channel axis for the outlier-channel ranking (negative from the end)")
        ->capture_default_str();
    command->add_option("--top", options->top, "How many outlier channels to list")
        ->check(CLI::Range(0, 1000000))
        ->capture_default_str();
    command->add_flag("--json", options->json, "Print one JSON document");
    command->add_flag("--list", options->listOnly, "Only list the tensors (reads headers only)");
    return [options] { return runInspect(*options); };
}

} // namespace qs::cli
