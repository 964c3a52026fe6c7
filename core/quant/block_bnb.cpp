#include "base/error.h"
#include "quant/block_formats.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace qs::blockformat {

namespace {

constexpr std::int64_t kDoubleQuantBlock = 256;

// bitsandbytes nf4_dequantization_lut (csrc/kernels.cu) = get_4bit_type("nf4").
constexpr std::array<float, 16> kNf4 = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

/// get_4bit_type("fp4"): {0, 0.0625, 8, 12, 4, 6, 2, 3} divided by 12 in float32, sign in bit 3.
float fp4Value(std::uint32_t code)
{
    static constexpr std::array<float, 8> kMagnitudes = {0.0f, 0.0625f, 8.0f, 12.0f, 4.0f, 6.0f, 2.0f, 3.0f};
    const float magnitude = kMagnitudes[code & 7] / 12.0f;
    return (code & 8) ? -magnitude : magnitude;
}

// dQuantizeNF4 and dQuantizeFP4 of csrc/kernels.cu are binary decision trees over sorted float32 thresholds
// with strict '>' (each node is one threshold): the leaf they reach is the number of thresholds below x. The
// functions below count them instead of branching (NaN is below none: code 0 as in the tree), which gives the
// same code for every float (checked against the literal trees on all 2^32 inputs) and lets the compiler
// vectorise the block loop.

/// The thresholds of dQuantizeNF4, ascending: code = #{k : x > kNf4Thresholds[k]}.
constexpr std::array<float, 15> kNf4Thresholds = {-0.8480964004993439f, -0.6106329262256622f,
    -0.4599952697753906f, -0.33967943489551544f, -0.23460740596055984f, -0.13791173323988914f,
    -0.045525018125772476f, 0.03979014977812767f, 0.1202552504837513f, 0.2035212516784668f,
    0.2920137718319893f, 0.3893125355243683f, 0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f};

/// The magnitude thresholds of dQuantizeFP4, ascending, and the 3-bit code of each leaf (by how many of them
/// |x| exceeds).
constexpr std::array<float, 7> kFp4Thresholds
    = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f, 0.4166667f, 0.583333f, 0.8333333f};
constexpr std::array<std::uint32_t, 8> kFp4LeafCodes
    = {0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011};

std::uint32_t quantizeNf4(float x)
{
    std::uint32_t code = 0;
    for (const float t : kNf4Thresholds)
        code += static_cast<std::uint32_t>(x > t);
    return code;
}

std::uint32_t quantizeFp4(float x)
{
    const std::uint32_t sign = static_cast<std::uint32_t>(x < 0) << 3;
    const float magnitude = std::fabs(x);
    std::uint32_t leaf = 0;
    for (const float t : kFp4Thresholds)
        leaf += static_cast<std::uint32_t>(magnitude > t);
    return kFp4LeafCodes[leaf] + sign;
}

/// fp4Value of every code, so that dequantization is one lookup.
const std::array<float, 16>& fp4Table()
{
    static const std::array<float, 16> table = [] {
        std::array<float, 16> values {};
        for (std::uint32_t code = 0; code < 16; ++code)
            values[code] = fp4Value(code);
        return values;
    }();
    return table;
}

void checkCode(std::int32_t code)
{
    if (code < 0 || code > 15)
        throw Error("bitsandbytes 4-bit code " + std::to_string(code) + " is outside [0, 15]");
}

// dQuantize<0> of csrc/kernels.cu: binary search over the 256 sorted map values, then the nearer neighbour.
std::uint8_t quantizeDynamic(const std::vector<float>& code, float x)
{
    int pivot = 127;
    int upperPivot = 255;
    int lowerPivot = 0;
    float lower = -1.0f;
    float upper = 1.0f;
    float value = code[static_cast<std::size_t>(pivot)];
    for (int step = 64; step > 0; step >>= 1) {
        if (x > value) {
            lowerPivot = pivot;
            lower = value;
            pivot += step;
        } else {
            upperPivot = pivot;
            upper = value;
            pivot -= step;
        }
        value = code[static_cast<std::size_t>(pivot)];
    }
    if (upperPivot == 255)
        upper = code[255];
    if (lowerPivot == 0)
        lower = code[0];
    if (x > value) {
        const float midpoint = (upper + value) * 0.5f;
        return static_cast<std::uint8_t>(x > midpoint ? upperPivot : pivot);
    }
    const float midpoint = (lower + value) * 0.5f;
    return static_cast<std::uint8_t>(x < midpoint ? lowerPivot : pivot);
}

struct DoubleQuant {
    std::vector<std::int32_t> codes; ///< per block
    std::vector<float> chunkAbsmax; ///< per 256 blocks
    float offset = 0;
};

