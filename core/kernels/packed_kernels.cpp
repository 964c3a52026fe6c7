#include "kernels/packed_kernels.h"

#include "base/error.h"
#include "formats/number_format.h"
#include "kernels/block_scales.h"
#include "kernels/encoder_table.h"
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

/// The absmax (over the finite values) and non-finite count of every block of a block plan
/// (blockAbsmaxRange), the threads splitting the blocks.
std::vector<MinMaxResult> blockAbsmax(
    const CpuKernels& kernels, const FakeQuantPlan& plan, I groupCount, const float* values, int threads)
{
    std::vector<MinMaxResult> blocks(static_cast<std::size_t>(groupCount));
    const I perBatch = std::max<I>(1, kKernelChunk / plan.groupSize);
    forEachThreadRange((groupCount + perBatch - 1) / perBatch, threads, [&](int, I first, I last) {
        for (I b = first; b < last; ++b) {
            const I g = b * perBatch;
            kernels.blockAbsmaxRange(plan, values, g, std::min(groupCount, g + perBatch), blocks.data() + g);
        }
    });
    return blocks;
}

PackPlan nf4Plan(const CpuKernels& kernels, std::span<const float> values, const Shape& shape,
    const Scheme& scheme, int threads, PackedTensor& packed)
{
    PackPlan plan;
    plan.kind = CodeKind::Nf4;
    plan.nf4Thresholds = blockformat::bnbNf4Thresholds();
    plan.nf4Bins = tableBins(keysAbove(plan.nf4Thresholds), 16, 2);
    const I groupCount = planBlocks(shape, blockFormatBlockSize(scheme), plan.groups);
    const std::vector<MinMaxResult> blocks
        = blockAbsmax(kernels, plan.groups, groupCount, values.data(), threads);
    plan.groups.groups.resize(blocks.size());
    packed.scales.resize(blocks.size());
    for (std::size_t g = 0; g < blocks.size(); ++g) {
        float absmax = blocks[g].absmax;
        if (blocks[g].nonFinite > 0) {
            // bitsandbytes' fmax: NaN is ignored, ±Inf is the absmax.
            const auto [begin, end] = rowGroupRange(plan.groups, static_cast<I>(g));
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
        = blockAbsmax(kernels, plan.groups, groupCount, values.data(), threads);
    const BlockScaler scaler(scheme, 0.0f);
    plan.groups.groups.resize(blocks.size());
    packed.scales.resize(blocks.size());
    for (std::size_t g = 0; g < blocks.size(); ++g) {
        const BlockScale scale = scaler(blocks[g]);
        plan.groups.groups[g].scale = scale.scale;
        plan.groups.groups[g].inverse = scale.inverse;
        packed.scales[g] = scale.scale;
    }
    return plan;
}

/// The E8M0 byte of an MX scale 2^e (e in [-127, 127]): e + 127, which is the float's exponent field (2^-127,
/// the one subnormal, has field 0); 0xFF for NaN.
std::uint8_t e8m0Byte(float scale)
{
    return std::isnan(scale) ? std::uint8_t {0xFF}
                             : static_cast<std::uint8_t>(detail::floatBits(scale) >> 23);
}

/// Packs `count` one-byte codes two per byte into out[0, ceil(count / 2)): the even element in the low
/// nibble (the high one when highFirst), an odd count's last byte padded with `pad`.
void packNibbles(const std::uint8_t* codes, I count, bool highFirst, std::uint8_t pad, std::uint8_t* out)
{
    const I pairs = count / 2;
    if (highFirst) {
        for (I j = 0; j < pairs; ++j)
            out[j] = static_cast<std::uint8_t>((codes[2 * j] << 4) | (codes[2 * j + 1] & 0x0F));
    } else {
        for (I j = 0; j < pairs; ++j)
            out[j] = static_cast<std::uint8_t>((codes[2 * j] & 0x0F) | (codes[2 * j + 1] << 4));
    }
    if (count % 2 != 0) {
        const auto last = static_cast<std::uint8_t>(codes[count - 1] & 0x0F);
        out[pairs] = static_cast<std::uint8_t>(highFirst ? (last << 4) | pad : last | (pad << 4));
    }
}

/// Encodes the elements of chunk `c` (kKernelChunk elements) into their bytes of `out` in `layout` (Byte,
/// Nibble, Nf4); `scratch` holds the chunk's codes before they are packed two per byte.
EncodeCounts encodeChunk(const CpuPackedKernels& kernels, const PackPlan& plan, Layout layout,
    const float* values, I c, std::vector<std::uint8_t>& scratch, std::uint8_t* out)
{
    const I begin = c * kKernelChunk;
    const I end = std::min(plan.groups.elementCount, begin + kKernelChunk);
    if (layout == Layout::Byte)
        return kernels.encodeRange(plan, values, begin, end, out + begin);
    scratch.resize(static_cast<std::size_t>(end - begin));
    const EncodeCounts counts = kernels.encodeRange(plan, values, begin, end, scratch.data());
    const bool highFirst = layout == Layout::Nf4;
    packNibbles(scratch.data(), end - begin, highFirst, highFirst ? 7 : 0, out + begin / 2);
    return counts;
}

/// Encodes the MXFP4 blocks [first, last) into their E8M0 byte and payload in `out`.
EncodeCounts encodeMxfp4Blocks(const CpuPackedKernels& kernels, const PackPlan& plan, const float* values,
    const std::vector<float>& scales, I first, I last, std::vector<std::uint8_t>& scratch, std::uint8_t* out)
{
    const FakeQuantPlan& groups = plan.groups;
    const I begin = rowGroupRange(groups, first).first;
    const I end = rowGroupRange(groups, last - 1).second;
    scratch.resize(static_cast<std::size_t>(end - begin));
    const EncodeCounts counts = kernels.encodeRange(plan, values, begin, end, scratch.data());
    const I payload = (groups.groupSize + 1) / 2;
    for (I g = first; g < last; ++g) {
        std::uint8_t* block = out + g * (1 + payload);
        block[0] = e8m0Byte(scales[static_cast<std::size_t>(g)]);
        const auto [blockBegin, blockEnd] = rowGroupRange(groups, g);
        std::uint8_t* packedEnd = block + 1 + (blockEnd - blockBegin + 1) / 2;
        packNibbles(scratch.data() + (blockBegin - begin), blockEnd - blockBegin, false, 0, block + 1);
        std::fill(packedEnd, block + 1 + payload, std::uint8_t {0});
    }
    return counts;
}

/// NF4's absmax per block after the codes, little-endian fp32.
void appendNf4Absmax(const std::vector<float>& scales, std::uint8_t* tail)
{
    for (const float absmax : scales) {
        std::uint32_t bits = 0;
        std::memcpy(&bits, &absmax, 4);
        for (int shift = 0; shift < 32; shift += 8)
            *tail++ = static_cast<std::uint8_t>((bits >> shift) & 0xFF);
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

void packedQuantizeInto(Backend backend, std::span<const float> values, const Shape& shape,
    const Scheme& scheme, PackedTensor& packed, int threads)
{
    if (const std::string reason = packedQuantizeUnsupported(scheme, shape); !reason.empty())
        throw Error("packedQuantize: " + reason);
    const I n = shapeElementCount(shape);
    if (n != static_cast<I>(values.size()))
        throw Error("packedQuantize: shape " + shapeToString(shape) + " needs " + std::to_string(n)
            + " values, got " + std::to_string(values.size()));
    requireBackend(backend, scheme, shape, "packedQuantize");
#if defined(QS_HAVE_CUDA)
    if (backend == Backend::Cuda) {
        packed = cudaPackedQuantize(values, shape, scheme);
        return;
    }
#endif
    const Layout layout = packedLayout(scheme);
    const CpuKernels& kernels = cpuKernels(backend);
    const int count = kernelThreads(threads);
    packed.zeroPoints.clear();
    const PackPlan plan = layout == Layout::Nf4 ? nf4Plan(kernels, values, shape, scheme, count, packed)
        : layout == Layout::Mxfp4               ? mxfp4Plan(kernels, values, shape, scheme, count, packed)
                                                : elementPlan(kernels, values, shape, scheme, count, packed);
    const I groupCount = static_cast<I>(plan.groups.groups.size());
    packed.bytes.resize(
        static_cast<std::size_t>(packedByteCount(layout, n, groupCount, plan.groups.groupSize)));
    std::uint8_t* out = packed.bytes.data();

    std::vector<EncodeCounts> counts(static_cast<std::size_t>(count));
    const CpuPackedKernels& packedKernels = cpuPackedKernels(backend);
    // MXFP4 blocks are encoded whole (their payload bytes start with the block), about a chunk at a time.
    const I blocksPerBatch = std::max<I>(1, kKernelChunk / plan.groups.groupSize);
    const I batches
        = layout == Layout::Mxfp4 ? (groupCount + blocksPerBatch - 1) / blocksPerBatch : chunkCount(n);
    forEachThreadRange(batches, count, [&](int t, I first, I last) {
        EncodeCounts& mine = counts[static_cast<std::size_t>(t)];
        std::vector<std::uint8_t> scratch;
        for (I b = first; b < last; ++b) {
            const EncodeCounts batch = layout == Layout::Mxfp4
                ? encodeMxfp4Blocks(packedKernels, plan, values.data(), packed.scales, b * blocksPerBatch,
                    std::min(groupCount, (b + 1) * blocksPerBatch), scratch, out)
                : encodeChunk(packedKernels, plan, layout, values.data(), b, scratch, out);
            mine.clipped += batch.clipped;
            mine.nonFinite += batch.nonFinite;
        }
    });
    packed.clippedCount = 0;
    packed.nonFiniteCount = 0;
    for (const EncodeCounts& c : counts) {
        packed.clippedCount += c.clipped;
        packed.nonFiniteCount += c.nonFinite;
    }
    if (layout == Layout::Nf4)
        appendNf4Absmax(packed.scales, out + (n + 1) / 2);
}

PackedTensor packedQuantize(
    Backend backend, std::span<const float> values, const Shape& shape, const Scheme& scheme, int threads)
{
    PackedTensor packed;
    packedQuantizeInto(backend, values, shape, scheme, packed, threads);
    return packed;
}

namespace {

/// Throws unless packedDequantize takes `scheme` on `shape` and `backend` runs it here.
void requireUnpack(Backend backend, const Scheme& scheme, const Shape& shape)
{
    if (const std::string reason = packedQuantizeUnsupported(scheme, shape); !reason.empty())
        throw Error("packedDequantize: " + reason);
    requireBackend(backend, scheme, shape, "packedDequantize");
}

/// The plan of a packedDequantize call of a supported scheme after its checks of the byte, scale and
/// zero-point counts (before any output is allocated: an absurd shape meets the byte count first).
UnpackPlan unpackPlan(const PackedTensor& packed, const Shape& shape, const Scheme& scheme)
{
    const Layout layout = packedLayout(scheme);
    const I n = shapeElementCount(shape);
    UnpackPlan plan;
    plan.layout = layout;
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
    bool isUnsigned = true;
    bool isSigned = true;
    for (int b = 0; b < 256; ++b) {
        const float value = decoded.data[static_cast<std::size_t>(b % codeCount)];
        plan.table[static_cast<std::size_t>(b)] = value;
        isUnsigned &= value == static_cast<float>(b);
        isSigned &= value == static_cast<float>(static_cast<std::int8_t>(b));
    }
    plan.byteValues = isUnsigned ? UnpackPlan::ByteValues::Unsigned
        : isSigned               ? UnpackPlan::ByteValues::Signed
                                 : UnpackPlan::ByteValues::Table;
    const auto* minifloat = std::get_if<MinifloatSpec>(&scheme.format.spec);
    if (!nibbles && minifloat && minifloat->exponentBits + minifloat->mantissaBits == 7) {
        UnpackPlan::MinifloatBytes& format = plan.minifloat;
        format.exponentBits = minifloat->exponentBits;
        format.mantissaBits = minifloat->mantissaBits;
        format.bias = minifloat->bias;
        format.subnormalScale = std::ldexp(1.0f, 1 - format.bias - format.mantissaBits);
        bool exact = true;
        for (int b = 0; b < 256 && exact; ++b) {
            const float value = plan.table[static_cast<std::size_t>(b)];
            if (detail::floatBits(minifloatByte(format, static_cast<std::uint8_t>(b)))
                == detail::floatBits(value))
                continue;
            exact = format.exceptionCount < static_cast<int>(format.exceptionCodes.size());
            if (exact) {
                format.exceptionCodes[static_cast<std::size_t>(format.exceptionCount)]
                    = static_cast<std::uint8_t>(b);
                format.exceptionValues[static_cast<std::size_t>(format.exceptionCount++)] = value;
            }
        }
        if (exact)
            plan.byteValues = UnpackPlan::ByteValues::Minifloat;
    }

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
    return plan;
}

/// Decodes every element of a checked plan into out, chunks split over the threads.
void decodeAll(
    Backend backend, const UnpackPlan& plan, const std::uint8_t* bytes, std::span<float> out, int threads)
{
    const I n = static_cast<I>(out.size());
    const CpuPackedKernels& packedKernels = cpuPackedKernels(backend);
    forEachThreadRange(chunkCount(n), kernelThreads(threads), [&](int, I first, I last) {
        for (I c = first; c < last; ++c)
            packedKernels.decodeRange(
                plan, bytes, c * kKernelChunk, std::min(n, (c + 1) * kKernelChunk), out.data());
    });
}

} // namespace

void packedDequantizeInto(Backend backend, const PackedTensor& packed, const Shape& shape,
    const Scheme& scheme, std::span<float> out, int threads)
{
    requireUnpack(backend, scheme, shape);
#if defined(QS_HAVE_CUDA)
    if (backend == Backend::Cuda) {
        const std::vector<float> decoded = cudaPackedDequantize(packed, shape, scheme);
        if (decoded.size() != out.size())
            throw Error("packedDequantize: shape " + shapeToString(shape) + " has "
                + std::to_string(decoded.size()) + " elements, the output holds "
                + std::to_string(out.size()));
        std::copy(decoded.begin(), decoded.end(), out.begin());
        return;
    }
#endif
    const UnpackPlan plan = unpackPlan(packed, shape, scheme);
    const I n = shapeElementCount(shape);
    if (static_cast<I>(out.size()) != n)
        throw Error("packedDequantize: shape " + shapeToString(shape) + " has " + std::to_string(n)
            + " elements, the output holds " + std::to_string(out.size()));
    decodeAll(backend, plan, packed.bytes.data(), out, threads);
}

std::vector<float> packedDequantize(
    Backend backend, const PackedTensor& packed, const Shape& shape, const Scheme& scheme, int threads)
{
    requireUnpack(backend, scheme, shape);
#if defined(QS_HAVE_CUDA)
    if (backend == Backend::Cuda)
        return cudaPackedDequantize(packed, shape, scheme);
#endif
    const UnpackPlan plan = unpackPlan(packed, shape, scheme);
    std::vector<float> out(static_cast<std::size_t>(shapeElementCount(shape)));
    decodeAll(backend, plan, packed.bytes.data(), out, threads);
    return out;
}

} // namespace qs
