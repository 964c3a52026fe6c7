// The simd backend: Highway, compiled once per target (foreach_target.h) and chosen at run time
// (HWY_DYNAMIC_DISPATCH). Every function reproduces the scalar reference (scalar_kernels.cpp) bit for bit:
// the same float32 operations per element, and the error sums in the lane order of kernels.h.

// Every float operation rounds as the scalar reference's does: the error sums take their products by an
// explicit fused multiply-add (kernels.h, accumulation order), and nothing else may be contracted into one,
// which GCC would otherwise do with Highway's Mul + Add on targets that have FMA.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// SSSE3-only machines fall back to Highway's baseline target: one target fewer to build.
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS HWY_SSSE3
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd_kernels.cpp"
// clang-format off
#include <hwy/foreach_target.h> // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/cache_control.h>
#include "kernels/simd_magic_rounding-inl.h"
#include "kernels/simd_table_bins-inl.h"
#include "kernels/simd_transposed_max-inl.h"
// clang-format on

#include "kernels/encoder_table.h"
#include "kernels/kernel_backends.h"
#include "kernels/simd_dispatch.h"
#include "quant/block_formats.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

HWY_BEFORE_NAMESPACE();
namespace qs::kernel_detail {
namespace HWY_NAMESPACE {

#if HWY_TARGET == HWY_SCALAR
const CpuKernels* TargetKernels()
{
    return renamedTable(scalarKernels(), hwy::TargetName(HWY_TARGET));
}
#else

namespace hn = hwy::HWY_NAMESPACE;
using I = std::int64_t;

// A block of kKernelLanes floats is kVectors vectors of at most kKernelLanes lanes; each float vector
// widens to two double vectors (its lower and upper half), so block lane l always lands in the same double
// accumulator lane, whatever the target's width.
using DF = hn::CappedTag<float, kKernelLanes>;
using DI = hn::RebindToSigned<DF>;
using DU = hn::RebindToUnsigned<DF>;
using DH = hn::Half<DF>;
using DD = hn::Rebind<double, DH>;
using DIH = hn::Rebind<std::int32_t, DD>;
using VF = hn::Vec<DF>;
using VI = hn::Vec<DI>;
using VD = hn::Vec<DD>;
using MF = hn::Mask<DF>;

constexpr std::size_t kF = hn::MaxLanes(DF());
constexpr std::size_t kD = kF / 2;
constexpr std::size_t kVectors = kKernelLanes / kF;
static_assert(kKernelLanes % kF == 0 && kF >= 2, "a block must be whole vectors of at least two lanes");

HWY_INLINE MF finiteMask(VF x)
{
    const DI di;
    const VI magnitude = hn::And(hn::BitCast(di, x), hn::Set(di, 0x7FFFFFFF));
    return hn::RebindMask(DF(), hn::Lt(magnitude, hn::Set(di, 0x7F800000)));
}

/// Copies the last `count` (< kF) values into a vector padded with NaN, which every kernel skips.
HWY_INLINE VF loadTail(const float* x, std::size_t count)
{
    HWY_ALIGN float padded[kF];
    for (std::size_t j = 0; j < kF; ++j)
        padded[j] = j < count ? x[j] : std::numeric_limits<float>::quiet_NaN();
    return hn::Load(DF(), padded);
}

/// Prefetches the cache lines holding x[i + kPrefetchAhead, i + kPrefetchAhead + count) into L2 and those
/// holding x[i + kPrefetchNear, ...) into L1 (never past `n`): the hardware prefetchers alone leave the
/// busier kernels well short of the streaming-read bandwidth. One chunk ahead, so that a pass which reads its
/// chunk twice (a group or block reduction, then the elements) finds the next chunk arriving while it works
/// on the current one (ternary per channel 5.5 -> 3.3 ms; 8 KiB before). Into L2 only at that distance: a
/// prefetch into L1 holds one of its few line fill buffers until the line arrives from memory, which capped
/// the 16M-value passes on an Intel Xeon VM (int8 per channel 6.3-6.8 -> 5.3-6.2 ms, NF4 group 64 8.4-8.7 ->
/// 6.6-7.4 ms, MXFP4 8.1-9.5 -> 7.2-7.6 ms); the near one then finds its line in L2.
constexpr I kPrefetchAhead = kKernelChunk; // 16 KiB
constexpr I kPrefetchNear = 512; // 2 KiB
constexpr I kLineFloats = 16; // 64-byte cache lines

HWY_INLINE void prefetchAhead(const float* x, I i, I n, I count = kLineFloats)
{
    for (I line = 0; line < count; line += kLineFloats) {
        __builtin_prefetch(x + std::min(i + kPrefetchAhead + line, n - 1), 0, 2);
        __builtin_prefetch(x + std::min(i + kPrefetchNear + line, n - 1), 0, 3);
    }
}

// ---- min / max ----

struct MinMaxVectors {
    MinMaxVectors()
        : minKey(hn::Set(DI(), std::numeric_limits<std::int32_t>::max()))
        , maxKey(hn::Set(DI(), std::numeric_limits<std::int32_t>::min()))
    {
    }

    VI minKey;
    VI maxKey;
    I finite = 0;

