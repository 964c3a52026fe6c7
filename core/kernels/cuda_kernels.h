#pragma once

// The CUDA backend (DESIGN.md §5). Compiled only when nvcc is found; callers guard every use with
// `#if defined(QS_HAVE_CUDA)`. Plain C++: no CUDA header is included here. Every function throws qs::Error
// when the CUDA runtime reports an error (no device, out of memory…). Inputs are host spans: each call copies
// them to the device, runs one fused pass and copies the small result back; cudaTimeKernelMs times the
// kernels alone on device-resident data.
//
// Every result equals the scalar backend's (kernels/kernels.h) bit for bit:
//
//   cudaMinMax, cudaMinMaxRows: min and max over the finite values with -0 < +0 (ordered integer keys, so the
//     result does not depend on the order of evaluation), absmax = max(|min|, |max|); a set without a
//     finite value gives min = max = absmax = 0; nonFinite counts NaN and ±Inf.
//
//   cudaHistogram: qs::computeHistogram(values, bins, lo, hi, absolute): v = double(x) (or |double(x)|);
//     finite v in [lo, hi] goes to bin min(floor((v - lo) · (bins / (hi - lo))), bins - 1), evaluated in
//     double (every such value lands in the last bin when hi == lo). When lo and hi are floats and
//     bins <= 2^20 the kernel first evaluates the position in float and falls back to the double expression
//     whenever the float position is within bins · 2^-20 of an integer; the float position is within
//     bins · 3·2^-24 of the double one, so the bin is always the double expression's. Counts are privatised
//     per block in shared memory (uint32, one copy per few warps) and added to int64 at the end; more than
//     12288 bins go straight to int64 global atomics.
//
//   cudaFakeQuantError: the element semantics of qs::fakeQuantize (quant/quantizer.h) for the given scales
//     (and affine zero points) as qs::quantize returns them, then over the finite x the sums Σe², Σe, Σx²,
//     Σ|x|, Σx·x̂ and Σx̂² (the last two over finite x̂), max e, and the counts, in kernels.h's order
//     exactly: chunks of kKernelChunk (4096) elements, 16 threads (half a warp) per chunk, thread l taking
//     the elements i ≡ l (mod 16) in index order as float partials per run of 16, widened into its double
//     sum at the end of each run; the 16 lane sums added in lane order; a chunk whose float sums fail
//     floatRunsInaccurate (kernels/float_run_accuracy.h) added again in double by the same threads (both
//     halves of the warp join the shuffles, one adds); the chunk totals added in chunk order within spans
//     of kKernelSpan (64) chunks, the span totals in span order. Every float and double operation is an
//     explicit round-to-nearest intrinsic (the products of the float partials __fmaf_rn, as kernels.h
//     says), so nvcc contracts nothing on its own. The warp that completes a span (counted with an atomic
//     after a fence) adds its chunk totals, and the warp that completes the last span adds the span totals:
//     the total is ready when the last chunk is.
//
// Supported schemes (cudaSupportsScheme): blockFormat None; integer formats of 2-16 bits in every RangeMode,
// both element roundings and both ScaleArithmetic; minifloats that qs::quantize rounds on the float bits
// (fp8_e4m3, fp8_e5m2, fp16, bf16, fp6, fp4, eXmY…); lookup formats of at most 256 codes (nf4, bnb_fp4,
// iq4_nl, and minifloats outside the bit rounding), by the code regions of the format's encoder as the
// quantizer's table kernel; every granularity. FP8 E4M3 and E5M2 with ties to even use the hardware
// cvt.rn.satfinite.e4m3x2.f32 / .e5m2x2.f32 for finite x: the result equals the quantizer's bit rounding,
// saturated to ±448 / ±57344, for every float v = x/scale including ±Inf (checked for all 2^32 inputs by
// qs_cuda_bench --check), and "clipped" is |v| > 464 (464 rounds to the even 448) / |v| >= 61440 (61440
// rounds to the even 65536, beyond the grid). FP6 E2M3 and E3M2 (ties to even) take the same conversions of
// v · 2^(bias - 7) / 2^(bias - 15), exact, whose grids are theirs scaled, decoded with their own bias and
// saturated at their largest value (also checked for all 2^32 inputs). Other minifloats with ties to even
// whose range allows it (fp4_e2m1, fp16, eXmY with M <= 20; MinifloatRounder::roundsByMagicAddition) round
// |v| by (|v| + C) - C, C = 1.5 · 2^(q + 23 - M) for the binade 2^q of |v| (at least the smallest normal),
// two float additions whose one rounding is the grid's (checked for all 2^32 inputs too); the rest by the bit
// rounding. For non-finite x the element's result is never used: NaN and ±Inf take the format's own
// encodeValue policy (e4m3fn: NaN), as in the quantizer, not satfinite's largest value (the fused pass redoes
// element by element any run of a lane that met one).
// Ternary/binary (BitNet) and block formats are not supported here (MX and NVFP4: cudaBlockFakeQuantError).
//
// `threads` arguments are the CPU backends' thread count; they are accepted, so that kernels.cpp calls
// every backend alike, and ignored.

