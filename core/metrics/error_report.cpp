#include "metrics/error_report.h"

#include "base/error.h"
#include "quant/group_geometry.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>

namespace qs {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// |x - x̂| in double; +Inf when x̂ is not finite; -1 when x is not finite (the pair is skipped).
double absError(float original, float reconstructed)
{
    if (!std::isfinite(original))
        return -1;
    const double error = std::fabs(double(original) - double(reconstructed));
    return std::isnan(error) ? kInf : error;
}

/// Running sums of one set of elements.
struct Sums {
    std::int64_t count = 0;
    double errorSquares = 0;
    double absErrors = 0;
    double maxAbsError = 0;
    double originalSquares = 0;
    double originalAbs = 0;
    double reconstructedSquares = 0;
    double products = 0;

    /// Adds one pair; returns absError (negative when the pair is skipped).
    double add(float original, float reconstructed)
    {
        const double error = absError(original, reconstructed);
        if (error < 0)
            return error;
        const double x = original;
        const double y = reconstructed;
        ++count;
        errorSquares += error * error;
        absErrors += error;
        maxAbsError = std::max(maxAbsError, error);
        originalSquares += x * x;
        originalAbs += std::fabs(x);
        if (std::isfinite(y)) {
            reconstructedSquares += y * y;
            products += x * y;
        }
        return error;
    }

    void merge(const Sums& other)
    {
        count += other.count;
        errorSquares += other.errorSquares;
        absErrors += other.absErrors;
        maxAbsError = std::max(maxAbsError, other.maxAbsError);
        originalSquares += other.originalSquares;
        originalAbs += other.originalAbs;
        reconstructedSquares += other.reconstructedSquares;
        products += other.products;
    }
};

// Sums of chunks of this many elements are added to the totals: the rounding error grows with
// chunk + n / chunk instead of n, which keeps the cosine of 16M-element tensors near 1 accurate.
constexpr std::size_t kChunk = 1024;

/// 0-based index of the nearest-rank percentile in n sorted values: ceil(percent·n/100) - 1.
std::size_t rankIndex(std::int64_t n, std::int64_t percent)
{
    return static_cast<std::size_t>(std::max<std::int64_t>((percent * n + 99) / 100, 1) - 1);
}

constexpr std::int64_t kPercents[3] = {50, 95, 99};

/// Percentiles of a small set of errors by nth_element (per-channel reports).
void percentilesBySelection(std::vector<double>& errors, double (&out)[3])
{
    std::size_t from = 0;
    for (int i = 0; i < 3; ++i) {
        const std::size_t index = rankIndex(static_cast<std::int64_t>(errors.size()), kPercents[i]);
        std::nth_element(errors.begin() + static_cast<std::ptrdiff_t>(from),
            errors.begin() + static_cast<std::ptrdiff_t>(index), errors.end());
        from = index;
        out[i] = errors[index];
    }
}

// Percentiles of a whole tensor by radix selection: non-negative doubles order like their bit patterns, so a
// histogram of the top bits finds the bucket holding each rank in one pass, and only those buckets' elements
// are gathered and selected in a second pass (no n-sized buffer, no full nth_element).
constexpr int kBucketShift = 43; // keeps 11 exponent bits and 9 mantissa bits
constexpr std::size_t kBuckets = std::size_t(1) << (63 - kBucketShift);

std::size_t bucketOf(double error)
{
    return static_cast<std::size_t>(std::bit_cast<std::uint64_t>(error) >> kBucketShift);
}

/// `zeros` = number of exact-zero errors, `histogram` = bucket counts of the positive ones.
void percentilesByRadixSelection(std::span<const float> original, std::span<const float> reconstructed,
    std::int64_t count, std::int64_t zeros, const std::vector<std::uint64_t>& histogram, double (&out)[3])
{
    std::size_t target[3];
    std::uint64_t rankInBucket[3];
    std::vector<std::size_t> buckets;
    for (int p = 0; p < 3; ++p) {
        target[p] = kBuckets;
        const std::uint64_t index = rankIndex(count, kPercents[p]);
        std::uint64_t below = static_cast<std::uint64_t>(zeros);
        if (index < below)
            continue; // the percentile is an exact zero
        std::size_t b = 0;
        while (below + histogram[b] <= index)
            below += histogram[b++];
        target[p] = b;
        rankInBucket[p] = index - below;
        if (std::find(buckets.begin(), buckets.end(), b) == buckets.end())
            buckets.push_back(b);
    }
    if (buckets.empty())
        return;
    std::vector<std::vector<double>> gathered(buckets.size());
    for (std::size_t k = 0; k < buckets.size(); ++k)
        gathered[k].reserve(static_cast<std::size_t>(histogram[buckets[k]]));
    for (std::size_t i = 0; i < original.size(); ++i) {
        const double error = absError(original[i], reconstructed[i]);
        if (error <= 0)
            continue;
        const std::size_t b = bucketOf(error);
        for (std::size_t k = 0; k < buckets.size(); ++k)
            if (b == buckets[k])
                gathered[k].push_back(error);
    }
    for (int p = 0; p < 3; ++p) {
        if (target[p] == kBuckets)
            continue;
        const auto k = std::find(buckets.begin(), buckets.end(), target[p]) - buckets.begin();
        std::vector<double>& values = gathered[static_cast<std::size_t>(k)];
        const auto nth = values.begin() + static_cast<std::ptrdiff_t>(rankInBucket[p]);
        std::nth_element(values.begin(), nth, values.end());
        out[p] = *nth;
    }
}

ErrorReport finish(
    const Sums& s, const double (&percentiles)[3], std::int64_t clippedCount, double bitsPerValue)
{
    ErrorReport r
        = errorReportFromTotals({s.count, s.errorSquares, s.absErrors, s.maxAbsError, s.originalSquares,
                                    s.originalAbs, s.reconstructedSquares, s.products, clippedCount},
            bitsPerValue);
    if (s.count > 0) {
        r.p50AbsError = percentiles[0];
        r.p95AbsError = percentiles[1];
        r.p99AbsError = percentiles[2];
    }
    return r;
}

} // namespace

