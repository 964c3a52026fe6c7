// Standalone GPU driver for the CUDA backend (kernels/cuda_kernels.h), built by build.sh with nvcc alone (no
// Qt, no CMake) so that it runs on a GPU machine without the project's dependencies.
//
//   qs_cuda_bench --check              every case of tst_cuda_kernels (cuda_checks.h), the device's
//                                      cvt.rn.satfinite and magic-addition elements against the bit rounding
//                                      for all 2^32 floats, and the device bit rounding against
//                                      quant/scale_rounding.h on the host
//   qs_cuda_bench --bench [--gib G] [--repeats R] [--json FILE]
//                                      median device time of every kernel on a G GiB float32 tensor (default
//                                      1) as GB/s and as a share of the device-to-device copy, the packed
//                                      quantize ("pack …") and dequantize ("unpack …") kernels and the
//                                      scaled E4M3 cast ("cast fp8_e4m3 scaled") included; GB/s counts the
//                                      bytes moved as the host harness does (BenchResult::bytes): x per pass,
//                                      the scales (one float per group) read, codes and scales written
//   qs_cuda_bench --time=KERNEL [--gib G] [--repeats R]
//                                      one kernel: a cudaTimeKernelMs spelling, "blockfq FORMAT", or a packed
//                                      row of --bench ("pack int4 group:128", "unpack mxfp4")

#include "benchmarks/cuda/cuda_checks.h"
#include "kernels/cuda/fake_quant.cuh"
#include "kernels/cuda_kernels.h"
#include "kernels/cuda_packed.h"
#include "quant/block_formats.h"
#include "quant/scale_rounding.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using qs::cuda::ElementGrid;

/// Counts the floats (all 2^32 bit patterns but NaN) whose element result (`Kind`: the hardware E4M3 or E5M2,
/// a format embedded in them, or the magic addition) or clipped flag differs from the bit rounding of
/// quant/scale_rounding.h saturated to the largest value (clipped: rounded past it, or beyond it before
/// rounding); the smallest such pattern goes to *first.
template<qs::cuda::ElementKind Kind>
__global__ void compareElement(ElementGrid grid, unsigned long long* mismatches, unsigned* first)
{
    const unsigned long long stride = 1ull * gridDim.x * blockDim.x;
    for (unsigned long long k = 1ull * blockIdx.x * blockDim.x + threadIdx.x; k < (1ull << 32); k += stride) {
        const auto bits = static_cast<std::uint32_t>(k);
        if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
            continue;
        const float v = __uint_as_float(bits);
        float y[2];
        bool elementClipped[2];
        const qs::cuda::GroupValues unit {1.0f, 1.0f, 0.0f};
        qs::cuda::fakeQuantPair<Kind, false, false, true>(v, 0.0f, unit, unit, grid, y, elementClipped);
        std::uint32_t rounded
            = qs::cuda::roundMinifloatBits(bits & 0x7FFFFFFFu, grid.mantissaBits, grid.bias, false);
        const bool softwareClipped = (grid.clipBeforeRounding ? bits & 0x7FFFFFFFu : rounded) > grid.maxBits;
        rounded = rounded > grid.maxBits ? grid.maxBits : rounded;
        const float software = __uint_as_float(rounded | (bits & 0x80000000u));
        if (__float_as_uint(y[0]) != __float_as_uint(software) || elementClipped[0] != softwareClipped) {
            atomicAdd(mismatches, 1ull);
            atomicMin(first, bits);
        }
    }
}

