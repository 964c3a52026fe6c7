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
#include "kernels/simd_transposed_max-inl.h"
// clang-format on

#include "kernels/ggml_block_backends.h"
#include "kernels/kernel_backends.h"
#include "kernels/simd_dispatch.h"
#include "tensor/dtype.h"

#include <algorithm>
#include <bit>
#include <hwy/cache_control.h>

HWY_BEFORE_NAMESPACE();
namespace qs::kernel_detail {
namespace HWY_NAMESPACE {

#if HWY_TARGET == HWY_SCALAR
const CpuGgmlBlocks* TargetGgmlBlocks()
{
    return renamedTable(scalarGgmlBlocks(), hwy::TargetName(HWY_TARGET));
}
#else

namespace hn = hwy::HWY_NAMESPACE;
using I = std::int64_t;

using DF = hn::CappedTag<float, 16>;
using DI = hn::RebindToSigned<DF>;
using VF = hn::Vec<DF>;
using VI = hn::Vec<DI>;
constexpr I kBlock = 32;
constexpr I kF = static_cast<I>(hn::MaxLanes(DF()));
constexpr I kVectors = kBlock / kF;
static_assert(kVectors * kF == kBlock && kBlock <= 64, "a ggml block is whole vectors, its lanes one word");

constexpr I kBatch = 16; ///< blocks whose scales are formed side by side

/// fp16 round trip (ggml's GGML_FP32_TO_FP16, then back) of every lane: F16C's conversion (round to nearest
/// even, overflow to ±Inf, as tensor/dtype.h's f32ToF16) where the target has it, f32ToF16 lane by lane
/// otherwise.
HWY_INLINE VF fp16Round(VF value)
{
    const DF df;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    return hn::PromoteTo(df, hn::DemoteTo(hn::Rebind<hwy::float16_t, DF>(), value));
#else
    HWY_ALIGN float lanes[kF];
    hn::Store(value, df, lanes);
    for (float& lane : lanes)
        lane = f16ToF32(f32ToF16(lane));
    return hn::Load(df, lanes);
#endif
}

HWY_INLINE VI magnitude(VF x)
{
    const DI di;
    return hn::And(hn::BitCast(di, x), hn::Set(di, 0x7FFFFFFF));
}

/// What a batch of blocks needs from its elements, one slot per block.
struct BatchExtremes {
    HWY_ALIGN float high[kBatch]; ///< Q8_0: max |x|; Q4_0/Q5_0: the first x of largest |x|; Q4_1/Q5_1: max x
    HWY_ALIGN float low[kBatch]; ///< Q4_1/Q5_1: min x
    HWY_ALIGN std::int32_t usable[kBatch]; ///< -1 when the block can take the vector path, else 0
};

/// The scales of a batch, one slot per block: v = x · inverse (Q4_1/Q5_1: (x - low) · inverse), x̂ = code ·
/// scale (+ offset).
struct BatchScales {
    HWY_ALIGN float inverse[kBatch];
    HWY_ALIGN float scale[kBatch];
    HWY_ALIGN float offset[kBatch];
    HWY_ALIGN std::int32_t usable[kBatch];
};

/// Block `b`'s extremes (branch-free). A block holding NaN/±Inf, and for Q4_1/Q5_1 one whose min or max is
/// ±0 (which zero the reference keeps depends on the order), is not usable.
template<BlockFormat F> HWY_INLINE void blockExtremes(const float* HWY_RESTRICT x, I b, BatchExtremes& out)
{
    const DF df;
    const DI di;
    VF v[kVectors];
    for (I k = 0; k < kVectors; ++k)
        v[k] = hn::LoadU(df, x + k * kF);
    VI m = magnitude(v[0]);
    for (I k = 1; k < kVectors; ++k)
        m = hn::Max(m, magnitude(v[k]));
    const std::int32_t bits = hn::GetLane(hn::MaxOfLanes(di, m));
    bool usable = bits < 0x7F800000;
    if constexpr (F == BlockFormat::GgmlQ8_0) {
        out.high[b] = std::bit_cast<float>(bits);
    } else if constexpr (F == BlockFormat::GgmlQ4_0 || F == BlockFormat::GgmlQ5_0) {
        // The reference keeps the first x whose |x| is strictly larger than all before it.
        const VI target = hn::Set(di, bits);
        std::uint64_t first = 0;
        for (I k = 0; k < kVectors; ++k) {
            std::uint8_t maskBytes[8] = {};
            hn::StoreMaskBits(di, hn::Eq(magnitude(v[k]), target), maskBytes);
            std::uint64_t word = 0;
            for (std::size_t j = 0; j < (kF + 7) / 8; ++j)
                word |= static_cast<std::uint64_t>(maskBytes[j]) << (8 * j);
            first |= word << (k * kF);
        }
        out.high[b] = bits == 0 ? 0.0f : x[std::countr_zero(first) & (kBlock - 1)];
    } else {
        VF low = v[0];
        VF high = v[0];
        for (I k = 1; k < kVectors; ++k) {
            low = hn::Min(low, v[k]);
            high = hn::Max(high, v[k]);
        }
        out.low[b] = hn::GetLane(hn::MinOfLanes(df, low));
        out.high[b] = hn::GetLane(hn::MaxOfLanes(df, high));
        usable = usable && out.low[b] != 0.0f && out.high[b] != 0.0f;
    }
    out.usable[b] = usable ? -1 : 0;
}

/// The scales of a batch from its extremes, kF blocks at a time, as the reference forms them per block:
///   Q8_0            d = amax / 127,                  x̂ = q · fp16(d)
///   Q4_0, Q5_0      d = max / -8 (-16),              x̂ = (q - 8 (16)) · fp16(d)
///   Q4_1, Q5_1      d = (max - min) / 15 (31),       x̂ = q · fp16(d) + fp16(min)
/// with 1 / d (0 when d is 0) as the inverse. A block whose d or inverse is not finite is not usable.
template<BlockFormat F> HWY_INLINE void batchScales(const BatchExtremes& in, BatchScales& out)
{
    const DF df;
    const DI di;
    constexpr bool withMin = F == BlockFormat::GgmlQ4_1 || F == BlockFormat::GgmlQ5_1;
    float divisor = 127;
    if constexpr (F == BlockFormat::GgmlQ4_0)
        divisor = -8;
    else if constexpr (F == BlockFormat::GgmlQ5_0)
        divisor = -16;
    else if constexpr (F == BlockFormat::GgmlQ4_1)
        divisor = 15;
    else if constexpr (F == BlockFormat::GgmlQ5_1)
        divisor = 31;
    const VF zero = hn::Zero(df);
    for (I b = 0; b < kBatch; b += kF) {
        const VF high = hn::Load(df, in.high + b);
        const VF low = hn::Load(df, in.low + b);
        const VF d = hn::Div(withMin ? hn::Sub(high, low) : high, hn::Set(df, divisor));
        const VF inverse = hn::IfThenElseZero(hn::Ne(d, zero), hn::Div(hn::Set(df, 1.0f), d));
        const auto finite = hn::And(hn::IsFinite(d), hn::IsFinite(inverse));
        hn::Store(inverse, df, out.inverse + b);
        hn::Store(fp16Round(d), df, out.scale + b);
        if constexpr (withMin)
            hn::Store(fp16Round(low), df, out.offset + b);
        hn::Store(hn::And(hn::Load(di, in.usable + b), hn::VecFromMask(di, hn::RebindMask(di, finite))), di,
            out.usable + b);
    }
}

/// x̂ of one usable block into out; false (out partly written) when a code would wrap around the
/// reference's int8 conversion, which then takes the block.
template<BlockFormat F>
HWY_INLINE bool blockValues(const float* HWY_RESTRICT x, float low, float inverse, float scale, float offset,
    float* HWY_RESTRICT out, I& clipped)
{
    const DF df;
    const DI di;
    const VF inverseV = hn::Set(df, inverse);
    const VF scaleV = hn::Set(df, scale);
    auto wraps = hn::FirstN(di, 0);
    I blockClipped = 0;
    for (I k = 0; k < kVectors; ++k) {
        const VF v = hn::LoadU(df, x + k * kF);
        VF code;
        if constexpr (F == BlockFormat::GgmlQ8_0) {
            // roundf: half away from zero, from the truncation and its exact remainder.
            const VF w = hn::Mul(v, inverseV);
            const VI t = hn::ConvertTo(di, w);
            const VF remainder = hn::Sub(w, hn::ConvertTo(df, t));
            const auto away = hn::RebindMask(di, hn::Ge(hn::Abs(remainder), hn::Set(df, 0.5f)));
            const VI step = hn::IfThenElse(
                hn::RebindMask(di, hn::Lt(w, hn::Zero(df))), hn::Set(di, -1), hn::Set(di, 1));
            const VI q = hn::IfThenElse(away, hn::Add(t, step), t);
            wraps = hn::Or(wraps, hn::Or(hn::Gt(q, hn::Set(di, 127)), hn::Lt(q, hn::Set(di, -128))));
            code = hn::ConvertTo(df, q);
        } else {
            constexpr bool withMin = F == BlockFormat::GgmlQ4_1 || F == BlockFormat::GgmlQ5_1;
            constexpr bool five = F == BlockFormat::GgmlQ5_0 || F == BlockFormat::GgmlQ5_1;
            constexpr std::int32_t top = five ? 31 : 15;
            constexpr std::int32_t bias = withMin ? 0 : five ? 16 : 8;
            const VF w = withMin ? hn::Add(hn::Mul(hn::Sub(v, hn::Set(df, low)), inverseV), hn::Set(df, 0.5f))
                                 : hn::Add(hn::Mul(v, inverseV), hn::Set(df, five ? 16.5f : 8.5f));
            // Below 0 or from 128 on, the reference's int8 conversion wraps.
            wraps = hn::Or(
                wraps, hn::RebindMask(di, hn::Or(hn::Lt(w, hn::Zero(df)), hn::Ge(w, hn::Set(df, 128.0f)))));
            const VI q = hn::ConvertTo(di, w);
            const VI topV = hn::Set(di, top);
            blockClipped += static_cast<I>(hn::CountTrue(di, hn::Gt(q, topV)));
            // Q5_1 keeps the low 5 bits; the others clamp to the top code.
            const VI kept = F == BlockFormat::GgmlQ5_1 ? hn::And(q, topV) : hn::Min(q, topV);
            code = hn::ConvertTo(df, hn::Sub(kept, hn::Set(di, bias)));
        }
        VF value = hn::Mul(code, scaleV);
        if constexpr (F == BlockFormat::GgmlQ4_1 || F == BlockFormat::GgmlQ5_1)
            value = hn::Add(value, hn::Set(df, offset));
        hn::StoreU(value, df, out + k * kF);
    }
    if (!hn::AllFalse(di, wraps))
        return false;
    clipped += blockClipped;
    return true;
}

/// The whole blocks [first, first + count) (count <= kBatch) of one format into out (x̂ of block first
/// at out[0]); returns their clipped count.
template<BlockFormat F>
I batchValues(const BlockReconstruction& reconstruction, const float* HWY_RESTRICT x, I first, I count,
    float* HWY_RESTRICT out)
{
    BatchExtremes extremes;
    for (I b = 0; b < kBatch; ++b) {
        extremes.high[b] = 0;
        extremes.low[b] = 0;
        extremes.usable[b] = 0;
    }
    for (I b = 0; b < count; ++b)
        blockExtremes<F>(x + (first + b) * kBlock, b, extremes);
    BatchScales scales;
    batchScales<F>(extremes, scales);
    I clipped = 0;
    for (I b = 0; b < count; ++b) {
        const I start = (first + b) * kBlock;
        float* target = out + b * kBlock;
        if (!scales.usable[b]
            || !blockValues<F>(x + start, extremes.low[b], scales.inverse[b], scales.scale[b],
                scales.offset[b], target, clipped))
            clipped += reconstruction.reconstruct(start, start + kBlock, target);
    }
    return clipped;
}

template<BlockFormat F> I wholeBlocks(const BlockReconstruction& reconstruction, I first, I last, float* out)
{
    // 8 KiB ahead: the hardware prefetchers alone leave the first read of each block waiting on memory
    // (Q4_0 14 -> 8 ms on 16M values).
    constexpr I kAhead = 2048;
    constexpr I kLine = 64 / sizeof(float);
    const std::span<const float> values = reconstruction.values();
    const float* x = values.data();
    const float* lastValue = x + values.size() - 1;
    I clipped = 0;
    for (I b = first; b < last; b += kBatch) {
        for (I line = 0; line < kBatch * kBlock; line += kLine)
            hwy::Prefetch(std::min(x + b * kBlock + line + kAhead, lastValue));
        clipped
            += batchValues<F>(reconstruction, x, b, std::min(kBatch, last - b), out + (b - first) * kBlock);
    }
    return clipped;
}

/// CpuGgmlBlocks::blockParams: kF blocks at a time from their largest and smallest x, reduced in registers
/// (transposedMax). Q8_0's largest |x| is the larger of the largest x and minus the smallest. For Q4_0/Q5_0
/// the first x of largest |x| is the largest x where that is |x| and no other x is -|x|, and the smallest x
/// where that is -|x| and no other x is |x|; a block holding both takes ggmlBlockParams, as do the blocks
/// past the last whole kF. Float min and max are exact on finite x (a -0 that one of them keeps instead of
/// +0 only matters when |x| is 0 throughout, which gives +0).
template<bool Q8>
bool blockParamsOf(BlockFormat format, const float* HWY_RESTRICT x, I first, I last, GroupParams* out)
{
    const DF df;
    const auto lanes = static_cast<I>(kF);
    const VF zero = hn::Zero(df);
    const VF one = hn::Set(df, 1.0f);
    // m / -8 and m / -16 as products: 1/8 and 1/16 are exact, so both round the same exact quotient.
    const VF factor = hn::Set(df, format == BlockFormat::GgmlQ5_0 ? -1.0f / 16 : -1.0f / 8);
    const VF smallestNormal = hn::Set(df, FLT_MIN);
    const float low = Q8 ? -128.0f : 0.0f;
    const float high = Q8 ? 127.0f : 0.0f;
    HWY_ALIGN float scales[kF];
    HWY_ALIGN float inverses[kF];
    bool usable = true;
    I g = first;
    for (; g + lanes <= last; g += lanes) {
        VF largest[kF];
        VF smallest[kF];
        for (I k = 0; k < lanes; ++k) {
            const float* block = x + (g + k) * kBlock;
            largest[k] = smallest[k] = hn::LoadU(df, block);
            for (I v = 1; v < kVectors; ++v) {
                const VF value = hn::LoadU(df, block + v * kF);
                largest[k] = hn::Max(largest[k], value);
                smallest[k] = hn::Min(smallest[k], value);
            }
        }
        const VF highest = transposedMax(df, largest);
        const VF lowest = transposedMax<true>(df, smallest);
        const VF amax = hn::Max(highest, hn::Neg(lowest));
        const auto positive = hn::Eq(highest, amax);
        const auto nonzero = hn::Ne(amax, zero);
        const VF d = Q8
            ? hn::Div(amax, hn::Set(df, 127.0f))
            : hn::Mul(hn::IfThenElseZero(nonzero, hn::IfThenElse(positive, amax, hn::Neg(amax))), factor);
        const auto dNonzero = hn::Ne(d, zero);
        usable = usable && hn::AllTrue(df, hn::Or(hn::Not(dNonzero), hn::Ge(hn::Abs(d), smallestNormal)));
        hn::Store(fp16Round(d), df, scales);
        hn::Store(hn::IfThenElseZero(dNonzero, hn::Div(one, d)), df, inverses);
        GroupParams* params = out + (g - first);
        for (std::size_t k = 0; k < kF; ++k)
            params[k] = {scales[k], inverses[k], 0, low, high};
        const auto both = hn::And(hn::And(positive, hn::Eq(lowest, hn::Neg(amax))), nonzero);
        if (!Q8 && !hn::AllFalse(df, both)) {
            const DI di;
            HWY_ALIGN std::int32_t bothSigns[kF];
            hn::Store(hn::VecFromMask(di, hn::RebindMask(di, both)), di, bothSigns);
            for (std::size_t k = 0; k < kF; ++k)
                if (bothSigns[k] != 0)
                    usable
                        = ggmlBlockParams(format, x + (g + static_cast<I>(k)) * kBlock, params[k]) && usable;
        }
    }
    return ggmlBlockRange(format, x, g, last, out + (g - first)) && usable;
}

bool BlockParams(BlockFormat format, const float* HWY_RESTRICT x, I first, I last, GroupParams* out)
{
    return format == BlockFormat::GgmlQ8_0 ? blockParamsOf<true>(format, x, first, last, out)
                                           : blockParamsOf<false>(format, x, first, last, out);
}

I ReconstructRange(const BlockReconstruction& reconstruction, I begin, I end, float* out)
{
    // ggml rows are whole blocks of 32, so blocks start at the multiples of 32: the whole blocks inside the
    // range go the vector path, the cut ones at its ends the reference's.
    const I first = (begin + kBlock - 1) / kBlock;
    const I last = end / kBlock;
    if (first >= last)
        return reconstruction.reconstruct(begin, end, out);
    I clipped = reconstruction.reconstruct(begin, first * kBlock, out);
    float* whole = out + (first * kBlock - begin);
    switch (reconstruction.scheme().blockFormat) {
    case BlockFormat::GgmlQ8_0:
        clipped += wholeBlocks<BlockFormat::GgmlQ8_0>(reconstruction, first, last, whole);
        break;
    case BlockFormat::GgmlQ4_0:
        clipped += wholeBlocks<BlockFormat::GgmlQ4_0>(reconstruction, first, last, whole);
        break;
    case BlockFormat::GgmlQ5_0:
        clipped += wholeBlocks<BlockFormat::GgmlQ5_0>(reconstruction, first, last, whole);
        break;
    case BlockFormat::GgmlQ4_1:
        clipped += wholeBlocks<BlockFormat::GgmlQ4_1>(reconstruction, first, last, whole);
        break;
    case BlockFormat::GgmlQ5_1:
        clipped += wholeBlocks<BlockFormat::GgmlQ5_1>(reconstruction, first, last, whole);
        break;
    default:
        clipped += reconstruction.reconstruct(first * kBlock, last * kBlock, whole);
        break;
    }
    return clipped + reconstruction.reconstruct(last * kBlock, end, out + (last * kBlock - begin));
}

const CpuGgmlBlocks* TargetGgmlBlocks()
{
    static const CpuGgmlBlocks blocks {hwy::TargetName(HWY_TARGET), &ReconstructRange, &BlockParams};
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
    static const CpuGgmlBlocks blocks {"scalar C++", &referenceRange, &ggmlBlockRange};
    return blocks;
}

const CpuGgmlBlocks& simdGgmlBlocks()
{
    return simdTargetEntry(HWY_DISPATCH_TABLE(TargetGgmlBlocks));
}

} // namespace qs::kernel_detail
#endif
