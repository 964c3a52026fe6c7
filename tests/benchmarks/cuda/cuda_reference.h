#pragma once

// Scalar emulations of the CUDA backend's documented conventions (kernels/cuda_kernels.h, kernels/kernels.h),
// written from the documentation alone as a cross-check of both backends: min/max with -0 < +0, and the
// accumulation order of the fused fake-quant error sums. Used by tst_cuda_kernels and the GPU driver, which
// cannot link the kernels module's CPU backends (they need Highway).

// x + a·b must round a·b before the add, as the backends do (nvcc builds: build.sh passes
// -ffp-contract=off to the host compiler).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__) && !defined(__CUDACC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "kernels/kernels.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

namespace qs::cudaref {

inline constexpr std::int64_t kChunk = 4096; ///< kKernelChunk
inline constexpr int kLanes = 16; ///< kKernelLanes
static_assert(kChunk == kKernelChunk && kLanes == kKernelLanes, "kernels.h's accumulation order changed");

/// ErrorSums of x against its reconstruction xhat, in kernels.h's order: per chunk of 4096, element i into
/// lane i mod 16 in index order, the lanes added in order 0..15, the chunk sums added in chunk order.
inline ErrorSums errorSums(std::span<const float> x, std::span<const float> xhat, std::int64_t clipped)
{
    ErrorSums total;
    const std::size_t n = x.size();
    for (std::size_t base = 0; base < n; base += std::size_t(kChunk)) {
        double lanes[6][kLanes] = {};
        const std::size_t end = std::min(n, base + std::size_t(kChunk));
        for (std::size_t i = base; i < end; ++i) {
            if (!std::isfinite(x[i])) {
                ++total.nonFinite;
                continue;
            }
            const double xd = x[i];
            const double yd = xhat[i];
            double e = std::fabs(xd - yd);
            if (std::isnan(e))
                e = INFINITY;
            const std::size_t lane = i % kLanes;
            lanes[0][lane] += e * e;
            lanes[1][lane] += e;
            lanes[2][lane] += xd * xd;
            lanes[3][lane] += std::fabs(xd);
            if (std::isfinite(yd)) {
                lanes[4][lane] += xd * yd;
                lanes[5][lane] += yd * yd;
            }
            total.maxAbsError = std::max(total.maxAbsError, e);
            ++total.count;
        }
        double chunk[6];
        for (int s = 0; s < 6; ++s) {
            chunk[s] = 0;
            for (int l = 0; l < kLanes; ++l)
                chunk[s] += lanes[s][l];
        }
        total.sumSquaredError += chunk[0];
        total.sumAbsError += chunk[1];
        total.sumSquaredSignal += chunk[2];
        total.sumAbsSignal += chunk[3];
        total.sumProduct += chunk[4];
        total.sumSquaredRecon += chunk[5];
    }
    total.clipped = clipped;
    return total;
}

/// Min/max in IEEE totalOrder over the finite values (-0 < +0), absmax = max |x| (kernels/cuda_kernels.h).
inline MinMaxResult minMax(std::span<const float> values)
{
    MinMaxResult r;
    bool any = false;
    const auto less
        = [](float a, float b) { return a < b || (a == b && std::signbit(a) && !std::signbit(b)); };
    for (const float v : values) {
        if (!std::isfinite(v)) {
            ++r.nonFinite;
            continue;
        }
        if (!any) {
            r.min = r.max = v;
            any = true;
        }
        r.min = less(v, r.min) ? v : r.min;
        r.max = less(r.max, v) ? v : r.max;
        r.absmax = std::max(r.absmax, std::fabs(v));
    }
    return r;
}

/// Bitwise equality of floats (+0 and -0 differ); any two NaNs are equal (the device's NaN payloads differ
/// from the host's).
inline bool sameFloat(float a, float b)
{
    return (std::isnan(a) && std::isnan(b))
        || std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

/// Bitwise equality of two MinMaxResults.
inline bool sameMinMax(const MinMaxResult& a, const MinMaxResult& b)
{
    return sameFloat(a.min, b.min) && sameFloat(a.max, b.max) && sameFloat(a.absmax, b.absmax)
        && a.nonFinite == b.nonFinite;
}

/// Bitwise equality of two ErrorSums (== would take -0 == +0 and fail on NaN).
inline bool sameSums(const ErrorSums& a, const ErrorSums& b)
{
    const auto same = [](double p, double q) {
        return std::bit_cast<std::uint64_t>(p) == std::bit_cast<std::uint64_t>(q);
    };
    return same(a.sumSquaredError, b.sumSquaredError) && same(a.sumAbsError, b.sumAbsError)
        && same(a.sumSquaredSignal, b.sumSquaredSignal) && same(a.sumAbsSignal, b.sumAbsSignal)
        && same(a.sumProduct, b.sumProduct) && same(a.sumSquaredRecon, b.sumSquaredRecon)
        && same(a.maxAbsError, b.maxAbsError) && a.count == b.count && a.clipped == b.clipped
        && a.nonFinite == b.nonFinite;
}

} // namespace qs::cudaref
