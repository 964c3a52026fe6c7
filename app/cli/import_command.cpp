#include "base/error.h"
#include "commands.h"
#include "export/settings_file.h"
#include "export/settings_import.h"
#include "io/tensor_file.h"
#include "text_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

namespace qs::cli {

namespace {

struct ImportOptions {
    std::string file;
    std::string settings;
    bool json = false;
};

std::string rangeText(const TensorSetting& s)
{
    if (s.ranges.size() == 1)
        return "[" + formatNumber(s.ranges.front().min) + ", " + formatNumber(s.ranges.front().max) + "]";
    double low = INFINITY;
    double high = 0;
    for (const GroupRange& r : s.ranges) {
        const double amax = std::max(std::fabs(r.min), std::fabs(r.max));
        low = std::min(low, amax);
        high = std::max(high, amax);
    }
    return std::to_string(s.ranges.size()) + " groups, amax " + formatNumber(low) + " .. "
        + formatNumber(high);
}

nlohmann::ordered_json appliedJson(const TensorSetting& s)
{
    nlohmann::ordered_json min = nlohmann::ordered_json::array();
    nlohmann::ordered_json max = nlohmann::ordered_json::array();
    nlohmann::ordered_json scale = nlohmann::ordered_json::array();
    for (const GroupRange& r : s.ranges) {
        min.push_back(r.min);
        max.push_back(r.max);
    }
    for (float v : s.scales)
        scale.push_back(double(v));
    return {{"tensor", s.name}, {"shape", s.shape.value_or(Shape {})},
        {"format",
            s.scheme.blockFormat == BlockFormat::None ? s.scheme.format.name
                                                      : blockFormatName(s.scheme.blockFormat)},
        {"granularity", granularityName(s.scheme.granularity)},
        {"range_mode", rangeModeName(s.scheme.rangeMode)},
        {"method", calibrationMethodName(s.calibration.method)}, {"groups", s.ranges.size()}, {"min", min},
        {"max", max}, {"scale", scale}, {"zero_point", s.zeroPoints}};
}

int runImport(const ImportOptions& options)
{
    const auto file = TensorFile::open(options.file);
    const LoadedSettings loaded = readSettingsFile(options.settings);
    const SettingsMatch match = matchSettings(loaded.document, file->tensors());
    const std::size_t total = match.applied.size() + match.mismatches.size();

    if (options.json) {
        nlohmann::ordered_json j;
        j["file"] = file->path();
        j["settings"] = options.settings;
        j["format"] = settingsFormatName(loaded.format);
        j["applied"] = nlohmann::ordered_json::array();
        for (const TensorSetting& s : match.applied)
            j["applied"].push_back(appliedJson(s));
        j["not_applied"] = nlohmann::ordered_json::array();
        for (const SettingsMismatch& m : match.mismatches)
            j["not_applied"].push_back(
                {{"tensor", m.tensor}, {"kind", mismatchKindName(m.kind)}, {"reason", m.reason}});
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << options.settings << " (" << settingsFormatName(loaded.format) << ", " << total
                  << " tensor setting" << (total == 1 ? "" : "s") << ") against " << file->path() << "\n\n";
        if (!match.applied.empty()) {
            TextTable table({{"TENSOR"}, {"FORMAT"}, {"GRANULARITY"}, {"RANGE MODE"}, {"RANGE"}});
            for (const TensorSetting& s : match.applied)
                table.addRow({s.name,
                    s.scheme.blockFormat == BlockFormat::None ? s.scheme.format.name
                                                              : blockFormatName(s.scheme.blockFormat),
                    granularityName(s.scheme.granularity), rangeModeName(s.scheme.rangeMode), rangeText(s)});
            std::cout << "applies (" << match.applied.size() << "):\n" << table.render();
        }
        if (!match.mismatches.empty()) {
            TextTable table({{"TENSOR"}, {"PROBLEM"}, {"REASON"}});
            for (const SettingsMismatch& m : match.mismatches)
                table.addRow({m.tensor, mismatchKindName(m.kind), m.reason});
            std::cout << (match.applied.empty() ? "" : "\n") << "does not apply (" << match.mismatches.size()
                      << "):\n"
                      << table.render();
        }
    }
    if (match.complete())
        return 0;
    std::fprintf(stderr, "quantscope-cli: %zu of %zu tensor settings do not apply to %s\n",
        match.mismatches.size(), total, file->path().c_str());
    return 1;
}

} // namespace

Action addImportCommand(CLI::App& app)
{
    auto options = std::make_shared<ImportOptions>();
    CLI::App* command = app.add_subcommand("import",
        "Check which saved settings (Quantscope JSON, AIMET encodings, TensorRT cache) apply to a file");
    command->footer(
        "Matches the settings by tensor name, then shape and group count. Exit code 0 when every\n"
        "setting applies, 1 otherwise (the list says why).");
    command->add_option("FILE", options->file, "safetensors, *.safetensors.index.json, npy, npz or HDF5 file")
        ->required();
    command
        ->add_option(
            "SETTINGS", options->settings, "Settings file: quantscope JSON, AIMET .encodings, TensorRT cache")
        ->required();
    command->add_flag("--json", options->json, "Print one JSON document");
    return [options] { return runImport(*options); };
}

} // namespace qs::cli
