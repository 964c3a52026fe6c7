#pragma once

// Internal to the CUDA backend: the element semantics of qs::fakeQuantize (quant/quantizer.cpp,
// quantizePass; the scalar kernels of kernels/scalar_kernels.cpp) on the device, the group lookup of every
// granularity, and the fused fake-quant + error pass that cudaFakeQuantError, cudaFakeQuantize and
// cudaTimeKernelMs launch.
//
// Every float operation is an explicit _rn intrinsic, so nvcc cannot contract or reorder it and the results
// are the host's IEEE float32 results.

#include "kernels/block_scales.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/encoder_table.h"
#include "kernels/table_bins.h"
#include "quant/scale_rounding.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qs::cuda {

enum class ElementKind {
    Integer,
    Minifloat, ///< bit rounding of quant/scale_rounding.h's MinifloatRounder
    E4M3Hardware, ///< FP8 E4M3, ties to even: cvt.rn.satfinite for finite values (sm_89 and later)
    E5M2Hardware, ///< FP8 E5M2, ties to even, saturating: cvt.rn.satfinite likewise
    /// A minifloat with E4M3's 3 (E5M2's 2) mantissa bits whose values, scaled by 2^(its bias - E4M3's bias
    /// 7), are E4M3 (E5M2) values (FP6 E2M3, E3M2), ties to even: the hardware conversion of v · that power
    /// of two, saturated at the format's own largest value (ElementGrid::hardwareScale).
    E4M3Embedded,
    E5M2Embedded, ///< E4M3Embedded with E5M2's conversion (bias 15)
    /// Other minifloats with ties to even whose rounding is MinifloatRounder::roundsByMagicAddition's:
    /// (|v| + C) - C by two float additions, C = 2^q · 1.5 · 2^(23 - M) with 2^q the binade of max(|v|, the
    /// smallest normal); saturated at the largest value, clipped when |v| >= ElementGrid::clipFrom.
    MagicMinifloat,
    Table, ///< lookup formats: the code regions of the format's encoder (as the quantizer's table kernel)
    /// Table whose thresholds fit 32 bins of at most one threshold (ElementGrid::bins): a bin and one compare
    /// per element instead of the search. The compares are of floats (thresholds and extremes as float
    /// bits), which order as the keys do but for ±0: only tables with no threshold at +0 and nonzero
    /// extremes.
    BinnedTable,
    /// Minifloats that clip before rounding (the MXFP4 and NVFP4 elements) whose |v| regions fit 32 bins
    /// (MagnitudeBins in ElementGrid::bins): the Minifloat kind's values by one lookup.
    MagnitudeTable,
};

/// What the element code needs about the grid, derived once per call on the host.
struct ElementGrid {
    int qmin = 0;
    int qmax = 0;
    float qminFloat = 0;
    float qmaxFloat = 0;
    bool tiesAway = false; ///< integers: scheme.elementRounding; minifloats: the format's rounding
    int mantissaBits = 3;
    int bias = 7;
    std::uint32_t maxBits = 0; ///< float bits of the largest finite minifloat value
    /// The four hardware FP8 kinds: v · hardwareScale is converted (2^(bias - the hardware format's bias), 1
    /// for FP8 itself). These and MagicMinifloat: an element clips when |v| >= clipFrom
    /// (MinifloatRounder::clipFromBits, or clipBeforeRounding).
    float hardwareScale = 1;
    float clipFrom = 0;
    /// MagicMinifloat: the smallest normal 2^(1 - bias), and 1.5 · 2^(23 - M), C over 2^q.
    float smallestNormal = 0;
    float magicFactor = 0;
    /// Table: region r holds the ordered keys in [thresholds[r-1], thresholds[r]) and decodes to values[r];
    /// beyond lowestKey/highestKey (the keys of the extreme values) an element clips.
    const std::int32_t* thresholds = nullptr;
    const float* values = nullptr;
    int thresholdCount = 0;
    /// BinnedTable and MagnitudeTable: 32 bins of at most one threshold (table_bins.h), kTableBins entries
    /// {threshold, value below it, value from it on (float bits), 0} over v (BinnedTable, the threshold as a
    /// float's bits) or |v| (MagnitudeTable, the threshold as |v|'s bits), which the kernel copies to shared
    /// memory (loadTableBins); null otherwise.
    const int4* bins = nullptr;
    float binScale = 0;
    float binOffset = 0;
    std::int32_t lowestKey = 0;
    std::int32_t highestKey = 0;
    /// BinnedTable: the values of lowestKey and highestKey, beyond which an element clips.
    float lowestValue = 0;
    float highestValue = 0;
    /// Non-integers: x̂ / scale of a non-finite x, by the format's own policies: +NaN, -NaN, +Inf, -Inf.
    float nonFiniteUnits[4] = {0, 0, 0, 0};
    /// An element clips when v lies beyond the grid before rounding (minifloats |v| > max, integers v
    /// outside [qmin - zp, qmax - zp]: the MX and NVFP4 references clamp first) rather than when it rounds
    /// beyond it (qs::quantize); x̂ is the same either way. Integer and Minifloat kinds (ClipRule).
    bool clipBeforeRounding = false;
};

