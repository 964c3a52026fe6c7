#include "base/error.h"
#include "calib/calibration.h"
#include "calib/order_statistic.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <span>
#include <string>

namespace qs {

namespace {

using I = std::int64_t;

std::string number(double value)
{
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

void checkPercentile(double percentile, const char* who)
{
    if (!(percentile >= 0 && percentile <= 100))
        throw Error(std::string(who) + ": invalid percentile " + number(percentile)
            + " (must be in range 0 <= percentile <= 100)");
}

/// cumsum(hist / hist.sum()) as numpy computes it: integer counts, float64 division, sequential sum.
std::vector<double> numpyCdf(const CollectedHistogram& histogram)
{
    std::vector<I> counts(histogram.counts.size());
    I total = 0;
    for (std::size_t k = 0; k < counts.size(); ++k) {
        counts[k] = I(histogram.counts[k]);
        total += counts[k];
    }
    std::vector<double> cdf(counts.size());
    double running = 0;
    for (std::size_t k = 0; k < counts.size(); ++k) {
        running += double(counts[k]) / double(total);
        cdf[k] = running;
    }
    return cdf;
}

/// np.searchsorted(cdf, value, side='left'); a NaN cdf (an empty histogram) sorts after every value.
std::size_t searchLeft(const std::vector<double>& cdf, double value)
{
    const auto it = std::partition_point(cdf.begin(), cdf.end(), [&](double c) { return c < value; });
    return std::size_t(it - cdf.begin());
}

} // namespace

std::int64_t percentileRank(double percentile, std::int64_t n)
{
    if (n < 1)
        return 0;
    const double t = percentile / 100.0 * double(n);
    const double k = std::ceil(t - std::fabs(t) * 1e-12);
    return std::clamp<I>(I(k), 1, n);
}

std::vector<GroupRange> exactPercentileRanges(const std::vector<Tensor>& batches, const Scheme& scheme,
    double percentile, bool symmetric, std::int64_t* nonFinite)
{
    if (!(percentile > 0 && percentile <= 100))
        throw Error("percentile " + number(percentile) + " is outside (0, 100]");
    if (scheme.granularity.kind == Granularity::Kind::PerTensor && scheme.blockFormat == BlockFormat::None) {
        checkCalibrationBatches(batches, scheme);
        std::vector<std::span<const float>> spans;
        I total = 0;
        for (const Tensor& batch : batches) {
            spans.emplace_back(batch.data);
            total += I(batch.data.size());
        }
        const I n = countFinite(spans);
        if (nonFinite)
            *nonFinite += total - n;
        if (n == 0)
            return {GroupRange {}};
        if (symmetric) {
            const float amax = selectRanks(spans, {percentileRank(percentile, n) - 1}, true, n).front();
            return {GroupRange {-double(amax), double(amax)}};
        }
        const I upper = percentileRank((100.0 + percentile) / 2.0, n);
        const std::vector<float> v = selectRanks(spans, {n - upper, upper - 1}, false, n);
        return {GroupRange {double(v[0]), double(v[1])}};
    }
    std::vector<std::vector<float>> groups = groupFiniteValues(batches, scheme, nonFinite);
    std::vector<GroupRange> ranges(groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
        std::vector<float>& v = groups[g];
        const I n = I(v.size());
        if (n == 0)
            continue;
        if (symmetric) {
            for (float& x : v)
                x = std::fabs(x);
            const auto k = std::size_t(percentileRank(percentile, n) - 1);
            std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
            ranges[g] = {-double(v[k]), double(v[k])};
            continue;
        }
        const I upper = percentileRank((100.0 + percentile) / 2.0, n);
        const auto hi = std::size_t(upper - 1);
        const auto lo = std::size_t(n - upper);
        std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(hi), v.end());
        const float high = v[hi];
        std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(lo), v.begin() + std::ptrdiff_t(hi) + 1);
        ranges[g] = {double(v[lo]), double(high)};
    }
    return ranges;
}

double modelOptPercentileAmax(const CollectedHistogram& histogram, double percentile)
{
    checkPercentile(percentile, "ModelOpt percentile");
    checkHistogram(histogram, "ModelOpt percentile");
    const std::size_t idx = searchLeft(numpyCdf(histogram), percentile / 100);
    return double(float(histogram.edges[idx]));
}

GroupRange ortPercentileRange(
    const CollectedHistogram& histogram, double percentile, bool symmetric, double seenMin, double seenMax)
{
    checkPercentile(percentile, "ORT percentile");
    checkHistogram(histogram, "ORT percentile");
    const std::vector<double> cdf = numpyCdf(histogram);
    float low;
    float high;
    if (symmetric) {
        high = float(histogram.edges[searchLeft(cdf, percentile / 100.0)]);
        low = -high;
    } else {
        const double cut = (100.0 - percentile) / 200.0;
        high = float(histogram.edges[searchLeft(cdf, 1.0 - cut)]);
        low = float(histogram.edges[searchLeft(cdf, cut)]);
    }
    if (low < float(seenMin))
        low = float(seenMin);
    if (high > float(seenMax))
        high = float(seenMax);
    return {low, high};
}

} // namespace qs
