// The simd backend of the ggml block reconstruction: Highway, compiled once per target and matched to the
// target the simd backend uses (setSimdTarget). Each block's x̂ equals the reference's (quant/block_ggml.cpp)
// bit for bit: the same float32 operations per element in the same order (no contraction: the core is
// built with -ffp-contract=off); a block outside the cases handled here takes the reference's code.

#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS HWY_SSSE3
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd_ggml_blocks.cpp"
// clang-format off
#include <hwy/foreach_target.h> // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on

#include "kernels/ggml_block_backends.h"
#include "kernels/kernel_backends.h"
#include "tensor/dtype.h"

#include <algorithm>
#include <bit>
#include <string>

HWY_BEFORE_NAMESPACE();
namespace qs::kernel_detail {
namespace HWY_NAMESPACE {

#if HWY_TARGET == HWY_SCALAR
const CpuGgmlBlocks* TargetGgmlBlocks()
{
    static const CpuGgmlBlocks blocks = [] {
        CpuGgmlBlocks copy = scalarGgmlBlocks();
        copy.target = hwy::TargetName(HWY_TARGET);
        return copy;
    }();
    return &blocks;
}
#else

namespace hn = hwy::HWY_NAMESPACE;
using I = std::int64_t;

using DF = hn::CappedTag<float, 16>;
using DI = hn::RebindToSigned<DF>;
using VF = hn::Vec<DF>;
using VI = hn::Vec<DI>;
using MI = hn::Mask<DI>;
constexpr I kBlock = 32;
constexpr I kF = static_cast<I>(hn::MaxLanes(DF()));
constexpr I kVectors = kBlock / kF;
static_assert(kVectors * kF == kBlock, "a ggml block is whole vectors");

/// fp16 round trip of the stored scale (ggml's GGML_FP32_TO_FP16, then back).
float fp16Round(float value)
{
    return f16ToF32(f32ToF16(value));
}

bool finite(float value)
{
    return isFiniteFloat(value);
}

/// One block of 32 floats in registers.
struct Block {
    explicit Block(const float* HWY_RESTRICT x)
    {
        const DF df;
        for (I k = 0; k < kVectors; ++k)
            v[k] = hn::LoadU(df, x + k * kF);
    }

    /// |x| as int32 bits (orders like the magnitudes).
    HWY_INLINE VI magnitude(I k) const
    {
        const DI di;
        return hn::And(hn::BitCast(di, v[k]), hn::Set(di, 0x7FFFFFFF));
    }

    /// The bits of max |x|; at least 0x7F800000 when a value is NaN or ±Inf.
    HWY_INLINE std::int32_t absmaxBits() const
    {
        const DI di;
        VI m = magnitude(0);
        for (I k = 1; k < kVectors; ++k)
            m = hn::Max(m, magnitude(k));
        return hn::GetLane(hn::MaxOfLanes(di, m));
    }

    /// The first element whose |x| has these bits (one exists).
    HWY_INLINE I firstWithMagnitude(std::int32_t bits) const
    {
        const DI di;
        const VI target = hn::Set(di, bits);
        for (I k = 0; k < kVectors; ++k) {
            const std::intptr_t lane = hn::FindFirstTrue(di, hn::Eq(magnitude(k), target));
            if (lane >= 0)
                return k * kF + static_cast<I>(lane);
        }
        return 0;
    }

