#include "quant/quantizer.h"

#include "base/error.h"
#include "quant/block_formats.h"
#include "quant/group_geometry.h"
#include "quant/scale_rounding.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <variant>

namespace qs {

namespace {

using I = std::int64_t;
using detail::bitsFloat;
using detail::floatBits;

constexpr float kPyTorchEps = 1.1920928955078125e-07f; // torch.finfo(torch.float32).eps = 2^-23

bool isFinite(float x)
{
    return std::fabs(x) <= FLT_MAX;
}

/// float -> uint32 key that orders like the floats, with -0 just below +0.
std::uint32_t orderedKey(float f)
{
    const std::uint32_t u = floatBits(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

float keyFloat(std::uint32_t key)
{
    return bitsFloat((key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key);
}

enum class ElementKind { Integer, Minifloat, Table };

/// Everything about the element format the hot loop needs, derived once per call.
struct ElementGrid {
    ElementKind kind = ElementKind::Integer;
    int qmin = 0;
    int qmax = 0;
    double elemMax = 1; ///< grid extent in element units for the scale (see RangeMode, E8M0Rounding)
    int mantissaBits = 0; ///< for E8M0Rounding::Even
    bool pytorchEps = false; ///< SymmetricFull / Affine: scale >= eps
    bool affine = false;
    bool oneSided = false; ///< unsigned symmetric: span = max(max, 0)
    // Minifloat
    detail::MinifloatRounder rounder;
    std::uint32_t signCode = 0;
    // Table: region i (keys >= thresholds[i-1]) has code codes[i] and value values[i].
    std::vector<std::uint32_t> thresholds;
    std::vector<std::int32_t> codes;
    std::vector<float> values;
    std::uint32_t lowestKey = 0;
    std::uint32_t highestKey = 0;
    // Non-integers: value of every code, for dequantize and non-finite inputs.
    std::vector<float> decoded;
};

/// The code regions of a monotone encoder over all finite floats, found by bisection on encodeValue, so the
/// table kernel agrees with the format's definition for every float input (thresholds, ties, -0 codes).
void buildTable(const NumberFormat& format, ElementGrid& grid)
{
    const auto encode
        = [&](std::uint32_t key) { return std::int32_t(encodeValue(format, double(keyFloat(key)))); };
    std::uint32_t low = orderedKey(-FLT_MAX);
    const std::uint32_t high = orderedKey(FLT_MAX);
    std::int32_t code = encode(low);
    grid.codes.push_back(code);
    while (encode(high) != code) {
        std::uint32_t a = low;
        std::uint32_t b = high;
        while (b - a > 1) {
            const std::uint32_t m = a + (b - a) / 2;
            (encode(m) == code ? a : b) = m;
        }
        code = encode(b);
        grid.thresholds.push_back(b);
        grid.codes.push_back(code);
        low = b;
        if (grid.codes.size() > 4096)
            throw Error("number format '" + format.name + "' has too many codes for the table quantizer");
    }
    double lowest = 0;
    double highest = 0;
    for (std::int32_t c : grid.codes) {
        const double value = decodeValue(format, std::uint32_t(c));
        grid.values.push_back(float(value));
        lowest = std::min(lowest, value);
        highest = std::max(highest, value);
    }
    grid.lowestKey = orderedKey(float(lowest));
    grid.highestKey = orderedKey(float(highest));
}

ElementGrid elementGrid(const Scheme& scheme)
{
    const NumberFormat& format = scheme.format;
    ElementGrid grid;
    if (const auto* integer = std::get_if<IntegerSpec>(&format.spec)) {
        if (integer->bits < 2 || integer->bits > 16)
            throw Error("integer formats have 2 to 16 bits, not " + std::to_string(integer->bits));
        grid.kind = ElementKind::Integer;
        const int top = integer->isSigned ? (1 << (integer->bits - 1)) - 1 : (1 << integer->bits) - 1;
        grid.qmax = top;
        grid.qmin = integer->isSigned ? -top - 1 : 0;
        grid.affine = scheme.rangeMode == RangeMode::Affine;
        grid.pytorchEps = scheme.rangeMode != RangeMode::SymmetricNarrow;
        grid.oneSided = !integer->isSigned && !grid.affine;
        if (grid.affine || grid.oneSided) {
            grid.elemMax = grid.qmax - grid.qmin;
            grid.mantissaBits = integer->bits - 1;
        } else {
            if (scheme.rangeMode == RangeMode::SymmetricNarrow)
                grid.qmin = -top;
            grid.elemMax = scheme.rangeMode == RangeMode::SymmetricFull ? top + 0.5 : top;
            grid.mantissaBits = integer->bits - 2;
        }
        return grid;
    }
    grid.elemMax = formatMaxFinite(format);
    if (!(grid.elemMax > 0) || !std::isfinite(grid.elemMax))
        throw Error("number format '" + format.name + "' has no positive finite maximum");
    const int codeCount = formatCodeCount(format);
    grid.decoded.resize(std::size_t(codeCount));
    for (int c = 0; c < codeCount; ++c)
        grid.decoded[std::size_t(c)] = float(decodeValue(format, std::uint32_t(c)));
    const auto* minifloat = std::get_if<MinifloatSpec>(&format.spec);
    if (minifloat && detail::MinifloatRounder::supports(*minifloat)) {
        grid.kind = ElementKind::Minifloat;
        grid.mantissaBits = minifloat->mantissaBits;
        grid.rounder = detail::MinifloatRounder::make(
            *minifloat, format.minifloat.rounding == Rounding::NearestAway, grid.elemMax);
        grid.signCode = 1u << (minifloat->exponentBits + minifloat->mantissaBits);
        return grid;
    }
    grid.kind = ElementKind::Table;
    if (minifloat)
        grid.mantissaBits = minifloat->mantissaBits;
    buildTable(format, grid);
    return grid;
}

struct GroupParams {
    float scale = 1;
    float inverse = 1;
    std::int32_t zeroPoint = 0;
};

/// Round-to-integer of a float already clamped to |v| < 2^22, ties even or away; exact and branch-free:
/// adding 1.5·2^23 leaves no fraction bits, so the FPU's round-to-nearest-even does the work.
template<bool TiesAway> int roundSmall(float v)
{
    constexpr float kMagic = 12582912.0f; // 1.5 * 2^23
    const float even = (v + kMagic) - kMagic;
    int rounded = static_cast<int>(even);
    if constexpr (TiesAway) {
        const float below = v - even; // exact
        rounded += (v > 0 && below == 0.5f) - (v < 0 && below == -0.5f);
    }
    return rounded;
}

GroupParams groupParams(float low, float high, const Scheme& scheme, const ElementGrid& grid)
{
    float span;
    if (grid.affine)
        span = std::max(high, 0.0f) - std::min(low, 0.0f);
    else if (grid.oneSided)
        span = std::max(high, 0.0f);
    else
        span = std::max(std::fabs(low), std::fabs(high));

    float scale;
    if (!(span > 0))
        scale = grid.pytorchEps ? kPyTorchEps : 1.0f;
    else if (scheme.scaleFormat == ScaleFormat::E8M0)
        scale = detail::e8m0Scale(span, grid.elemMax, grid.mantissaBits, scheme.e8m0Rounding);
    else
        scale = span / static_cast<float>(grid.elemMax);
    if (grid.pytorchEps)
        scale = std::max(scale, kPyTorchEps);
    scale = detail::roundScale(scale, scheme.scaleFormat);

    GroupParams params;
    params.scale = scale;
    params.inverse = 1.0f / scale;
    if (grid.affine) {
        const float shifted = std::clamp(std::min(low, 0.0f) / scale, -65536.0f, 65536.0f);
        params.zeroPoint = std::clamp(grid.qmin - roundSmall<false>(shifted), grid.qmin, grid.qmax);
    }
    return params;
}

struct Counts {
    I clipped = 0;
    I nonFinite = 0;
};

/// What one quantization pass reads and writes (codes and/or x̂ may be null).
struct Pass {
    const float* x = nullptr;
    const detail::GroupGeometry& geometry;
    const std::vector<GroupParams>& params;
    const ElementGrid& grid;
    const NumberFormat& format;
    std::int32_t* codes = nullptr;
    float* out = nullptr;
};

/// One pass over the tensor: per element v = x/scale, rounded to the grid; writes codes and/or x̂.
template<ElementKind Kind, bool Divide, bool TiesAway, bool WriteCodes, bool WriteValues>
Counts quantizePass(const Pass& pass)
{
    I clipped = 0;
    I nonFinite = 0;
    const ElementGrid& grid = pass.grid;
    const std::size_t thresholdCount = grid.thresholds.size();
    const std::uint32_t* thresholds = grid.thresholds.data();

    const auto element = [&](I index, const GroupParams& p) {
        const float xv = pass.x[index];
        std::int32_t code = 0;
        float value = 0;
        if (!isFinite(xv)) {
            ++nonFinite;
            if constexpr (Kind == ElementKind::Integer) {
                code = std::isnan(xv) ? p.zeroPoint : (xv > 0 ? grid.qmax : grid.qmin);
                value = static_cast<float>(code - p.zeroPoint) * p.scale;
            } else {
                code = std::int32_t(encodeValue(pass.format, double(xv)));
                value = grid.decoded[std::size_t(code)] * p.scale;
            }
        } else {
            float v = Divide ? xv / p.scale : xv * p.inverse;
            if constexpr (Kind == ElementKind::Integer) {
                v = std::clamp(v, static_cast<float>(grid.qmin - p.zeroPoint - 1),
                    static_cast<float>(grid.qmax - p.zeroPoint + 1));
                code = roundSmall<TiesAway>(v) + p.zeroPoint;
                if (code < grid.qmin || code > grid.qmax) {
                    ++clipped;
                    code = std::clamp(code, grid.qmin, grid.qmax);
                }
                value = static_cast<float>(code - p.zeroPoint) * p.scale;
            } else if constexpr (Kind == ElementKind::Minifloat) {
                const std::uint32_t bits = floatBits(v);
                const std::uint32_t sign = bits & 0x80000000u;
                std::uint32_t rounded = grid.rounder.roundBits(bits & 0x7FFFFFFFu);
                if (rounded > grid.rounder.maxBits) {
                    ++clipped;
                    rounded = grid.rounder.maxBits;
                }
                if constexpr (WriteCodes)
                    code = std::int32_t(grid.rounder.codeOf(rounded) | (sign ? grid.signCode : 0u));
                value = bitsFloat(rounded | sign) * p.scale;
            } else {
                const std::uint32_t key = orderedKey(v);
                std::size_t region = 0;
                for (std::size_t t = 0; t < thresholdCount; ++t)
                    region += key >= thresholds[t];
                clipped += key > grid.highestKey || key < grid.lowestKey;
                code = grid.codes[region];
                value = grid.values[region] * p.scale;
            }
        }
        if constexpr (WriteCodes)
            pass.codes[index] = code;
        if constexpr (WriteValues)
            pass.out[index] = value;
    };

    detail::forEachRun(pass.geometry, [&](I start, I count, I group, I step) {
        if (step == 0) {
            const GroupParams p = pass.params[std::size_t(group)];
            for (I j = 0; j < count; ++j)
                element(start + j, p);
        } else {
            for (I j = 0; j < count; ++j)
                element(start + j, pass.params[std::size_t(group + j * step)]);
        }
    });
    return {clipped, nonFinite};
}

template<ElementKind Kind, bool TiesAway, bool WriteCodes, bool WriteValues>
Counts quantizePass(const Pass& pass, bool divide)
{
    return divide ? quantizePass<Kind, true, TiesAway, WriteCodes, WriteValues>(pass)
                  : quantizePass<Kind, false, TiesAway, WriteCodes, WriteValues>(pass);
}

/// Picks the instantiation for the scheme; only integers have a choice of tie rule here (minifloats round
/// as their format says, tables as encodeValue decided).
template<bool WriteCodes, bool WriteValues> Counts dispatchPass(const Pass& pass, const Scheme& scheme)
{
    const bool divide = scheme.arithmetic == ScaleArithmetic::Divide;
    switch (pass.grid.kind) {
    case ElementKind::Integer:
        return scheme.elementRounding == Rounding::NearestAway
            ? quantizePass<ElementKind::Integer, true, WriteCodes, WriteValues>(pass, divide)
            : quantizePass<ElementKind::Integer, false, WriteCodes, WriteValues>(pass, divide);
    case ElementKind::Minifloat:
        return quantizePass<ElementKind::Minifloat, false, WriteCodes, WriteValues>(pass, divide);
    case ElementKind::Table:
        return quantizePass<ElementKind::Table, false, WriteCodes, WriteValues>(pass, divide);
    }
    return {};
}

/// Per-group float min/max over finite values; a group without any stays [0, 0].
void groupMinMax(const Tensor& tensor, const detail::GroupGeometry& geometry, std::vector<float>& low,
    std::vector<float>& high)
{
    low.assign(std::size_t(geometry.groupCount), std::numeric_limits<float>::infinity());
    high.assign(std::size_t(geometry.groupCount), -std::numeric_limits<float>::infinity());
    const float* x = tensor.data.data();
    detail::forEachRun(geometry, [&](I start, I count, I group, I step) {
        if (step == 0) {
            float lo = low[std::size_t(group)];
            float hi = high[std::size_t(group)];
            for (I j = 0; j < count; ++j) {
                const float v = x[start + j];
                const bool finite = isFinite(v);
                lo = finite && v < lo ? v : lo;
                hi = finite && v > hi ? v : hi;
            }
            low[std::size_t(group)] = lo;
            high[std::size_t(group)] = hi;
            return;
        }
        for (I j = 0; j < count; ++j) {
            const float v = x[start + j];
            if (!isFinite(v))
                continue;
            const auto g = std::size_t(group + j * step);
            low[g] = std::min(low[g], v);
            high[g] = std::max(high[g], v);
        }
    });
    for (std::size_t g = 0; g < low.size(); ++g)
        if (low[g] > high[g])
            low[g] = high[g] = 0;
}

void checkTensor(const Tensor& tensor)
{
    if (static_cast<I>(tensor.data.size()) != shapeElementCount(tensor.shape))
        throw Error("tensor '" + tensor.name + "' holds " + std::to_string(tensor.data.size())
            + " values but its shape " + shapeToString(tensor.shape) + " needs "
            + std::to_string(shapeElementCount(tensor.shape)));
}

void checkRanges(const Tensor& tensor, const Scheme& scheme, const detail::GroupGeometry& geometry,
    const std::vector<GroupRange>& ranges)
{
    if (static_cast<I>(ranges.size()) != geometry.groupCount)
        throw Error("expected " + std::to_string(geometry.groupCount) + " group ranges for "
            + granularityName(scheme.granularity) + " on " + shapeToString(tensor.shape) + ", got "
            + std::to_string(ranges.size()));
    for (std::size_t g = 0; g < ranges.size(); ++g) {
        const GroupRange& r = ranges[g];
        if (!std::isfinite(r.min) || !std::isfinite(r.max) || r.min > r.max)
            throw Error("group range " + std::to_string(g) + " [" + std::to_string(r.min) + ", "
                + std::to_string(r.max) + "] is not a finite interval");
    }
}

std::vector<GroupParams> paramsForGroups(const Tensor& tensor, const Scheme& scheme, const ElementGrid& grid,
    const detail::GroupGeometry& geometry, const std::optional<std::vector<GroupRange>>& ranges)
{
    std::vector<float> low;
    std::vector<float> high;
    if (ranges) {
        checkRanges(tensor, scheme, geometry, *ranges);
        low.reserve(ranges->size());
        high.reserve(ranges->size());
        for (const GroupRange& r : *ranges) {
            low.push_back(static_cast<float>(r.min));
            high.push_back(static_cast<float>(r.max));
        }
    } else {
        groupMinMax(tensor, geometry, low, high);
    }
    std::vector<GroupParams> params(low.size());
    for (std::size_t g = 0; g < low.size(); ++g)
        params[g] = groupParams(low[g], high[g], scheme, grid);
    return params;
}

// ---- BitNet: ternary and binary (quantizer.h, formats.md §5) ----

bool isBitNet(const NumberFormat& format)
{
    return std::holds_alternative<SignSpec>(format.spec);
}

/// The encode and decode values of one BitNet group.
struct BitNetGroup {
    float factor = 1; ///< ternary: s, the factor W is multiplied by
    float scale = 1; ///< decode scale: ternary 1/s, binary β
    float centre = 0; ///< binary: α
};

/// The decode scale in the scheme's scale format (F32: unchanged, the reference).
float bitnetStoredScale(float scale, const Scheme& scheme)
{
    switch (scheme.scaleFormat) {
    case ScaleFormat::F32:
        return scale;
    case ScaleFormat::E8M0:
        return detail::e8m0Scale(std::min(scale, FLT_MAX), 1.0, 0, scheme.e8m0Rounding);
    case ScaleFormat::F16:
    case ScaleFormat::BF16:
    case ScaleFormat::E4M3:
        break;
    }
    return detail::roundScale(scale, scheme.scaleFormat);
}

/// Per group: the finite values in memory order, their torch CPU means, and the scales derived from them.
std::vector<BitNetGroup> bitnetGroups(
    const Tensor& tensor, const Scheme& scheme, const detail::GroupGeometry& geometry, bool ternary)
{
    std::vector<std::vector<float>> values(std::size_t(geometry.groupCount));
    if (geometry.pattern == detail::GroupGeometry::Pattern::Single && !values.empty())
        values.front().reserve(tensor.data.size());
    const float* x = tensor.data.data();
    detail::forEachRun(geometry, [&](I start, I count, I group, I step) {
        for (I j = 0; j < count; ++j)
            if (isFinite(x[start + j]))
                values[std::size_t(group + j * step)].push_back(x[start + j]);
    });
    std::vector<BitNetGroup> groups(values.size());
    for (std::size_t g = 0; g < values.size(); ++g) {
        std::vector<float>& v = values[g];
        BitNetGroup& group = groups[g];
        if (!ternary && !v.empty())
            group.centre = blockformat::torchCpuMean(v);
        for (float& value : v)
            value = std::fabs(value);
        const float meanAbs = v.empty() ? 0.0f : blockformat::torchCpuMean(v);
        std::vector<float>().swap(v);
        if (ternary) {
            const float s = 1.0f / std::max(meanAbs, 1e-5f);
            group.scale = bitnetStoredScale(1.0f / s, scheme);
            group.factor = scheme.scaleFormat == ScaleFormat::F32 ? s : 1.0f / group.scale;
        } else {
            group.scale = meanAbs > 0 ? bitnetStoredScale(meanAbs, scheme) : 0.0f;
        }
    }
    return groups;
}

/// What one BitNet pass writes (each pointer may be null).
struct BitNetOutput {
    std::int32_t* codes = nullptr;
    float* values = nullptr;
    std::vector<std::int64_t>* negativeZeros = nullptr;
};

/// Codes and x̂ of every element; ternary rounds with `TiesAway` (the format's rounding).
template<bool Ternary, bool TiesAway>
Counts bitnetPass(const Tensor& tensor, const detail::GroupGeometry& geometry,
    const std::vector<BitNetGroup>& groups, const BitNetOutput& output)
{
    Counts counts;
    const float* x = tensor.data.data();
    const auto element = [&](I index, const BitNetGroup& group) {
        const float xv = x[index];
        const bool finite = isFinite(xv);
        counts.nonFinite += !finite;
        std::int32_t code;
        float value;
        if constexpr (Ternary) {
            const float v = xv * group.factor;
            int u = 0;
            if (!std::isnan(v)) {
                const int rounded = roundSmall<TiesAway>(std::clamp(v, -4.0f, 4.0f));
                counts.clipped += finite && (rounded < -1 || rounded > 1);
                u = std::clamp(rounded, -1, 1);
            }
            code = u + 1;
            value = static_cast<float>(u) * group.scale;
            if (u == 0 && finite && std::signbit(xv)) {
                value = -value;
                if (output.negativeZeros)
                    output.negativeZeros->push_back(index);
            }
        } else {
            code = xv - group.centre > 0.0f ? 1 : 0;
            value = (code != 0 ? 1.0f : -1.0f) * group.scale;
        }
        if (output.codes)
            output.codes[index] = code;
        if (output.values)
            output.values[index] = value;
    };
    detail::forEachRun(geometry, [&](I start, I count, I group, I step) {
        for (I j = 0; j < count; ++j)
            element(start + j, groups[std::size_t(group + j * step)]);
    });
    return counts;
}

Counts dispatchBitNet(const Tensor& tensor, const Scheme& scheme, const detail::GroupGeometry& geometry,
    const std::vector<BitNetGroup>& groups, const BitNetOutput& output)
{
    if (!std::get<SignSpec>(scheme.format.spec).ternary)
        return bitnetPass<false, false>(tensor, geometry, groups, output);
    return scheme.format.minifloat.rounding == Rounding::NearestAway
        ? bitnetPass<true, true>(tensor, geometry, groups, output)
        : bitnetPass<true, false>(tensor, geometry, groups, output);
}

/// The geometry and group scales of a BitNet scheme; checks and ignores `ranges` (see quantizer.h).
std::pair<detail::GroupGeometry, std::vector<BitNetGroup>> bitnetSetup(
    const Tensor& tensor, const Scheme& scheme, const std::optional<std::vector<GroupRange>>& ranges)
{
    detail::GroupGeometry geometry = detail::groupGeometry(scheme.granularity, tensor.shape);
    if (ranges)
        checkRanges(tensor, scheme, geometry, *ranges);
    const bool ternary = std::get<SignSpec>(scheme.format.spec).ternary;
    std::vector<BitNetGroup> groups = bitnetGroups(tensor, scheme, geometry, ternary);
    return {std::move(geometry), std::move(groups)};
}

QuantizedTensor quantizeBitNet(
    const Tensor& tensor, const Scheme& scheme, const std::optional<std::vector<GroupRange>>& ranges)
{
    const auto [geometry, groups] = bitnetSetup(tensor, scheme, ranges);
    QuantizedTensor result;
    result.scheme = scheme;
    result.shape = tensor.shape;
    result.codes.resize(tensor.data.size());
    const Counts counts = dispatchBitNet(
        tensor, scheme, geometry, groups, {result.codes.data(), nullptr, &result.negativeZeros});
    result.clippedCount = counts.clipped;
    result.nonFiniteCount = counts.nonFinite;
    result.scales.reserve(groups.size());
    for (const BitNetGroup& group : groups)
        result.scales.push_back(group.scale);
    if (!std::get<SignSpec>(scheme.format.spec).ternary) {
        result.groupOffsets.reserve(groups.size());
        for (const BitNetGroup& group : groups)
            result.groupOffsets.push_back(group.centre);
    }
    return result;
}

QuantizedTensor quantizeBlock(
    const Tensor& tensor, const Scheme& scheme, const std::optional<std::vector<GroupRange>>& ranges)
{
    if (ranges)
        throw Error("block format " + blockFormatName(scheme.blockFormat)
            + " computes its own scales; external group ranges are not supported");
    return quantizeBlockFormat(tensor, scheme);
}

} // namespace

std::vector<GroupRange> minMaxRanges(const Tensor& tensor, const Scheme& scheme)
{
    checkTensor(tensor);
    const detail::GroupGeometry geometry = detail::schemeGeometry(scheme, tensor.shape);
    std::vector<float> low;
    std::vector<float> high;
    groupMinMax(tensor, geometry, low, high);
    std::vector<GroupRange> ranges(low.size());
    for (std::size_t g = 0; g < low.size(); ++g)
        ranges[g] = {low[g], high[g]};
    return ranges;
}

QuantizedTensor quantize(
    const Tensor& tensor, const Scheme& scheme, const std::optional<std::vector<GroupRange>>& ranges)
{
    checkTensor(tensor);
    if (scheme.blockFormat != BlockFormat::None)
        return quantizeBlock(tensor, scheme, ranges);
    if (isBitNet(scheme.format))
        return quantizeBitNet(tensor, scheme, ranges);
    const detail::GroupGeometry geometry = detail::groupGeometry(scheme.granularity, tensor.shape);
    const ElementGrid grid = elementGrid(scheme);
    const std::vector<GroupParams> params = paramsForGroups(tensor, scheme, grid, geometry, ranges);

    QuantizedTensor result;
    result.scheme = scheme;
    result.shape = tensor.shape;
    result.codes.resize(tensor.data.size());
    const Counts counts = dispatchPass<true, false>(
        {tensor.data.data(), geometry, params, grid, scheme.format, result.codes.data(), nullptr}, scheme);
    result.clippedCount = counts.clipped;
    result.nonFiniteCount = counts.nonFinite;
    result.scales.reserve(params.size());
    for (const GroupParams& p : params)
        result.scales.push_back(p.scale);
    if (grid.affine) {
        result.zeroPoints.reserve(params.size());
        for (const GroupParams& p : params)
            result.zeroPoints.push_back(p.zeroPoint);
    }
    return result;
}

Tensor dequantize(const QuantizedTensor& quantized)
{
    const Scheme& scheme = quantized.scheme;
    if (scheme.blockFormat != BlockFormat::None)
        return dequantizeBlockFormat(quantized);
    const detail::GroupGeometry geometry = detail::groupGeometry(scheme.granularity, quantized.shape);
    if (static_cast<I>(quantized.codes.size()) != geometry.elementCount
        || static_cast<I>(quantized.scales.size()) != geometry.groupCount
        || (!quantized.zeroPoints.empty()
            && static_cast<I>(quantized.zeroPoints.size()) != geometry.groupCount))
        throw Error("quantized tensor of shape " + shapeToString(quantized.shape)
            + " has inconsistent code, scale or zero-point counts for " + schemeName(scheme));
    const ElementGrid grid = elementGrid(scheme);
    Tensor result;
    result.shape = quantized.shape;
    result.data.resize(quantized.codes.size());
    const std::int32_t* codes = quantized.codes.data();
    float* out = result.data.data();
    const bool integer = grid.kind == ElementKind::Integer;
    const auto codeCount = static_cast<std::int32_t>(grid.decoded.size());
    detail::forEachRun(geometry, [&](I start, I count, I group, I step) {
        for (I j = 0; j < count; ++j) {
            const auto g = std::size_t(group + j * step);
            const float scale = quantized.scales[g];
            const std::int32_t code = codes[start + j];
            if (integer) {
                const std::int32_t zp = quantized.zeroPoints.empty() ? 0 : quantized.zeroPoints[g];
                out[start + j] = static_cast<float>(code - zp) * scale;
            } else {
                if (code < 0 || code >= codeCount)
                    throw Error(
                        "code " + std::to_string(code) + " is out of range for " + scheme.format.name);
                out[start + j] = grid.decoded[std::size_t(code)] * scale;
            }
        }
    });
    const auto* sign = std::get_if<SignSpec>(&scheme.format.spec);
    if (!quantized.negativeZeros.empty() && !(sign && sign->ternary))
        throw Error("only ternary tensors carry negative zeros, not " + scheme.format.name);
    I previous = -1;
    for (const I index : quantized.negativeZeros) {
        if (index <= previous || index >= geometry.elementCount || codes[index] != 1)
            throw Error("negative zero at element " + std::to_string(index)
                + " is not an ascending index of a zero code");
        out[index] = -out[index];
        previous = index;
    }
    return result;
}

FakeQuantizeCounts fakeQuantizeInto(const Tensor& tensor, const Scheme& scheme, std::vector<float>& out,
    const std::optional<std::vector<GroupRange>>& ranges)
{
    checkTensor(tensor);
    if (scheme.blockFormat != BlockFormat::None) {
        const QuantizedTensor quantized = quantizeBlock(tensor, scheme, ranges);
        out = dequantize(quantized).data;
        return {quantized.clippedCount, quantized.nonFiniteCount};
    }
    if (isBitNet(scheme.format)) {
        const auto [geometry, groups] = bitnetSetup(tensor, scheme, ranges);
        out.resize(tensor.data.size());
        const Counts counts
            = dispatchBitNet(tensor, scheme, geometry, groups, {nullptr, out.data(), nullptr});
        return {counts.clipped, counts.nonFinite};
    }
    const detail::GroupGeometry geometry = detail::groupGeometry(scheme.granularity, tensor.shape);
    const ElementGrid grid = elementGrid(scheme);
    const std::vector<GroupParams> params = paramsForGroups(tensor, scheme, grid, geometry, ranges);
    out.resize(tensor.data.size());
    const Counts counts = dispatchPass<false, true>(
        {tensor.data.data(), geometry, params, grid, scheme.format, nullptr, out.data()}, scheme);
    return {counts.clipped, counts.nonFinite};
}

Tensor fakeQuantize(
    const Tensor& tensor, const Scheme& scheme, const std::optional<std::vector<GroupRange>>& ranges)
{
    Tensor result;
    result.name = tensor.name;
    result.shape = tensor.shape;
    fakeQuantizeInto(tensor, scheme, result.data, ranges);
    return result;
}

} // namespace qs
