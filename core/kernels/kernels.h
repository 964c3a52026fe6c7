#pragma once

#include "calib/histogram.h"
#include "metrics/error_report.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qs {

/// Where a kernel runs. `Scalar` is the readable reference every other backend is tested against, bit for
/// bit (same codes, same scales, same error sums: every backend follows the accumulation order below).
enum class Backend { Scalar, Simd, Cuda };

std::string backendName(Backend backend); ///< "scalar", "simd", "cuda"
Backend backendByName(const std::string& name); ///< case-insensitive; throws qs::Error listing the names
std::vector<Backend> allBackends(); ///< scalar, simd, cuda

/// Whether a backend can run here: scalar always; simd always (Highway picks the best target at run time);
/// cuda when compiled with CUDA and a device is present.
bool backendAvailable(Backend backend);
/// Why a backend cannot run here ("built without CUDA", "no CUDA device"); empty when it can.
std::string backendUnavailableReason(Backend backend);

/// What the backend runs on: "scalar C++", the Highway target ("AVX3", "AVX2", "SSE4"…), or the GPU name.
std::string backendTarget(Backend backend);

/// Threading and accumulation order, shared by every CPU backend so that results do not depend on the
/// backend, the SIMD target or the thread count:
/// - The input is cut into chunks of kKernelChunk consecutive elements (the last one may be shorter).
///   `threads` threads (<= 0: all hardware threads, never more than there are chunks) each take one
///   contiguous run of whole chunks: thread t of T gets chunks [t·C/T, (t+1)·C/T) of C.
/// - Min/max and histogram counts are exact, so their merge order does not matter.
/// - Error sums (ErrorSums), per chunk: element i (flat index) belongs to lane i mod kKernelLanes and to run
///   (i - chunk start) / kKernelRun. Per run and lane, six float32 partials start at +0 and take, in index
///   order, the terms e², e, x², |x|, x·x̂ and x̂² with e = |x - x̂| (x - x̂ rounded to float; +Inf when it is
///   NaN): the sums p + e and p + |x| rounded to float, the products by a fused multiply-add, p = fma(a, b,
///   p) rounded once (std::fma; hardware FMA on the SIMD targets that have it, __fmaf_rn in CUDA), x·x̂ and x̂²
///   only where x̂ is finite. At the end of each run every partial is widened to double and added to its
///   lane's double accumulator (from +0, in run order); at the end of the chunk the kKernelLanes lanes are
///   added in lane order 0, 1, …, 15 (from +0). max e is the largest float e.
/// - Float partials lose accuracy where squares overflow or fall below float's normal range, so a chunk is
///   summed again in double (needsDoubleSums: a sum is not finite, or Σx² < 2^-100 with Σ|x| > 0, or
///   Σe² < 2^-100 with Σe > 0, or Σx̂² < 2^-100 with Σx·x̂ != 0): element by element in index order, each
///   term formed in double from the float x and x̂ (products of two floats are exact in double), lane
///   i mod kKernelLanes, lanes then added in lane order; max e is then the exact double |x - x̂|.
/// - The chunk totals are added in chunk order within each span of kKernelSpan chunks (from +0), and the
///   span totals in span order (from +0).
/// The sums therefore equal, bit for bit, on every backend, SIMD target and thread count. They differ from
/// computeErrorReport's (double, sequential in chunks of 1024) by float rounding: a relative difference of
/// about 1e-7, at most kKernelRun / kKernelLanes · 2^-24 per run.
inline constexpr std::int64_t kKernelChunk = 4096;
inline constexpr int kKernelLanes = 16;
inline constexpr std::int64_t kKernelRun = 256; ///< 16 elements per lane
inline constexpr std::int64_t kKernelSpan = 64; ///< chunks

/// The thread count a CPU kernel uses for `requested` (<= 0: std::thread::hardware_concurrency()).
int kernelThreads(int requested);

/// Min, max and absmax over finite values (NaN/Inf skipped and counted). -0 counts as smaller than +0, so
/// the result is the same whatever the order the elements are visited in. With no finite value: all 0.
/// absmax = max(|min|, |max|).
struct MinMaxResult {
    float min = 0;
    float max = 0;
    float absmax = 0;
    std::int64_t nonFinite = 0;
    bool operator==(const MinMaxResult&) const = default;
};

/// Per-tensor reduction.
MinMaxResult minMax(Backend backend, std::span<const float> values, int threads = 0);

/// Per-row reduction of a [rows, cols] row-major matrix (per-group when cols = group size; per-channel
/// axis 0 when rows = channels). One result per row. Throws qs::Error when rows·cols != values.size().
std::vector<MinMaxResult> minMaxRows(
    Backend backend, std::span<const float> values, std::int64_t rows, std::int64_t cols, int threads = 0);

