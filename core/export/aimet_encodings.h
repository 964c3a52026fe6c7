#pragma once

#include "export/settings_document.h"

#include <string>
#include <string_view>

namespace qs {

/// The two AIMET encodings layouts written (../shared/reference/peers.md §A2; AIMET
/// Docs/api_docs/quantization_encoding_specification.rst and aimet_torch v2 export):
///   0.6.1  {"version", "activation_encodings": {NAME: [entry...]}, "param_encodings": {NAME: [entry...]},
///           "excluded_layers": [], "quantizer_args": {...}}, entry = {"bitwidth", "dtype": "int",
///           "is_symmetric": "True"|"False" (strings), "max", "min", "offset", "scale"}
///   1.0.0  {"version", "activation_encodings": [entry...], "param_encodings": [entry...],
///           "excluded_layers": []}, entry = {"name", "dtype": "INT", "enc_type": "PER_TENSOR"|"PER_CHANNEL",
///           "bw", "is_sym" (bool), "scale": [...], "offset": [...]}
/// Weights (TensorRole::Weight) go to param_encodings, activations to activation_encodings; per channel
/// means one entry (0.6.1) or one scale/offset (1.0.0) per output channel, axis 0.
/// AIMET's grid: x ≈ scale · (q + offset) with q in [0, 2^b - 1]. From our per-group scale s and zero point
/// zp (x ≈ s · (q' - zp), q' on the signed or unsigned grid):
///   offset = -2^(b-1) - zp (signed formats) or -zp (unsigned); symmetric schemes have zp = 0, so signed
///   symmetric gives offset = -2^(b-1) (-128 for 8 bits) as AIMET writes it
///   min = offset · s, max = (offset + 2^b - 1) · s (in double), scale = s
/// Keys are written sorted, 4-space indent (AIMET's json.dump(sort_keys=True, indent=4)).
enum class AimetVersion { V0_6_1, V1_0_0 };

/// "0.6.1", "1.0.0".
std::string aimetVersionName(AimetVersion version);

/// Empty when AIMET can hold `scheme`, else why not: AIMET encodings hold integer formats (2 to 16 bits)
/// per tensor or per channel along axis 0, symmetric narrow ("sym": scale = amax / (2^(b-1) - 1), as
/// AIMET's symmetric encodings) or affine, with float32 scales; no block formats.
std::string aimetSchemeProblem(const Scheme& scheme);

/// The document as AIMET encodings. Throws qs::Error naming the tensor when aimetSchemeProblem is not empty
/// for one of them or its scales and zero points do not match its groups.
std::string aimetEncodingsJson(const SettingsDocument& document, AimetVersion version);

/// Reads AIMET encodings: version 1.0.0 in the list layout; 0.4.0 to 0.6.x in the dictionary layout
/// (a missing "dtype" means "int", offsets may be written as integral floats). Each tensor becomes a
/// TensorSetting with what the file holds: name, role (param/activation), scheme int<b> (uint<b> for a
/// symmetric entry with offset 0), symmetric narrow or affine (the signedness of an affine grid is not
/// recorded: it reads back as signed), per tensor or per channel (axis 0) by the number of entries, the
/// scales (as float32), zero points (affine), and ranges from rangeFromScale so that quantize() gives back
/// these scales; shape unknown, calibration and error report left at their defaults.
/// Entries it cannot represent (dtype float, bitwidths above 16, PER_BLOCK/LPBQ/VECTOR, an offset outside
/// the grid, a non-positive scale) go to SettingsDocument::rejected with the reason.
/// Throws qs::Error (naming `source`) for text that is not JSON, an unknown version, or a layout that is not
/// AIMET's (wrong member types).
SettingsDocument aimetEncodingsFromJson(std::string_view text, std::string_view source = "encodings");

} // namespace qs
