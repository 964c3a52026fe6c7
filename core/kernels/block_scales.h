#pragma once

// The per-block scales of the fused block formats (MX, NVFP4), as quant/block_mx.cpp and
// quant/block_nvfp4.cpp derive them from each block's absmax; shared by the CPU kernels and the CUDA backend
// (header-only: the standalone GPU driver does not link the CPU kernels).

#include "formats/number_format.h"
#include "kernels/kernels.h"
#include "kernels/mx_shared_exponent.h"
#include "quant/scale_rounding.h"
#include "quant/scheme.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <variant>
#include <vector>

namespace qs::kernel_detail {

/// The element format of a fused block format ("fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1",
/// MXINT8 "int8"), or nullptr for the others.
inline const char* blockElementFormat(BlockFormat format)
{
    switch (format) {
    case BlockFormat::MXFP8_E4M3:
        return "fp8_e4m3";
    case BlockFormat::MXFP8_E5M2:
        return "fp8_e5m2";
    case BlockFormat::MXFP6_E3M2:
        return "fp6_e3m2";
    case BlockFormat::MXFP6_E2M3:
        return "fp6_e2m3";
    case BlockFormat::MXFP4:
    case BlockFormat::NVFP4:
        return "fp4_e2m1";
    case BlockFormat::MXINT8:
        return "int8";
    default:
        return nullptr;
    }
}

/// One block's decode scale (x̂ = element · scale) and encode factor (v = x · inverse; MXINT8 divides by
/// `scale` instead, v · 64 = x / 2^(e-6), and leaves inverse 0). A block holding NaN/±Inf, or an MX block
/// whose E8M0 rounding gives a NaN scale, has scale NaN and inverse 0.
struct BlockScale {
    float scale = 1;
    float inverse = 1;
};

/// 2^e as a float32, e in [-149, 127]: std::ldexp(1.0f, e), built from the exponent field where it is
/// normal (std::ldexp is a library call, once per block).
inline float powerOfTwo(int e)
{
    return e >= -126 ? detail::bitsFloat(static_cast<std::uint32_t>(e + 127) << 23) : std::ldexp(1.0f, e);
}

/// The scales of `blocks` (one MinMaxResult per block, minMaxGroups' reduction) for a fused block format
/// (kernels.h, blockFakeQuantError):
///   MX: e = mxSharedExponent(absmax), scale 2^e, inverse 2^-e (MXINT8: scale 2^(e-6));
///   NVFP4: global = (1 / tensor absmax) · 2688 (1 when the tensor absmax is 0), s8 = E4M3 RNE saturating of
///     global · (absmax · float(1/6)), inverse = 1 / (s8 · (1 / global)) (0 when that product is 0),
///     scale = s8 / float(1 / (1 / double(global))).
inline std::vector<BlockScale> blockScales(const Scheme& scheme, const std::vector<MinMaxResult>& blocks)
{
    constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
    std::vector<BlockScale> scales(blocks.size());
    if (scheme.blockFormat == BlockFormat::NVFP4) {
        float tensorAbsmax = 0;
        for (const MinMaxResult& b : blocks)
            tensorAbsmax = std::max(tensorAbsmax, b.absmax);
        const float global = tensorAbsmax > 0.0f ? (1.0f / tensorAbsmax) * 2688.0f : 1.0f;
        const float globalInverse = 1.0f / global;
        const auto decodeGlobal = static_cast<float>(1.0 / (1.0 / static_cast<double>(global)));
        const auto sixth = static_cast<float>(1.0 / 6.0);
        const NumberFormat e4m3 = fp8E4M3Format();
        const detail::MinifloatRounder rounder = detail::MinifloatRounder::make(
            std::get<MinifloatSpec>(e4m3.spec), false, formatMaxFinite(e4m3));
        for (std::size_t g = 0; g < blocks.size(); ++g) {
            if (blocks[g].nonFinite > 0) {
                scales[g] = {kNaN, 0};
                continue;
            }
            const float sf = global * (blocks[g].absmax * sixth);
            const float s8
                = detail::bitsFloat(std::min(rounder.roundBits(detail::floatBits(sf)), rounder.maxBits));
            const float encode = s8 * globalInverse;
            scales[g] = {s8 / decodeGlobal, encode == 0.0f ? 0.0f : 1.0f / encode};
        }
        return scales;
    }
    const bool mxint8 = scheme.blockFormat == BlockFormat::MXINT8;
    // MXINT8: elements q / 64 with |q| <= 127: largest 127/64 (emax 0), 6 mantissa bits.
    double elementMax = 127.0 / 64.0;
    int mantissaBits = 6;
    if (!mxint8) {
        const NumberFormat element = formatByName(blockElementFormat(scheme.blockFormat));
        elementMax = formatMaxFinite(element);
        mantissaBits = std::get<MinifloatSpec>(element.spec).mantissaBits;
    }
    for (std::size_t g = 0; g < blocks.size(); ++g) {
        int exponent = 0;
        if (blocks[g].nonFinite > 0
            || !mxSharedExponent(blocks[g].absmax, scheme.e8m0Rounding, elementMax, mantissaBits, exponent))
            scales[g] = {kNaN, 0};
        else if (mxint8)
            scales[g] = {powerOfTwo(exponent - 6), 0};
        else
            scales[g] = {powerOfTwo(exponent), powerOfTwo(-exponent)};
    }
    return scales;
}

} // namespace qs::kernel_detail
