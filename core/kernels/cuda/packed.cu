// The CUDA packed quantize and dequantize kernels (kernels/cuda_packed.h).

#include "formats/number_format.h"
#include "kernels/block_scales.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/fake_quant.cuh"
#include "kernels/cuda/group_ranges.cuh"
#include "kernels/cuda_packed.h"
#include "kernels/encoder_table.h"
#include "kernels/mx_shared_exponent.h"
#include "quant/block_formats.h"
#include "quant/group_geometry.h"
#include "quant/quantizer.h"
#include "quant/scale_rounding.h"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <variant>

namespace qs::cuda {

namespace {

using Layout = PackedLayout;
/// E4M3Hardware: FP8 E4M3 with ties to even and saturation, by the hardware conversion (cvt.rn.satfinite).
enum class Kind { Integer, Minifloat, E4M3Hardware, Nf4 };

struct EncodeArgs {
    Kind kind = Kind::Integer;
    Layout layout = Layout::Byte;
    bool divide = false;
    bool tiesAway = false;
    bool clipBeforeRounding = false;
    int qmin = 0;
    int qmax = 0;
    float qminFloat = 0;
    float qmaxFloat = 0;
    int mantissaBits = 3;
    int bias = 7;
    std::uint32_t maxBits = 0;
    std::uint32_t signCode = 0x80;
    std::uint32_t nanCode = 0;
    std::uint32_t negativeNanCode = 0;
    std::uint32_t positiveInfinityCode = 0;
    std::uint32_t negativeInfinityCode = 0;
    float nf4[15] = {};
    /// 32 bins of at most one threshold (table_bins.h), entries {threshold, code below, code from it on, 0}
    /// that the kernels copy to shared memory: NF4 over the keys of the thresholds' next floats (key(s) >=
    /// threshold is s > nf4[k]), MXFP4 over |v| (the magnitude's code; the sign bit and the clip test
    /// apart). Null: NF4's compare ladder, the minifloat rounding.
    const int4* bins = nullptr;
    float binScale = 0;
    float binOffset = 0;
    Groups groups;
    I n = 0;
    const float* scales = nullptr;
    const float* inverses = nullptr;
    const int* zeroPoints = nullptr; ///< null: all 0
};

struct DecodeArgs {
    float table[256] = {};
    Layout layout = Layout::Byte;
    Groups groups;
    I n = 0;
    const float* scales = nullptr;
    const float* zeroPoints = nullptr; ///< null: all 0
};

/// Elements of one vector of the vector kernels: one float4, 4 code bytes (2 for the nibble layouts).
constexpr int kVector = 4;

/// The parameters of one group, loaded once per vector; the zero point as a float (exact: |zp| < 2^16).
struct GroupParams {
    float scale;
    float inverse;
    float zeroPoint;
};

__device__ GroupParams groupParams(const EncodeArgs& a, I g)
{
    return {__ldg(a.scales + g), __ldg(a.inverses + g),
        a.zeroPoints ? static_cast<float>(__ldg(a.zeroPoints + g)) : 0.0f};
}

/// MinifloatRounder::codeOf.
__device__ std::uint32_t codeOf(std::uint32_t r, int mantissaBits, int bias)
{
    if (r == 0)
        return 0;
    const int exponentField = static_cast<int>(r >> 23);
    const int e = (exponentField > 0 ? exponentField : 1) - 127;
    if (exponentField > 0 && e >= 1 - bias)
        return (static_cast<std::uint32_t>(e + bias) << mantissaBits)
            | ((r >> (23 - mantissaBits)) & ((1u << mantissaBits) - 1u));
    const std::uint32_t significand = (r & 0x7FFFFFu) | (exponentField > 0 ? 0x800000u : 0u);
    return significand >> (23 - mantissaBits + (1 - bias - e));
}

/// E4M3 codes of two floats, ties to even, saturated to ±448 (±Inf included): the hardware conversion on
/// sm_89 and later (qs_cuda_bench --check compares it with the bit rounding for every float), the bit
/// rounding elsewhere. Returns v0's code in the low byte.
__device__ std::uint32_t e4m3PairCodes(float v0, float v1)
{
#if __CUDA_ARCH__ >= 890
    unsigned short pair;
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(pair) : "f"(v1), "f"(v0));
    return pair;
#else
    const auto code = [](float v) {
        const std::uint32_t bits = __float_as_uint(v);
        const std::uint32_t rounded = min(roundMinifloatBits(bits & 0x7FFFFFFFu, 3, 7, false), 0x43E00000u);
        return codeOf(rounded, 3, 7) | ((bits >> 31) << 7);
    };
    return code(v0) | (code(v1) << 8);
#endif
}

/// The code of a non-finite x for the minifloat kinds, by the format's policies.
__device__ std::uint32_t nonFiniteCode(const EncodeArgs& a, float x)
{
    if (isnan(x))
        return (__float_as_uint(x) >> 31) ? a.negativeNanCode : a.nanCode;
    return x > 0 ? a.positiveInfinityCode : a.negativeInfinityCode;
}

/// 1.5 · 2^23: for |v| < 2^22, (v + kMagic) - kMagic is v rounded to an integer (ties to even), and the
/// bits of c + kMagic for an integer-valued c hold c + 2^22 in the mantissa, so their low byte is c & 0xFF.
constexpr float kMagic = 12582912.0f;

/// The low byte of the two's complement of the integer-valued float c (|c| < 2^22), without a conversion.
__device__ std::uint32_t integerByte(float c)
{
    return __float_as_uint(__fadd_rn(c, kMagic)) & 0xFFu;
}

/// The code of element x of a group with parameters p (scalar_packed.cpp's encodeElement). Integers are
/// computed in float (every value involved is an integer below 2^17, exact), with no int conversion.
/// `Plain`: the scheme multiplies by the inverse and rounds ties to even, known at compile time (the other
/// branches are not compiled in).
template<Kind K, bool Plain = false>
__device__ std::uint32_t encodeAs(
    const EncodeArgs& a, float x, const GroupParams& p, unsigned& clipped, unsigned& nonFinite)
{
    const bool divide = !Plain && a.divide;
    const bool tiesAway = !Plain && a.tiesAway;
    const std::uint32_t bits = __float_as_uint(x);
    const bool finite = finiteBits(bits);
    nonFinite += finite ? 0u : 1u;
    if constexpr (K == Kind::Integer) {
        if (!finite)
            return integerByte(isnan(x) ? p.zeroPoint : (x > 0 ? a.qmaxFloat : a.qminFloat));
        float v = divide ? __fdiv_rn(x, p.scale) : __fmul_rn(x, p.inverse);
        const float low = __fsub_rn(__fsub_rn(a.qminFloat, p.zeroPoint), 1.0f);
        const float high = __fadd_rn(__fsub_rn(a.qmaxFloat, p.zeroPoint), 1.0f);
        v = fminf(fmaxf(v, low), high);
        float rounded = __fsub_rn(__fadd_rn(v, kMagic), kMagic);
        if (tiesAway) {
            const float below = __fsub_rn(v, rounded);
            rounded = __fadd_rn(
                rounded, (v > 0 && below == 0.5f) ? 1.0f : ((v < 0 && below == -0.5f) ? -1.0f : 0.0f));
        }
        const float code = __fadd_rn(rounded, p.zeroPoint);
        clipped += (code < a.qminFloat || code > a.qmaxFloat) ? 1u : 0u;
        return integerByte(fminf(fmaxf(code, a.qminFloat), a.qmaxFloat));
    } else if constexpr (K == Kind::Minifloat || K == Kind::E4M3Hardware) {
        if (isnan(p.scale))
            return a.nanCode;
        if (!finite)
            return nonFiniteCode(a, x);
        const float v = divide ? __fdiv_rn(x, p.scale) : __fmul_rn(x, p.inverse);
        if constexpr (K == Kind::E4M3Hardware) {
            // 464 is the tie between 448 and 480, which goes to the even 448.
            clipped += fabsf(v) > 464.0f ? 1u : 0u;
            return e4m3PairCodes(v, 0.0f) & 0xFFu;
        } else {
            const std::uint32_t vBits = __float_as_uint(v);
            const std::uint32_t magnitude = vBits & 0x7FFFFFFFu;
            if (a.bins != nullptr && magnitude <= 0x7F800000u) {
                const int4 bin = tableBinEntry(__uint_as_float(magnitude), a.binScale, a.binOffset);
                clipped += magnitude > a.maxBits ? 1u : 0u;
                return static_cast<std::uint32_t>(static_cast<int>(magnitude) >= bin.x ? bin.z : bin.y)
                    | ((vBits >> 31) ? a.signCode : 0u);
            }
            std::uint32_t rounded = roundMinifloatBits(magnitude, a.mantissaBits, a.bias, tiesAway);
            clipped += ((a.clipBeforeRounding ? magnitude : rounded) > a.maxBits) ? 1u : 0u;
            rounded = min(rounded, a.maxBits);
            return codeOf(rounded, a.mantissaBits, a.bias) | ((vBits >> 31) ? a.signCode : 0u);
        }
    } else {
        const float s = __fmul_rn(x, p.inverse);
        clipped += fabsf(s) > 1.0f ? 1u : 0u;
        if (a.bins != nullptr && !isnan(s)) {
            const int4 bin = tableBinEntry(s, a.binScale, a.binOffset);
            return static_cast<std::uint32_t>(signedKey(__float_as_uint(s)) >= bin.x ? bin.z : bin.y);
        }
        std::uint32_t code = 0;
#pragma unroll
        for (int k = 0; k < 15; ++k)
            code += s > a.nf4[k] ? 1u : 0u;
        return code;
    }
}

__device__ std::uint32_t encode(
    const EncodeArgs& a, float x, const GroupParams& p, unsigned& clipped, unsigned& nonFinite)
{
    switch (a.kind) {
    case Kind::Integer:
        return encodeAs<Kind::Integer>(a, x, p, clipped, nonFinite);
    case Kind::Minifloat:
        return encodeAs<Kind::Minifloat>(a, x, p, clipped, nonFinite);
    case Kind::E4M3Hardware:
        return encodeAs<Kind::E4M3Hardware>(a, x, p, clipped, nonFinite);
    case Kind::Nf4:
        return encodeAs<Kind::Nf4>(a, x, p, clipped, nonFinite);
    }
    return 0;
}

/// The codes of N (even) elements of one group; E4M3Hardware converts them two by two.
template<Kind K, bool Plain, int N>
__device__ void encodeVectorAs(const EncodeArgs& a, const float (&x)[N], const GroupParams& p,
    std::uint32_t (&codes)[N], unsigned& clipped, unsigned& nonFinite)
{
    const bool divide = !Plain && a.divide;
    if (K == Kind::E4M3Hardware && !isnan(p.scale)) {
#pragma unroll
        for (int k = 0; k < N; k += 2) {
            const float v0 = divide ? __fdiv_rn(x[k], p.scale) : __fmul_rn(x[k], p.inverse);
            const float v1 = divide ? __fdiv_rn(x[k + 1], p.scale) : __fmul_rn(x[k + 1], p.inverse);
            const std::uint32_t pair = e4m3PairCodes(v0, v1);
            codes[k] = pair & 0xFFu;
            codes[k + 1] = pair >> 8;
            const bool finite0 = finiteBits(__float_as_uint(x[k]));
            const bool finite1 = finiteBits(__float_as_uint(x[k + 1]));
            clipped += (finite0 && fabsf(v0) > 464.0f ? 1u : 0u) + (finite1 && fabsf(v1) > 464.0f ? 1u : 0u);
            if (!(finite0 && finite1)) {
                nonFinite += (finite0 ? 0u : 1u) + (finite1 ? 0u : 1u);
                codes[k] = finite0 ? codes[k] : nonFiniteCode(a, x[k]);
                codes[k + 1] = finite1 ? codes[k + 1] : nonFiniteCode(a, x[k + 1]);
            }
        }
        return;
    }
    if constexpr (K == Kind::Minifloat) {
        // encodeAs's bins path without a branch per element; the rare others (a non-finite x) take
        // encodeAs afterwards.
        if (a.bins != nullptr && !isnan(p.scale)) {
            unsigned irregular = 0;
#pragma unroll
            for (int k = 0; k < N; ++k) {
                const float v = divide ? __fdiv_rn(x[k], p.scale) : __fmul_rn(x[k], p.inverse);
                const std::uint32_t vBits = __float_as_uint(v);
                const std::uint32_t magnitude = vBits & 0x7FFFFFFFu;
                const int4 bin = tableBinEntry(__uint_as_float(magnitude), a.binScale, a.binOffset);
                const bool regular = finiteBits(__float_as_uint(x[k])) & (magnitude <= 0x7F800000u);
                irregular |= regular ? 0u : 1u << k;
                clipped += (regular & (magnitude > a.maxBits)) ? 1u : 0u;
                codes[k] = static_cast<std::uint32_t>(static_cast<int>(magnitude) >= bin.x ? bin.z : bin.y)
                    | ((vBits >> 31) ? a.signCode : 0u);
            }
            if (irregular != 0) {
#pragma unroll
                for (int k = 0; k < N; ++k)
                    if (irregular & (1u << k))
                        codes[k] = encodeAs<K, Plain>(a, x[k], p, clipped, nonFinite);
            }
            return;
        }
    } else if constexpr (K == Kind::Nf4) {
        // encodeAs's bins path without a branch per element: a NaN s takes code 0, as on the ladder.
        if (a.bins != nullptr) {
#pragma unroll
            for (int k = 0; k < N; ++k) {
                nonFinite += finiteBits(__float_as_uint(x[k])) ? 0u : 1u;
                const float s = __fmul_rn(x[k], p.inverse);
                clipped += fabsf(s) > 1.0f ? 1u : 0u;
                const int4 bin = tableBinEntry(s, a.binScale, a.binOffset);
                const auto code
                    = static_cast<std::uint32_t>(signedKey(__float_as_uint(s)) >= bin.x ? bin.z : bin.y);
                codes[k] = isnan(s) ? 0u : code;
            }
            return;
        }
    }
#pragma unroll
    for (int k = 0; k < N; ++k)
        codes[k] = encodeAs<K, Plain>(a, x[k], p, clipped, nonFinite);
}

/// The element kind and the Plain flag of encodeAs as compile-time constants (the kernels' template
/// arguments, chosen once per launch by withElement).
template<Kind K, bool P> struct Element {
    static constexpr Kind kind = K;
    static constexpr bool plain = P;
};

/// Calls f(Element<kind, plain>{}) for the element kind and arithmetic of `a`.
template<class F> void withElement(const EncodeArgs& a, F&& f)
{
    const bool plain = !a.divide && !a.tiesAway;
    switch (a.kind) {
    case Kind::Integer:
        return plain ? f(Element<Kind::Integer, true> {}) : f(Element<Kind::Integer, false> {});
    case Kind::Minifloat:
        return plain ? f(Element<Kind::Minifloat, true> {}) : f(Element<Kind::Minifloat, false> {});
    case Kind::E4M3Hardware:
        return plain ? f(Element<Kind::E4M3Hardware, true> {}) : f(Element<Kind::E4M3Hardware, false> {});
    case Kind::Nf4:
        return f(Element<Kind::Nf4, false> {});
    }
}

/// Calls f(value) for each value of v.
template<class F> __device__ void forEachValue(const float4& v, F&& f)
{
    f(v.x);
    f(v.y);
    f(v.z);
    f(v.w);
}

/// Calls f(value) for each value of the Q float4 of v.
template<int Q, class F> __device__ void forEachValue(const float4 (&v)[Q], F&& f)
{
#pragma unroll
    for (int j = 0; j < Q; ++j)
        forEachValue(v[j], f);
}

/// Min/max keys of the finite values, the largest non-NaN magnitude (±Inf included) and the non-finite
/// count of some elements.
struct GroupKeys {
    std::uint32_t minKey = 0xFFFFFFFFu;
    std::uint32_t maxKey = 0;
    std::uint32_t absBits = 0;
    unsigned nonFinite = 0;