    HWY_INLINE void add(VF x)
    {
        const DI di;
        const auto finiteLanes = hn::RebindMask(di, finiteMask(x));
        const VI key = orderedKeys(x);
        minKey = hn::Min(
            minKey, hn::IfThenElse(finiteLanes, key, hn::Set(di, std::numeric_limits<std::int32_t>::max())));
        maxKey = hn::Max(
            maxKey, hn::IfThenElse(finiteLanes, key, hn::Set(di, std::numeric_limits<std::int32_t>::min())));
        finite += static_cast<I>(hn::CountTrue(di, finiteLanes));
    }
};

MinMaxPartial MinMaxRange(const float* HWY_RESTRICT x, I n)
{
    const DF df;
    const DI di;
    MinMaxVectors a;
    MinMaxVectors b;
    // Blocks of kBlock values take the keys unmasked: ±Inf and NaN have keys beyond every finite one, so a
    // block whose extreme keys lie strictly inside (-Inf, +Inf) held finite values only; any other block is
    // taken again with the finiteness mask.
    constexpr I kBlock = 16 * static_cast<I>(kF);
    const VI negativeInfinity = hn::Set(di, static_cast<std::int32_t>(0x807FFFFFu));
    const VI positiveInfinity = hn::Set(di, 0x7F800000);
    I i = 0;
    for (; i + kBlock <= n; i += kBlock) {
        VI low0 = a.minKey;
        VI low1 = b.minKey;
        VI high0 = a.maxKey;
        VI high1 = b.maxKey;
        for (I k = 0; k < kBlock; k += static_cast<I>(2 * kF)) {
            prefetchAhead(x, i + k, n, static_cast<I>(2 * kF));
            const VI key0 = orderedKeys(hn::LoadU(df, x + i + k));
            const VI key1 = orderedKeys(hn::LoadU(df, x + i + k + static_cast<I>(kF)));
            low0 = hn::Min(low0, key0);
            high0 = hn::Max(high0, key0);
            low1 = hn::Min(low1, key1);
            high1 = hn::Max(high1, key1);
        }
        const VI lowest = hn::Min(low0, low1);
        const VI highest = hn::Max(high0, high1);
        if (hn::AllTrue(di, hn::And(hn::Gt(lowest, negativeInfinity), hn::Lt(highest, positiveInfinity)))) {
            a.minKey = lowest;
            a.maxKey = highest;
            a.finite += kBlock;
            continue;
        }
        for (I k = 0; k < kBlock; k += static_cast<I>(kF))
            a.add(hn::LoadU(df, x + i + k));
    }
    for (; i + static_cast<I>(kF) <= n; i += static_cast<I>(kF))
        a.add(hn::LoadU(df, x + i));
    if (i < n)
        a.add(loadTail(x + i, static_cast<std::size_t>(n - i)));
    MinMaxPartial partial;
    partial.minKey = hn::GetLane(hn::MinOfLanes(di, hn::Min(a.minKey, b.minKey)));
    partial.maxKey = hn::GetLane(hn::MaxOfLanes(di, hn::Max(a.maxKey, b.maxKey)));
    partial.nonFinite = n - a.finite - b.finite;
    return partial;
}

// ---- block absmax ----

/// Blocks of whole vectors that tile their rows: block g starts at g·groupSize.
HWY_INLINE bool tiledBlocks(const FakeQuantPlan& plan)
{
    return static_cast<I>(hn::Lanes(DI())) == static_cast<I>(kF) && plan.groupSize % static_cast<I>(kF) == 0
        && plan.rowLength % plan.groupSize == 0;
}

/// Groups [first, last) of a tiled Row plan (whole vectors that tile their rows; group g starts at
/// g·groupSize) as MinMaxRange gives them: kF groups at a time, their min and max keys in registers and
/// reduced by transposedMax, when all of them are finite; the others and the rest by MinMaxRange.
void GroupMinMaxRange(
    const FakeQuantPlan& plan, const float* HWY_RESTRICT x, I first, I last, MinMaxPartial* out)
{
    const DF df;
    const DI di;
    const auto lanes = static_cast<I>(kF);
    const I size = plan.groupSize;
    I g = first;
    if (tiledBlocks(plan)) {
        const VI negativeInfinity = hn::Set(di, static_cast<std::int32_t>(0x807FFFFFu));
        const VI positiveInfinity = hn::Set(di, 0x7F800000);
        HWY_ALIGN std::int32_t lowest[kF];
        HWY_ALIGN std::int32_t highest[kF];
        for (; g + lanes <= last; g += lanes) {
            const float* groups = x + g * size;
            prefetchAhead(x, g * size, plan.elementCount, lanes * size);
            VI low[kF];
            VI high[kF];
            for (std::size_t k = 0; k < kF; ++k) {
                const float* group = groups + static_cast<I>(k) * size;
                low[k] = high[k] = orderedKeys(hn::LoadU(df, group));
                for (I v = lanes; v < size; v += lanes) {
                    const VI key = orderedKeys(hn::LoadU(df, group + v));
                    low[k] = hn::Min(low[k], key);
                    high[k] = hn::Max(high[k], key);
                }
            }
            const VI minKeys = transposedMax<true>(di, low);
            const VI maxKeys = transposedMax(di, high);
            if (!hn::AllTrue(
                    di, hn::And(hn::Gt(minKeys, negativeInfinity), hn::Lt(maxKeys, positiveInfinity)))) {
                for (I k = 0; k < lanes; ++k)
                    out[g - first + k] = MinMaxRange(groups + k * size, size);
                continue;
            }
            hn::Store(minKeys, di, lowest);
            hn::Store(maxKeys, di, highest);
            for (std::size_t k = 0; k < kF; ++k)
                out[g - first + static_cast<I>(k)] = {lowest[k], highest[k], 0};
        }
    }
    for (; g < last; ++g) {
        const auto [begin, end] = rowGroupRange(plan, g);
        out[g - first] = MinMaxRange(x + begin, end - begin);
    }
}

/// The largest magnitude bits of a block of at most a few vectors: the non-negative float bits order like
/// the magnitudes. NaN/±Inf (bits >= 0x7F800000) would win; a block holding one is reduced again without
/// them, which is rare enough to do one element at a time. Blocks of whole vectors that tile their rows are
/// reduced a vector's lane count at a time (transposedMax).
/// tiledBlockMaxima for blocks of `vectors` vectors each; Vectors > 0 fixes that count at compile time (the
/// common block sizes then reduce in registers).
template<I Vectors> HWY_INLINE VI tiledBlockMaximaOf(const float* HWY_RESTRICT blocks, I groupSize, I vectors)
{
    const DF df;
    const DI di;
    const VI magnitudeMask = hn::Set(di, 0x7FFFFFFF);
    if constexpr (Vectors > 0)
        vectors = Vectors;
    VI largest[kF];
    for (std::size_t k = 0; k < kF; ++k) {
        const float* block = blocks + static_cast<I>(k) * groupSize;
        largest[k] = hn::And(hn::BitCast(di, hn::LoadU(df, block)), magnitudeMask);
        for (I v = 1; v < vectors; ++v)
            largest[k] = hn::Max(largest[k],
                hn::And(hn::BitCast(di, hn::LoadU(df, block + v * static_cast<I>(kF))), magnitudeMask));
    }
    return transposedMax(di, largest);
}

/// The largest magnitude bits of the kF tiled blocks from block g, block g + k in lane k.
HWY_INLINE VI tiledBlockMaxima(const FakeQuantPlan& plan, const float* HWY_RESTRICT x, I g)
{
    const I vectors = plan.groupSize / static_cast<I>(kF);
    const float* blocks = x + g * plan.groupSize;
    switch (vectors) {
    case 1:
        return tiledBlockMaximaOf<1>(blocks, plan.groupSize, vectors);
    case 2:
        return tiledBlockMaximaOf<2>(blocks, plan.groupSize, vectors);
    case 4:
        return tiledBlockMaximaOf<4>(blocks, plan.groupSize, vectors);
    default:
        return tiledBlockMaximaOf<0>(blocks, plan.groupSize, vectors);
    }
}

void BlockAbsmaxRange(
    const FakeQuantPlan& plan, const float* HWY_RESTRICT x, I first, I last, MinMaxResult* out)
{
    const DF df;
    const DI di;
    const auto lanes = static_cast<I>(kF);
    const auto magnitudeMask = hn::Set(di, 0x7FFFFFFF);
    const auto magnitude
        = [](float v) { return static_cast<std::int32_t>(detail::floatBits(v) & 0x7FFFFFFFu); };
    const auto result = [&](const float* block, I n, std::int32_t best) {
        MinMaxResult r;
        if (best >= 0x7F800000) {
            best = 0;
            for (I j = 0; j < n; ++j) {
                if (magnitude(block[j]) >= 0x7F800000)
                    ++r.nonFinite;
                else
                    best = std::max(best, magnitude(block[j]));
            }
        }
        r.absmax = detail::bitsFloat(static_cast<std::uint32_t>(best));
        return r;
    };
    I g = first;
    if (tiledBlocks(plan)) {
        HWY_ALIGN std::int32_t best[kF];
        for (; g + lanes <= last; g += lanes) {
            hn::Store(tiledBlockMaxima(plan, x, g), di, best);
            for (std::size_t k = 0; k < kF; ++k)
                out[g - first + static_cast<I>(k)]
                    = result(x + (g + static_cast<I>(k)) * plan.groupSize, plan.groupSize, best[k]);
        }
    }
    I row = g / plan.perRow;
    I start = (g - row * plan.perRow) * plan.groupSize;
    for (; g < last; ++g) {
        const I offset = row * plan.rowLength + start;
        const I n = std::min(plan.groupSize, plan.rowLength - start);
        const float* block = x + offset;
        prefetchAhead(x, offset, plan.elementCount, n);
        auto largest = hn::Zero(di);
        I i = 0;
        for (; i + lanes <= n; i += lanes)
            largest = hn::Max(largest, hn::And(hn::BitCast(di, hn::LoadU(df, block + i)), magnitudeMask));
        std::int32_t best = hn::GetLane(hn::MaxOfLanes(di, largest));
        for (; i < n; ++i)
            best = std::max(best, magnitude(block[i]));
        out[g - first] = result(block, n, best);
        start += plan.groupSize;
        if (start >= plan.rowLength) {
            start = 0;
            ++row;
        }
    }
}

/// 2^k per lane, k in [-149, 127]: the exponent field where it is normal, the one significand bit of a
/// subnormal (powerOfTwo).
HWY_INLINE VF powersOfTwo(VI k)
{
    const DI di;
    const VI normal = hn::ShiftLeft<23>(hn::Add(k, hn::Set(di, 127)));
    const VI subnormal = hn::Shl(hn::Set(di, 1), hn::Max(hn::Add(k, hn::Set(di, 149)), hn::Zero(di)));
    return hn::BitCast(DF(), hn::IfThenElse(hn::Gt(k, hn::Set(di, -127)), normal, subnormal));
}

/// MxExponentRule per lane of finite absmax bits (non-negative); `overflow` marks the lanes whose Even
/// rounding reaches 2^128 (a NaN scale).
HWY_INLINE VI mxExponents(const MxExponentRule& rule, VI bits, hn::Mask<DI>& overflow)
{
    const DI di;
    const VI field = hn::ShiftRight<23>(bits);
    const VI bias = hn::Set(di, 127 + rule.emax);
    overflow = hn::FirstN(di, 0);
    VI e;
    switch (rule.rounding) {
    case E8M0Rounding::Floor:
        e = hn::Sub(field, bias);
        break;
    case E8M0Rounding::Ceil: {
        const auto fraction = hn::Ne(hn::And(bits, hn::Set(di, 0x7FFFFF)), hn::Zero(di));
        e = hn::Sub(hn::Add(field, hn::IfThenElseZero(fraction, hn::Set(di, 1))), bias);
        break;
    }
    case E8M0Rounding::Even: {
        const VI rounded = hn::ShiftRight<23>(
            hn::And(hn::Add(bits, hn::Set(di, 1 << (22 - rule.mantissaBits))), hn::Set(di, 0x7F800000)));
        overflow = hn::Eq(rounded, hn::Set(di, 0xFF));
        e = hn::Sub(rounded, bias);
        break;
    }
    case E8M0Rounding::RCeil: {
        const VI d = hn::BitCast(di, hn::Mul(hn::BitCast(DF(), bits), hn::Set(DF(), rule.descale)));
        const VI mantissa = hn::And(d, hn::Set(di, 0x7FFFFF));
        const VI dField = hn::ShiftRight<23>(d);
        const auto subnormal = hn::Eq(dField, hn::Zero(di));
        const auto roundUp = hn::Or(hn::And(subnormal, hn::Gt(mantissa, hn::Set(di, 0x400000))),
            hn::AndNot(subnormal, hn::Ne(mantissa, hn::Zero(di))));
        e = hn::Sub(hn::Add(dField, hn::IfThenElseZero(roundUp, hn::Set(di, 1))), hn::Set(di, 127));
        break;
    }
    }
    return hn::Min(hn::Max(e, hn::Set(di, -127)), hn::Set(di, 127));
}

/// BlockScaler's parameters of kF blocks from their absmax (finite, non-negative) into out[0, kF): the MX
/// rule on the absmax bits, or NVFP4's E4M3 rounding by float addition then nvfp4BlockScale's divisions; a
/// NaN scale and inverse 0 where `noScale` (a block holding NaN/±Inf). Returns whether largest · scale is
/// finite for all of them.
HWY_INLINE bool storeBlockParams(const BlockScaler::Params& s, const FakeQuantPlan& plan, float largest,
    VF absmax, hn::Mask<DI> noScale, GroupParams* out)
{
    const DF df;
    const DI di;
    VF scale;
    VF inverse;
    if (s.nvfp4) {
        const VF sf
            = hn::Mul(hn::Set(df, s.global), hn::Mul(absmax, hn::Set(df, static_cast<float>(1.0 / 6.0))));
        const VI binade = hn::Min(hn::Max(hn::And(hn::BitCast(di, sf), hn::Set(di, 0x7F800000)),
                                      hn::Set(di, static_cast<std::int32_t>(s.smallestNormalBinade))),
            hn::Set(di, static_cast<std::int32_t>(s.capBinade)));
        const VF c = hn::BitCast(df, hn::Add(binade, hn::Set(di, static_cast<std::int32_t>(s.magicBase))));
        const VI s8 = hn::Min(
            hn::BitCast(di, hn::Sub(hn::Add(sf, c), c)), hn::Set(di, static_cast<std::int32_t>(s.maxBits)));
        // nvfp4BlockScale's divisions (exact, so the same as the scaler's table of them).
        const VF s8Value = hn::BitCast(df, s8);
        const VF encode = hn::Mul(s8Value, hn::Set(df, s.globalInverse));
        scale = hn::Div(s8Value, hn::Set(df, s.decodeGlobal));
        inverse = hn::IfThenZeroElse(hn::Eq(encode, hn::Zero(df)), hn::Div(hn::Set(df, 1.0f), encode));
    } else {
        hn::Mask<DI> overflow;
        const VI e = mxExponents(s.mx, hn::BitCast(di, absmax), overflow);
        noScale = hn::Or(noScale, overflow);
        scale = powersOfTwo(s.mxint8 ? hn::Sub(e, hn::Set(di, 6)) : e);
        inverse = s.mxint8 ? hn::Zero(df) : powersOfTwo(hn::Neg(e));
    }
    const auto nan = hn::RebindMask(df, noScale);
    scale = hn::IfThenElse(nan, hn::Set(df, std::numeric_limits<float>::quiet_NaN()), scale);
    inverse = hn::IfThenZeroElse(nan, inverse);
    HWY_ALIGN float scales[kF];
    HWY_ALIGN float inverses[kF];
    hn::Store(scale, df, scales);
    hn::Store(inverse, df, inverses);
    const auto low = static_cast<float>(plan.qmin);
    const auto high = static_cast<float>(plan.qmax);
    for (std::size_t j = 0; j < kF; ++j)
        out[j] = {scales[j], inverses[j], 0, low, high};
    return hn::AllTrue(df, hn::IsFinite(hn::Mul(hn::Set(df, largest), scale)));
}

/// BlockScaler's parameters of blocks from their absmax and non-finite count, kF blocks at a time
/// (storeBlockParams), the rest by scalerBlockParams.
bool blockParamsOf(const BlockScaler& scaler, const FakeQuantPlan& plan, float largest,
    const MinMaxResult* blocks, I count, GroupParams* out)
{
    const DF df;
    const DI di;
    const BlockScaler::Params s = scaler.params();
    HWY_ALIGN float absmax[kF];
    HWY_ALIGN std::int32_t nonFinite[kF];
    bool finite = true;
    I k = 0;
    for (; k + static_cast<I>(kF) <= count; k += static_cast<I>(kF)) {
        for (std::size_t j = 0; j < kF; ++j) {
            absmax[j] = blocks[k + static_cast<I>(j)].absmax;
            nonFinite[j] = blocks[k + static_cast<I>(j)].nonFinite > 0 ? -1 : 0;
        }
        finite &= storeBlockParams(
            s, plan, largest, hn::Load(df, absmax), hn::Ne(hn::Load(di, nonFinite), hn::Zero(di)), out + k);
    }
    return scalerBlockParams(scaler, plan, largest, blocks + k, count - k, out + k) && finite;
}

/// The blocks [first, last): tiled blocks kF at a time from their maxima in registers when none holds
/// NaN/±Inf; otherwise BlockAbsmaxRange into `scratch`, then blockParamsOf.
bool BlockParamsRange(const FakeQuantPlan& plan, const BlockScaler& scaler, float largest,
    const float* HWY_RESTRICT x, I first, I last, MinMaxResult* scratch, GroupParams* out)
{
    const DF df;
    const DI di;
    const auto lanes = static_cast<I>(kF);
    bool finite = true;
    I g = first;
    if (tiledBlocks(plan)) {
        const BlockScaler::Params s = scaler.params();
        for (; g + lanes <= last; g += lanes) {
            const VI best = tiledBlockMaxima(plan, x, g);
            if (hn::AllTrue(di, hn::Lt(best, hn::Set(di, 0x7F800000)))) {
                finite &= storeBlockParams(
                    s, plan, largest, hn::BitCast(df, best), hn::FirstN(di, 0), out + (g - first));
            } else {
                BlockAbsmaxRange(plan, x, g, g + lanes, scratch);
                finite &= blockParamsOf(scaler, plan, largest, scratch, lanes, out + (g - first));
            }
        }
    }
    BlockAbsmaxRange(plan, x, g, last, scratch);
    return blockParamsOf(scaler, plan, largest, scratch, last - g, out + (g - first)) && finite;
}

// ---- histogram ----

void HistogramRange(const float* HWY_RESTRICT x, I n, const HistogramPlan& plan, std::int64_t* counts)
{
    const DF df;
    const DH dh;
    const DD dd;
    const DIH dih;
    // Consecutive lanes count into different copies, so runs of equal bins do not serialise on one counter.
    const std::size_t slots = static_cast<std::size_t>(plan.bins) + 3;
    const std::size_t copies = slots <= 65536 + 3 ? 4 : 1;
    std::vector<std::uint32_t> partial(copies * slots, 0);
    const auto flush = [&] {
        for (std::size_t c = 0; c < copies; ++c)
            for (std::size_t s = 0; s < slots; ++s)
                counts[s] += partial[c * slots + s];
        std::fill(partial.begin(), partial.end(), 0u);
    };

    const VD lo = hn::Set(dd, plan.lo);
    const VD hi = hn::Set(dd, plan.hi);
    const VD scale = hn::Set(dd, plan.scale);
    const VD last = hn::Set(dd, plan.bins - 1);
    const VD below = hn::Set(dd, plan.below());
    const VD above = hn::Set(dd, plan.above());
    const VD nonFinite = hn::Set(dd, plan.nonFinite());
    const VD infinity = hn::Set(dd, std::numeric_limits<double>::infinity());
    const VD zero = hn::Zero(dd);
    const bool zeroWidth = plan.scale == 0;
    HWY_ALIGN std::int32_t slot[kF];
    I sinceFlush = 0;
    for (I i = 0; i < n; i += static_cast<I>(kF)) {
        const std::size_t valid = static_cast<std::size_t>(std::min<I>(static_cast<I>(kF), n - i));
        prefetchAhead(x, i, n);
        VF v = valid == kF ? hn::LoadU(df, x + i) : loadTail(x + i, valid);
        if (plan.absolute)
            v = hn::Abs(v);
        for (std::size_t h = 0; h < 2; ++h) {
            const VD d = hn::PromoteTo(dd, h == 0 ? hn::LowerHalf(dh, v) : hn::UpperHalf(dh, v));
            const auto inRange = hn::And(hn::Ge(d, lo), hn::Le(d, hi)); // false for NaN
            VD position;
            if (zeroWidth) {
                position = last;
            } else {
                position = hn::Min(hn::Mul(hn::Sub(d, lo), scale), last);
            }
            if (!hn::AllTrue(dd, inRange)) {
                position = hn::IfThenElse(hn::Lt(d, lo), below, hn::Max(position, zero));
                position = hn::IfThenElse(hn::Gt(d, hi), above, position);
                position = hn::IfThenElse(hn::Lt(hn::Abs(d), infinity), position, nonFinite);
            }
            hn::StoreU(hn::DemoteTo(dih, position), dih, slot + h * kD);
        }
        if (valid == kF && copies == 4) {
            for (std::size_t j = 0; j < kF; ++j)
                ++partial[(j & 3) * slots + static_cast<std::size_t>(slot[j])];
        } else {
            for (std::size_t j = 0; j < valid; ++j)
                ++partial[(j & (copies - 1)) * slots + static_cast<std::size_t>(slot[j])];
        }
        sinceFlush += static_cast<I>(valid);
        if (sinceFlush >= (I {1} << 30)) {
            flush();
            sinceFlush = 0;
        }
    }
    flush();
}

// ---- fused fake-quantize + error ----

/// a·b + c rounded once, as std::fma: the target's FMA instruction, or lane by lane where it has none
/// (Highway's MulAdd there rounds twice).
HWY_INLINE VF fusedMulAdd(VF a, VF b, VF c)
{
#if HWY_NATIVE_FMA
    return hn::MulAdd(a, b, c);
#else
    const DF df;
    HWY_ALIGN float la[kF];
    HWY_ALIGN float lb[kF];
    HWY_ALIGN float lc[kF];
    hn::Store(a, df, la);
    hn::Store(b, df, lb);
    hn::Store(c, df, lc);
    for (std::size_t j = 0; j < kF; ++j)
        lc[j] = std::fma(la[j], lb[j], lc[j]);
    return hn::Load(df, lc);
#endif
}

/// The accumulators of one chunk (kernels.h): runs[s][k] holds the float partials of block lanes
/// [k·kF, (k+1)·kF) of sum s in the current run; sums[s][j] the double lane accumulators of block lanes
/// [j·kD, (j+1)·kD).
struct ErrorAccumulator {
    VF runs[kSumCount][kVectors];
    VD sums[kSumCount][2 * kVectors];
    /// The largest e so far as integer lanes of its bits (e >= 0 orders as its bits do): an integer max
    /// issues on more vector pipes than a float one.
    VI maxError;
    /// UnclippedIntegerElement: the largest |v| of the current run, as integer lanes of its bits.
    VI scaledMax;
    I count = 0;
    I clipped = 0;

