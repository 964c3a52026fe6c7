// The simd backend of the packed kernels: Highway, compiled once per target and matched to the target the
// simd backend uses (setSimdTarget). Every code and value equals the scalar reference (scalar_packed.cpp):
// the same float32 operations per element; a vector holding a non-finite x takes the reference per lane.

#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS HWY_SSSE3
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd_packed.cpp"
// clang-format off
#include <hwy/foreach_target.h> // IWYU pragma: keep
#include <hwy/highway.h>
#include "kernels/simd_magic_rounding-inl.h"
#include "kernels/simd_table_bins-inl.h"
// clang-format on

#include "kernels/packed_backends.h"
#include "kernels/simd_dispatch.h"

#include <cmath>
#include <cstring>

HWY_BEFORE_NAMESPACE();
namespace qs::kernel_detail {
namespace HWY_NAMESPACE {

#if HWY_TARGET == HWY_SCALAR
const CpuPackedKernels* TargetPackedKernels()
{
    return renamedTable(scalarPackedKernels(), hwy::TargetName(HWY_TARGET));
}
#else

namespace hn = hwy::HWY_NAMESPACE;
using I = std::int64_t;

using DF = hn::CappedTag<float, 16>;
using DI = hn::RebindToSigned<DF>;
using DU = hn::RebindToUnsigned<DF>;
using D8 = hn::Rebind<std::uint8_t, DF>;
using VF = hn::Vec<DF>;
using VI = hn::Vec<DI>;
using MF = hn::Mask<DF>;
constexpr I kF = static_cast<I>(hn::MaxLanes(DF()));

HWY_INLINE MF finiteMask(VF x)
{
    const DI di;
    const VI magnitude = hn::And(hn::BitCast(di, x), hn::Set(di, 0x7FFFFFFF));
    return hn::RebindMask(DF(), hn::Lt(magnitude, hn::Set(di, 0x7F800000)));
}

HWY_INLINE void storeCodes(VI codes, std::uint8_t* out)
{
    hn::StoreU(hn::TruncateTo(D8(), hn::BitCast(DU(), codes)), D8(), out);
}

/// The reference per element for [i, stop) into codes[i - base]; adds to the counts.
HWY_INLINE void encodeScalar(const PackPlan& plan, const GroupParams& p, const float* x, I i, I stop,
    std::uint8_t* codes, I base, EncodeCounts& counts)
{
    for (; i < stop; ++i) {
        bool clipped = false;
        codes[i - base] = encodeElement(plan, p, x[i], clipped);
        counts.clipped += clipped;
        counts.nonFinite += !isFiniteFloat(x[i]);
    }
}

/// Integer codes of a run of finite x: round(v) + zp clamped to [qmin, qmax] (hn::Round is RNE; EMU128's
/// Round is not exact, so that target keeps the quantizer's clamp and 1.5·2^23 addition).
template<bool Divide, bool TiesAway> struct IntegerCodes {
    explicit IntegerCodes(const PackPlan&)
        : divisor(hn::Zero(DF()))
        , low(divisor)
        , high(divisor)
        , lowBound(divisor)
        , highBound(divisor)
        , zeroPoint(hn::Zero(DI()))
    {
    }

    /// Takes the parameters of the group whose elements come next.
    void setGroup(const GroupParams& p)
    {
        divisor = hn::Set(DF(), Divide ? p.scale : p.inverse);
        low = hn::Set(DF(), p.low);
        high = hn::Set(DF(), p.high);
        lowBound = hn::Set(DF(), p.low - 1.0f);
        highBound = hn::Set(DF(), p.high + 1.0f);
        zeroPoint = hn::Set(DI(), p.zeroPoint);
    }

    HWY_INLINE VI operator()(VF x, MF& clip) const
    {
        VF v = Divide ? hn::Div(x, divisor) : hn::Mul(x, divisor);
#if HWY_TARGET == HWY_EMU128
        v = hn::Min(hn::Max(v, lowBound), highBound);
#endif
        const VF rounded = roundIntegral<TiesAway>(v);
        const VF code = hn::Min(hn::Max(rounded, low), high);
        clip = hn::Ne(code, rounded);
        return hn::Add(hn::ConvertTo(DI(), code), zeroPoint);
    }

    VF divisor, low, high, lowBound, highBound;
    VI zeroPoint;
};

/// Whether MinifloatCodes<…, true> applies: MagicRounding does, and bias lies in [1, 126], so that the
/// smallest normal 2^(1 - bias) is at most 1 and the code offsets below are positive.
bool minifloatCodesByMagic(const PackPlan& plan)
{
    const detail::MinifloatRounder& r = plan.groups.rounder;
    return r.roundsByMagicAddition() && r.bias >= 1 && r.bias <= 126;
}

/// Minifloat codes of a run of finite x: the rounded magnitude r (MinifloatRounder::roundBits), saturated,
/// turned into the code (codeOf) with the sign bit. `Magic` (minifloatCodesByMagic): r by MagicRounding;
/// a normal r's float bits shifted right by 23 - M are its code plus (127 - bias) << M, and a
/// subnormal r (a multiple of 2^(1 - bias - M)) plus 2^(1 - bias) has the code in its mantissa's top M
/// bits, so its shifted bits are the code plus (128 - bias) << M. Every value stays a normal float32 (no
/// subnormal results, which cost microcode assists on x86). Otherwise roundBits with a per-lane shift and
/// codeOf spelled out.
template<bool Divide, bool TiesAway, bool Magic> struct MinifloatCodes {
    explicit MinifloatCodes(const PackPlan& plan)
        : divisor(hn::Set(DF(), 1.0f))
        , normalField(hn::Set(DI(), 128 - plan.groups.rounder.bias))
        , shiftBase(hn::Set(DI(), 23 - plan.groups.rounder.mantissaBits))
        , maxBits(hn::Set(DI(), static_cast<std::int32_t>(plan.groups.rounder.maxBits)))
        , bias(hn::Set(DI(), plan.groups.rounder.bias))
        , signCode(hn::Set(DI(), static_cast<std::int32_t>(plan.signCode)))
        , subnormalShift(hn::Set(DI(), 151 - plan.groups.rounder.mantissaBits - plan.groups.rounder.bias))
        , magic(plan.groups.rounder)
        , smallestNormal(hn::Set(DF(), std::ldexp(1.0f, 1 - plan.groups.rounder.bias)))
        , normalOffset(hn::Set(DI(), (127 - plan.groups.rounder.bias) << plan.groups.rounder.mantissaBits))
        , subnormalOffset(hn::Set(DI(), (128 - plan.groups.rounder.bias) << plan.groups.rounder.mantissaBits))
        , mantissaBits(plan.groups.rounder.mantissaBits)
        , clipAbove(hn::Set(DI(), clipAboveBits(plan.groups)))
    {
    }

    /// Takes the parameters of the group whose elements come next.
    void setGroup(const GroupParams& p) { divisor = hn::Set(DF(), Divide ? p.scale : p.inverse); }

    HWY_INLINE VI operator()(VF x, MF& clip) const
    {
        const DI di;
        const VI absMask = hn::Set(di, 0x7FFFFFFF);
        const VI bits = hn::BitCast(di, Divide ? hn::Div(x, divisor) : hn::Mul(x, divisor));
        const VI u = hn::And(bits, absMask);
        if constexpr (Magic) {
            const VI rounded = magic(bits, u);
            clip = hn::RebindMask(DF(), hn::Gt(u, clipAbove));
            const VF r = hn::BitCast(DF(), hn::Min(rounded, maxBits));
            const MF subnormal = hn::Lt(r, smallestNormal);
            const VF t = hn::IfThenElse(subnormal, hn::Add(r, smallestNormal), r);
            const VI code = hn::Sub(hn::ShiftRightSame(hn::BitCast(di, t), 23 - mantissaBits),
                hn::IfThenElse(hn::RebindMask(di, subnormal), subnormalOffset, normalOffset));
            return hn::Or(code, hn::IfThenElseZero(hn::Lt(bits, hn::Zero(di)), signCode));
        }
        const VI zero = hn::Zero(di);
        const VI one = hn::Set(di, 1);
        const VI c23 = hn::Set(di, 23);
        const VI c24 = hn::Set(di, 24);
        const VI exponentField = hn::ShiftRight<23>(u);
        const VI field = hn::Max(exponentField, one);
        const VI shift = hn::Add(shiftBase, hn::Max(hn::Sub(normalField, field), zero));
        const VI boundedShift = hn::Min(shift, c23);
        const VI quantum = hn::Shl(one, boundedShift);
        const VI half = hn::ShiftRight<1>(quantum);
        VI add = half;
        if constexpr (!TiesAway) {
            const VI odd = hn::IfThenElse(hn::Lt(shift, c23), hn::And(hn::Shr(u, boundedShift), one),
                hn::IfThenElseZero(hn::Gt(exponentField, zero), one));
            add = hn::Add(hn::Sub(half, one), odd);
        }
        const VI onGrid = hn::AndNot(hn::Sub(quantum, one), hn::Add(u, add));
        auto roundsUp = hn::And(hn::Eq(shift, c24), hn::Gt(exponentField, zero));
        if constexpr (!TiesAway)
            roundsUp = hn::AndNot(hn::Eq(hn::And(u, hn::Set(di, 0x7FFFFF)), zero), roundsUp);
        const VI tiny = hn::IfThenElseZero(roundsUp, hn::ShiftLeft<23>(hn::Add(field, one)));
        const VI rounded = hn::IfThenElse(hn::Lt(shift, c24), onGrid, tiny);
        clip = hn::RebindMask(DF(), hn::Gt(u, clipAbove));
        const VI r = hn::Min(rounded, maxBits);

        // codeOf: normal (e + bias) << M | mantissa; subnormal the significand shifted down; 0 stays 0.
        const VI rField = hn::ShiftRight<23>(r);
        const VI normal
            = hn::Or(hn::ShiftLeftSame(hn::Add(hn::Sub(rField, hn::Set(di, 127)), bias), mantissaBits),
                hn::And(hn::ShiftRightSame(r, 23 - mantissaBits), hn::Set(di, (1 << mantissaBits) - 1)));
        const VI significand = hn::Or(hn::And(r, hn::Set(di, 0x7FFFFF)), hn::Set(di, 0x800000));
        const VI down = hn::Min(hn::Max(hn::Sub(subnormalShift, rField), zero), hn::Set(di, 31));
        const VI subnormal = hn::Shr(significand, down);
        VI code = hn::IfThenElse(hn::Gt(rField, hn::Sub(normalField, one)), normal, subnormal);
        code = hn::IfThenElseZero(hn::Ne(r, zero), code);
        return hn::Or(code, hn::IfThenElseZero(hn::Lt(bits, zero), signCode));
    }

    VF divisor;
    VI normalField, shiftBase, maxBits, bias, signCode, subnormalShift;
    MagicRounding<DI> magic;
    VF smallestNormal;
    VI normalOffset, subnormalOffset;
    int mantissaBits;
    VI clipAbove; ///< clipAboveBits
};

/// One run of a group: whole vectors through `Codes`, vectors with a non-finite x and the tail through the
/// reference.
template<class Codes>
HWY_INLINE void encodeRun(const PackPlan& plan, const Codes& codes, const GroupParams& p, const float* x, I i,
    I stop, std::uint8_t* out, I base, EncodeCounts& counts)
{
    const DF df;
    for (; i + kF <= stop; i += kF) {
        const VF v = hn::LoadU(df, x + i);
        if (!hn::AllTrue(df, finiteMask(v))) {
            encodeScalar(plan, p, x, i, i + kF, out, base, counts);
            continue;
        }
        MF clip;
        storeCodes(codes(v, clip), out + (i - base));
        counts.clipped += static_cast<I>(hn::CountTrue(df, clip));
    }
    encodeScalar(plan, p, x, i, stop, out, base, counts);
}

/// NF4: the number of thresholds below s = x · inverse (NaN: none), clipped when |s| > 1; no fallback.
HWY_INLINE void encodeNf4Run(const PackPlan& plan, const SimdTableBins<DF>& bins, const GroupParams& p,
    const float* x, I i, I stop, std::uint8_t* out, I base, EncodeCounts& counts)
{
    const DF df;
    const DI di;
    const VF inverse = hn::Set(df, p.inverse);
    const VF oneF = hn::Set(df, 1.0f);
    const VI one = hn::Set(di, 1);
    const bool binned = SimdTableBins<DF>::applies(plan.nf4Bins);
    for (; i + kF <= stop; i += kF) {
        const VF xv = hn::LoadU(df, x + i);
        const VF s = hn::Mul(xv, inverse);
        VI code = hn::Zero(di);
        if (binned && hn::AllFalse(df, hn::IsNaN(s)))
            code = bins.region(s, orderedKeys(s));
        else
            for (const float t : plan.nf4Thresholds)
                code = hn::Add(code, hn::IfThenElseZero(hn::RebindMask(di, hn::Gt(s, hn::Set(df, t))), one));
        storeCodes(code, out + (i - base));
        counts.clipped += static_cast<I>(hn::CountTrue(df, hn::Gt(hn::Abs(s), oneF)));
        counts.nonFinite += static_cast<I>(kF - hn::CountTrue(df, finiteMask(xv)));
    }
    encodeScalar(plan, p, x, i, stop, out, base, counts);
}

template<class Codes>
EncodeCounts encodeWith(const PackPlan& plan, const float* x, I begin, I end, std::uint8_t* out)
{
    EncodeCounts counts;
    const SimdTableBins<DF> nf4Bins(plan.nf4Bins);
    Codes codes(plan);
    GroupCursor cursor(plan.groups, begin);
    for (I i = begin; i < end;) {
        while (i >= cursor.end)
            cursor.advance();
        const I stop = std::min(end, cursor.end);
        const GroupParams& p = cursor.params();
        if (plan.kind == CodeKind::Nf4) {
            encodeNf4Run(plan, nf4Bins, p, x, i, stop, out, begin, counts);
        } else if (plan.kind == CodeKind::Minifloat && std::isnan(p.scale)) {
            encodeScalar(plan, p, x, i, stop, out, begin, counts);
        } else {
            codes.setGroup(p);
            encodeRun(plan, codes, p, x, i, stop, out, begin, counts);
        }
        i = stop;
    }
    return counts;
}

template<bool Divide, bool TiesAway>
EncodeCounts encodeRounding(const PackPlan& plan, const float* x, I begin, I end, std::uint8_t* out)
{
    if (plan.kind == CodeKind::Integer)
        return encodeWith<IntegerCodes<Divide, TiesAway>>(plan, x, begin, end, out);
    if constexpr (!TiesAway)
        if (minifloatCodesByMagic(plan))
            return encodeWith<MinifloatCodes<Divide, false, true>>(plan, x, begin, end, out);
    return encodeWith<MinifloatCodes<Divide, TiesAway, false>>(plan, x, begin, end, out);
}

EncodeCounts EncodeRange(const PackPlan& plan, const float* x, I begin, I end, std::uint8_t* out)
{
    const bool divide = plan.groups.divide;
    const bool tiesAway = plan.groups.tiesAway;
    if (divide)
        return tiesAway ? encodeRounding<true, true>(plan, x, begin, end, out)
                        : encodeRounding<true, false>(plan, x, begin, end, out);
    return tiesAway ? encodeRounding<false, true>(plan, x, begin, end, out)
                    : encodeRounding<false, false>(plan, x, begin, end, out);
}

/// The table indices of kF consecutive codes of `codes` from code j (j even for nibbles): bytes promoted,
/// or kF/2 bytes split into their two nibbles, each byte's pair placed side by side in a 16-bit lane.
HWY_INLINE VI codeIndices(const CodeRun& codes, I j)
{
    const DI di;
    if (!codes.nibbles)
        return hn::PromoteTo(di, hn::LoadU(D8(), codes.base + j));
    using DU16 = hn::Repartition<std::uint16_t, D8>;
    const DU16 d16;
    const auto bytes = hn::PromoteTo(d16, hn::LoadU(hn::Rebind<std::uint8_t, DU16>(), codes.base + j / 2));
    const auto low = hn::And(bytes, hn::Set(d16, 0x0F));
    const auto high = hn::ShiftRight<4>(bytes);
    const auto pairs
        = codes.highFirst ? hn::Or(high, hn::ShiftLeft<8>(low)) : hn::Or(low, hn::ShiftLeft<8>(high));
    return hn::PromoteTo(di, hn::BitCast(D8(), pairs));
}

/// The first 16 entries of a decode table in registers (the nibble codes' whole table).
struct NibbleTable {
    static constexpr I kParts = (16 + kF - 1) / kF;