    __device__ void add(float v)
    {
        const std::uint32_t bits = __float_as_uint(v);
        const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
        if (magnitude <= 0x7F800000u)
            absBits = max(absBits, magnitude);
        if (!finiteBits(bits)) {
            ++nonFinite;
            return;
        }
        const std::uint32_t key = orderedKey(bits);
        minKey = min(minKey, key);
        maxKey = max(maxKey, key);
    }

    __device__ void add(const float4& v)
    {
        forEachValue(v, [&](float x) { add(x); });
    }

    /// Merges the `lanes` (a power of two) lanes of each aligned lane group; every lane of the warp calls it.
    __device__ void reduce(int lanes)
    {
        for (int offset = lanes / 2; offset > 0; offset /= 2) {
            minKey = min(minKey, __shfl_xor_sync(kFullMask, minKey, offset));
            maxKey = max(maxKey, __shfl_xor_sync(kFullMask, maxKey, offset));
            absBits = max(absBits, __shfl_xor_sync(kFullMask, absBits, offset));
            nonFinite += __shfl_xor_sync(kFullMask, nonFinite, offset);
        }
    }
};

/// The finite min and max the affine and one-sided ranges need (deriveParams), for fewer instructions per
/// element than GroupKeys: fminf / fmaxf of all elements (NaN ignored, ±Inf taken) and the largest magnitude
/// bits (a NaN's above ±Inf's), which give the finite min and max when the group is all finite. Only when
/// some group of the warp holds a non-finite value does `resolve` go over the lane's values again. Which zero
/// fminf / fmaxf keep of -0 and +0 does not matter: deriveParams takes the range's min with 0 and max with
/// 0, and a zero of either sign gives the same scale and zero point.
struct GroupRange {
    float lowest = INFINITY;
    float highest = -INFINITY;
    std::uint32_t top = 0;

    __device__ void add(float v)
    {
        lowest = fminf(lowest, v);
        highest = fmaxf(highest, v);
        top = max(top, __float_as_uint(v) & 0x7FFFFFFFu);
    }

    __device__ void add(const float4& v)
    {
        forEachValue(v, [&](float x) { add(x); });
    }

    __device__ void reduce(int lanes)
    {
        for (int offset = lanes / 2; offset > 0; offset /= 2) {
            lowest = fminf(lowest, __shfl_xor_sync(kFullMask, lowest, offset));
            highest = fmaxf(highest, __shfl_xor_sync(kFullMask, highest, offset));
            top = max(top, __shfl_xor_sync(kFullMask, top, offset));
        }
    }

    /// After reduce, with the lane's Q float4 of its group; every lane of the warp calls it. Returns whether
    /// some group of the warp holds a non-finite value (the same in every lane).
    template<int Q> __device__ bool resolve(const float4 (&v)[Q], int lanes)
    {
        if (!__any_sync(kFullMask, top >= 0x7F800000u))
            return false;
        lowest = INFINITY;
        highest = -INFINITY;
        const auto take = [&](float x) {
            const bool finite = finiteBits(__float_as_uint(x));
            lowest = fminf(lowest, finite ? x : INFINITY);
            highest = fmaxf(highest, finite ? x : -INFINITY);
        };
        forEachValue(v, take);
        for (int offset = lanes / 2; offset > 0; offset /= 2) {
            lowest = fminf(lowest, __shfl_xor_sync(kFullMask, lowest, offset));
            highest = fmaxf(highest, __shfl_xor_sync(kFullMask, highest, offset));
        }
        return true;
    }

    static constexpr bool kHasRange = true;
    /// 0 for both when the group has no finite value.
    __device__ float low() const { return lowest <= highest ? lowest : 0.0f; }
    __device__ float high() const { return lowest <= highest ? highest : 0.0f; }
    __device__ float finiteAbsmax() const
    {
        const float l = fabsf(low());
        const float h = fabsf(high());
        return l < h ? h : l;
    }
};

/// The magnitudes the symmetric, NF4 and MX scales need (deriveParams), for fewer instructions per element
/// than GroupKeys: the largest magnitude bits of all elements (one max each; a NaN's are above ±Inf's), which
/// is the finite and the non-NaN largest magnitude when the group is all finite. Only when some group of the
/// warp holds a non-finite value does `resolve` go over the lane's values again for those two.
struct GroupMagnitude {
    std::uint32_t top = 0;
    std::uint32_t finiteBits = 0;
    std::uint32_t nonNanBits = 0;

    __device__ void add(float v) { top = max(top, __float_as_uint(v) & 0x7FFFFFFFu); }

    __device__ void add(const float4& v)
    {
        forEachValue(v, [&](float x) { add(x); });
    }

    __device__ void reduce(int lanes)
    {
        for (int offset = lanes / 2; offset > 0; offset /= 2)
            top = max(top, __shfl_xor_sync(kFullMask, top, offset));
        finiteBits = top;
        nonNanBits = top;
    }

    /// After reduce, with the lane's Q float4 of its group; every lane of the warp calls it. Returns whether
    /// some group of the warp holds a non-finite value (the same in every lane).
    template<int Q> __device__ bool resolve(const float4 (&v)[Q], int lanes)
    {
        if (!__any_sync(kFullMask, top >= 0x7F800000u))
            return false;
        finiteBits = 0;
        nonNanBits = 0;
        const auto take = [&](float x) {
            const std::uint32_t magnitude = __float_as_uint(x) & 0x7FFFFFFFu;
            finiteBits = max(finiteBits, magnitude < 0x7F800000u ? magnitude : 0u);
            nonNanBits = max(nonNanBits, magnitude <= 0x7F800000u ? magnitude : 0u);
        };
        forEachValue(v, take);
        for (int offset = lanes / 2; offset > 0; offset /= 2) {
            finiteBits = max(finiteBits, __shfl_xor_sync(kFullMask, finiteBits, offset));
            nonNanBits = max(nonNanBits, __shfl_xor_sync(kFullMask, nonNanBits, offset));
        }
        return true;
    }

