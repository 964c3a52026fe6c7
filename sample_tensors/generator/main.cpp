// quantscope-make-samples OUTPUT_DIR: writes every committed sample file (see sample_tensors/README.md).

#include "base/error.h"
#include "samples.h"

#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <utility>

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: quantscope-make-samples OUTPUT_DIR\n");
        return 2;
    }
    namespace fs = std::filesystem;
    using namespace qs::samples;
    const std::pair<const char*, std::function<void(const fs::path&)>> writers[] {
        {"tiny_llm.safetensors", writeTinyLlm},
        {"tiny_llm_sharded/", writeShardedLlm},
        {"llm_activations.npy", writeLlmActivations},
        {"relu_gelu_activations.npz", writeReluGeluActivations},
        {"attention_probs.npy", writeAttentionProbs},
        {"depthwise_conv.safetensors", writeDepthwiseConv},
        {"calibration_set.h5", writeCalibrationSet},
        {"small_example.npy, small_example.npz", writeSmallExamples},
    };
    try {
        const fs::path dir = argv[1];
        fs::create_directories(dir);
        for (const auto& [what, write] : writers) {
            write(dir);
            std::printf("wrote %s\n", what);
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "quantscope-make-samples: %s\n", error.what());
        return 1;
    }
    return 0;
}
