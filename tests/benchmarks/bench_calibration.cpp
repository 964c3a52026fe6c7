// Times the threshold searches of calib/search_methods.h on the histograms a calibration run produces:
// native KL on 2048 bins (target <= 5 ms), ModelOpt-compatible KL on a grown ~9k-bin histogram (target
// <= 1 s; ModelOpt's own Python loop takes many seconds), the other compatibility modes and the MSE searches.
// Usage: bench_calibration [REPEATS]   (default 9; medians are printed)
#include "calib/search_methods.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace qs;

namespace {

double medianMs(int repeats, const std::function<void()>& work)
{
    std::vector<double> times;
    for (int i = 0; i < repeats; ++i) {
        const auto start = std::chrono::steady_clock::now();
        work();
        times.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

std::vector<double> gaussian(std::size_t count, std::uint64_t seed)
{
    std::mt19937_64 engine(seed);
    std::normal_distribution<double> normal;
    std::vector<double> out(count);
    for (double& v : out)
        v = normal(engine);
    return out;
}

/// `bins` bins of width `width` from `start`; values outside land in the first or last bin.
CollectedHistogram histogramOf(
    const std::vector<double>& values, double start, double width, std::size_t bins, bool absolute)
{
    CollectedHistogram h;
    h.absolute = absolute;
    h.counts.assign(bins, 0);
    for (double v : values) {
        const double x = absolute ? std::fabs(v) : v;
        const double k = std::floor((x - start) / width);
        h.counts[std::size_t(std::clamp(k, 0.0, double(bins - 1)))] += 1;
    }
    for (std::size_t k = 0; k <= bins; ++k)
        h.edges.push_back(start + width * double(k));
    h.minSeen = h.edges.front();
    h.maxSeen = h.edges.back();
    return h;
}

void report(const char* what, double ms, const SearchResult& r)
{
    std::printf("%-58s %10.3f ms   range [%.5g, %.5g], %zu candidates\n", what, ms, r.range.min, r.range.max,
        r.curve.value.size());
}

} // namespace

int main(int argc, char** argv)
{
    const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 9;
    std::printf("medians of %d runs\n", repeats);

    // A 2048-bin |x| histogram of 1M Gaussian values, as a first calibration batch produces it.
    const std::vector<double> z = gaussian(1000000, 1);
    double top = 0;
    for (double v : z)
        top = std::max(top, std::fabs(v));
    const CollectedHistogram abs2048 = histogramOf(z, 0, top / 2048, 2048, true);
    const CollectedHistogram signed2048 = histogramOf(z, -top, top / 1024, 2048, false);

    // ModelOpt's grown histogram: the first batch fixes the width (max|x| / 2048); a later batch with
    // heavy-tailed outliers up to 4.4x further out appends bins of the same width, 9000 in all, sparse beyond
    // the first 2048.
    std::vector<double> grown = z;
    std::mt19937_64 engine(2);
    std::student_t_distribution<double> heavy(2.0);
    while (grown.size() < z.size() + 20000) {
        const double v = heavy(engine);
        if (std::fabs(v) < 4.39 * top)
            grown.push_back(v);
    }
    const CollectedHistogram sparse9k = histogramOf(grown, 0, top / 2048, 9000, true);
    // The worst case for the exact ModelOpt search: every one of the 9000 bins occupied.
    CollectedHistogram dense9k = sparse9k;
    for (std::size_t k = 0; k < dense9k.counts.size(); ++k)
        dense9k.counts[k] += double(1 + k % 7);

    SearchResult r;
    double ms
        = medianMs(repeats, [&] { r = entropySearch(abs2048, Compatibility::Native, 8, false, 0, 128, 1); });
    report("entropy native, 2048 bins (target <= 5 ms)", ms, r);
    ms = medianMs(repeats, [&] { r = entropySearch(abs2048, Compatibility::TensorRT, 8, false, 0, 128, 1); });
    report("entropy tensorrt, 2048 bins", ms, r);
    ms = medianMs(
        repeats, [&] { r = entropySearch(signed2048, Compatibility::OnnxRuntime, 8, false, 128, 128, 1); });
    report("entropy onnxruntime, 2048 signed bins", ms, r);
    ms = medianMs(repeats, [&] { r = entropySearch(abs2048, Compatibility::ModelOpt, 8, false, 0, 128, 1); });
    report("entropy modelopt, 2048 bins", ms, r);
    ms = medianMs(
        repeats, [&] { r = entropySearch(sparse9k, Compatibility::ModelOpt, 8, false, 0, 128, 1); });
    report("entropy modelopt, 9000 bins grown (target <= 1 s)", ms, r);
    ms = medianMs(std::max(1, repeats / 3),
        [&] { r = entropySearch(dense9k, Compatibility::ModelOpt, 8, false, 0, 128, 1); });
    report("entropy modelopt, 9000 bins all occupied", ms, r);
    ms = medianMs(repeats, [&] { r = entropySearch(sparse9k, Compatibility::Native, 8, false, 0, 128, 1); });
    report("entropy native, 9000 bins grown", ms, r);

    for (const char* format : {"int8", "int4", "fp8_e4m3", "nf4"}) {
        Scheme scheme;
        scheme.format = formatByName(format);
        ms = medianMs(repeats, [&] { r = mseHistogramSearch(abs2048, scheme, Compatibility::Native, 0, 1); });
        report(("mse native histogram, 2048 bins, " + std::string(format)).c_str(), ms, r);
    }
    Scheme int8;
    ms = medianMs(repeats, [&] { r = mseHistogramSearch(abs2048, int8, Compatibility::ModelOpt, 128, 1); });
    report("mse modelopt histogram, 2048 bins, int8", ms, r);
    ms = medianMs(repeats, [&] { r = histogramObserverSearch(signed2048, 256); });
    report("histogram observer, 2048 bins", ms, r);

    const std::vector<float> values(z.begin(), z.end());
    ms = medianMs(std::max(1, repeats / 3), [&] { r = mseExactSearch(values, int8); });
    report("mse exact, 1M values, int8", ms, r);
    ms = medianMs(std::max(1, repeats / 3), [&] { r = mseMultiplierSweep(values, top, int8, 39); });
    report("mse multiplier sweep (39 steps), 1M values, int8", ms, r);
    return 0;
}
