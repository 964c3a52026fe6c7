#include "kernels/packed_kernels.h"

#include "base/error.h"
#include "formats/number_format.h"
#include "kernels/packed_backends.h"
#include "quant/block_formats.h"
#include "quant/quantizer.h"

#if defined(QS_HAVE_CUDA)
#include "kernels/cuda_packed.h"
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <variant>

namespace qs {

namespace {

using I = std::int64_t;
using namespace kernel_detail;

using Layout = PackedLayout;

/// bitsandbytes' dQuantizeNF4 decision-tree literals (doubles; x is a float promoted to double), ascending.
constexpr double kNf4Literals[15] = {-0.8480964004993439, -0.6106329262256622, -0.4599952697753906,
    -0.33967943489551544, -0.23460740596055984, -0.13791173323988914, -0.045525018125772476,
    0.03979014977812767, 0.1202552504837513, 0.2035212516784668, 0.2920137718319893, 0.3893125355243683,
    0.5016634166240692, 0.6427869200706482, 0.8614784181118011};

I chunkCount(I elements)
{
    return (elements + kKernelChunk - 1) / kKernelChunk;
}

const CpuKernels& cpuKernels(Backend backend)
{
    return backend == Backend::Scalar ? scalarKernels() : simdKernels();
}

const CpuPackedKernels& cpuPackedKernels(Backend backend)
{
    return backend == Backend::Scalar ? scalarPackedKernels() : simdPackedKernels();
}

/// Throws unless `backend` can run here and, for cuda, the CUDA packed kernels take the scheme.
void requireBackend(Backend backend, [[maybe_unused]] const Scheme& scheme,
    [[maybe_unused]] const Shape& shape, const char* what)
{
    if (backend != Backend::Cuda)
        return;
    if (!backendAvailable(backend))
        throw Error(
            std::string(what) + ": the cuda backend is not available: " + backendUnavailableReason(backend));
#if defined(QS_HAVE_CUDA)
    if (const std::string reason = cudaPackedUnsupported(scheme, shape); !reason.empty())
        throw Error(std::string(what) + ": " + reason);
#endif
}

/// The row-blocks of a block format along the last axis (blockFakeQuantError's pattern).
I planBlocks(const Shape& shape, I blockSize, FakeQuantPlan& plan)
{
    plan.elementCount = shapeElementCount(shape);
    plan.pattern = GroupPattern::Row;
    plan.rowLength = shape.empty() ? 1 : shape.back();
    plan.groupSize = blockSize;
    plan.perRow = (plan.rowLength + blockSize - 1) / blockSize;
    const I rows = plan.rowLength == 0 ? 0 : plan.elementCount / plan.rowLength;
    return rows * plan.perRow;
}

/// The element range [begin, end) of block g of a block plan.
std::pair<I, I> blockRange(const FakeQuantPlan& plan, I g)
{
    const I row = g / plan.perRow;
    const I begin = row * plan.rowLength + (g % plan.perRow) * plan.groupSize;
    return {begin, std::min(begin + plan.groupSize, (row + 1) * plan.rowLength)};
}

Tensor rangeTensor(const std::vector<MinMaxResult>& groups)
{
    Tensor t;
    t.shape = {static_cast<I>(groups.size()), 2};
    t.data.reserve(2 * groups.size());
    for (const MinMaxResult& g : groups) {
        t.data.push_back(g.min);
        t.data.push_back(g.max);
    }
    return t;
}

std::uint8_t codeByte(const NumberFormat& format, double value)
{
    return static_cast<std::uint8_t>(encodeValue(format, value) & 0xFF);
}

/// Element formats: the scales and zero points qs::quantize derives from the group min/max (quantizing the
/// (min, max) rows per channel gives each row its group's range, so the same parameters bit for bit).
PackPlan elementPlan(const CpuKernels& kernels, std::span<const float> values, const Shape& shape,
    const Scheme& scheme, int threads, PackedTensor& packed)
{
    FakeQuantPlan pattern;
    const I groupCount = planGroupPattern(shape, scheme.granularity, pattern);
    const std::vector<MinMaxResult> ranges = planGroupMinMax(kernels, pattern, groupCount, values, threads);
    Scheme perRow = scheme;
    perRow.granularity = Granularity::perChannel(0);
    const QuantizedTensor params = quantize(rangeTensor(ranges), perRow);
    PackPlan plan;
    plan.groups = fakeQuantPlan(values, shape, scheme, params.scales, params.zeroPoints);
    if (plan.groups.kind == ElementKind::Minifloat) {
        plan.kind = CodeKind::Minifloat;
        const auto& spec = std::get<MinifloatSpec>(scheme.format.spec);
        plan.signCode = 1u << (spec.exponentBits + spec.mantissaBits);
        plan.nanCode = codeByte(scheme.format, std::numeric_limits<double>::quiet_NaN());
        plan.negativeNanCode = codeByte(scheme.format, -std::numeric_limits<double>::quiet_NaN());
        plan.positiveInfinityCode = codeByte(scheme.format, std::numeric_limits<double>::infinity());
        plan.negativeInfinityCode = codeByte(scheme.format, -std::numeric_limits<double>::infinity());
    }
    packed.scales = params.scales;
    packed.zeroPoints = params.zeroPoints;
    return plan;
}

PackPlan nf4Plan(const CpuKernels& kernels, std::span<const float> values, const Shape& shape,
    const Scheme& scheme, int threads, PackedTensor& packed)
{
    PackPlan plan;
    plan.kind = CodeKind::Nf4;
    for (std::size_t k = 0; k < plan.nf4Thresholds.size(); ++k) {
        float t = static_cast<float>(kNf4Literals[k]);
        if (static_cast<double>(t) > kNf4Literals[k])
            t = std::nextafter(t, -1.0f);
        plan.nf4Thresholds[k] = t;
    }
    const I groupCount = planBlocks(shape, blockFormatBlockSize(scheme), plan.groups);
    const std::vector<MinMaxResult> blocks
        = planGroupMinMax(kernels, plan.groups, groupCount, values, threads);
    plan.groups.groups.resize(blocks.size());
    packed.scales.resize(blocks.size());
    for (std::size_t g = 0; g < blocks.size(); ++g) {
        float absmax = blocks[g].absmax;
        if (blocks[g].nonFinite > 0) {
            // bitsandbytes' fmax: NaN is ignored, ±Inf is the absmax.
            const auto [begin, end] = blockRange(plan.groups, static_cast<I>(g));
            for (I i = begin; i < end; ++i)
                absmax = std::fmax(absmax, std::fabs(values[static_cast<std::size_t>(i)]));
        }
        plan.groups.groups[g].scale = absmax;
        plan.groups.groups[g].inverse = 1.0f / std::max(absmax, 1e-38f);
        packed.scales[g] = absmax;
    }
    return plan;
}

PackPlan mxfp4Plan(const CpuKernels& kernels, std::span<const float> values, const Shape& shape,
    const Scheme& scheme, int threads, PackedTensor& packed)
{
    PackPlan plan;
    plan.kind = CodeKind::Minifloat;
    const NumberFormat element = formatByName("fp4_e2m1");
    const auto& spec = std::get<MinifloatSpec>(element.spec);
    const double elementMax = formatMaxFinite(element);
    plan.groups.kind = ElementKind::Minifloat;
    plan.groups.clipBeforeRounding = true;
    plan.groups.tiesAway = scheme.elementRounding == Rounding::NearestAway;
    plan.groups.rounder = detail::MinifloatRounder::make(spec, plan.groups.tiesAway, elementMax);
    plan.signCode = 1u << (spec.exponentBits + spec.mantissaBits);
    plan.nanCode = codeByte(element, std::numeric_limits<double>::quiet_NaN());
    const I groupCount = planBlocks(shape, blockFormatBlockSize(scheme), plan.groups);
    const std::vector<MinMaxResult> blocks
        = planGroupMinMax(kernels, plan.groups, groupCount, values, threads);
    plan.groups.groups.resize(blocks.size());
    packed.scales.resize(blocks.size());
    for (std::size_t g = 0; g < blocks.size(); ++g) {
        GroupParams& p = plan.groups.groups[g];
        int exponent = 0;
        if (blocks[g].nonFinite > 0
            || !mxSharedExponent(
                blocks[g].absmax, scheme.e8m0Rounding, elementMax, spec.mantissaBits, exponent)) {
            p.scale = std::numeric_limits<float>::quiet_NaN();
            p.inverse = 0;
        } else {
            p.scale = std::ldexp(1.0f, exponent);
            p.inverse = std::ldexp(1.0f, -exponent);
        }
        packed.scales[g] = p.scale;
    }
    return plan;
}

std::uint8_t e8m0Byte(float scale)
{
    return std::isnan(scale) ? std::uint8_t {0xFF} : static_cast<std::uint8_t>(std::ilogb(scale) + 127);
}

/// Packs one byte per element into the layout, threads splitting the output.
void packCodes(Layout layout, const std::vector<std::uint8_t>& codes, const FakeQuantPlan& groups,
    const std::vector<float>& scales, int threads, std::vector<std::uint8_t>& out)
{
    const I n = static_cast<I>(codes.size());
    const std::uint8_t* c = codes.data();
    std::uint8_t* o = out.data();
    switch (layout) {
    case Layout::Byte:
        std::memcpy(o, c, codes.size());
        return;
    case Layout::Nibble:
    case Layout::Nf4: {
        const bool highFirst = layout == Layout::Nf4;
        const std::uint8_t pad = highFirst ? 7 : 0;
        forEachThreadRange((n + 1) / 2, threads, [&](int, I first, I last) {
            for (I j = first; j < last; ++j) {
                const std::uint8_t a = c[2 * j] & 0x0F;
                const std::uint8_t b = 2 * j + 1 < n ? c[2 * j + 1] & 0x0F : pad;
                o[j] = static_cast<std::uint8_t>(highFirst ? (a << 4) | b : a | (b << 4));
            }
        });
        if (highFirst) {
            std::uint8_t* tail = o + (n + 1) / 2;
            for (const float absmax : scales) {
                std::uint32_t bits = 0;
                std::memcpy(&bits, &absmax, 4);
                for (int shift = 0; shift < 32; shift += 8)
                    *tail++ = static_cast<std::uint8_t>((bits >> shift) & 0xFF);
            }
        }
        return;
    }
    case Layout::Mxfp4: {
        const I payload = (groups.groupSize + 1) / 2;
        forEachThreadRange(static_cast<I>(scales.size()), threads, [&](int, I first, I last) {
            for (I g = first; g < last; ++g) {
                std::uint8_t* block = o + g * (1 + payload);
                block[0] = e8m0Byte(scales[static_cast<std::size_t>(g)]);
                const auto [begin, end] = blockRange(groups, g);
                for (I j = 0; j < payload; ++j) {
                    const I i = begin + 2 * j;
                    const std::uint8_t a = i < end ? c[i] & 0x0F : 0;
                    const std::uint8_t b = i + 1 < end ? c[i + 1] & 0x0F : 0;
                    block[1 + j] = static_cast<std::uint8_t>(a | (b << 4));
                }
            }
        });
        return;
    }
    }
}

} // namespace

std::string packedQuantizeUnsupported(const Scheme& scheme, const Shape& shape)
{
    if (scheme.blockFormat != BlockFormat::None) {
        if (scheme.blockFormat != BlockFormat::BnbNF4 && scheme.blockFormat != BlockFormat::MXFP4)
            return "block format " + blockFormatName(scheme.blockFormat)
                + " has no packed kernel (packed block formats: bnb_nf4, mxfp4)";
        if (scheme.blockFormat == BlockFormat::BnbNF4 && scheme.doubleQuantization)
            return "bitsandbytes double quantization has no packed kernel";
        try {
            blockFormatBlockSize(scheme);
        } catch (const Error& e) {
            return e.what();
        }
        return {};
    }
    if (std::string reason = fakeQuantErrorUnsupported(scheme, shape); !reason.empty())
        return reason;
    const NumberFormat& format = scheme.format;
    if (const auto* integer = std::get_if<IntegerSpec>(&format.spec)) {
        if (integer->bits != 8 && integer->bits != 4)
            return "integer formats pack at 8 or 4 bits, not " + std::to_string(integer->bits);
        return {};
    }
    if (format.name != "fp8_e4m3")
        return "number format '" + format.name
            + "' has no packed layout (packed element formats: 8- and 4-bit integers, fp8_e4m3)";
    return {};
}

PackedTensor packedQuantize(
    Backend backend, std::span<const float> values, const Shape& shape, const Scheme& scheme, int threads)
{
    if (const std::string reason = packedQuantizeUnsupported(scheme, shape); !reason.empty())
        throw Error("packedQuantize: " + reason);
    const I n = shapeElementCount(shape);
    if (n != static_cast<I>(values.size()))
        throw Error("packedQuantize: shape " + shapeToString(shape) + " needs " + std::to_string(n)
            + " values, got " + std::to_string(values.size()));
    requireBackend(backend, scheme, shape, "packedQuantize");
#if defined(QS_HAVE_CUDA)
    if (backend == Backend::Cuda)
        return cudaPackedQuantize(values, shape, scheme);
#endif
    const Layout layout = packedLayout(scheme);
    const CpuKernels& kernels = cpuKernels(backend);
    const int count = kernelThreads(threads);
    PackedTensor packed;
    const PackPlan plan = layout == Layout::Nf4 ? nf4Plan(kernels, values, shape, scheme, count, packed)
        : layout == Layout::Mxfp4               ? mxfp4Plan(kernels, values, shape, scheme, count, packed)
                                                : elementPlan(kernels, values, shape, scheme, count, packed);

    std::vector<std::uint8_t> codes(static_cast<std::size_t>(n));
    std::vector<EncodeCounts> counts(static_cast<std::size_t>(count));
    const CpuPackedKernels& packedKernels = cpuPackedKernels(backend);
    forEachThreadRange(chunkCount(n), count, [&](int t, I first, I last) {
        EncodeCounts& mine = counts[static_cast<std::size_t>(t)];
        for (I c = first; c < last; ++c) {
            const EncodeCounts chunk = packedKernels.encodeRange(
                plan, values.data(), c * kKernelChunk, std::min(n, (c + 1) * kKernelChunk), codes.data());
            mine.clipped += chunk.clipped;
            mine.nonFinite += chunk.nonFinite;
        }
    });
    for (const EncodeCounts& c : counts) {
        packed.clippedCount += c.clipped;
        packed.nonFiniteCount += c.nonFinite;
    }
    if (layout == Layout::Byte) {
        packed.bytes = std::move(codes);
        return packed;
    }
    packed.bytes.resize(static_cast<std::size_t>(
        packedByteCount(layout, n, static_cast<I>(plan.groups.groups.size()), plan.groups.groupSize)));
    packCodes(layout, codes, plan.groups, packed.scales, count, packed.bytes);
    return packed;
}

std::vector<float> packedDequantize(
    Backend backend, const PackedTensor& packed, const Shape& shape, const Scheme& scheme, int threads)
{
    if (const std::string reason = packedQuantizeUnsupported(scheme, shape); !reason.empty())
        throw Error("packedDequantize: " + reason);
    requireBackend(backend, scheme, shape, "packedDequantize");
#if defined(QS_HAVE_CUDA)
    if (backend == Backend::Cuda)
        return cudaPackedDequantize(packed, shape, scheme);
#endif
    const Layout layout = packedLayout(scheme);
    const I n = shapeElementCount(shape);
    UnpackPlan plan;
    FakeQuantPlan& groups = plan.groups;
    const bool blocks = layout == Layout::Nf4 || layout == Layout::Mxfp4;
    const I groupCount = blocks ? planBlocks(shape, blockFormatBlockSize(scheme), groups)
                                : planGroupPattern(shape, scheme.granularity, groups);
    const I expected = packedByteCount(layout, n, groupCount, groups.groupSize);
    if (static_cast<I>(packed.bytes.size()) != expected)
        throw Error("packedDequantize: " + schemeName(scheme) + " on " + shapeToString(shape) + " takes "
            + std::to_string(expected) + " bytes, got " + std::to_string(packed.bytes.size()));
    const bool affine = !blocks && std::holds_alternative<IntegerSpec>(scheme.format.spec)
        && scheme.rangeMode == RangeMode::Affine;
    if (!blocks && static_cast<I>(packed.scales.size()) != groupCount)
        throw Error("packedDequantize: " + std::to_string(groupCount) + " groups need as many scales, got "
            + std::to_string(packed.scales.size()));
    if (!blocks && static_cast<I>(packed.zeroPoints.size()) != (affine ? groupCount : 0))
        throw Error("packedDequantize: " + schemeName(scheme) + " takes "
            + std::to_string(affine ? groupCount : 0) + " zero points, got "
            + std::to_string(packed.zeroPoints.size()));

    // The decode table is the reference's own: qs::dequantize of every code at scale 1 (exact).
    QuantizedTensor probe;
    probe.scheme = scheme;
    const bool nibbles = layout != Layout::Byte;
    const int codeCount = nibbles ? 16 : 256;
    const std::uint8_t* bytes = packed.bytes.data();
    probe.shape = {codeCount};
    probe.scales = {1.0f};
    if (blocks) {
        probe.scheme.blockSize = 32; // one ragged block: every block format takes 32
    } else {
        probe.scheme.granularity = Granularity::perTensor();
        if (affine)
            probe.zeroPoints = {0};
    }
    const auto* integer = std::get_if<IntegerSpec>(&scheme.format.spec);
    for (int b = 0; b < codeCount; ++b) {
        std::int32_t code = b;
        if (!blocks && integer && integer->isSigned)
            code = nibbles ? (b >= 8 ? b - 16 : b) : static_cast<std::int8_t>(b);
        probe.codes.push_back(code);
    }
    const Tensor decoded = dequantize(probe);
    for (int b = 0; b < 256; ++b)
        plan.table[static_cast<std::size_t>(b)] = decoded.data[static_cast<std::size_t>(b % codeCount)];

    groups.groups.resize(static_cast<std::size_t>(groupCount));
    for (I g = 0; g < groupCount; ++g) {
        GroupParams& p = groups.groups[static_cast<std::size_t>(g)];
        if (layout == Layout::Nf4) {
            std::memcpy(&p.scale, bytes + (n + 1) / 2 + 4 * g, 4);
        } else if (layout == Layout::Mxfp4) {
            const std::uint8_t e = bytes[g * (1 + (groups.groupSize + 1) / 2)];
            p.scale = e == 0xFF ? std::numeric_limits<float>::quiet_NaN() : std::ldexp(1.0f, e - 127);
        } else {
            p.scale = packed.scales[static_cast<std::size_t>(g)];
            p.zeroPoint = affine ? packed.zeroPoints[static_cast<std::size_t>(g)] : 0;
        }
    }

    std::vector<std::uint8_t> unpacked;
    const std::uint8_t* codes = bytes;
    const int count = kernelThreads(threads);
    if (nibbles) {
        unpacked.resize(static_cast<std::size_t>(n));
        std::uint8_t* u = unpacked.data();
        if (layout == Layout::Mxfp4) {
            const I payload = (groups.groupSize + 1) / 2;
            forEachThreadRange(groupCount, count, [&](int, I first, I last) {
                for (I g = first; g < last; ++g) {
                    const std::uint8_t* block = bytes + g * (1 + payload) + 1;
                    const auto [begin, end] = blockRange(groups, g);
                    for (I i = begin; i < end; ++i)
                        u[i] = (block[(i - begin) / 2] >> (((i - begin) & 1) * 4)) & 0x0F;
                }
            });
        } else {
            const int lowShift = layout == Layout::Nf4 ? 4 : 0;
            forEachThreadRange(n, count, [&](int, I first, I last) {
                for (I i = first; i < last; ++i)
                    u[i] = (bytes[i / 2] >> ((i & 1) ? 4 - lowShift : lowShift)) & 0x0F;
            });
        }
        codes = u;
    }
    std::vector<float> out(static_cast<std::size_t>(n));
    const CpuPackedKernels& packedKernels = cpuPackedKernels(backend);
    forEachThreadRange(chunkCount(n), count, [&](int, I first, I last) {
        for (I c = first; c < last; ++c)
            packedKernels.decodeRange(
                plan, codes, c * kKernelChunk, std::min(n, (c + 1) * kKernelChunk), out.data());
    });
    return out;
}

} // namespace qs
