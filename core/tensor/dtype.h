#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace qs {

/// Element types a tensor can have in a source file. Names follow the safetensors spelling
/// (huggingface/safetensors `Dtype`), which every reader maps its own type names onto.
/// `Unsupported` tensors are still listed (with the file's own type name kept in TensorInfo::dtypeName),
/// but loading them throws qs::Error.
enum class DType {
    F64,
    F32,
    F16,
    BF16,
    F8_E4M3, ///< OCP FP8 E4M3 "fn": bias 7, no Inf, NaN = S.1111.111, max 448
    F8_E5M2, ///< OCP FP8 E5M2: IEEE-like, bias 15, Inf and NaN, max 57344
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    BOOL,
    Unsupported,
};

enum class ByteOrder { Little, Big };

/// Safetensors spelling of a dtype ("F32", "BF16", ...); "unsupported" for DType::Unsupported.
std::string_view dtypeName(DType type);

/// Parses a safetensors dtype name. Names that are valid safetensors types we cannot convert
/// (F4, F6_E2M3, F6_E3M2, F8_E8M0, C64) and unknown names give DType::Unsupported.
DType dtypeFromName(std::string_view name);

/// Size of one element in bytes (0 for Unsupported).
std::size_t dtypeSize(DType type);

/// True when values of this type convert to float32 without rounding for every code
/// (F64, I32, U32, I64, U64 round to the nearest float32, ties to even).
bool dtypeConvertsExactly(DType type);

/// IEEE binary16 -> binary32, exact for every code (subnormals, ±Inf, NaN payload kept in the top bits).
float f16ToF32(std::uint16_t bits);

/// bfloat16 -> binary32: the 16 bits become the top half of the float32 (exact for every code).
float bf16ToF32(std::uint16_t bits);

/// OCP FP8 E4M3 (fn) -> binary32, exact: value = (-1)^s 2^(e-7) 1.m, subnormal 2^-6 0.m,
/// codes 0x7F and 0xFF are NaN (ml_dtypes float8_e4m3fn, PyTorch Float8_e4m3fn).
float e4m3ToF32(std::uint8_t bits);

/// OCP FP8 E5M2 -> binary32, exact: the byte is the top half of an IEEE binary16.
float e5m2ToF32(std::uint8_t bits);

/// binary32 -> IEEE binary16, round to nearest even; overflow gives ±Inf, NaN stays NaN (quiet).
std::uint16_t f32ToF16(float value);

/// binary32 -> bfloat16, round to nearest even (as Eigen::bfloat16 and PyTorch); NaN stays NaN (quiet).
std::uint16_t f32ToBf16(float value);

/// Converts `count` elements of `type` stored in `src` (any alignment, in `order`) into `dst`.
/// Throws qs::Error for DType::Unsupported. BOOL: any non-zero byte is 1.
void convertToF32(
    DType type, const std::byte* src, std::size_t count, float* dst, ByteOrder order = ByteOrder::Little);

} // namespace qs