    static constexpr bool kHasRange = false;
    __device__ float finiteAbsmax() const { return __uint_as_float(finiteBits); }
    __device__ float absmax() const { return __uint_as_float(nonNanBits); }
    __device__ bool anyNonFinite() const { return top >= 0x7F800000u; }
};

__device__ void addCounts(unsigned clipped, unsigned nonFinite, unsigned long long* counts)
{
    clipped = __reduce_add_sync(kFullMask, clipped);
    nonFinite = __reduce_add_sync(kFullMask, nonFinite);
    if ((threadIdx.x & 31) == 0) {
        if (clipped)
            atomicAdd(&counts[0], static_cast<unsigned long long>(clipped));
        if (nonFinite)
            atomicAdd(&counts[1], static_cast<unsigned long long>(nonFinite));
    }
}

/// Any shape: one thread per output byte (grid-stride; every thread of a warp reaches the count reduction).
__global__ void __launch_bounds__(kBlockThreads) encodeKernel(EncodeArgs a, const float* __restrict__ x,
    std::uint8_t* __restrict__ out, I outBytes, unsigned long long* counts)
{
    if (a.bins != nullptr)
        loadTableBins(a.bins);
    unsigned clipped = 0;
    unsigned nonFinite = 0;
    const I stride = I(gridDim.x) * blockDim.x;
    const I payload = (a.groups.size + 1) / 2; // Mxfp4: code bytes per block
    for (I j = I(blockIdx.x) * blockDim.x + threadIdx.x; j < outBytes; j += stride) {
        switch (a.layout) {
        case Layout::Byte: {
            const I g = a.groups.of(j);
            out[j] = static_cast<std::uint8_t>(encode(a, x[j], groupParams(a, g), clipped, nonFinite));
            break;
        }
        case Layout::Nibble:
        case Layout::Nf4: {
            const I i = 2 * j;
            const std::uint32_t first
                = encode(a, x[i], groupParams(a, a.groups.of(i)), clipped, nonFinite) & 0xFu;
            const std::uint32_t second = i + 1 < a.n
                ? encode(a, x[i + 1], groupParams(a, a.groups.of(i + 1)), clipped, nonFinite) & 0xFu
                : (a.layout == Layout::Nf4 ? 7u : 0u);
            out[j] = static_cast<std::uint8_t>(
                a.layout == Layout::Nf4 ? (first << 4) | second : first | (second << 4));
            break;
        }
        case Layout::Mxfp4: {
            const I g = j / (payload + 1);
            const I k = j - g * (payload + 1);
            if (k == 0) {
                const float scale = a.scales[g];
                out[j] = isnan(scale) ? 0xFF : static_cast<std::uint8_t>(ilogbf(scale) + 127);
                break;
            }
            const I begin = a.groups.begin(g);
            const I end = a.groups.end(g);
            const I i = begin + 2 * (k - 1);
            const GroupParams p = groupParams(a, g);
            const std::uint32_t low = i < end ? encode(a, x[i], p, clipped, nonFinite) & 0xFu : 0u;
            const std::uint32_t high = i + 1 < end ? encode(a, x[i + 1], p, clipped, nonFinite) & 0xFu : 0u;
            out[j] = static_cast<std::uint8_t>(low | (high << 4));
            break;
        }
        }
    }
    addCounts(clipped, nonFinite, counts);
}

/// Shapes whose vectors of kVector elements never straddle a group (VectorGroups): each thread takes two
/// vectors a grid apart per step (both float4 loads issued first; a warp's loads are 512 contiguous bytes),
/// finds each one's group with 32-bit fast divisions, loads its parameters once and writes its 4 codes
/// with one 4-byte store (Byte), one 2-byte store (Nibble, Nf4) or two byte stores (Mxfp4, whose blocks are
/// not aligned; the block's first vector also writes the E8M0 byte).
template<Layout L, class E>
__global__ void __launch_bounds__(kBlockThreads) encodeVectorKernel(EncodeArgs a, VectorGroups map,
    const float* __restrict__ x, std::uint8_t* __restrict__ out, I vectors, unsigned long long* counts)
{
    if (a.bins != nullptr)
        loadTableBins(a.bins);
    unsigned clipped = 0;
    unsigned nonFinite = 0;
    const I stride = I(gridDim.x) * blockDim.x;
    const auto* x4 = reinterpret_cast<const float4*>(x);
    for (I first = I(blockIdx.x) * blockDim.x + threadIdx.x; first < vectors; first += 2 * stride) {
        float4 loaded[2];
#pragma unroll
        for (int u = 0; u < 2; ++u)
            if (first + u * stride < vectors)
                loaded[u] = __ldcs(x4 + first + u * stride);
#pragma unroll
        for (int u = 0; u < 2; ++u) {
            const I v = first + u * stride;
            if (v >= vectors)
                break;
            std::uint32_t offset;
            const I g = map.of(static_cast<std::uint32_t>(v), &offset);
            const float values[kVector] = {loaded[u].x, loaded[u].y, loaded[u].z, loaded[u].w};
            std::uint32_t c[kVector];
            encodeVectorAs<E::kind, E::plain>(a, values, groupParams(a, g), c, clipped, nonFinite);
            if constexpr (L == Layout::Byte) {
                __stcs(
                    reinterpret_cast<unsigned*>(out) + v, c[0] | (c[1] << 8) | (c[2] << 16) | (c[3] << 24));
            } else if constexpr (L == Layout::Nibble) {
                reinterpret_cast<unsigned short*>(out)[v] = static_cast<unsigned short>(
                    (c[0] & 0xFu) | ((c[1] & 0xFu) << 4) | ((c[2] & 0xFu) << 8) | ((c[3] & 0xFu) << 12));
            } else if constexpr (L == Layout::Nf4) {
                reinterpret_cast<unsigned short*>(out)[v] = static_cast<unsigned short>(
                    ((c[0] & 0xFu) << 4) | (c[1] & 0xFu) | ((c[2] & 0xFu) << 12) | ((c[3] & 0xFu) << 8));
            } else {
                const I payload = (a.groups.size + 1) / 2;
                std::uint8_t* block = out + g * (payload + 1);
                if (offset == 0) {
                    const float scale = __ldg(a.scales + g);
                    block[0] = isnan(scale) ? 0xFF : static_cast<std::uint8_t>(ilogbf(scale) + 127);
                }
                std::uint8_t* bytes = block + 1 + I(offset) * (kVector / 2);
                bytes[0] = static_cast<std::uint8_t>((c[0] & 0xFu) | ((c[1] & 0xFu) << 4));
                bytes[1] = static_cast<std::uint8_t>((c[2] & 0xFu) | ((c[3] & 0xFu) << 4));
            }
        }
    }
    addCounts(clipped, nonFinite, counts);
}

/// What the single-pass kernel needs to derive a group's scale and zero point from its finite min/max as
/// quant/quantizer.cpp's groupParams does for ScaleFormat::F32 (the ElementGrid fields of the same names).
struct DeriveArgs {
    bool absmaxScale = false; ///< NF4: the scale is the largest non-NaN magnitude (±Inf included)
    bool mxScale = false; ///< MXFP4: the scale is 2^e, e the shared exponent of kernels/mx_shared_exponent.h
    E8M0Rounding e8m0 = E8M0Rounding::Floor;
    int emax = 0; ///< floor(log2 elementMax)
    int elementMantissaBits = 1;
    float inverseElementMax = 1; ///< float(1 / elementMax)
    bool affine = false;
    bool oneSided = false;
    bool pytorchEps = false;
    float elemMax = 1;
};

/// groupParams: std::min / std::max are spelled out (fminf/fmaxf may pick either zero of ±0), every float
/// operation rounds to nearest as on the host.
template<class Keys>
__device__ GroupParams deriveParams(const EncodeArgs& a, const DeriveArgs& d, const Keys& keys)
{
    constexpr float kPyTorchEps = 1.1920928955078125e-07f;
    const auto least = [](float x, float y) { return y < x ? y : x; };
    const auto greatest = [](float x, float y) { return x < y ? y : x; };
    // Range keys serve integers only (launchSinglePassQ).
    if constexpr (!Keys::kHasRange) {
        if (d.mxScale) {
            // encodePlan's MXFP4 parameters: a NaN scale for a block holding a non-finite value or whose even
            // rounding overflows, else 2^e with e = mxSharedExponent(absmax of the finite values).
            const float absmax = keys.finiteAbsmax();
            const std::uint32_t bits = __float_as_uint(absmax);
            const int field = static_cast<int>((bits >> 23) & 0xFF);
            int exponent = 0;
            bool valid = !keys.anyNonFinite();
            switch (d.e8m0) {
            case E8M0Rounding::Floor:
                exponent = field - 127 - d.emax;
                break;
            case E8M0Rounding::Ceil:
                exponent = field - 127 + ((bits & 0x7FFFFFu) != 0 ? 1 : 0) - d.emax;
                break;
            case E8M0Rounding::Even: {
                const std::uint32_t rounded = (bits + (1u << (22 - d.elementMantissaBits))) & 0xFF800000u;
                valid = valid && (rounded >> 23) != 0xFF;
                exponent = static_cast<int>(rounded >> 23) - 127 - d.emax;
                break;
            }
            case E8M0Rounding::RCeil: {
                const std::uint32_t descale = __float_as_uint(__fmul_rn(absmax, d.inverseElementMax));
                const std::uint32_t mantissa = descale & 0x7FFFFFu;
                const bool roundUp = ((descale >> 23) & 0xFF) == 0 ? mantissa > 0x400000u : mantissa != 0;
                exponent = static_cast<int>((descale >> 23) & 0xFF) + (roundUp ? 1 : 0) - 127;
                break;
            }
            }
            exponent = min(max(exponent, -127), 127);
            if (!valid)
                return {__uint_as_float(0x7FC00000u), 0.0f, 0.0f};
            // 2^exponent and 2^-exponent for exponent in [-127, 127], by their bits (2^-127 is subnormal).
            return {kernel_detail::powerOfTwo(exponent), kernel_detail::powerOfTwo(-exponent), 0.0f};
        }
        if (d.absmaxScale) {
            // encodePlan's NF4 parameters: absmax, and 1 / max(absmax, 1e-38) as the multiplier.
            const float absmax = keys.absmax();
            return {absmax, __fdiv_rn(1.0f, greatest(absmax, 1e-38f)), 0.0f};
        }
    }
    float span = keys.finiteAbsmax();
    float low = 0;
    if constexpr (Keys::kHasRange) {
        low = keys.low();
        if (d.affine)
            span = __fsub_rn(greatest(keys.high(), 0.0f), least(low, 0.0f));
        else if (d.oneSided)
            span = greatest(keys.high(), 0.0f);
    }
    float scale = span > 0 ? __fdiv_rn(span, d.elemMax) : (d.pytorchEps ? kPyTorchEps : 1.0f);
    if (d.pytorchEps)
        scale = greatest(scale, kPyTorchEps);
    // scale_rounding.cpp's roundScale for ScaleFormat::F32: kept within [FLT_MIN, FLT_MAX].
    scale = !(scale >= FLT_MIN) ? FLT_MIN : least(scale, FLT_MAX);
    GroupParams p {scale, __fdiv_rn(1.0f, scale), 0.0f};
    if (d.affine) {
        float shifted = __fdiv_rn(least(low, 0.0f), scale);
        shifted = shifted < -65536.0f ? -65536.0f : (65536.0f < shifted ? 65536.0f : shifted);
        const float rounded = __fsub_rn(__fadd_rn(shifted, kMagic), kMagic);
        p.zeroPoint = fminf(fmaxf(__fsub_rn(a.qminFloat, rounded), a.qminFloat), a.qmaxFloat);
    }
    return p;
}

/// The FP4 E2M1 code of a finite v without its sign, ties to even, clipped before rounding: MXFP4's element
/// with the default rounding (MinifloatRounder::roundBits and codeOf; values 0, 0.5, 1, 1.5, 2, 3, 4, 6).
/// m = min(|v|, 6) is rounded by magic addition, c = 1.5 · 2^22 · 2^q with 2^q the binade of max(m, 1)
/// (ulp 2^(q-1)): the code is the ulps of c in m + c, plus 2q. The bits of c are those of 2^q plus
/// 0x0B400000, and 2q is (bits(2^q) >> 22) - 254.
__device__ inline std::uint32_t e2m1MagnitudeCode(float v)
{
    const float magnitude = fminf(fabsf(v), 6.0f);
    const std::uint32_t binade = __float_as_uint(fmaxf(magnitude, 1.0f)) & 0x7F800000u;
    const std::uint32_t sum = __float_as_uint(__fadd_rn(magnitude, __uint_as_float(binade + 0x0B400000u)));
    return sum - binade + (binade >> 22) - (0x0B400000u + 254u);
}

/// The MXFP4 code nibbles of one float4 of a block whose every x is finite, v = x · inverse (|v| < 8),
/// c0 in the low nibble: e2m1MagnitudeCode and v's sign in bit 3; `clipped` counts |v| > 6.
__device__ inline std::uint32_t e2m1Nibbles(const float4& x, float inverse, unsigned& clipped)
{
    const float v[4] = {
        __fmul_rn(x.x, inverse), __fmul_rn(x.y, inverse), __fmul_rn(x.z, inverse), __fmul_rn(x.w, inverse)};
    std::uint32_t nibbles = 0;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        countIf(clipped, fabsf(v[k]) > 6.0f);
        nibbles += (e2m1MagnitudeCode(v[k]) + ((__float_as_uint(v[k]) >> 31) << 3)) << (4 * k);
    }
    return nibbles;
}

