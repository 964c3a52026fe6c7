#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace qs::cli {

/// Each subcommand registers its options on `app` and returns the action to run when it was chosen.
/// Actions return the process exit code; they throw qs::Error for bad input.
using Action = std::function<int()>;

Action addInspectCommand(CLI::App& app);
Action addFormatsCommand(CLI::App& app);
Action addCompareCommand(CLI::App& app);
Action addCalibrateCommand(CLI::App& app);
Action addBenchCommand(CLI::App& app);
Action addExportCommand(CLI::App& app);
Action addImportCommand(CLI::App& app);

} // namespace qs::cli