/// Per-group min/max/absmax of `values` (shape `shape`, row-major) for one granularity, one result per group
/// in qs::groupLayout order: per tensor, per channel along axis 0, per group along the last axis (ragged last
/// group) and 2-D blocks over the last two axes (the granularities fakeQuantError supports). Min and max are
/// over the finite values of each group, so they equal qs::minMaxRanges (a group without a finite value:
/// all 0). Throws qs::Error for another granularity, a size that does not match the shape, and for
/// Backend::Cuda (use minMaxRows there).
std::vector<MinMaxResult> minMaxGroups(Backend backend, std::span<const float> values, const Shape& shape,
    const Granularity& granularity, int threads = 0);

/// Histogram of x (or |x| when `absolute`) over [lo, hi] with `bins` bins, int64 counts. Equal, field for
/// field, to qs::computeHistogram(values, bins, lo, hi, absolute) on every backend (same bin rule, in
/// double: bin = min(floor((v - lo) · bins / (hi - lo)), bins - 1); below, above and non-finite counted
/// apart). Throws qs::Error as computeHistogram does (bins outside 1..2^24, lo/hi not finite, hi < lo),
/// and when hi - lo is so small that bins / (hi - lo) overflows.
Histogram histogram(Backend backend, std::span<const float> values, int bins, double lo, double hi,
    bool absolute, int threads = 0);

/// Sums of a fused fake-quantize + error pass (no dequantized tensor written), over the finite x only,
/// with e = |double(x) - double(x̂)| (+Inf when x̂ is not finite), accumulated in double in the order
/// documented at kKernelChunk. These are the sums qs::computeErrorReport forms; errorReportFromSums turns
/// them into an ErrorReport (all fields but the percentiles).
struct ErrorSums {
    double sumSquaredError = 0; ///< Σ e²
    double sumAbsError = 0; ///< Σ e
    double sumSquaredSignal = 0; ///< Σ x²
    double sumAbsSignal = 0; ///< Σ |x|
    double sumProduct = 0; ///< Σ x·x̂ over finite x̂
    double sumSquaredRecon = 0; ///< Σ x̂² over finite x̂
    double maxAbsError = 0; ///< max e
    std::int64_t count = 0; ///< finite x
    std::int64_t clipped = 0; ///< finite x that clipped, as QuantizedTensor::clippedCount counts them
    std::int64_t nonFinite = 0; ///< NaN/±Inf x (skipped)
    bool operator==(const ErrorSums&) const = default;
};

/// Empty when fakeQuantError runs `scheme` on a tensor of `shape`, otherwise why not. Supported this
/// round: integer formats (2–16 bit, signed or unsigned, every RangeMode, either ScaleArithmetic, either
/// element rounding) and the element formats whose quantizer path is a minifloat rounding or a lookup
/// table of at most 256 codes (fp8_e4m3, fp8_e5m2, fp16, bf16, fp6, fp4_e2m1, nf4, bnb_fp4, iq4_nl…),
/// per tensor, per channel along axis 0, per group along the last axis and 2-D blocks over the last two
/// axes. Not yet: block formats (MX, NVFP4, ggml, bnb blocks), ternary/binary, channels or groups along
/// other axes.
std::string fakeQuantErrorUnsupported(const Scheme& scheme, const Shape& shape);

/// Fake-quantizes `values` (shape `shape`) with `scheme` and the per-group `scales` (and `zeroPoints`,
/// affine integers only; empty otherwise) that qs::quantize derives (QuantizedTensor::scales,
/// ::zeroPoints), and accumulates the error. Element semantics are exactly qs::fakeQuantize's: per element
/// v = x · (1.0f / scale) or x / scale in float32, rounded to the format's grid as the quantizer does
/// (integers: clamp(round(v) + zp, qmin, qmax), RNE or ties-away per Scheme::elementRounding; minifloats:
/// the format's rounding of |v| on the float bits, saturating at ±max; lookup tables: the entry
/// encodeValue picks), then x̂ = (q - zp)·scale or decode(code)·scale in float32.
/// Throws qs::Error when the scheme is not supported (fakeQuantErrorUnsupported), the sizes do not match
/// the shape or the group count, a scale is not finite and positive with a finite reciprocal, or a zero
/// point lies outside the integer range.
ErrorSums fakeQuantError(Backend backend, std::span<const float> values, const Shape& shape,
    const Scheme& scheme, std::span<const float> scales, std::span<const std::int32_t> zeroPoints,
    int threads = 0);

/// Empty when blockFakeQuantError runs `scheme`'s block format, otherwise why not. Supported: MXFP8 (E4M3,
/// E5M2), MXFP6 (E3M2, E2M3), MXFP4, MXINT8 and NVFP4, at any block size the reference accepts, with every
/// E8M0 rounding and element rounding of the scheme; the ggml (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, MXFP4) and
/// bitsandbytes (NF4, FP4, with or without double quantization) blocks on the scalar and simd backends.
std::string blockFakeQuantErrorUnsupported(const Scheme& scheme);