    ErrorAccumulator()
        : maxError(hn::Zero(DI()))
        , scaledMax(hn::Zero(DI()))
    {
        for (auto& run : runs)
            for (VF& lanes : run)
                lanes = hn::Zero(DF());
        for (auto& sum : sums)
            for (VD& lanes : sum)
                lanes = hn::Zero(DD());
    }

    /// Float vector k of a block: x and x̂ already zero where x is not finite.
    template<bool ReconstructionFinite> HWY_INLINE void add(std::size_t k, VF x, VF y)
    {
        const DF df;
        VF error = hn::Abs(hn::Sub(x, y));
        if constexpr (!ReconstructionFinite) {
            error = hn::IfThenElse(
                hn::IsNaN(error), hn::Set(df, std::numeric_limits<float>::infinity()), error);
            y = hn::IfThenElseZero(hn::IsFinite(y), y);
        }
        runs[kSquaredError][k] = fusedMulAdd(error, error, runs[kSquaredError][k]);
        runs[kAbsError][k] = hn::Add(runs[kAbsError][k], error);
        runs[kSquaredSignal][k] = fusedMulAdd(x, x, runs[kSquaredSignal][k]);
        runs[kAbsSignal][k] = hn::Add(runs[kAbsSignal][k], hn::Abs(x));
        runs[kProduct][k] = fusedMulAdd(x, y, runs[kProduct][k]);
        runs[kSquaredRecon][k] = fusedMulAdd(y, y, runs[kSquaredRecon][k]);
        maxError = hn::Max(maxError, hn::BitCast(DI(), error));
    }

