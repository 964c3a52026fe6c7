#pragma once

// The OCP MX shared exponent of a block, as quant/block_mx.cpp derives it; shared by the CPU kernels and the
// CUDA backend (header-only: the standalone GPU driver does not link the CPU kernels; the rule itself runs
// in the CUDA kernels too).

#include "base/host_device.h"
#include "quant/scale_rounding.h"
#include "quant/scheme.h"

#include <cmath>
#include <cstdint>

namespace qs::kernel_detail {

/// The MX shared exponent e of a finite block absmax (float32) for `rounding`, with elementMax and
/// mantissaBits of the element format (emax = floor(log2 elementMax)), clamped to [-127, 127]:
///   Floor  e = floor(log2 absmax) - emax (the exponent field of absmax);
///   Ceil   e = ceil(log2 absmax) - emax;
///   Even   absmax rounded to mantissaBits + 1 significant bits (RNE on the float bits), then its exponent
///          - emax; false (a NaN scale, as torchao) when that rounds up to 2^128;
///   RCeil  e = the exponent of absmax · float(1 / elementMax) rounded up to a power of two.
/// The block scale is 2^e; an all-zero block (absmax 0) gets the exponent of a float32 zero field (-127 -
/// emax, clamped). MxExponentRule holds what depends on the element format only, for one call per block.
struct MxExponentRule {
    MxExponentRule(E8M0Rounding rounding, double elementMax, int mantissaBits)
        : rounding(rounding)
        , emax(static_cast<int>(std::ilogb(elementMax)))
        , mantissaBits(mantissaBits)
        , descale(static_cast<float>(1.0 / elementMax))
        , factor(rounding == E8M0Rounding::RCeil ? descale : 1.0f)
        , addend(rounding == E8M0Rounding::Floor
                  ? 0u
                  : (rounding == E8M0Rounding::Even ? 1u << (22 - mantissaBits) : 0x7FFFFFu))
        , subnormalAddend(rounding == E8M0Rounding::RCeil ? 0x3FFFFFu : addend)
        , bias(rounding == E8M0Rounding::RCeil ? 127 : 127 + emax)
        , overflowIsNaN(rounding == E8M0Rounding::Even)
    {
    }

    /// The four rules in one branch-free form (the CUDA block step works it out once per block, where a
    /// switch cost an indirect branch): with d the bits of |absmax · factor| (exact but for RCeil),
    /// e = ((d + addend) >> 23) - bias. Adding 2^23 - 1 carries into the exponent field when the mantissa is
    /// not zero (Ceil, RCeil); adding 2^(22 - M) rounds to M + 1 significant bits (Even). A subnormal d under
    /// RCeil rounds up only when its mantissa exceeds 2^22, the carry of mantissa + 2^22 - 1.
    QS_HOST_DEVICE bool operator()(float absmax, int& exponent) const
    {
        const std::uint32_t d = detail::floatBits(roundedMul(absmax, factor)) & 0x7FFFFFFFu;
        const int field = static_cast<int>((d + (d < 0x00800000u ? subnormalAddend : addend)) >> 23);
        if (overflowIsNaN && field == 0xFF)
            return false;
        exponent = field - bias;
        exponent = exponent < -127 ? -127 : (exponent > 127 ? 127 : exponent);
        return true;
    }

    E8M0Rounding rounding;
    int emax;
    int mantissaBits;
    float descale; ///< float(1 / elementMax)
    float factor; ///< descale for RCeil, 1 otherwise
    std::uint32_t addend; ///< Floor 0, Ceil and RCeil 2^23 - 1, Even 2^(22 - mantissaBits)
    std::uint32_t subnormalAddend; ///< RCeil 2^22 - 1, otherwise addend
    int bias; ///< 127 + emax (RCeil: 127)
    bool overflowIsNaN; ///< Even: a field rounded up to 0xFF is 2^128, a NaN scale
};

inline bool mxSharedExponent(
    float absmax, E8M0Rounding rounding, double elementMax, int mantissaBits, int& exponent)
{
    return MxExponentRule(rounding, elementMax, mantissaBits)(absmax, exponent);
}

} // namespace qs::kernel_detail