/// compareElement over all 2^32 floats for one format (its grid as makeFakeQuantPlan builds it, and the MX
/// elements' clipping before rounding).
template<qs::cuda::ElementKind Kind> bool exhaustiveElement(const char* format, bool clipBeforeRounding)
{
    qs::Scheme scheme;
    scheme.format = qs::formatByName(format);
    scheme.granularity = qs::Granularity::perTensor();
    const std::vector<float> one {1.0f};
    qs::cuda::FakeQuantPlan plan = qs::cuda::makeFakeQuantPlan(one, {1}, scheme, one, {});
    ElementGrid grid = plan.args.grid;
    if (clipBeforeRounding)
        qs::cuda::clipBeforeRounding(grid);
    bool ok = plan.kind == Kind;
    unsigned long long* mismatches = nullptr;
    unsigned* first = nullptr;
    qs::cuda::check(cudaMalloc(&mismatches, sizeof(unsigned long long)), "cudaMalloc");
    qs::cuda::check(cudaMalloc(&first, sizeof(unsigned)), "cudaMalloc");
    qs::cuda::check(cudaMemset(mismatches, 0, sizeof(unsigned long long)), "cudaMemset");
    qs::cuda::check(cudaMemset(first, 0xFF, sizeof(unsigned)), "cudaMemset");
    compareElement<Kind><<<4096, 256>>>(grid, mismatches, first);
    qs::cuda::checkLaunch("compareElement");
    unsigned long long count = 0;
    unsigned bits = 0;
    qs::cuda::download(&count, mismatches, 1);
    qs::cuda::download(&bits, first, 1);
    cudaFree(mismatches);
    cudaFree(first);
    ok = ok && count == 0;
    std::printf("%s  %s%s: %s vs bit rounding, all 2^32 floats but NaN: %llu mismatches%s",
        ok ? "PASS" : "FAIL", format,
        Kind == qs::cuda::ElementKind::MagicMinifloat ? "magic addition" : "cvt.rn.satfinite",
        clipBeforeRounding ? " (clipped before rounding)" : "", count,
        plan.kind == Kind ? "" : " (not the expected element kind)");
    if (count)
        std::printf(" (first bits 0x%08X)", bits);
    std::printf("\n");
    return ok;
}

/// The device copy of MinifloatRounder::roundBits against the host original, on random magnitudes.
bool hostRoundingMatches()
{
    const qs::MinifloatSpec specs[]
        = {{4, 3, 7, qs::MinifloatSpecials::NanOnlyFn}, {5, 2, 15, qs::MinifloatSpecials::Ieee},
            {2, 1, 1, qs::MinifloatSpecials::FiniteOnly}, {3, 2, 3, qs::MinifloatSpecials::FiniteOnly},
            {5, 10, 15, qs::MinifloatSpecials::Ieee}, {8, 7, 127, qs::MinifloatSpecials::Ieee}};
    std::mt19937 rng(5);
    for (const auto& spec : specs)
        for (const bool away : {false, true}) {
            const auto rounder = qs::detail::MinifloatRounder::make(spec, away, 1.0);
            for (int i = 0; i < 4000000; ++i) {
                const std::uint32_t u = static_cast<std::uint32_t>(rng()) % 0x7F800000u;
                if (rounder.roundBits(u)
                    != qs::cuda::roundMinifloatBits(u, spec.mantissaBits, spec.bias, away)) {
                    std::printf("FAIL  bit rounding E%dM%d away=%d differs from the host at 0x%08X\n",
                        spec.exponentBits, spec.mantissaBits, int(away), u);
                    return false;
                }
            }
        }
    std::printf("PASS  device bit rounding == quant/scale_rounding.h on 48M random magnitudes\n");
    return true;
}

