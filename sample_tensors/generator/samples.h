#pragma once

#include <cstdint>
#include <filesystem>

namespace qs::samples {

// One function per sample kind; each writes its file(s) into `dir` (which exists) and derives every
// random value from its seed below, so the files do not depend on the order the functions run in.
// The seeds are listed in sample_tensors/README.md: change them there too.
inline constexpr std::uint64_t kTinyLlmSeed = 0x5EED0001;
inline constexpr std::uint64_t kShardedLlmSeed = 0x5EED0002;
inline constexpr std::uint64_t kLlmActivationsSeed = 0x5EED0003;
inline constexpr std::uint64_t kReluGeluSeed = 0x5EED0004;
inline constexpr std::uint64_t kAttentionSeed = 0x5EED0005;
inline constexpr std::uint64_t kDepthwiseSeed = 0x5EED0006;
inline constexpr std::uint64_t kCalibrationSeed = 0x5EED0007;
inline constexpr std::uint64_t kSmallExampleSeed = 0x5EED0008;

void writeTinyLlm(const std::filesystem::path& dir);
void writeShardedLlm(const std::filesystem::path& dir);
void writeLlmActivations(const std::filesystem::path& dir);
void writeReluGeluActivations(const std::filesystem::path& dir);
void writeAttentionProbs(const std::filesystem::path& dir);
void writeDepthwiseConv(const std::filesystem::path& dir);
void writeCalibrationSet(const std::filesystem::path& dir);
void writeSmallExamples(const std::filesystem::path& dir);

} // namespace qs::samples
