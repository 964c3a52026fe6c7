// The per-vector maxima (or minima) of a vector's lane count of vectors at once, for the Highway files that
// include this per target (after hwy/highway.h); none on HWY_SCALAR.

#if defined(QS_SIMD_TRANSPOSED_MAX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QS_SIMD_TRANSPOSED_MAX_INL_H_
#undef QS_SIMD_TRANSPOSED_MAX_INL_H_
#else
#define QS_SIMD_TRANSPOSED_MAX_INL_H_
#endif

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace qs::kernel_detail {
namespace HWY_NAMESPACE {

#if HWY_TARGET != HWY_SCALAR
/// Lane k of the result: the largest (Min: smallest) lane of v[k], for v[0, lanes) (overwritten): each step
/// pairs the vectors and halves their partials (even lanes against odd lanes), lanes - 1 Max in all instead
/// of a reduction across lanes per vector.
template<bool Min = false, class D>
HWY_INLINE hwy::HWY_NAMESPACE::Vec<D> transposedMax(D d, hwy::HWY_NAMESPACE::Vec<D>* v)
{
    namespace hn = hwy::HWY_NAMESPACE;
    for (std::size_t width = hn::MaxLanes(d); width > 1; width /= 2)
        for (std::size_t j = 0; j < width / 2; ++j) {
            const auto even = hn::ConcatEven(d, v[2 * j + 1], v[2 * j]);
            const auto odd = hn::ConcatOdd(d, v[2 * j + 1], v[2 * j]);
            v[j] = Min ? hn::Min(even, odd) : hn::Max(even, odd);
        }
    return v[0];
}
#endif

} // namespace HWY_NAMESPACE
} // namespace qs::kernel_detail
HWY_AFTER_NAMESPACE();

#endif
