#include "base/error.h"
#include "calibration_arguments.h"
#include "commands.h"
#include "export/file_digest.h"
#include "export/settings_file.h"
#include "io/tensor_file.h"
#include "text_table.h"

#include <cmath>
#include <fnmatch.h>
#include <iostream>
#include <optional>
#include <set>

namespace qs::cli {

namespace {

struct ExportOptions {
    std::string file;
    std::string tensors;
    std::string out;
    std::string as = "quantscope";
    std::string role = "auto";
    CalibrationArguments calibration;
};

std::vector<std::string> splitPatterns(const std::string& text)
{
    std::vector<std::string> patterns;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        std::string pattern = text.substr(start, comma - start);
        pattern.erase(0, pattern.find_first_not_of(' '));
        pattern.erase(pattern.find_last_not_of(' ') + 1);
        if (!pattern.empty())
            patterns.push_back(pattern);
        start = comma + 1;
    }
    return patterns;
}

/// Tensors whose name matches one of the globs (fnmatch: '*' also crosses '.' and '/'), in file order.
std::vector<const TensorInfo*> selectTensors(const TensorFile& file, const std::string& patternText)
{
    const std::vector<std::string> patterns = splitPatterns(patternText);
    if (patterns.empty())
        throw Error("--tensors needs a name or glob pattern, e.g. '*.weight' or 'model.layers.0.*'");
    std::vector<const TensorInfo*> selected;
    for (const TensorInfo& info : file.tensors())
        for (const std::string& pattern : patterns)
            if (fnmatch(pattern.c_str(), info.name.c_str(), 0) == 0) {
                selected.push_back(&info);
                break;
            }
    if (selected.empty())
        throwFileError(file.path(), {},
            "no tensor matches '" + patternText
                + "' (list the names with 'quantscope-cli inspect FILE --list')");
    for (const TensorInfo* info : selected)
        if (!info->loadable())
            throwFileError(
                file.path(), info->name, "dtype " + info->dtypeName + " cannot be loaded to calibrate");
    return selected;
}

std::vector<SourceFile> sourcesOf(const TensorFile& file)
{
    std::vector<SourceFile> sources {describeSourceFile(file.path())};
    std::set<std::string> seen {file.path()};
    for (const TensorInfo& info : file.tensors())
        if (!info.file.empty() && seen.insert(info.file).second)
            sources.push_back(describeSourceFile(info.file));
    return sources;
}

int runExport(const ExportOptions& options)
{
    if (options.calibration.method.empty())
        throw Error("export needs --method (minmax, ema, percentile, entropy, mse, histogram-observer)");
    if (options.out.empty())
        throw Error("export needs --out PATH");
    const CalibrationOptions co = calibrationOptions(options.calibration);
    const Scheme scheme = calibrationScheme(options.calibration);
    const SettingsFormat format = settingsFormatByName(options.as);
    if (const std::string problem = settingsFormatProblem(format, scheme); !problem.empty())
        throw Error(settingsFormatName(format) + ": " + problem);
    std::optional<TensorRole> role;
    if (options.role != "auto")
        role = tensorRoleByName(options.role);

    const auto file = TensorFile::open(options.file);
    const std::vector<const TensorInfo*> selected = selectTensors(*file, options.tensors);

    SettingsDocument document;
    document.date = utcTimestamp();
    document.sources = sourcesOf(*file);
    TextTable table({{"TENSOR"}, {"SHAPE"}, {"SCHEME"}, {"METHOD"}, {"GROUPS", TextTable::Align::Right},
        {"SQNR dB", TextTable::Align::Right}});
    for (const TensorInfo* info : selected) {
        const Tensor tensor = file->load(info->name);
        const std::vector<Tensor> batches = options.calibration.batchesGiven()
            ? splitBatches(tensor, options.calibration.batches)
            : std::vector<Tensor> {tensor};
        const CalibrationResult result = calibrate(batches, scheme, co);
        TensorSetting setting = tensorSetting(*info, scheme, result);
        if (role)
            setting.role = *role;
        table.addRow({info->name, shapeToString(info->shape), schemeName(scheme),
            calibrationMethodName(co.method) + " (" + compatibilityName(co.compat) + ")",
            std::to_string(setting.ranges.size()),
            std::isfinite(result.report.sqnrDb) ? formatNumber(result.report.sqnrDb)
                                                : (result.report.sqnrDb > 0 ? "inf" : "-inf")});
        document.tensors.push_back(std::move(setting));
    }
    writeSettingsFile(options.out, document, format);
    std::cout << table.render();
    std::cout << "wrote " << document.tensors.size() << " tensor setting"
              << (document.tensors.size() == 1 ? "" : "s") << " (" << settingsFormatName(format) << ") to "
              << options.out << "\n";
    return 0;
}

} // namespace

Action addExportCommand(CLI::App& app)
{
    auto options = std::make_shared<ExportOptions>();
    CLI::App* command = app.add_subcommand("export",
        "Calibrate the tensors matching a pattern and save the settings (Quantscope JSON, AIMET, TensorRT)");
    command->footer("Formats (--as): quantscope (everything; schema quantscope.settings/1), aimet-0.6.1 and\n"
                    "aimet-1.0.0 (integer sym/affine, per tensor or per channel along axis 0; weights as\n"
                    "param_encodings, activations as activation_encodings), tensorrt (int8 sym per tensor).\n"
                    "An existing --out file is replaced atomically; a failed export leaves it untouched.");
    command->add_option("FILE", options->file, "safetensors, *.safetensors.index.json, npy, npz or HDF5 file")
        ->required();
    command
        ->add_option("--tensors", options->tensors,
            "Tensor names or glob patterns, comma-separated ('*.weight', 'model.layers.0.*')")
        ->required();
    command->add_option("--out,-o", options->out, "Settings file to write")->required();
    command->add_option("--as", options->as, "quantscope, aimet-0.6.1, aimet-1.0.0 or tensorrt")
        ->capture_default_str();
    command
        ->add_option("--role", options->role,
            "auto (weight when the name ends in .weight/.bias), weight or activation")
        ->capture_default_str();
    addCalibrationArguments(*command, options->calibration, false);
    return [options] { return runExport(*options); };
}

} // namespace qs::cli
