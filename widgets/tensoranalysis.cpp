#include "tensoranalysis.h"

#include "base/error.h"
#include "kernels/kernels.h"

#include <algorithm>
#include <cmath>
#include <future>
#include <limits>
#include <string>

namespace qs::gui {

namespace {

std::int64_t ceilDiv(std::int64_t a, std::int64_t b)
{
    return (a + b - 1) / b;
}

} // namespace

HeatMap poolAbsMax(
    const float* data, std::int64_t rows, std::int64_t cols, int maxSide, const TaskControl& control)
{
    HeatMap map;
    map.sourceRows = rows;
    map.sourceCols = cols;
    if (rows <= 0 || cols <= 0 || maxSide <= 0)
        return map;
    map.rowsPerCell = ceilDiv(rows, maxSide);
    map.colsPerCell = ceilDiv(cols, maxSide);
    map.rows = static_cast<int>(ceilDiv(rows, map.rowsPerCell));
    map.cols = static_cast<int>(ceilDiv(cols, map.colsPerCell));
    map.cells.assign(static_cast<std::size_t>(map.rows) * map.cols, 0.0f);

    for (std::int64_t r = 0; r < rows; ++r) {
        control.throwIfCancelled();
        const float* row = data + r * cols;
        float* cellRow = map.cells.data() + (r / map.rowsPerCell) * map.cols;
        for (std::int64_t c = 0; c < cols; ++c) {
            const float magnitude = std::fabs(row[c]);
            // NaN and Inf fail this test, which keeps them out of the map.
            if (magnitude <= std::numeric_limits<float>::max()) {
                float& cell = cellRow[c / map.colsPerCell];
                cell = std::max(cell, magnitude);
            }
        }
    }
    for (float cell : map.cells) {
        map.maxValue = std::max(map.maxValue, cell);
        if (cell > 0 && (map.minPositive == 0 || cell < map.minPositive))
            map.minPositive = cell;
    }
    return map;
}

int effectiveChannelAxis(int requested, std::size_t rank)
{
    if (rank == 0)
        return -1;
    if (requested < 0 || static_cast<std::size_t>(requested) >= rank)
        return 0;
    return requested;
}

std::vector<float> channelValues(const qs::Tensor& tensor, int axis, std::int64_t channel)
{
    const std::size_t rank = tensor.shape.size();
    if (axis < 0 || static_cast<std::size_t>(axis) >= rank)
        throw qs::Error("tensor '" + tensor.name + "': axis " + std::to_string(axis) + " is out of range for "
            + qs::shapeToString(tensor.shape));
    const std::int64_t channels = tensor.shape[static_cast<std::size_t>(axis)];
    if (channel < 0 || channel >= channels)
        throw qs::Error("tensor '" + tensor.name + "': channel " + std::to_string(channel)
            + " is out of range 0.." + std::to_string(channels - 1) + " along axis " + std::to_string(axis));

    std::int64_t outer = 1;
    for (int i = 0; i < axis; ++i)
        outer *= tensor.shape[static_cast<std::size_t>(i)];
    std::int64_t inner = 1;
    for (std::size_t i = static_cast<std::size_t>(axis) + 1; i < rank; ++i)
        inner *= tensor.shape[i];

    std::vector<float> values;
    values.reserve(static_cast<std::size_t>(outer * inner));
    for (std::int64_t o = 0; o < outer; ++o) {
        const float* begin = tensor.data.data() + (o * channels + channel) * inner;
        values.insert(values.end(), begin, begin + inner);
    }
    return values;
}

ChannelHistogram analyzeChannel(const qs::Tensor& tensor, int axis, std::int64_t channel, int bins)
{
    const std::vector<float> values = channelValues(tensor, axis, channel);
    ChannelHistogram result;
    result.axis = axis;
    result.channel = channel;
    result.stats = qs::computeSummaryStats(values);
    result.histogram = qs::computeHistogram(values, bins);
    return result;
}

namespace {

/// Statistics and both histograms of `values`.
void addDistribution(TensorAnalysis& analysis, std::span<const float> values, const AnalysisOptions& options)
{
    analysis.stats = qs::computeSummaryStats(values);
    // The SIMD kernels count exactly as computeHistogram over the finite range of the data.
    const qs::MinMaxResult extent = qs::minMax(qs::Backend::Simd, values);
    try {
        analysis.histogram = qs::histogram(qs::Backend::Simd, values, options.histogramBins,
            static_cast<double>(extent.min), static_cast<double>(extent.max), false);
        analysis.absHistogram = qs::histogram(
            qs::Backend::Simd, values, options.histogramBins, 0.0, static_cast<double>(extent.absmax), true);
    } catch (const qs::Error&) {
        // A range so narrow that the kernel's bin factor overflows: the reference handles it.
        analysis.histogram = qs::computeHistogram(values, options.histogramBins);
        analysis.absHistogram = qs::computeHistogram(values, options.histogramBins, true);
    }
}

/// Per-channel statistics, outliers, the focus channel and the heat map.
void addChannelDetails(TensorAnalysis& analysis, const AnalysisOptions& options, const TaskControl& control)
{
    const qs::Tensor& tensor = *analysis.tensor;
    const int axis = effectiveChannelAxis(options.channelAxis, tensor.shape.size());
    if (axis >= 0) {
        analysis.channels = qs::computeChannelStats(tensor, axis);
        analysis.outliers = qs::topOutlierChannels(*analysis.channels, options.outlierCount);
        control.throwIfCancelled();
        if (!analysis.outliers.empty())
            analysis.focusChannel = analyzeChannel(
                tensor, axis, analysis.outliers.front().channel, options.channelHistogramBins);
        control.throwIfCancelled();
    }
    // Rank 3 and more: rows along axis 0, the trailing axes flattened into columns (a conv weight
    // [out, in, kh, kw] shows one row per output channel).
    if (tensor.shape.size() >= 2 && !tensor.data.empty() && tensor.shape[0] > 0)
        analysis.heatMap = poolAbsMax(tensor.data.data(), tensor.shape[0],
            std::int64_t(tensor.data.size()) / tensor.shape[0], options.heatMapMaxSide, control);
}

} // namespace

TensorAnalysis analyzeTensor(const qs::TensorInfo& info, std::shared_ptr<const qs::Tensor> tensor,
    const AnalysisOptions& options, const TaskControl& control, int progressFrom)
{
    TensorAnalysis analysis;
    analysis.info = info;
    analysis.tensor = std::move(tensor);
    // The two parts write disjoint members and read the tensor only.
    std::future<void> details = std::async(std::launch::async,
        [&analysis, &options, &control] { addChannelDetails(analysis, options, control); });
    addDistribution(analysis, analysis.tensor->values(), options);
    control.setProgress(progressFrom + (100 - progressFrom) / 2);
    details.get();
    control.throwIfCancelled();
    control.setProgress(100);
    return analysis;
}

} // namespace qs::gui