/// The overlapped and the two-pass chunk-order totals against the emulation, on a tensor of many chunks and
/// spans (the spans then complete in whatever order the warps finish).
std::string checkTotalModes()
{
    using namespace qs;
    const std::size_t n = std::size_t(1) << 26;
    const std::vector<float> values = cudacheck::testValues(n, 31, 4096);
    const Shape shape {std::int64_t(n / 4096), 4096};
    for (const char* format : {"int8", "fp8_e4m3"}) {
        const Scheme scheme = cudacheck::makeScheme(format, Granularity::perChannel(0));
        const Tensor tensor {"modes", shape, values};
        const QuantizedTensor q = quantize(tensor, scheme);
        std::vector<float> expected;
        const FakeQuantizeCounts counts = fakeQuantizeInto(tensor, scheme, expected);
        const ErrorSums reference = cudaref::errorSums(values, expected, counts.clippedCount);
        const cuda::FakeQuantPlan plan
            = cuda::makeFakeQuantPlan(values, shape, scheme, q.scales, q.zeroPoints);
        // The same values at a 16-byte aligned address and one float past it: the totals may not depend on
        // the alignment of x.
        cuda::DeviceBuffer<float> x(n + 1);
        cuda::DeviceBuffer<cuda::ChunkSums> chunks(std::size_t(cuda::workspaceEntries(std::int64_t(n))));
        cuda::DeviceBuffer<cuda::ChunkSums> total(1);
        for (const int offset : {0, 1}) {
            cuda::check(
                cudaMemcpy(x.get() + offset, values.data(), n * sizeof(float), cudaMemcpyHostToDevice),
                "cudaMemcpy to device");
            for (const auto mode : {cuda::TotalMode::Overlapped, cuda::TotalMode::AfterChunks}) {
                for (int repeat = 0; repeat < 3; ++repeat) {
                    cuda::launchFakeQuant(x.get() + offset, std::int64_t(n), plan, chunks.get(), total.get(),
                        nullptr, mode, nullptr);
                    cuda::ChunkSums host;
                    cuda::download(&host, total.get(), 1);
                    if (!cudaref::sameSums(cuda::errorSums(host), reference))
                        return std::string(format)
                            + (mode == cuda::TotalMode::Overlapped ? " overlapped" : " two-pass")
                            + (offset ? " total (unaligned x)" : " total") + " differs from the reference";
                }
            }
        }
    }
    return {};
}

/// Diagnostic kernels with the fake-quant chunk kernel's mapping (half a warp per chunk of 4096, lane
/// stride 16, batches of 8 loads): Mode 0 only sums the inputs in float, 1 adds the integer fake-quant of
/// each element, 2 adds the double error terms of x against itself, 3 does both (the real work).
template<int Mode>
__global__ void __launch_bounds__(256)
    probeKernel(const float* __restrict__ x, std::int64_t n, qs::cuda::FakeQuantArgs args, double* sink)
{
    const int lane = static_cast<int>(threadIdx.x) % 16;
    const std::int64_t chunks = n / 4096;
    float floatSum = 0;
    double sums[6] = {0, 0, 0, 0, 0, 0};
    const qs::cuda::GroupValues p {args.single[0], args.single[1], args.single[2]};
    for (std::int64_t c = (std::int64_t(blockIdx.x) * 256 + threadIdx.x) / 16; c < chunks;
         c += std::int64_t(gridDim.x) * 16) {
        const std::int64_t base = c * 4096 + lane;
        for (int step = 0; step < 256; step += 8) {
            float v[8];
#pragma unroll
            for (int j = 0; j < 8; ++j)
                v[j] = __ldcs(x + base + std::int64_t(step + j) * 16);
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                float y = v[j];
                if constexpr (Mode == 1 || Mode == 3) {
                    bool clipped;
                    y = qs::cuda::fakeQuantElement<qs::cuda::ElementKind::Integer, false, false>(
                        v[j], p, args.grid, clipped);
                }
                if constexpr (Mode < 2) {
                    floatSum += y;
                } else if constexpr (Mode == 4) {
                    const double xd = v[j];
                    const double yd = y;
                    const double e = fabs(__dsub_rn(xd, yd));
                    sums[0] = __dadd_rn(sums[0], __dmul_rn(e, e));
                    sums[1] = __dadd_rn(sums[1], e);
                    sums[2] = __fma_rn(xd, xd, sums[2]);
                    sums[3] = __dadd_rn(sums[3], fabs(xd));
                    sums[4] = __fma_rn(xd, yd, sums[4]);
                    sums[5] = __fma_rn(yd, yd, sums[5]);
                } else {
                    const double xd = v[j];
                    const double yd = y;
                    const double e = fabs(__dsub_rn(xd, yd));
                    sums[0] = __dadd_rn(sums[0], __dmul_rn(e, e));
                    sums[1] = __dadd_rn(sums[1], e);
                    sums[2] = __dadd_rn(sums[2], __dmul_rn(xd, xd));
                    sums[3] = __dadd_rn(sums[3], fabs(xd));
                    sums[4] = __dadd_rn(sums[4], __dmul_rn(xd, yd));
                    sums[5] = __dadd_rn(sums[5], __dmul_rn(yd, yd));
                }
            }
        }
    }
    const double total = floatSum + sums[0] + sums[1] + sums[2] + sums[3] + sums[4] + sums[5];
    if (total == 1.2345)
        *sink = total;
}

