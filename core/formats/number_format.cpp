#include "formats/number_format.h"

#include "base/error.h"
#include "formats/format_codecs.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

namespace qs {

namespace {

template<class... Ts> struct Overloaded : Ts... {
    using Ts::operator()...;
};

void validate(const NumberFormat& format)
{
    std::visit(Overloaded {
                   [](const IntegerSpec& s) { detail::validateInteger(s); },
                   [](const MinifloatSpec& s) { detail::validateMinifloat(s); },
                   [](const LookupSpec& s) { detail::validateLookup(s); },
                   [](const SignSpec&) {},
               },
        format.spec);
}

} // namespace

int formatBits(const NumberFormat& format)
{
    validate(format);
    return std::visit(Overloaded {
                          [](const IntegerSpec& s) { return s.bits; },
                          [](const MinifloatSpec& s) { return 1 + s.exponentBits + s.mantissaBits; },
                          [](const LookupSpec& s) { return int(std::bit_width(s.values.size() - 1)); },
                          [](const SignSpec& s) { return s.ternary ? 2 : 1; },
                      },
        format.spec);
}

int formatCodeCount(const NumberFormat& format)
{
    if (const auto* lookup = std::get_if<LookupSpec>(&format.spec)) {
        detail::validateLookup(*lookup);
        return int(lookup->values.size());
    }
    if (const auto* sign = std::get_if<SignSpec>(&format.spec))
        return sign->ternary ? 3 : 2;
    return 1 << formatBits(format);
}

double formatMaxFinite(const NumberFormat& format)
{
    validate(format);
    return std::visit(Overloaded {
                          [](const IntegerSpec& s) {
                              return s.isSigned ? std::ldexp(1.0, s.bits - 1) - 1
                                                : std::ldexp(1.0, s.bits) - 1;
                          },
                          [](const MinifloatSpec& s) {
                              return detail::decodeMinifloat(s, detail::minifloatMaxFiniteCode(s));
                          },
                          [](const LookupSpec& s) {
                              double largest = 0;
                              for (float v : s.values)
                                  largest = std::max(largest, std::fabs(double(v)));
                              return largest;
                          },
                          [](const SignSpec&) { return 1.0; },
                      },
        format.spec);
}

std::vector<double> formatValues(const NumberFormat& format)
{
    validate(format);
    if (const auto* minifloat = std::get_if<MinifloatSpec>(&format.spec))
        return detail::minifloatValues(*minifloat);
    std::vector<double> values;
    const int count = formatCodeCount(format);
    values.reserve(std::size_t(count));
    for (int code = 0; code < count; ++code) {
        const double v = decodeValue(format, std::uint32_t(code));
        values.push_back(v == 0 ? 0.0 : v); // -0 becomes +0 and is then dropped as a duplicate
    }
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    return values;
}

double decodeValue(const NumberFormat& format, std::uint32_t code)
{
    const int count = formatCodeCount(format);
    if (code >= std::uint32_t(count))
        throw Error("code " + std::to_string(code) + " is out of range for number format '" + format.name
            + "' (0.." + std::to_string(count - 1) + ")");
    return std::visit(Overloaded {
                          [&](const IntegerSpec& s) { return detail::decodeInteger(s, code); },
                          [&](const MinifloatSpec& s) { return detail::decodeMinifloat(s, code); },
                          [&](const LookupSpec& s) { return detail::decodeLookup(s, code); },
                          [&](const SignSpec& s) { return detail::decodeSign(s, code); },
                      },
        format.spec);
}

std::uint32_t encodeValue(const NumberFormat& format, double x)
{
    if (!std::holds_alternative<LookupSpec>(format.spec))
        validate(format);
    const Rounding rounding = format.minifloat.rounding;
    return std::visit(
        Overloaded {
            [&](const IntegerSpec& s) { return detail::encodeInteger(s, rounding, x); },
            [&](const MinifloatSpec& s) { return detail::encodeMinifloat(s, format.minifloat, x); },
            [&](const LookupSpec& s) { return detail::encodeLookup(s, x); },
            [&](const SignSpec& s) { return detail::encodeSign(s, rounding, x); },
        },
        format.spec);
}

double roundToFormat(const NumberFormat& format, double x)
{
    return decodeValue(format, encodeValue(format, x));
}

} // namespace qs