ErrorReport errorReportFromTotals(const ErrorTotals& t, double bitsPerValue)
{
    ErrorReport r;
    r.count = t.count;
    r.bitsPerValue = bitsPerValue;
    if (t.count == 0) {
        r.cosine = 1;
        return r;
    }
    const auto n = static_cast<double>(t.count);
    r.mse = t.sumSquaredError / n;
    r.rmse = std::sqrt(r.mse);
    r.maxAbsError = t.maxAbsError;
    r.meanAbsError = t.sumAbsError / n;
    const double meanAbs = t.sumAbsSignal / n;
    r.relativeRmse = meanAbs > 0 ? r.rmse / meanAbs : 0;
    if (t.sumSquaredError == 0)
        r.sqnrDb = t.sumSquaredSignal > 0 ? kInf : 0;
    else
        r.sqnrDb = 10 * std::log10(t.sumSquaredSignal / t.sumSquaredError);
    if (t.sumSquaredSignal == 0 || t.sumSquaredRecon == 0)
        r.cosine = t.sumSquaredSignal == t.sumSquaredRecon ? 1 : 0;
    else
        r.cosine = std::clamp(t.sumProduct / std::sqrt(t.sumSquaredSignal * t.sumSquaredRecon), -1.0, 1.0);
    r.clippedShare = static_cast<double>(t.clipped) / n;
    return r;
}

ErrorReport computeErrorReport(std::span<const float> original, std::span<const float> reconstructed,
    std::int64_t clippedCount, double bitsPerValue)
{
    if (original.size() != reconstructed.size())
        throw Error("cannot compare " + std::to_string(original.size()) + " original values with "
            + std::to_string(reconstructed.size()) + " reconstructed values");
    Sums sums;
    std::vector<std::uint64_t> histogram(kBuckets, 0);
    std::int64_t zeros = 0;
    const std::size_t n = original.size();
    for (std::size_t begin = 0; begin < n; begin += kChunk) {
        Sums chunk;
        const std::size_t end = std::min(n, begin + kChunk);
        for (std::size_t i = begin; i < end; ++i) {
            const double error = chunk.add(original[i], reconstructed[i]);
            if (error == 0)
                ++zeros;
            else if (error > 0)
                ++histogram[bucketOf(error)];
        }
        sums.merge(chunk);
    }

    double percentiles[3] = {0, 0, 0};
    if (sums.count > 0)
        percentilesByRadixSelection(original, reconstructed, sums.count, zeros, histogram, percentiles);
    return finish(sums, percentiles, clippedCount, bitsPerValue);
}

std::vector<ErrorReport> perChannelErrorReports(const Tensor& original, const Tensor& reconstructed, int axis)
{
    if (original.shape != reconstructed.shape)
        throw Error("cannot compare tensors of shapes " + shapeToString(original.shape) + " and "
            + shapeToString(reconstructed.shape));
    const std::int64_t count = shapeElementCount(original.shape);
    if (original.elementCount() != count || reconstructed.elementCount() != count)
        throw Error("tensor data does not match its shape " + shapeToString(original.shape));
    const detail::GroupGeometry geometry
        = detail::groupGeometry(Granularity::perChannel(axis), original.shape);

    // Errors of each channel in one contiguous slice of a single buffer (a counting sort by channel).
    const auto channels = static_cast<std::size_t>(geometry.groupCount);
    const auto perChannel = static_cast<std::size_t>(geometry.groupCount ? count / geometry.groupCount : 0);
    std::vector<Sums> sums(channels);
    std::vector<double> errors(static_cast<std::size_t>(count));
    std::vector<std::size_t> fill(channels, 0);
    detail::forEachRun(
        geometry, [&](std::int64_t start, std::int64_t n, std::int64_t group, std::int64_t step) {
            for (std::int64_t j = 0; j < n; ++j) {
                const auto c = static_cast<std::size_t>(group + j * step);
                const auto i = static_cast<std::size_t>(start + j);
                const double error = sums[c].add(original.data[i], reconstructed.data[i]);
                if (error >= 0)
                    errors[c * perChannel + fill[c]++] = error;
            }
        });
    std::vector<ErrorReport> reports;
    reports.reserve(channels);
    std::vector<double> slice;
    for (std::size_t c = 0; c < channels; ++c) {
        const auto begin = errors.begin() + static_cast<std::ptrdiff_t>(c * perChannel);
        slice.assign(begin, begin + static_cast<std::ptrdiff_t>(fill[c]));
        double percentiles[3] = {0, 0, 0};
        if (!slice.empty())
            percentilesBySelection(slice, percentiles);
        reports.push_back(finish(sums[c], percentiles, 0, 0));
    }
    return reports;
}

} // namespace qs
