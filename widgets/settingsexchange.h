#pragma once

#include "chosensetting.h"
#include "export/settings_document.h"
#include "export/settings_import.h"
#include "taskcontrol.h"

#include <string>
#include <vector>

namespace qs::gui {

/// The export document of the chosen settings: one TensorSetting per chosen tensor (in the order given),
/// every distinct source file with its size and SHA-256 (hashed here: polls `control` between files), the
/// tool version and the current UTC date. Settings of schemes with their own scales (block formats,
/// ternary/binary) carry no ranges. Throws TaskCancelled or qs::Error (a source file that cannot be read).
qs::SettingsDocument settingsDocument(const std::vector<ChosenSetting>& chosen, const TaskControl& control);

/// One open tensor that an import can apply to: where it lives.
struct ImportTarget {
    std::string filePath;
    qs::TensorInfo info;
};

/// The chosen settings an import applies: one per `match.applied` setting, attached to the open tensor of
/// that name (`targets` as matchSettings saw them). Scheme, calibration options, ranges, scales, zero
/// points, histogram figures and the error report come from the file; `settings.batches` is the batch
/// count the file recorded.
std::vector<ChosenSetting> chosenFromImport(
    const qs::SettingsMatch& match, const std::vector<ImportTarget>& targets);

} // namespace qs::gui
