#pragma once

#include "tensor/tensor.h"

#include <cstdint>
#include <span>
#include <vector>

namespace qs {

/// Summary statistics of a tensor. NaN and ±Inf are counted and excluded from every other figure.
/// Moments are accumulated in double (chunked, merged with Chan et al.'s pairwise update).
struct SummaryStats {
    std::int64_t count = 0; ///< all elements, NaN/Inf included
    std::int64_t finiteCount = 0; ///< elements the figures below are computed over
    std::int64_t nanCount = 0;
    std::int64_t infCount = 0; ///< +Inf and -Inf
    std::int64_t zeroCount = 0; ///< exact zeros (+0 and -0)
    double min = 0; ///< 0 when there is no finite value (then finiteCount == 0)
    double max = 0;
    double absmax = 0;
    double mean = 0;
    double std = 0; ///< population standard deviation, sqrt(Σ(x-mean)²/n)
    /// Pearson kurtosis m4/m2² (normal = 3; scipy.stats.kurtosis(fisher=False)); 0 if std == 0
    double kurtosis = 0;
    double beyond3SigmaShare = 0; ///< share of finite values with |x - mean| > 3·std (0 if std == 0)
    double beyond6SigmaShare = 0; ///< share of finite values with |x - mean| > 6·std
    double zeroShare = 0; ///< zeroCount / finiteCount

    bool operator==(const SummaryStats&) const = default;
};

/// Two passes over `values`: min/max/moments, then the k·σ tail counts.
SummaryStats computeSummaryStats(std::span<const float> values);

/// Per-channel statistics along one axis: channel c gathers every element whose index along `axis` is c.
/// Each vector has shape[axis] entries. NaN/Inf are excluded; a channel with no finite value reports 0.
struct ChannelStats {
    int axis = 0;
    std::vector<double> min;
    std::vector<double> max;
    std::vector<double> absmax;
    std::vector<double> mean;
    std::vector<double> std; ///< population standard deviation

    std::size_t channelCount() const { return absmax.size(); }
    bool operator==(const ChannelStats&) const = default;
};

/// Per-channel statistics along `axis` (negative counts from the end, as in NumPy). Throws qs::Error when
/// the axis is out of range or the tensor is a scalar.
ChannelStats computeChannelStats(const Tensor& tensor, int axis);

/// A channel whose absmax stands out from the rest.
struct OutlierChannel {
    std::int64_t channel = 0;
    double absmax = 0;
    double ratio = 0; ///< absmax / median(absmax over all channels); +Inf when the median is 0 and absmax > 0
    bool operator==(const OutlierChannel&) const = default;
};

/// The k channels with the largest absmax, largest first (ties: lower channel index first),
/// each with its ratio to the median channel absmax (median of an even count = mean of the two middle
/// values).
std::vector<OutlierChannel> topOutlierChannels(const ChannelStats& stats, std::size_t k);

} // namespace qs
