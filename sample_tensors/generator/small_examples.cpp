// small_example.npy and small_example.npz: arrays small enough to check every statistic by hand. The npz
// is the per-row symmetric int8 quantization of the npy, stored uncompressed (the other npz is deflated).

#include "io/writers.h"
#include "random.h"
#include "samples.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace qs::samples {

namespace {

constexpr std::int64_t kRows = 8;
constexpr std::int64_t kColumns = 16;
constexpr std::int64_t kOutlierRow = 5;
constexpr std::int64_t kOutlierColumn = 9;
constexpr float kOutlierValue = 12.0f;

} // namespace

void writeSmallExamples(const std::filesystem::path& dir)
{
    Tensor x = zeroTensor("small_example", {kRows, kColumns});
    Rng rng(seedFor(kSmallExampleSeed, x.name));
    // Multiples of 1/64 below 4 in magnitude (at most 8 significant bits): exact in float16 and bfloat16
    // too, so format round trips show no error except where the format really cannot hold the value.
    for (float& value : x.data)
        value = static_cast<float>(std::clamp(std::nearbyint(64.0 * rng.normal()), -255.0, 255.0) / 64.0);
    x.data[static_cast<std::size_t>(kOutlierRow * kColumns + kOutlierColumn)] = kOutlierValue;
    writeNpy((dir / "small_example.npy").string(), toRawTensor(x, DType::F32));

    Tensor q = zeroTensor("q", {kRows, kColumns});
    Tensor scale = zeroTensor("scale", {kRows, 1});
    for (std::int64_t r = 0; r < kRows; ++r) {
        const float* row = x.data.data() + static_cast<std::size_t>(r * kColumns);
        float absMax = 0.0f;
        for (std::int64_t c = 0; c < kColumns; ++c)
            absMax = std::max(absMax, std::abs(row[c]));
        const float step = absMax / 127.0f;
        scale.data[static_cast<std::size_t>(r)] = step;
        for (std::int64_t c = 0; c < kColumns; ++c)
            q.data[static_cast<std::size_t>(r * kColumns + c)] = std::nearbyint(row[c] / step);
    }
    writeNpz((dir / "small_example.npz").string(),
        {toRawTensor(q, DType::I8), toRawTensor(scale, DType::F32)}, false);
}

} // namespace qs::samples