/// Where the integer and bit-rounding kinds take the clip rule from: fixed at compile time (the chunk
/// kernel's block patterns clip before rounding, WholeChunks and Run after), or ElementGrid's flag.
enum class ClipRule { AfterRounding, BeforeRounding, Grid };

/// Whether `kind` converts by cvt.rn.satfinite (E4M3 or E5M2, themselves or embedded).
__host__ __device__ constexpr bool hardwareFp8(ElementKind kind)
{
    return kind == ElementKind::E4M3Hardware || kind == ElementKind::E5M2Hardware
        || kind == ElementKind::E4M3Embedded || kind == ElementKind::E5M2Embedded;
}

/// Whether `kind` is a minifloat kind that stands in for the bit rounding (the hardware conversions, the
/// magic addition) and so clips when |v| >= ElementGrid::clipFrom.
__host__ __device__ constexpr bool clipsFromThreshold(ElementKind kind)
{
    return hardwareFp8(kind) || kind == ElementKind::MagicMinifloat;
}

/// Makes `grid` count an element as clipped when v lies beyond the grid before rounding (the MX and NVFP4
/// references): clipBeforeRounding for the integer and bit-rounding kinds, and for the hardware and magic
/// kinds clipFrom the float just above the largest value.
inline void clipBeforeRounding(ElementGrid& grid)
{
    grid.clipBeforeRounding = true;
    grid.clipFrom = std::bit_cast<float>(grid.maxBits + 1);
}

/// The bins of ElementGrid::bins in shared memory, one array per field of their entries: a warp's 32-bit
/// loads of 32 words never meet in a bank, where 16-byte entries of bins 8 apart did (H100, 1 GiB: NF4 group
/// 64 0.501 -> 0.446 ms).
constexpr int kTableBins = 32;
__shared__ int tableBinThresholds[kTableBins];
__shared__ int tableBinBelow[kTableBins];
__shared__ int tableBinFrom[kTableBins];

/// Fills the shared bins from `bins` (kTableBins entries) for the whole block; every thread of the block
/// must call it.
__device__ inline void loadTableBins(const int4* bins)
{
    if (threadIdx.x < kTableBins) {
        const int4 entry = bins[threadIdx.x];
        tableBinThresholds[threadIdx.x] = entry.x;
        tableBinBelow[threadIdx.x] = entry.y;
        tableBinFrom[threadIdx.x] = entry.z;
    }
    __syncthreads();
}

/// The bins' entry of v, as installBins wrote it: table_bins.h's bin, 2^23 + bin from one fma and the clamp
/// (a NaN v: the first bin).
__device__ inline int4 tableBinEntry(float v, float binScale, float binOffset)
{
    constexpr float kOrigin = 8388608.0f;
    const float position
        = fminf(fmaxf(__fmaf_rn(v, binScale, binOffset), kOrigin), kOrigin + (kTableBins - 1));
    const int bin = __float_as_int(position) & (kTableBins - 1);
    return make_int4(tableBinThresholds[bin], tableBinBelow[bin], tableBinFrom[bin], 0);
}

