#include "base/error.h"
#include "commands.h"

#include <cstdio>
#include <exception>
#include <vector>

int main(int argc, char** argv)
{
    CLI::App app {"quantscope-cli: inspect tensors, calibrate, compare number formats (same core as the GUI)",
        "quantscope-cli"};
    app.set_version_flag("--version", std::string("quantscope-cli ") + QS_VERSION);
    app.require_subcommand(1);

    std::vector<std::pair<CLI::App*, qs::cli::Action>> commands;
    auto add = [&](qs::cli::Action action) {
        commands.emplace_back(app.get_subcommands({}).back(), std::move(action));
    };
    add(qs::cli::addInspectCommand(app));
    add(qs::cli::addFormatsCommand(app));
    add(qs::cli::addCompareCommand(app));
    add(qs::cli::addCalibrateCommand(app));
    add(qs::cli::addBenchCommand(app));
    add(qs::cli::addExportCommand(app));
    add(qs::cli::addImportCommand(app));

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        for (auto& [command, action] : commands)
            if (command->parsed())
                return action();
    } catch (const qs::Error& e) {
        std::fprintf(stderr, "quantscope-cli: error: %s\n", e.what());
        return 1;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "quantscope-cli: error: out of memory\n");
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "quantscope-cli: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