/// Fused fake-quantize + error of a block format: the sums of ErrorSums over
/// (x, qs::dequantize(qs::quantize(x, scheme))), with QuantizedTensor::clippedCount's clipped count (the
/// references count |x / scale| > the element maximum before rounding), in the order documented at
/// kKernelChunk. The block scales follow the references (quant/block_mx.cpp, block_nvfp4.cpp) bit for bit
/// from each block's absmax (minMaxGroups' reduction): MX the shared exponent e of the scheme's
/// E8M0Rounding, clamped to [-127, 127]; NVFP4 global = (1 / tensor absmax) · 2688 and the E4M3 block scale
/// s8 = RNE_sat(global · (absmax · float(1/6))). A block holding NaN/±Inf has a NaN scale: its elements all
/// decode to NaN (an infinite error for its finite x). Elements: MX v = x · 2^-e (MXINT8: q = round(v · 64)
/// clamped to ±127 with the scheme's element rounding, x̂ = q · 2^(e-6), v · 64 computed as x / 2^(e-6)),
/// NVFP4 v = x · (1 / (s8 · (1 / global))) in float32, rounded as the element format (MX:
/// Scheme::elementRounding; NVFP4: to nearest even) and saturated; x̂ = decode · 2^e or decode · (s8 / float(1
/// / (1 / double(global)))). bitsandbytes blocks: the lookup-table kernel over the regions of v that
/// dQuantizeNF4/dQuantizeFP4 give one code, v = x · (1 / max(absmax, 1e-38f)) with the block's absmax (NaN
/// ignored, ±Inf kept), x̂ = value · the stored absmax (decoded with double quantization). ggml blocks: x̂
/// chunk by chunk from the quantizer's per-block code (quant/block_reconstruction.h; the simd backend the
/// same float32 operations a vector at a time), the same x̂ on every backend. Blocks run along the last
/// axis, ragged at the end of each row (the scales:
/// kernels/block_scales.h). Backend::Cuda runs cudaBlockFakeQuantError (kernels/cuda_kernels.h). Throws
/// qs::Error when the block format is not supported, the block size is invalid, the sizes do not match the
/// shape, or the backend cannot run here.
ErrorSums blockFakeQuantError(Backend backend, std::span<const float> values, const Shape& shape,
    const Scheme& scheme, int threads = 0);

/// How many times blockFakeQuantError reads `values` from memory on the CPU backends: 2 for NVFP4 (the
/// tensor absmax its global scale needs, then the blocks) and for bitsandbytes blocks with double
/// quantization (every block's absmax, then the blocks); 1 otherwise (each chunk's block maxima and elements
/// read one copy in cache).
int blockFakeQuantPasses(const Scheme& scheme);

/// Empty when ternaryFakeQuantError runs `scheme` on `shape`: BitNet ternary (SignSpec ternary) at the
/// granularities fakeQuantError supports, with any scale format; otherwise why not.
std::string ternaryFakeQuantErrorUnsupported(const Scheme& scheme, const Shape& shape);

/// Fused fake-quantize + error of BitNet ternary (quant/quantizer.h): per group s = 1.0f / max(mean|x|,
/// 1e-5f), mean = torch's CPU float32 mean (blockformat::torchCpuMean) of the group's finite |x| in memory
/// order, the stored scale 1.0f / s (rounded to the scheme's scale format, factor 1.0f / stored then);
/// u = clamp(round(x · s), -1, 1) with the format's rounding, x̂ = u · stored; clipped when |round(x · s)|
/// > 1. The sums are those of (x, qs::fakeQuantize(x)) in the order documented at kKernelChunk (x̂ = -0
/// and +0 give the same sums). Throws qs::Error when the scheme is not supported, the sizes do not match
/// the shape, or for Backend::Cuda.
ErrorSums ternaryFakeQuantError(Backend backend, std::span<const float> values, const Shape& shape,
    const Scheme& scheme, int threads = 0);

/// An ErrorReport from the sums, with qs::computeErrorReport's formulas (mse = Σe²/count, sqnr =
/// 10·log10(Σx²/Σe²), cosine = Σx·x̂/sqrt(Σx²·Σx̂²), relativeRmse = rmse/(Σ|x|/count), clippedShare =
/// clipped/count, and its conventions for zero counts and zero sums). The percentiles are left 0: they
/// need the errors themselves.
ErrorReport errorReportFromSums(const ErrorSums& sums, double bitsPerValue = 0);

/// The SIMD targets compiled into this build that this CPU runs, best first ("AVX3", "AVX2", "SSE4", then
/// Highway's fallback "EMU128", or "SCALAR" with GCC < 12.3, which reuses the scalar reference).
std::vector<std::string> simdTargets();
/// Makes the simd backend use one target of simdTargets() (tests compare every target with the scalar
/// reference; benchmarks compare targets); an empty name goes back to Highway's choice. Throws qs::Error
/// for a name not in simdTargets(). Process-wide: call it while no simd kernel runs.
void setSimdTarget(const std::string& name);

} // namespace qs
