#pragma once

#include "tensor/tensor.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

/// How a NumPy type string ("descr") such as "<f4", ">i2" or "|b1" maps onto our dtypes.
struct NpyDescr {
    DType dtype = DType::Unsupported;
    ByteOrder byteOrder = ByteOrder::Little; ///< "|" (byte order not applicable) reads as Little
    std::uint64_t itemSize = 0; ///< bytes per element; 0 when the descr does not say (e.g. "|O")
};

/// Maps a descr. Complex, string, object, datetime, void and structured (list) descrs give
/// DType::Unsupported; their item size is still filled in where NumPy defines one ("<U5" is 20 bytes).
NpyDescr parseNpyDescr(std::string_view descr);

/// The descr NumPy writes for `type` stored little-endian ("<f4", "|u1", "|b1"), or an empty string when
/// NumPy has no such type (BF16, FP8, Unsupported).
std::string npyDescr(DType type);

/// A sentence explaining why arrays of `descr` cannot be loaded, e.g. "dtype '<c8' (complex numbers) is not
/// supported; only real floating-point, integer and boolean arrays can be loaded".
std::string npyUnsupportedReason(std::string_view descr);

/// What a .npy header says about the array that follows it.
struct NpyHeader {
    int majorVersion = 1;
    int minorVersion = 0;
    std::string descr; ///< NumPy's spelling, verbatim; a structured descr is kept as its literal text
    NpyDescr type;
    bool fortranOrder = false; ///< data is stored column-major; `shape` is still the logical shape
    Shape shape;
    std::uint64_t dataOffset = 0; ///< bytes from the start of the .npy stream to the first data byte
    std::uint64_t dataSize = 0; ///< element count * item size in bytes; 0 when the item size is unknown
};

/// Bytes that hold everything needed to learn the header length: magic, version and the length field
/// (10 bytes for version 1.x, 12 for 2.x and 3.x).
inline constexpr std::size_t kNpyPreambleSize = 12;

/// Total length of preamble plus header dict (= the data offset), read from the first bytes of a .npy stream
/// (pass at least kNpyPreambleSize bytes when the stream has them). Throws qs::Error naming `path` and
/// `tensor` for a wrong magic, an unsupported version (only 1.x, 2.x and 3.x exist) or too few bytes.
std::uint64_t npyHeaderEnd(
    std::span<const std::byte> start, std::string_view path, std::string_view tensor = {});

/// Parses the header at the start of `bytes`, which must hold the first npyHeaderEnd(bytes) bytes of the
/// stream (more is fine). The dict is a Python literal with the keys 'descr', 'fortran_order' and 'shape' in
/// any order; other keys are ignored. Throws qs::Error naming `path` and `tensor` on any malformation,
/// including a shape whose byte size overflows 64 bits.
NpyHeader parseNpyHeader(
    std::span<const std::byte> bytes, std::string_view path, std::string_view tensor = {});

/// Preamble and header of a version 1.0 .npy stream (2.0 when the dict exceeds 65535 bytes), formatted as
/// NumPy does: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", padded with spaces and a final
/// '\n' so that the data starts at a multiple of 64 bytes.
std::vector<std::byte> formatNpyHeader(std::string_view descr, const Shape& shape, bool fortranOrder = false);

/// Reorders column-major (Fortran) values of `shape` into row-major order. `src` and `dst` hold
/// shapeElementCount(shape) values each and must not overlap.
void fortranToRowMajor(const float* src, const Shape& shape, float* dst);

} // namespace qs
