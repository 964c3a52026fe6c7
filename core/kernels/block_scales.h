#pragma once

// The per-block scales of the fused block formats (MX, NVFP4), as quant/block_mx.cpp and
// quant/block_nvfp4.cpp derive them from each block's absmax; shared by the CPU kernels and the CUDA backend
// (header-only: the standalone GPU driver does not link the CPU kernels).

#include "base/host_device.h"
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

/// 2^e as a float32, e in [-149, 127] (std::ldexp(1.0f, e)): the exponent field where it is normal, the one
/// significand bit of a subnormal.
QS_HOST_DEVICE inline float powerOfTwo(int e)
{
    return detail::bitsFloat(e >= -126 ? static_cast<std::uint32_t>(e + 127) << 23 : 1u << (e + 149));
}

/// What BlockScaler's arithmetic reads (for the vectorised copy in simd_kernels.cpp, storeBlockParams, and
/// the CUDA kernels, which take it as a kernel argument).
struct BlockScalerParams {
    bool nvfp4;
    bool mxint8;
    MxExponentRule mx;
    float global; ///< NVFP4: the global encode scale
    std::uint32_t smallestNormalBinade; ///< float exponent bits of E4M3's smallest normal 2^-6
    std::uint32_t capBinade; ///< the binade just above E4M3's largest value
    std::uint32_t magicBase; ///< (23 - M) << 23 | 0x400000: C from the exponent bits of 2^q
    std::uint32_t maxBits; ///< the largest E4M3 magnitude's float bits
    float globalInverse; ///< NVFP4: 1 / global (nvfp4BlockScale)
    float decodeGlobal; ///< NVFP4: float(1 / (1 / double(global))) (nvfp4BlockScale)
};

/// NVFP4: the float bits of a block's E4M3 scale s8 from its finite absmax, s8 = E4M3 RNE saturating of
/// global · (absmax · float(1/6)): MinifloatRounder::roundBits by float addition, as the SIMD minifloat
/// elements round: with C = 1.5·2^(q + 23), q the quantum exponent of sf's binade (at least the smallest
/// normal's, at most just above the largest value), (sf + C) - C is sf rounded to a multiple of 2^q, ties to
/// even. Huge sf saturates to the largest value, as roundBits's result does once capped.
QS_HOST_DEVICE inline std::uint32_t nvfp4ScaleBits(const BlockScalerParams& s, float absmax)
{
    const float sf = roundedMul(s.global, roundedMul(absmax, static_cast<float>(1.0 / 6.0)));
    const std::uint32_t exponent = detail::floatBits(sf) & 0x7F800000u;
    const std::uint32_t binade = exponent < s.smallestNormalBinade
        ? s.smallestNormalBinade
        : (exponent > s.capBinade ? s.capBinade : exponent);
    const float c = detail::bitsFloat(binade + s.magicBase);
    const std::uint32_t rounded = detail::floatBits(roundedSub(roundedAdd(sf, c), c));
    return rounded < s.maxBits ? rounded : s.maxBits;
}

/// NVFP4: the scale and encode factor of an E4M3 block scale s8.
QS_HOST_DEVICE inline BlockScale nvfp4BlockScale(const BlockScalerParams& s, float s8)
{
    const float encode = roundedMul(s8, s.globalInverse);
    return {roundedDiv(s8, s.decodeGlobal), encode == 0.0f ? 0.0f : roundedDiv(1.0f, encode)};
}

/// NVFP4's E4M3 block-scale rounding (ties to even, saturating at 448).
inline detail::MinifloatRounder nvfp4ScaleRounder()
{
    const NumberFormat e4m3 = fp8E4M3Format();
    return detail::MinifloatRounder::make(std::get<MinifloatSpec>(e4m3.spec), false, formatMaxFinite(e4m3));
}

/// The MX exponent rule of a block format: the element format's emax and mantissa bits (MXINT8: elements
/// q / 64 with |q| <= 127, largest 127/64 (emax 0), 6 mantissa bits); unused for NVFP4.
inline MxExponentRule mxExponentRuleOf(const Scheme& scheme)
{
    const char* element = blockElementFormat(scheme.blockFormat);
    if (scheme.blockFormat == BlockFormat::MXINT8 || scheme.blockFormat == BlockFormat::NVFP4 || !element)
        return MxExponentRule(scheme.e8m0Rounding, 127.0 / 64.0, 6);
    const NumberFormat format = formatByName(element);
    return MxExponentRule(
        scheme.e8m0Rounding, formatMaxFinite(format), std::get<MinifloatSpec>(format.spec).mantissaBits);
}

