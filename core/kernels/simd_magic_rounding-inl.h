// Rounding on SIMD targets, for the Highway files that include this per target (after hwy/highway.h): the
// fused fake-quant kernels and the packing kernels round minifloats and integers the same way.

#if defined(QS_SIMD_MAGIC_ROUNDING_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QS_SIMD_MAGIC_ROUNDING_INL_H_
#undef QS_SIMD_MAGIC_ROUNDING_INL_H_
#else
#define QS_SIMD_MAGIC_ROUNDING_INL_H_
#endif

#include "quant/scale_rounding.h"

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace qs::kernel_detail {
namespace HWY_NAMESPACE {

/// MinifloatRounder::roundBits with ties to even by the FPU (where MinifloatRounder::roundsByMagicAddition):
/// with C = 1.5 · 2^(q + 23 - M), q the binade of |v| held between the smallest normal's and just above the
/// largest finite value's, (|v| + C) - C rounds |v| to a multiple of the format's quantum there. Beyond the
/// largest finite value the result only has to exceed it (the callers saturate and count it clipped); a ±Inf
/// v gives NaN bits, which do.
template<class DI> struct MagicRounding {
    using VI = hwy::HWY_NAMESPACE::Vec<DI>;

    explicit MagicRounding(const detail::MinifloatRounder& r)
        : normalFieldBits(hwy::HWY_NAMESPACE::Set(DI(), (128 - r.bias) << 23))
        , capFieldBits(hwy::HWY_NAMESPACE::Set(DI(), (static_cast<std::int32_t>(r.maxBits >> 23) + 1) << 23))
        , magicBase(hwy::HWY_NAMESPACE::Set(DI(), ((23 - r.mantissaBits) << 23) | 0x400000))
    {
    }

    /// The rounded magnitude as float bits, from v's bits and its magnitude bits u.
    HWY_INLINE VI operator()(VI bits, VI u) const
    {
        namespace hn = hwy::HWY_NAMESPACE;
        const DI di;
        const hn::RebindToFloat<DI> df;
        // C's exponent field is formed in place (the fields shifted by 23), so that C is one add away.
        const VI field
            = hn::Min(hn::Max(hn::And(bits, hn::Set(di, 0x7F800000)), normalFieldBits), capFieldBits);
        const auto c = hn::BitCast(df, hn::Add(field, magicBase));
        return hn::BitCast(di, hn::Sub(hn::Add(hn::BitCast(df, u), c), c));
    }

    VI normalFieldBits; ///< (128 - bias) << 23: the field bits of the smallest normal
    VI capFieldBits; ///< the field bits just above the largest finite value's binade
    VI magicBase; ///< (23 - M) << 23 | 0x400000: C from the field bits of 2^q
};

/// round(v) to an integer, ties to even or (TiesAway) away from zero, for |v| < 2^22 (the quantizer's
/// roundSmall): hn::Round (roundps, RNE) and a correction of exact halves; on EMU128, whose Round is not
/// exact (0.49999997f -> 1), the quantizer's addition and subtraction of 1.5·2^23.
template<bool TiesAway, class V> HWY_INLINE V roundIntegral(V v)
{
    namespace hn = hwy::HWY_NAMESPACE;
    const hn::DFromV<V> df;
#if HWY_TARGET == HWY_EMU128
    const V magic = hn::Set(df, 12582912.0f);
    V rounded = hn::Sub(hn::Add(v, magic), magic);
#else
    V rounded = hn::Round(v);
#endif
    if constexpr (TiesAway) {
        const V zero = hn::Zero(df);
        const V one = hn::Set(df, 1.0f);
        const V below = hn::Sub(v, rounded);
        rounded = hn::Add(
            rounded, hn::IfThenElseZero(hn::And(hn::Gt(v, zero), hn::Eq(below, hn::Set(df, 0.5f))), one));
        rounded = hn::Sub(
            rounded, hn::IfThenElseZero(hn::And(hn::Lt(v, zero), hn::Eq(below, hn::Set(df, -0.5f))), one));
    }
    return rounded;
}

} // namespace HWY_NAMESPACE
} // namespace qs::kernel_detail
HWY_AFTER_NAMESPACE();

#endif