    /// The counters and the running maximum, as they stood at the start of a run.
    struct Tallies {
        VI maxError;
        I count;
        I clipped;
    };

    HWY_INLINE Tallies tallies() const { return {maxError, count, clipped}; }

    /// Drops the current run: the tallies as they were at its start, the float partials back to +0.
    HWY_INLINE void restartRun(const Tallies& start)
    {
        maxError = start.maxError;
        scaledMax = hn::Zero(DI());
        count = start.count;
        clipped = start.clipped;
        for (auto& run : runs)
            for (VF& lanes : run)
                lanes = hn::Zero(DF());
    }

    /// Whether every partial of x² in the current run is finite: a NaN or ±Inf x leaves its lane NaN or +Inf.
    HWY_INLINE bool runFinite() const
    {
        const DF df;
        MF finite = hn::IsFinite(runs[kSquaredSignal][0]);
        for (std::size_t k = 1; k < kVectors; ++k)
            finite = hn::And(finite, hn::IsFinite(runs[kSquaredSignal][k]));
        return hn::AllTrue(df, finite);
    }

    /// Ends a run: the float partials widen into the double lanes and restart from +0.
    HWY_INLINE void fold()
    {
        const DD dd;
        const DH dh;
        for (int s = 0; s < kSumCount; ++s)
            for (std::size_t k = 0; k < kVectors; ++k) {
                sums[s][2 * k] = hn::Add(sums[s][2 * k], hn::PromoteTo(dd, hn::LowerHalf(dh, runs[s][k])));
                sums[s][2 * k + 1]
                    = hn::Add(sums[s][2 * k + 1], hn::PromoteTo(dd, hn::UpperHalf(dh, runs[s][k])));
                runs[s][k] = hn::Zero(DF());
            }
        scaledMax = hn::Zero(DI());
    }

    void finish(ChunkErrorSums& chunk)
    {
        const DD dd;
        fold();
        HWY_ALIGN double lanes[kSumCount][kKernelLanes];
        for (int s = 0; s < kSumCount; ++s)
            for (std::size_t j = 0; j < 2 * kVectors; ++j)
                hn::Store(sums[s][j], dd, &lanes[s][j * kD]);
        addLanes(lanes, chunk);
        chunk.maxAbsError = hn::GetLane(hn::BitCast(DF(), hn::MaxOfLanes(DI(), maxError)));
        chunk.count = count;
        chunk.clipped = clipped;
    }
};

/// Per-lane copies of group parameters, for blocks that straddle groups.
struct LaneParams {
    HWY_ALIGN float divisor[kKernelLanes]; ///< 1/scale (multiply) or scale (divide)
    HWY_ALIGN float scale[kKernelLanes];
    HWY_ALIGN float low[kKernelLanes];
    HWY_ALIGN float high[kKernelLanes];

