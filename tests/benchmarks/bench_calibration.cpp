// Times the threshold searches of calib/search_methods.h on the histograms a calibration run produces:
// native KL on 2048 bins (target <= 5 ms), ModelOpt-compatible KL on a grown ~9k-bin histogram (target
// <= 1 s; ModelOpt's own Python loop takes many seconds), the other compatibility modes and the MSE searches.
// Also times whole-tensor calibration (min-max, native exact percentile) on 16M float32 values against the
// single-thread streaming-read baseline measured in the same run (target: memory speed).
// Usage: bench_calibration [REPEATS]   (default 9; medians are printed)
#include "calib/calibration.h"
#include "calib/search_methods.h"
#include "kernels/timing.h"

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

    // Whole-tensor calibration on 16M values (64 MiB, 4 batches as an activation set would come).
    constexpr std::int64_t kRows = 4096;
    constexpr std::int64_t kCols = 4096;
    std::vector<Tensor> batches;
    {
        std::mt19937_64 gen(3);
        std::normal_distribution<float> normal;
        for (int b = 0; b < 4; ++b) {
            Tensor t {"batch" + std::to_string(b), {kRows / 4, kCols}, {}};
            t.data.resize(std::size_t(kRows / 4 * kCols));
            for (float& v : t.data)
                v = normal(gen);
            batches.push_back(std::move(t));
        }
    }
    const double bytes = double(kRows * kCols) * 4;
    TimingOptions timing;
    timing.repeats = repeats;
    const BandwidthBaseline baseline = measureBandwidth(std::int64_t(bytes), 1, timing);
    std::printf("single-thread streaming read baseline: %.1f GB/s\n", baseline.readGbps);
    const auto row = [&](const char* what, const std::function<GroupRange()>& work) {
        GroupRange range;
        const double t = medianMs(repeats, [&] { range = work(); });
        const double gbps = bytes / (t * 1e6);
        std::printf("%-58s %10.3f ms   %6.1f GB/s  %3.0f%% of read baseline   range [%.5g, %.5g]\n", what, t,
            gbps, 100 * gbps / baseline.readGbps, range.min, range.max);
    };
    Scheme perChannel = int8;
    perChannel.granularity = Granularity::perChannel(0);
    row("minmax ranges, 16M values, per tensor", [&] { return runningMinMaxRanges(batches, int8).at(0); });
    row("minmax ranges, 16M values, per channel (1024 rows x 4)",
        [&] { return runningMinMaxRanges(batches, perChannel).at(0); });
    row("exact percentile 99.99, 16M values, |x|",
        [&] { return exactPercentileRanges(batches, int8, 99.99, true).at(0); });
    row("exact percentile 99.99, 16M values, both tails",
        [&] { return exactPercentileRanges(batches, int8, 99.99, false).at(0); });
    // The same values through the per-group path (copy of the finite values + std::nth_element), which a
    // one-channel view of each batch takes.
    std::vector<Tensor> flat = batches;
    for (Tensor& t : flat)
        t.shape = {1, std::int64_t(t.data.size())};
    row("  same via copy + nth_element (one-channel view)",
        [&] { return exactPercentileRanges(flat, perChannel, 99.99, true).at(0); });
    CalibrationOptions percentile;
    percentile.method = CalibrationMethod::Percentile;
    percentile.percentile = 99.99;
    row("calibrate(percentile) incl. the int8 error report",
        [&] { return calibrate(batches, int8, percentile).ranges.at(0); });
    return 0;
}
