#pragma once

#include "calib/histogram.h"
#include "taskcontrol.h"
#include "tensor/stats.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qs::gui {

/// |x| of a 2-D tensor max-pooled into blocks so that neither side exceeds a cell budget.
/// Cell (r, c) covers source rows [r·rowsPerCell, (r+1)·rowsPerCell) and columns likewise (the last block
/// of each side may be shorter). Non-finite values are left out; a block without finite values is 0.
struct HeatMap {
    std::int64_t sourceRows = 0;
    std::int64_t sourceCols = 0;
    std::int64_t rowsPerCell = 1;
    std::int64_t colsPerCell = 1;
    int rows = 0;
    int cols = 0;
    std::vector<float> cells; ///< row-major, rows × cols
    float maxValue = 0; ///< largest cell
    float minPositive = 0; ///< smallest cell > 0 (0 when every cell is 0)

    float at(int row, int col) const { return cells[static_cast<std::size_t>(row) * cols + col]; }
    bool operator==(const HeatMap&) const = default;
};

/// Max-pools |x| of a row-major rows × cols matrix to at most maxSide × maxSide cells.
/// Polls `control` once per source row.
HeatMap poolAbsMax(
    const float* data, std::int64_t rows, std::int64_t cols, int maxSide, const TaskControl& control);

/// The histogram and statistics of one channel of a tensor.
struct ChannelHistogram {
    std::uint64_t analysisId = 0; ///< TensorAnalysis::id of the tensor it belongs to
    int axis = 0;
    std::int64_t channel = 0;
    qs::SummaryStats stats;
    qs::Histogram histogram;
};

struct AnalysisOptions {
    int channelAxis = 0; ///< out-of-range axes fall back to 0
    int histogramBins = 256;
    int channelHistogramBins = 128;
    std::size_t outlierCount = 10;
    int heatMapMaxSide = 512;
};

/// Everything the Distribution view shows about one tensor. Immutable once published.
struct TensorAnalysis {
    std::uint64_t id = 0; ///< unique per request within a session
    int fileId = -1;
    std::string filePath;
    std::string formatName; ///< TensorFile::formatName() of the file
    qs::TensorInfo info;
    std::shared_ptr<const qs::Tensor> tensor;
    /// The same tensor as a one-element batch list for the calibrators (QuantizationReuse::wholeBatch);
    /// null when the caller did not provide one.
    std::shared_ptr<const std::vector<qs::Tensor>> wholeBatch;
    qs::SummaryStats stats;
    qs::Histogram histogram; ///< signed values over [min, max]
    qs::Histogram absHistogram; ///< |x| over [0, absmax]
    std::optional<qs::ChannelStats> channels; ///< absent for scalars
    std::vector<qs::OutlierChannel> outliers;
    std::optional<HeatMap> heatMap; ///< 2-D tensors with at least one element
    std::optional<ChannelHistogram> focusChannel; ///< the top outlier channel, shown first

    std::size_t rank() const { return info.shape.size(); }
};

/// The axis actually used for a requested channel axis on a tensor of `rank` (-1 for scalars).
int effectiveChannelAxis(int requested, std::size_t rank);

/// The values of one channel (every element whose index along `axis` is `channel`), in row-major order.
std::vector<float> channelValues(const qs::Tensor& tensor, int axis, std::int64_t channel);

/// Histogram and statistics of one channel. Throws qs::Error when the axis or channel is out of range.
ChannelHistogram analyzeChannel(const qs::Tensor& tensor, int axis, std::int64_t channel, int bins);

/// Runs every analysis of the Distribution view on a loaded tensor: the statistics and histograms on the
/// calling thread while a second thread computes the per-channel statistics, outliers, focus channel and
/// heat map. Polls `control` between steps and reports progress from `progressFrom` to 100. Throws
/// TaskCancelled or qs::Error.
TensorAnalysis analyzeTensor(const qs::TensorInfo& info, std::shared_ptr<const qs::Tensor> tensor,
    const AnalysisOptions& options, const TaskControl& control, int progressFrom = 0);

} // namespace qs::gui