/// Mode 0's work with the loads staged through shared memory: each warp reads 512 contiguous bytes of
/// each of its two chunks per step, then each half warp reads its chunk lane-strided from shared memory.
__global__ void __launch_bounds__(256)
    probeStaged(const float* __restrict__ x, std::int64_t n, qs::cuda::FakeQuantArgs, double* sink)
{
    __shared__ float4 stage[8][2][32];
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int lane = static_cast<int>(threadIdx.x) % 32;
    const int half = lane / 16;
    const std::int64_t chunks = n / 4096;
    float floatSum = 0;
    for (std::int64_t pair = (std::int64_t(blockIdx.x) * 256 + threadIdx.x) / 32; 2 * pair < chunks;
         pair += std::int64_t(gridDim.x) * 8) {
        const auto* a = reinterpret_cast<const float4*>(x + 2 * pair * 4096);
        const auto* b = reinterpret_cast<const float4*>(x + (2 * pair + 1) * 4096);
        float4 nextA = __ldcs(a + lane);
        float4 nextB = __ldcs(b + lane);
        for (int step = 0; step < 32; ++step) {
            stage[warp][0][lane] = nextA;
            stage[warp][1][lane] = nextB;
            if (step + 1 < 32) {
                nextA = __ldcs(a + 32 * (step + 1) + lane);
                nextB = __ldcs(b + 32 * (step + 1) + lane);
            }
            __syncwarp();
            const float* mine = reinterpret_cast<const float*>(stage[warp][half]);
#pragma unroll
            for (int r = 0; r < 8; ++r)
                floatSum += mine[16 * r + lane % 16];
            __syncwarp();
        }
    }
    if (floatSum == 1.2345f)
        *sink = floatSum;
}

void runProbes(double gib)
{
    using namespace qs;
    const auto n = static_cast<std::size_t>(gib * double(1ull << 30) / sizeof(float)) / 4096 * 4096;
    std::vector<float> values(n);
    for (std::size_t i = 0; i < n; ++i)
        values[i] = float(int(i % 2001) - 1000) * 1e-3f;
    const Scheme scheme = cudacheck::makeScheme("int8", Granularity::perTensor());
    const std::vector<float> scale {1.0f / 127.0f};
    const cuda::FakeQuantPlan plan = cuda::makeFakeQuantPlan(values, {std::int64_t(n)}, scheme, scale, {});
    const auto x = cuda::DeviceBuffer<float>::from(values);
    cuda::DeviceBuffer<double> sink(1);
    const unsigned grid = static_cast<unsigned>((n / 4096 + 15) / 16);
    const auto time = [&](auto kernel, const char* name) {
        cudaEvent_t start;
        cudaEvent_t stop;
        cudaEventCreate(&start);
        cudaEventCreate(&stop);
        std::vector<float> ms;
        for (int r = 0; r < 12; ++r) {
            cudaEventRecord(start);
            kernel<<<grid, 256>>>(x.get(), std::int64_t(n), plan.args, sink.get());
            cudaEventRecord(stop);
            cudaEventSynchronize(stop);
            float t = 0;
            cudaEventElapsedTime(&t, start, stop);
            ms.push_back(t);
        }
        std::sort(ms.begin(), ms.end());
        std::printf("probe %-44s %8.4f ms\n", name, ms[6]);
        cudaEventDestroy(start);
        cudaEventDestroy(stop);
    };
    time(probeKernel<0>, "0 chunk-mapped loads, float sum");
    time(probeKernel<1>, "1 + integer fake-quant per element");
    time(probeKernel<2>, "2 loads + double error terms (y = x)");
    time(probeKernel<3>, "3 fake-quant + double error terms");
    time(probeKernel<4>, "4 as 2, exact products by FMA");
    time(probeStaged, "5 as 0, loads staged in shared memory");
    cuda::check(cudaGetLastError(), "probe kernels");
}

