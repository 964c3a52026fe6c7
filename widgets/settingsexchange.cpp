#include "settingsexchange.h"

#include "export/file_digest.h"
#include "schemesettings.h"

#include <algorithm>

namespace qs::gui {

qs::SettingsDocument settingsDocument(const std::vector<ChosenSetting>& chosen, const TaskControl& control)
{
    qs::SettingsDocument document;
    document.date = qs::utcTimestamp();
    std::vector<std::string> paths;
    for (const ChosenSetting& c : chosen) {
        qs::TensorInfo info;
        info.name = c.tensorName;
        info.shape = c.shape;
        info.dtypeName = c.dtypeName;
        qs::TensorSetting setting;
        if (c.calibration) {
            setting = qs::tensorSetting(info, c.settings.scheme, *c.calibration);
        } else {
            setting.name = c.tensorName;
            setting.shape = c.shape;
            setting.sourceDtype = c.dtypeName;
            setting.role = qs::tensorRoleForName(c.tensorName);
            setting.scheme = c.settings.scheme;
            setting.calibration = c.settings.options;
        }
        setting.batches = c.settings.batches;
        setting.report = c.report;
        document.tensors.push_back(std::move(setting));
        if (std::find(paths.begin(), paths.end(), c.filePath) == paths.end())
            paths.push_back(c.filePath);
    }
    for (const std::string& path : paths) {
        control.throwIfCancelled();
        document.sources.push_back(qs::describeSourceFile(path));
    }
    return document;
}

std::vector<ChosenSetting> chosenFromImport(
    const qs::SettingsMatch& match, const std::vector<ImportTarget>& targets)
{
    std::vector<ChosenSetting> out;
    for (const qs::TensorSetting& s : match.applied) {
        const auto target = std::find_if(
            targets.begin(), targets.end(), [&](const ImportTarget& t) { return t.info.name == s.name; });
        if (target == targets.end())
            continue;
        ChosenSetting c;
        c.filePath = target->filePath;
        c.tensorName = s.name;
        c.shape = target->info.shape;
        c.dtypeName = target->info.dtypeName;
        c.settings.scheme = s.scheme;
        c.settings.options = s.calibration;
        c.settings.batches = std::max(1, s.batches);
        if (!schemeHasOwnScales(s.scheme)) {
            qs::CalibrationResult result;
            result.options = s.calibration;
            result.ranges = s.ranges;
            result.scales = s.scales;
            result.zeroPoints = s.zeroPoints;
            result.histogramBins = s.histogramBins;
            result.histogramBinWidth = s.histogramBinWidth;
            result.batches = s.batches;
            result.nonFiniteCount = s.nonFiniteCount;
            result.report = s.report;
            c.calibration = std::move(result);
        }
        c.report = s.report;
        out.push_back(std::move(c));
    }
    return out;
}

} // namespace qs::gui
