#include "kernels/timing.h"

#include "base/error.h"
#include "kernels/kernel_backends.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>

namespace qs {

namespace {

/// Linear interpolation between the closest ranks of sorted values (numpy.percentile, method "linear").
double percentile(const std::vector<double>& sorted, double percent)
{
    const double position = percent / 100.0 * static_cast<double>(sorted.size() - 1);
    const auto below = static_cast<std::size_t>(position);
    const std::size_t above = std::min(below + 1, sorted.size() - 1);
    const double fraction = position - static_cast<double>(below);
    return sorted[below] + (sorted[above] - sorted[below]) * fraction;
}

double elapsedMs(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

TimingStats timingStats(std::vector<double> samplesMs)
{
    TimingStats stats;
    stats.repeats = static_cast<int>(samplesMs.size());
    stats.samplesMs = samplesMs;
    if (samplesMs.empty())
        return stats;
    std::sort(samplesMs.begin(), samplesMs.end());
    const std::size_t n = samplesMs.size();
    stats.minMs = samplesMs.front();
    stats.maxMs = samplesMs.back();
    stats.medianMs = n % 2 ? samplesMs[n / 2] : (samplesMs[n / 2 - 1] + samplesMs[n / 2]) / 2;
    stats.p10Ms = std::clamp(percentile(samplesMs, 10), stats.minMs, stats.medianMs);
    stats.p90Ms = std::clamp(percentile(samplesMs, 90), stats.medianMs, stats.maxMs);
    return stats;
}

TimingStats timeRepeated(const std::function<void()>& work, const TimingOptions& options)
{
    for (int i = 0; i < options.warmup; ++i)
        work();
    std::vector<double> samples;
    const int repeats = std::max(options.repeats, 1);
    samples.reserve(static_cast<std::size_t>(repeats));
    for (int i = 0; i < repeats; ++i) {
        const auto start = std::chrono::steady_clock::now();
        work();
        samples.push_back(elapsedMs(start));
    }
    return timingStats(std::move(samples));
}

double gigabytesPerSecond(double bytes, double milliseconds)
{
    return milliseconds > 0 ? bytes / (milliseconds * 1e6) : 0.0;
}

BandwidthBaseline measureBandwidth(std::int64_t bytes, int threads, const TimingOptions& options)
{
    if (bytes < static_cast<std::int64_t>(sizeof(float)))
        throw Error("a bandwidth baseline needs at least 4 bytes, not " + std::to_string(bytes));
    const std::int64_t floats = bytes / static_cast<std::int64_t>(sizeof(float));
    const int count = kernelThreads(threads);
    // Value-initialised so every page is touched (and owned) before the first timed run.
    std::unique_ptr<float[]> source(new float[static_cast<std::size_t>(floats)]());
    std::unique_ptr<float[]> target(new float[static_cast<std::size_t>(floats)]());
    const kernel_detail::CpuKernels& kernels = kernel_detail::simdKernels();
    std::atomic<std::uint32_t> checksum {0};

    const auto slices = [&](auto&& body) {
        kernel_detail::forEachThreadRange(count, count, [&](int, std::int64_t first, std::int64_t last) {
            for (std::int64_t t = first; t < last; ++t) {
                const std::int64_t begin = floats * t / count;
                const std::int64_t end = floats * (t + 1) / count;
                body(begin, end);
            }
        });
    };
    BandwidthBaseline baseline;
    baseline.threads = count;
    baseline.bytes = floats * static_cast<std::int64_t>(sizeof(float));
    baseline.read = timeRepeated(
        [&] {
            slices([&](std::int64_t begin, std::int64_t end) {
                checksum.fetch_add(
                    kernels.streamRead(source.get() + begin, end - begin), std::memory_order_relaxed);
            });
        },
        options);
    baseline.copy = timeRepeated(
        [&] {
            slices([&](std::int64_t begin, std::int64_t end) {
                std::memcpy(target.get() + begin, source.get() + begin,
                    static_cast<std::size_t>(end - begin) * sizeof(float));
            });
        },
        options);
    baseline.readGbps = gigabytesPerSecond(static_cast<double>(baseline.bytes), baseline.read.medianMs);
    baseline.copyGbps = gigabytesPerSecond(2.0 * static_cast<double>(baseline.bytes), baseline.copy.medianMs);
    return baseline;
}

} // namespace qs