    explicit NibbleTable(const std::array<float, 256>& table)
    {
        for (I k = 0; k < kParts; ++k)
            parts[k] = hn::LoadU(DF(), table.data() + k * kF);
    }

    /// table[index] per lane, index in [0, 16): a lane permute per kF entries.
    HWY_INLINE VF operator()(VI index) const
    {
        const DF df;
        const DI di;
        const VI lane = hn::And(index, hn::Set(di, static_cast<std::int32_t>(kF - 1)));
        VF value = hn::TableLookupLanes(parts[0], hn::IndicesFromVec(df, lane));
        for (I k = 1; k < kParts; ++k) {
            const auto inPart = hn::RebindMask(
                df, hn::Eq(hn::Sub(index, lane), hn::Set(di, static_cast<std::int32_t>(k * kF))));
            value
                = hn::IfThenElse(inPart, hn::TableLookupLanes(parts[k], hn::IndicesFromVec(df, lane)), value);
        }
        return value;
    }

    VF parts[kParts];
};

/// minifloatByte per lane of the byte codes b, then the format's exceptions.
HWY_INLINE VF minifloatBytes(const UnpackPlan::MinifloatBytes& format, VI b)
{
    const DF df;
    const DI di;
    const int signShift = format.exponentBits + format.mantissaBits;
    const VI magnitude = hn::And(b, hn::Set(di, (1 << signShift) - 1));
    const VI normal = hn::Add(
        hn::ShiftLeftSame(magnitude, 23 - format.mantissaBits), hn::Set(di, (127 - format.bias) << 23));
    const VF subnormal
        = hn::Mul(hn::ConvertTo(df, hn::And(magnitude, hn::Set(di, (1 << format.mantissaBits) - 1))),
            hn::Set(df, format.subnormalScale));
    const auto isSubnormal = hn::RebindMask(df, hn::Lt(magnitude, hn::Set(di, 1 << format.mantissaBits)));
    const VI sign = hn::ShiftLeftSame(hn::ShiftRightSame(b, signShift), 31);
    VF value = hn::Or(hn::IfThenElse(isSubnormal, subnormal, hn::BitCast(df, normal)), hn::BitCast(df, sign));
    for (int k = 0; k < format.exceptionCount; ++k)
        value = hn::IfThenElse(
            hn::RebindMask(df, hn::Eq(b, hn::Set(di, format.exceptionCodes[static_cast<std::size_t>(k)]))),
            hn::Set(df, format.exceptionValues[static_cast<std::size_t>(k)]), value);
    return value;
}

/// table[code] of kF consecutive codes from code j of the run: the nibbles by NibbleTable, integer bytes
/// converted (their table is the code itself), minifloat bytes decoded, other bytes gathered from the table.
HWY_INLINE VF decodedCodes(const UnpackPlan& plan, const NibbleTable& nibbles, const CodeRun& codes, I j)
{
    const DF df;
    const DI di;
    if (codes.nibbles)
        return nibbles(codeIndices(codes, j));
    switch (plan.byteValues) {
    case UnpackPlan::ByteValues::Unsigned:
        return hn::ConvertTo(df, codeIndices(codes, j));
    case UnpackPlan::ByteValues::Signed: {
        const auto* signedBytes = reinterpret_cast<const std::int8_t*>(codes.base + j);
        return hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(hn::Rebind<std::int8_t, DF>(), signedBytes)));
    }
    case UnpackPlan::ByteValues::Minifloat:
        return minifloatBytes(plan.minifloat, codeIndices(codes, j));
    case UnpackPlan::ByteValues::Table:
        break;
    }
    return hn::GatherIndex(df, plan.table.data(), codeIndices(codes, j));
}

