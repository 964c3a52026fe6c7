#pragma once

#include "calib/calibration.h"
#include "metrics/error_report.h"
#include "quant/quantizer.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

/// A file the settings were computed from.
struct SourceFile {
    std::string path; ///< as given to the tool (relative or absolute)
    std::uint64_t size = 0; ///< bytes
    std::string sha256; ///< 64 lowercase hex digits
    bool operator==(const SourceFile&) const = default;
};

/// Whether a tensor is a parameter (AIMET param_encodings) or an activation (activation_encodings).
enum class TensorRole { Weight, Activation };

/// "weight", "activation"; the parser is case-insensitive and throws qs::Error for other names.
std::string tensorRoleName(TensorRole role);
TensorRole tensorRoleByName(const std::string& name);

/// Weight when the last component of the name (after the last '.' or '/') is "weight" or "bias"
/// (case-insensitive), as in PyTorch state dicts ("model.layers.0.mlp.down_proj.weight"); else Activation.
TensorRole tensorRoleForName(std::string_view name);

/// The chosen setting of one tensor: what it is, the scheme, how it was calibrated and what came out.
/// Units: ranges, scales and errors are in the tensor's own units; one entry per group of
/// groupLayout(scheme, shape), in that group order.
struct TensorSetting {
    std::string name;
    /// Row-major shape; nullopt when the file it was read from does not record it (AIMET, TensorRT).
    std::optional<Shape> shape;
    std::string sourceDtype; ///< the source file's dtype spelling ("BF16", "<f4"); empty when unknown
    TensorRole role = TensorRole::Weight;
    Scheme scheme;
    /// Method, compatibility mode and parameters as resolved by calibrate(); defaults when the file does not
    /// record them (AIMET, TensorRT).
    CalibrationOptions calibration;
    std::int64_t histogramBins = 0; ///< final bin count of the histogram used (0: none)
    double histogramBinWidth = 0; ///< tensor units (0: none or differing per group)
    int batches = 1; ///< batches consumed
    std::int64_t nonFiniteCount = 0; ///< NaN/Inf excluded from the ranges
    std::vector<GroupRange> ranges; ///< clipping range per group
    std::vector<float> scales; ///< per group, as quantize() uses them
    std::vector<std::int32_t> zeroPoints; ///< per group for affine schemes, else empty
    ErrorReport report; ///< error of the setting on the calibration data (all zero when unknown)
    bool operator==(const TensorSetting&) const = default;
};

/// A tensor a settings file names but whose setting this version cannot represent (an unknown format name,
/// a float AIMET encoding, ...): kept so that import can report it instead of failing the whole file.
struct RejectedTensor {
    std::string name;
    std::string reason;
    bool operator==(const RejectedTensor&) const = default;
};

/// Everything one export holds.
struct SettingsDocument {
    std::string tool = "quantscope"; ///< the producing tool ("quantscope", "AIMET", "TensorRT")
    std::string toolVersion
        = QS_VERSION; ///< its version ("0.1.0"; TensorRT: "8601"; AIMET: the encodings version)
    std::string date; ///< UTC, ISO 8601 "2026-11-22T08:30:00Z"; empty when the file does not record it
    std::vector<SourceFile> sources;
    std::vector<TensorSetting> tensors;
    std::vector<RejectedTensor> rejected;
    bool operator==(const SettingsDocument&) const = default;
};

/// The setting that calibrate() produced for `info` (name, shape, dtype; role from tensorRoleForName).
TensorSetting tensorSetting(const TensorInfo& info, const Scheme& scheme, const CalibrationResult& result);

/// The current time, UTC, as "YYYY-MM-DDTHH:MM:SSZ".
std::string utcTimestamp();

} // namespace qs