DoubleQuant doubleQuantize(const std::vector<float>& absmax)
{
    const std::vector<float>& map = bnbDynamicMap();
    DoubleQuant dq;
    dq.offset = torchCpuMean(absmax);
    dq.codes.resize(absmax.size());
    const std::size_t n = absmax.size();
    for (std::size_t start = 0; start < n; start += kDoubleQuantBlock) {
        const std::size_t end = std::min(n, start + static_cast<std::size_t>(kDoubleQuantBlock));
        float chunkMax = 0.0f;
        for (std::size_t i = start; i < end; ++i)
            chunkMax = std::fmax(chunkMax, std::fabs(absmax[i] - dq.offset));
        dq.chunkAbsmax.push_back(chunkMax);
        const float inverse = 1.0f / chunkMax;
        for (std::size_t i = start; i < end; ++i)
            dq.codes[i] = chunkMax == 0.0f ? 0 : quantizeDynamic(map, (absmax[i] - dq.offset) * inverse);
    }
    return dq;
}

/// The absmax values dequantization uses: float32(map[q_g] * absmax2) + offset.
std::vector<float> decodeDoubleQuant(const DoubleQuant& dq)
{
    const std::vector<float>& map = bnbDynamicMap();
    std::vector<float> scales(dq.codes.size());
    for (std::size_t i = 0; i < scales.size(); ++i)
        scales[i]
            = map[static_cast<std::size_t>(dq.codes[i])] * dq.chunkAbsmax[i / kDoubleQuantBlock] + dq.offset;
    return scales;
}

std::int64_t chunkCount(std::int64_t groups)
{
    return (groups + kDoubleQuantBlock - 1) / kDoubleQuantBlock;
}

/// torch.linspace(start, end, steps) in float32 as torch's CPU kernel (RangeFactoriesKernel.cpp) computes it.
/// The AVX2 and AVX512 builds of that kernel are compiled with FMA, and the compiler fuses
/// `start + step * i` and `end - step * j`; checked against torch 2.11 (without the fusion 42 of the 256 map
/// values differ by one ulp).
std::vector<float> torchLinspace(float start, float end, std::int64_t steps)
{
    std::vector<float> values(static_cast<std::size_t>(steps));
    const float step = (end - start) / static_cast<float>(steps - 1);
    const std::int64_t halfway = steps / 2;
    for (std::int64_t i = 0; i < steps; ++i) {
        const float v = i < halfway ? std::fma(step, static_cast<float>(i), start)
                                    : std::fma(-step, static_cast<float>(steps - i - 1), end);
        values[static_cast<std::size_t>(i)] = v;
    }
    return values;
}

/// The L-lane float vector torch's Vectorized<float> is on the DEFAULT and AVX2 CPU kernels.
constexpr int kTorchLanes = 8;
using Lanes = std::array<float, kTorchLanes>;

void addInto(float& acc, float v)
{
    acc += v;
}
void addInto(Lanes& acc, const Lanes& v)
{
    for (int l = 0; l < kTorchLanes; ++l)
        acc[static_cast<std::size_t>(l)] += v[static_cast<std::size_t>(l)];
}

std::int64_t ceilLog2(std::int64_t x)
{
    if (x <= 2)
        return 1;
    return std::bit_width(static_cast<std::uint64_t>(x) - 1);
}

/// aten/src/ATen/native/cpu/SumKernel.cpp row_sum(): multi_row_sum over rows of 4 (cascade of 4 levels),
/// then the tail, then the 4 partial sums in order. `load(i)` gives element i of the row.
template<typename T, typename Load> T torchRowSum(std::int64_t size, const Load& load)
{
    constexpr std::int64_t ilp = 4;
    constexpr std::int64_t levels = 4;
    const std::int64_t rows = size / ilp;
    const std::int64_t levelPower = std::max<std::int64_t>(4, ceilLog2(rows) / levels);
    const std::int64_t levelStep = std::int64_t {1} << levelPower;
    const std::int64_t levelMask = levelStep - 1;
    T acc[levels][ilp] = {};
    std::int64_t i = 0;
    while (i + levelStep <= rows) {
        for (std::int64_t j = 0; j < levelStep; ++j, ++i)
            for (std::int64_t k = 0; k < ilp; ++k)
                addInto(acc[0][k], load(i * ilp + k));
        for (std::int64_t j = 1; j < levels; ++j) {
            for (std::int64_t k = 0; k < ilp; ++k) {
                addInto(acc[j][k], acc[j - 1][k]);
                acc[j - 1][k] = T {};
            }
            if ((i & (levelMask << (j * levelPower))) != 0)
                break;
        }
    }
    for (; i < rows; ++i)
        for (std::int64_t k = 0; k < ilp; ++k)
            addInto(acc[0][k], load(i * ilp + k));
    for (std::int64_t j = 1; j < levels; ++j)
        for (std::int64_t k = 0; k < ilp; ++k)
            addInto(acc[0][k], acc[j][k]);
    T total = acc[0][0];
    for (std::int64_t t = rows * ilp; t < size; ++t)
        addInto(total, load(t));
    for (std::int64_t k = 1; k < ilp; ++k)
        addInto(total, acc[0][k]);
    return total;
}

} // namespace

