// Times the default compare matrix (quantscope-cli compare's formats × granularities plus the block formats
// in the native column) on a synthetic tensor (default 4096×4096 float32), fused kernels against the
// reference path (CompareOptions::exactPercentiles), and prints the wall and CPU time of each (also of the 13
// element formats × 4 granularities alone, the target) and the largest relative difference of the
// SQNR and MSE between the two paths over the cells both computed. Usage: bench_compare [ROWS] [COLS]
// [THREADS] [REPEATS]
#include "kernels/benchmark_suite.h"
#include "quant/compare_matrix.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

using namespace qs;

namespace {

/// Wall and process CPU seconds of one run (the CPU time tells a busy machine from a slow run).
struct Seconds {
    double wall = 0;
    double cpu = 0;
    bool operator<(const Seconds& other) const { return wall < other.wall; }
};

Seconds secondsOf(const Tensor& tensor, const std::vector<std::string>& formats,
    const std::vector<std::string>& granularities, const CompareOptions& options,
    std::vector<CompareCell>& cells)
{
    const std::clock_t cpuStart = std::clock();
    const auto start = std::chrono::steady_clock::now();
    cells = compareSchemes(tensor, formats, granularities, Scheme {}, options);
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
        double(std::clock() - cpuStart) / CLOCKS_PER_SEC};
}

double relativeDifference(double a, double b)
{
    if (a == b)
        return 0;
    return std::fabs(a - b) / std::max(std::fabs(a), std::fabs(b));
}

} // namespace

int main(int argc, char** argv)
{
    const std::int64_t rows = argc > 1 ? std::atoll(argv[1]) : 4096;
    const std::int64_t cols = argc > 2 ? std::atoll(argv[2]) : 4096;
    const int threads = argc > 3 ? std::atoi(argv[3]) : 0;
    const int repeats = argc > 4 ? std::atoi(argv[4]) : 3;

    Tensor tensor = syntheticBenchTensor(rows * cols);
    tensor.shape = {rows, cols};
    std::vector<std::string> formats = defaultCompareFormats();
    for (const std::string& block : defaultCompareBlockFormats())
        formats.push_back(block);
    std::vector<std::string> granularities = defaultCompareGranularities();
    granularities.push_back(kNativeGranularity);

    CompareOptions fused;
    fused.threads = threads;
    CompareOptions reference = fused;
    reference.exactPercentiles = true;

    // The target matrix first: the element formats at the four default granularities.
    std::vector<CompareCell> elementCells;
    std::vector<Seconds> elementTimes;
    for (int r = 0; r < repeats; ++r)
        elementTimes.push_back(
            secondsOf(tensor, defaultCompareFormats(), defaultCompareGranularities(), fused, elementCells));
    std::sort(elementTimes.begin(), elementTimes.end());

    std::vector<CompareCell> fusedCells;
    std::vector<CompareCell> referenceCells;
    std::vector<Seconds> times;
    for (int r = 0; r < repeats; ++r)
        times.push_back(secondsOf(tensor, formats, granularities, fused, fusedCells));
    std::sort(times.begin(), times.end());
    const Seconds referenceSeconds = secondsOf(tensor, formats, granularities, reference, referenceCells);

    int fusedCount = 0;
    int computed = 0;
    double sqnrDifference = 0;
    double mseDifference = 0;
    bool exactFields = true;
    for (std::size_t i = 0; i < fusedCells.size(); ++i) {
        const CompareCell& a = fusedCells[i];
        const CompareCell& b = referenceCells[i];
        if (!a.error.empty())
            continue;
        ++computed;
        fusedCount += a.percentiles ? 0 : 1;
        sqnrDifference = std::max(sqnrDifference, relativeDifference(a.report.sqnrDb, b.report.sqnrDb));
        mseDifference = std::max(mseDifference, relativeDifference(a.report.mse, b.report.mse));
        exactFields = exactFields && a.report.count == b.report.count
            && float(a.report.maxAbsError) == float(b.report.maxAbsError)
            && a.report.clippedShare == b.report.clippedShare
            && a.report.bitsPerValue == b.report.bitsPerValue;
    }
    std::printf("compare matrix on [%lld, %lld] float32: %zu formats x %zu granularities, %d cells computed "
                "(%d fused), threads %d\n",
        static_cast<long long>(rows), static_cast<long long>(cols), formats.size(), granularities.size(),
        computed, fusedCount, threads);
    const Seconds& elementMedian = elementTimes[elementTimes.size() / 2];
    std::printf("element formats x default granularities (%zu x %zu): median %.3f s wall (%.3f s CPU), min "
                "%.3f s\n",
        defaultCompareFormats().size(), defaultCompareGranularities().size(), elementMedian.wall,
        elementMedian.cpu, elementTimes.front().wall);
    const Seconds& median = times[times.size() / 2];
    std::printf("whole default matrix: median %.3f s wall (%.3f s CPU) of %d, min %.3f s; reference path: "
                "%.3f s wall (%.3f s CPU)\n",
        median.wall, median.cpu, repeats, times.front().wall, referenceSeconds.wall, referenceSeconds.cpu);
    std::printf("largest relative difference, fused vs reference: sqnr %.3g, mse %.3g; count, max error (as "
                "float: the kernels form e in float), clipped share and bits identical: %s\n",
        sqnrDifference, mseDifference, exactFields ? "yes" : "NO");
    return 0;
}
