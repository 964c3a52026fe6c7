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

#include "formats/number_format.h"
#include "kernels/kernels.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace qs::cudaref {

inline constexpr std::int64_t kChunk = 4096; ///< kKernelChunk
inline constexpr int kLanes = 16; ///< kKernelLanes
static_assert(kChunk == kKernelChunk && kLanes == kKernelLanes, "kernels.h's accumulation order changed");

/// The sums of one chunk [begin, end) in kernels.h's order: float runs, or double when `inDouble`.
struct ChunkSums {
    double sums[6] = {};
    double maxAbsError = 0;
    std::int64_t count = 0;
    std::int64_t nonFinite = 0;
};

inline ChunkSums chunkSums(
    std::span<const float> x, std::span<const float> xhat, std::size_t begin, std::size_t end, bool inDouble)
{
    ChunkSums chunk;
    double lanes[6][kLanes] = {};
    float runs[6][kLanes] = {};
    float maxError = 0;
    for (std::size_t runBegin = begin; runBegin < end; runBegin += std::size_t(kKernelRun)) {
        for (std::size_t i = runBegin; i < std::min(end, runBegin + std::size_t(kKernelRun)); ++i) {
            const float a = x[i];
            const float b = xhat[i];
            if (!std::isfinite(a)) {
                ++chunk.nonFinite;
                continue;
            }
            ++chunk.count;
            const std::size_t lane = i % kLanes;
            if (inDouble) {
                double e = std::fabs(double(a) - double(b));
                if (std::isnan(e))
                    e = INFINITY;
                const double terms[6] = {e * e, e, double(a) * a, std::fabs(double(a)),
                    std::isfinite(b) ? double(a) * b : 0.0, std::isfinite(b) ? double(b) * b : 0.0};
                for (int s = 0; s < 6; ++s)
                    lanes[s][lane] += terms[s];
                chunk.maxAbsError = std::max(chunk.maxAbsError, e);
                continue;
            }
            // The products enter by std::fma (one rounding), the other terms by a float add.
            float e = std::fabs(a - b);
            if (std::isnan(e))
                e = INFINITY;
            runs[0][lane] = std::fma(e, e, runs[0][lane]);
            runs[1][lane] += e;
            runs[2][lane] = std::fma(a, a, runs[2][lane]);
            runs[3][lane] += std::fabs(a);
            if (std::isfinite(b)) {
                runs[4][lane] = std::fma(a, b, runs[4][lane]);
                runs[5][lane] = std::fma(b, b, runs[5][lane]);
            }
            maxError = std::max(maxError, e);
        }
        for (int s = 0; s < 6; ++s)
            for (int lane = 0; lane < kLanes; ++lane) {
                lanes[s][lane] += double(runs[s][lane]);
                runs[s][lane] = 0;
            }
    }
    if (!inDouble)
        chunk.maxAbsError = maxError;
    for (int s = 0; s < 6; ++s)
        for (int lane = 0; lane < kLanes; ++lane)
            chunk.sums[s] += lanes[s][lane];
    return chunk;
}

