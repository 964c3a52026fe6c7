#pragma once

#include "kernels/kernels.h"
#include "kernels/timing.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qs {

/// One benchmarkable kernel: a kernels.h function with fixed parameters.
struct BenchKernelInfo {
    std::string name; ///< "minmax", "histogram_abs", "fq_int8_channel", "fq_nf4_group64"…
    std::string description;
    bool fused = false; ///< a fused fake-quantize + error pass (fakeQuantError)
};

/// Every kernel runBenchmarks knows, in the order it runs them:
///   minmax, minmax_rows (rows = axis 0), histogram (2048 bins over [min, max]), histogram_abs (2048 bins
///   of |x| over [0, absmax]), then fakeQuantError with min-max scales from qs::quantize for int8 sym per
///   tensor and per channel, int8 affine per channel, int4 sym and affine per group of 128, fp8_e4m3 and
///   fp8_e5m2 per channel, fp16 and bf16 per tensor, fp4_e2m1 per group of 32, nf4 per group of 64; then
///   blockFakeQuantError for mxfp8_e4m3, mxfp6_e2m3, mxfp6_e3m2, mxfp4 and nvfp4 and ternaryFakeQuantError
///   per channel (ternary on the CPU backends only; the cuda backend reports it skipped); then packedQuantize
///   ("pack_…") and packedDequantize ("unpack_…", of packedQuantize's output prepared beforehand) for int8
///   sym per channel, int8 affine per group of 128, int4 sym per group of 128, fp8_e4m3 per channel,
///   bitsandbytes NF4 (block 64) and MXFP4 (block 32): pack_int8_channel … unpack_mxfp4.
const std::vector<BenchKernelInfo>& benchKernels();

struct BenchOptions {
    std::vector<std::string> kernels; ///< names from benchKernels(); empty: all
    std::vector<Backend> backends = allBackends();
    std::vector<int> threads = {0}; ///< thread counts to run each kernel with (<= 0: all hardware threads)
    TimingOptions timing;
    /// The bandwidth baseline reads max(input bytes, this) bytes, so that it measures memory, not a cache,
    /// even for small inputs.
    std::int64_t minimumBaselineBytes = std::int64_t {64} << 20;
};

/// One kernel on one backend with one thread count. Units: GB/s = 1e9 bytes/s. `bytes` counts what the
/// kernel moves to and from memory per run, as the API holds it: the float32 tensor (elements · 4 bytes)
/// once per pass the CPU backends make over it (blockFakeQuantPasses: two for NVFP4, the tensor absmax and
/// then the blocks), the scales and zero points it reads, and what it writes (pack_…: the codes, scales and
/// zero points; unpack_…: reads those and writes the float32 tensor).
struct BenchResult {
    std::string kernel;
    std::string backend; ///< backendName
    std::string target; ///< backendTarget: "scalar C++", "AVX3", the GPU name
    bool skipped = false;
    std::string skipReason; ///< why it did not run (backend unavailable, kernel unsupported for the tensor)
    std::int64_t elements = 0;
    std::int64_t bytes = 0; ///< bytes moved per run (above)
    int threads = 0; ///< threads used (resolved; GPU kernels report what was requested)
    TimingStats timing;
    double gbps = 0; ///< bytes / median time
    double inputGbps = 0; ///< the float32 tensor's bytes (elements · 4) / median time
    double fractionOfBaseline = 0; ///< gbps / the read baseline of the same thread count
    /// The result equals the scalar backend's for the same kernel and thread count (set when the scalar
    /// backend ran in the same call; `checked` says whether it did).
    bool checked = false;
    bool matchesScalar = false;
    /// GPU kernels: timed with CUDA events on data already on the device (cudaTimeKernelMs, one run per
    /// sample after its warm-up), compared with `BenchReport::gpuBaseline`. False for CPU backends and for
    /// GPU kernels cudaTimeKernelMs has no spelling for (int affine), which are timed on the host around
    /// the whole call, copies to and from the device included, and have no fraction of a baseline.
    bool deviceTimed = false;
};

struct BenchReport {
    std::string tensor; ///< tensor name ("synthetic" for syntheticBenchTensor)
    Shape shape;
    std::int64_t elements = 0;
    std::vector<BandwidthBaseline> baselines; ///< one per thread count, in BenchOptions::threads order
    /// The GPU's own read and copy of the tensor on the device (CUDA events), when the cuda backend ran;
    /// threads = 0.
    std::vector<BandwidthBaseline> gpuBaseline;
    std::vector<BenchResult> results; ///< kernel-major, then backend, then thread count

    /// The baseline measured with `threads` threads, or nullptr.
    const BandwidthBaseline* baselineFor(int threads) const;
};

/// A reproducible test tensor of `elements` float32 values: shape [elements / 4096, 4096] when `elements`
/// is a multiple of 4096, else [1, elements]; normal values with a per-row scale between 0.25 and 4 and one
/// value in 1024 multiplied by 16 (outliers), from a fixed generator seeded with `seed`.
Tensor syntheticBenchTensor(std::int64_t elements, std::uint32_t seed = 1);

/// Measures the bandwidth baselines, then times every chosen kernel on every chosen backend and thread
/// count on `tensor`. Kernel parameters (scales, histogram ranges) are prepared before timing. Backends
/// that cannot run here and kernels that do not apply to the tensor's shape come back as skipped results
/// with the reason. Throws qs::Error for an unknown kernel name (listing the valid ones).
BenchReport runBenchmarks(const Tensor& tensor, const BenchOptions& options = {});

} // namespace qs
