#include "export/range_from_scale.h"

#include "base/error.h"
#include "formats/number_format.h"

#include <cmath>
#include <optional>
#include <variant>

namespace qs {

namespace {

constexpr int kSteps = 8;

/// The i-th float32 around x in the order x, one step up, one down, two up, two down, ...
float nearbyFloat(float x, int i)
{
    const float direction = i % 2 == 1 ? INFINITY : -INFINITY;
    for (int step = 0; step < (i + 1) / 2; ++step)
        x = std::nextafter(x, direction);
    return x;
}

bool reproduces(const Scheme& perTensor, const GroupRange& range, float scale, std::int32_t zeroPoint)
{
    const Tensor probe {"", {2}, {float(range.min), float(range.max)}};
    const QuantizedTensor q = quantize(probe, perTensor, std::vector<GroupRange> {range});
    const std::int32_t zp = q.zeroPoints.empty() ? 0 : q.zeroPoints.front();
    return q.scales.front() == scale && zp == zeroPoint;
}

} // namespace

GroupRange rangeFromScale(const Scheme& scheme, float scale, std::int32_t zeroPoint)
{
    const auto* integer = std::get_if<IntegerSpec>(&scheme.format.spec);
    if (!integer || scheme.blockFormat != BlockFormat::None)
        throw Error("a range can be recovered from a scale only for integer formats, not '"
            + schemeName(scheme) + "'");
    if (!(std::isfinite(scale) && scale > 0))
        throw Error("scale " + std::to_string(scale) + " is not a finite positive number");
    Scheme perTensor = scheme;
    perTensor.granularity = Granularity::perTensor();

    const double levels = std::ldexp(1.0, integer->bits) - 1;
    const double qmax = integer->isSigned ? std::ldexp(1.0, integer->bits - 1) - 1 : levels;
    const double qmin = integer->isSigned ? -qmax - 1 : 0;

    // Moves the free end by float32 steps, nearest first, until quantize() agrees.
    auto search = [&](float guess, auto makeRange, std::int32_t zp) -> std::optional<GroupRange> {
        for (int i = 0; i <= 2 * kSteps; ++i) {
            const GroupRange candidate = makeRange(nearbyFloat(guess, i));
            if (reproduces(perTensor, candidate, scale, zp))
                return candidate;
        }
        return std::nullopt;
    };

    if (scheme.rangeMode == RangeMode::Affine) {
        // The span max - min is rounded to float32 before the division, so both ends may have to move.
        const float low = float((qmin - zeroPoint) * double(scale));
        const float high = float(double(low) + levels * double(scale));
        for (int i = 0; i <= 2 * kSteps; ++i) {
            const float lowCandidate = nearbyFloat(low, i);
            if (const auto found = search(
                    high,
                    [lowCandidate](float a) {
                        return GroupRange {lowCandidate, a};
                    },
                    zeroPoint))
                return *found;
        }
        return {low, high};
    }
    const double elemMax
        = integer->isSigned && scheme.rangeMode == RangeMode::SymmetricFull ? qmax + 0.5 : qmax;
    const bool isSigned = integer->isSigned;
    const auto symmetricRange = [isSigned](float a) {
        return isSigned ? GroupRange {-a, a} : GroupRange {0, a};
    };
    const float guess = float(double(scale) * elemMax);
    return search(guess, symmetricRange, 0).value_or(symmetricRange(guess));
}

} // namespace qs
