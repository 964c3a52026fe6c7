// llm_activations.npy: the LLM.int8() observation, a handful of hidden dims that are huge on most tokens.

#include "activation_model.h"
#include "io/writers.h"
#include "samples.h"

#include <cmath>
#include <cstddef>

namespace qs::samples {

Tensor residualActivations(
    std::string name, std::int64_t tokens, std::int64_t hidden, ActivationBody body, float gain, Rng& rng)
{
    Tensor tensor = zeroTensor(std::move(name), {tokens, hidden});
    const double laplaceScale = 1.0 / std::sqrt(2.0); // unit variance, like the normal body
    for (std::int64_t t = 0; t < tokens; ++t) {
        float* row = tensor.data.data() + static_cast<std::size_t>(t * hidden);
        for (std::int64_t c = 0; c < hidden; ++c)
            row[c] = static_cast<float>(
                body == ActivationBody::Normal ? rng.normal() : rng.laplace(laplaceScale));
        if (rng.uniform() >= kMassiveTokenFraction)
            continue;
        for (const OutlierChannel& channel : kMassiveChannels)
            row[channel.index] = static_cast<float>(gain * channel.magnitude * (1.0 + 0.08 * rng.normal()));
    }
    return tensor;
}

void writeLlmActivations(const std::filesystem::path& dir)
{
    Rng rng(seedFor(kLlmActivationsSeed, "llm_activations"));
    const Tensor activations
        = residualActivations("llm_activations", 512, 256, ActivationBody::Normal, 1.0f, rng);
    writeNpy((dir / "llm_activations.npy").string(), toRawTensor(activations, DType::F32));
}

} // namespace qs::samples
