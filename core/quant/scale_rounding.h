#pragma once

// Internal to the quant module: float32 bit-level rounding to minifloat grids (the element hot loop and E4M3
// scales) and the rounding of scales to their storage format.

#include "base/host_device.h"
#include "quant/scheme.h"

#include <bit>
#include <cstdint>

namespace qs::detail {

/// Rounds a non-negative finite float to the grid of a sign+ExMy minifloat whose whole range lies inside
/// float32's (1 <= E <= 8, M <= 22, min subnormal >= 2^-149, max finite <= FLT_MAX): the quantum is
/// 2^(max(floor(log2 a), 1-bias) - M), ties to even or away, unbounded above (the caller saturates).
/// Works on the float's bit pattern: within one binade the grid points are the bit patterns divisible by
/// 2^shift, so rounding is an integer add and mask, and a carry moves into the exponent by itself.
struct MinifloatRounder {
    int mantissaBits = 3;
    int bias = 7;
    bool tiesAway = false;
    std::uint32_t maxBits = 0; ///< float bits of the largest finite value
    /// The smallest magnitude bits u that roundBits takes past maxBits (make() finds it by bisection,
    /// roundBits being monotonic): |v| rounds beyond the largest value exactly when its bits are at least
    /// this. The kernels count a clip by this one comparison, off the rounding's dependency chain.
    std::uint32_t clipFromBits = 0x7F800000u;

    /// True when the spec's range lies inside float32's and this rounder applies.
    static bool supports(const MinifloatSpec& spec);
    static MinifloatRounder make(const MinifloatSpec& spec, bool tiesAway, double maxFinite);

    /// Whether adding and subtracting C = 1.5 · 2^(q + 23 - M), q the binade of |v| held between the smallest
    /// normal's and the largest finite value's, rounds |v| as roundBits does (the fused kernels' rounding by
    /// the FPU; C's ulp is the quantum 2^(q - M)): ties to even, M <= 20 (|v| + C stays in C's binade), C
    /// finite for every binade up to one above the largest value's, and the smallest normal 2^(1 - bias) a
    /// float32 normal.
    constexpr bool roundsByMagicAddition() const
    {
        const int maxField = static_cast<int>(maxBits >> 23);
        return !tiesAway && mantissaBits <= 20 && maxField + 1 + 23 - mantissaBits <= 254 && bias <= 127;
    }

    /// Rounded magnitude as float bits (may exceed maxBits).
    std::uint32_t roundBits(std::uint32_t u) const
    {
        const int exponentField = static_cast<int>(u >> 23) > 0 ? static_cast<int>(u >> 23) : 1;
        const int subnormalExtra = (128 - bias) - exponentField;
        const int shift = 23 - mantissaBits + (subnormalExtra > 0 ? subnormalExtra : 0);
        if (shift <= 23) {
            const std::uint32_t half = 1u << (shift - 1);
            const std::uint32_t add = tiesAway ? half : half - 1 + lowerPointIsOdd(u, shift);
            return (u + add) & ~((1u << shift) - 1u);
        }
        // The value lies below the smallest subnormal q = 2^(exponentField - 126): 0 or q.
        if (shift == 24 && (u >> 23) != 0) {
            const bool tie = (u & 0x7FFFFFu) == 0;
            if (!tie || tiesAway)
                return static_cast<std::uint32_t>(exponentField + 1) << 23;
        }
        return 0;
    }

    /// Whether the grid point just below u is an odd multiple of the quantum (ties go to the even multiple,
    /// as number_format's encoder defines RNE; for M >= 1 that is the even mantissa).
    static std::uint32_t lowerPointIsOdd(std::uint32_t u, int shift)
    {
        if (shift < 23)
            return (u >> shift) & 1u;
        // The whole float binade is one quantum q = its lower bound: the point below is 1·q, or 0 for floats
        // below 2^-126.
        return (u >> 23) != 0 ? 1u : 0u;
    }

    /// Code (without sign) of rounded magnitude bits r <= maxBits.
    std::uint32_t codeOf(std::uint32_t r) const
    {
        if (r == 0)
            return 0;
        const int exponentField = static_cast<int>(r >> 23);
        const int e = (exponentField > 0 ? exponentField : 1) - 127;
        if (exponentField > 0 && e >= 1 - bias)
            return (static_cast<std::uint32_t>(e + bias) << mantissaBits)
                | ((r >> (23 - mantissaBits)) & ((1u << mantissaBits) - 1u));
        const std::uint32_t significand = (r & 0x7FFFFFu) | (exponentField > 0 ? 0x800000u : 0u);
        return significand >> (23 - mantissaBits + (1 - bias - e));
    }
};

/// Smallest and largest scale values used for a storage format (see ScaleFormat).
float minimumScale(ScaleFormat format);
float maximumScale(ScaleFormat format);

/// Rounds a positive scale (RNE) to F32/F16/BF16/E4M3 storage and keeps it within [minimumScale,
/// maximumScale].
float roundScale(float scale, ScaleFormat format);

/// The E8M0 scale 2^e for a group that must cover `span` with a grid reaching `elemMax` (see E8M0Rounding);
/// span > 0 and finite; e is clamped to [-127, 127].
float e8m0Scale(float span, double elemMax, int elemMantissaBits, E8M0Rounding rounding);

QS_HOST_DEVICE inline std::uint32_t floatBits(float f)
{
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    return std::bit_cast<std::uint32_t>(f);
#endif
}
QS_HOST_DEVICE inline float bitsFloat(std::uint32_t u)
{
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    return std::bit_cast<float>(u);
#endif
}

} // namespace qs::detail
