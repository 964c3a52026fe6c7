#pragma once

#include "random.h"
#include "tensor/tensor.h"

#include <array>
#include <cstdint>
#include <string>

namespace qs::samples {

struct OutlierChannel {
    std::int64_t index;
    float magnitude; ///< typical signed value; the sign is fixed per channel, as in trained LLMs
};

/// The massive-activation hidden dims shared by llm_activations.npy and calibration_set.h5 (hidden 256).
inline constexpr std::array<OutlierChannel, 5> kMassiveChannels {
    {{13, 24.0f}, {47, -38.0f}, {133, 52.0f}, {201, 30.0f}, {240, -45.0f}}};

/// Fraction of tokens on which the massive channels are active (they switch on together).
inline constexpr double kMassiveTokenFraction = 0.92;

enum class ActivationBody { Normal, Laplace };

/// Residual-stream activations [tokens, hidden]: a unit-variance body plus kMassiveChannels at
/// `gain * magnitude * (1 + 0.08 N(0,1))` on about kMassiveTokenFraction of the tokens.
Tensor residualActivations(
    std::string name, std::int64_t tokens, std::int64_t hidden, ActivationBody body, float gain, Rng& rng);

} // namespace qs::samples
