#pragma once

#include "export/settings_document.h"

#include <string>
#include <string_view>

namespace qs {

/// The first line of a TensorRT INT8 calibration cache: "TRT-<version>-<algorithm>".
struct TensorRtCacheHeader {
    int version = 8601; ///< TensorRT's integer version (8.6.1 -> 8601); caches are version-specific
    std::string algorithm = "EntropyCalibration2";
    bool operator==(const TensorRtCacheHeader&) const = default;
};

/// Empty when a TensorRT cache can hold `scheme`, else why not. The cache holds one float32 scale per tensor
/// for symmetric int8 with q in [-127, 127]: format int8, range mode "sym", per tensor, scale format f32.
std::string tensorRtSchemeProblem(const Scheme& scheme);

/// The document as a TensorRT calibration cache (../shared/reference/peers.md §A5):
///   TRT-<version>-<algorithm>
///   <tensor name>: <hex>
/// one line per tensor in document order, each ending in "\n"; <hex> is the IEEE-754 bit pattern of the
/// float32 scale amax / 127 (the setting's scale) as 8 lowercase hex digits. Throws qs::Error naming the
/// tensor when tensorRtSchemeProblem is not empty for it or it does not hold exactly one scale.
std::string tensorRtCacheText(const SettingsDocument& document, const TensorRtCacheHeader& header = {});

/// Reads a TensorRT calibration cache leniently: blank lines and CRLF line ends are skipped, any algorithm
/// name is accepted in the header, hex digits in either case and 1 to 8 of them (writers that drop leading
/// zeros), the name is everything before the last ':' (names may contain ':'), surrounding blanks ignored.
/// Each tensor becomes a TensorSetting int8 "sym" per tensor (role Activation, shape unknown) with the
/// scale and the range from rangeFromScale (about ±127·scale). A scale that is zero, negative or not finite
/// goes to SettingsDocument::rejected. The document's tool is "TensorRT <algorithm>", its toolVersion the
/// version number.
/// Throws qs::Error "SOURCE: line N: ..." for a missing or malformed header, a line without ':' or an empty
/// name, a value that is not 1 to 8 hex digits, or a name given twice.
SettingsDocument tensorRtCacheFromText(std::string_view text, std::string_view source = "calibration cache");

} // namespace qs