/// ErrorSums of x against its reconstruction xhat, in kernels.h's order: float runs per chunk (double where
/// the documented test says so, written out here again), chunks added per span, spans in order.
inline ErrorSums errorSums(std::span<const float> x, std::span<const float> xhat, std::int64_t clipped)
{
    ErrorSums total;
    total.clipped = clipped;
    double* totals[6] = {&total.sumSquaredError, &total.sumAbsError, &total.sumSquaredSignal,
        &total.sumAbsSignal, &total.sumProduct, &total.sumSquaredRecon};
    double span[6] = {};
    const std::size_t n = x.size();
    std::int64_t chunkIndex = 0;
    for (std::size_t begin = 0; begin < n; begin += std::size_t(kChunk), ++chunkIndex) {
        const std::size_t end = std::min(n, begin + std::size_t(kChunk));
        ChunkSums chunk = chunkSums(x, xhat, begin, end, false);
        const double* sums = chunk.sums;
        const bool inaccurate = !std::all_of(sums, sums + 6, [](double v) { return std::isfinite(v); })
            || (sums[2] < 0x1p-100 && sums[3] > 0) || (sums[0] < 0x1p-100 && sums[1] > 0)
            || (sums[5] < 0x1p-100 && sums[4] != 0);
        if (inaccurate)
            chunk = chunkSums(x, xhat, begin, end, true);
        for (int s = 0; s < 6; ++s)
            span[s] += chunk.sums[s];
        total.maxAbsError = std::max(total.maxAbsError, chunk.maxAbsError);
        total.count += chunk.count;
        total.nonFinite += chunk.nonFinite;
        if ((chunkIndex + 1) % kKernelSpan == 0 || end == n) {
            for (int s = 0; s < 6; ++s) {
                *totals[s] += span[s];
                span[s] = 0;
            }
        }
    }
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

/// Codes and counts of the scaled E4M3 cast (kernels/cuda_packed.h's cudaScaledE4M3).
struct ScaledCodes {
    std::vector<std::uint8_t> codes;
    std::int64_t clipped = 0;
    std::int64_t nonFinite = 0;
};

/// cudaScaledE4M3 from its documentation: v = x · scale in float32; the E4M3 grid written out (code c =
/// 8e + m: m · 2^-9 for e = 0, (8 + m) · 2^(e - 10) above, up to 448 at 0x7E), the nearest grid point to
/// |v| with ties to the even code, |v| > 464 clipped to 0x7E, the sign in bit 7; NaN and ±Inf x by
/// encodeValue(fp8_e4m3, x).
inline ScaledCodes scaledE4M3(std::span<const float> values, float scale)
{
    const NumberFormat format = formatByName("fp8_e4m3");
    double grid[127];
    for (int c = 0; c < 127; ++c)
        grid[c]
            = (c >> 3) == 0 ? std::ldexp(double(c & 7), -9) : std::ldexp(double(8 + (c & 7)), (c >> 3) - 10);
    ScaledCodes out;
    for (const float x : values) {
        if (!std::isfinite(x)) {
            ++out.nonFinite;
            out.codes.push_back(static_cast<std::uint8_t>(encodeValue(format, x) & 0xFFu));
            continue;
        }
        const float v = x * scale;
        const double magnitude = std::fabs(double(v));
        int code = 126;
        if (magnitude > 464.0) {
            ++out.clipped;
        } else if (magnitude < 448.0) {
            code = static_cast<int>(std::upper_bound(grid, grid + 127, magnitude) - grid) - 1;
            const double below = magnitude - grid[code];
            const double above = grid[code + 1] - magnitude;
            if (above < below || (above == below && (code & 1)))
                ++code;
        }
        out.codes.push_back(static_cast<std::uint8_t>(code | (std::signbit(v) ? 0x80 : 0)));
    }
    return out;
}

/// Normal values of per-row varying magnitude with outliers, zeros of both signs, NaN and ±Inf sprinkled in.
inline std::vector<float> testValues(std::size_t n, unsigned seed, std::size_t rowLength = 1000)
{
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        const float magnitude = std::ldexp(1.0f, static_cast<int>((i / rowLength) % 9) - 4);
        v[i] = normal(rng) * magnitude;
    }
    const float specials[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e30f, -1e30f, FLT_MIN, -FLT_MAX};
    for (std::size_t i = 0; i < n; i += 997)
        v[i] = specials[(i / 997) % std::size(specials)];
    for (std::size_t i = 13; i < n; i += 1499)
        v[i] *= 40.0f;
    return v;
}

/// The values of a block case: testValues with an all-zero start (whole zero blocks), grid ties of every
/// element format scaled by powers of two (variant 5), NaN, ±Inf, subnormals, and a huge last value that
/// underflows the rest of its block. At least 2003 values.
inline std::vector<float> blockCaseValues(const Shape& shape, int variant)
{
    const auto n = static_cast<std::size_t>(shapeElementCount(shape));
    std::vector<float> values = testValues(n, 40 + unsigned(variant), std::size_t(shape.back()));
    if (variant == 12) {
        // Every block of 32 led by 455·2^s (s cycling over -4..4) over small values: its elements scaled
        // by the MX exponent lie just above the element format's largest value (E4M3 455 > 448, E5M2
        // 58240 > 57344…), clipped before rounding, although E4M3's and E5M2's own rounding would keep them.
        for (std::size_t i = 0; i < n; ++i) {
            const int s = static_cast<int>(i / 32 % 9) - 4;
            values[i] = std::ldexp(
                i % 32 == 0 ? 455.0f : static_cast<float>(static_cast<int>(i * 37 % 101) - 50) / 16.0f, s);
        }
    }
    if (variant == 13) {
        // Every fifth block of 32 scaled down to 2^-118 … 2^-129 of its values: block exponents around -121,
        // below which MXINT8's 2^(6-e) is no float, subnormal elements among them.
        for (std::size_t i = 0; i < n; ++i)
            if (i / 32 % 5 == 2)
                values[i]
                    = std::ldexp(std::fmax(std::fmin(values[i], 8.0f), -8.0f), -118 - int(i / 160 % 12));
    }
    if (variant == 16) {
        // Grid ties (variant 5's values) in blocks of 32 scaled by 2^-30 … 2^60, 2^3 apart: block exponents
        // over a wide range, |x| up to about 2^63 so that x² stays finite in float, every element a tie.
        for (std::size_t i = 0; i < n; ++i)
            values[i] = std::ldexp(static_cast<float>(static_cast<int>(i % 97) - 48),
                -3 - int(i % 5) + 3 * int(i / 32 % 31) - 30);
    }
    for (std::size_t i = 0; i < 300; ++i)
        values[i] = 0;
    if (variant == 5)
        for (std::size_t i = 0; i < n; ++i)
            values[i] = std::ldexp(static_cast<float>(static_cast<int>(i % 97) - 48), -3 - int(i % 5));
    values[400] = NAN;
    values[777] = INFINITY;
    values[1500] = -INFINITY;
    values[2001] = 1e-42f;
    values[2002] = -3e-39f;
    if (variant == 7 || variant == 10)
        values[5000] = 3e38f; // E8M0 rounded up: the largest element times the scale overflows
    values[n - 1] = 1e30f;
    if (variant == 14)
        for (std::size_t i = 0; i < n; ++i)
            values[i] = i % 3 == 0 ? NAN : (i % 3 == 1 ? INFINITY : -INFINITY);
    if (variant == 15)
        for (std::size_t i = 0; i < n; ++i)
            values[i] = std::ldexp(static_cast<float>(static_cast<int>(i % 61) - 30), -140);
    return values;
}