    VF v[kVectors];
};

/// Q8_0 (quantize_row_q8_0_ref): d = amax / 127, q = (int8_t)roundf(x · (1 / d)), x̂ = q · fp16(d).
HWY_INLINE bool q8Block(const Block& block, float* HWY_RESTRICT out)
{
    const DF df;
    const DI di;
    const std::int32_t bits = block.absmaxBits();
    if (bits >= 0x7F800000)
        return false;
    const float d = std::bit_cast<float>(bits) / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!finite(id))
        return false;
    const VF inverse = hn::Set(df, id);
    const VF scale = hn::Set(df, fp16Round(d));
    VI q[kVectors];
    MI wraps = hn::FirstN(di, 0);
    for (I k = 0; k < kVectors; ++k) {
        const VF w = hn::Mul(block.v[k], inverse);
        // roundf: half away from zero, from the truncation and the exact remainder.
        const VI t = hn::ConvertTo(di, w);
        const VF remainder = hn::Sub(w, hn::ConvertTo(df, t));
        const MI away = hn::RebindMask(di, hn::Ge(hn::Abs(remainder), hn::Set(df, 0.5f)));
        const VI step
            = hn::IfThenElse(hn::RebindMask(di, hn::Lt(w, hn::Zero(df))), hn::Set(di, -1), hn::Set(di, 1));
        q[k] = hn::IfThenElse(away, hn::Add(t, step), t);
        wraps = hn::Or(wraps, hn::Or(hn::Gt(q[k], hn::Set(di, 127)), hn::Lt(q[k], hn::Set(di, -128))));
    }
    if (!hn::AllFalse(di, wraps))
        return false;
    for (I k = 0; k < kVectors; ++k)
        hn::StoreU(hn::Mul(hn::ConvertTo(df, q[k]), scale), df, out + k * kF);
    return true;
}

/// Q4_0 / Q5_0 (quantize_row_q4_0_ref, q5_0): max = the first x of largest |x|, d = max / -8 (-16),
/// q = min(top, (int8_t)(x · (1 / d) + 8.5 (16.5))), x̂ = (q - 8 (16)) · fp16(d).
template<bool Five>
HWY_INLINE bool q0Block(const Block& block, const float* HWY_RESTRICT x, float* HWY_RESTRICT out, I& clipped)
{
    const DF df;
    const DI di;
    constexpr std::int32_t bias = Five ? 16 : 8;
    constexpr std::int32_t top = Five ? 31 : 15;
    const std::int32_t bits = block.absmaxBits();
    if (bits >= 0x7F800000)
        return false;
    const float max = bits == 0 ? 0.0f : x[block.firstWithMagnitude(bits)];
    const float d = max / -bias;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!finite(id))
        return false;
    const VF inverse = hn::Set(df, id);
    const VF half = hn::Set(df, Five ? 16.5f : 8.5f);
    const VF scale = hn::Set(df, fp16Round(d));
    VI q[kVectors];
    MI wraps = hn::FirstN(di, 0);
    for (I k = 0; k < kVectors; ++k) {
        const VF w = hn::Add(hn::Mul(block.v[k], inverse), half);
        // Below 0 or from 128 on, the reference's int8 conversion wraps.
        wraps = hn::Or(
            wraps, hn::RebindMask(di, hn::Or(hn::Lt(w, hn::Zero(df)), hn::Ge(w, hn::Set(df, 128.0f)))));
        q[k] = hn::ConvertTo(di, w);
    }
    if (!hn::AllFalse(di, wraps))
        return false;
    for (I k = 0; k < kVectors; ++k) {
        clipped += static_cast<I>(hn::CountTrue(di, hn::Gt(q[k], hn::Set(di, top))));
        const VI code = hn::Sub(hn::Min(q[k], hn::Set(di, top)), hn::Set(di, bias));
        hn::StoreU(hn::Mul(hn::ConvertTo(df, code), scale), df, out + k * kF);
    }
    return true;
}

/// Q4_1 / Q5_1 (quantize_row_q4_1_ref, q5_1): d = (max - min) / 15 (31), q = (int8_t)((x - min) · (1 / d)
/// + 0.5) clamped to 15 (Q5_1: its low 5 bits), x̂ = q · fp16(d) + fp16(min).
template<bool Five> HWY_INLINE bool q1Block(const Block& block, float* HWY_RESTRICT out, I& clipped)
{
    const DF df;
    const DI di;
    constexpr std::int32_t top = Five ? 31 : 15;
    if (block.absmaxBits() >= 0x7F800000)
        return false;
    VF low = block.v[0];
    VF high = block.v[0];
    for (I k = 1; k < kVectors; ++k) {
        low = hn::Min(low, block.v[k]);
        high = hn::Max(high, block.v[k]);
    }
    const float min = hn::GetLane(hn::MinOfLanes(df, low));
    const float max = hn::GetLane(hn::MaxOfLanes(df, high));
    if (min == 0.0f || max == 0.0f)
        return false;
    const float d = (max - min) / top;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!finite(d) || !finite(id))
        return false;
    const VF minimum = hn::Set(df, min);
    const VF inverse = hn::Set(df, id);
    const VF scale = hn::Set(df, fp16Round(d));
    const VF offset = hn::Set(df, fp16Round(min));
    VI q[kVectors];
    MI wraps = hn::FirstN(di, 0);
    for (I k = 0; k < kVectors; ++k) {
        const VF level = hn::Add(hn::Mul(hn::Sub(block.v[k], minimum), inverse), hn::Set(df, 0.5f));
        wraps = hn::Or(wraps,
            hn::RebindMask(di, hn::Or(hn::Lt(level, hn::Zero(df)), hn::Ge(level, hn::Set(df, 128.0f)))));
        q[k] = hn::ConvertTo(di, level);
    }
    if (!hn::AllFalse(di, wraps))
        return false;
    for (I k = 0; k < kVectors; ++k) {
        clipped += static_cast<I>(hn::CountTrue(di, hn::Gt(q[k], hn::Set(di, top))));
        const VI code = Five ? hn::And(q[k], hn::Set(di, top)) : hn::Min(q[k], hn::Set(di, top));
        hn::StoreU(hn::Add(hn::Mul(hn::ConvertTo(df, code), scale), offset), df, out + k * kF);
    }
    return true;
}

