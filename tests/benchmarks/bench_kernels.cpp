// Times every kernel of the benchmark suite on every backend here with 1 and 2 threads on a synthetic tensor
// (default 16M float32 = 64 MiB) and prints GB/s, the share of the single-thread streaming-read baseline and
// the speed-up over the scalar backend with the same thread count. The targets (each fused kernel at
// >= 60% of the single-thread read baseline; FP8, NF4, MXFP4 and NVFP4 >= 10x scalar) are reported, not
// enforced. Usage: bench_kernels [ELEMENTS] [REPEATS] [SIMD_TARGET]
#include "kernels/benchmark_suite.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

using namespace qs;

int main(int argc, char** argv)
{
    const std::int64_t elements = argc > 1 ? std::atoll(argv[1]) : std::int64_t {1} << 24;
    const int repeats = argc > 2 ? std::atoi(argv[2]) : 7;
    if (argc > 3)
        setSimdTarget(argv[3]);

    const Tensor tensor = syntheticBenchTensor(elements);
    BenchOptions options;
    options.threads = {1, 2};
    options.timing = {1, repeats};
    const BenchReport report = runBenchmarks(tensor, options);

    std::printf("tensor %s, %lld float32 (%.1f MiB); simd target %s; median of %d after 1 warm-up\n",
        shapeToString(report.shape).c_str(), static_cast<long long>(report.elements),
        double(report.elements) * 4 / (1 << 20), backendTarget(Backend::Simd).c_str(), repeats);
    for (const BandwidthBaseline& b : report.baselines)
        std::printf("baseline %d thread(s): read %.1f GB/s, copy %.1f GB/s (read + write), %.0f MiB\n",
            b.threads, b.readGbps, b.copyGbps, double(b.bytes) / (1 << 20));
    const double singleRead = report.baselineFor(1) ? report.baselineFor(1)->readGbps : 0;

    std::map<std::pair<std::string, int>, double> scalarGbps;
    for (const BenchResult& r : report.results)
        if (r.backend == "scalar" && !r.skipped)
            scalarGbps[{r.kernel, r.threads}] = r.gbps;

    std::printf("\n%-24s %-7s %3s %10s %9s %9s %9s %9s %s\n", "kernel", "backend", "thr", "median ms", "GB/s",
        "x read1", "x read", "x scalar", "= scalar");
    std::string misses;
    for (const BenchResult& r : report.results) {
        if (r.skipped) {
            std::printf("%-24s %-7s %3d %10s  skipped: %s\n", r.kernel.c_str(), r.backend.c_str(), r.threads,
                "-", r.skipReason.c_str());
            continue;
        }
        const auto scalar = scalarGbps.find({r.kernel, r.threads});
        const double speedup = scalar != scalarGbps.end() && scalar->second > 0 ? r.gbps / scalar->second : 0;
        const double ofSingleRead = singleRead > 0 ? r.gbps / singleRead : 0;
        std::printf("%-24s %-7s %3d %10.3f %9.2f %8.0f%% %8.0f%% %8.1fx %s\n", r.kernel.c_str(),
            r.backend.c_str(), r.threads, r.timing.medianMs, r.gbps, 100 * ofSingleRead,
            100 * r.fractionOfBaseline, speedup, r.checked ? (r.matchesScalar ? "yes" : "NO") : "-");
        if (r.backend != "simd" || r.threads != 1 || r.kernel.rfind("fq_", 0) != 0)
            continue;
        if (ofSingleRead < 0.6)
            misses += "  " + r.kernel + ": " + std::to_string(int(100 * ofSingleRead))
                + "% of the read baseline\n";
        // The 10x targets: FP8, NF4, MXFP4 and NVFP4 (the element formats, not the bitsandbytes or MX
        // FP8 blocks).
        const bool needsTen = r.kernel.rfind("fq_fp8", 0) == 0 || r.kernel.rfind("fq_nf4", 0) == 0
            || r.kernel == "fq_mxfp4" || r.kernel == "fq_nvfp4";
        if (needsTen && speedup < 10)
            misses += "  " + r.kernel + ": " + std::to_string(speedup).substr(0, 4) + "x scalar (< 10x)\n";
    }
    std::printf("\ntargets (simd, 1 thread): fused kernels >= 60%% of the 1-thread read baseline, "
                "fp8/nf4/mxfp4/nvfp4 "
                ">= 10x scalar: %s\n%s",
        misses.empty() ? "all met" : "missed", misses.c_str());
    return 0;
}
