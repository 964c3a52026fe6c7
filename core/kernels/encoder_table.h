#pragma once

#include "base/error.h"
#include "formats/number_format.h"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qs::kernel_detail {

/// A lookup-table view of a format's monotone element encoder, shared by the CPU and CUDA table kernels.
/// Keys order like the floats (int32 of the bits with the low 31 bits flipped for negatives: -0 just below
/// +0). Element x (already divided by its scale) gets values[k] for the k with thresholds[k-1] <= key(x) <
/// thresholds[k]; the regions are found by bisection on encodeValue over all finite floats, so thresholds,
/// ties and -0 codes are exactly the format's.
struct EncoderTable {
    std::vector<std::int32_t> thresholds; ///< first key of every region after the first
    std::vector<float> values; ///< decodeValue of each region's code, one more than thresholds
    std::int32_t lowestKey = 0; ///< key of min(0, smallest value)
    std::int32_t highestKey = 0; ///< key of max(0, largest value)
};

inline std::int32_t encoderKey(float value)
{
    const auto bits = std::bit_cast<std::int32_t>(value);
    return bits ^ ((bits >> 31) & 0x7FFFFFFF);
}

inline float encoderKeyValue(std::int32_t key)
{
    return std::bit_cast<float>(key ^ ((key >> 31) & 0x7FFFFFFF));
}

/// The first key above each threshold: s > t exactly when encoderKey(s) >= encoderKey(t) + 1, for every
/// finite threshold t but -0. The region of s among ascending thresholds is then the number of these keys
/// at or below its key (the packing's NF4 bins, CPU and CUDA).
inline std::vector<std::int32_t> keysAbove(std::span<const float> thresholds)
{
    std::vector<std::int32_t> keys;
    for (const float t : thresholds)
        keys.push_back(encoderKey(t) + 1);
    return keys;
}

/// The table of a monotone encoder over the finite floats: encode(float) gives a code, decode(code) its
/// value (as a double). Every code must cover one contiguous range of keys. Throws qs::Error, naming `name`
/// and `who`, for an encoder with more than 256 codes.
template<class Encode, class Decode>
EncoderTable encoderTableOf(Encode&& encode, Decode&& decode, const std::string& name, const std::string& who)
{
    using I = std::int64_t;
    const auto encodeKey
        = [&](I key) -> std::uint32_t { return encode(encoderKeyValue(static_cast<std::int32_t>(key))); };
    EncoderTable table;
    I low = encoderKey(-FLT_MAX);
    const I high = encoderKey(FLT_MAX);
    std::uint32_t code = encodeKey(low);
    std::vector<std::uint32_t> codes {code};
    while (encodeKey(high) != code) {
        I a = low;
        I b = high;
        while (b - a > 1) {
            const I middle = a + (b - a) / 2;
            (encodeKey(middle) == code ? a : b) = middle;
        }
        code = encodeKey(b);
        table.thresholds.push_back(static_cast<std::int32_t>(b));
        codes.push_back(code);
        low = b;
        if (codes.size() > 256)
            throw Error("number format '" + name + "' has too many codes for " + who);
    }
    double lowest = 0;
    double highest = 0;
    for (const std::uint32_t c : codes) {
        const double value = decode(c);
        table.values.push_back(static_cast<float>(value));
        lowest = std::min(lowest, value);
        highest = std::max(highest, value);
    }
    table.lowestKey = encoderKey(static_cast<float>(lowest));
    table.highestKey = encoderKey(static_cast<float>(highest));
    return table;
}

/// The table of a format's encodeValue/decodeValue. Throws qs::Error, naming `who`, for a format with more
/// than 256 codes.
inline EncoderTable encoderTable(const NumberFormat& format, const std::string& who)
{
    return encoderTableOf([&](float v) { return encodeValue(format, double(v)); },
        [&](std::uint32_t code) { return decodeValue(format, code); }, format.name, who);
}

} // namespace qs::kernel_detail