/// Bytes of one warp's step of the MXFP4 single-pass kernel: 512 elements, their 256 code bytes and one
/// E8M0 byte per block.
constexpr int kMxStageBytes = 256 + 128;

/// Groups of `lanes` · Q float4 (lines a multiple of the group size): the group's range, scale and zero
/// point and its codes in one pass over x. `lanes` (a power of two <= 32) lanes hold a group's Q float4
/// each in registers (Q = 4, or 1 and 2 for groups of 4 and 8 elements); a warp takes 32 / lanes groups side
/// by side and 4 / Q such rows of groups at once (four loads in flight per lane), reduces each group by
/// shuffles (Keys: GroupRange for the affine and one-sided ranges, GroupMagnitude otherwise), derives its
/// parameters (one derivation per warp serves 32 / lanes groups: few lanes per group keep that and the
/// shuffles cheap), and writes 4 codes per float4 (one 4-byte store, or 2 bytes for the nibble layout),
/// the scale and the zero point of each group by its first lane. MXFP4's blocks of 17 bytes (E8M0, then
/// the codes) are not aligned: when a warp's step starts on 16 bytes (blocks of up to 32 elements), its
/// bytes are assembled in shared memory and written as 16-byte stores; with ties to even its E2M1 codes come
/// by magic addition (e2m1Nibbles). kLanes, when not 0, is `lanes` fixed at compile time.
template<Layout L, int Q, class E, class Keys, int kLanes = 0>
__global__ void __launch_bounds__(kBlockThreads, L == Layout::Mxfp4 ? 4 : 1) singlePassKernel(EncodeArgs a,
    DeriveArgs d, const float4* __restrict__ x, std::uint8_t* __restrict__ out, float* __restrict__ scales,
    int* __restrict__ zeroPoints, I groupCount, int lanesArgument, unsigned long long* counts)
{
    // Known at compile time (MXFP4's blocks of 32), the index arithmetic folds: no spills at 64 registers.
    const int lanes = kLanes != 0 ? kLanes : lanesArgument;
    if (a.bins != nullptr)
        loadTableBins(a.bins);
    constexpr int kRows = 4 / Q;
    constexpr int kWarps = kBlockThreads / 32;
    __shared__ uint4 stage[L == Layout::Mxfp4 ? kWarps : 1][kMxStageBytes / 16];
    const int lane = static_cast<int>(threadIdx.x) & 31;
    const int sub = lane & (lanes - 1);
    const int slots = 32 / lanes;
    const I sizeQuads = I(lanes) * Q;
    const I perWarp = I(kRows) * slots;
    const I warps = (I(gridDim.x) * blockDim.x) >> 5;
    const I blockBytes = 2 * sizeQuads + 1; // Mxfp4
    const bool staged = L == Layout::Mxfp4 && perWarp % 16 == 0;
    auto* mine = reinterpret_cast<std::uint8_t*>(stage[L == Layout::Mxfp4 ? threadIdx.x / 32 : 0]);
    // MXFP4: the bytes of float4 j of group g's lane, in the warp's stage (offsets within the step) or in
    // place: the block's E8M0 byte first (the scale's exponent field: 0 for 2^-127, 0xFF for the NaN
    // scale), then two code bytes per float4, the first code in the low nibble.
    const auto putMxfp4 = [&](I first, I g, int j, std::uint32_t nibbles, float scale) {
        const int at = static_cast<int>(g - first) * static_cast<int>(blockBytes) + 1 + 2 * (sub + j * lanes);
        const auto put = [&](std::uint8_t* bytes) {
            if (sub == 0 && j == 0)
                bytes[-1] = static_cast<std::uint8_t>(__float_as_uint(scale) >> 23);
            bytes[0] = static_cast<std::uint8_t>(nibbles);
            bytes[1] = static_cast<std::uint8_t>(nibbles >> 8);
        };
        // Apart, so that the stage's stores are shared-memory ones.
        staged ? put(mine + at) : put(out + first * blockBytes + at);
    };
    unsigned clipped = 0;
    unsigned nonFinite = 0;
    for (I first = ((I(blockIdx.x) * blockDim.x + threadIdx.x) >> 5) * perWarp; first < groupCount;
         first += warps * perWarp) {
        float4 v[kRows][Q];
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
            const I g = first + r * slots + lane / lanes;
#pragma unroll
            for (int j = 0; j < Q; ++j)
                v[r][j]
                    = g < groupCount ? __ldcs(x + g * sizeQuads + sub + j * lanes) : make_float4(0, 0, 0, 0);
        }
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
            Keys keys;
#pragma unroll
            for (int j = 0; j < Q; ++j)
                keys.add(v[r][j]);
            keys.reduce(lanes);
            [[maybe_unused]] const bool warpNonFinite = keys.resolve(v[r], lanes);
            // MXFP4 with ties to even: the E2M1 codes by magic addition, with no per-element test for
            // non-finite values or bins. A block holding one has the NaN scale, whose codes are all the NaN
            // code; otherwise every x is finite, and so is v = x · 2^-e (|v| < 8). The non-finite values are
            // counted only when the warp holds one (lanes past the last group hold zeros).
            constexpr bool kMagicE2m1 = L == Layout::Mxfp4 && E::plain;
            if constexpr (kMagicE2m1) {
                if (warpNonFinite)
                    forEachValue(v[r], [&](float x) { countIf(nonFinite, !finiteBits(__float_as_uint(x))); });
            }
            const I g = first + r * slots + lane / lanes;
            if (g >= groupCount)
                continue;
            const GroupParams p = deriveParams(a, d, keys);
            if (sub == 0) {
                scales[g] = p.scale;
                if (zeroPoints)
                    zeroPoints[g] = static_cast<int>(p.zeroPoint);
            }
            if constexpr (kMagicE2m1) {
                const bool nanScale = isnan(p.scale);
#pragma unroll
                for (int j = 0; j < Q; ++j) {
                    const std::uint32_t nibbles = e2m1Nibbles(v[r][j], p.inverse, clipped);
                    putMxfp4(first, g, j, nanScale ? a.nanCode * 0x1111u : nibbles, p.scale);
                }
            } else {
#pragma unroll
                for (int j = 0; j < Q; ++j) {
                    const float values[4] = {v[r][j].x, v[r][j].y, v[r][j].z, v[r][j].w};
                    std::uint32_t c[4];
                    encodeVectorAs<E::kind, E::plain>(a, values, p, c, clipped, nonFinite);
                    const I quad = g * sizeQuads + sub + j * lanes;
                    if constexpr (L == Layout::Byte)
                        __stcs(reinterpret_cast<unsigned*>(out) + quad,
                            c[0] | (c[1] << 8) | (c[2] << 16) | (c[3] << 24));
                    else if constexpr (L == Layout::Nibble)
                        reinterpret_cast<unsigned short*>(out)[quad]
                            = static_cast<unsigned short>((c[0] & 0xFu) | ((c[1] & 0xFu) << 4)
                                | ((c[2] & 0xFu) << 8) | ((c[3] & 0xFu) << 12));
                    else if constexpr (L == Layout::Nf4)
                        reinterpret_cast<unsigned short*>(out)[quad]
                            = static_cast<unsigned short>(((c[0] & 0xFu) << 4) | (c[1] & 0xFu)
                                | ((c[2] & 0xFu) << 12) | ((c[3] & 0xFu) << 8));
                    else {
                        putMxfp4(first, g, j,
                            (c[0] & 0xFu) | ((c[1] & 0xFu) << 4) | ((c[2] & 0xFu) << 8)
                                | ((c[3] & 0xFu) << 12),
                            p.scale);
                    }
                }
            }
        }
        if constexpr (L == Layout::Mxfp4) {
            if (staged) {
                // The step's bytes start at first · blockBytes, a multiple of 16 (perWarp is); they number at
                // most kMxStageBytes.
                __syncwarp();
                const int bytes = static_cast<int>(min(perWarp, groupCount - first) * blockBytes);
                std::uint8_t* target = out + first * blockBytes;
                for (int k = lane; k < bytes / 16; k += 32)
                    __stcs(reinterpret_cast<uint4*>(target) + k, stage[threadIdx.x / 32][k]);
                if (bytes % 16 != 0 && lane < bytes % 16)
                    target[bytes / 16 * 16 + lane] = mine[bytes / 16 * 16 + lane];
                __syncwarp();
            }
        }
    }
    addCounts(clipped, nonFinite, counts);
}

/// Any shape: one thread per element, x̂ = (table[code] - zp) · scale.
__global__ void __launch_bounds__(kBlockThreads)
    decodeKernel(DecodeArgs a, const std::uint8_t* __restrict__ bytes, float* __restrict__ out)
{
    const I stride = I(gridDim.x) * blockDim.x;
    const I payload = (a.groups.size + 1) / 2;
    for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < a.n; i += stride) {
        const I g = a.groups.of(i);
        std::uint32_t code;
        switch (a.layout) {
        case Layout::Byte:
            code = bytes[i];
            break;
        case Layout::Nibble:
            code = (bytes[i / 2] >> ((i & 1) * 4)) & 0xFu;
            break;
        case Layout::Nf4:
            code = (bytes[i / 2] >> ((i & 1) ? 0 : 4)) & 0xFu;
            break;
        default: {
            const I offset = i - a.groups.begin(g);
            code = (bytes[g * (payload + 1) + 1 + offset / 2] >> ((offset & 1) * 4)) & 0xFu;
            break;
        }
        }
        const float zp = a.zeroPoints ? a.zeroPoints[g] : 0.0f;
        out[i] = __fmul_rn(__fsub_rn(a.table[code], zp), a.scales[g]);
    }
}