/// Installs `bins` into `target` (an ElementGrid or packed.cu's EncodeArgs: its bins, binScale and binOffset)
/// when it has kTableBins bins of at most one threshold, the entries held by `buffer`: {threshold,
/// word(base), word(base + 1), 0}, word(r) being what the kernel returns for region r. A bin's region past
/// the last (base + 1 of the last region's bins, whose threshold is never reached) takes the last region's
/// word. Returns whether it installed them.
template<class Target, class Word>
bool installBins(Target& target, DeviceBuffer<int4>& buffer, const kernel_detail::TableBins& bins,
    std::size_t regionCount, Word word)
{
    if (bins.count != kTableBins || regionCount == 0)
        return false;
    const auto wordOf = [&](int region) { return word(std::min<std::size_t>(region, regionCount - 1)); };
    std::vector<int4> entries(kTableBins);
    for (std::size_t b = 0; b < entries.size(); ++b)
        entries[b] = {bins.thresholds[0][b], wordOf(bins.base[b]), wordOf(bins.base[b] + 1), 0};
    buffer = DeviceBuffer<int4>::from(entries);
    target.bins = buffer.get();
    target.binScale = bins.scale;
    target.binOffset = bins.offset;
    return true;
}

/// Bins of |v| for a minifloat that clips before rounding (MXFP4, NVFP4 elements): the regions of v >= 0 over
/// which the rounder's rounding of v, saturated at maxBits, stays the same (every v <= 0 in the first), and
/// those rounded float bits by region. bins.count is 0 unless 32 bins of one threshold exist.
struct MagnitudeBins {
    kernel_detail::TableBins bins;
    std::vector<std::uint32_t> rounded;
};

inline MagnitudeBins magnitudeBins(const detail::MinifloatRounder& rounder, const std::string& name)
{
    const auto roundedOf = [&](float v) {
        return v <= 0 ? 0u : std::min(rounder.roundBits(std::bit_cast<std::uint32_t>(v)), rounder.maxBits);
    };
    const kernel_detail::EncoderTable table = kernel_detail::encoderTableOf(
        roundedOf, [](std::uint32_t bits) { return double(std::bit_cast<float>(bits)); }, name,
        "the CUDA bins");
    MagnitudeBins result;
    result.bins = kernel_detail::tableBins(table.thresholds, kTableBins, 1);
    for (const float value : table.values)
        result.rounded.push_back(std::bit_cast<std::uint32_t>(value));
    return result;
}

/// float bits -> int32 that orders like the floats (-0 just below +0), kernels/kernel_backends.h's
/// orderedKey.
__host__ __device__ inline std::int32_t signedKey(std::uint32_t bits)
{
    const auto b = static_cast<std::int32_t>(bits);
    return b ^ ((b >> 31) & 0x7FFFFFFF);
}

/// MinifloatRounder::roundBits (quant/scale_rounding.h) for a non-negative finite float's bits: the rounded
/// magnitude as float bits, unbounded above.
__host__ __device__ inline std::uint32_t roundMinifloatBits(
    std::uint32_t u, int mantissaBits, int bias, bool tiesAway)
{
    const int exponentField = static_cast<int>(u >> 23) > 0 ? static_cast<int>(u >> 23) : 1;
    const int subnormalExtra = (128 - bias) - exponentField;
    const int shift = 23 - mantissaBits + (subnormalExtra > 0 ? subnormalExtra : 0);
    if (shift <= 23) {
        const std::uint32_t half = 1u << (shift - 1);
        const std::uint32_t lowerOdd = shift < 23 ? (u >> shift) & 1u : ((u >> 23) != 0 ? 1u : 0u);
        const std::uint32_t add = tiesAway ? half : half - 1 + lowerOdd;
        return (u + add) & ~((1u << shift) - 1u);
    }
    if (shift == 24 && (u >> 23) != 0) {
        const bool tie = (u & 0x7FFFFFu) == 0;
        if (!tie || tiesAway)
            return static_cast<std::uint32_t>(exponentField + 1) << 23;
    }
    return 0;
}

#if defined(__CUDACC__)

/// The parameters of one group. Zero points are held as floats: every integer of the integer path (codes,
/// zero points, clamp bounds, all below 2^17) is exact in float, so the path needs no int conversion.
struct GroupValues {
    float scale;
    float inverse; ///< 1.0f / scale (by the host, or on the device for FakeQuantArgs::rowScales)
    float zeroPoint;
};

