#pragma once

#include "tensor/tensor.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace qs::samples {

/// xoshiro256** seeded through SplitMix64, with hand-written distributions: the std:: distributions are
/// implementation-defined, and the committed samples must come out bit-for-bit the same everywhere.
class Rng {
public:
    explicit Rng(std::uint64_t seed);

    std::uint64_t next();
    /// Uniform in [0, 1) with 53 random bits.
    double uniform();
    /// Uniform in (0, 1]: safe to take the logarithm of.
    double uniformPositive();
    /// Uniform integer in [0, n).
    std::uint64_t below(std::uint64_t n);
    /// Standard normal by Box–Muller (both values of a pair are used, in order).
    double normal();
    /// Student-t with integer `nu` degrees of freedom: normal / sqrt(chi-square(nu) / nu).
    double studentT(int nu);
    /// Laplace with location 0 and the given scale (inverse CDF).
    double laplace(double scale);
    /// exp(uniform(log lo, log hi)): every decade between lo and hi equally likely.
    double logUniform(double lo, double hi);

private:
    std::array<std::uint64_t, 4> state_ {};
    double spareNormal_ = 0.0;
    bool hasSpareNormal_ = false;
};

/// A seed for one tensor: the file's seed mixed with a hash of the tensor name, so that adding or
/// reordering tensors in a file leaves the values of the others unchanged.
std::uint64_t seedFor(std::uint64_t fileSeed, std::string_view name);

/// A zero-filled float32 tensor.
Tensor zeroTensor(std::string name, Shape shape);

} // namespace qs::samples