#include "calib/histogram.h"
#include "kernels/kernels.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qs {

/// True when the CUDA runtime finds at least one device (the first one is used). Never throws.
bool cudaAvailable();

/// Name of device 0 ("NVIDIA H100 80GB HBM3"), or an empty string when there is none. Never throws.
std::string cudaDeviceName();

/// Per-tensor min, max, absmax and non-finite count (semantics above).
MinMaxResult cudaMinMax(std::span<const float> values, int threads = 0);

/// One MinMaxResult per row of a row-major [rows, cols] matrix. Throws qs::Error when rows · cols differs
/// from values.size() or a size is negative.
std::vector<MinMaxResult> cudaMinMaxRows(
    std::span<const float> values, std::int64_t rows, std::int64_t cols, int threads = 0);

/// `bins` counts over [lo, hi] of x or |x| (semantics above). Throws qs::Error for the arguments
/// qs::computeHistogram rejects.
std::vector<std::int64_t> cudaHistogram(
    std::span<const float> values, int bins, float lo, float hi, bool absolute);

/// The whole qs::computeHistogram(values, bins, lo, hi, absolute), below, above and nonFinite included.
Histogram cudaHistogram(
    std::span<const float> values, int bins, double lo, double hi, bool absolute, int threads);

/// Whether cudaFakeQuantError and cudaFakeQuantize run this scheme (see the list above).
bool cudaSupportsScheme(const Scheme& scheme);

/// Fused fake-quantize + error sums (semantics and accumulation order above); no x̂ is written. `scales`
/// holds one positive float with a finite reciprocal per group (qs::groupLayout order), `zeroPoints` one
/// per group, inside the integer range, for affine integer schemes and is empty otherwise. Throws qs::Error
/// for an unsupported scheme, a shape that does not match the values or the granularity, or other scales
/// and zero points.
ErrorSums cudaFakeQuantError(std::span<const float> values, const Shape& shape, const Scheme& scheme,
    std::span<const float> scales, std::span<const std::int32_t> zeroPoints, int threads = 0);

/// What cudaFakeQuantize returns: x̂ of every element (as qs::fakeQuantize; NaN outputs are NaN, their
/// payload is the device's) and the counts of the same pass.
struct CudaFakeQuantized {
    std::vector<float> values;
    std::int64_t clippedCount = 0;
    std::int64_t nonFiniteCount = 0;
};

/// The same pass as cudaFakeQuantError, writing x̂ (same arguments and errors).
CudaFakeQuantized cudaFakeQuantize(std::span<const float> values, const Shape& shape, const Scheme& scheme,
    std::span<const float> scales, std::span<const std::int32_t> zeroPoints);

