#include "tensor/dtype.h"

#include "base/error.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace qs {

namespace {

struct DTypeEntry {
    DType type;
    std::string_view name;
    std::size_t size;
};

constexpr std::array<DTypeEntry, 15> kDTypes {{
    {DType::F64, "F64", 8},
    {DType::F32, "F32", 4},
    {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},
    {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::F8_E5M2, "F8_E5M2", 1},
    {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},
    {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},
    {DType::I32, "I32", 4},
    {DType::U32, "U32", 4},
    {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},
    {DType::BOOL, "BOOL", 1},
}};

template<typename T> T loadValue(const std::byte* p, ByteOrder order)
{
    T value;
    if (order == ByteOrder::Little || sizeof(T) == 1) {
        std::memcpy(&value, p, sizeof(T));
        return value;
    }
    std::array<std::byte, sizeof(T)> reversed;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        reversed[i] = p[sizeof(T) - 1 - i];
    std::memcpy(&value, reversed.data(), sizeof(T));
    return value;
}

template<typename T, typename Convert>
void convertLoop(const std::byte* src, std::size_t count, float* dst, ByteOrder order, Convert convert)
{
    for (std::size_t i = 0; i < count; ++i)
        dst[i] = convert(loadValue<T>(src + i * sizeof(T), order));
}

template<typename T> void convertNumeric(const std::byte* src, std::size_t count, float* dst, ByteOrder order)
{
    convertLoop<T>(src, count, dst, order, [](T v) { return static_cast<float>(v); });
}

} // namespace

std::string_view dtypeName(DType type)
{
    for (const auto& entry : kDTypes)
        if (entry.type == type)
            return entry.name;
    return "unsupported";
}

DType dtypeFromName(std::string_view name)
{
    for (const auto& entry : kDTypes)
        if (entry.name == name)
            return entry.type;
    return DType::Unsupported;
}

std::size_t dtypeSize(DType type)
{
    for (const auto& entry : kDTypes)
        if (entry.type == type)
            return entry.size;
    return 0;
}

bool dtypeConvertsExactly(DType type)
{
    switch (type) {
    case DType::F64:
    case DType::I32:
    case DType::U32:
    case DType::I64:
    case DType::U64:
    case DType::Unsupported:
        return false;
    default:
        return true;
    }
}

float f16ToF32(std::uint16_t bits)
{
    const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
    const std::uint32_t exponent = (bits >> 10) & 0x1Fu;
    std::uint32_t mantissa = bits & 0x3FFu;
    std::uint32_t result;
    if (exponent == 0x1F) {
        result = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent != 0) {
        result = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        result = sign;
    } else {
        // Subnormal half: normalise the mantissa into a float32 normal.
        int shift = 0;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            ++shift;
        }
        mantissa &= 0x3FFu;
        result = sign | (static_cast<std::uint32_t>(113 - shift) << 23) | (mantissa << 13);
    }
    return std::bit_cast<float>(result);
}

float bf16ToF32(std::uint16_t bits)
{
    return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

float e4m3ToF32(std::uint8_t bits)
{
    const bool negative = (bits & 0x80u) != 0;
    const int exponent = (bits >> 3) & 0xF;
    const int mantissa = bits & 0x7;
    float magnitude;
    if (exponent == 0xF && mantissa == 0x7)
        magnitude = std::numeric_limits<float>::quiet_NaN();
    else if (exponent == 0)
        magnitude = std::ldexp(static_cast<float>(mantissa), -9);
    else
        magnitude = std::ldexp(static_cast<float>(8 + mantissa), exponent - 10);
    return negative ? -magnitude : magnitude;
}

float e5m2ToF32(std::uint8_t bits)
{
    return f16ToF32(static_cast<std::uint16_t>(bits << 8));
}

std::uint16_t f32ToF16(float value)
{
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
    const std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
    const std::uint32_t absBits = bits & 0x7FFFFFFFu;
    if (absBits > 0x7F800000u)
        return static_cast<std::uint16_t>(sign | 0x7E00u | ((absBits >> 13) & 0x3FFu));
    if (absBits >= 0x47800000u) // >= 65536: beyond the rounding boundary of the max finite 65504
        return static_cast<std::uint16_t>(sign | 0x7C00u);
    if (absBits < 0x38800000u) {
        // Result is subnormal or zero: add 2^-14·0.5 magic so the FPU performs the RNE shift.
        const float magic = std::bit_cast<float>(0x3F000000u); // 0.5 = 2^-1, shifts units to 2^-24
        const float shifted = std::bit_cast<float>(absBits) + magic;
        return static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(shifted) - 0x3F000000u));
    }
    const std::uint32_t mantissaOdd = (absBits >> 13) & 1u;
    std::uint32_t rounded = absBits + 0xFFFu + mantissaOdd;
    rounded -= (127u - 15u) << 23;
    return static_cast<std::uint16_t>(sign | (rounded >> 13));
}

std::uint16_t f32ToBf16(float value)
{
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
        return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
    const std::uint32_t lsb = (bits >> 16) & 1u;
    return static_cast<std::uint16_t>((bits + 0x7FFFu + lsb) >> 16);
}

void convertToF32(DType type, const std::byte* src, std::size_t count, float* dst, ByteOrder order)
{
    switch (type) {
    case DType::F64:
        return convertNumeric<double>(src, count, dst, order);
    case DType::F32:
        if (order == ByteOrder::Little) {
            std::memcpy(dst, src, count * sizeof(float));
            return;
        }
        return convertNumeric<float>(src, count, dst, order);
    case DType::F16:
        return convertLoop<std::uint16_t>(src, count, dst, order, f16ToF32);
    case DType::BF16:
        return convertLoop<std::uint16_t>(src, count, dst, order, bf16ToF32);
    case DType::F8_E4M3:
        return convertLoop<std::uint8_t>(src, count, dst, order, e4m3ToF32);
    case DType::F8_E5M2:
        return convertLoop<std::uint8_t>(src, count, dst, order, e5m2ToF32);
    case DType::I8:
        return convertNumeric<std::int8_t>(src, count, dst, order);
    case DType::U8:
        return convertNumeric<std::uint8_t>(src, count, dst, order);
    case DType::I16:
        return convertNumeric<std::int16_t>(src, count, dst, order);
    case DType::U16:
        return convertNumeric<std::uint16_t>(src, count, dst, order);
    case DType::I32:
        return convertNumeric<std::int32_t>(src, count, dst, order);
    case DType::U32:
        return convertNumeric<std::uint32_t>(src, count, dst, order);
    case DType::I64:
        return convertNumeric<std::int64_t>(src, count, dst, order);
    case DType::U64:
        return convertNumeric<std::uint64_t>(src, count, dst, order);
    case DType::BOOL:
        return convertLoop<std::uint8_t>(
            src, count, dst, order, [](std::uint8_t v) { return v ? 1.0f : 0.0f; });
    case DType::Unsupported:
        break;
    }
    throw Error("cannot convert an unsupported dtype to float32");
}

} // namespace qs