    void set(std::size_t lane, const GroupParams& p, bool divide)
    {
        divisor[lane] = divide ? p.scale : p.inverse;
        scale[lane] = p.scale;
        low[lane] = p.low;
        high[lane] = p.high;
    }
};

/// One group's parameters as vectors (every lane the same, or per lane from LaneParams).
struct ParamVectors {
    VF divisor;
    VF scale;
    VF low;
    VF high;
    VF lowBound; ///< low - 1: the quantizer's clamp before rounding
    VF highBound; ///< high + 1
};

HWY_INLINE ParamVectors paramVectors(VF divisor, VF scale, VF low, VF high)
{
    const VF one = hn::Set(DF(), 1.0f);
    return {divisor, scale, low, high, hn::Sub(low, one), hn::Add(high, one)};
}

HWY_INLINE ParamVectors broadcast(const GroupParams& p, bool divide)
{
    const DF df;
    return paramVectors(hn::Set(df, divide ? p.scale : p.inverse), hn::Set(df, p.scale), hn::Set(df, p.low),
        hn::Set(df, p.high));
}

HWY_INLINE ParamVectors loadLanes(const LaneParams& lanes, std::size_t k)
{
    const DF df;
    return paramVectors(hn::Load(df, lanes.divisor + k * kF), hn::Load(df, lanes.scale + k * kF),
        hn::Load(df, lanes.low + k * kF), hn::Load(df, lanes.high + k * kF));
}

template<bool Divide> HWY_INLINE VF scaled(VF x, const ParamVectors& p)
{
    return Divide ? hn::Div(x, p.divisor) : hn::Mul(x, p.divisor);
}

/// Integers, as the quantizer: round(v) + zp clipped when outside [qmin, qmax], i.e. round(v) outside
/// [low, high]. The quantizer clamps v to [low - 1, high + 1] before rounding; roundps needs no clamp,
/// EMU128's addition of 1.5·2^23 keeps it.
template<bool Divide, bool TiesAway> struct IntegerElement {
    explicit IntegerElement(const FakeQuantPlan& plan)
        : clipBeforeRounding(plan.clipBeforeRounding)
    {
    }

    HWY_INLINE VF operator()(VF x, const ParamVectors& p, MF& clip) const
    {
#if HWY_TARGET == HWY_EMU128
        const VF v = hn::Min(hn::Max(scaled<Divide>(x, p), p.lowBound), p.highBound);
#else
        const VF v = scaled<Divide>(x, p);
#endif
        const VF rounded = roundIntegral<TiesAway>(v);
        const VF code = hn::Min(hn::Max(rounded, p.low), p.high);
        clip = clipBeforeRounding ? hn::Or(hn::Gt(v, p.high), hn::Lt(v, p.low)) : hn::Ne(code, rounded);
        return hn::Mul(code, p.scale);
    }

    bool clipBeforeRounding;
};

/// IntegerElement for a run in which every |v| <= FakeQuantPlan::unclippedBound: no element clips (before or
/// after rounding), so round(v)·scale without the clamp and the clip test is x̂ bit for bit. The run's
/// largest |v| goes to ErrorAccumulator::scaledMax (NaN and ±Inf above every finite value), and
/// fakeQuantChunkWalk keeps the run only when inRange says so. Zen 4 issues the float min, max and compare
/// on the pipes that also take every add or every multiply; the integer max goes to any vector pipe.
template<bool Divide, bool TiesAway> struct UnclippedIntegerElement {
    explicit UnclippedIntegerElement(const FakeQuantPlan& plan)
        : bound(hn::BitCast(DI(), hn::Set(DF(), plan.unclippedBound)))
    {
    }

    HWY_INLINE VF operator()(VF x, const ParamVectors& p, MF& clip, VI& scaledMax) const
    {
        const VF v = scaled<Divide>(x, p);
        scaledMax = hn::Max(scaledMax, hn::BitCast(DI(), hn::Abs(v)));
        clip = hn::FirstN(DF(), 0);
        return hn::Mul(roundIntegral<TiesAway>(v), p.scale);
    }

    HWY_INLINE bool inRange(VI scaledMax) const { return hn::AllFalse(DI(), hn::Gt(scaledMax, bound)); }

    VI bound;
};

/// How a minifloat element is rounded; all three give MinifloatRounder::roundBits bit for bit.
enum class MinifloatMethod {
    /// Integer ops on the float bits with a per-lane shift (the rounder itself, vectorised): any format.
    Bits,
    /// Formats whose quantum is a fixed number of float32 mantissa bits everywhere (bias >= 127, M >= 1:
    /// bf16), float32 subnormals included: one fixed shift.
    FixedShift,
    /// RNE by float addition: with C = 1.5·2^(q + 23), q the lane's quantum exponent, (a + C) - C rounds a
    /// to a multiple of 2^q, ties to even, by the FPU itself. Needs C finite: formats whose largest quantum
    /// is small enough (fp8, fp6, fp4, fp16), and whose smallest normal is a float32 normal.
    Magic,
};

MinifloatMethod minifloatMethod(const FakeQuantPlan& plan)
{
    const detail::MinifloatRounder& r = plan.rounder;
    if (r.bias >= 127 && r.mantissaBits >= 1)
        return MinifloatMethod::FixedShift;
    if (r.roundsByMagicAddition())
        return MinifloatMethod::Magic;
    return MinifloatMethod::Bits;
}

/// MinifloatMethod::FixedShift: float bits rounded to a multiple of 2^shift (ties to even, or away), by the
/// add and mask of MinifloatRounder::roundBits. On magnitude bits, or on signed bits whose magnitude the add
/// cannot carry into the sign bit.
template<bool TiesAway> HWY_INLINE VI fixedShiftRounded(VI bits, int shift)
{
    const DI di;
    const VI one = hn::Set(di, 1);
    const VI half = hn::Set(di, 1 << (shift - 1));
    VI add = half;
    if constexpr (!TiesAway)
        add = hn::Add(hn::Sub(half, one), hn::And(hn::ShiftRightSame(bits, shift), one));
    return hn::AndNot(hn::Sub(hn::Set(di, 1 << shift), one), hn::Add(bits, add));
}

template<bool Divide, bool TiesAway, MinifloatMethod Method> struct MinifloatElement {
    explicit MinifloatElement(const FakeQuantPlan& plan)
        : normalField(hn::Set(DI(), 128 - plan.rounder.bias))
        , magic(plan.rounder)
        , shiftBase(hn::Set(DI(), 23 - plan.rounder.mantissaBits))
        , capField(hn::Set(DI(), static_cast<std::int32_t>(plan.rounder.maxBits >> 23) + 1))
        , maxBits(hn::Set(DI(), static_cast<std::int32_t>(plan.rounder.maxBits)))
        , fixedShift(23 - plan.rounder.mantissaBits)
        , clipAbove(hn::Set(DI(), clipAboveBits(plan)))
    {
    }

    HWY_INLINE VF operator()(VF x, const ParamVectors& p, MF& clip) const
    {
        const DI di;
        const VF v = scaled<Divide>(x, p);
        const VI bits = hn::BitCast(di, v);
        const VI u = hn::And(bits, hn::Set(di, 0x7FFFFFFF));
        VI rounded;
        if constexpr (Method == MinifloatMethod::Magic) {
            rounded = magic(bits, u);
        } else if constexpr (Method == MinifloatMethod::FixedShift) {
            rounded = fixedShiftRounded<TiesAway>(u, fixedShift);
        } else {
            const VI zero = hn::Zero(di);
            const VI one = hn::Set(di, 1);
            const VI c23 = hn::Set(di, 23);
            const VI c24 = hn::Set(di, 24);
            const VI exponentField = hn::ShiftRight<23>(u);
            const VI field = hn::Max(exponentField, one);
            const VI shift = hn::Add(shiftBase, hn::Max(hn::Sub(normalField, field), zero));
            const VI boundedShift = hn::Min(shift, c23);
            const VI quantum = one << boundedShift;
            const VI half = hn::ShiftRight<1>(quantum);
            VI add = half;
            if constexpr (!TiesAway) {
                const VI odd = hn::IfThenElse(hn::Lt(shift, c23), hn::And(u >> boundedShift, one),
                    hn::IfThenElseZero(hn::Gt(exponentField, zero), one));
                add = hn::Add(hn::Sub(half, one), odd);
            }
            const VI onGrid = hn::AndNot(hn::Sub(quantum, one), hn::Add(u, add));
            // Below the smallest subnormal: 0, or that subnormal when more than half of it (or a tie,
            // ties-away).
            auto roundsUp = hn::And(hn::Eq(shift, c24), hn::Gt(exponentField, zero));
            if constexpr (!TiesAway)
                roundsUp = hn::AndNot(hn::Eq(hn::And(u, hn::Set(di, 0x7FFFFF)), zero), roundsUp);
            const VI tiny = hn::IfThenElseZero(roundsUp, hn::ShiftLeft<23>(hn::Add(field, one)));
            rounded = hn::IfThenElse(hn::Lt(shift, c24), onGrid, tiny);
        }
        clip = hn::RebindMask(DF(), hn::Gt(u, clipAbove));
        const VI saturated = hn::Min(rounded, maxBits);
        return hn::Mul(hn::CopySignToAbs(hn::BitCast(DF(), saturated), v), p.scale);
    }

    VI normalField; ///< 128 - bias: float exponent field of the smallest normal (2^(1 - bias))
    MagicRounding<DI> magic;
    VI shiftBase; ///< 23 - M
    VI capField;
    VI maxBits;
    int fixedShift;
    VI clipAbove; ///< clipAboveBits
};

/// MinifloatElement (Magic or FixedShift) for a run in which every |v| <= FakeQuantPlan::unclippedBound (the
/// largest |v| that rounds within the grid): nothing clips or saturates and the binade of |v| needs no cap,
/// so x̂ is v rounded times the scale, with neither the clip test nor the saturation nor the sign's removal
/// and return. Magic rounds the signed v ((v + C) - C rounds both signs alike); FixedShift adds to v's own
/// bits, where no carry reaches the sign bit below the bound. A v that rounds to zero gives +0 where the
/// rounder gives -0: x̂ enters the sums only through |x - x̂|, x·x̂ and x̂², which that leaves unchanged.
/// The run's largest |v| goes to ErrorAccumulator::scaledMax, as for UnclippedIntegerElement.
template<bool Divide, bool TiesAway, MinifloatMethod Method> struct UnclippedMinifloatElement {
    static_assert(Method != MinifloatMethod::Bits, "the per-lane shift has no unclipped form");

    explicit UnclippedMinifloatElement(const FakeQuantPlan& plan)
        : magic(plan.rounder)
        , fixedShift(23 - plan.rounder.mantissaBits)
        , bound(hn::BitCast(DI(), hn::Set(DF(), plan.unclippedBound)))
    {
    }

    HWY_INLINE VF operator()(VF x, const ParamVectors& p, MF& clip, VI& scaledMax) const
    {
        const DF df;
        const DI di;
        const VF v = scaled<Divide>(x, p);
        const VI bits = hn::BitCast(di, v);
        scaledMax = hn::Max(scaledMax, hn::And(bits, hn::Set(di, 0x7FFFFFFF)));
        clip = hn::FirstN(df, 0);
        VF rounded;
        if constexpr (Method == MinifloatMethod::Magic) {
            const VI field = hn::Max(hn::And(bits, hn::Set(di, 0x7F800000)), magic.normalFieldBits);
            const VF c = hn::BitCast(df, hn::Add(field, magic.magicBase));
            rounded = hn::Sub(hn::Add(v, c), c);
        } else {
            rounded = hn::BitCast(df, fixedShiftRounded<TiesAway>(bits, fixedShift));
        }
        return hn::Mul(rounded, p.scale);
    }

    HWY_INLINE bool inRange(VI scaledMax) const { return hn::AllFalse(DI(), hn::Gt(scaledMax, bound)); }

    MagicRounding<DI> magic;
    int fixedShift;
    VI bound;
};

/// Lookup tables: the region of v's ordered key found by a compare ladder over the ascending thresholds.
template<bool Divide> struct TableElement {
    explicit TableElement(const FakeQuantPlan& plan)
        : thresholds(plan.thresholds.data())
        , values(plan.values.data())
        , thresholdCount(plan.thresholds.size())
        , lowestKey(hn::Set(DI(), plan.lowestKey))
        , highestKey(hn::Set(DI(), plan.highestKey))
    {
    }

    HWY_INLINE VF operator()(VF x, const ParamVectors& p, MF& clip) const
    {
        const DF df;
        const DI di;
        const VI key = orderedKeys(scaled<Divide>(x, p));
        VF value = hn::Set(df, values[0]);
        for (std::size_t t = 0; t < thresholdCount; ++t)
            value = hn::IfThenElse(hn::RebindMask(df, hn::Lt(key, hn::Set(di, thresholds[t]))), value,
                hn::Set(df, values[t + 1]));
        clip = hn::RebindMask(df, hn::Or(hn::Gt(key, highestKey), hn::Lt(key, lowestKey)));
        return hn::Mul(value, p.scale);
    }

    const std::int32_t* thresholds;
    const float* values;
    std::size_t thresholdCount;
    VI lowestKey;
    VI highestKey;
};

/// Lookup tables of at most 16 regions on 16-lane targets: a branch-free binary search for the region, then
/// the value looked up across lanes. Thresholds are padded with INT32_MAX; the step of width w (8, 4, 2, 1)
/// compares the key with threshold region + w - 1, held at lane `region` of that step's own copy of the
/// thresholds (shifted by w - 1), so the first step is one compare and each later one lookup and compare.
template<bool Divide> struct TableSearchElement {
    static bool applies(const FakeQuantPlan& plan) { return kF == 16 && plan.thresholds.size() <= 15; }

    explicit TableSearchElement(const FakeQuantPlan& plan)
        : lowestKey(hn::Set(DI(), plan.lowestKey))
        , keySpan(hn::Set(
              DU(), static_cast<std::uint32_t>(plan.highestKey) - static_cast<std::uint32_t>(plan.lowestKey)))
    {
        const auto threshold = [&](std::size_t j) {
            return j < plan.thresholds.size() ? plan.thresholds[j] : std::numeric_limits<std::int32_t>::max();
        };
        HWY_ALIGN std::int32_t shifted[3][kF];
        HWY_ALIGN float valueLanes[kF];
        for (std::size_t j = 0; j < kF; ++j) {
            shifted[0][j] = threshold(j + 3);
            shifted[1][j] = threshold(j + 1);
            shifted[2][j] = threshold(j);
            valueLanes[j] = plan.values[std::min(j, plan.values.size() - 1)];
        }
        middle = hn::Set(DI(), threshold(7));
        for (std::size_t step = 0; step < 3; ++step)
            probes[step] = hn::Load(DI(), shifted[step]);
        values = hn::Load(DF(), valueLanes);
    }

    HWY_INLINE VF operator()(VF x, const ParamVectors& p, MF& clip) const
    {
        const VI key = orderedKeys(scaled<Divide>(x, p));
        return decoded(key, region(key), p, clip);
    }

    HWY_INLINE VI region(VI key) const
    {
        const DI di;
        VI region = hn::IfThenZeroElse(hn::Lt(key, middle), hn::Set(di, 8));
        for (std::int32_t step = 0; step < 3; ++step) {
            const VI probe = hn::TableLookupLanes(probes[step], hn::IndicesFromVec(di, region));
            // A select of the sum rather than a sum with a selected step: one masked add on AVX-512.
            region = hn::IfThenElse(hn::Lt(key, probe), region, hn::Add(region, hn::Set(di, 4 >> step)));
        }
        return region;
    }

    /// The value of `region` times the scale; clip where the key lies beyond the table's extreme values.
    HWY_INLINE VF decoded(VI key, VI region, const ParamVectors& p, MF& clip) const
    {
        const DF df;
        // Outside [lowestKey, highestKey] exactly when key - lowestKey, as unsigned, exceeds the span.
        clip = hn::RebindMask(df, hn::Gt(hn::BitCast(DU(), hn::Sub(key, lowestKey)), keySpan));
        return hn::Mul(hn::TableLookupLanes(values, hn::IndicesFromVec(df, region)), p.scale);
    }

    VI lowestKey;
    hn::Vec<DU> keySpan;
    VI middle;
    VI probes[3];
    VF values;
};

/// Lookup tables with bins (table_bins.h, FakeQuantPlan::bins) on 16-lane targets: the dependent chain is
/// one lookup and two compares rather than the search's three lookups and compares. A vector with a NaN v
/// (a NaN scale product) takes the search.
template<bool Divide> struct TableBinElement {
    static bool applies(const FakeQuantPlan& plan)
    {
        return TableSearchElement<Divide>::applies(plan) && SimdTableBins<DF>::applies(plan.bins);
    }

    explicit TableBinElement(const FakeQuantPlan& plan)
        : search(plan)
        , bins(plan.bins)
    {
    }

    HWY_INLINE VF operator()(VF x, const ParamVectors& p, MF& clip) const
    {
        const VF v = scaled<Divide>(x, p);
        const VI key = orderedKeys(v);
        if (HWY_UNLIKELY(!hn::AllFalse(DF(), hn::IsNaN(v))))
            return search.decoded(key, search.region(key), p, clip);
        return search.decoded(key, bins.region(v, key), p, clip);
    }

    TableSearchElement<Divide> search;
    SimdTableBins<DF> bins;
};

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
/// The 32 bins of one threshold of FakeQuantPlan::bins32 as AVX-512 tables: a bin's threshold and its values
/// below and from it, found by two-table permutes (vpermt2ps, which reads the bin from the low five bits of
/// the bin float), then one float compare and a select. A float compare orders like the keys but for ±0, so
/// TableBin32Element::applies asks for no threshold at the key of +0 (where -0 and +0 part).
struct Bin32Lookup {
    explicit Bin32Lookup(const FakeQuantPlan& plan)
        : scale(hn::Set(DF(), plan.bins32.scale))
        , offset(hn::Set(DF(), plan.bins32.offset))
    {
        const DF df;
        // An empty bin's threshold is INT32_MAX, a NaN as a float, which no v reaches.
        HWY_ALIGN float lanes[3][2 * kF];
        for (std::size_t b = 0; b < 2 * kF; ++b) {
            const std::int32_t threshold = plan.bins32.thresholds[0][b];
            const auto region = static_cast<std::size_t>(plan.bins32.base[b]);
            lanes[0][b] = encoderKeyValue(threshold);
            lanes[1][b] = plan.values[region];
            lanes[2][b] = plan.values[std::min(region + 1, plan.values.size() - 1)];
        }
        for (std::size_t t = 0; t < 3; ++t) {
            tables[t][0] = hn::Load(df, lanes[t]);
            tables[t][1] = hn::Load(df, lanes[t] + kF);
        }
    }