/// blockFakeQuantError (kernels/kernels.h) on the device, equal to the scalar backend's sums bit for bit:
/// for MX blocks of 32 and NVFP4 blocks of 16 that tile the rows, a pass that derives each block's scale
/// from its absmax (kernels/block_scales.h, the functions the CPU backends use) before its elements, after
/// a reduction of the tensor absmax for NVFP4 (MX reads x once: cudaBlockFakeQuantOnePass); otherwise the
/// block min/max reduced on the device (one warp per block), the block scales derived on the host by
/// kernels/block_scales.h as the CPU backends do, then cudaFakeQuantError's fused pass. Either pass takes the
/// element format (MX: the scheme's element rounding; NVFP4 E2M1 ties to even; MXINT8 the integers -127..127
/// by division, or in the one-pass kernel by the exact reciprocal 2^(6-e), which rounds the same quotient)
/// with the references' clip-before-rounding count (the hardware FP8 conversions, which MXFP8 and MXFP6 take
/// with ties to even, count |v| above the largest value). Throws qs::Error for a block format
/// blockFakeQuantErrorUnsupported refuses, an invalid block size or a shape that does not match.
ErrorSums cudaBlockFakeQuantError(std::span<const float> values, const Shape& shape, const Scheme& scheme);

/// Whether cudaBlockFakeQuantError reads x once for `scheme` on `shape`: an MX format (not NVFP4, whose
/// scales need the tensor absmax first) with blocks of 32, rows of a multiple of 32, 32 < n < 2^32.
bool cudaBlockFakeQuantOnePass(const Scheme& scheme, const Shape& shape);

/// Median device time in milliseconds of `repeats` (>= 1) runs of cudaBlockFakeQuantError's device work
/// (MX: one pass; NVFP4: the tensor absmax reduction, then the pass, which derives the global scale from it;
/// otherwise block reduction and fused pass, the host derivation of the scales between them done once,
/// untimed), CUDA events around each run after two untimed warm-ups, on data copied to the device once.
double cudaTimeBlockFakeQuantMs(
    std::span<const float> values, const Shape& shape, const Scheme& scheme, int repeats);

/// Median device time in milliseconds of `repeats` (>= 1) runs of one kernel on `values`, copied to the
/// device once; each run is timed with its own pair of CUDA events after two untimed warm-up runs. Set-up
/// (scales, histogram range, buffers) is not timed. `kernel` is one of
///   "copy"                        cudaMemcpy device to device of the tensor (reads and writes its bytes)
///   "read"                        a streaming read of the tensor (the read bandwidth baseline)
///   "minmax"                      cudaMinMax's kernel
///   "minmax_rows COLS"            cudaMinMaxRows' kernel on [size / COLS, COLS]
///   "histogram BINS", "histogram_abs BINS"
///                                 cudaHistogram's kernel over [min, max] (abs: [0, absmax])
///   "fakequant FORMAT GRANULARITY [COLS] [bitround]"
///                                 cudaFakeQuantError's kernel on [size / COLS, COLS] (COLS default 4096)
///                                 with symmetric scales amax / formatMaxFinite per group from the device
///                                 min-max; FORMAT as qs::formatByName, GRANULARITY "tensor", "channel"
///                                 (axis 0) or "group:G" (G dividing COLS); "bitround": the bit rounding
///                                 instead of cvt.rn.satfinite or the magic addition (same results, to
///                                 compare the cost)
///   "fakequant_twopass …"         the same sums with the chunk-order total in a second kernel after the
///                                 chunk kernel instead of overlapped with it
///   "fakequant_values …"          cudaFakeQuantize's kernels: x̂ written, max e and counts reduced
/// Throws qs::Error for another name, a size the name's shape does not fit, or repeats < 1.
double cudaTimeKernelMs(const std::string& kernel, std::span<const float> values, int repeats);

} // namespace qs