/// One case of a scheme on a tensor: its name, the scheme, the shape and the values (the block cases here,
/// the packed cases of cuda_checks.h).
struct SchemeCase {
    std::string name;
    Scheme scheme;
    Shape shape;
    std::vector<float> values;
};

/// One blockFakeQuantError case.
using BlockCase = SchemeCase;

/// Every fused block format with every E8M0 and element rounding, odd block sizes, ragged last blocks,
/// all-zero blocks, NaN/±Inf blocks, subnormals, grid ties and a huge value that underflows its block.
/// Variants 6-12 have blocks of 32-4096 that tile the rows, with a partial last chunk (6, 8, 11), and in
/// variants 7 and 10 a block whose x̂ overflows; with blocks of 32 (6, 10-12) the CUDA pass derives the MX
/// scales itself (GroupPattern::MxBlocks), over whole chunks in variants 10, 12 and 13; variant 12 puts every
/// block's largest element just past the element grid, variant 13 blocks of tiny values (exponents
/// -118 … -129), variant 14 only NaN and ±Inf (no finite value: NVFP4's tensor absmax 0), variant 15 only
/// subnormals and zeros (NVFP4's global scale 1 / absmax · 2688 overflows), variant 16 grid ties in blocks
/// scaled by 2^-30 … 2^60.
inline std::vector<BlockCase> blockCases()
{
    std::vector<BlockCase> cases;
    const BlockFormat formats[] = {BlockFormat::MXFP8_E4M3, BlockFormat::MXFP8_E5M2, BlockFormat::MXFP6_E3M2,
        BlockFormat::MXFP6_E2M3, BlockFormat::MXFP4, BlockFormat::MXINT8, BlockFormat::NVFP4};
    for (const BlockFormat format : formats) {
        for (int variant = 0; variant < 17; ++variant) {
            Scheme scheme;
            scheme.blockFormat = format;
            Shape shape {37, 300};
            switch (variant) {
            case 1:
                scheme.e8m0Rounding = E8M0Rounding::Ceil;
                scheme.elementRounding = Rounding::NearestAway;
                break;
            case 2:
                scheme.e8m0Rounding = E8M0Rounding::Even;
                shape = {3, 2, 4103};
                break;
            case 3:
                scheme.e8m0Rounding = E8M0Rounding::RCeil;
                scheme.blockSize = 7;
                break;
            case 4:
                scheme.blockSize = 1;
                shape = {5000};
                break;
            case 6:
                shape = {41, 256};
                break;
            case 7:
                scheme.e8m0Rounding = E8M0Rounding::Ceil;
                scheme.elementRounding = Rounding::NearestAway;
                scheme.blockSize = 64;
                shape = {2, 3, 4096};
                break;
            case 8:
                scheme.e8m0Rounding = E8M0Rounding::Even;
                scheme.blockSize = 128;
                shape = {9, 2048};
                break;
            case 9:
                scheme.e8m0Rounding = E8M0Rounding::RCeil;
                scheme.blockSize = 4096;
                shape = {3, 8192};
                break;
            case 10:
                shape = {64, 1024};
                break;
            case 11:
                scheme.e8m0Rounding = E8M0Rounding::Even;
                scheme.elementRounding = Rounding::NearestAway;
                shape = {21, 2080};
                break;
            case 12:
            case 13:
            case 14:
            case 15:
            case 16:
                shape = {64, 1024};
                break;
            default:
                break;
            }
            cases.push_back({blockFormatName(format) + " variant " + std::to_string(variant), scheme, shape,
                blockCaseValues(shape, variant)});
        }
    }
    return cases;
}

} // namespace qs::cudaref