const std::vector<float>& bnbDynamicMap()
{
    static const std::vector<float> map = [] {
        // 10 ** (-(max_exponent_bits - 1) + i) for i = 0..6, a Python float that torch casts to float32.
        static constexpr std::array<double, 7> kDecades = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};
        std::vector<float> values;
        for (std::size_t i = 0; i < kDecades.size(); ++i) {
            const std::vector<float> boundaries = torchLinspace(0.1f, 1.0f, (std::int64_t {1} << i) + 1);
            const float decade = static_cast<float>(kDecades[i]);
            for (std::size_t k = 0; k + 1 < boundaries.size(); ++k) {
                const float mean = (boundaries[k] + boundaries[k + 1]) / 2.0f;
                values.push_back(decade * mean);
                values.push_back(-(decade * mean));
            }
        }
        values.push_back(0.0f);
        values.push_back(1.0f);
        std::sort(values.begin(), values.end());
        return values;
    }();
    return map;
}

namespace {

/// torch.mean's CPU order over the n values get(0), ..., get(n - 1).
template<class Get> float torchMean(std::int64_t n, const Get& get)
{
    float sum;
    if (n >= kTorchLanes) {
        // vectorized_inner_sum: whole vectors through row_sum, the scalar tail, then the lanes in order.
        const std::int64_t vectors = n / kTorchLanes;
        const Lanes lanes = torchRowSum<Lanes>(vectors, [&](std::int64_t v) {
            Lanes out;
            for (int l = 0; l < kTorchLanes; ++l)
                out[static_cast<std::size_t>(l)] = get(v * kTorchLanes + l);
            return out;
        });
        sum = 0.0f;
        for (std::int64_t k = vectors * kTorchLanes; k < n; ++k)
            sum += get(k);
        for (const float lane : lanes)
            sum += lane;
    } else {
        sum = torchRowSum<float>(n, get);
    }
    return sum / static_cast<float>(n);
}

} // namespace

float torchCpuMean(const std::vector<float>& values)
{
    return torchMean(static_cast<std::int64_t>(values.size()),
        [&](std::int64_t k) { return values[static_cast<std::size_t>(k)]; });
}

float torchCpuMeanAbs(const float* x, std::int64_t n)
{
    return torchMean(n, [&](std::int64_t k) { return std::fabs(x[k]); });
}

std::uint32_t bnbElementCode(BlockFormat format, float v)
{
    return format == BlockFormat::BnbNF4 ? quantizeNf4(v) : quantizeFp4(v);
}

const std::array<float, 15>& bnbNf4Thresholds()
{
    return kNf4Thresholds;
}

float bnbElementValue(BlockFormat format, std::uint32_t code)
{
    return format == BlockFormat::BnbNF4 ? kNf4[code & 15] : fp4Table()[code & 15];
}

float bnbBlockAbsmax(const float* x, std::int64_t length)
{
    float blockMax = 0.0f;
    for (std::int64_t i = 0; i < length; ++i)
        blockMax = std::fmax(blockMax, std::fabs(x[i]));
    return blockMax;
}

BnbBlock quantizeBnbBlock(BlockFormat format, const float* x, std::int64_t length, std::int32_t* codes,
    std::int64_t countFrom, std::int64_t countTo)
{
    BnbBlock block;
    const float blockMax = bnbBlockAbsmax(x, length);
    block.absmax = blockMax;
    const float inverse = 1.0f / std::max(blockMax, 1e-38f);
    for (std::int64_t i = countFrom; i < countTo; ++i) {
        if (!std::isfinite(x[i]))
            ++block.nonFinite;
        if (std::fabs(x[i] * inverse) > 1.0f)
            ++block.clipped;
    }
    // The kernel clamps x * inverse to [-1, 1] before its tree; every threshold lies inside (-1, 1), so the
    // clamp cannot change the code and is left out (one loop per table so that each vectorises).
    if (format == BlockFormat::BnbNF4) {
        for (std::int64_t i = 0; i < length; ++i)
            codes[i] = static_cast<std::int32_t>(quantizeNf4(x[i] * inverse));
    } else {
        for (std::int64_t i = 0; i < length; ++i)
            codes[i] = static_cast<std::int32_t>(quantizeFp4(x[i] * inverse));
    }
    return block;
}