/// The hardware FP8 kinds (`Kind`) of two finite-or-infinite floats v0, v1: E4M3 or E5M2 of v ·
/// hardwareScale, ties to even, saturated to the largest value (±448, ±57344; cvt.rn.satfinite), decoded back
/// to float: the code's 7 magnitude bits under a float exponent give 2^(e-127)·1.m (or the subnormal
/// 2^-126·0.m), which 2^(127 - bias), the format's own bias, rescales exactly to its value; the embedded
/// kinds then saturate at their largest value.
template<ElementKind Kind>
__device__ inline void fp8Pair(float v0, float v1, const ElementGrid& grid, float& u0, float& u1)
{
    constexpr bool e5m2 = Kind == ElementKind::E5M2Hardware || Kind == ElementKind::E5M2Embedded;
    constexpr bool embedded = Kind == ElementKind::E4M3Embedded || Kind == ElementKind::E5M2Embedded;
    constexpr int mantissaBits = e5m2 ? 2 : 3;
    if constexpr (embedded) {
        v0 = __fmul_rn(v0, grid.hardwareScale);
        v1 = __fmul_rn(v1, grid.hardwareScale);
    }
#if __CUDA_ARCH__ >= 890
    unsigned short pair;
    if constexpr (e5m2)
        asm("cvt.rn.satfinite.e5m2x2.f32 %0, %1, %2;" : "=h"(pair) : "f"(v1), "f"(v0));
    else
        asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(pair) : "f"(v1), "f"(v0));
    const int bias = embedded ? grid.bias : (e5m2 ? 15 : 7);
    const float rebias = __uint_as_float(static_cast<unsigned>(254 - bias) << 23); // 2^(127 - bias)
    const auto decode = [&](unsigned code) {
        float magnitude = __fmul_rn(__uint_as_float((code & 0x7Fu) << (23 - mantissaBits)), rebias);
        if constexpr (embedded)
            magnitude = fminf(magnitude, __uint_as_float(grid.maxBits));
        return __uint_as_float(__float_as_uint(magnitude) | ((code & 0x80u) << 24));
    };
    u0 = decode(pair & 0xFFu);
    u1 = decode(pair >> 8);
#else
    const int bias = e5m2 ? 15 : 7;
    const float unscale = embedded ? __frcp_rn(grid.hardwareScale) : 1.0f;
    const auto round = [&](float v) {
        const std::uint32_t bits = __float_as_uint(v);
        const std::uint32_t rounded = roundMinifloatBits(bits & 0x7FFFFFFFu, mantissaBits, bias, false);
        const std::uint32_t cap = embedded
            ? __float_as_uint(__fmul_rn(__uint_as_float(grid.maxBits), grid.hardwareScale))
            : grid.maxBits;
        const float magnitude = __fmul_rn(__uint_as_float(rounded > cap ? cap : rounded), unscale);
        return __uint_as_float(__float_as_uint(magnitude) | (bits & 0x80000000u));
    };
    u0 = round(v0);
    u1 = round(v1);
#endif
}

