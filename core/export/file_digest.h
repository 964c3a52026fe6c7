#pragma once

#include "export/settings_document.h"

#include <string>

namespace qs {

/// SHA-256 (FIPS 180-4) of the file's bytes, as 64 lowercase hex digits (what `sha256sum` prints).
/// Reads the file in 1 MiB pieces. Throws qs::Error naming the file when it cannot be read.
std::string sha256OfFile(const std::string& path);

/// The path as given, the size in bytes and the SHA-256 of `path`.
SourceFile describeSourceFile(const std::string& path);

} // namespace qs
