// attention_probs.npy: causal softmax attention of four heads with different characters, the classic
// case for an unsigned [0, 1] quantizer whose mass sits near zero.

#include "io/writers.h"
#include "random.h"
#include "samples.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace qs::samples {

namespace {

constexpr std::int64_t kHeads = 4;
constexpr std::int64_t kSequence = 64;

/// Attention logit of query `i` for key `j <= i`.
double logit(std::int64_t head, std::int64_t i, std::int64_t j, Rng& rng)
{
    const double noise = rng.normal();
    switch (head) {
    case 0: // attention sink: most of the mass on the first token
        return noise + (j == 0 ? 5.0 : 0.0);
    case 1: // local: decays with distance
        return 0.5 * noise - 0.6 * static_cast<double>(i - j);
    case 2: // diffuse: close to uniform over the prefix
        return 0.3 * noise;
    default: // sharp: a few keys take almost everything
        return 3.0 * noise;
    }
}

} // namespace

void writeAttentionProbs(const std::filesystem::path& dir)
{
    Tensor probs = zeroTensor("attention_probs", {kHeads, kSequence, kSequence});
    std::vector<double> logits(static_cast<std::size_t>(kSequence));
    for (std::int64_t h = 0; h < kHeads; ++h) {
        Rng rng(seedFor(kAttentionSeed, "head" + std::to_string(h)));
        for (std::int64_t i = 0; i < kSequence; ++i) {
            for (std::int64_t j = 0; j <= i; ++j)
                logits[static_cast<std::size_t>(j)] = logit(h, i, j, rng);
            const double peak = *std::max_element(logits.begin(), logits.begin() + i + 1);
            double sum = 0.0;
            for (std::int64_t j = 0; j <= i; ++j) {
                double& value = logits[static_cast<std::size_t>(j)];
                value = std::exp(value - peak);
                sum += value;
            }
            // Keys after the query stay exactly 0 (causal mask).
            float* row = probs.data.data() + static_cast<std::size_t>((h * kSequence + i) * kSequence);
            for (std::int64_t j = 0; j <= i; ++j)
                row[j] = static_cast<float>(logits[static_cast<std::size_t>(j)] / sum);
        }
    }
    writeNpy((dir / "attention_probs.npy").string(), toRawTensor(probs, DType::F32));
}

} // namespace qs::samples