bool report(const std::string& name, const std::string& failure)
{
    std::printf("%s  %s%s%s\n", failure.empty() ? "PASS" : "FAIL", name.c_str(), failure.empty() ? "" : ": ",
        failure.c_str());
    std::fflush(stdout);
    return failure.empty();
}

int runChecks()
{
    using namespace qs::cudacheck;
    bool ok = true;
    ok &= report("minmax", checkMinMax());
    ok &= report("minmax rows", checkMinMaxRows());
    ok &= report("histogram", checkHistogram());
    for (const FakeQuantCase& c : fakeQuantCases())
        ok &= report("fakequant " + c.name, checkFakeQuant(c));
    for (const BlockCase& c : blockCases())
        ok &= report("block fakequant " + c.name, checkBlockFakeQuant(c));
    for (const PackedCase& c : packedCases())
        ok &= report("packed " + c.name, checkPacked(c));
    ok &= report("scaled E4M3 cast", checkScaledE4M3());
    ok &= report("refusals", checkRefusals());
    ok &= report("overlapped and two-pass totals on 2^26 values, aligned and not", checkTotalModes());
    ok &= report("timing entry point", checkTiming());
    ok &= hostRoundingMatches();
    for (const bool before : {false, true}) {
        ok &= exhaustiveElement<qs::cuda::ElementKind::E4M3Hardware>("fp8_e4m3", before);
        ok &= exhaustiveElement<qs::cuda::ElementKind::E5M2Hardware>("fp8_e5m2", before);
        ok &= exhaustiveElement<qs::cuda::ElementKind::E4M3Embedded>("fp6_e2m3", before);
        ok &= exhaustiveElement<qs::cuda::ElementKind::E5M2Embedded>("fp6_e3m2", before);
        for (const char* format : {"fp4_e2m1", "fp4_e3m0", "e3m4", "fp16"})
            ok &= exhaustiveElement<qs::cuda::ElementKind::MagicMinifloat>(format, before);
    }
    std::printf("%s\n", ok ? "ALL PASSED" : "SOME FAILED");
    return ok ? 0 : 1;
}

/// n normal(0, 0.02) values with a few outliers (weight-like), filled by all hardware threads.
std::vector<float> benchValues(std::size_t n)
{
    std::vector<float> v(n);
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            std::mt19937 rng(1234 + t);
            std::normal_distribution<float> normal(0.0f, 0.02f);
            for (std::size_t i = t; i < n; i += threads)
                v[i] = normal(rng) * (i % 4099 == 0 ? 50.0f : 1.0f);
        });
    for (auto& thread : pool)
        thread.join();
    return v;
}

/// The packed quantize ("pack …") and dequantize ("unpack …") rows of --bench, on [n / 4096, 4096].
struct Packed {
    const char* name;
    const char* format; ///< element format or block format
    qs::Granularity granularity;
    qs::RangeMode range;
    double codeBytes; ///< packed bytes per element: codes, scales and zero points
};

