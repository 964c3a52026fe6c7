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

/// The scale of one block of a fused block format (kernels.h, blockFakeQuantError) from its absmax and
/// non-finite count (minMaxGroups' reduction):
///   MX: e = mxSharedExponent(absmax), scale 2^e, inverse 2^-e (MXINT8: scale 2^(e-6));
///   NVFP4: global = (1 / tensor absmax) · 2688 (1 when the tensor absmax is 0), s8 = E4M3 RNE saturating of
///     global · (absmax · float(1/6)), inverse = 1 / (s8 · (1 / global)) (0 when that product is 0),
///     scale = s8 / float(1 / (1 / double(global))).
/// Made once per tensor (NVFP4 needs the tensor absmax over the finite values), then used for any block.
class BlockScaler {
public:
    BlockScaler(const Scheme& scheme, float tensorAbsmax)
        : m_nvfp4(scheme.blockFormat == BlockFormat::NVFP4)
        , m_mxint8(scheme.blockFormat == BlockFormat::MXINT8)
        , m_e8m0(scheme.e8m0Rounding)
    {
        if (m_nvfp4) {
            m_global = tensorAbsmax > 0.0f ? (1.0f / tensorAbsmax) * 2688.0f : 1.0f;
            m_globalInverse = 1.0f / m_global;
            m_decodeGlobal = static_cast<float>(1.0 / (1.0 / static_cast<double>(m_global)));
            const NumberFormat e4m3 = fp8E4M3Format();
            m_rounder = detail::MinifloatRounder::make(
                std::get<MinifloatSpec>(e4m3.spec), false, formatMaxFinite(e4m3));
        } else if (!m_mxint8) {
            // MXINT8: elements q / 64 with |q| <= 127: largest 127/64 (emax 0), 6 mantissa bits.
            const NumberFormat element = formatByName(blockElementFormat(scheme.blockFormat));
            m_elementMax = formatMaxFinite(element);
            m_mantissaBits = std::get<MinifloatSpec>(element.spec).mantissaBits;
        }
    }

    BlockScale operator()(const MinMaxResult& block) const
    {
        constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
        if (block.nonFinite > 0)
            return {kNaN, 0};
        if (m_nvfp4) {
            const float sf = m_global * (block.absmax * static_cast<float>(1.0 / 6.0));
            const float s8
                = detail::bitsFloat(std::min(m_rounder.roundBits(detail::floatBits(sf)), m_rounder.maxBits));
            const float encode = s8 * m_globalInverse;
            return {s8 / m_decodeGlobal, encode == 0.0f ? 0.0f : 1.0f / encode};
        }
        int exponent = 0;
        if (!mxSharedExponent(block.absmax, m_e8m0, m_elementMax, m_mantissaBits, exponent))
            return {kNaN, 0};
        if (m_mxint8)
            return {powerOfTwo(exponent - 6), 0};
        return {powerOfTwo(exponent), powerOfTwo(-exponent)};
    }

private:
    bool m_nvfp4;
    bool m_mxint8;
    E8M0Rounding m_e8m0;
    double m_elementMax = 127.0 / 64.0;
    int m_mantissaBits = 6;
    float m_global = 1;
    float m_globalInverse = 1;
    float m_decodeGlobal = 1;
    detail::MinifloatRounder m_rounder;
};

/// BlockScaler's scale of every block, the tensor absmax being the largest block absmax.
inline std::vector<BlockScale> blockScales(const Scheme& scheme, const std::vector<MinMaxResult>& blocks)
{
    float tensorAbsmax = 0;
    for (const MinMaxResult& b : blocks)
        tensorAbsmax = std::max(tensorAbsmax, b.absmax);
    const BlockScaler scaler(scheme, tensorAbsmax);
    std::vector<BlockScale> scales(blocks.size());
    for (std::size_t g = 0; g < blocks.size(); ++g)
        scales[g] = scaler(blocks[g]);
    return scales;
}

} // namespace qs::kernel_detail
