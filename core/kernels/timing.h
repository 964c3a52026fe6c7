#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace qs {

/// How often a measured piece of work runs: `warmup` untimed runs (page faults, caches, thread start-up,
/// CPU frequency), then `repeats` timed runs (at least 1).
struct TimingOptions {
    int warmup = 1;
    int repeats = 7;
    bool operator==(const TimingOptions&) const = default;
};

/// Wall-clock times of the timed runs in milliseconds (std::chrono::steady_clock), and their spread.
/// median: the middle sample (mean of the two middle ones for an even count); p10/p90: linear interpolation
/// between the closest ranks of the sorted samples (numpy.percentile's default), so
/// min <= p10 <= median <= p90 <= max.
struct TimingStats {
    int repeats = 0;
    double medianMs = 0;
    double minMs = 0;
    double p10Ms = 0;
    double p90Ms = 0;
    double maxMs = 0;
    std::vector<double> samplesMs; ///< in run order
    bool operator==(const TimingStats&) const = default;
};

/// The statistics of `samplesMs` (empty: all 0).
TimingStats timingStats(std::vector<double> samplesMs);

/// Runs `work` options.warmup times untimed, then options.repeats times timed (at least once).
TimingStats timeRepeated(const std::function<void()>& work, const TimingOptions& options = {});

/// Throughput in GB/s = 1e9 bytes per second: bytes / (milliseconds · 1e6). 0 when milliseconds <= 0.
double gigabytesPerSecond(double bytes, double milliseconds);

/// The machine's memory bandwidth, measured with `threads` threads on buffers of `bytes` bytes (each
/// thread takes one contiguous slice):
///   read: every float of the buffer loaded once by the simd backend's target (a running integer sum that
///         keeps the loads alive); GB/s = bytes / median time;
///   copy: std::memcpy of the buffer into a second one; GB/s = 2·bytes / median time (bytes read plus bytes
///         written, the STREAM convention).
/// Kernel throughputs are reported as a fraction of `readGbps` for the same thread count: the kernels read
/// their input once, so 1.0 means memory-bound at the streaming-read limit.
struct BandwidthBaseline {
    int threads = 1;
    std::int64_t bytes = 0;
    TimingStats read;
    TimingStats copy;
    double readGbps = 0;
    double copyGbps = 0;
};

/// `threads` <= 0 means all hardware threads (kernelThreads). Buffers are allocated and touched before
/// timing. Throws qs::Error when bytes < 4.
BandwidthBaseline measureBandwidth(std::int64_t bytes, int threads, const TimingOptions& options = {});

} // namespace qs
