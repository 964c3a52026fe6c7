#include "kernels/benchmark_suite.h"

#include "base/error.h"
#include "kernels/packed_kernels.h"
#include "quant/block_formats.h"
#include "quant/block_reconstruction.h"
#include "quant/quantizer.h"

#if defined(QS_HAVE_CUDA)
#include "kernels/cuda_kernels.h"
#endif

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <optional>
#include <string>
#include <variant>

namespace qs {

namespace {

using I = std::int64_t;
using KernelOutput = std::variant<MinMaxResult, std::vector<MinMaxResult>, Histogram, ErrorSums, PackedTensor,
    std::vector<float>>;

struct FusedKernel {
    const char* name;
    const char* format; ///< element format, or the block format's name
    Granularity granularity;
    RangeMode range;
};

/// Fused kernels that derive their own scales (blockFakeQuantError, ternaryFakeQuantError; the latter CPU
/// only).
bool ownScales(const FusedKernel& kernel)
{
    return blockFormatByName(kernel.format) != BlockFormat::None || std::string(kernel.format) == "ternary";
}

const std::vector<FusedKernel>& fusedKernels()
{
    static const std::vector<FusedKernel> kernels {
        {"fq_int8_tensor", "int8", Granularity::perTensor(), RangeMode::SymmetricNarrow},
        {"fq_int8_channel", "int8", Granularity::perChannel(0), RangeMode::SymmetricNarrow},
        {"fq_int8_affine_channel", "int8", Granularity::perChannel(0), RangeMode::Affine},
        {"fq_int4_group128", "int4", Granularity::perGroup(128), RangeMode::SymmetricNarrow},
        {"fq_int4_affine_group128", "int4", Granularity::perGroup(128), RangeMode::Affine},
        {"fq_fp8_e4m3_channel", "fp8_e4m3", Granularity::perChannel(0), RangeMode::SymmetricNarrow},
        {"fq_fp8_e5m2_channel", "fp8_e5m2", Granularity::perChannel(0), RangeMode::SymmetricNarrow},
        {"fq_fp16_tensor", "fp16", Granularity::perTensor(), RangeMode::SymmetricNarrow},
        {"fq_bf16_tensor", "bf16", Granularity::perTensor(), RangeMode::SymmetricNarrow},
        {"fq_fp4_e2m1_group32", "fp4_e2m1", Granularity::perGroup(32), RangeMode::SymmetricNarrow},
        {"fq_nf4_group64", "nf4", Granularity::perGroup(64), RangeMode::SymmetricNarrow},
        {"fq_mxfp8_e4m3", "mxfp8_e4m3", Granularity::perGroup(32), RangeMode::SymmetricNarrow},
        {"fq_mxfp6_e2m3", "mxfp6_e2m3", Granularity::perGroup(32), RangeMode::SymmetricNarrow},
        {"fq_mxfp6_e3m2", "mxfp6_e3m2", Granularity::perGroup(32), RangeMode::SymmetricNarrow},
        {"fq_mxfp4", "mxfp4", Granularity::perGroup(32), RangeMode::SymmetricNarrow},
        {"fq_nvfp4", "nvfp4", Granularity::perGroup(16), RangeMode::SymmetricNarrow},
        {"fq_ternary_channel", "ternary", Granularity::perChannel(0), RangeMode::SymmetricNarrow},
        {"fq_q4_0", "q4_0", Granularity::perGroup(32), RangeMode::SymmetricNarrow},
        {"fq_bnb_nf4", "bnb_nf4", Granularity::perGroup(64), RangeMode::SymmetricNarrow},
    };
    return kernels;
}

/// Packed quantize ("pack_…") and dequantize ("unpack_…") kernels: the same schemes under both names.
const std::vector<FusedKernel>& packedKernels()
{
    static const std::vector<FusedKernel> kernels {
        {"int8_channel", "int8", Granularity::perChannel(0), RangeMode::SymmetricNarrow},
        {"int8_affine_group128", "int8", Granularity::perGroup(128), RangeMode::Affine},
        {"int4_group128", "int4", Granularity::perGroup(128), RangeMode::SymmetricNarrow},
        {"fp8_e4m3_channel", "fp8_e4m3", Granularity::perChannel(0), RangeMode::SymmetricNarrow},
        {"nf4", "bnb_nf4", Granularity::perGroup(64), RangeMode::SymmetricNarrow},
        {"mxfp4", "mxfp4", Granularity::perGroup(32), RangeMode::SymmetricNarrow},
    };
    return kernels;
}

Scheme fusedScheme(const FusedKernel& kernel)
{
    Scheme scheme;
    const BlockFormat block = blockFormatByName(kernel.format);
    if (block != BlockFormat::None)
        scheme.blockFormat = block;
    else
        scheme.format = formatByName(kernel.format);
    scheme.granularity = kernel.granularity;
    scheme.rangeMode = kernel.range;
    return scheme;
}

/// A kernel with its parameters prepared for one tensor, or the reason it does not apply.
struct PreparedKernel {
    std::string skipReason;
    /// Runs the kernel into `output` (a kernel that writes into a buffer reuses the one output holds, so the
    /// timing does not count allocating and first touching it).
    std::function<void(Backend, int, KernelOutput&)> run;
    std::string cudaSpelling; ///< cudaTimeKernelMs' name for the same work on this tensor, or empty
    bool cpuOnly = false; ///< no CUDA kernel for it
    I bytes = 0; ///< BenchResult::bytes
};

/// The bytes of a packed tensor: codes, scales and zero points.
I packedBytes(const PackedTensor& packed)
{
    return static_cast<I>(packed.bytes.size() + sizeof(float) * packed.scales.size()
        + sizeof(std::int32_t) * packed.zeroPoints.size());
}

/// "tensor", "channel" or "group:G" with the row length the CUDA timer's [size / COLS, COLS] view needs.
std::string cudaSpelling(const FusedKernel& kernel, const Tensor& tensor)
{
    if (kernel.range == RangeMode::Affine || tensor.shape.empty() || tensor.elementCount() == 0)
        return {};
    const I rows = tensor.shape.front();
    const I cols = tensor.elementCount() / rows;
    const I last = tensor.shape.back();
    std::string granularity;
    I viewCols = last;
    switch (kernel.granularity.kind) {
    case Granularity::Kind::PerTensor:
        granularity = "tensor";
        break;
    case Granularity::Kind::PerChannel:
        granularity = "channel";
        viewCols = cols;
        break;
    case Granularity::Kind::PerGroup:
        if (last % kernel.granularity.groupSize != 0)
            return {};
        granularity = "group:" + std::to_string(kernel.granularity.groupSize);
        break;
    case Granularity::Kind::Block2D:
        return {};
    }
    return std::string("fakequant ") + kernel.format + " " + granularity + " " + std::to_string(viewCols);
}

PreparedKernel prepare(const std::string& name, const Tensor& tensor)
{
    PreparedKernel prepared;
    const std::span<const float> values = tensor.values();
    const I n = tensor.elementCount();
    const I tensorBytes = n * static_cast<I>(sizeof(float));
    prepared.bytes = tensorBytes;
    if (name == "minmax") {
        prepared.run = [values](Backend backend, int threads, KernelOutput& output) {
            output = minMax(backend, values, threads);
        };
        return prepared;
    }
    if (name == "minmax_rows") {
        const I rows = tensor.shape.empty() ? 1 : tensor.shape.front();
        const I cols = rows > 0 ? n / rows : 0;
        prepared.run = [values, rows, cols](Backend backend, int threads, KernelOutput& output) {
            output = minMaxRows(backend, values, rows, cols, threads);
        };
        if (cols > 0)
            prepared.cudaSpelling = "minmax_rows " + std::to_string(cols);
        return prepared;
    }
    if (name == "histogram" || name == "histogram_abs") {
        const bool absolute = name == "histogram_abs";
        const MinMaxResult range = minMax(Backend::Simd, values);
        const double lo = absolute ? 0.0 : range.min;
        const double hi = absolute ? range.absmax : range.max;
        prepared.run = [values, lo, hi, absolute](Backend backend, int threads, KernelOutput& output) {
            output = histogram(backend, values, 2048, lo, hi, absolute, threads);
        };
        prepared.cudaSpelling = name + " 2048";
        return prepared;
    }
    for (const bool unpack : {false, true}) {
        const std::string prefix = unpack ? "unpack_" : "pack_";
        if (name.rfind(prefix, 0) != 0)
            continue;
        const auto packedKernel = std::find_if(packedKernels().begin(), packedKernels().end(),
            [&](const FusedKernel& kernel) { return prefix + kernel.name == name; });
        const Scheme scheme = fusedScheme(*packedKernel);
        prepared.skipReason = packedQuantizeUnsupported(scheme, tensor.shape);
        if (!prepared.skipReason.empty())
            return prepared;
        const PackedTensor sample = packedQuantize(Backend::Simd, values, tensor.shape, scheme);
        prepared.bytes = tensorBytes + packedBytes(sample);
        if (!unpack) {
            prepared.run
                = [values, shape = tensor.shape, scheme](Backend backend, int threads, KernelOutput& output) {
                      auto* packed = std::get_if<PackedTensor>(&output);
                      if (!packed)
                          packed = &output.emplace<PackedTensor>();
                      packedQuantizeInto(backend, values, shape, scheme, *packed, threads);
                  };
            return prepared;
        }
        prepared.run = [packed = sample, shape = tensor.shape, scheme](
                           Backend backend, int threads, KernelOutput& output) {
            auto* decoded = std::get_if<std::vector<float>>(&output);
            if (!decoded)
                decoded
                    = &output.emplace<std::vector<float>>(static_cast<std::size_t>(shapeElementCount(shape)));
            packedDequantizeInto(backend, packed, shape, scheme, *decoded, threads);
        };
        return prepared;
    }
    const auto fused = std::find_if(fusedKernels().begin(), fusedKernels().end(),
        [&](const FusedKernel& kernel) { return kernel.name == name; });
    const Scheme scheme = fusedScheme(*fused);
    if (ownScales(*fused)) {
        const bool block = scheme.blockFormat != BlockFormat::None;
        prepared.cpuOnly = !block || BlockReconstruction::supports(scheme);
        prepared.skipReason = block ? blockFakeQuantErrorUnsupported(scheme)
                                    : ternaryFakeQuantErrorUnsupported(scheme, tensor.shape);
        prepared.bytes = tensorBytes * (block ? blockFakeQuantPasses(scheme) : 1);
        prepared.run = [values, shape = tensor.shape, scheme, block](
                           Backend backend, int threads, KernelOutput& output) {
            output = block ? blockFakeQuantError(backend, values, shape, scheme, threads)
                           : ternaryFakeQuantError(backend, values, shape, scheme, threads);
        };
        return prepared;
    }
    prepared.cudaSpelling = cudaSpelling(*fused, tensor);
    prepared.skipReason = fakeQuantErrorUnsupported(scheme, tensor.shape);
    if (!prepared.skipReason.empty())
        return prepared;
    try {
        QuantizedTensor quantized = quantize(tensor, scheme);
        prepared.bytes = tensorBytes
            + static_cast<I>(
                sizeof(float) * quantized.scales.size() + sizeof(std::int32_t) * quantized.zeroPoints.size());
        prepared.run = [values, shape = tensor.shape, scheme, scales = std::move(quantized.scales),
                           zeroPoints = std::move(quantized.zeroPoints)](
                           Backend backend, int threads, KernelOutput& output) {
            output
                = KernelOutput(fakeQuantError(backend, values, shape, scheme, scales, zeroPoints, threads));
        };
    } catch (const Error& e) {
        prepared.skipReason = e.what();
    }
    return prepared;
}

/// Times `spelling` on the device with CUDA events, one cudaTimeKernelMs run per sample; nullopt when the
/// CUDA backend cannot time it.
std::optional<TimingStats> deviceTiming([[maybe_unused]] const std::string& spelling,
    [[maybe_unused]] std::span<const float> values, [[maybe_unused]] const TimingOptions& options)
{
#if defined(QS_HAVE_CUDA)
    if (spelling.empty() || values.empty())
        return std::nullopt;
    try {
        std::vector<double> samples;
        for (int i = 0; i < std::max(options.repeats, 1); ++i)
            samples.push_back(cudaTimeKernelMs(spelling, values, 1));
        return timingStats(std::move(samples));
    } catch (const Error&) {
        return std::nullopt;
    }
#else
    return std::nullopt;
#endif
}

/// The threads a CPU kernel really uses: kernelThreads, at most one per chunk.
int cpuThreadsUsed(int requested, I elements)
{
    const I chunks = std::max<I>(1, (elements + kKernelChunk - 1) / kKernelChunk);
    return static_cast<int>(std::min<I>(kernelThreads(requested), chunks));
}

/// splitmix64: a small, fast generator whose stream is the same on every platform.
struct SplitMix {
    std::uint64_t state;
    std::uint64_t next()
    {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; } // (0, 1)
};

} // namespace

const std::vector<BenchKernelInfo>& benchKernels()
{
    static const std::vector<BenchKernelInfo> kernels = [] {
        std::vector<BenchKernelInfo> list {
            {"minmax", "min, max, absmax and non-finite count of the tensor", false},
            {"minmax_rows", "min/max per row of [axis 0, rest] (per-channel ranges)", false},
            {"histogram", "2048-bin histogram of x over [min, max]", false},
            {"histogram_abs", "2048-bin histogram of |x| over [0, absmax]", false},
        };
        for (const FusedKernel& kernel : fusedKernels())
            list.push_back(
                {kernel.name, "fake-quantize + error sums, " + schemeName(fusedScheme(kernel)), true});
        for (const FusedKernel& kernel : packedKernels())
            list.push_back({std::string("pack_") + kernel.name,
                "packed quantize (codes and scales), " + schemeName(fusedScheme(kernel)), false});
        for (const FusedKernel& kernel : packedKernels())
            list.push_back({std::string("unpack_") + kernel.name,
                "packed dequantize to float32, " + schemeName(fusedScheme(kernel)), false});
        return list;
    }();
    return kernels;
}

const BandwidthBaseline* BenchReport::baselineFor(int threads) const
{
    for (const BandwidthBaseline& baseline : baselines)
        if (baseline.threads == threads)
            return &baseline;
    return nullptr;
}

Tensor syntheticBenchTensor(std::int64_t elements, std::uint32_t seed)
{
    if (elements < 0)
        throw Error("a synthetic tensor needs a non-negative size, not " + std::to_string(elements));
    Tensor tensor;
    tensor.name = "synthetic";
    constexpr I kCols = 4096;
    tensor.shape
        = elements >= kCols && elements % kCols == 0 ? Shape {elements / kCols, kCols} : Shape {1, elements};
    tensor.data.resize(static_cast<std::size_t>(elements));
    SplitMix random {seed};
    const I cols = tensor.shape[1];
    for (I row = 0; row * cols < elements; ++row) {
        const double rowScale = std::exp2(4 * random.uniform() - 2);
        for (I i = row * cols; i < std::min(elements, (row + 1) * cols); i += 2) {
            // Box-Muller: two independent normals per pair of uniforms.
            const double radius = std::sqrt(-2 * std::log(random.uniform())) * rowScale;
            const double angle = 2 * std::numbers::pi * random.uniform();
            tensor.data[static_cast<std::size_t>(i)] = static_cast<float>(radius * std::cos(angle));
            if (i + 1 < elements)
                tensor.data[static_cast<std::size_t>(i + 1)] = static_cast<float>(radius * std::sin(angle));
        }
    }
    for (I i = 0; i < elements; ++i)
        if ((random.next() & 1023) == 0)
            tensor.data[static_cast<std::size_t>(i)] *= 16;
    return tensor;
}

BenchReport runBenchmarks(const Tensor& tensor, const BenchOptions& options)
{
    std::vector<std::string> names = options.kernels;
    if (names.empty())
        for (const BenchKernelInfo& info : benchKernels())
            names.push_back(info.name);
    for (const std::string& name : names) {
        const auto known = std::find_if(benchKernels().begin(), benchKernels().end(),
            [&](const BenchKernelInfo& info) { return info.name == name; });
        if (known == benchKernels().end()) {
            std::string valid;
            for (const BenchKernelInfo& info : benchKernels())
                valid += (valid.empty() ? "" : ", ") + info.name;
            throw Error("unknown kernel '" + name + "' (valid: " + valid + ")");
        }
    }

    BenchReport report;
    report.tensor = tensor.name;
    report.shape = tensor.shape;
    report.elements = tensor.elementCount();
    const I bytes = report.elements * static_cast<I>(sizeof(float));
    const std::vector<int> threadCounts = options.threads.empty() ? std::vector<int> {0} : options.threads;
    for (const int requested : threadCounts) {
        const int threads = kernelThreads(requested);
        if (!report.baselineFor(threads))
            report.baselines.push_back(
                measureBandwidth(std::max(bytes, options.minimumBaselineBytes), threads, options.timing));
    }

    const bool cudaRuns
        = std::find(options.backends.begin(), options.backends.end(), Backend::Cuda) != options.backends.end()
        && backendAvailable(Backend::Cuda);
    if (cudaRuns) {
        const std::optional<TimingStats> read = deviceTiming("read", tensor.values(), options.timing);
        const std::optional<TimingStats> copy = deviceTiming("copy", tensor.values(), options.timing);
        if (read && copy) {
            BandwidthBaseline gpu;
            gpu.threads = 0;
            gpu.bytes = bytes;
            gpu.read = *read;
            gpu.copy = *copy;
            gpu.readGbps = gigabytesPerSecond(static_cast<double>(bytes), read->medianMs);
            gpu.copyGbps = gigabytesPerSecond(2.0 * static_cast<double>(bytes), copy->medianMs);
            report.gpuBaseline.push_back(gpu);
        }
    }

    for (const std::string& name : names) {
        const PreparedKernel prepared = prepare(name, tensor);
        const std::size_t first = report.results.size();
        std::vector<KernelOutput> outputs;
        for (const Backend backend : options.backends) {
            for (const int requested : threadCounts) {
                BenchResult result;
                result.kernel = name;
                result.backend = backendName(backend);
                result.elements = report.elements;
                result.bytes = prepared.bytes;
                const bool cpu = backend != Backend::Cuda;
                result.threads = cpu ? cpuThreadsUsed(requested, report.elements) : requested;
                result.skipReason = prepared.skipReason;
                if (!backendAvailable(backend))
                    result.skipReason = backendUnavailableReason(backend);
                else if (!cpu && prepared.cpuOnly)
                    result.skipReason = "no CUDA kernel for this format yet";
                result.skipped = !result.skipReason.empty();
                outputs.emplace_back();
                if (!result.skipped) {
                    result.target = backendTarget(backend);
                    KernelOutput& output = outputs.back();
                    const std::optional<TimingStats> onDevice = cpu
                        ? std::nullopt
                        : deviceTiming(prepared.cudaSpelling, tensor.values(), options.timing);
                    if (onDevice) {
                        prepared.run(backend, requested, output);
                        result.timing = *onDevice;
                        result.deviceTimed = true;
                    } else {
                        result.timing
                            = timeRepeated([&] { prepared.run(backend, requested, output); }, options.timing);
                    }
                    result.gbps
                        = gigabytesPerSecond(static_cast<double>(prepared.bytes), result.timing.medianMs);
                    result.inputGbps = gigabytesPerSecond(static_cast<double>(bytes), result.timing.medianMs);
                    const BandwidthBaseline* baseline = cpu ? report.baselineFor(kernelThreads(requested))
                        : result.deviceTimed && !report.gpuBaseline.empty() ? &report.gpuBaseline.front()
                                                                            : nullptr;
                    if (baseline && baseline->readGbps > 0)
                        result.fractionOfBaseline = result.gbps / baseline->readGbps;
                }
                report.results.push_back(std::move(result));
            }
        }
        // Each backend's output against the scalar output of the same thread count.
        for (std::size_t r = first; r < report.results.size(); ++r) {
            BenchResult& result = report.results[r];
            if (result.skipped)
                continue;
            for (std::size_t s = first; s < report.results.size(); ++s) {
                const BenchResult& scalar = report.results[s];
                if (scalar.backend == backendName(Backend::Scalar) && !scalar.skipped
                    && (s - first) % threadCounts.size() == (r - first) % threadCounts.size()) {
                    result.checked = true;
                    result.matchesScalar = outputs[r - first] == outputs[s - first];
                }
            }
        }
    }
    return report;
}

} // namespace qs