    /// The unclamped bin position of v: fma(v, scale, offset).
    HWY_INLINE VF position(VF v) const { return hn::MulAdd(v, scale, offset); }

    /// The table value of v (not NaN) in the bin whose float is `position`.
    HWY_INLINE VF value(VF v, VF position) const
    {
        const __m512i bin = _mm512_castps_si512(position.raw);
        const auto lookup = [&](std::size_t t) {
            return VF {_mm512_permutex2var_ps(tables[t][0].raw, bin, tables[t][1].raw)};
        };
        return hn::IfThenElse(hn::Ge(v, lookup(0)), lookup(2), lookup(1));
    }

    VF scale;
    VF offset;
    VF tables[3][2]; ///< per bin: the threshold, the value below it, the value from it on (two halves)
};

/// Lookup tables with 32 bins of at most one threshold (FakeQuantPlan::bins32) on AVX-512, by Bin32Lookup
/// with the bin clamped to the 32; the clip by float compares with the extreme values, which applies() asks
/// to be nonzero. A vector with a NaN v takes the search.
template<bool Divide> struct TableBin32Element {
    static bool applies(const FakeQuantPlan& plan)
    {
        return TableSearchElement<Divide>::applies(plan) && plan.bins32.count == 32
            && std::find(plan.thresholds.begin(), plan.thresholds.end(), 0) == plan.thresholds.end()
            && encoderKeyValue(plan.lowestKey) != 0 && encoderKeyValue(plan.highestKey) != 0;
    }

    explicit TableBin32Element(const FakeQuantPlan& plan)
        : search(plan)
        , bins(plan)
        , firstBin(hn::Set(DF(), TableBins::kOrigin))
        , lastBin(hn::Set(DF(), TableBins::kOrigin + 31.0f))
        , lowest(hn::Set(DF(), encoderKeyValue(plan.lowestKey)))
        , highest(hn::Set(DF(), encoderKeyValue(plan.highestKey)))
    {
    }

    HWY_INLINE VF operator()(VF x, const ParamVectors& p, MF& clip) const
    {
        const VF v = scaled<Divide>(x, p);
        if (HWY_UNLIKELY(!hn::AllFalse(DF(), hn::IsNaN(v)))) {
            const VI key = orderedKeys(v);
            return search.decoded(key, search.region(key), p, clip);
        }
        clip = hn::Or(hn::Gt(v, highest), hn::Lt(v, lowest));
        return hn::Mul(bins.value(v, hn::Min(hn::Max(bins.position(v), firstBin), lastBin)), p.scale);
    }

    TableSearchElement<Divide> search;
    Bin32Lookup bins;
    VF firstBin;
    VF lastBin;
    VF lowest;
    VF highest;
};

/// TableBin32Element for a run in which every |v| <= FakeQuantPlan::unclippedBound: nothing clips, and bins32
/// (unclampedTableBins) puts such a v in its bin without the clamp, so x̂ is Bin32Lookup's value times the
/// scale, bit for bit. The run's largest |v| goes to ErrorAccumulator::scaledMax (NaN and ±Inf above every
/// finite value), and fakeQuantChunkWalk keeps the run only when inRange says so, as for the other unclipped
/// elements.
template<bool Divide> struct UnclippedTableBin32Element {
    explicit UnclippedTableBin32Element(const FakeQuantPlan& plan)
        : bins(plan)
        , bound(hn::BitCast(DI(), hn::Set(DF(), plan.unclippedBound)))
    {
    }

    HWY_INLINE VF operator()(VF x, const ParamVectors& p, MF& clip, VI& scaledMax) const
    {
        const VF v = scaled<Divide>(x, p);
        scaledMax = hn::Max(scaledMax, hn::BitCast(DI(), hn::Abs(v)));
        clip = hn::FirstN(DF(), 0);
        return hn::Mul(bins.value(v, bins.position(v)), p.scale);
    }

    HWY_INLINE bool inRange(VI scaledMax) const { return hn::AllFalse(DI(), hn::Gt(scaledMax, bound)); }

    Bin32Lookup bins;
    VI bound;
};
#endif

/// ggml Q4_0/Q5_0 (ElementKind::GgmlOffset): trunc(v + offset) clamped to qmax, less the bias, times the
/// scale. w = v + offset is in [0, 128) for the blocks the plan admits, where the truncation is the
/// reference's int8 conversion.
template<bool Divide> struct GgmlOffsetElement {
    explicit GgmlOffsetElement(const FakeQuantPlan& plan)
        : offset(hn::Set(DF(), plan.truncationOffset))
        , top(hn::Set(DF(), static_cast<float>(plan.qmax)))
        , bias(hn::Set(DF(), plan.truncationOffset - 0.5f))
    {
    }

    HWY_INLINE VF operator()(VF x, const ParamVectors& p, MF& clip) const
    {
        const VF truncated = hn::Trunc(hn::Add(scaled<Divide>(x, p), offset));
        clip = hn::Gt(truncated, top);
        return hn::Mul(hn::Sub(hn::Min(truncated, top), bias), p.scale);
    }

    VF offset;
    VF top;
    VF bias;
};

/// x̂ of a vector by `element`, which may also track the run's range in `acc` (the unclipped elements).
template<class Element>
HWY_INLINE VF reconstruct(
    const Element& element, VF x, const ParamVectors& p, MF& clip, ErrorAccumulator& acc)
{
    if constexpr (requires { element(x, p, clip, acc.scaledMax); })
        return element(x, p, clip, acc.scaledMax);
    else
        return element(x, p, clip);
}

/// Float vector k of a block. Unchecked assumes every x finite: a run where one is not shows a non-finite
/// partial of x² and is done again Checked (fakeQuantChunkWalk). Checked lets lanes with a non-finite x take
/// part as x = x̂ = 0, which adds nothing.
template<bool Checked, bool ReconstructionFinite, class Element>
HWY_INLINE void addBlockVector(
    ErrorAccumulator& acc, const Element& element, std::size_t k, VF xRaw, const ParamVectors& p)
{
    const DF df;
    MF clip;
    if constexpr (!Checked) {
        const VF y = reconstruct(element, xRaw, p, clip, acc);
        acc.clipped += static_cast<I>(hn::CountTrue(df, clip));
        acc.count += static_cast<I>(kF);
        acc.add<ReconstructionFinite>(k, xRaw, y);
    } else {
        const MF finite = finiteMask(xRaw);
        const VF x = hn::IfThenElseZero(finite, xRaw);
        const VF y = hn::IfThenElseZero(finite, reconstruct(element, x, p, clip, acc));
        acc.clipped += static_cast<I>(hn::CountTrue(df, hn::And(clip, finite)));
        acc.count += static_cast<I>(hn::CountTrue(df, finite));
        acc.add<ReconstructionFinite>(k, x, y);
    }
}

/// The whole blocks [b, e) of one group.
template<bool Checked, bool ReconstructionFinite, class Element>
HWY_INLINE void addUniformBlocks(ErrorAccumulator& acc, const Element& element, const float* HWY_RESTRICT x,
    I b, I e, I n, const ParamVectors& p)
{
    const DF df;
    for (; b < e; b += kKernelLanes) {
        prefetchAhead(x, b, n, kKernelLanes);
        for (std::size_t k = 0; k < kVectors; ++k)
            addBlockVector<Checked, ReconstructionFinite>(acc, element, k, hn::LoadU(df, x + b + k * kF), p);
    }
}

/// Groups of whole blocks that tile their rows (per group along the last axis, the block formats): group g
/// holds [g·groupSize, (g+1)·groupSize), and its parameters follow those of group g - 1.
class TiledGroupWalk {
public:
    static bool applies(const FakeQuantPlan& plan)
    {
        return plan.pattern == GroupPattern::Row && plan.blockHeight == 1
            && plan.groupSize % kKernelLanes == 0 && plan.rowLength % plan.groupSize == 0;
    }

    TiledGroupWalk(const FakeQuantPlan& plan, I begin)
        : m_plan(&plan)
        , m_group(begin / plan.groupSize)
    {
    }