/// x̂ of one element with a finite x, and whether it clipped, exactly as quantizePass (`Kind` is not a
/// hardware FP8 kind, see fakeQuantPair), the clip rule from `Clip`. ±Inf and NaN x go through the same
/// arithmetic harmlessly; the callers replace their results (fakeQuantElement).
template<ElementKind Kind, bool Divide, bool TiesAway, ClipRule Clip = ClipRule::Grid>
__device__ inline float fakeQuantFinite(float x, const GroupValues& p, const ElementGrid& grid, bool& clipped)
{
    const float v = Divide ? __fdiv_rn(x, p.scale) : __fmul_rn(x, p.inverse);
    const bool beforeRounding
        = Clip == ClipRule::Grid ? grid.clipBeforeRounding : Clip == ClipRule::BeforeRounding;
    if constexpr (Kind == ElementKind::Integer) {
        // With L = qmin - zp and H = qmax - zp (integers, exact): the quantizer clamps v to [L - 1, H + 1],
        // rounds to r, clips when v (clipBeforeRounding) or r lies outside [L, H], and x̂ = clamp(r, L,
        // H)·scale, which is (clamp(r + zp, qmin, qmax) - zp)·scale exactly: every value here is an integer
        // below 2^17. The clamp before rounding is left out: it only keeps v + kMagic exact, and a v beyond
        // it gives an r beyond [L, H] all the same (|v| < 2^22: r = round(v) < L or > H; |v| >= 2^22, ±Inf
        // included: |r| >= 2^22), so the same code and the same clip.
        constexpr float kMagic = 12582912.0f; // 1.5 * 2^23: v + kMagic has no fraction bits
        const float low = __fsub_rn(grid.qminFloat, p.zeroPoint);
        const float high = __fsub_rn(grid.qmaxFloat, p.zeroPoint);
        float rounded = __fsub_rn(__fadd_rn(v, kMagic), kMagic);
        if constexpr (TiesAway) {
            const float below = __fsub_rn(v, rounded);
            rounded = __fadd_rn(
                rounded, (v > 0 && below == 0.5f) ? 1.0f : ((v < 0 && below == -0.5f) ? -1.0f : 0.0f));
        }
        const float kept = fminf(fmaxf(rounded, low), high);
        // r outside [L, H] is r != clamp(r) (r is not NaN for a finite x and a finite scale): one compare
        // instead of two.
        clipped = beforeRounding ? (v < low || v > high) : kept != rounded;
        return __fmul_rn(kept, p.scale);
    } else if constexpr (Kind == ElementKind::MagicMinifloat) {
        // A C past the float range (|v| far beyond the grid) or an infinite |v| makes the difference NaN,
        // which fminf saturates like any other |v| beyond the grid.
        const float magnitude = fabsf(v);
        const float binade
            = __uint_as_float(__float_as_uint(fmaxf(magnitude, grid.smallestNormal)) & 0x7F800000u);
        const float c = __fmul_rn(binade, grid.magicFactor);
        const float rounded = fminf(__fsub_rn(__fadd_rn(magnitude, c), c), __uint_as_float(grid.maxBits));
        clipped = magnitude >= grid.clipFrom;
        return __fmul_rn(copysignf(rounded, v), p.scale);
    } else if constexpr (Kind == ElementKind::MagnitudeTable) {
        // |v|'s rounded value from its bin, v's sign (a NaN v gives garbage; only a NaN x, whose result the
        // callers replace, makes one).
        const std::uint32_t bits = __float_as_uint(v);
        const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
        const int4 bin = tableBinEntry(__uint_as_float(magnitude), grid.binScale, grid.binOffset);
        clipped = magnitude > grid.maxBits;
        return __fmul_rn(
            __uint_as_float(static_cast<std::uint32_t>(static_cast<int>(magnitude) >= bin.x ? bin.z : bin.y)
                | (bits & 0x80000000u)),
            p.scale);
    } else if constexpr (Kind == ElementKind::BinnedTable) {
        // Float compares, where the keys took two instructions more (H100, 1 GiB: NF4 group 64 0.449 -> 0.441
        // ms, interleaved medians). A NaN v (only from a NaN x, whose result the callers replace) lands in
        // the first bin.
        clipped = v > grid.highestValue || v < grid.lowestValue;
        const int4 bin = tableBinEntry(v, grid.binScale, grid.binOffset);
        return __fmul_rn(__int_as_float(v >= __int_as_float(bin.x) ? bin.z : bin.y), p.scale);
    } else if constexpr (Kind == ElementKind::Table) {
        const std::int32_t key = signedKey(__float_as_uint(v));
        clipped = key > grid.highestKey || key < grid.lowestKey;
        // The region = the number of thresholds <= key (the first threshold above the key).
        int low = 0;
        int high = grid.thresholdCount;
        while (low < high) {
            const int middle = (low + high) / 2;
            if (__ldg(grid.thresholds + middle) <= key)
                low = middle + 1;
            else
                high = middle;
        }
        return __fmul_rn(__ldg(grid.values + low), p.scale);
    } else {
        const std::uint32_t bits = __float_as_uint(v);
        const std::uint32_t rounded
            = roundMinifloatBits(bits & 0x7FFFFFFFu, grid.mantissaBits, grid.bias, TiesAway);
        clipped = (beforeRounding ? bits & 0x7FFFFFFFu : rounded) > grid.maxBits;
        return __fmul_rn(
            __uint_as_float((rounded > grid.maxBits ? grid.maxBits : rounded) | (bits & 0x80000000u)),
            p.scale);
    }
}

