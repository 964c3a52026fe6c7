// The scalar reference of the packed kernels: one element at a time, in index order, with the quantizer's
// own arithmetic (quant/quantizer.cpp quantizePass, quant/block_bnb.cpp, quant/block_mx.cpp).

#include "kernels/packed_backends.h"

#include <algorithm>
#include <cmath>

namespace qs::kernel_detail {

namespace {

using I = std::int64_t;

/// The quantizer's roundSmall: |v| < 2^22 after its clamp, so adding 1.5·2^23 leaves no fraction bits.
std::int32_t roundSmall(float v, bool tiesAway)
{
    constexpr float kMagic = 12582912.0f; // 1.5 * 2^23
    const float even = (v + kMagic) - kMagic;
    auto rounded = static_cast<std::int32_t>(even);
    if (tiesAway) {
        const float below = v - even;
        rounded += (v > 0 && below == 0.5f) - (v < 0 && below == -0.5f);
    }
    return rounded;
}

EncodeCounts encodeRange(const PackPlan& plan, const float* x, I begin, I end, std::uint8_t* codes)
{
    EncodeCounts counts;
    GroupCursor cursor(plan.groups, begin);
    for (I i = begin; i < end; ++i) {
        while (i >= cursor.end)
            cursor.advance();
        bool clipped = false;
        codes[i - begin] = encodeElement(plan, cursor.params(), x[i], clipped);
        counts.clipped += clipped;
        counts.nonFinite += !isFiniteFloat(x[i]);
    }
    return counts;
}

void decodeRange(const UnpackPlan& plan, const std::uint8_t* bytes, I begin, I end, float* out)
{
    GroupCursor cursor(plan.groups, begin);
    CodeRun codes = codeRun(plan, bytes, cursor.group);
    for (I i = begin; i < end; ++i) {
        while (i >= cursor.end) {
            cursor.advance();
            codes = codeRun(plan, bytes, cursor.group);
        }
        const GroupParams& p = cursor.params();
        out[i] = (plan.table[codes.code(i)] - static_cast<float>(p.zeroPoint)) * p.scale;
    }
}

} // namespace

std::uint8_t encodeElement(const PackPlan& plan, const GroupParams& p, float x, bool& clipped)
{
    const FakeQuantPlan& g = plan.groups;
    switch (plan.kind) {
    case CodeKind::Integer: {
        std::int32_t code;
        if (!isFiniteFloat(x)) {
            code = std::isnan(x) ? p.zeroPoint : (x > 0 ? g.qmax : g.qmin);
        } else {
            float v = g.divide ? x / p.scale : x * p.inverse;
            v = std::clamp(v, static_cast<float>(g.qmin - p.zeroPoint - 1),
                static_cast<float>(g.qmax - p.zeroPoint + 1));
            code = roundSmall(v, g.tiesAway) + p.zeroPoint;
            clipped = code < g.qmin || code > g.qmax;
            code = std::clamp(code, g.qmin, g.qmax);
        }
        return static_cast<std::uint8_t>(code & 0xFF);
    }
    case CodeKind::Minifloat: {
        if (std::isnan(p.scale))
            return plan.nanCode;
        if (std::isnan(x))
            return std::signbit(x) ? plan.negativeNanCode : plan.nanCode;
        if (!isFiniteFloat(x))
            return x > 0 ? plan.positiveInfinityCode : plan.negativeInfinityCode;
        const std::uint32_t bits = detail::floatBits(g.divide ? x / p.scale : x * p.inverse);
        const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
        std::uint32_t rounded = g.rounder.roundBits(magnitude);
        clipped = (g.clipBeforeRounding ? magnitude : rounded) > g.rounder.maxBits;
        rounded = std::min(rounded, g.rounder.maxBits);
        return static_cast<std::uint8_t>(
            g.rounder.codeOf(rounded) | ((bits >> 31) != 0 ? plan.signCode : 0u));
    }
    case CodeKind::Nf4: {
        const float s = x * p.inverse;
        clipped = std::fabs(s) > 1.0f;
        std::uint8_t code = 0;
        for (const float t : plan.nf4Thresholds)
            code += s > t;
        return code;
    }
    }
    return 0;
}

const CpuPackedKernels& scalarPackedKernels()
{
    static const CpuPackedKernels kernels {"scalar C++", &encodeRange, &decodeRange};
    return kernels;
}

} // namespace qs::kernel_detail
