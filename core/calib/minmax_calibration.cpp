#include "base/error.h"
#include "calib/calibration.h"
#include "kernels/kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

namespace qs {

namespace {

using I = std::int64_t;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

/// Groups that are the rows of a row-major [rows, cols] view: per channel along axis 0, and groups along the
/// last axis that divide it evenly.
struct RowLayout {
    I rows = 0;
    I cols = 0;
};

std::optional<RowLayout> rowLayout(const Scheme& scheme, const Shape& shape)
{
    const I n = shapeElementCount(shape);
    if (scheme.blockFormat != BlockFormat::None || shape.empty() || n == 0)
        return std::nullopt;
    const Granularity& g = scheme.granularity;
    const int rank = int(shape.size());
    if (g.kind == Granularity::Kind::PerChannel && (g.axis == 0 || g.axis == -rank))
        return RowLayout {shape.front(), n / shape.front()};
    if (g.kind == Granularity::Kind::PerGroup && (g.axis == -1 || g.axis == rank - 1) && g.groupSize > 0
        && shape.back() % g.groupSize == 0)
        return RowLayout {n / g.groupSize, g.groupSize};
    return std::nullopt;
}

I countNonFinite(const Tensor& batch)
{
    I count = 0;
    for (const float v : batch.data)
        count += !std::isfinite(v);
    return count;
}

/// numpy's float32 pairwise summation (@TYPE@_pairwise_sum: blocks of 128, unrolled by 8).
float pairwiseSum(const float* a, std::size_t n)
{
    if (n < 8) {
        float sum = 0;
        for (std::size_t i = 0; i < n; ++i)
            sum += a[i];
        return sum;
    }
    if (n <= 128) {
        float r[8];
        for (std::size_t j = 0; j < 8; ++j)
            r[j] = a[j];
        std::size_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (std::size_t j = 0; j < 8; ++j)
                r[j] += a[i + j];
        float sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i)
            sum += a[i];
        return sum;
    }
    std::size_t half = n / 2;
    half -= half % 8;
    return pairwiseSum(a, half) + pairwiseSum(a + half, n - half);
}

/// np.nanmean over the batches of float32 values (see ortMeanMinMaxRanges). numpy sums a [batches, 1] array
/// (one group) pairwise along its contiguous axis, but a [batches, groups] array row after row.
float numpyNanMean(const std::vector<float>& values, bool pairwise)
{
    std::vector<float> zeroed(values);
    I count = 0;
    for (float& v : zeroed) {
        if (std::isnan(v))
            v = 0;
        else
            ++count;
    }
    float total = 0;
    if (pairwise) {
        total += pairwiseSum(zeroed.data(), zeroed.size());
    } else {
        for (const float v : zeroed)
            total += v;
    }
    return float(double(total) / double(count));
}

} // namespace

void checkCalibrationBatches(const std::vector<Tensor>& batches, const Scheme& scheme)
{
    const bool perTensor
        = scheme.granularity.kind == Granularity::Kind::PerTensor && scheme.blockFormat == BlockFormat::None;
    if (batches.empty())
        throw Error("calibration needs at least one batch");
    for (const Tensor& batch : batches) {
        if (I(batch.data.size()) != shapeElementCount(batch.shape))
            throw Error("batch '" + batch.name + "' holds " + std::to_string(batch.data.size())
                + " values but its shape " + shapeToString(batch.shape) + " needs "
                + std::to_string(shapeElementCount(batch.shape)));
        if (!perTensor && batch.shape != batches.front().shape)
            throw Error("all calibration batches must have the same shape: '" + batch.name + "' is "
                + shapeToString(batch.shape) + ", '" + batches.front().name + "' is "
                + shapeToString(batches.front().shape));
    }
}

std::vector<std::vector<float>> groupFiniteValues(
    const std::vector<Tensor>& batches, const Scheme& scheme, std::int64_t* nonFinite)
{
    checkCalibrationBatches(batches, scheme);
    const Shape& shape = batches.front().shape;
    const I groups = groupCount(scheme, shape);
    std::vector<std::vector<float>> values(static_cast<std::size_t>(groups));
    I bad = 0;
    if (groups == 1) {
        std::vector<float>& all = values.front();
        for (const Tensor& batch : batches)
            for (const float v : batch.data) {
                if (std::isfinite(v))
                    all.push_back(v);
                else
                    ++bad;
            }
    } else {
        const GroupLayout layout = groupLayout(scheme, shape);
        for (const Tensor& batch : batches)
            for (std::size_t e = 0; e < batch.data.size(); ++e) {
                const float v = batch.data[e];
                if (std::isfinite(v))
                    values[std::size_t(layout.groupOfElement[e])].push_back(v);
                else
                    ++bad;
            }
    }
    if (nonFinite)
        *nonFinite += bad;
    return values;
}