/// fakeQuantFinite for any x: a non-finite x is never clipped; integers saturate ±Inf (the arithmetic
/// above does) and give 0 for NaN, other formats take their own NaN/±Inf policy (nonFiniteUnits).
template<ElementKind Kind, bool Divide, bool TiesAway, ClipRule Clip = ClipRule::Grid>
__device__ inline float fakeQuantElement(
    float x, const GroupValues& p, const ElementGrid& grid, bool& clipped)
{
    const float y = fakeQuantFinite<Kind, Divide, TiesAway, Clip>(x, p, grid, clipped);
    const std::uint32_t xBits = __float_as_uint(x);
    if (finiteBits(xBits))
        return y;
    clipped = false;
    if constexpr (Kind == ElementKind::Integer)
        return x != x ? __fmul_rn(0.0f, p.scale) : y;
    else
        return __fmul_rn(grid.nonFiniteUnits[(x != x ? 0 : 2) + static_cast<int>(xBits >> 31)], p.scale);
}

/// fakeQuantElement (`Finite`: fakeQuantFinite) of two elements. The hardware FP8 kinds convert both with
/// one cvt.rn.satfinite (fp8Pair), and an element clips when |v| >= ElementGrid::clipFrom: for E4M3 the
/// float after 464, the tie between 448 and 480 going to the even 448; for E5M2 61440, the tie between 57344
/// and 65536 going to the even 65536, beyond the grid; for a grid that clips before rounding (the MX
/// elements) the float after the largest value, to which every larger |v| saturates alike.
template<ElementKind Kind, bool Divide, bool TiesAway, bool Finite, ClipRule Clip = ClipRule::Grid>
__device__ inline void fakeQuantPair(float x0, float x1, const GroupValues& p0, const GroupValues& p1,
    const ElementGrid& grid, float (&y)[2], bool (&clipped)[2])
{
    if constexpr (!hardwareFp8(Kind)) {
        if constexpr (Finite) {
            y[0] = fakeQuantFinite<Kind, Divide, TiesAway, Clip>(x0, p0, grid, clipped[0]);
            y[1] = fakeQuantFinite<Kind, Divide, TiesAway, Clip>(x1, p1, grid, clipped[1]);
        } else {
            y[0] = fakeQuantElement<Kind, Divide, TiesAway, Clip>(x0, p0, grid, clipped[0]);
            y[1] = fakeQuantElement<Kind, Divide, TiesAway, Clip>(x1, p1, grid, clipped[1]);
        }
    } else {
        const float v0 = Divide ? __fdiv_rn(x0, p0.scale) : __fmul_rn(x0, p0.inverse);
        const float v1 = Divide ? __fdiv_rn(x1, p1.scale) : __fmul_rn(x1, p1.inverse);
        float u0;
        float u1;
        fp8Pair<Kind>(v0, v1, grid, u0, u1);
        clipped[0] = fabsf(v0) >= grid.clipFrom;
        clipped[1] = fabsf(v1) >= grid.clipFrom;
        if constexpr (!Finite) {
            const auto policy = [&](float x, float unit, bool& clip) {
                const std::uint32_t bits = __float_as_uint(x);
                if (finiteBits(bits))
                    return unit;
                clip = false;
                return grid.nonFiniteUnits[(x != x ? 0 : 2) + static_cast<int>(bits >> 31)];
            };
            u0 = policy(x0, u0, clipped[0]);
            u1 = policy(x1, u1, clipped[1]);
        }
        y[0] = __fmul_rn(u0, p0.scale);
        y[1] = __fmul_rn(u1, p1.scale);
    }
}

#endif

enum class GroupPattern {
    /// Every chunk of kKernelChunk elements inside one group: the tensor's one group (FakeQuantArgs::single)
    /// or runs of a multiple of kKernelChunk elements (FakeQuantArgs::chunksPerGroup), such as channels of
    /// rows of 4096
    WholeChunks,
    Run, ///< element i is in group i / runLength
    /// MX blocks of 32 along the last axis in one pass (BlockRule): Run of 32 whose scales the kernel finds
    MxBlocks,
    /// NVFP4 blocks of 16 along the last axis (BlockRule, given the tensor absmax): Run of 16 whose scales
    /// the kernel finds
    Nvfp4Blocks,
    General, ///< the index arithmetic of GroupIndexer::Layout
};

