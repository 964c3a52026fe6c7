#pragma once

#include "calib/calibration.h"
#include "calib/collected_histogram.h"

#include <span>
#include <vector>

namespace qs {

/// Result of a threshold search: the chosen range and the objective curve (threshold ascending, one value
/// per candidate, `best` = the chosen candidate).
struct SearchResult {
    GroupRange range; ///< symmetric searches return [-amax, amax]; one-sided ones [0, amax]
    ObjectiveCurve curve;
    bool operator==(const SearchResult&) const = default;
};

/// KL-divergence (entropy) threshold search over a histogram in the named peer's semantics
/// (../shared/reference/calibration.md §1.4, §3.5–3.6, §4). Valid modes: Native, ModelOpt, OnnxRuntime,
/// TensorRT (qs::Error otherwise). `numBits`/`isUnsigned` give the level count nq = 2^(b-1+unsigned)
/// (ModelOpt, Native); `quantizedBins` > 0 overrides it (ORT num_quantized_bins, TRT levels; 0 = 128 for
/// both). `startBin`/`stride` are ModelOpt's; the other modes ignore them. Counts must be finite and >= 0;
/// the peers that hold integer counts (ModelOpt `hist.int()`, ORT's np.histogram) see them truncated.
///
/// ModelOpt / pytorch-quantization `_compute_amax_entropy` (|x| histogram; a negative edge is an error):
///   bins = counts; bins[0] = bins[1]; T = Σ bins; n = bin count;
///   for i = startBin, startBin + stride, ... <= n:
///     space = np.linspace(0, i, nq+1) (float64: space[k] = fl(k · fl(i/nq)), space[nq] = i);
///     level of source bin j < i = np.digitize(j, space) - 1 = max{k < nq : space[k] <= j};
///     empty source bins are excluded; Q[j] = (Σ bins of its level) / (#non-empty bins of its level) for
///     bins[j] > 0, else 0 (float64); P = bins[:i], P[i-1] += Σ bins[i:];
///     "Count mismatch" check round(ΣQ + Σ bins[i:]) == T (qs::Error, where the peer raises RuntimeError);
///     KL = scipy.stats.entropy(P, Q): p = P / ΣP, q = Q / ΣQ (numpy sums), rel_entr = p·log(p/q),
///     0 where p = 0, +Inf where p > 0 = q, NaN where ΣQ = 0 (all kept bins empty), summed as numpy does.
///   argmin as numpy's on the reversed list: NaN counts as the minimum, ties go to the LARGEST i.
///   range = ±float32(edges[i]) (the peer returns torch.tensor(edges[i]), float32), [0, amax] when
///   isUnsigned. Curve: threshold edges[i]; values as computed, +Inf and NaN included.
///   Exactness: the level sums and counts come from int64 prefix sums (exact, hence equal to numpy's float64
///   accumulation of integer counts below 2^53); every float64 operation that rounds (linspace, the
///   divisions, both sums, log) is done per element in numpy's order (detail::numpyPairwiseSum). O(n²) in
///   total without allocations per candidate. log is the C library's, as scipy's (glibc here). The curve
///   matches ModelOpt's Python (numpy 1.24, scipy 1.10) bit for bit, checked up to 70911 bins.
///
/// OnnxRuntime 1.30 `HistogramCalibrater.get_entropy_threshold` (signed histogram; |x| is an error):
///   zero = n/2, h = nq/2; for i = h .. zero: start = zero - i, end = min(zero + i + 1, n),
///     sliced = hist[start:end] (length L), p = sliced; p[0] += Σ hist[:start]; p[-1] += Σ hist[end:];
///     m = L / nq; qb[k] = Σ sliced[k·m : (k+1)·m], qb[nq-1] += Σ sliced[nq·m:];
///     q (int64) = trunc(qb[k] / #(p != 0 in [k·m, k·m+m))), written to EVERY position of [k·m, k·m+m)
///     (zero bins included) when that count is non-zero; positions >= nq·m stay 0;
///     smooth_distribution(eps = 1e-4) of p and q: 1e-4f where the count is 0, float32(count) -
///     float32(1e-4·zeros/nonzeros) elsewhere (None, hence KL = +Inf, when all are 0; the peer's asserts
///     eps1 < 1 and "no entry <= 0" become qs::Error);
///     KL = scipy entropy of the float32 arrays: float32 sums and divisions, rel_entr evaluated in double
///     and rounded to float32 (scipy's 'ff->f' loop), float32 sum. The KL is float32 whatever the data.
///   argmin ties -> FIRST (smallest i). range = (edges[start], edges[end]): asymmetric by one bin,
///   (-i·w, (i+1)·w) for even n; then min = max(min, minSeen), max = min(max, maxSeen).
///   Curve: threshold edges[end] (the upper end). float16 data, whose KL ORT rounds to float16, is not
///   modelled. Checked bit for bit against ORT's code with numpy 1.24 and scipy 1.10, up to 9000 bins.
///
/// TensorRT (GTC 2017 slides S7310) and Native share one formulation on the |x| histogram (a signed one is
/// folded first: each bin's count goes to the width-w bin from 0 that holds |center|; exact for histograms
/// symmetric about 0):
///   P = bins[:i], P[i-1] += Σ bins[i:]; nq levels, source bin j -> level floor(j·nq/i) (proportional: the
///   slides do not say how to group when nq does not divide i); Q[j] = level sum / #non-empty bins of the
///   level for bins[j] > 0, empty bins stay 0; no smoothing; KL = Σ_{P>0} p·log(p/q), p = P/T, q = Q/ΣQ;
///   +Inf when P[i-1] > 0 = Q[i-1] (the last kept bin is empty while mass is clipped) or ΣQ = 0.
///   Evaluated in O(nq) per candidate from prefix sums of b, #(b > 0) and b·log b: per level
///   Σ b·log b + L'·(log c + log ΣQ - log T - log L), the last kept bin on its own. The values equal the
///   direct sum up to float64 rounding, not bit for bit. Ties -> FIRST.
///   TensorRT: i = nq .. n-1 (i = n, no clipping, is not tried), nq = 128 unless overridden,
///     threshold = edges[0] + (i + 0.5)·w (the center of bin i), range ±threshold.
///   Native: i = nq .. n (no clipping included), nq = 2^(b-1+unsigned) unless overridden,
///     threshold = edges[i] (the right edge of the kept range), range ±threshold ([0, t] when isUnsigned).
///     An all-zero histogram gives the full range and a zero curve.
/// Throws qs::Error for a histogram with fewer bins than the search needs, or a malformed one
/// (edges.size() != counts.size() + 1, no bins).
SearchResult entropySearch(const CollectedHistogram& histogram, Compatibility compat, int numBits,
    bool isUnsigned, int quantizedBins, int startBin, int stride);

/// MSE threshold search over a histogram. Valid modes: Native, ModelOpt.
///
/// ModelOpt = pytorch-quantization's `_compute_amax_mse` as intended (ModelOpt >= 0.29 passes its arguments
/// to fake_tensor_quant in the wrong positions and always returns centers[startBin]; calibration.md §1.4):
///   counts = float32(int(count)), centers = (e[1:] + e[:-1]) / 2 in float32 (edges rounded to float32);
///   for i = startBin, startBin + stride, ... < n: amax = centers[i]; the narrow-range fake quant of §1.1
///   in float32: scale = float32(2^(b-1+unsigned) - 1) / amax, q = clamp(rint(c·scale), -max, max)
///   ([0, max] unsigned), x̂ = q / scale (x̂ = 0 when amax <= 2^-24);
///   err = torch.mean((x̂ - c)² · count) = detail::torchSum (float32) / float32(n). argmin ties -> FIRST.
///   b and unsigned come from the scheme's integer format (qs::Error for other formats); its rangeMode,
///   scaleFormat and arithmetic are not used. Range ±centers[i] ([0, amax] unsigned). Matches the peer's
///   CPU path bit for bit; the peer itself runs on CUDA, whose mean sums in another order, so a near-tie
///   may go the other way there.
/// Native: any non-block scheme. Each bin's mass sits at its center c (float64 midpoint, then float32);
///   for each candidate threshold t the centers are fake-quantized with the scheme's own quantizer
///   (fakeQuantizeInto, per tensor, range below) and err = Σ count·(x̂ - c)² / Σ count (float64).
///   Candidates: the positive edge magnitudes |e|, ascending, without duplicates. Range for t: [0, t] for
///   one-sided (unsigned symmetric integer) schemes; [clamp(e0, -t, t), clamp(en, -t, t)] for affine
///   schemes on signed histograms; else [-t, t] (an |x| histogram is taken as symmetric data, affine
///   schemes included). Ties -> FIRST (smallest t).
/// Block formats compute their own scales and ternary/binary take BitNet's weight statistics: both are
/// rejected (qs::Error), here and by the other MSE searches.
SearchResult mseHistogramSearch(const CollectedHistogram& histogram, const Scheme& scheme,
    Compatibility compat, int startBin, int stride);

/// Exact native MSE: quantizes the values themselves (fakeQuantizeInto, the scheme per tensor) for each
/// candidate and keeps the one with the smallest mean squared error (float64 accumulation; ties -> the
/// smaller threshold). Candidates, a coarse-to-fine sweep over (0, A] with A = max|x| (one-sided schemes:
/// max(max x, 0)): 40 evenly spaced thresholds, then three rounds of 20 evenly spaced thresholds between the
/// neighbours of the best so far (resolution ≈ 2.5e-5·A; a step-shaped objective, such as an E8M0 scale
/// gives, is still located as a flat minimum). Range per threshold as in the native histogram search
/// (affine: the data's [min, max] clamped to [-t, t]). The curve holds every evaluated threshold, ascending.
/// `values` are the group's finite values (qs::Error for NaN/Inf); an empty or all-zero group gives
/// [0, 0]. Block formats are rejected (qs::Error).
SearchResult mseExactSearch(std::span<const float> values, const Scheme& scheme);

/// ModelOpt MseCalibrator (calib/mse.py): multipliers m = torch.linspace(0.25, 4.0, steps) in float32
/// (detail::torchLinspace; HEAD: steps = ceil(3.75 / 0.1) + 1 = 39, Dec-2025: 10; 1.0 is not among them),
/// candidates float32(initialAmax)·m (float32), loss = Σ (x - Q(x))² in float32 with the scheme's own
/// quantizer (fakeQuantizeInto, per tensor), summed as torch.sum does (detail::torchSum), argmin ties ->
/// first. Range ±candidate ([0, c] for one-sided schemes, the data's [min, max] clamped to [-c, c] for
/// affine ones). Throws qs::Error for steps < 1, a negative or non-finite initialAmax, non-finite values or
/// a block format. torch sums tensors of 32768 or more elements in per-thread chunks, an order that
/// depends on the thread count; this sums them as one thread does.
SearchResult mseMultiplierSweep(
    std::span<const float> values, double initialAmax, const Scheme& scheme, int steps);

/// PyTorch 2.11 HistogramObserver._non_linear_param_search on its signed histogram
/// (min = float32(edges[0]), max = float32(edges[n]), counts as float32). `dstBins` = 2^bits of the
/// observer dtype (256 for (q)int8/(q)uint8); `_calculate_qparams` is left to the caller. range =
/// [new_min, new_max] as the peer returns them, in float32: min + bin_width·start and
/// min + bin_width·(end + 1) with bin_width = float32((max - min) / n).
///   total = torch.sum(hist) (detail::torchSum), cSum = torch.cumsum (float64 running sum stored as
///   float32); alpha = 0, beta = 1 stepped by 1e-5 in double; `cSum[l] < next_alpha·total` compares in
///   float32 (torch casts the Python scalar to the tensor's dtype); the side that gains more bins moves
///   (ties move the end); unchanged candidates are skipped; the search stops at the first candidate whose
///   error is larger than the best so far (an equal one is taken and the search goes on).
///   _compute_quantization_error in the peer's float32 tensor ops, per source bin k, with bw_d, dw_d in
///   double (bw_d = (max - min)/n, dw_d = bw_d·(e-s+1)/dstBins), bw = float32(bw_d), dw = float32(dw_d),
///   h = float32(dw_d/2): b0 = float32(k-s)·bw, b1 = b0 + bw, db = clamp(floordiv(b0, dw), 0, dstBins-1)
///   and de likewise from b1 (torch's Python-style floor division), d = hist[k]/bw,
///   N(a, b) = d·((b·b·b - a·a·a)/3): err_k = N(b0 - (db+0.5)·dw, h) + (de - db - 1)·N(-h, h)
///   + N(-h, b1 - (de·dw + h)), accumulated as 0 + t1 + t2 + t3, then summed by detail::torchSum.
///   Checked bit for bit against torch 1.13 (AVX2), whose search and error code are 2.11's.
/// Curve: every candidate the search evaluated plus the starting full range (whose error the peer never
/// computes); threshold = the candidate range's WIDTH (new_max - new_min: both ends move, and the width
/// shrinks along the search, so it orders the candidates); values = the errors (float32, as double).
/// Throws qs::Error for dstBins < 1 or a malformed histogram.
SearchResult histogramObserverSearch(const CollectedHistogram& histogram, int dstBins);

namespace detail {

/// np.add.reduce of a contiguous float64 array, as numpy 1.x computes it: the reduction's inner loop runs
/// once per buffer of 8192 elements (NPY_BUFSIZE), each a pairwise sum (blocks of <= 128 summed with 8
/// accumulators, halves split at multiples of 8), added in order to the identity 0. Checked against
/// numpy 1.24 up to 40000 elements.
double numpyPairwiseSum(std::span<const double> values);
/// The same in float32 (numpy accumulates float32 sums in float32).
float numpyPairwiseSum(std::span<const float> values);

/// torch.sum of a contiguous float32 tensor on CPU (aten/src/ATen/native/cpu/SumKernel.cpp cascade_sum,
/// float accumulators): 8-lane vectors (AVX2; sum_stub has no AVX512 kernel) reduced with 4 interleaved
/// accumulators in multi-level chunks, then the scalar tail, then the 8 lanes in order. One thread, as
/// torch below 32768 elements.
float torchSum(std::span<const float> values);

/// torch.linspace(start, end, steps) in float32 on CPU (RangeFactoriesKernel.cpp):
/// step = (end - start) / (steps - 1), element k = fma(step, k, start) for k < steps/2, else
/// fma(-step, steps-1-k, end). torch's AVX2/AVX512 builds of that kernel are compiled with FMA and the
/// compiler fuses both expressions (found bit for bit against torch 2.11 for the NF4 map in
/// quant/block_bnb.cpp).
std::vector<float> torchLinspace(float start, float end, int steps);

} // namespace detail

} // namespace qs