std::vector<BatchExtrema> batchGroupExtrema(
    const std::vector<Tensor>& batches, const Scheme& scheme, std::int64_t* nonFinite)
{
    checkCalibrationBatches(batches, scheme);
    const Shape& shape = batches.front().shape;
    const I groups = groupCount(scheme, shape);
    std::vector<BatchExtrema> out;
    out.reserve(batches.size());
    std::optional<GroupLayout> layout;
    const std::optional<RowLayout> rowsOf = rowLayout(scheme, shape);
    for (const Tensor& batch : batches) {
        BatchExtrema extrema;
        if (rowsOf || groups == 1) {
            // One SIMD pass: min, max and the non-finite count of every row (= group).
            const I cols = groups == 1 ? I(batch.data.size()) : rowsOf->cols;
            const std::vector<MinMaxResult> rows = groups == 1
                ? std::vector<MinMaxResult> {minMax(Backend::Simd, batch.data, 1)}
                : minMaxRows(Backend::Simd, batch.data, rowsOf->rows, rowsOf->cols, 1);
            for (const MinMaxResult& r : rows) {
                if (nonFinite)
                    *nonFinite += r.nonFinite;
                const bool empty = r.nonFinite == cols;
                extrema.min.push_back(empty ? kNaN : r.min);
                extrema.max.push_back(empty ? kNaN : r.max);
            }
            out.push_back(std::move(extrema));
            continue;
        }
        const I bad = countNonFinite(batch);
        if (nonFinite)
            *nonFinite += bad;
        if (bad == 0) {
            // Every group holds at least one element, so none is empty: the quantizer's fast pass will do.
            for (const GroupRange& r : minMaxRanges(batch, scheme)) {
                extrema.min.push_back(float(r.min));
                extrema.max.push_back(float(r.max));
            }
        } else {
            if (!layout)
                layout = groupLayout(scheme, shape);
            extrema.min.assign(std::size_t(groups), kNaN);
            extrema.max.assign(std::size_t(groups), kNaN);
            for (std::size_t e = 0; e < batch.data.size(); ++e) {
                const float v = batch.data[e];
                if (!std::isfinite(v))
                    continue;
                const auto g = std::size_t(layout->groupOfElement[e]);
                if (std::isnan(extrema.min[g])) {
                    extrema.min[g] = extrema.max[g] = v;
                } else {
                    extrema.min[g] = std::min(extrema.min[g], v);
                    extrema.max[g] = std::max(extrema.max[g], v);
                }
            }
        }
        out.push_back(std::move(extrema));
    }
    return out;
}

std::vector<GroupRange> runningMinMaxRanges(
    const std::vector<Tensor>& batches, const Scheme& scheme, std::int64_t* nonFinite)
{
    const std::vector<BatchExtrema> extrema = batchGroupExtrema(batches, scheme, nonFinite);
    const std::size_t groups = extrema.front().min.size();
    std::vector<GroupRange> ranges(groups);
    for (std::size_t g = 0; g < groups; ++g) {
        float low = kNaN;
        float high = kNaN;
        for (const BatchExtrema& b : extrema) {
            if (std::isnan(b.min[g]))
                continue;
            low = std::isnan(low) ? b.min[g] : std::min(low, b.min[g]);
            high = std::isnan(high) ? b.max[g] : std::max(high, b.max[g]);
        }
        ranges[g] = std::isnan(low) ? GroupRange {} : GroupRange {low, high};
    }
    return ranges;
}

std::vector<GroupRange> emaMinMaxRanges(const std::vector<Tensor>& batches, const Scheme& scheme,
    double averagingConstant, std::int64_t* nonFinite)
{
    const std::vector<BatchExtrema> extrema = batchGroupExtrema(batches, scheme, nonFinite);
    const float c = float(averagingConstant);
    const std::size_t groups = extrema.front().min.size();
    std::vector<GroupRange> ranges(groups);
    for (std::size_t g = 0; g < groups; ++g) {
        float low = kNaN;
        float high = kNaN;
        for (const BatchExtrema& b : extrema) {
            if (std::isnan(b.min[g]))
                continue;
            if (std::isnan(low)) {
                low = b.min[g];
                high = b.max[g];
                continue;
            }
            const float lowStep = c * (b.min[g] - low);
            const float highStep = c * (b.max[g] - high);
            low = low + lowStep;
            high = high + highStep;
        }
        ranges[g] = std::isnan(low) ? GroupRange {} : GroupRange {low, high};
    }
    return ranges;
}

GroupRange ortSymmetricRange(const GroupRange& range)
{
    const float m = std::max(std::fabs(float(range.min)), std::fabs(float(range.max)));
    return {-m, m};
}

std::vector<GroupRange> ortMeanMinMaxRanges(
    const std::vector<Tensor>& batches, const Scheme& scheme, bool symmetric, std::int64_t* nonFinite)
{
    const std::vector<BatchExtrema> extrema = batchGroupExtrema(batches, scheme, nonFinite);
    const std::size_t groups = extrema.front().min.size();
    std::vector<GroupRange> ranges(groups);
    std::vector<float> mins(extrema.size());
    std::vector<float> maxs(extrema.size());
    for (std::size_t g = 0; g < groups; ++g) {
        bool any = false;
        for (std::size_t b = 0; b < extrema.size(); ++b) {
            mins[b] = extrema[b].min[g];
            maxs[b] = extrema[b].max[g];
            any = any || !std::isnan(mins[b]);
        }
        if (!any)
            continue;
        ranges[g] = {numpyNanMean(mins, groups == 1), numpyNanMean(maxs, groups == 1)};
        if (symmetric)
            ranges[g] = ortSymmetricRange(ranges[g]);
    }
    return ranges;
}

} // namespace qs
