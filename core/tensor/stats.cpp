#include "tensor/stats.h"

#include "base/error.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qs {

namespace {

/// Count, mean and central moment sums M2..M4 of a set of finite values (Pébay 2008 pairwise merge).
struct Moments {
    double n = 0;
    double mean = 0;
    double m2 = 0;
    double m3 = 0;
    double m4 = 0;

    void merge(const Moments& b)
    {
        if (b.n == 0)
            return;
        if (n == 0) {
            *this = b;
            return;
        }
        const double na = n;
        const double nb = b.n;
        const double total = na + nb;
        const double delta = b.mean - mean;
        const double dn = delta / total;
        const double dn2 = dn * dn;
        const double term = delta * dn * na * nb;
        const double newM4 = m4 + b.m4 + term * dn2 * (na * na - na * nb + nb * nb)
            + 6.0 * dn2 * (na * na * b.m2 + nb * nb * m2) + 4.0 * dn * (na * b.m3 - nb * m3);
        const double newM3 = m3 + b.m3 + term * dn * (na - nb) + 3.0 * dn * (na * b.m2 - nb * m2);
        m2 = m2 + b.m2 + term;
        m3 = newM3;
        m4 = newM4;
        mean += nb * dn;
        n = total;
    }
};

constexpr std::size_t kChunk = 4096;

/// Exact two-pass moments of one cache-sized chunk (finite values only).
Moments chunkMoments(const float* values, std::size_t count)
{
    Moments m;
    double sum = 0;
    std::size_t finite = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const float v = values[i];
        if (std::isfinite(v)) {
            sum += v;
            ++finite;
        }
    }
    if (finite == 0)
        return m;
    m.n = static_cast<double>(finite);
    m.mean = sum / m.n;
    double s2 = 0, s3 = 0, s4 = 0, correction = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const float v = values[i];
        if (!std::isfinite(v))
            continue;
        const double d = static_cast<double>(v) - m.mean;
        const double d2 = d * d;
        correction += d;
        s2 += d2;
        s3 += d2 * d;
        s4 += d2 * d2;
    }
    // Folds the rounding of `mean` back in (the corrected two-pass algorithm of Chan, Golub & LeVeque).
    const double shift = correction / m.n;
    m.mean += shift;
    m.m2 = s2 - correction * shift;
    m.m3 = s3 - 3.0 * shift * s2 + 2.0 * m.n * shift * shift * shift;
    m.m4 = s4 - 4.0 * shift * s3 + 6.0 * shift * shift * s2 - 3.0 * m.n * shift * shift * shift * shift;
    return m;
}

int normaliseAxis(int axis, std::size_t rank)
{
    const int r = static_cast<int>(rank);
    const int normalised = axis < 0 ? axis + r : axis;
    if (rank == 0)
        throw Error("per-channel statistics need a tensor with at least one axis; this one is a scalar");
    if (normalised < 0 || normalised >= r)
        throw Error(
            "axis " + std::to_string(axis) + " is out of range for a tensor of rank " + std::to_string(r));
    return normalised;
}

} // namespace

SummaryStats computeSummaryStats(std::span<const float> values)
{
    SummaryStats s;
    s.count = static_cast<std::int64_t>(values.size());
    float lo = std::numeric_limits<float>::infinity();
    float hi = -std::numeric_limits<float>::infinity();
    for (const float v : values) {
        if (std::isnan(v)) {
            ++s.nanCount;
        } else if (std::isinf(v)) {
            ++s.infCount;
        } else {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
            s.zeroCount += (v == 0.0f);
        }
    }
    s.finiteCount = s.count - s.nanCount - s.infCount;
    if (s.finiteCount == 0)
        return s;
    s.min = lo;
    s.max = hi;
    s.absmax = std::max(std::fabs(s.min), std::fabs(s.max));

    Moments total;
    for (std::size_t begin = 0; begin < values.size(); begin += kChunk)
        total.merge(chunkMoments(values.data() + begin, std::min(kChunk, values.size() - begin)));
    const double n = total.n;
    s.mean = total.mean;
    const double variance = std::max(0.0, total.m2 / n);
    s.std = std::sqrt(variance);
    s.kurtosis = variance > 0 ? (total.m4 / n) / (variance * variance) : 0.0;
    s.zeroShare = static_cast<double>(s.zeroCount) / n;

    if (s.std > 0) {
        const double t3 = 3.0 * s.std;
        const double t6 = 6.0 * s.std;
        std::int64_t beyond3 = 0, beyond6 = 0;
        for (const float v : values) {
            if (!std::isfinite(v))
                continue;
            const double d = std::fabs(static_cast<double>(v) - s.mean);
            beyond3 += (d > t3);
            beyond6 += (d > t6);
        }
        s.beyond3SigmaShare = static_cast<double>(beyond3) / n;
        s.beyond6SigmaShare = static_cast<double>(beyond6) / n;
    }
    return s;
}

