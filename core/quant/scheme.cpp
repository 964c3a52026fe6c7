#include "quant/scheme.h"

#include "base/error.h"
#include "quant/block_formats.h"
#include "quant/group_geometry.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <utility>

namespace qs {

namespace {

std::string lower(std::string text)
{
    std::transform(text.begin(), text.end(), text.begin(),
        [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

/// Concatenation by appending (GCC 12 warns falsely about `"literal" + std::string&&`).
template<class... Parts> std::string concat(const Parts&... parts)
{
    std::string text;
    (text.append(parts), ...);
    return text;
}

template<class T> bool parseInteger(std::string_view text, T& value)
{
    if (text.empty())
        return false;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    return ec == std::errc() && ptr == end;
}

[[noreturn]] void badGranularity(const std::string& text, const std::string& why)
{
    throw Error("invalid granularity '" + text + "': " + why
        + " (use tensor, channel[:AXIS], group:SIZE[:AXIS] or block:ROWSxCOLS)");
}

template<class Enum, std::size_t N>
Enum enumByName(
    const std::array<std::pair<const char*, Enum>, N>& names, const std::string& name, const char* what)
{
    const std::string key = lower(name);
    std::string valid;
    for (const auto& [spelling, value] : names) {
        if (key == spelling)
            return value;
        valid += valid.empty() ? "" : ", ";
        valid += spelling;
    }
    throw Error(std::string("unknown ") + what + " '" + name + "' (valid: " + valid + ")");
}

template<class Enum, std::size_t N>
std::string enumName(const std::array<std::pair<const char*, Enum>, N>& names, Enum value)
{
    for (const auto& [spelling, v] : names)
        if (v == value)
            return spelling;
    return "?";
}

constexpr std::array<std::pair<const char*, RangeMode>, 3> kRangeModes {{
    {"sym", RangeMode::SymmetricNarrow},
    {"symfull", RangeMode::SymmetricFull},
    {"affine", RangeMode::Affine},
}};

constexpr std::array<std::pair<const char*, ScaleFormat>, 5> kScaleFormats {{
    {"f32", ScaleFormat::F32},
    {"f16", ScaleFormat::F16},
    {"bf16", ScaleFormat::BF16},
    {"e8m0", ScaleFormat::E8M0},
    {"e4m3", ScaleFormat::E4M3},
}};

constexpr std::array<std::pair<const char*, E8M0Rounding>, 4> kE8M0Roundings {{
    {"floor", E8M0Rounding::Floor},
    {"ceil", E8M0Rounding::Ceil},
    {"even", E8M0Rounding::Even},
    {"rceil", E8M0Rounding::RCeil},
}};

constexpr std::array<std::pair<const char*, ScaleArithmetic>, 2> kArithmetics {{
    {"reciprocal", ScaleArithmetic::MultiplyReciprocal},
    {"divide", ScaleArithmetic::Divide},
}};

constexpr std::array<std::pair<const char*, BlockFormat>, 15> kBlockFormats {{
    {"mxfp8_e4m3", BlockFormat::MXFP8_E4M3},
    {"mxfp8_e5m2", BlockFormat::MXFP8_E5M2},
    {"mxfp6_e3m2", BlockFormat::MXFP6_E3M2},
    {"mxfp6_e2m3", BlockFormat::MXFP6_E2M3},
    {"mxfp4", BlockFormat::MXFP4},
    {"mxint8", BlockFormat::MXINT8},
    {"nvfp4", BlockFormat::NVFP4},
    {"bnb_nf4", BlockFormat::BnbNF4},
    {"bnb_fp4_block", BlockFormat::BnbFP4},
    {"q8_0", BlockFormat::GgmlQ8_0},
    {"q4_0", BlockFormat::GgmlQ4_0},
    {"q4_1", BlockFormat::GgmlQ4_1},
    {"q5_0", BlockFormat::GgmlQ5_0},
    {"q5_1", BlockFormat::GgmlQ5_1},
    {"mxfp4_ggml", BlockFormat::GgmlMXFP4},
}};

} // namespace

Granularity parseGranularity(const std::string& text)
{
    const std::string key = lower(text);
    std::vector<std::string> parts;
    std::size_t begin = 0;
    while (true) {
        const std::size_t colon = key.find(':', begin);
        parts.push_back(key.substr(begin, colon == std::string::npos ? std::string::npos : colon - begin));
        if (colon == std::string::npos)
            break;
        begin = colon + 1;
    }
    const std::string& kind = parts[0];
    if (kind == "tensor") {
        if (parts.size() != 1)
            badGranularity(text, "'tensor' takes no parameters");
        return Granularity::perTensor();
    }
    if (kind == "channel") {
        if (parts.size() > 2)
            badGranularity(text, "'channel' takes one axis");
        int axis = 0;
        if (parts.size() == 2 && !parseInteger(parts[1], axis))
            badGranularity(text, "the axis must be an integer");
        return Granularity::perChannel(axis);
    }
    if (kind == "group") {
        if (parts.size() < 2 || parts.size() > 3)
            badGranularity(text, "'group' needs a size and optionally an axis");
        std::int64_t size = 0;
        if (!parseInteger(parts[1], size) || size < 1)
            badGranularity(text, "the group size must be an integer >= 1");
        int axis = -1;
        if (parts.size() == 3 && !parseInteger(parts[2], axis))
            badGranularity(text, "the axis must be an integer");
        return Granularity::perGroup(size, axis);
    }
    if (kind == "block") {
        const std::size_t x = parts.size() == 2 ? parts[1].find('x') : std::string::npos;
        std::int64_t rows = 0;
        std::int64_t cols = 0;
        if (x == std::string::npos || !parseInteger(std::string_view(parts[1]).substr(0, x), rows)
            || !parseInteger(std::string_view(parts[1]).substr(x + 1), cols))
            badGranularity(text, "'block' needs ROWSxCOLS");
        if (rows < 1 || cols < 1)
            badGranularity(text, "block sizes must be >= 1");
        return Granularity::block2D(rows, cols);
    }
    badGranularity(text, "unknown kind '" + kind + "'");
}

std::string granularityName(const Granularity& granularity)
{
    switch (granularity.kind) {
    case Granularity::Kind::PerTensor:
        return "tensor";
    case Granularity::Kind::PerChannel:
        return concat("channel:", std::to_string(granularity.axis));
    case Granularity::Kind::PerGroup:
        return granularity.axis == -1
            ? concat("group:", std::to_string(granularity.groupSize))
            : concat("group:", std::to_string(granularity.groupSize), ":", std::to_string(granularity.axis));
    case Granularity::Kind::Block2D:
        return concat(
            "block:", std::to_string(granularity.blockRows), "x", std::to_string(granularity.blockCols));
    }
    return "?";
}

std::string rangeModeName(RangeMode mode)
{
    return enumName(kRangeModes, mode);
}
RangeMode rangeModeByName(const std::string& name)
{
    return enumByName(kRangeModes, name, "range mode");
}
std::string scaleFormatName(ScaleFormat format)
{
    return enumName(kScaleFormats, format);
}
ScaleFormat scaleFormatByName(const std::string& name)
{
    return enumByName(kScaleFormats, name, "scale format");
}
std::string e8m0RoundingName(E8M0Rounding rounding)
{
    return enumName(kE8M0Roundings, rounding);
}
E8M0Rounding e8m0RoundingByName(const std::string& name)
{
    return enumByName(kE8M0Roundings, name, "E8M0 rounding");
}
std::string scaleArithmeticName(ScaleArithmetic arithmetic)
{
    return enumName(kArithmetics, arithmetic);
}
ScaleArithmetic scaleArithmeticByName(const std::string& name)
{
    return enumByName(kArithmetics, name, "scale arithmetic");
}

int scaleFormatBits(ScaleFormat format)
{
    switch (format) {
    case ScaleFormat::F32:
        return 32;
    case ScaleFormat::F16:
    case ScaleFormat::BF16:
        return 16;
    case ScaleFormat::E8M0:
    case ScaleFormat::E4M3:
        return 8;
    }
    return 32;
}

BlockFormat blockFormatByName(const std::string& name)
{
    std::string key = lower(name);
    if (key == "ggml_mxfp4")
        return BlockFormat::GgmlMXFP4;
    if (key.starts_with("ggml_"))
        key = key.substr(5);
    for (const auto& [spelling, value] : kBlockFormats)
        if (key == spelling)
            return value;
    return BlockFormat::None;
}

std::string blockFormatName(BlockFormat format)
{
    return format == BlockFormat::None ? std::string("none") : enumName(kBlockFormats, format);
}

std::vector<BlockFormat> allBlockFormats()
{
    std::vector<BlockFormat> formats;
    for (const auto& entry : kBlockFormats)
        formats.push_back(entry.second);
    return formats;
}

BlockFormatInfo blockFormatInfo(BlockFormat format)
{
    const std::string mx
        = "OCP MX v1.0 §6.3; microsoft/microxcaling, torchao to_mx (E8M0 modes floor/ceil/even/rceil)";
    const std::string ggml = "ggml-org/ggml src/ggml-quants.c quantize_row_";
    switch (format) {
    case BlockFormat::MXFP8_E4M3:
        return {"fp8_e4m3", 8, 448, "e8m0 per 32", mx};
    case BlockFormat::MXFP8_E5M2:
        return {"fp8_e5m2", 8, 57344, "e8m0 per 32", mx};
    case BlockFormat::MXFP6_E3M2:
        return {"fp6_e3m2", 6, 28, "e8m0 per 32", mx};
    case BlockFormat::MXFP6_E2M3:
        return {"fp6_e2m3", 6, 7.5, "e8m0 per 32", mx};
    case BlockFormat::MXFP4:
        return {"fp4_e2m1", 4, 6, "e8m0 per 32", mx};
    case BlockFormat::MXINT8:
        return {"int8 q/64", 8, 127.0 / 64, "e8m0 per 32", mx};
    case BlockFormat::NVFP4:
        return {"fp4_e2m1", 4, 6, "e4m3 per 16 + fp32 per tensor",
            "NVIDIA NVFP4: vLLM ref_nvfp4_quant / TensorRT-LLM (global scale 448*6/amax)"};
    case BlockFormat::BnbNF4:
        return {"nf4", 4, 1, "fp32 absmax per 64 (double quant: 8-bit per 64 + fp32 per 256 blocks)",
            "bitsandbytes quantize_4bit(quant_type='nf4'), kQuantizeBlockwise"};
    case BlockFormat::BnbFP4:
        return {"bnb_fp4", 4, 1, "fp32 absmax per 64 (double quant: 8-bit per 64 + fp32 per 256 blocks)",
            "bitsandbytes quantize_4bit(quant_type='fp4'), kQuantizeBlockwise"};
    case BlockFormat::GgmlQ8_0:
        return {"int8 [-127, 127]", 8, 127, "fp16 d per 32", ggml + "q8_0_ref"};
    case BlockFormat::GgmlQ4_0:
        return {"int4 (q-8)", 4, 8, "fp16 d per 32", ggml + "q4_0_ref"};
    case BlockFormat::GgmlQ4_1:
        return {"uint4 q*d+m", 4, 15, "fp16 d + fp16 m per 32", ggml + "q4_1_ref"};
    case BlockFormat::GgmlQ5_0:
        return {"int5 (q-16)", 5, 16, "fp16 d per 32", ggml + "q5_0_ref"};
    case BlockFormat::GgmlQ5_1:
        return {"uint5 q*d+m", 5, 31, "fp16 d + fp16 m per 32", ggml + "q5_1_ref"};
    case BlockFormat::GgmlMXFP4:
        return {"kvalues_mxfp4 (2x fp4_e2m1)", 4, 12, "e8m0 per 32 (d = 2^(e-128))",
            ggml + "mxfp4_ref (nearest kvalue, ties to the smaller magnitude)"};
    case BlockFormat::None:
        break;
    }
    return {};
}

std::string schemeName(const Scheme& scheme)
{
    if (scheme.blockFormat != BlockFormat::None) {
        std::string name = blockFormatName(scheme.blockFormat);
        if (scheme.blockSize > 0 && scheme.blockSize != defaultBlockSize(scheme.blockFormat))
            name = concat(name, " b", std::to_string(scheme.blockSize));
        if (scheme.doubleQuantization)
            name += " dq";
        return name;
    }
    std::string name = scheme.format.name;
    const bool integer = std::holds_alternative<IntegerSpec>(scheme.format.spec);
    if (integer)
        name = concat(name, " ", rangeModeName(scheme.rangeMode));
    name = concat(name, " ", granularityName(scheme.granularity));
    std::vector<std::string> details;
    if (scheme.scaleFormat == ScaleFormat::E8M0 && scheme.e8m0Rounding != E8M0Rounding::Floor)
        details.push_back(concat("scale e8m0 ", e8m0RoundingName(scheme.e8m0Rounding)));
    else if (scheme.scaleFormat != ScaleFormat::F32)
        details.push_back(concat("scale ", scaleFormatName(scheme.scaleFormat)));
    if (scheme.arithmetic != ScaleArithmetic::MultiplyReciprocal)
        details.push_back(scaleArithmeticName(scheme.arithmetic));
    if (integer && scheme.elementRounding == Rounding::NearestAway)
        details.push_back("ties away");
    for (std::size_t i = 0; i < details.size(); ++i)
        name = concat(name, i == 0 ? " (" : ", ", details[i]);
    return details.empty() ? name : concat(name, ")");
}

double effectiveBitsPerValue(const Scheme& scheme, const Shape& shape)
{
    const std::int64_t elements = shapeElementCount(shape);
    if (scheme.blockFormat != BlockFormat::None) {
        if (elements == 0)
            return 0.0;
        const double bits = blockFormatBitsPerValue(
            scheme.blockFormat, blockFormatBlockSize(scheme), scheme.doubleQuantization);
        // Tensor-level values the block format stores once: NVFP4's fp32 global scale, the fp32 mean offset
        // of bitsandbytes' double quantization.
        const bool tensorScale = scheme.blockFormat == BlockFormat::NVFP4
            || (scheme.doubleQuantization
                && (scheme.blockFormat == BlockFormat::BnbNF4 || scheme.blockFormat == BlockFormat::BnbFP4));
        return bits + (tensorScale ? 32.0 / static_cast<double>(elements) : 0.0);
    }
    const detail::GroupGeometry geometry = detail::groupGeometry(scheme.granularity, shape);
    if (elements == 0)
        return 0.0;
    const int bits = formatBits(scheme.format);
    const bool affine
        = scheme.rangeMode == RangeMode::Affine && std::holds_alternative<IntegerSpec>(scheme.format.spec);
    const double perGroupBits = scaleFormatBits(scheme.scaleFormat) + (affine ? bits : 0);
    return bits + perGroupBits * static_cast<double>(geometry.groupCount) / static_cast<double>(elements);
}

} // namespace qs