/// The vector shapes of encodeVectorKernel: 4 codes read at once, the decode table in shared memory (a
/// kernel parameter indexed by a different code in every lane would serialise), one float4 store; two
/// vectors a grid apart per step.
template<Layout L>
__global__ void __launch_bounds__(kBlockThreads) decodeVectorKernel(DecodeArgs a, VectorGroups map,
    const std::uint8_t* __restrict__ bytes, float* __restrict__ out, I vectors)
{
    __shared__ float table[256];
    for (int k = static_cast<int>(threadIdx.x); k < 256; k += kBlockThreads)
        table[k] = a.table[k];
    __syncthreads();
    const I stride = I(gridDim.x) * blockDim.x;
    auto* out4 = reinterpret_cast<float4*>(out);
    const I payload = (a.groups.size + 1) / 2;
    for (I first = I(blockIdx.x) * blockDim.x + threadIdx.x; first < vectors; first += 2 * stride) {
        std::uint32_t words[2] = {0, 0};
#pragma unroll
        for (int u = 0; u < 2; ++u) {
            const I v = first + u * stride;
            if (v >= vectors)
                break;
            if constexpr (L == Layout::Byte)
                words[u] = __ldcs(reinterpret_cast<const unsigned*>(bytes) + v);
            else if constexpr (L == Layout::Nibble || L == Layout::Nf4)
                words[u] = __ldcs(reinterpret_cast<const unsigned short*>(bytes) + v);
        }
#pragma unroll
        for (int u = 0; u < 2; ++u) {
            const I v = first + u * stride;
            if (v >= vectors)
                break;
            std::uint32_t offset;
            const I g = map.of(static_cast<std::uint32_t>(v), &offset);
            std::uint32_t c[kVector];
            if constexpr (L == Layout::Byte) {
#pragma unroll
                for (int k = 0; k < kVector; ++k)
                    c[k] = (words[u] >> (8 * k)) & 0xFFu;
            } else if constexpr (L == Layout::Nibble || L == Layout::Nf4) {
#pragma unroll
                for (int k = 0; k < kVector; ++k)
                    c[k] = (words[u] >> (4 * (L == Layout::Nf4 ? k ^ 1 : k))) & 0xFu;
            } else {
                const std::uint8_t* p = bytes + g * (payload + 1) + 1 + I(offset) * (kVector / 2);
                const std::uint32_t low = p[0];
                const std::uint32_t high = p[1];
                c[0] = low & 0xFu;
                c[1] = low >> 4;
                c[2] = high & 0xFu;
                c[3] = high >> 4;
            }
            const float zp = a.zeroPoints ? __ldg(a.zeroPoints + g) : 0.0f;
            const float scale = __ldg(a.scales + g);
            float y[kVector];
#pragma unroll
            for (int k = 0; k < kVector; ++k)
                y[k] = __fmul_rn(__fsub_rn(table[c[k]], zp), scale);
            __stcs(out4 + v, make_float4(y[0], y[1], y[2], y[3]));
        }
    }
}

/// The groups of a supported scheme on `shape`; returns the group count.
I planGroups(const Scheme& scheme, const Shape& shape, Groups& groups)
{
    const I n = shapeElementCount(shape);
    const I last = shape.empty() ? 1 : shape.back();
    if (scheme.blockFormat != BlockFormat::None || scheme.granularity.kind == Granularity::Kind::PerGroup) {
        groups.pattern = Pattern::Row;
        groups.length = last;
        groups.size = scheme.blockFormat != BlockFormat::None ? blockFormatBlockSize(scheme)
                                                              : scheme.granularity.groupSize;
        groups.perLine = (last + groups.size - 1) / groups.size;
        return last == 0 ? 0 : n / last * groups.perLine;
    }
    if (scheme.granularity.kind == Granularity::Kind::Block2D) {
        const detail::GroupGeometry g = detail::groupGeometry(scheme.granularity, shape);
        groups.pattern = Pattern::Block;
        groups.rows = g.length;
        groups.inner = g.inner;
        groups.size = g.size;
        groups.cols = g.cols;
        groups.perLine = g.perLine;
        groups.blockRows = g.lineBlocks;
        return g.groupCount;
    }
    if (scheme.granularity.kind == Granularity::Kind::PerChannel) {
        groups.pattern = Pattern::Channel;
        groups.inner = shape[0] == 0 ? 1 : n / shape[0];
        return shape[0];
    }
    return 1;
}

/// Everything one packed quantization needs on the device.
struct EncodePlan {
    EncodeArgs args;
    Layout layout = Layout::Byte;
    I groupCount = 0;
    DeviceBuffer<float> scales;
    DeviceBuffer<float> inverses;
    DeviceBuffer<int> zeroPoints;
    DeviceBuffer<int4> bins;
    std::vector<float> hostScales;
    std::vector<std::int32_t> hostZeroPoints;
};

std::uint32_t codeByte(const NumberFormat& format, double value)
{
    return encodeValue(format, value) & 0xFFu;
}

void checkSupported(const Scheme& scheme, const Shape& shape, const char* what)
{
    if (const std::string reason = cudaPackedUnsupported(scheme, shape); !reason.empty())
        throw Error(std::string(what) + ": " + reason);
}

/// Whether the minifloat parameters are FP8 E4M3's with ties to even and saturation (clipped after
/// rounding), which the hardware conversion computes.
bool isHardwareE4M3(const EncodeArgs& a, const MinifloatSpec& spec)
{
    return spec.exponentBits == 4 && a.mantissaBits == 3 && a.bias == 7 && a.maxBits == 0x43E00000u
        && !a.tiesAway && !a.clipBeforeRounding;
}

/// The element parameters of a minifloat format (its own rounding, saturation, NaN and ±Inf codes).
void setMinifloat(const NumberFormat& format, EncodeArgs& a)
{
    const auto& spec = std::get<MinifloatSpec>(format.spec);
    a.kind = Kind::Minifloat;
    a.tiesAway = format.minifloat.rounding == Rounding::NearestAway;
    const auto rounder = detail::MinifloatRounder::make(spec, a.tiesAway, formatMaxFinite(format));
    a.mantissaBits = rounder.mantissaBits;
    a.bias = rounder.bias;
    a.maxBits = rounder.maxBits;
    a.signCode = 1u << (spec.exponentBits + spec.mantissaBits);
    a.nanCode = codeByte(format, std::numeric_limits<double>::quiet_NaN());
    a.negativeNanCode = codeByte(format, -std::numeric_limits<double>::quiet_NaN());
    a.positiveInfinityCode = codeByte(format, std::numeric_limits<double>::infinity());
    a.negativeInfinityCode = codeByte(format, -std::numeric_limits<double>::infinity());
    if (isHardwareE4M3(a, spec))
        a.kind = Kind::E4M3Hardware;
}

/// The NF4 decision thresholds (bitsandbytes' float literals) and their bins, held by `bins`.
void setNf4(EncodeArgs& a, DeviceBuffer<int4>& bins)
{
    a.kind = Kind::Nf4;
    const std::array<float, 15>& thresholds = blockformat::bnbNf4Thresholds();
    std::copy(thresholds.begin(), thresholds.end(), a.nf4);
    installBins(a, bins, kernel_detail::tableBins(kernel_detail::keysAbove(thresholds), kTableBins, 1),
        thresholds.size() + 1, [](std::size_t region) { return static_cast<int>(region); });
}

/// The MXFP4 element parameters (E2M1, clipped before rounding, the scheme's element rounding) and the bins
/// of the magnitude's code, held by `bins`; returns the element format's largest value.
double setMxfp4(const Scheme& scheme, EncodeArgs& a, DeviceBuffer<int4>& bins)
{
    const NumberFormat element = formatByName("fp4_e2m1");
    const auto& spec = std::get<MinifloatSpec>(element.spec);
    const double elementMax = formatMaxFinite(element);
    a.kind = Kind::Minifloat;
    a.clipBeforeRounding = true;
    a.tiesAway = scheme.elementRounding == Rounding::NearestAway;
    const auto rounder = detail::MinifloatRounder::make(spec, a.tiesAway, elementMax);
    a.mantissaBits = rounder.mantissaBits;
    a.bias = rounder.bias;
    a.maxBits = rounder.maxBits;
    a.signCode = 1u << (spec.exponentBits + spec.mantissaBits);
    a.nanCode = codeByte(element, std::numeric_limits<double>::quiet_NaN());
    const MagnitudeBins magnitude = magnitudeBins(rounder, element.name);
    installBins(a, bins, magnitude.bins, magnitude.rounded.size(),
        [&](std::size_t region) { return static_cast<int>(rounder.codeOf(magnitude.rounded[region])); });
    return elementMax;
}

/// The element parameters of an element format (integers, minifloats).
void setElement(const Scheme& scheme, EncodeArgs& a)
{
    a.divide = scheme.arithmetic == ScaleArithmetic::Divide;
    const NumberFormat& format = scheme.format;
    if (const auto* integer = std::get_if<IntegerSpec>(&format.spec)) {
        const int top = integer->isSigned ? (1 << (integer->bits - 1)) - 1 : (1 << integer->bits) - 1;
        a.kind = Kind::Integer;
        a.qmax = top;
        a.qmin = !integer->isSigned ? 0 : (scheme.rangeMode == RangeMode::SymmetricNarrow ? -top : -top - 1);
        a.qminFloat = static_cast<float>(a.qmin);
        a.qmaxFloat = static_cast<float>(a.qmax);
        a.tiesAway = scheme.elementRounding == Rounding::NearestAway;
    } else {
        setMinifloat(format, a);
    }
}

/// A packed quantization done by singlePassKernel, with the device buffers it writes the group parameters to.
struct SinglePassPlan {
    EncodeArgs args;
    DeriveArgs derive;
    int lanes = 32;
    int quadsPerLane = 1;
    I groupCount = 0;
    DeviceBuffer<float> scales;
    DeviceBuffer<int> zeroPoints;
    DeviceBuffer<int4> bins;
};

/// Whether `scheme` on `shape` runs in one pass (cudaPackedSinglePass): an element format with
/// ScaleFormat::F32 per group along the last axis, NF4 or MXFP4, groups that divide the line, of 4 · 2^k
/// elements (k <= 7).
bool singlePassApplies(const Scheme& scheme, const Shape& shape, int* lanes, int* quadsPerLane)
{
    const bool blocks = scheme.blockFormat == BlockFormat::BnbNF4 || scheme.blockFormat == BlockFormat::MXFP4;
    if (!blocks
        && (scheme.blockFormat != BlockFormat::None || scheme.scaleFormat != ScaleFormat::F32
            || scheme.granularity.kind != Granularity::Kind::PerGroup))
        return false;
    Groups groups;
    const I groupCount = planGroups(scheme, shape, groups);
    if (groupCount == 0 || groups.size % 4 != 0 || groups.length % groups.size != 0)
        return false;
    // Four float4 per lane (one for groups of 4, two for 8), the group's lanes a power of two <= 32.
    const I quads = groups.size / 4;
    const I perLane = std::min<I>(quads, 4);
    const I width = quads / perLane;
    if (perLane == 3 || quads % perLane != 0 || width > 32
        || !std::has_single_bit(static_cast<std::uint64_t>(width)))
        return false;
    *lanes = static_cast<int>(width);
    *quadsPerLane = static_cast<int>(perLane);
    return true;
}