/// Element index -> group index (qs::groupLayout's order) for the three patterns.
struct GroupIndexer {
    enum class Layout { Channel, GroupLast, GroupInner, Block };
    Layout layout = Layout::Channel;
    bool narrow = false; ///< n < 2^32: Run and GroupLast use the fast 32-bit dividers
    I runLength = 1;
    FastDivider runDivider;
    /// Run, narrow, runLength 2^s rows of kKernelLanes elements (32, 64, … 2048): s, else 0. The elements
    /// 16r..16r+15 (row r) then share group r >> rowShift, the same for every lane of a chunk (chunks start
    /// on rows), and so do rows 2k and 2k+1.
    std::uint32_t rowShift = 0;
    FastDivider lengthDivider;
    FastDivider sizeDivider;
    // GroupGeometry's extents (quant/group_geometry.h): [outer, length, inner] around the axis.
    I length = 1;
    I inner = 1;
    I size = 1;
    I perLine = 1;
    I lineBlocks = 1;
    I cols = 1;

#if defined(__CUDACC__)
    /// Group of element i, and in *end the first element after i's run of elements of that group.
    __device__ I locate(GroupPattern pattern, I i, I* end) const
    {
        if (pattern == GroupPattern::Run || pattern == GroupPattern::MxBlocks
            || pattern == GroupPattern::Nvfp4Blocks) {
            const I g = runGroup(i);
            *end = (g + 1) * runLength;
            return g;
        }
        switch (layout) {
        case Layout::Channel:
            *end = (i / inner + 1) * inner;
            break;
        case Layout::GroupLast: {
            const I lineStart = i / length * length;
            *end = lineStart + min(((i - lineStart) / size + 1) * size, length);
            break;
        }
        case Layout::GroupInner:
            *end = i + 1;
            break;
        case Layout::Block: {
            const I rowStart = i / inner * inner;
            *end = rowStart + min(((i - rowStart) / cols + 1) * cols, inner);
            break;
        }
        }
        return generalGroup(i);
    }

    __device__ I runGroup(I i) const
    {
        return narrow ? static_cast<I>(runDivider.divide(static_cast<std::uint32_t>(i))) : i / runLength;
    }

    __device__ I generalGroup(I i) const
    {
        switch (layout) {
        case Layout::Channel:
            return (i / inner) % length;
        case Layout::GroupLast: {
            if (narrow) {
                const auto u = static_cast<std::uint32_t>(i);
                const std::uint32_t o = lengthDivider.divide(u);
                return I(o) * perLine + sizeDivider.divide(u - o * static_cast<std::uint32_t>(length));
            }
            const I o = i / length;
            return o * perLine + (i - o * length) / size;
        }
        case Layout::GroupInner: {
            const I line = length * inner;
            const I o = i / line;
            const I rest = i - o * line;
            const I k = rest / inner;
            return (o * inner + (rest - k * inner)) * perLine + k / size;
        }
        case Layout::Block:
            return blockGroup(i, length, inner, size, cols, lineBlocks, perLine);
        }
        return 0;
    }
#endif
};

/// GroupPattern::MxBlocks and Nvfp4Blocks (block_fake_quant.cu): the chunk kernel finds each block's scale
/// from its absmax as kernel_detail::BlockScaler does ({NaN, 0} for a block holding NaN/±Inf or whose MX
/// rule gives a NaN scale), the blocks of a run (16 rows of 16 elements: 8 MX blocks, 16 NVFP4 blocks)
/// before the run's elements, and writes them to `scales` for the paths that read them back (the staged pass
/// only for a run with an unsafe block: runBlockScales).
struct BlockRule {
    /// The element grid's largest magnitude: x̂ of a block is finite while largest · scale is.
    float largest = 0;
    /// BlockScaler's parameters (NVFP4: the rounding constants; the kernel derives the global scales from
    /// tensorAbsKey).
    kernel_detail::BlockScalerParams scaler {
        false, false, {E8M0Rounding::Floor, 1.0, 0}, 1, 0, 0, 0, 0, 1, 1};
    float2* scales = nullptr; ///< FakeQuantArgs::scales, written
    /// NVFP4 (required): the tensor absmax over its finite values on the device, as launchFiniteAbsKey's key
    /// from the reduction launched before the kernel, from which the kernel sets scaler's global scales
    /// (loadNvfp4Globals), so that no copy to the host stands between the two.
    const std::int32_t* tensorAbsKey = nullptr;
};

