// tiny_llm.safetensors and tiny_llm_sharded/: LLaMA-style checkpoints whose weights carry the outliers
// that make per-tensor and per-channel quantization hard.

#include "io/writers.h"
#include "random.h"
#include "samples.h"

#include <array>
#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

namespace qs::samples {

namespace {

struct LlmConfig {
    std::int64_t hidden;
    std::int64_t intermediate;
    std::int64_t vocab;
    int layers;
};

struct Outlier {
    std::int64_t index;
    float gain;
};

// Fixed indices (all valid for both configs) so that README.md can name them and a viewer can be
// checked against them. They grow with depth, as outliers do in trained models.
constexpr std::array<Outlier, 3> kQkOutlierRows {{{5, 8.0f}, {70, 8.0f}, {121, 8.0f}}};
constexpr std::array<Outlier, 2> kOProjOutlierColumns {{{37, 30.0f}, {100, 45.0f}}};
constexpr std::array<Outlier, 3> kDownProjOutlierColumns {{{101, 20.0f}, {222, 35.0f}, {313, 50.0f}}};
// The norm weights amplify two of the massive-activation channels of llm_activations.npy.
constexpr std::array<Outlier, 2> kNormOutliers {{{13, 6.5f}, {47, 11.0f}}};

constexpr float kWeightScale = 0.02f;
constexpr int kStudentNu = 4;

float depthGain(int layer)
{
    return 1.0f + 0.25f * static_cast<float>(layer);
}

Tensor heavyTailed(const std::string& name, std::int64_t rows, std::int64_t columns, std::uint64_t fileSeed)
{
    Tensor tensor = zeroTensor(name, {rows, columns});
    Rng rng(seedFor(fileSeed, name));
    for (float& value : tensor.data)
        value = static_cast<float>(kWeightScale * rng.studentT(kStudentNu));
    return tensor;
}

void scaleRows(Tensor& tensor, std::span<const Outlier> rows, float depth)
{
    const std::int64_t columns = tensor.shape[1];
    for (const Outlier& row : rows)
        for (std::int64_t c = 0; c < columns; ++c)
            tensor.data[static_cast<std::size_t>(row.index * columns + c)] *= row.gain * depth;
}

void scaleColumns(Tensor& tensor, std::span<const Outlier> columnsToScale, float depth)
{
    const std::int64_t rows = tensor.shape[0];
    const std::int64_t columns = tensor.shape[1];
    for (const Outlier& column : columnsToScale)
        for (std::int64_t r = 0; r < rows; ++r)
            tensor.data[static_cast<std::size_t>(r * columns + column.index)] *= column.gain * depth;
}

Tensor normWeight(const std::string& name, std::int64_t hidden, std::uint64_t fileSeed, float depth)
{
    Tensor tensor = zeroTensor(name, {hidden});
    Rng rng(seedFor(fileSeed, name));
    for (float& value : tensor.data)
        value = static_cast<float>(1.0 + 0.05 * rng.normal());
    for (const Outlier& outlier : kNormOutliers)
        tensor.data[static_cast<std::size_t>(outlier.index)] = outlier.gain * depth;
    return tensor;
}

std::vector<RawTensor> buildCheckpoint(const LlmConfig& config, std::uint64_t seed)
{
    std::vector<Tensor> tensors;
    tensors.push_back(heavyTailed("model.embed_tokens.weight", config.vocab, config.hidden, seed));
    for (int layer = 0; layer < config.layers; ++layer) {
        const std::string prefix = "model.layers." + std::to_string(layer) + ".";
        const float depth = depthGain(layer);
        tensors.push_back(normWeight(prefix + "input_layernorm.weight", config.hidden, seed, depth));
        for (const char* projection : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
            Tensor weight = heavyTailed(
                prefix + "self_attn." + projection + ".weight", config.hidden, config.hidden, seed);
            const std::string kind = projection;
            if (kind == "q_proj" || kind == "k_proj")
                scaleRows(weight, kQkOutlierRows, 1.0f);
            else if (kind == "o_proj")
                scaleColumns(weight, kOProjOutlierColumns, depth);
            tensors.push_back(std::move(weight));
        }
        tensors.push_back(normWeight(prefix + "post_attention_layernorm.weight", config.hidden, seed, depth));
        tensors.push_back(
            heavyTailed(prefix + "mlp.gate_proj.weight", config.intermediate, config.hidden, seed));
        tensors.push_back(
            heavyTailed(prefix + "mlp.up_proj.weight", config.intermediate, config.hidden, seed));
        Tensor down = heavyTailed(prefix + "mlp.down_proj.weight", config.hidden, config.intermediate, seed);
        scaleColumns(down, kDownProjOutlierColumns, depth);
        tensors.push_back(std::move(down));
    }
    tensors.push_back(normWeight("model.norm.weight", config.hidden, seed, depthGain(config.layers)));
    tensors.push_back(heavyTailed("lm_head.weight", config.vocab, config.hidden, seed));

    std::vector<RawTensor> raw;
    raw.reserve(tensors.size());
    for (const Tensor& tensor : tensors)
        raw.push_back(toRawTensor(tensor, DType::BF16));
    return raw;
}

const std::map<std::string, std::string> kMetadata {
    {"format", "pt"}, {"generator", "quantscope-make-samples"}};

} // namespace

void writeTinyLlm(const std::filesystem::path& dir)
{
    const LlmConfig config {256, 688, 512, 2};
    writeSafetensors(
        (dir / "tiny_llm.safetensors").string(), buildCheckpoint(config, kTinyLlmSeed), kMetadata);
}

void writeShardedLlm(const std::filesystem::path& dir)
{
    const LlmConfig config {128, 344, 256, 2};
    const std::vector<RawTensor> tensors = buildCheckpoint(config, kShardedLlmSeed);

    // Shard 1: the embedding and layer 0; shard 2: the rest, as save_pretrained's size-based split would.
    const std::array<std::string, 2> shardNames {
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    std::array<std::vector<RawTensor>, 2> shards;
    nlohmann::json weightMap = nlohmann::json::object();
    std::uint64_t totalSize = 0;
    for (const RawTensor& tensor : tensors) {
        const bool first
            = tensor.name == "model.embed_tokens.weight" || tensor.name.starts_with("model.layers.0.");
        const std::size_t shard = first ? 0 : 1;
        weightMap[tensor.name] = shardNames[shard];
        totalSize += tensor.data.size();
        shards[shard].push_back(tensor);
    }

    const std::filesystem::path shardDir = dir / "tiny_llm_sharded";
    std::filesystem::create_directories(shardDir);
    for (std::size_t i = 0; i < shards.size(); ++i)
        writeSafetensors((shardDir / shardNames[i]).string(), shards[i], kMetadata);

    const nlohmann::json index {{"metadata", {{"total_size", totalSize}}}, {"weight_map", weightMap}};
    const std::string text = index.dump(2) + "\n";
    writeFileAtomically((shardDir / "model.safetensors.index.json").string(),
        std::as_bytes(std::span(text.data(), text.size())));
}

} // namespace qs::samples