std::optional<SinglePassPlan> singlePassPlan(const Shape& shape, const Scheme& scheme)
{
    SinglePassPlan plan;
    if (!singlePassApplies(scheme, shape, &plan.lanes, &plan.quadsPerLane))
        return std::nullopt;
    EncodeArgs& a = plan.args;
    a.n = shapeElementCount(shape);
    a.layout = packedLayout(scheme);
    plan.groupCount = planGroups(scheme, shape, a.groups);
    DeriveArgs& d = plan.derive;
    if (a.layout == Layout::Nf4) {
        setNf4(a, plan.bins);
        d.absmaxScale = true;
    } else if (a.layout == Layout::Mxfp4) {
        const double elementMax = setMxfp4(scheme, a, plan.bins);
        d.mxScale = true;
        d.e8m0 = scheme.e8m0Rounding;
        d.emax = std::ilogb(elementMax);
        d.elementMantissaBits = a.mantissaBits;
        d.inverseElementMax = static_cast<float>(1.0 / elementMax);
    } else if (const auto* integer = std::get_if<IntegerSpec>(&scheme.format.spec)) {
        setElement(scheme, a);
        // quantizer.cpp's elementGrid: the full code range for affine and one-sided (unsigned symmetric).
        const int top = a.qmax;
        const int fullMin = integer->isSigned ? -top - 1 : 0;
        d.affine = scheme.rangeMode == RangeMode::Affine;
        d.oneSided = !integer->isSigned && !d.affine;
        d.pytorchEps = scheme.rangeMode != RangeMode::SymmetricNarrow;
        d.elemMax = d.affine || d.oneSided
            ? static_cast<float>(top - fullMin)
            : static_cast<float>(scheme.rangeMode == RangeMode::SymmetricFull ? top + 0.5 : top);
    } else {
        setElement(scheme, a);
        d.elemMax = static_cast<float>(formatMaxFinite(scheme.format));
    }
    plan.scales = DeviceBuffer<float>(static_cast<std::size_t>(plan.groupCount));
    if (d.affine)
        plan.zeroPoints = DeviceBuffer<int>(static_cast<std::size_t>(plan.groupCount));
    return plan;
}

template<int Q>
void launchSinglePassQ(
    const SinglePassPlan& plan, const float* x, std::uint8_t* out, unsigned long long* counts)
{
    const I perWarp = I(4 / Q) * (32 / plan.lanes);
    const unsigned grid = gridFor((plan.groupCount + perWarp - 1) / perWarp * 32);
    const auto* x4 = reinterpret_cast<const float4*>(x);
    const bool range = plan.derive.affine || plan.derive.oneSided;
    withElement(plan.args, [&](auto element) {
        using E = decltype(element);
        const auto run = [&]<Layout L, class Keys>() {
            if constexpr (L == Layout::Mxfp4 && Q == 4) {
                if (plan.lanes == 2) {
                    singlePassKernel<L, Q, E, Keys, 2><<<grid, kBlockThreads>>>(plan.args, plan.derive, x4,
                        out, plan.scales.get(), plan.zeroPoints.get(), plan.groupCount, plan.lanes, counts);
                    return;
                }
            }
            singlePassKernel<L, Q, E, Keys><<<grid, kBlockThreads>>>(plan.args, plan.derive, x4, out,
                plan.scales.get(), plan.zeroPoints.get(), plan.groupCount, plan.lanes, counts);
        };
        if constexpr (E::kind == Kind::Nf4) {
            run.template operator()<Layout::Nf4, GroupMagnitude>();
        } else if (plan.args.layout == Layout::Mxfp4) {
            if constexpr (E::kind == Kind::Minifloat)
                run.template operator()<Layout::Mxfp4, GroupMagnitude>();
        } else if constexpr (E::kind == Kind::Integer) {
            // Only integers have affine and one-sided ranges.
            if (plan.args.layout == Layout::Byte)
                range ? run.template operator()<Layout::Byte, GroupRange>()
                      : run.template operator()<Layout::Byte, GroupMagnitude>();
            else
                range ? run.template operator()<Layout::Nibble, GroupRange>()
                      : run.template operator()<Layout::Nibble, GroupMagnitude>();
        } else {
            if (plan.args.layout == Layout::Byte)
                run.template operator()<Layout::Byte, GroupMagnitude>();
            else
                run.template operator()<Layout::Nibble, GroupMagnitude>();
        }
    });
}

void launchSinglePass(
    const SinglePassPlan& plan, const float* x, std::uint8_t* out, unsigned long long* counts)
{
    if (reinterpret_cast<std::uintptr_t>(x) % 16 != 0)
        throw Error("packed quantize: the device copy of x is not 16-byte aligned");
    if (plan.quadsPerLane == 1)
        launchSinglePassQ<1>(plan, x, out, counts);
    else if (plan.quadsPerLane == 2)
        launchSinglePassQ<2>(plan, x, out, counts);
    else
        launchSinglePassQ<4>(plan, x, out, counts);
    checkLaunch("packed single-pass quantize kernel");
}

EncodePlan encodePlan(const float* x, const Shape& shape, const Scheme& scheme, DeviceBuffer<RowKeys>& keys)
{
    EncodePlan plan;
    EncodeArgs& a = plan.args;
    a.n = shapeElementCount(shape);
    plan.layout = a.layout = packedLayout(scheme);
    plan.groupCount = planGroups(scheme, shape, a.groups);
    const GroupRanges ranges = deviceRanges(x, a.n, a.groups, plan.groupCount, keys);
    std::vector<float> inverses(static_cast<std::size_t>(plan.groupCount));
    if (plan.layout == Layout::Nf4) {
        setNf4(a, plan.bins);
        plan.hostScales = ranges.absmaxWithInfinity;
        for (std::size_t g = 0; g < inverses.size(); ++g)
            inverses[g] = 1.0f / std::max(plan.hostScales[g], 1e-38f);
    } else if (plan.layout == Layout::Mxfp4) {
        const double elementMax = setMxfp4(scheme, a, plan.bins);
        for (std::size_t g = 0; g < inverses.size(); ++g) {
            int exponent = 0;
            const MinMaxResult& r = ranges.ranges[g];
            if (r.nonFinite > 0
                || !kernel_detail::mxSharedExponent(
                    r.absmax, scheme.e8m0Rounding, elementMax, a.mantissaBits, exponent)) {
                plan.hostScales.push_back(std::numeric_limits<float>::quiet_NaN());
                inverses[g] = 0;
            } else {
                plan.hostScales.push_back(std::ldexp(1.0f, exponent));
                inverses[g] = std::ldexp(1.0f, -exponent);
            }
        }
    } else {
        Tensor rangeRows;
        rangeRows.shape = {plan.groupCount, 2};
        for (const MinMaxResult& r : ranges.ranges)
            rangeRows.data.insert(rangeRows.data.end(), {r.min, r.max});
        Scheme perRow = scheme;
        perRow.granularity = Granularity::perChannel(0);
        const QuantizedTensor params = quantize(rangeRows, perRow);
        plan.hostScales = params.scales;
        plan.hostZeroPoints = params.zeroPoints;
        for (std::size_t g = 0; g < inverses.size(); ++g)
            inverses[g] = 1.0f / plan.hostScales[g];
        setElement(scheme, a);
    }
    plan.scales = DeviceBuffer<float>::from(plan.hostScales);
    plan.inverses = DeviceBuffer<float>::from(inverses);
    a.scales = plan.scales.get();
    a.inverses = plan.inverses.get();
    if (!plan.hostZeroPoints.empty()) {
        const std::vector<int> zeroPoints(plan.hostZeroPoints.begin(), plan.hostZeroPoints.end());
        plan.zeroPoints = DeviceBuffer<int>::from(zeroPoints);
        a.zeroPoints = plan.zeroPoints.get();
    }
    return plan;
}

/// The code bytes (not the NF4 absmax tail) of a plan: the encode kernel's output size.
I codeBytes(const EncodePlan& plan)
{
    const I all = packedByteCount(plan.layout, plan.args.n, plan.groupCount, plan.args.groups.size);
    return plan.layout == Layout::Nf4 ? all - 4 * plan.groupCount : all;
}

/// Whether x, out and the shape allow the vector kernels (16-byte aligned x and out; see VectorGroups).
bool vectorShape(const Groups& groups, I n, const void* x, const void* out, VectorGroups* map)
{
    return reinterpret_cast<std::uintptr_t>(x) % 16 == 0 && reinterpret_cast<std::uintptr_t>(out) % 16 == 0
        && VectorGroups::make(groups, n, kVector, map);
}

void launchEncodeArgs(
    const EncodeArgs& a, I bytes, const float* x, std::uint8_t* out, unsigned long long* counts)
{
    if (bytes == 0)
        return;
    VectorGroups map;
    if (vectorShape(a.groups, a.n, x, out, &map)) {
        const I vectors = a.n / kVector;
        const unsigned grid = gridFor((vectors + 1) / 2);
        // Each layout with the element kinds it takes: bytes (integers, FP8), nibbles (4-bit integers),
        // NF4, MXFP4 (E2M1 minifloats).
        bool launched = false;
        withElement(a, [&](auto element) {
            using E = decltype(element);
            if constexpr (E::kind == Kind::Integer || E::kind == Kind::Minifloat
                || E::kind == Kind::E4M3Hardware) {
                if (a.layout == Layout::Byte) {
                    encodeVectorKernel<Layout::Byte, E>
                        <<<grid, kBlockThreads>>>(a, map, x, out, vectors, counts);
                    launched = true;
                }
            }
            if constexpr (E::kind == Kind::Integer) {
                if (a.layout == Layout::Nibble) {
                    encodeVectorKernel<Layout::Nibble, E>
                        <<<grid, kBlockThreads>>>(a, map, x, out, vectors, counts);
                    launched = true;
                }
            }
            if constexpr (E::kind == Kind::Nf4) {
                encodeVectorKernel<Layout::Nf4, E><<<grid, kBlockThreads>>>(a, map, x, out, vectors, counts);
                launched = true;
            }
            if constexpr (E::kind == Kind::Minifloat) {
                if (a.layout == Layout::Mxfp4) {
                    encodeVectorKernel<Layout::Mxfp4, E>
                        <<<grid, kBlockThreads>>>(a, map, x, out, vectors, counts);
                    launched = true;
                }
            }
        });
        if (!launched)
            throw Error("packed quantize: no vector kernel for this layout and element kind");
    } else {
        encodeKernel<<<gridFor(bytes), kBlockThreads>>>(a, x, out, bytes, counts);
    }
    checkLaunch("packed quantize kernel");
}

void launchEncode(const EncodePlan& plan, const float* x, std::uint8_t* out, unsigned long long* counts)
{
    launchEncodeArgs(plan.args, codeBytes(plan), x, out, counts);
}

/// The scaled E4M3 cast as a per-tensor packed E4M3 quantization whose multiplier is the caller's scale.
struct ScaledPlan {
    EncodeArgs args;
    DeviceBuffer<float> scale;
};

ScaledPlan scaledPlan(I n, float scale)
{
    if (!std::isfinite(scale))
        throw Error("scaled E4M3 cast: the scale must be finite, got " + std::to_string(scale));
    ScaledPlan plan;
    EncodeArgs& a = plan.args;
    setMinifloat(formatByName("fp8_e4m3"), a);
    a.n = n;
    plan.scale = DeviceBuffer<float>::from(std::span<const float>(&scale, 1));
    // The encoder multiplies by `inverses`; `scales` is only tested for NaN.
    a.scales = plan.scale.get();
    a.inverses = plan.scale.get();
    return plan;
}

/// A validated dequantization on the device.
struct DecodePlan {
    DecodeArgs args;
    DeviceBuffer<float> scales;
    DeviceBuffer<float> zeroPoints;
};

