#include "random.h"

#include <cmath>
#include <numbers>

namespace qs::samples {

namespace {

std::uint64_t splitMix64(std::uint64_t& state)
{
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

std::uint64_t rotateLeft(std::uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

} // namespace

Rng::Rng(std::uint64_t seed)
{
    for (auto& word : state_)
        word = splitMix64(seed);
}

std::uint64_t Rng::next()
{
    const std::uint64_t result = rotateLeft(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotateLeft(state_[3], 45);
    return result;
}

double Rng::uniform()
{
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

double Rng::uniformPositive()
{
    return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53;
}

std::uint64_t Rng::below(std::uint64_t n)
{
    return static_cast<std::uint64_t>(uniform() * static_cast<double>(n));
}

double Rng::normal()
{
    if (hasSpareNormal_) {
        hasSpareNormal_ = false;
        return spareNormal_;
    }
    const double u1 = uniformPositive();
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    spareNormal_ = radius * std::sin(angle);
    hasSpareNormal_ = true;
    return radius * std::cos(angle);
}

double Rng::studentT(int nu)
{
    const double z = normal();
    double chiSquare = 0.0;
    for (int i = 0; i < nu; ++i) {
        const double g = normal();
        chiSquare += g * g;
    }
    return z / std::sqrt(chiSquare / nu);
}

double Rng::laplace(double scale)
{
    // An exponential magnitude with a random sign: no endpoint of the uniform can reach log(0).
    const bool negative = (next() >> 63) != 0;
    const double magnitude = -scale * std::log(uniformPositive());
    return negative ? -magnitude : magnitude;
}

double Rng::logUniform(double lo, double hi)
{
    const double a = std::log(lo);
    const double b = std::log(hi);
    return std::exp(a + (b - a) * uniform());
}

std::uint64_t seedFor(std::uint64_t fileSeed, std::string_view name)
{
    std::uint64_t hash = 0xCBF29CE484222325ULL; // FNV-1a
    for (const char c : name) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001B3ULL;
    }
    std::uint64_t mixed = fileSeed ^ hash;
    return splitMix64(mixed);
}

Tensor zeroTensor(std::string name, Shape shape)
{
    const auto count = static_cast<std::size_t>(shapeElementCount(shape));
    return Tensor {std::move(name), std::move(shape), std::vector<float>(count, 0.0f)};
}

} // namespace qs::samples
