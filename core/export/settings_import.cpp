#include "export/settings_import.h"

#include "base/error.h"

#include <map>

namespace qs {

std::string mismatchKindName(MismatchKind kind)
{
    switch (kind) {
    case MismatchKind::MissingTensor:
        return "missing tensor";
    case MismatchKind::ShapeDiffers:
        return "shape differs";
    case MismatchKind::GroupsDiffer:
        return "groups differ";
    case MismatchKind::SchemeDoesNotFit:
        return "scheme does not fit";
    case MismatchKind::UnsupportedSetting:
        return "unsupported setting";
    case MismatchKind::DuplicateTensor:
        return "duplicate tensor";
    case MismatchKind::NotLoadable:
        return "not loadable";
    }
    return "missing tensor";
}

SettingsMatch matchSettings(const SettingsDocument& document, const std::vector<TensorInfo>& openTensors)
{
    SettingsMatch match;
    for (const RejectedTensor& rejected : document.rejected)
        match.mismatches.push_back({rejected.name, MismatchKind::UnsupportedSetting, rejected.reason});

    std::map<std::string, int> copies;
    for (const TensorSetting& s : document.tensors)
        ++copies[s.name];
    std::map<std::string, const TensorInfo*> byName;
    for (const TensorInfo& info : openTensors)
        byName.emplace(info.name, &info);

    for (const TensorSetting& s : document.tensors) {
        if (copies[s.name] > 1) {
            match.mismatches.push_back({s.name, MismatchKind::DuplicateTensor,
                "the settings name this tensor " + std::to_string(copies[s.name]) + " times"});
            continue;
        }
        const auto found = byName.find(s.name);
        if (found == byName.end()) {
            match.mismatches.push_back({s.name, MismatchKind::MissingTensor, "no open tensor has this name"});
            continue;
        }
        const TensorInfo& info = *found->second;
        if (!info.loadable()) {
            match.mismatches.push_back({s.name, MismatchKind::NotLoadable,
                "dtype " + info.dtypeName + " cannot be loaded, so the setting cannot be used"});
            continue;
        }
        if (s.shape && *s.shape != info.shape) {
            match.mismatches.push_back({s.name, MismatchKind::ShapeDiffers,
                "shape " + shapeToString(*s.shape) + " in the settings, " + shapeToString(info.shape)
                    + " in the file"});
            continue;
        }
        std::int64_t groups = 0;
        try {
            groups = groupCount(s.scheme, info.shape);
        } catch (const Error& e) {
            match.mismatches.push_back({s.name, MismatchKind::SchemeDoesNotFit,
                "scheme " + schemeName(s.scheme) + " does not fit shape " + shapeToString(info.shape) + ": "
                    + e.what()});
            continue;
        }
        if (groups != std::int64_t(s.ranges.size())) {
            match.mismatches.push_back({s.name, MismatchKind::GroupsDiffer,
                "the settings hold " + std::to_string(s.ranges.size()) + " groups, scheme "
                    + schemeName(s.scheme) + " gives " + std::to_string(groups) + " on shape "
                    + shapeToString(info.shape)});
            continue;
        }
        TensorSetting applied = s;
        applied.shape = info.shape;
        if (applied.sourceDtype.empty())
            applied.sourceDtype = info.dtypeName;
        match.applied.push_back(std::move(applied));
    }
    return match;
}

} // namespace qs