DecodePlan decodePlan(const PackedTensor& packed, const Shape& shape, const Scheme& scheme)
{
    DecodePlan plan;
    DecodeArgs& a = plan.args;
    a.n = shapeElementCount(shape);
    a.layout = packedLayout(scheme);
    const I groupCount = planGroups(scheme, shape, a.groups);
    const I expected = packedByteCount(a.layout, a.n, groupCount, a.groups.size);
    if (static_cast<I>(packed.bytes.size()) != expected)
        throw Error("packedDequantize: " + schemeName(scheme) + " on " + shapeToString(shape) + " takes "
            + std::to_string(expected) + " bytes, got " + std::to_string(packed.bytes.size()));
    const bool blocks = a.layout == Layout::Nf4 || a.layout == Layout::Mxfp4;
    const bool affine = !blocks && std::holds_alternative<IntegerSpec>(scheme.format.spec)
        && scheme.rangeMode == RangeMode::Affine;
    if (!blocks
        && (static_cast<I>(packed.scales.size()) != groupCount
            || static_cast<I>(packed.zeroPoints.size()) != (affine ? groupCount : 0)))
        throw Error("packedDequantize: " + schemeName(scheme) + " on " + shapeToString(shape) + " takes "
            + std::to_string(groupCount) + " scales and " + std::to_string(affine ? groupCount : 0)
            + " zero points, got " + std::to_string(packed.scales.size()) + " and "
            + std::to_string(packed.zeroPoints.size()));

    // The reference's decode table: qs::dequantize of every code at scale 1 (exact).
    const bool nibbles = a.layout != Layout::Byte;
    const int codeCount = nibbles ? 16 : 256;
    QuantizedTensor probe;
    probe.scheme = scheme;
    probe.shape = {codeCount};
    probe.scales = {1.0f};
    if (blocks) {
        probe.scheme.blockSize = 32;
    } else {
        probe.scheme.granularity = Granularity::perTensor();
        if (affine)
            probe.zeroPoints = {0};
    }
    const auto* integer = std::get_if<IntegerSpec>(&scheme.format.spec);
    for (int b = 0; b < codeCount; ++b)
        probe.codes.push_back(!blocks && integer && integer->isSigned
                ? (nibbles ? (b >= 8 ? b - 16 : b) : static_cast<std::int8_t>(b))
                : b);
    const Tensor decoded = dequantize(probe);
    for (int b = 0; b < 256; ++b)
        a.table[b] = decoded.data[static_cast<std::size_t>(b % codeCount)];

    std::vector<float> scales(static_cast<std::size_t>(groupCount));
    for (I g = 0; g < groupCount; ++g) {
        float& scale = scales[static_cast<std::size_t>(g)];
        if (a.layout == Layout::Nf4) {
            std::memcpy(&scale, packed.bytes.data() + (a.n + 1) / 2 + 4 * g, 4);
        } else if (a.layout == Layout::Mxfp4) {
            const std::uint8_t e = packed.bytes[static_cast<std::size_t>(g * (1 + (a.groups.size + 1) / 2))];
            scale = e == 0xFF ? std::numeric_limits<float>::quiet_NaN() : std::ldexp(1.0f, e - 127);
        } else {
            scale = packed.scales[static_cast<std::size_t>(g)];
        }
    }
    plan.scales = DeviceBuffer<float>::from(scales);
    a.scales = plan.scales.get();
    if (affine) {
        const std::vector<float> zeroPoints(packed.zeroPoints.begin(), packed.zeroPoints.end());
        plan.zeroPoints = DeviceBuffer<float>::from(zeroPoints);
        a.zeroPoints = plan.zeroPoints.get();
    }
    return plan;
}

void launchDecode(const DecodePlan& plan, const std::uint8_t* bytes, float* out)
{
    if (plan.args.n == 0)
        return;
    const DecodeArgs& a = plan.args;
    VectorGroups map;
    if (vectorShape(a.groups, a.n, bytes, out, &map)) {
        const I vectors = a.n / kVector;
        const unsigned grid = gridFor((vectors + 1) / 2);
        switch (a.layout) {
        case Layout::Byte:
            decodeVectorKernel<Layout::Byte><<<grid, kBlockThreads>>>(a, map, bytes, out, vectors);
            break;
        case Layout::Nibble:
            decodeVectorKernel<Layout::Nibble><<<grid, kBlockThreads>>>(a, map, bytes, out, vectors);
            break;
        case Layout::Nf4:
            decodeVectorKernel<Layout::Nf4><<<grid, kBlockThreads>>>(a, map, bytes, out, vectors);
            break;
        case Layout::Mxfp4:
            decodeVectorKernel<Layout::Mxfp4><<<grid, kBlockThreads>>>(a, map, bytes, out, vectors);
            break;
        }
    } else {
        decodeKernel<<<gridFor(a.n), kBlockThreads>>>(a, bytes, out);
    }
    checkLaunch("packed dequantize kernel");
}

float timeOnce(const std::function<void()>& run)
{
    cudaEvent_t start;
    cudaEvent_t stop;
    check(cudaEventCreate(&start), "cudaEventCreate");
    check(cudaEventCreate(&stop), "cudaEventCreate");
    check(cudaEventRecord(start), "cudaEventRecord");
    run();
    check(cudaEventRecord(stop), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return ms;
}

/// Median of `repeats` CUDA-event timings of `run` after two untimed warm-ups.
double medianMs(const std::function<void()>& run, int repeats)
{
    run();
    run();
    check(cudaDeviceSynchronize(), "warm-up");
    std::vector<float> times;
    for (int r = 0; r < repeats; ++r)
        times.push_back(timeOnce(run));
    std::sort(times.begin(), times.end());
    const std::size_t middle = times.size() / 2;
    return times.size() % 2 ? times[middle] : 0.5 * (double(times[middle - 1]) + double(times[middle]));
}

} // namespace

