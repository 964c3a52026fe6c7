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
    {
    }

    QS_HOST_DEVICE bool operator()(float absmax, int& exponent) const
    {
        const std::uint32_t bits = detail::floatBits(absmax);
        const int field = static_cast<int>((bits >> 23) & 0xFF);
        switch (rounding) {
        case E8M0Rounding::Floor:
            exponent = field - 127 - emax;
            break;
        case E8M0Rounding::Ceil:
            exponent = field - 127 + ((bits & 0x7FFFFFu) != 0 ? 1 : 0) - emax;
            break;
        case E8M0Rounding::Even: {
            const std::uint32_t rounded = (bits + (1u << (22 - mantissaBits))) & 0xFF800000u;
            if ((rounded >> 23) == 0xFF)
                return false;
            exponent = static_cast<int>(rounded >> 23) - 127 - emax;
            break;
        }
        case E8M0Rounding::RCeil: {
            const std::uint32_t d = detail::floatBits(roundedMul(absmax, descale));
            const std::uint32_t mantissa = d & 0x7FFFFFu;
            const bool roundUp = ((d >> 23) & 0xFF) == 0 ? mantissa > 0x400000u : mantissa != 0;
            exponent = static_cast<int>((d >> 23) & 0xFF) + (roundUp ? 1 : 0) - 127;
            break;
        }
        }
        exponent = exponent < -127 ? -127 : (exponent > 127 ? 127 : exponent);
        return true;
    }

    E8M0Rounding rounding;
    int emax;
    int mantissaBits;
    float descale; ///< float(1 / elementMax)
};

inline bool mxSharedExponent(
    float absmax, E8M0Rounding rounding, double elementMax, int mantissaBits, int& exponent)
{
    return MxExponentRule(rounding, elementMax, mantissaBits)(absmax, exponent);
}

} // namespace qs::kernel_detail