const Packed kPacked[] = {
    {"int8 channel", "int8", qs::Granularity::perChannel(0), qs::RangeMode::SymmetricNarrow, 1 + 4.0 / 4096},
    {"int8 group:128", "int8", qs::Granularity::perGroup(128), qs::RangeMode::SymmetricNarrow, 1 + 4.0 / 128},
    {"int8 affine group:128", "int8", qs::Granularity::perGroup(128), qs::RangeMode::Affine, 1 + 8.0 / 128},
    {"int4 group:128", "int4", qs::Granularity::perGroup(128), qs::RangeMode::SymmetricNarrow,
        0.5 + 4.0 / 128},
    {"fp8_e4m3 tensor", "fp8_e4m3", qs::Granularity::perTensor(), qs::RangeMode::SymmetricNarrow, 1},
    {"fp8_e4m3 channel", "fp8_e4m3", qs::Granularity::perChannel(0), qs::RangeMode::SymmetricNarrow,
        1 + 4.0 / 4096},
    {"nf4", "bnb_nf4", qs::Granularity::perTensor(), qs::RangeMode::SymmetricNarrow, 0.5 + 4.0 / 64},
    {"mxfp4", "mxfp4", qs::Granularity::perTensor(), qs::RangeMode::SymmetricNarrow, 17.0 / 32}};

qs::Scheme packedScheme(const Packed& p)
{
    qs::Scheme scheme;
    if (qs::blockFormatByName(p.format) != qs::BlockFormat::None)
        scheme.blockFormat = qs::blockFormatByName(p.format);
    else
        scheme.format = qs::formatByName(p.format);
    scheme.granularity = p.granularity;
    scheme.rangeMode = p.range;
    return scheme;
}

/// The kPacked row called `name`; throws for an unknown one.
const Packed& packedRow(const std::string& name)
{
    for (const Packed& p : kPacked)
        if (name == p.name)
            return p;
    throw std::runtime_error("no packed bench row '" + name + "'");
}

/// The scales a fused row ("fakequant FORMAT group:G …", "… channel C") reads, in bytes per byte of input:
/// one float per group of G, per channel of C; none per tensor.
double scaleTraffic(const std::string& name)
{
    for (const char* key : {"group:", "channel "}) {
        const std::size_t at = name.find(key);
        if (at != std::string::npos)
            return 1.0 / std::stod(name.substr(at + std::strlen(key)));
    }
    return 0;
}

