#pragma once

#include "calib/calibration.h"
#include "quant/scheme.h"

#include <QMetaType>
#include <string>

namespace qs::gui {

/// What the scheme dock produces: the quantization scheme, the calibration method with its parameters,
/// and how many batches the calibrator is fed.
struct SchemeSettings {
    qs::Scheme scheme;
    qs::CalibrationOptions options;
    /// The tensor is split into this many equal batches along axis 0 and fed to the calibrator in order
    /// (qs::splitBatches); 1 feeds it whole.
    int batches = 1;

    bool operator==(const SchemeSettings&) const = default;
};

/// Whether `scheme` takes its scales from its own rules rather than from a calibrated range: block formats
/// (MX, NVFP4, bitsandbytes, ggml) and BitNet ternary/binary. qs::calibrate rejects those.
bool schemeHasOwnScales(const qs::Scheme& scheme);

/// "int8 sym channel:0 · entropy (native)" — the scheme and the calibration method, for labels.
std::string settingsName(const SchemeSettings& settings);

} // namespace qs::gui

Q_DECLARE_METATYPE(qs::gui::SchemeSettings)