    /// Adds the elements [b, e) of a run; b and e are block boundaries.
    template<bool Checked, bool ReconstructionFinite, class Element>
    HWY_INLINE void run(ErrorAccumulator& acc, const Element& element, const float* HWY_RESTRICT x, I b, I e)
    {
        // Groups that divide a run start and end with it (chunks and runs start on group boundaries):
        // whole groups with their block loop unrolled.
        switch (kKernelRun % m_plan->groupSize == 0 ? m_plan->groupSize / kKernelLanes : 0) {
        case 1:
            return wholeGroups<1, Checked, ReconstructionFinite>(acc, element, x, b, e);
        case 2:
            return wholeGroups<2, Checked, ReconstructionFinite>(acc, element, x, b, e);
        case 4:
            return wholeGroups<4, Checked, ReconstructionFinite>(acc, element, x, b, e);
        case 8:
            return wholeGroups<8, Checked, ReconstructionFinite>(acc, element, x, b, e);
        default:
            break;
        }
        while (b < e) {
            const I groupEnd = (m_group + 1) * m_plan->groupSize;
            const I segmentEnd = std::min(e, groupEnd);
            const GroupParams& params = m_plan->groups[static_cast<std::size_t>(m_group - m_plan->groupBase)];
            addUniformBlocks<Checked, ReconstructionFinite>(
                acc, element, x, b, segmentEnd, m_plan->elementCount, broadcast(params, m_plan->divide));
            b = segmentEnd;
            if (b == groupEnd)
                ++m_group;
        }
    }

private:
    template<int BlocksPerGroup, bool Checked, bool ReconstructionFinite, class Element>
    HWY_INLINE void wholeGroups(
        ErrorAccumulator& acc, const Element& element, const float* HWY_RESTRICT x, I b, const I e)
    {
        const DF df;
        const I n = m_plan->elementCount;
        const bool divide = m_plan->divide;
        const GroupParams* params = m_plan->groups.data() + (m_group - m_plan->groupBase);
        for (; b < e; b += BlocksPerGroup * kKernelLanes, ++params, ++m_group) {
            const ParamVectors p = broadcast(*params, divide);
            for (int j = 0; j < BlocksPerGroup; ++j) {
                const I at = b + j * kKernelLanes;
                prefetchAhead(x, at, n, kKernelLanes);
                for (std::size_t k = 0; k < kVectors; ++k)
                    addBlockVector<Checked, ReconstructionFinite>(
                        acc, element, k, hn::LoadU(df, x + at + k * kF), p);
            }
        }
    }

    const FakeQuantPlan* m_plan;
    I m_group;
};

/// Any grouping, through GroupCursor: whole blocks of one group at a time, and per-lane parameters for a
/// block that straddles a group boundary or the end of the chunk.
class CursorWalk {
public:
    CursorWalk(const FakeQuantPlan& plan, I begin)
        : m_plan(&plan)
        , m_cursor(plan, begin)
    {
    }

