// depthwise_conv.safetensors: a MobileNet-style depthwise convolution whose per-channel ranges span three
// decades, so one per-tensor int8 scale rounds the small channels to zero while per-channel scales work.

#include "io/writers.h"
#include "random.h"
#include "samples.h"

#include <cmath>
#include <cstddef>
#include <numeric>
#include <utility>
#include <vector>

namespace qs::samples {

namespace {

constexpr std::int64_t kChannels = 96;
constexpr std::int64_t kTaps = 3 * 3;
constexpr double kSmallestScale = 1e-3;
constexpr double kLargestScale = 1.0;

/// Log-uniform channel scales, stratified (one per 1/96 of the log range, shuffled) so that the
/// committed file is guaranteed to reach both ends of the three decades.
std::vector<double> channelScales(Rng& rng)
{
    std::vector<std::size_t> stratum(static_cast<std::size_t>(kChannels));
    std::iota(stratum.begin(), stratum.end(), std::size_t {0});
    for (std::size_t i = stratum.size() - 1; i > 0; --i)
        std::swap(stratum[i], stratum[static_cast<std::size_t>(rng.below(i + 1))]);
    std::vector<double> scales(stratum.size());
    const double logRange = std::log(kLargestScale / kSmallestScale);
    for (std::size_t c = 0; c < scales.size(); ++c) {
        const double u = (static_cast<double>(stratum[c]) + rng.uniform()) / static_cast<double>(kChannels);
        scales[c] = kSmallestScale * std::exp(logRange * u);
    }
    return scales;
}

} // namespace

void writeDepthwiseConv(const std::filesystem::path& dir)
{
    Rng scaleRng(seedFor(kDepthwiseSeed, "channel_scales"));
    const std::vector<double> scales = channelScales(scaleRng);

    Tensor weight = zeroTensor("depthwise.weight", {kChannels, 1, 3, 3});
    Rng weightRng(seedFor(kDepthwiseSeed, weight.name));
    for (std::int64_t c = 0; c < kChannels; ++c)
        for (std::int64_t k = 0; k < kTaps; ++k)
            weight.data[static_cast<std::size_t>(c * kTaps + k)]
                = static_cast<float>(scales[static_cast<std::size_t>(c)] * weightRng.normal());

    Tensor bias = zeroTensor("depthwise.bias", {kChannels});
    Rng biasRng(seedFor(kDepthwiseSeed, bias.name));
    for (float& value : bias.data)
        value = static_cast<float>(0.1 * biasRng.normal());

    writeSafetensors((dir / "depthwise_conv.safetensors").string(),
        {toRawTensor(weight, DType::F32), toRawTensor(bias, DType::F32)},
        {{"format", "pt"}, {"generator", "quantscope-make-samples"}});
}

} // namespace qs::samples