int runBench(double gib, int repeats, const std::string& jsonPath)
{
    const auto n = static_cast<std::size_t>(gib * double(1ull << 30) / sizeof(float)) / 4096 * 4096;
    const double bytes = double(n) * sizeof(float);
    const std::vector<float> values = benchValues(n);
    const std::string device = qs::cudaDeviceName();
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
    std::printf("device %s, %s, %zu float32 (%.3f GiB), median of %d\n", device.c_str(), date, n,
        bytes / (1ull << 30), repeats);
    struct Kernel {
        const char* name;
        double traffic; ///< bytes moved per byte of input: read only 1, read + write 2; the scales besides
    };
    const Kernel kernels[] = {{"copy", 2}, {"read", 1}, {"minmax", 1}, {"minmax_rows 4096", 1},
        {"minmax_rows 128", 1}, {"histogram 2048", 1}, {"histogram_abs 2048", 1},
        {"fakequant int8 tensor", 1}, {"fakequant int8 channel 4096", 1},
        {"fakequant_twopass int8 channel 4096", 1}, {"fakequant int8 group:128", 1},
        {"fakequant int4 group:128", 1}, {"fakequant int8 group:32 4096", 1},
        {"fakequant fp8_e4m3 tensor", 1}, {"fakequant fp8_e4m3 tensor 4096 bitround", 1},
        {"fakequant fp8_e4m3 channel 4096", 1}, {"fakequant fp8_e5m2 tensor", 1},
        {"fakequant fp6_e2m3 channel 4096", 1}, {"fakequant fp6_e2m3 channel 4096 bitround", 1},
        {"fakequant fp16 tensor", 1}, {"fakequant fp4_e2m1 group:32 4096", 1},
        {"fakequant fp4_e2m1 group:32 4096 bitround", 1}, {"fakequant nf4 group:64", 1},
        {"fakequant_values int8 tensor", 2}, {"fakequant_values int8 channel 4096", 2},
        {"fakequant_values int8 group:128", 2}, {"fakequant_values fp8_e4m3 tensor", 2}};
    std::string json = "{\"device\": \"" + device + "\", \"date\": \"" + date + "\", \"bytes\": "
        + std::to_string(bytes) + ", \"repeats\": " + std::to_string(repeats) + ", \"kernels\": {";
    double copyRate = 0;
    std::printf("%-38s %10s %10s %8s\n", "kernel", "ms", "GB/s", "of copy");
    for (const Kernel& k : kernels) {
        const double ms = qs::cudaTimeKernelMs(k.name, values, repeats);
        const double rate = (k.traffic + scaleTraffic(k.name)) * bytes / (ms * 1e-3) / 1e9;
        if (copyRate == 0)
            copyRate = rate;
        std::printf("%-38s %10.4f %10.1f %7.1f%%\n", k.name, ms, rate, 100.0 * rate / copyRate);
        std::fflush(stdout);
        json += std::string(&k == kernels ? "" : ", ") + "\"" + k.name + "\": {\"ms\": " + std::to_string(ms)
            + ", \"gbps\": " + std::to_string(rate) + "}";
    }
    // Packed quantize (single pass: x read once; otherwise group reduction + packing kernel: x read twice;
    // codes written) and dequantize (codes read, float32 written), on [n / 4096, 4096]; "of copy" compares
    // the bytes moved with the copy's.
    const qs::Shape shape {static_cast<std::int64_t>(n / 4096), 4096};
    for (const bool unpack : {false, true}) {
        for (const Packed& p : kPacked) {
            const qs::Scheme scheme = packedScheme(p);
            const double ms = qs::cudaTimePackedMs(unpack, values, shape, scheme, repeats);
            // Two-pass packing reads x twice (group ranges, then codes); single-pass packing once.
            const double reads = unpack || qs::cudaPackedSinglePass(scheme, shape) ? 1 : 2;
            const double traffic = reads + p.codeBytes / 4;
            const double rate = traffic * bytes / (ms * 1e-3) / 1e9;
            const std::string name = std::string(unpack ? "unpack " : "pack ") + p.name;
            std::printf("%-38s %10.4f %10.1f %7.1f%%   (input %.1f GB/s)\n", name.c_str(), ms, rate,
                100.0 * rate / copyRate, bytes / (ms * 1e-3) / 1e9);
            std::fflush(stdout);
            json += ", \"" + name + "\": {\"ms\": " + std::to_string(ms)
                + ", \"gbps\": " + std::to_string(rate) + "}";
        }
    }
    // The scaled E4M3 cast (x read, one code byte written; the scale given, 448 / absmax as torch's row).
    {
        float absmax = 0;
        for (const float v : values)
            absmax = std::max(absmax, std::fabs(v));
        const double ms = qs::cudaTimeScaledE4M3Ms(values, 448.0f / absmax, repeats);
        const double rate = 1.25 * bytes / (ms * 1e-3) / 1e9;
        const std::string name = "cast fp8_e4m3 scaled";
        std::printf("%-38s %10.4f %10.1f %7.1f%%   (input %.1f GB/s)\n", name.c_str(), ms, rate,
            100.0 * rate / copyRate, bytes / (ms * 1e-3) / 1e9);
        std::fflush(stdout);
        json += ", \"" + name + "\": {\"ms\": " + std::to_string(ms) + ", \"gbps\": " + std::to_string(rate)
            + "}";
    }
    // Block-format fake-quant error (MX: one pass; NVFP4: block reduction + fused pass, x read twice).
    for (const char* format : {"mxfp8_e4m3", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8", "nvfp4"}) {
        qs::Scheme scheme;
        scheme.blockFormat = qs::blockFormatByName(format);
        const double ms = qs::cudaTimeBlockFakeQuantMs(values, shape, scheme, repeats);
        const double rate
            = (qs::cudaBlockFakeQuantOnePass(scheme, shape) ? 1 : 2) * bytes / (ms * 1e-3) / 1e9;
        const std::string name = std::string("blockfq ") + format;
        std::printf("%-38s %10.4f %10.1f %7.1f%%   (input %.1f GB/s)\n", name.c_str(), ms, rate,
            100.0 * rate / copyRate, bytes / (ms * 1e-3) / 1e9);
        std::fflush(stdout);
        json += ", \"" + name + "\": {\"ms\": " + std::to_string(ms) + ", \"gbps\": " + std::to_string(rate)
            + "}";
    }
    json += "}}\n";
    if (!jsonPath.empty())
        std::ofstream(jsonPath) << json;
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        if (!qs::cudaAvailable()) {
            int count = 0;
            std::printf("no CUDA device (%s)\n", cudaGetErrorString(cudaGetDeviceCount(&count)));
            return 2;
        }
        std::string mode;
        double gib = 1.0;
        int repeats = 20;
        std::string json;
        for (int i = 1; i < argc; ++i) {
            const std::string arg = argv[i];
            if (arg == "--gib" && i + 1 < argc)
                gib = std::atof(argv[++i]);
            else if (arg == "--repeats" && i + 1 < argc)
                repeats = std::atoi(argv[++i]);
            else if (arg == "--json" && i + 1 < argc)
                json = argv[++i];
            else
                mode = arg;
        }
        std::printf("CUDA device: %s\n", qs::cudaDeviceName().c_str());
        if (mode == "--check")
            return runChecks();
        if (mode == "--bench")
            return runBench(gib, repeats, json);
        if (mode == "--probe") {
            runProbes(gib);
            return 0;
        }
        if (mode.starts_with("--time=")) {
            const std::vector<float> values
                = benchValues(std::size_t(gib * double(1ull << 30) / 4) / 4096 * 4096);
            const std::string kernel = mode.substr(7);
            double ms = 0;
            const qs::Shape shape {static_cast<std::int64_t>(values.size() / 4096), 4096};
            if (kernel.starts_with("pack ") || kernel.starts_with("unpack ")) {
                const bool unpack = kernel.starts_with("unpack ");
                const std::string rowName = kernel.substr(unpack ? 7 : 5);
                const Packed& row = packedRow(rowName);
                ms = qs::cudaTimePackedMs(unpack, values, shape, packedScheme(row), repeats);
            } else if (kernel.starts_with("blockfq ")) {
                qs::Scheme scheme;
                scheme.blockFormat = qs::blockFormatByName(kernel.substr(8));
                ms = qs::cudaTimeBlockFakeQuantMs(values, shape, scheme, repeats);
            } else {
                ms = qs::cudaTimeKernelMs(kernel, values, repeats);
            }
            std::printf("%s: %.4f ms\n", kernel.c_str(), ms);
            return 0;
        }
        std::printf(
            "usage: qs_cuda_bench --check | --bench [--gib G] [--repeats R] [--json FILE] | --probe [--gib G]"
            " | --time=KERNEL [--gib G] [--repeats R] (KERNEL: a cudaTimeKernelMs spelling, blockfq "
            "FORMAT, pack ROW or unpack ROW)\n");
        return 2;
    } catch (const std::exception& error) {
        std::printf("error: %s\n", error.what());
        return 1;
    }
}
