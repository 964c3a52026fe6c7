#pragma once

#include "export/settings_document.h"

#include <string>
#include <string_view>

namespace qs {

/// The file formats settings can be written in and read from.
enum class SettingsFormat {
    Quantscope, ///< quantscope.settings/1 JSON (settings_json.h): everything
    Aimet061, ///< AIMET encodings 0.6.1 (aimet_encodings.h): integer schemes, scales and offsets
    Aimet100, ///< AIMET encodings 1.0.0
    TensorRt, ///< TensorRT calibration cache (tensorrt_cache.h): int8 symmetric per-tensor scales
};

/// "quantscope", "aimet-0.6.1", "aimet-1.0.0", "tensorrt"; the parser is case-insensitive and throws
/// qs::Error listing the names.
std::string settingsFormatName(SettingsFormat format);
SettingsFormat settingsFormatByName(const std::string& name);

/// Empty when `format` can hold `scheme`, else the reason (Quantscope: always empty).
std::string settingsFormatProblem(SettingsFormat format, const Scheme& scheme);

/// The document in `format`. Throws qs::Error when a tensor cannot be expressed in it.
std::string serializeSettings(const SettingsDocument& document, SettingsFormat format);

/// Serialises first, then writes atomically (io/writers.h writeFileAtomically): a failure at any point
/// leaves an existing file at `path` untouched. Throws qs::Error.
void writeSettingsFile(const std::string& path, const SettingsDocument& document, SettingsFormat format);

/// A document with the format it was read from.
struct LoadedSettings {
    SettingsFormat format = SettingsFormat::Quantscope;
    SettingsDocument document;
    bool operator==(const LoadedSettings&) const = default;
};

/// Recognises the format by content: a JSON object with "schema" is Quantscope settings, one with "version"
/// is AIMET encodings (1.x: 1.0.0 layout, else 0.6.1), text whose first non-blank line starts with "TRT-" is
/// a TensorRT cache. Throws qs::Error (naming `source`) for anything else, and as the readers do.
LoadedSettings parseSettings(std::string_view text, std::string_view source = "settings");

/// Reads and parses the file at `path`. Throws qs::Error naming the file.
LoadedSettings readSettingsFile(const std::string& path);

} // namespace qs