namespace {

/// Groups reduced per lane slot before the shuffles: loads of several groups in flight per lane.
constexpr int kGroupRounds = 4;

/// The Row pattern with lines and groups of a multiple of 4 floats: `lanes` (a power of two <= 32) lanes
/// per group read its float4s; a warp takes 32 / lanes groups side by side and kGroupRounds such rows of
/// groups at once, issuing their first loads together.
__global__ void __launch_bounds__(kBlockThreads)
    groupKeysVectorKernel(const float4* __restrict__ x, I groupCount, FastDivider perLineDivider,
        std::uint32_t perLine, I lineQuads, I sizeQuads, int lanes, RowKeys* __restrict__ out)
{
    const int lane = static_cast<int>(threadIdx.x) & 31;
    const int sub = lane & (lanes - 1);
    const int slots = 32 / lanes;
    const I perWarp = I(kGroupRounds) * slots;
    const I warps = (I(gridDim.x) * blockDim.x) >> 5;
    for (I first = ((I(blockIdx.x) * blockDim.x + threadIdx.x) >> 5) * perWarp; first < groupCount;
         first += warps * perWarp) {
        GroupKeys keys[kGroupRounds];
        I begin[kGroupRounds];
        I count[kGroupRounds];
        float4 v[kGroupRounds];
#pragma unroll
        for (int u = 0; u < kGroupRounds; ++u) {
            const I g = first + u * slots + lane / lanes;
            begin[u] = 0;
            count[u] = 0;
            if (g < groupCount) {
                const std::uint32_t line = perLineDivider.divide(static_cast<std::uint32_t>(g));
                const I b = g - I(line) * perLine;
                begin[u] = I(line) * lineQuads + b * sizeQuads;
                count[u] = min(sizeQuads, lineQuads - b * sizeQuads);
            }
            if (sub < count[u])
                v[u] = __ldcs(x + begin[u] + sub);
        }
#pragma unroll
        for (int u = 0; u < kGroupRounds; ++u) {
            if (sub < count[u])
                keys[u].add(v[u]);
            for (I q = sub + lanes; q < count[u]; q += lanes)
                keys[u].add(__ldcs(x + begin[u] + q));
        }
#pragma unroll
        for (int u = 0; u < kGroupRounds; ++u) {
            keys[u].reduce(lanes);
            const I g = first + u * slots + lane / lanes;
            if (sub == 0 && g < groupCount)
                out[g] = {keys[u].minKey, keys[u].maxKey, keys[u].absBits, 0, keys[u].nonFinite};
        }
    }
}

/// Group min/max keys (finite values), the absmax of the non-NaN values (±Inf included) and the non-finite
/// count of each contiguous group of the Row pattern, any shape: one warp per group.
__global__ void __launch_bounds__(kBlockThreads)
    groupKeysKernel(const float* __restrict__ x, Groups groups, I groupCount, RowKeys* __restrict__ out)
{
    const int lane = static_cast<int>(threadIdx.x) & 31;
    const I warps = (I(gridDim.x) * blockDim.x) >> 5;
    for (I g = (I(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; g < groupCount; g += warps) {
        GroupKeys keys;
        const I end = groups.end(g);
        for (I i = groups.begin(g) + lane; i < end; i += 32)
            keys.add(x[i]);
        const std::uint32_t minKey = __reduce_min_sync(kFullMask, keys.minKey);
        const std::uint32_t maxKey = __reduce_max_sync(kFullMask, keys.maxKey);
        const std::uint32_t absBits = __reduce_max_sync(kFullMask, keys.absBits);
        const unsigned nonFinite = __reduce_add_sync(kFullMask, keys.nonFinite);
        if (lane == 0)
            out[g] = {minKey, maxKey, absBits, 0, nonFinite};
    }
}

/// The keys of groupKeysKernel for each 2-D block of the Block pattern: one warp per block, its rows in
/// turn, each row's elements by consecutive lanes.
__global__ void __launch_bounds__(kBlockThreads)
    blockKeysKernel(const float* __restrict__ x, Groups groups, I groupCount, RowKeys* __restrict__ out)
{
    const int lane = static_cast<int>(threadIdx.x) & 31;
    const I warps = (I(gridDim.x) * blockDim.x) >> 5;
    const I perMatrix = groups.blockRows * groups.perLine;
    for (I g = (I(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; g < groupCount; g += warps) {
        const I m = g / perMatrix;
        const I blockRow = (g - m * perMatrix) / groups.perLine;
        const I blockCol = g - m * perMatrix - blockRow * groups.perLine;
        const I rowBegin = blockRow * groups.size;
        const I rowEnd = min(rowBegin + groups.size, groups.rows);
        const I colBegin = blockCol * groups.cols;
        const I colEnd = min(colBegin + groups.cols, groups.inner);
        GroupKeys keys;
        for (I r = rowBegin; r < rowEnd; ++r) {
            const float* row = x + (m * groups.rows + r) * groups.inner;
            for (I c = colBegin + lane; c < colEnd; c += 32)
                keys.add(__ldcs(row + c));
        }
        keys.reduce(32);
        if (lane == 0)
            out[g] = {keys.minKey, keys.maxKey, keys.absBits, 0, keys.nonFinite};
    }
}

} // namespace

void launchGroupKeys(const float* x, const Groups& groups, I groupCount, RowKeys* out)
{
    if (groupCount == 0)
        return;
    if (reinterpret_cast<std::uintptr_t>(x) % 16 == 0 && groups.length % 4 == 0 && groups.size % 4 == 0
        && groupCount < (I(1) << 32)) {
        const I sizeQuads = groups.size / 4;
        const int lanes
            = static_cast<int>(std::min<I>(32, std::bit_ceil(static_cast<std::uint64_t>(sizeQuads))));
        const I perWarp = I(kGroupRounds) * (32 / lanes);
        groupKeysVectorKernel<<<gridFor((groupCount + perWarp - 1) / perWarp * 32), kBlockThreads>>>(
            reinterpret_cast<const float4*>(x), groupCount,
            FastDivider::make(static_cast<std::uint32_t>(groups.perLine)),
            static_cast<std::uint32_t>(groups.perLine), groups.length / 4, sizeQuads, lanes, out);
    } else {
        groupKeysKernel<<<gridFor(groupCount * 32), kBlockThreads>>>(x, groups, groupCount, out);
    }
    checkLaunch("group min/max kernel");
}

void launchRangeKeys(const float* x, I n, const Groups& groups, I groupCount, RowKeys* out)
{
    if (groups.pattern == Pattern::Row) {
        launchGroupKeys(x, groups, groupCount, out);
    } else if (groups.pattern == Pattern::Block) {
        if (groupCount == 0)
            return;
        blockKeysKernel<<<gridFor(groupCount * 32), kBlockThreads>>>(x, groups, groupCount, out);
        checkLaunch("2-D block min/max kernel");
    } else {
        launchMinMaxRows(x, groupCount, groupCount == 0 ? 0 : n / groupCount, out, nullptr);
    }
}

GroupRanges deviceRanges(const float* x, I n, const Groups& groups, I groupCount, DeviceBuffer<RowKeys>& keys)
{
    if (keys.size() != static_cast<std::size_t>(groupCount))
        keys = DeviceBuffer<RowKeys>(static_cast<std::size_t>(groupCount));
    launchRangeKeys(x, n, groups, groupCount, keys.get());
    std::vector<RowKeys> host(static_cast<std::size_t>(groupCount));
    download(host.data(), keys.get(), host.size());
    GroupRanges out;
    for (const RowKeys& k : host) {
        // launchRangeKeys' absBits counts ±Inf; the range's absmax, as minMaxGroups', is over finite values.
        MinMaxResult r = minMaxResult(k);
        r.absmax = std::max(std::fabs(r.min), std::fabs(r.max));
        out.ranges.push_back(r);
        out.absmaxWithInfinity.push_back(std::bit_cast<float>(k.absBits));
    }
    return out;
}

} // namespace qs::cuda

namespace qs {

std::string cudaPackedUnsupported(const Scheme& scheme, const Shape& shape)
{
    if (scheme.blockFormat != BlockFormat::None)
        return {};
    const Granularity& g = scheme.granularity;
    const auto rank = static_cast<int>(shape.size());
    if (g.kind == Granularity::Kind::PerChannel && g.axis != 0 && g.axis != -rank)
        return "per-channel along axis " + std::to_string(g.axis) + " has no CUDA packed kernel";
    if (g.kind == Granularity::Kind::PerGroup && g.axis != -1 && g.axis != rank - 1)
        return "groups along axis " + std::to_string(g.axis) + " have no CUDA packed kernel";
    return {};
}

namespace {

/// The NF4 layout's tail: one little-endian fp32 absmax per block after the codes.
void appendNf4Absmax(PackedTensor& packed)
{
    for (const float absmax : packed.scales) {
        std::uint8_t le[4];
        std::memcpy(le, &absmax, 4);
        packed.bytes.insert(packed.bytes.end(), le, le + 4);
    }
}

} // namespace

PackedTensor cudaPackedQuantize(std::span<const float> values, const Shape& shape, const Scheme& scheme)
{
    cuda::checkSupported(scheme, shape, "packedQuantize");
    const cuda::I n = shapeElementCount(shape);
    if (n != static_cast<cuda::I>(values.size()))
        throw Error("packedQuantize: shape " + shapeToString(shape) + " needs " + std::to_string(n)
            + " values, got " + std::to_string(values.size()));
    const auto x = cuda::DeviceBuffer<float>::from(values);
    if (const auto single = cuda::singlePassPlan(shape, scheme)) {
        const bool nf4 = single->args.layout == cuda::Layout::Nf4;
        const cuda::I bytes
            = packedByteCount(single->args.layout, n, single->groupCount, single->args.groups.size)
            - (nf4 ? 4 * single->groupCount : 0);
        cuda::DeviceBuffer<std::uint8_t> out(static_cast<std::size_t>(bytes));
        cuda::DeviceBuffer<unsigned long long> counts(2);
        cuda::check(cudaMemset(counts.get(), 0, 2 * sizeof(unsigned long long)), "cudaMemset");
        cuda::launchSinglePass(*single, x.get(), out.get(), counts.get());
        PackedTensor packed;
        packed.bytes.resize(static_cast<std::size_t>(bytes));
        cuda::download(packed.bytes.data(), out.get(), packed.bytes.size());
        unsigned long long hostCounts[2] = {0, 0};
        cuda::download(hostCounts, counts.get(), 2);
        packed.clippedCount = static_cast<std::int64_t>(hostCounts[0]);
        packed.nonFiniteCount = static_cast<std::int64_t>(hostCounts[1]);
        packed.scales.resize(static_cast<std::size_t>(single->groupCount));
        cuda::download(packed.scales.data(), single->scales.get(), packed.scales.size());
        if (single->derive.affine) {
            packed.zeroPoints.resize(static_cast<std::size_t>(single->groupCount));
            cuda::download(packed.zeroPoints.data(), single->zeroPoints.get(), packed.zeroPoints.size());
        }
        if (nf4)
            appendNf4Absmax(packed);
        return packed;
    }
    cuda::DeviceBuffer<cuda::RowKeys> keys;
    const cuda::EncodePlan plan = cuda::encodePlan(x.get(), shape, scheme, keys);
    const cuda::I bytes = cuda::codeBytes(plan);
    cuda::DeviceBuffer<std::uint8_t> out(static_cast<std::size_t>(bytes));
    cuda::DeviceBuffer<unsigned long long> counts(2);
    cuda::check(cudaMemset(counts.get(), 0, 2 * sizeof(unsigned long long)), "cudaMemset");
    cuda::launchEncode(plan, x.get(), out.get(), counts.get());
    PackedTensor packed;
    packed.bytes.resize(static_cast<std::size_t>(bytes));
    cuda::download(packed.bytes.data(), out.get(), packed.bytes.size());
    unsigned long long hostCounts[2] = {0, 0};
    cuda::download(hostCounts, counts.get(), 2);
    packed.clippedCount = static_cast<std::int64_t>(hostCounts[0]);
    packed.nonFiniteCount = static_cast<std::int64_t>(hostCounts[1]);
    packed.scales = plan.hostScales;
    packed.zeroPoints = plan.hostZeroPoints;
    if (plan.layout == cuda::Layout::Nf4)
        appendNf4Absmax(packed);
    return packed;
}

std::vector<float> cudaPackedDequantize(const PackedTensor& packed, const Shape& shape, const Scheme& scheme)
{
    cuda::checkSupported(scheme, shape, "packedDequantize");
    const cuda::DecodePlan plan = cuda::decodePlan(packed, shape, scheme);
    const auto bytes = cuda::DeviceBuffer<std::uint8_t>::from(packed.bytes);
    cuda::DeviceBuffer<float> out(static_cast<std::size_t>(plan.args.n));
    cuda::launchDecode(plan, bytes.get(), out.get());
    std::vector<float> values(static_cast<std::size_t>(plan.args.n));
    cuda::download(values.data(), out.get(), values.size());
    return values;
}

double cudaTimePackedMs(
    bool unpack, std::span<const float> values, const Shape& shape, const Scheme& scheme, int repeats)
{
    if (repeats < 1)
        throw Error("kernel timing needs at least one repeat, not " + std::to_string(repeats));
    cuda::checkSupported(scheme, shape, "packed kernel timing");
    const auto x = cuda::DeviceBuffer<float>::from(values);
    cuda::DeviceBuffer<cuda::RowKeys> keys;
    const cuda::EncodePlan plan = cuda::encodePlan(x.get(), shape, scheme, keys);
    cuda::DeviceBuffer<std::uint8_t> bytes(static_cast<std::size_t>(
        packedByteCount(plan.layout, plan.args.n, plan.groupCount, plan.args.groups.size)));
    cuda::DeviceBuffer<unsigned long long> counts(2);
    cuda::launchEncode(plan, x.get(), bytes.get(), counts.get());
    const auto single = cuda::singlePassPlan(shape, scheme);
    std::function<void()> run;
    cuda::DecodePlan decode;
    cuda::DeviceBuffer<float> out;
    if (unpack) {
        PackedTensor packed;
        packed.bytes.resize(bytes.size());
        cuda::download(packed.bytes.data(), bytes.get(), static_cast<std::size_t>(cuda::codeBytes(plan)));
        for (std::size_t g = 0; plan.layout == cuda::Layout::Nf4 && g < plan.hostScales.size(); ++g)
            std::memcpy(packed.bytes.data() + cuda::codeBytes(plan) + 4 * g, &plan.hostScales[g], 4);
        packed.scales = plan.hostScales;
        packed.zeroPoints = plan.hostZeroPoints;
        decode = cuda::decodePlan(packed, shape, scheme);
        out = cuda::DeviceBuffer<float>(values.size());
        run = [&] { cuda::launchDecode(decode, bytes.get(), out.get()); };
    } else if (single) {
        run = [&] { cuda::launchSinglePass(*single, x.get(), bytes.get(), counts.get()); };
    } else {
        run = [&] {
            cuda::launchRangeKeys(x.get(), plan.args.n, plan.args.groups, plan.groupCount, keys.get());
            cuda::launchEncode(plan, x.get(), bytes.get(), counts.get());
        };
    }
    return cuda::medianMs(run, repeats);
}

bool cudaPackedSinglePass(const Scheme& scheme, const Shape& shape)
{
    int lanes = 0;
    int quadsPerLane = 0;
    return cudaPackedUnsupported(scheme, shape).empty()
        && cuda::singlePassApplies(scheme, shape, &lanes, &quadsPerLane);
}

ScaledE4M3 cudaScaledE4M3(std::span<const float> values, float scale)
{
    const auto n = static_cast<cuda::I>(values.size());
    const cuda::ScaledPlan plan = cuda::scaledPlan(n, scale);
    const auto x = cuda::DeviceBuffer<float>::from(values);
    cuda::DeviceBuffer<std::uint8_t> out(values.size());
    cuda::DeviceBuffer<unsigned long long> counts(2);
    cuda::check(cudaMemset(counts.get(), 0, 2 * sizeof(unsigned long long)), "cudaMemset");
    cuda::launchEncodeArgs(plan.args, n, x.get(), out.get(), counts.get());
    ScaledE4M3 result;
    result.codes.resize(values.size());
    cuda::download(result.codes.data(), out.get(), result.codes.size());
    unsigned long long hostCounts[2] = {0, 0};
    cuda::download(hostCounts, counts.get(), 2);
    result.clippedCount = static_cast<std::int64_t>(hostCounts[0]);
    result.nonFiniteCount = static_cast<std::int64_t>(hostCounts[1]);
    return result;
}

double cudaTimeScaledE4M3Ms(std::span<const float> values, float scale, int repeats)
{
    if (repeats < 1)
        throw Error("kernel timing needs at least one repeat, not " + std::to_string(repeats));
    const auto n = static_cast<cuda::I>(values.size());
    const cuda::ScaledPlan plan = cuda::scaledPlan(n, scale);
    const auto x = cuda::DeviceBuffer<float>::from(values);
    cuda::DeviceBuffer<std::uint8_t> out(values.size());
    cuda::DeviceBuffer<unsigned long long> counts(2);
    return cuda::medianMs(
        [&] { cuda::launchEncodeArgs(plan.args, n, x.get(), out.get(), counts.get()); }, repeats);
}

} // namespace qs
