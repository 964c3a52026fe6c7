#pragma once

// Per-kind codecs behind the NumberFormat dispatch (number_format.cpp). Not part of the public API.

#include "formats/number_format.h"

#include <cstdint>
#include <vector>

namespace qs::detail {

void validateMinifloat(const MinifloatSpec& spec);
std::uint32_t minifloatMaxFiniteCode(const MinifloatSpec& spec);
double decodeMinifloat(const MinifloatSpec& spec, std::uint32_t code);
std::uint32_t encodeMinifloat(const MinifloatSpec& spec, const MinifloatOptions& options, double x);
std::vector<double> minifloatValues(const MinifloatSpec& spec);

void validateInteger(const IntegerSpec& spec);
double decodeInteger(const IntegerSpec& spec, std::uint32_t code);
std::uint32_t encodeInteger(const IntegerSpec& spec, Rounding rounding, double x);

void validateLookup(const LookupSpec& spec);
double decodeLookup(const LookupSpec& spec, std::uint32_t code);
std::uint32_t encodeLookup(const LookupSpec& spec, double x);

double decodeSign(const SignSpec& spec, std::uint32_t code);
std::uint32_t encodeSign(const SignSpec& spec, Rounding rounding, double x);

/// round(x) to an integral double with the given tie rule, independent of the FPU rounding mode.
double roundIntegral(double x, Rounding rounding);

} // namespace qs::detail
