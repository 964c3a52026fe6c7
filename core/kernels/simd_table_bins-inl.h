// Ordered keys and the region of table_bins.h on 16-lane SIMD targets, for the Highway files that include
// this per target (after hwy/highway.h): the bin's base plus its two compares, all three looked up across
// lanes.

#if defined(QS_SIMD_TABLE_BINS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QS_SIMD_TABLE_BINS_INL_H_
#undef QS_SIMD_TABLE_BINS_INL_H_
#else
#define QS_SIMD_TABLE_BINS_INL_H_
#endif

#include "kernels/table_bins.h"

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace qs::kernel_detail {
namespace HWY_NAMESPACE {

/// encoderKey (encoder_table.h) of every lane: int32 keys that order like the floats, -0 just below +0.
template<class VF> HWY_INLINE auto orderedKeys(VF x)
{
    namespace hn = hwy::HWY_NAMESPACE;
    const hn::RebindToSigned<hn::DFromV<VF>> di;
    const auto bits = hn::BitCast(di, x);
    return hn::Xor(bits, hn::And(hn::ShiftRight<31>(bits), hn::Set(di, 0x7FFFFFFF)));
}

/// TableBins of 16 bins on a float tag DF of 16 lanes (applies() says whether both hold).
template<class DF> struct SimdTableBins {
    using DI = hwy::HWY_NAMESPACE::RebindToSigned<DF>;
    using VF = hwy::HWY_NAMESPACE::Vec<DF>;
    using VI = hwy::HWY_NAMESPACE::Vec<DI>;

    static bool applies(const TableBins& bins)
    {
        return hwy::HWY_NAMESPACE::MaxLanes(DF()) == 16 && bins.count == 16;
    }

    explicit SimdTableBins(const TableBins& bins)
        : scale(hwy::HWY_NAMESPACE::Set(DF(), bins.scale))
        , offset(hwy::HWY_NAMESPACE::Set(DF(), bins.offset))
        , firstBin(hwy::HWY_NAMESPACE::Set(DF(), TableBins::kOrigin))
        , lastBin(hwy::HWY_NAMESPACE::Set(DF(), TableBins::kOrigin + 15.0f))
        , base(hwy::HWY_NAMESPACE::LoadU(DI(), bins.base.data()))
        , first(hwy::HWY_NAMESPACE::LoadU(DI(), bins.thresholds[0].data()))
        , second(hwy::HWY_NAMESPACE::LoadU(DI(), bins.thresholds[1].data()))
    {
    }

    /// The region of every lane: v must hold no NaN, key = encoderKey(v) (or the key the thresholds are
    /// written for).
    HWY_INLINE VI region(VF v, VI key) const
    {
        namespace hn = hwy::HWY_NAMESPACE;
        const DI di;
        const VF position = hn::Min(hn::Max(hn::MulAdd(v, scale, offset), firstBin), lastBin);
        const auto bin = hn::IndicesFromVec(di, hn::And(hn::BitCast(di, position), hn::Set(di, 15)));
        const VI one = hn::Set(di, 1);
        VI region = hn::TableLookupLanes(base, bin);
        region = hn::IfThenElse(hn::Lt(key, hn::TableLookupLanes(first, bin)), region, hn::Add(region, one));
        return hn::IfThenElse(hn::Lt(key, hn::TableLookupLanes(second, bin)), region, hn::Add(region, one));
    }

    VF scale;
    VF offset;
    VF firstBin;
    VF lastBin;
    VI base;
    VI first;
    VI second;
};

} // namespace HWY_NAMESPACE
} // namespace qs::kernel_detail
HWY_AFTER_NAMESPACE();

#endif