    /// Adds the elements [b, e) of a run; b is a block boundary, e one too or the end of the chunk.
    template<bool Checked, bool ReconstructionFinite, class Element>
    HWY_INLINE void run(ErrorAccumulator& acc, const Element& element, const float* HWY_RESTRICT x, I b, I e)
    {
        const DF df;
        while (b < e) {
            while (b >= m_cursor.end)
                m_cursor.advance();
            const I uniformEnd = b + (std::min(e, m_cursor.end) - b) / kKernelLanes * kKernelLanes;
            if (uniformEnd > b) {
                addUniformBlocks<Checked, ReconstructionFinite>(acc, element, x, b, uniformEnd,
                    m_plan->elementCount, broadcast(m_cursor.params(), m_plan->divide));
                b = uniformEnd;
                continue;
            }
            HWY_ALIGN float padded[kKernelLanes];
            LaneParams lanes;
            for (I j = 0; j < kKernelLanes; ++j) {
                if (b + j < e) {
                    while (b + j >= m_cursor.end)
                        m_cursor.advance();
                    padded[j] = x[b + j];
                } else {
                    padded[j] = std::numeric_limits<float>::quiet_NaN();
                }
                lanes.set(static_cast<std::size_t>(j), m_cursor.params(), m_plan->divide);
            }
            // Checked whatever the run: the lanes past the end are NaN.
            for (std::size_t k = 0; k < kVectors; ++k)
                addBlockVector<true, ReconstructionFinite>(
                    acc, element, k, hn::Load(df, padded + k * kF), loadLanes(lanes, k));
            b += kKernelLanes;
        }
    }

private:
    const FakeQuantPlan* m_plan;
    GroupCursor m_cursor;
};

/// Run by run: each first Unchecked, and again Checked when it met a non-finite x. With `fast`
/// (UnclippedIntegerElement, UnclippedMinifloatElement), runs take it first while they stay within its range;
/// the first run that does not is done again with `element`, which takes the rest of the chunk (a scale that
/// clips some elements clips them in most runs).
template<bool ReconstructionFinite, class Walk, class Element, class Fast = Element>
ChunkErrorSums fakeQuantChunkWalk(const FakeQuantPlan& plan, const Element& element,
    const float* HWY_RESTRICT x, I begin, I end, const Fast* fast = nullptr)
{
    ErrorAccumulator acc;
    Walk walk(plan, begin);
    for (I r = begin; r < end; r += kKernelRun) {
        const I runEnd = std::min(end, r + kKernelRun);
        const Walk runStart = walk;
        const ErrorAccumulator::Tallies tallies = acc.tallies();
        bool done = false;
        if constexpr (!std::is_same_v<Fast, Element>) {
            if (fast) {
                walk.template run<false, ReconstructionFinite>(acc, *fast, x, r, runEnd);
                done = acc.runFinite() && fast->inRange(acc.scaledMax);
                if (!done) {
                    walk = runStart;
                    acc.restartRun(tallies);
                    fast = nullptr;
                }
            }
        }
        if (!done) {
            walk.template run<false, ReconstructionFinite>(acc, element, x, r, runEnd);
            if (!acc.runFinite()) {
                walk = runStart;
                acc.restartRun(tallies);
                walk.template run<true, ReconstructionFinite>(acc, element, x, r, runEnd);
            }
        }
        acc.fold();
    }
    ChunkErrorSums chunk;
    acc.finish(chunk);
    chunk.nonFinite = (end - begin) - chunk.count;
    return chunk;
}

template<bool ReconstructionFinite, class Element, class Fast>
ChunkErrorSums fakeQuantChunkWith(const FakeQuantPlan& plan, const Element& element,
    const float* HWY_RESTRICT x, I begin, I end, const Fast* fast)
{
    return TiledGroupWalk::applies(plan)
        ? fakeQuantChunkWalk<ReconstructionFinite, TiledGroupWalk>(plan, element, x, begin, end, fast)
        : fakeQuantChunkWalk<ReconstructionFinite, CursorWalk>(plan, element, x, begin, end, fast);
}

template<class Element, class Fast = Element>
ChunkErrorSums fakeQuantChunkFinite(const FakeQuantPlan& plan, const Element& element, const float* x,
    I begin, I end, const Fast* fast = nullptr)
{
    return plan.reconstructionFinite ? fakeQuantChunkWith<true>(plan, element, x, begin, end, fast)
                                     : fakeQuantChunkWith<false>(plan, element, x, begin, end, fast);
}

/// `Element` on every run, or `Fast` (an unclipped element) first where the plan has a bound for it.
template<class Element, class Fast>
ChunkErrorSums unclippedRunsChunk(const FakeQuantPlan& plan, const float* x, I begin, I end)
{
    const Element element(plan);
    if (plan.unclippedBound > 0) {
        const Fast fast(plan);
        return fakeQuantChunkFinite(plan, element, x, begin, end, &fast);
    }
    return fakeQuantChunkFinite(plan, element, x, begin, end);
}

template<bool Divide, bool TiesAway>
ChunkErrorSums integerChunk(const FakeQuantPlan& plan, const float* x, I begin, I end)
{
    return unclippedRunsChunk<IntegerElement<Divide, TiesAway>, UnclippedIntegerElement<Divide, TiesAway>>(
        plan, x, begin, end);
}

template<bool Divide, bool TiesAway, MinifloatMethod Method>
ChunkErrorSums minifloatChunk(const FakeQuantPlan& plan, const float* x, I begin, I end)
{
    return unclippedRunsChunk<MinifloatElement<Divide, TiesAway, Method>,
        UnclippedMinifloatElement<Divide, TiesAway, Method>>(plan, x, begin, end);
}

template<bool Divide>
ChunkErrorSums fakeQuantChunkScaled(const FakeQuantPlan& plan, const float* x, I begin, I end)
{
    switch (plan.kind) {
    case ElementKind::Integer:
        return plan.tiesAway ? integerChunk<Divide, true>(plan, x, begin, end)
                             : integerChunk<Divide, false>(plan, x, begin, end);
    case ElementKind::Minifloat:
        switch (minifloatMethod(plan)) {
        case MinifloatMethod::Magic:
            return minifloatChunk<Divide, false, MinifloatMethod::Magic>(plan, x, begin, end);
        case MinifloatMethod::FixedShift:
            return plan.tiesAway
                ? minifloatChunk<Divide, true, MinifloatMethod::FixedShift>(plan, x, begin, end)
                : minifloatChunk<Divide, false, MinifloatMethod::FixedShift>(plan, x, begin, end);
        case MinifloatMethod::Bits:
            break;
        }
        return plan.tiesAway ? fakeQuantChunkFinite(
                   plan, MinifloatElement<Divide, true, MinifloatMethod::Bits>(plan), x, begin, end)
                             : fakeQuantChunkFinite(plan,
                                 MinifloatElement<Divide, false, MinifloatMethod::Bits>(plan), x, begin, end);
    case ElementKind::Table:
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
        if (TableBin32Element<Divide>::applies(plan))
            return unclippedRunsChunk<TableBin32Element<Divide>, UnclippedTableBin32Element<Divide>>(
                plan, x, begin, end);
#endif
        if (TableBinElement<Divide>::applies(plan))
            return fakeQuantChunkFinite(plan, TableBinElement<Divide>(plan), x, begin, end);
        if (TableSearchElement<Divide>::applies(plan))
            return fakeQuantChunkFinite(plan, TableSearchElement<Divide>(plan), x, begin, end);
        return fakeQuantChunkFinite(plan, TableElement<Divide>(plan), x, begin, end);
    case ElementKind::GgmlOffset:
        return fakeQuantChunkFinite(plan, GgmlOffsetElement<Divide>(plan), x, begin, end);
    }
    return {};
}

ChunkErrorSums FakeQuantChunk(const FakeQuantPlan& plan, const float* x, I begin, I end)
{
    return plan.divide ? fakeQuantChunkScaled<true>(plan, x, begin, end)
                       : fakeQuantChunkScaled<false>(plan, x, begin, end);
}

/// The float-run sums of x[begin, end) against a given x̂ y[0, end - begin): the accumulation of
/// fakeQuantChunkWith without an element function (x̂ may be anything where x is not finite).
/// The elements [b, e) of one run of ErrorChunk (x̂ of element i at y[i - begin]). Unchecked takes every x
/// as finite (a run where one is not shows a non-finite partial of x² and is done again Checked); the last
/// partial block, padded with NaN, is always checked.
template<bool Checked>
HWY_INLINE void errorRun(
    ErrorAccumulator& acc, const float* HWY_RESTRICT x, const float* HWY_RESTRICT y, I begin, I b, I e)
{
    const DF df;
    const auto add = [&](std::size_t k, VF xRaw, VF yRaw, auto checked) {
        if constexpr (!decltype(checked)::value) {
            acc.count += static_cast<I>(kF);
            acc.add<false>(k, xRaw, yRaw);
        } else {
            const MF finite = finiteMask(xRaw);
            acc.count += static_cast<I>(hn::CountTrue(df, finite));
            acc.add<false>(k, hn::IfThenElseZero(finite, xRaw), hn::IfThenElseZero(finite, yRaw));
        }
    };
    for (; b + kKernelLanes <= e; b += kKernelLanes)
        for (std::size_t k = 0; k < kVectors; ++k)
            add(k, hn::LoadU(df, x + b + k * kF), hn::LoadU(df, y + (b - begin) + k * kF),
                std::bool_constant<Checked> {});
    if (b == e)
        return;
    HWY_ALIGN float paddedX[kKernelLanes];
    HWY_ALIGN float paddedY[kKernelLanes];
    for (I j = 0; j < kKernelLanes; ++j) {
        paddedX[j] = b + j < e ? x[b + j] : std::numeric_limits<float>::quiet_NaN();
        paddedY[j] = b + j < e ? y[b - begin + j] : 0.0f;
    }
    for (std::size_t k = 0; k < kVectors; ++k)
        add(k, hn::Load(df, paddedX + k * kF), hn::Load(df, paddedY + k * kF), std::true_type {});
}

ChunkErrorSums ErrorChunk(const float* HWY_RESTRICT x, const float* HWY_RESTRICT y, I begin, I end)
{
    ErrorAccumulator acc;
    for (I r = begin; r < end; r += kKernelRun) {
        const I runEnd = std::min(end, r + kKernelRun);
        const ErrorAccumulator::Tallies tallies = acc.tallies();
        errorRun<false>(acc, x, y, begin, r, runEnd);
        if (!acc.runFinite()) {
            acc.restartRun(tallies);
            errorRun<true>(acc, x, y, begin, r, runEnd);
        }
        acc.fold();
    }
    ChunkErrorSums chunk;
    acc.finish(chunk);
    chunk.nonFinite = (end - begin) - chunk.count;
    return chunk;
}

// ---- bandwidth baseline ----

std::uint32_t StreamRead(const float* HWY_RESTRICT x, I n)
{
    const hn::ScalableTag<std::uint32_t> du;
    const hn::Rebind<float, decltype(du)> df;
    const auto lanes = static_cast<I>(hn::Lanes(du));
    auto s0 = hn::Zero(du);
    auto s1 = hn::Zero(du);
    auto s2 = hn::Zero(du);
    auto s3 = hn::Zero(du);
    I i = 0;
    for (; i + 4 * lanes <= n; i += 4 * lanes) {
        prefetchAhead(x, i, n, 4 * lanes);
        s0 = hn::Add(s0, hn::BitCast(du, hn::LoadU(df, x + i)));
        s1 = hn::Add(s1, hn::BitCast(du, hn::LoadU(df, x + i + lanes)));
        s2 = hn::Add(s2, hn::BitCast(du, hn::LoadU(df, x + i + 2 * lanes)));
        s3 = hn::Add(s3, hn::BitCast(du, hn::LoadU(df, x + i + 3 * lanes)));
    }
    std::uint32_t sum = hn::GetLane(hn::SumOfLanes(du, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
    for (; i < n; ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, x + i, sizeof bits);
        sum += bits;
    }
    return sum;
}

// ---- torch's CPU mean of |x| (the ternary scales) ----

using D8 = hn::CappedTag<float, 8>;
constexpr std::size_t kTorchVectors = 8 / hn::MaxLanes(D8());

/// One at::vec::Vectorized<float> of torch's AVX2 sum (8 lanes), as kTorchVectors vectors of this target.
struct TorchLanes {
    hn::Vec<D8> v[kTorchVectors];

    static HWY_INLINE TorchLanes zero()
    {
        TorchLanes t;
        for (auto& lanes : t.v)
            lanes = hn::Zero(D8());
        return t;
    }

    static HWY_INLINE TorchLanes magnitudes(const float* HWY_RESTRICT x)
    {
        TorchLanes t;
        for (std::size_t k = 0; k < kTorchVectors; ++k)
            t.v[k] = hn::Abs(hn::LoadU(D8(), x + k * hn::MaxLanes(D8())));
        return t;
    }

    HWY_INLINE void add(const TorchLanes& other)
    {
        for (std::size_t k = 0; k < kTorchVectors; ++k)
            v[k] = hn::Add(v[k], other.v[k]);
    }
};

/// blockformat::torchCpuMeanAbs with its 8-lane sums as vector adds: vectorized_inner_sum's whole vectors
/// through row_sum (rows of 4, a cascade of 4 levels of 2^max(4, ceil(log2 rows) / 4) rows), then the
/// scalar tail, then the 8 lanes in order, divided by n.
float MeanAbs(const float* HWY_RESTRICT x, I n)
{
    constexpr I kWidth = 8;
    if (n < kWidth)
        return blockformat::torchCpuMeanAbs(x, n);
    constexpr I ilp = 4;
    constexpr I levels = 4;
    const I vectors = n / kWidth;
    const I rows = vectors / ilp;
    const I ceilLog2 = rows <= 2 ? 1 : static_cast<I>(std::bit_width(static_cast<std::uint64_t>(rows) - 1));
    const I levelPower = std::max<I>(4, ceilLog2 / levels);
    const I levelStep = I {1} << levelPower;
    const I levelMask = levelStep - 1;
    TorchLanes acc[levels][ilp];
    for (auto& level : acc)
        for (TorchLanes& lanes : level)
            lanes = TorchLanes::zero();
    const auto load = [&](I vector) { return TorchLanes::magnitudes(x + vector * kWidth); };
    I i = 0;
    while (i + levelStep <= rows) {
        for (I j = 0; j < levelStep; ++j, ++i) {
            prefetchAhead(x, i * ilp * kWidth, n, ilp * kWidth);
            for (I k = 0; k < ilp; ++k)
                acc[0][k].add(load(i * ilp + k));
        }
        for (I j = 1; j < levels; ++j) {
            for (I k = 0; k < ilp; ++k) {
                acc[j][k].add(acc[j - 1][k]);
                acc[j - 1][k] = TorchLanes::zero();
            }
            if ((i & (levelMask << (j * levelPower))) != 0)
                break;
        }
    }
    for (; i < rows; ++i)
        for (I k = 0; k < ilp; ++k)
            acc[0][k].add(load(i * ilp + k));
    for (I j = 1; j < levels; ++j)
        for (I k = 0; k < ilp; ++k)
            acc[0][k].add(acc[j][k]);
    TorchLanes total = acc[0][0];
    for (I t = rows * ilp; t < vectors; ++t)
        total.add(load(t));
    for (I k = 1; k < ilp; ++k)
        total.add(acc[0][k]);
    HWY_ALIGN float lanes[kWidth];
    for (std::size_t k = 0; k < kTorchVectors; ++k)
        hn::Store(total.v[k], D8(), lanes + k * hn::MaxLanes(D8()));
    float sum = 0.0f;
    for (I k = vectors * kWidth; k < n; ++k)
        sum += std::fabs(x[k]);
    for (const float lane : lanes)
        sum += lane;
    return sum / static_cast<float>(n);
}

const CpuKernels* TargetKernels()
{
    static const CpuKernels kernels {hwy::TargetName(HWY_TARGET), &MinMaxRange, &HistogramRange,
        &FakeQuantChunk, &ErrorChunk, &StreamRead, &BlockAbsmaxRange, &GroupMinMaxRange, &BlockParamsRange,
        &MeanAbs};
    return &kernels;
}

#endif // HWY_TARGET == HWY_SCALAR

} // namespace HWY_NAMESPACE
} // namespace qs::kernel_detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qs::kernel_detail {

HWY_EXPORT(TargetKernels);

namespace {

std::atomic<const CpuKernels*> g_selected {nullptr};

} // namespace

const CpuKernels& simdKernels()
{
    if (const CpuKernels* selected = g_selected.load(std::memory_order_acquire))
        return *selected;
    return *HWY_DYNAMIC_DISPATCH(TargetKernels)();
}

std::vector<const CpuKernels*> simdKernelTargets()
{
    std::vector<const CpuKernels*> targets;
    for (const std::int64_t target : generatedTargets())
        targets.push_back(HWY_DISPATCH_TABLE(TargetKernels)[dispatchIndex(target)]());
    return targets;
}

void useSimdKernels(const CpuKernels* kernels)
{
    g_selected.store(kernels, std::memory_order_release);
}

} // namespace qs::kernel_detail
#endif