ChannelStats computeChannelStats(const Tensor& tensor, int axis)
{
    const int a = normaliseAxis(axis, tensor.shape.size());
    const std::int64_t channels = tensor.shape[static_cast<std::size_t>(a)];
    std::int64_t outer = 1, inner = 1;
    for (int i = 0; i < a; ++i)
        outer *= tensor.shape[static_cast<std::size_t>(i)];
    for (std::size_t i = static_cast<std::size_t>(a) + 1; i < tensor.shape.size(); ++i)
        inner *= tensor.shape[i];

    const auto nc = static_cast<std::size_t>(channels);
    ChannelStats out;
    out.axis = a;
    out.min.assign(nc, std::numeric_limits<double>::infinity());
    out.max.assign(nc, -std::numeric_limits<double>::infinity());
    out.absmax.assign(nc, 0.0);
    out.mean.assign(nc, 0.0);
    out.std.assign(nc, 0.0);
    std::vector<std::int64_t> counts(nc, 0);

    const float* data = tensor.data.data();
    auto forEachRun = [&](auto&& visit) {
        for (std::int64_t o = 0; o < outer; ++o)
            for (std::int64_t c = 0; c < channels; ++c)
                visit(static_cast<std::size_t>(c), data + (o * channels + c) * inner);
    };

    forEachRun([&](std::size_t c, const float* run) {
        double lo = out.min[c], hi = out.max[c], sum = 0;
        std::int64_t n = 0;
        for (std::int64_t i = 0; i < inner; ++i) {
            const float v = run[i];
            if (!std::isfinite(v))
                continue;
            lo = std::min(lo, static_cast<double>(v));
            hi = std::max(hi, static_cast<double>(v));
            sum += v;
            ++n;
        }
        out.min[c] = lo;
        out.max[c] = hi;
        out.mean[c] += sum;
        counts[c] += n;
    });
    for (std::size_t c = 0; c < nc; ++c) {
        if (counts[c] == 0) {
            out.min[c] = out.max[c] = 0;
            continue;
        }
        out.mean[c] /= static_cast<double>(counts[c]);
        out.absmax[c] = std::max(std::fabs(out.min[c]), std::fabs(out.max[c]));
    }
    forEachRun([&](std::size_t c, const float* run) {
        double s2 = 0;
        const double m = out.mean[c];
        for (std::int64_t i = 0; i < inner; ++i) {
            const float v = run[i];
            if (std::isfinite(v))
                s2 += (v - m) * (v - m);
        }
        out.std[c] += s2;
    });
    for (std::size_t c = 0; c < nc; ++c)
        out.std[c] = counts[c] ? std::sqrt(out.std[c] / static_cast<double>(counts[c])) : 0.0;
    return out;
}

std::vector<OutlierChannel> topOutlierChannels(const ChannelStats& stats, std::size_t k)
{
    const std::size_t n = stats.absmax.size();
    if (n == 0 || k == 0)
        return {};
    std::vector<double> sorted = stats.absmax;
    std::sort(sorted.begin(), sorted.end());
    const double median = (n % 2) ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);

    std::vector<std::int64_t> order(n);
    for (std::size_t i = 0; i < n; ++i)
        order[i] = static_cast<std::int64_t>(i);
    const std::size_t take = std::min(k, n);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(take), order.end(),
        [&](std::int64_t a, std::int64_t b) {
            const double va = stats.absmax[static_cast<std::size_t>(a)];
            const double vb = stats.absmax[static_cast<std::size_t>(b)];
            return va != vb ? va > vb : a < b;
        });
    std::vector<OutlierChannel> result;
    result.reserve(take);
    for (std::size_t i = 0; i < take; ++i) {
        const double absmax = stats.absmax[static_cast<std::size_t>(order[i])];
        double ratio;
        if (median > 0)
            ratio = absmax / median;
        else
            ratio = absmax > 0 ? std::numeric_limits<double>::infinity() : 0.0;
        result.push_back({order[i], absmax, ratio});
    }
    return result;
}

} // namespace qs
