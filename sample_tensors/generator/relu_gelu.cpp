// relu_gelu_activations.npz: MLP activations after ReLU (one-sided, many exact zeros, a few dead units) and
// after GELU (a small negative tail bounded by GELU's minimum, about -0.17).

#include "io/writers.h"
#include "random.h"
#include "samples.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <vector>

namespace qs::samples {

namespace {

constexpr std::int64_t kTokens = 256;
constexpr std::int64_t kChannels = 512;
// ReLU units whose pre-activation never crosses zero: whole columns of exact zeros.
constexpr std::array<std::int64_t, 4> kDeadReluChannels {17, 203, 388, 455};

struct ChannelStats {
    double mean;
    double stddev;
};

std::vector<ChannelStats> channelStats(Rng& rng, double meanCenter)
{
    std::vector<ChannelStats> stats(static_cast<std::size_t>(kChannels));
    for (ChannelStats& channel : stats) {
        channel.mean = meanCenter + 0.5 * rng.normal();
        channel.stddev = rng.logUniform(0.5, 2.0);
    }
    return stats;
}

template<typename Activation>
Tensor mlpActivations(
    const std::string& name, const std::vector<ChannelStats>& stats, Rng& rng, Activation activation)
{
    Tensor tensor = zeroTensor(name, {kTokens, kChannels});
    for (std::int64_t t = 0; t < kTokens; ++t)
        for (std::int64_t c = 0; c < kChannels; ++c) {
            const ChannelStats& channel = stats[static_cast<std::size_t>(c)];
            const double preActivation = channel.mean + channel.stddev * rng.normal();
            tensor.data[static_cast<std::size_t>(t * kChannels + c)]
                = static_cast<float>(activation(preActivation));
        }
    return tensor;
}

} // namespace

void writeReluGeluActivations(const std::filesystem::path& dir)
{
    Rng reluParams(seedFor(kReluGeluSeed, "relu.channels"));
    std::vector<ChannelStats> reluStats = channelStats(reluParams, -0.3);
    for (const std::int64_t dead : kDeadReluChannels)
        reluStats[static_cast<std::size_t>(dead)] = {-8.0, 0.5};
    Rng reluValues(seedFor(kReluGeluSeed, "relu"));
    // std::max(0.0, x) yields +0.0 for every non-positive x, so the zeros are exact and unsigned.
    const Tensor relu
        = mlpActivations("relu", reluStats, reluValues, [](double x) { return std::max(0.0, x); });

    Rng geluParams(seedFor(kReluGeluSeed, "gelu.channels"));
    const std::vector<ChannelStats> geluStats = channelStats(geluParams, 0.0);
    Rng geluValues(seedFor(kReluGeluSeed, "gelu"));
    const Tensor gelu = mlpActivations("gelu", geluStats, geluValues,
        [](double x) { return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2)); });

    writeNpz((dir / "relu_gelu_activations.npz").string(),
        {toRawTensor(relu, DType::F32), toRawTensor(gelu, DType::F32)}, true);
}

} // namespace qs::samples