I ReconstructRange(const BlockReconstruction& reconstruction, I begin, I end, float* out)
{
    const BlockFormat format = reconstruction.scheme().blockFormat;
    if (format == BlockFormat::GgmlMXFP4)
        return reconstruction.reconstruct(begin, end, out);
    const float* x = reconstruction.values().data();
    I clipped = 0;
    I i = begin;
    while (i < end) {
        // ggml rows are whole blocks of 32, so blocks start at the multiples of 32.
        const I start = i / kBlock * kBlock;
        const I stop = std::min(end, start + kBlock);
        bool done = false;
        if (start == i && stop == start + kBlock) {
            const Block block(x + start);
            float* target = out + (start - begin);
            switch (format) {
            case BlockFormat::GgmlQ8_0:
                done = q8Block(block, target);
                break;
            case BlockFormat::GgmlQ4_0:
                done = q0Block<false>(block, x + start, target, clipped);
                break;
            case BlockFormat::GgmlQ5_0:
                done = q0Block<true>(block, x + start, target, clipped);
                break;
            case BlockFormat::GgmlQ4_1:
                done = q1Block<false>(block, target, clipped);
                break;
            case BlockFormat::GgmlQ5_1:
                done = q1Block<true>(block, target, clipped);
                break;
            default:
                break;
            }
        }
        if (!done)
            clipped += reconstruction.reconstruct(i, stop, out + (i - begin));
        i = stop;
    }
    return clipped;
}

const CpuGgmlBlocks* TargetGgmlBlocks()
{
    static const CpuGgmlBlocks blocks {hwy::TargetName(HWY_TARGET), &ReconstructRange};
    return &blocks;
}

#endif // HWY_TARGET == HWY_SCALAR

} // namespace HWY_NAMESPACE
} // namespace qs::kernel_detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qs::kernel_detail {

HWY_EXPORT(TargetGgmlBlocks);

namespace {

std::int64_t referenceRange(
    const BlockReconstruction& reconstruction, std::int64_t begin, std::int64_t end, float* out)
{
    return reconstruction.reconstruct(begin, end, out);
}

} // namespace

const CpuGgmlBlocks& scalarGgmlBlocks()
{
    static const CpuGgmlBlocks blocks {"scalar C++", &referenceRange};
    return blocks;
}

const CpuGgmlBlocks& simdGgmlBlocks()
{
    // The target the simd backend uses (setSimdTarget may have picked one other than Highway's best).
    const std::string wanted = simdKernels().target;
    for (const std::int64_t target : hwy::SupportedAndGeneratedTargets()) {
        const std::int64_t chosen = HWY_CHOSEN_TARGET_SHIFT(target);
        const std::size_t index = hwy::Num0BitsBelowLS1Bit_Nonzero64(
            static_cast<std::uint64_t>(chosen != 0 ? chosen : HWY_CHOSEN_TARGET_MASK_SCALAR));
        const CpuGgmlBlocks* blocks = HWY_DISPATCH_TABLE(TargetGgmlBlocks)[index]();
        if (wanted == blocks->target)
            return *blocks;
    }
    return *HWY_DYNAMIC_DISPATCH(TargetGgmlBlocks)();
}

} // namespace qs::kernel_detail
#endif
