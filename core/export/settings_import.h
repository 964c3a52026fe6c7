#pragma once

#include "export/settings_document.h"

#include <string>
#include <vector>

namespace qs {

/// Why a setting in a document does not apply to the open tensors.
enum class MismatchKind {
    MissingTensor, ///< no open tensor has that name
    ShapeDiffers, ///< the document's shape is not the tensor's
    GroupsDiffer, ///< the scheme gives another number of groups on the tensor than the setting holds
    SchemeDoesNotFit, ///< the scheme cannot be applied to the tensor (axis out of range, block on rank 1,
                      ///< ...)
    UnsupportedSetting, ///< the file holds something this version cannot represent
                        ///< (SettingsDocument::rejected)
    DuplicateTensor, ///< the document names the tensor more than once (every copy is refused)
    NotLoadable, ///< the tensor's dtype cannot be loaded
};

/// "missing tensor", "shape differs", "groups differ", "scheme does not fit", "unsupported setting",
/// "duplicate tensor", "not loadable".
std::string mismatchKindName(MismatchKind kind);

struct SettingsMismatch {
    std::string tensor;
    MismatchKind kind = MismatchKind::MissingTensor;
    std::string reason; ///< a complete sentence naming both sides, e.g. "shape [96, 1, 3, 3] in the settings,
                        ///< [96, 1, 3] in the file"
    bool operator==(const SettingsMismatch&) const = default;
};

/// What applies, in document order, and what does not, in document order (rejected tensors first).
struct SettingsMatch {
    std::vector<TensorSetting> applied; ///< the shape filled in from the open tensor when the file had none
    std::vector<SettingsMismatch> mismatches;
    bool complete() const { return mismatches.empty(); }
    bool operator==(const SettingsMatch&) const = default;
};

/// Matches `document` against the tensors of the open file(s) by name, then checks the shape (when the
/// document records one) and that the scheme gives on the tensor's shape exactly as many groups as the
/// setting holds ranges (groupCount in quant/quantizer.h). Pure: nothing is loaded or changed, so a caller
/// applies `applied` all at once or not at all.
SettingsMatch matchSettings(const SettingsDocument& document, const std::vector<TensorInfo>& openTensors);

} // namespace qs