std::vector<float> bnbDecodeAbsmax(const std::vector<float>& absmax, bool doubleQuantization)
{
    if (!doubleQuantization)
        return absmax;
    return decodeDoubleQuant(doubleQuantize(absmax));
}

void dequantizeBnbCodes(
    BlockFormat format, const std::int32_t* codes, std::int64_t count, float absmax, float* out)
{
    const std::array<float, 16>& table = format == BlockFormat::BnbNF4 ? kNf4 : fp4Table();
    for (std::int64_t i = 0; i < count; ++i)
        out[i] = table[static_cast<std::size_t>(codes[i] & 15)] * absmax;
}

QuantizedTensor quantizeBnb(const Tensor& tensor, const Scheme& scheme, const Geometry& g)
{
    QuantizedTensor q = emptyQuantized(tensor, scheme, g);
    std::vector<float> absmax(static_cast<std::size_t>(g.groupCount()));
    for (std::int64_t r = 0; r < g.rows; ++r) {
        for (std::int64_t b = 0; b < g.blocksPerRow; ++b) {
            const std::int64_t start = g.blockStart(r, b);
            const std::int64_t length = g.blockLength(b);
            const BnbBlock block = quantizeBnbBlock(
                scheme.blockFormat, tensor.data.data() + start, length, q.codes.data() + start, 0, length);
            absmax[static_cast<std::size_t>(r * g.blocksPerRow + b)] = block.absmax;
            q.clippedCount += block.clipped;
            q.nonFiniteCount += block.nonFinite;
        }
    }
    if (!scheme.doubleQuantization) {
        q.scales = absmax;
        return q;
    }
    const DoubleQuant dq = doubleQuantize(absmax);
    q.scales = decodeDoubleQuant(dq);
    q.zeroPoints = dq.codes;
    q.groupOffsets = dq.chunkAbsmax;
    q.groupOffsets.push_back(dq.offset);
    return q;
}

Tensor dequantizeBnb(const QuantizedTensor& quantized, const Geometry& g)
{
    Tensor out = emptyDequantized(quantized);
    for (std::int64_t r = 0; r < g.rows; ++r) {
        for (std::int64_t b = 0; b < g.blocksPerRow; ++b) {
            const std::int64_t start = g.blockStart(r, b);
            for (std::int64_t i = start; i < start + g.blockLength(b); ++i)
                checkCode(quantized.codes[static_cast<std::size_t>(i)]);
            dequantizeBnbCodes(quantized.scheme.blockFormat, quantized.codes.data() + start, g.blockLength(b),
                quantized.scales[static_cast<std::size_t>(r * g.blocksPerRow + b)], out.data.data() + start);
        }
    }
    return out;
}

std::vector<std::uint8_t> packBnb(const QuantizedTensor& quantized, const Geometry& g)
{
    const std::int64_t groups = g.groupCount();
    const bool doubleQuant = quantized.scheme.doubleQuantization;
    if (doubleQuant
        && (static_cast<std::int64_t>(quantized.zeroPoints.size()) != groups
            || static_cast<std::int64_t>(quantized.groupOffsets.size()) != chunkCount(groups) + 1))
        throw Error("quantized " + blockFormatName(quantized.scheme.blockFormat)
            + " tensor lacks its double-quantization state (absmax codes, absmax2, offset)");
    const std::uint8_t zeroCode = quantized.scheme.blockFormat == BlockFormat::BnbNF4 ? 7 : 0;
    const std::size_t n = quantized.codes.size();
    std::vector<std::uint8_t> out;
    out.reserve((n + 1) / 2 + static_cast<std::size_t>(groups) * 4 + 8);
    for (std::size_t i = 0; i < n; i += 2) {
        const auto high = static_cast<std::uint8_t>(quantized.codes[i] & 0x0F);
        const std::uint8_t low
            = i + 1 < n ? static_cast<std::uint8_t>(quantized.codes[i + 1] & 0x0F) : zeroCode;
        out.push_back(static_cast<std::uint8_t>((high << 4) | low));
    }
    if (!doubleQuant) {
        for (const float absmax : quantized.scales)
            appendF32(out, absmax);
        return out;
    }
    for (const std::int32_t code : quantized.zeroPoints)
        out.push_back(static_cast<std::uint8_t>(code & 0xFF));
    for (const float value : quantized.groupOffsets)
        appendF32(out, value);
    return out;
}

} // namespace qs::blockformat