/// The kernel argument: grid, group lookup and the device copies of the group parameters.
struct FakeQuantArgs {
    ElementGrid grid;
    GroupIndexer groups;
    const float2* scales = nullptr; ///< per group {scale, 1.0f / scale}: one load for both
    /// GroupPattern::Run of 2 or 4 rows (GroupIndexer::rowShift 1 or 2: groups of 32 or 64), the kinds that
    /// are not lookups: per group the scale alone, which the batches read instead of `scales` (4 bytes less
    /// per group: 1/32 or 1/64 of x's bytes) and whose reciprocal they take by __frcp_rn (IEEE round to
    /// nearest, as the host's 1.0f / scale).
    const float* rowScales = nullptr;
    BlockRule blocks;
    const float* zeroPoints = nullptr; ///< null: every zero point is 0
    float single[3] = {1, 1, 0}; ///< GroupPattern::WholeChunks of one group: scale, inverse, zero point
    /// GroupPattern::WholeChunks of several groups: chunk c is in group c / chunksPerGroup; 0: one group.
    std::uint32_t chunksPerGroup = 0;
    /// No group turns a finite x into a non-finite x̂ (largest grid value · scale is finite), so a batch of
    /// finite x may skip the per-element checks of x̂.
    bool reconstructionFinite = true;
};

/// A validated fake-quant request with its group parameters (and table) on the device.
struct FakeQuantPlan {
    ElementKind kind = ElementKind::Integer;
    GroupPattern pattern = GroupPattern::WholeChunks;
    bool divide = false;
    I elementCount = 0;
    FakeQuantArgs args;
    DeviceBuffer<float2> scales;
    DeviceBuffer<float> rowScales;
    DeviceBuffer<float> zeroPoints;
    DeviceBuffer<std::int32_t> thresholds;
    DeviceBuffer<float> values;
    DeviceBuffer<int4> bins;
};

/// Whether the scheme runs here (kernels/cuda_kernels.h); `kind` receives its element kind.
bool supportedScheme(const Scheme& scheme, ElementKind* kind);

/// Validates the scheme, shape, scales and zero points (qs::Error) and uploads the group parameters.
FakeQuantPlan makeFakeQuantPlan(std::span<const float> values, const Shape& shape, const Scheme& scheme,
    std::span<const float> scales, std::span<const std::int32_t> zeroPoints);

/// Sums of one chunk of kKernelChunk elements (kernels.h), then of the tensor; fields as ErrorSums.
struct ChunkSums {
    double sums[6]; ///< Σe², Σe, Σx², Σ|x|, Σx·x̂, Σx̂²
    double maxAbsError;
    unsigned long long count;
    unsigned long long clipped;
    unsigned long long nonFinite;
    /// TotalMode::Overlapped: a span record counts its completed chunks here, the chain record the spans
    /// added into it; the total is 1 when written.
    unsigned ready;
    /// TotalMode::Overlapped: a span record's total is written (1), the chain record is held by a warp (1).
    unsigned flag;
};

/// Chunks of kKernelChunk elements for n elements.
I chunkCount(I n);

/// ChunkSums entries of the workspace launchFakeQuant takes for n elements: one per chunk, one per span of
/// kKernelSpan chunks, then the chain record (the spans added so far, in span order).
I workspaceEntries(I n);

/// How the chunk sums become the total.
enum class TotalMode {
    Counts, ///< max e and the counts only, x̂ written (cudaFakeQuantize; the one mode that writes x̂)
    AfterChunks, ///< the six sums in chunk order, in a second kernel
    Overlapped, ///< the same order, in the chunk kernel: the warp that completes a span of chunks adds them,
                ///< and the span totals go into the chain record in span order as they complete
};

/// The fused pass over the n values at `x`: per-chunk sums into `chunks` (workspaceEntries(n)), the total
/// into *total as `mode` says, and x̂ into `out` unless it is null.
void launchFakeQuant(const float* x, I n, const FakeQuantPlan& plan, ChunkSums* chunks, ChunkSums* total,
    float* out, TotalMode mode, cudaStream_t stream);

/// The public sums of the device total.
ErrorSums errorSums(const ChunkSums& total);

} // namespace qs::cuda
