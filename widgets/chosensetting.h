#pragma once

#include "calib/calibration.h"
#include "metrics/error_report.h"
#include "schemesettings.h"
#include "tensor/tensor.h"

#include <optional>
#include <string>

namespace qs::gui {

/// The quantization the user chose for one tensor ("Use this" / "Use for this tensor"), kept per tensor in
/// the session for export. Identified by (filePath, tensorName).
struct ChosenSetting {
    std::string filePath; ///< absolute path of the file the tensor came from
    std::string tensorName;
    qs::Shape shape;
    std::string dtypeName; ///< the file's element type ("BF16", "F32" ...)
    SchemeSettings settings;
    /// Absent for schemes that take their scales from their own rules (block formats, ternary/binary).
    std::optional<qs::CalibrationResult> calibration;
    qs::ErrorReport report; ///< error of the tensor quantized with these settings

    bool operator==(const ChosenSetting&) const = default;
};

} // namespace qs::gui