/// out = (table[code] - zp) · scale per group run (decodedCodes); a run's nibbles start on a byte (a first
/// odd one is taken alone).
void DecodeRange(const UnpackPlan& plan, const std::uint8_t* bytes, I begin, I end, float* out)
{
    const DF df;
    const NibbleTable nibbles(plan.table);
    GroupCursor cursor(plan.groups, begin);
    for (I i = begin; i < end;) {
        while (i >= cursor.end)
            cursor.advance();
        const I stop = std::min(end, cursor.end);
        const GroupParams& p = cursor.params();
        const CodeRun codes = codeRun(plan, bytes, cursor.group);
        const float zp = static_cast<float>(p.zeroPoint);
        if (codes.nibbles && ((i - codes.first) & 1) != 0 && i < stop) {
            out[i] = (plan.table[codes.code(i)] - zp) * p.scale;
            ++i;
        }
        const VF zeroPoint = hn::Set(df, zp);
        const VF scale = hn::Set(df, p.scale);
        for (; i + kF <= stop; i += kF)
            hn::StoreU(
                hn::Mul(hn::Sub(decodedCodes(plan, nibbles, codes, i - codes.first), zeroPoint), scale), df,
                out + i);
        for (; i < stop; ++i)
            out[i] = (plan.table[codes.code(i)] - zp) * p.scale;
    }
}

const CpuPackedKernels* TargetPackedKernels()
{
    static const CpuPackedKernels kernels {hwy::TargetName(HWY_TARGET), &EncodeRange, &DecodeRange};
    return &kernels;
}

#endif // HWY_TARGET == HWY_SCALAR

} // namespace HWY_NAMESPACE
} // namespace qs::kernel_detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qs::kernel_detail {

HWY_EXPORT(TargetPackedKernels);

const CpuPackedKernels& simdPackedKernels()
{
    return simdTargetEntry(HWY_DISPATCH_TABLE(TargetPackedKernels));
}

} // namespace qs::kernel_detail
#endif