/// NVFP4's global scales from the tensor absmax over its finite values: global = (1 / absmax) · 2688 (1 when
/// the absmax is 0), globalInverse = 1 / global and decodeGlobal = float(1 / (1 / double(global)))
/// (nvfp4BlockScale). On the host (blockScalerParams) and in the CUDA kernel, which reads the absmax that a
/// reduction before it left on the device.
QS_HOST_DEVICE inline void setNvfp4Globals(BlockScalerParams& p, float tensorAbsmax)
{
    p.global = tensorAbsmax > 0.0f ? roundedMul(roundedDiv(1.0f, tensorAbsmax), 2688.0f) : 1.0f;
    p.globalInverse = roundedDiv(1.0f, p.global);
    p.decodeGlobal = static_cast<float>(1.0 / (1.0 / static_cast<double>(p.global)));
}

/// BlockScaler's parameters for `scheme` without its table of NVFP4 scales (what the CUDA kernels take):
/// NVFP4's global = (1 / tensor absmax) · 2688 (1 when the tensor absmax is 0) and the E4M3 rounding
/// constants; the MX exponent rule otherwise.
inline BlockScalerParams blockScalerParams(const Scheme& scheme, float tensorAbsmax)
{
    BlockScalerParams p {scheme.blockFormat == BlockFormat::NVFP4, scheme.blockFormat == BlockFormat::MXINT8,
        mxExponentRuleOf(scheme), 1, 0, 0, 0, 0, 1, 1};
    if (p.nvfp4) {
        setNvfp4Globals(p, tensorAbsmax);
        const detail::MinifloatRounder rounder = nvfp4ScaleRounder();
        p.smallestNormalBinade = static_cast<std::uint32_t>(128 - rounder.bias) << 23;
        p.capBinade = ((rounder.maxBits >> 23) + 1) << 23;
        p.magicBase = (static_cast<std::uint32_t>(23 - rounder.mantissaBits) << 23) | 0x400000u;
        p.maxBits = rounder.maxBits;
    }
    return p;
}

/// The scale of one block of a fused block format (kernels.h, blockFakeQuantError) from its absmax and
/// non-finite count (minMaxGroups' reduction):
///   MX: e = mxSharedExponent(absmax), scale 2^e, inverse 2^-e (MXINT8: scale 2^(e-6));
///   NVFP4: global = (1 / tensor absmax) · 2688 (1 when the tensor absmax is 0), s8 = nvfp4ScaleBits,
///     inverse = 1 / (s8 · (1 / global)) (0 when that product is 0), scale = s8 / float(1 / (1 /
///     double(global))) (nvfp4BlockScale).
/// Made once per tensor (NVFP4 needs the tensor absmax over the finite values), then used for any block.
class BlockScaler {
public:
    using Params = BlockScalerParams;

    BlockScaler(const Scheme& scheme, float tensorAbsmax)
        : m_params(blockScalerParams(scheme, tensorAbsmax))
    {
        if (m_params.nvfp4) {
            const detail::MinifloatRounder rounder = nvfp4ScaleRounder();
            m_gridShift = 23 - rounder.mantissaBits;
            m_firstGridPoint = static_cast<std::uint32_t>(128 - rounder.bias - rounder.mantissaBits)
                << rounder.mantissaBits;
            m_nvfp4Scales.resize(nvfp4Slot(m_params.maxBits) + 1);
            for (std::size_t slot = 0; slot < m_nvfp4Scales.size(); ++slot) {
                const std::uint32_t s8Bits
                    = slot == 0 ? 0u : static_cast<std::uint32_t>(slot - 1 + m_firstGridPoint) << m_gridShift;
                m_nvfp4Scales[slot] = nvfp4BlockScale(m_params, detail::bitsFloat(s8Bits));
            }
        }
    }

    BlockScale operator()(const MinMaxResult& block) const
    {
        constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
        if (block.nonFinite > 0)
            return {kNaN, 0};
        if (m_params.nvfp4) {
            // s8 is one of the E4M3 grid's magnitudes, whose scales were made once by the same formulas.
            const std::uint32_t s8Bits = nvfp4ScaleBits(m_params, block.absmax);
            const std::size_t slot = nvfp4Slot(s8Bits);
            return slot < m_nvfp4Scales.size() ? m_nvfp4Scales[slot]
                                               : nvfp4BlockScale(m_params, detail::bitsFloat(s8Bits));
        }
        int exponent = 0;
        if (!m_params.mx(block.absmax, exponent))
            return {kNaN, 0};
        if (m_params.mxint8)
            return {powerOfTwo(exponent - 6), 0};
        return {powerOfTwo(exponent), powerOfTwo(-exponent)};
    }

    const Params& params() const { return m_params; }

private:
    /// Index of E4M3 grid magnitude bits in m_nvfp4Scales: 0 for +0, then the float bits' exponent field and
    /// top mantissa bits counted from the smallest subnormal.
    std::size_t nvfp4Slot(std::uint32_t s8Bits) const
    {
        return s8Bits == 0 ? 0 : static_cast<std::size_t>((s8Bits >> m_gridShift) - m_firstGridPoint) + 1;
    }

    Params m_params;
    int m_gridShift = 20;
    std::uint32_t m_firstGridPoint = 0;
    std::vector<BlockScale> m_nvfp4Scales;
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
