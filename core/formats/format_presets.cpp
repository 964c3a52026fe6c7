#include "base/error.h"
#include "formats/number_format.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

namespace qs {

namespace {

NumberFormat minifloatPreset(std::string name, std::string reference, bool standard, int exponentBits,
    int mantissaBits, int bias, MinifloatSpecials specials, MinifloatOptions options = {})
{
    NumberFormat format;
    format.name = std::move(name);
    format.reference = std::move(reference);
    format.standard = standard;
    format.spec = MinifloatSpec {exponentBits, mantissaBits, bias, specials};
    format.minifloat = options;
    return format;
}

NumberFormat lookupPreset(std::string name, std::string reference, LookupSpec spec)
{
    NumberFormat format;
    format.name = std::move(name);
    format.reference = std::move(reference);
    format.spec = std::move(spec);
    return format;
}

int genericBias(int exponentBits)
{
    return (1 << (exponentBits - 1)) - 1;
}

std::vector<NumberFormat> minifloatPresets()
{
    return {fp16Format(), bf16Format(), fp8E4M3Format(), fp8E5M2Format(), fp6E3M2Format(), fp6E2M3Format(),
        fp4E2M1Format(), fp4E1M2Format(), fp4E3M0Format()};
}

std::string lowercaseTrimmed(const std::string& text)
{
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos)
        return {};
    std::string result = text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
    std::transform(
        result.begin(), result.end(), result.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return result;
}

// Parses the digits of text[begin, end) (1 to 3 of them); -1 when they are not that.
int smallNumber(const std::string& text, std::size_t begin, std::size_t end)
{
    if (end <= begin || end - begin > 3)
        return -1;
    int value = 0;
    for (std::size_t i = begin; i < end; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(text[i])))
            return -1;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

std::string validNames()
{
    std::string names;
    for (const NumberFormat& format : allFormats())
        names += format.name + ", ";
    return names + "int9..int15, uint9..uint15, eXmY (generic minifloat, 1 <= X <= 8, 0 <= Y <= 10)";
}

} // namespace

NumberFormat integerFormat(int bits, bool isSigned)
{
    if (bits < 2 || bits > 16)
        throw Error("integer formats have 2 to 16 bits, not " + std::to_string(bits));
    NumberFormat format;
    format.name = (isSigned ? "int" : "uint") + std::to_string(bits);
    const std::string b = std::to_string(bits);
    format.reference = isSigned ? "two's complement, full range [-2^(" + b + "-1), 2^(" + b
            + "-1)-1] (ONNX QuantizeLinear ranges); RNE like nearbyint, saturating"
                                : "unsigned binary, range [0, 2^" + b
            + "-1] (ONNX QuantizeLinear ranges); RNE like nearbyint, saturating";
    format.spec = IntegerSpec {bits, isSigned};
    return format;
}

NumberFormat fp16Format()
{
    return minifloatPreset("fp16", "IEEE 754 binary16 (Eigen::half / ml_dtypes; F16C RNE, overflow -> Inf)",
        true, 5, 10, 15, MinifloatSpecials::Ieee, minifloatCompatibility("ml_dtypes"));
}

NumberFormat bf16Format()
{
    return minifloatPreset("bf16", "bfloat16 (Eigen/ml_dtypes float_to_bfloat16_rtne; RNE, overflow -> Inf)",
        true, 8, 7, 127, MinifloatSpecials::Ieee, minifloatCompatibility("ml_dtypes"));
}

NumberFormat fp8E4M3Format()
{
    return minifloatPreset("fp8_e4m3", "ml_dtypes float8_e4m3fn (include/float8.h); OCP OFP8 v1.0 E4M3", true,
        4, 3, 7, MinifloatSpecials::NanOnlyFn);
}

NumberFormat fp8E5M2Format()
{
    return minifloatPreset("fp8_e5m2", "ml_dtypes float8_e5m2 (include/float8.h); OCP OFP8 v1.0 E5M2", true,
        5, 2, 15, MinifloatSpecials::Ieee);
}

NumberFormat fp6E3M2Format()
{
    return minifloatPreset("fp6_e3m2", "ml_dtypes float6_e3m2fn (include/mxfloat.h); OCP MX v1.0 FP6 E3M2",
        true, 3, 2, 3, MinifloatSpecials::FiniteOnly);
}

NumberFormat fp6E2M3Format()
{
    return minifloatPreset("fp6_e2m3", "ml_dtypes float6_e2m3fn (include/mxfloat.h); OCP MX v1.0 FP6 E2M3",
        true, 2, 3, 1, MinifloatSpecials::FiniteOnly);
}

NumberFormat fp4E2M1Format()
{
    return minifloatPreset("fp4_e2m1", "ml_dtypes float4_e2m1fn (include/mxfloat.h); OCP MX v1.0 FP4 E2M1",
        true, 2, 1, 1, MinifloatSpecials::FiniteOnly);
}

NumberFormat fp4E1M2Format()
{
    return minifloatPreset("fp4_e1m2",
        "defined generically (bias 2^(E-1)-1 = 0, no Inf/NaN like the OCP MX "
        "types); not in OCP MX v1.0, ml_dtypes or microxcaling",
        false, 1, 2, genericBias(1), MinifloatSpecials::FiniteOnly);
}

NumberFormat fp4E3M0Format()
{
    return minifloatPreset("fp4_e3m0",
        "defined generically (bias 2^(E-1)-1 = 3, no Inf/NaN like the OCP MX "
        "types); not in OCP MX v1.0, ml_dtypes or microxcaling",
        false, 3, 0, genericBias(3), MinifloatSpecials::FiniteOnly);
}

NumberFormat minifloatFormat(int exponentBits, int mantissaBits)
{
    std::string name = "e";
    name += std::to_string(exponentBits);
    name += 'm';
    name += std::to_string(mantissaBits);
    if (exponentBits < 1 || exponentBits > 8 || mantissaBits < 0 || mantissaBits > 10)
        throw Error("number format '" + name
            + "': a generic eXmY minifloat needs 1 <= X <= 8 exponent bits and 0 <= Y <= 10 mantissa bits");
    for (NumberFormat& preset : minifloatPresets()) {
        const auto& spec = std::get<MinifloatSpec>(preset.spec);
        if (spec.exponentBits == exponentBits && spec.mantissaBits == mantissaBits)
            return preset;
    }
    const int bias = genericBias(exponentBits);
    return minifloatPreset(name,
        "generic sign+E" + std::to_string(exponentBits) + "M" + std::to_string(mantissaBits)
            + ", bias 2^(E-1)-1 = " + std::to_string(bias)
            + ", no Inf/NaN, defined generically like the OCP MX types",
        false, exponentBits, mantissaBits, bias, MinifloatSpecials::FiniteOnly);
}

NumberFormat nf4Format()
{
    LookupSpec spec;
    spec.values = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f,
        0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f,
        0.5626170039176941f, 0.7229568362236023f, 1.0f};
    // dQuantizeNF4's literals; four differ from the float32 midpoints by an ulp.
    spec.thresholds = {-0.8480964004993439f, -0.6106329262256622f, -0.4599952697753906f,
        -0.33967943489551544f, -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f,
        0.03979014977812767f, 0.1202552504837513f, 0.2035212516784668f, 0.2920137718319893f,
        0.3893125355243683f, 0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f};
    spec.tie = LookupTie::Lower;
    return lookupPreset("nf4",
        "bitsandbytes functional.py get_4bit_type('nf4'); csrc/kernels.cu nf4_dequantization_lut, "
        "dQuantizeNF4 (strict '>' tree)",
        std::move(spec));
}

NumberFormat bnbFp4Format()
{
    LookupSpec spec;
    const float magnitudes[8]
        = {0.0f, 0.005208333333f, 0.66666667f, 1.0f, 0.33333333f, 0.5f, 0.16666667f, 0.25f};
    for (float m : magnitudes)
        spec.values.push_back(m);
    for (float m : magnitudes)
        spec.values.push_back(-m);
    // dQuantizeFP4's literals on |x|; 0.583333f is not the float32 midpoint 0.58333337f.
    spec.thresholds = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f, 0.4166667f, 0.583333f, 0.8333333f};
    spec.tie = LookupTie::Lower;
    spec.signMagnitude = true;
    return lookupPreset("bnb_fp4",
        "bitsandbytes functional.py get_4bit_type('fp4'); csrc/kernels.cu fp4_dequantization_lut, "
        "dQuantizeFP4 (sign bit 3, strict '>' tree on |x|)",
        std::move(spec));
}

NumberFormat iq4nlFormat()
{
    LookupSpec spec;
    spec.values = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    spec.tie = LookupTie::Upper;
    return lookupPreset("iq4_nl",
        "ggml src/ggml-common.h kvalues_iq4nl (raw int8; blocks scale by d = max/-127); "
        "ggml-quants.c best_index_int8 (tie -> upper)",
        std::move(spec));
}

NumberFormat ternaryFormat()
{
    NumberFormat format;
    format.name = "ternary";
    format.reference
        = "BitNet b1.58: transformers integrations/bitnet.py WeightQuant, clamp(torch.round(x), -1, 1)";
    format.spec = SignSpec {true};
    return format;
}

NumberFormat binaryFormat()
{
    NumberFormat format;
    format.name = "binary";
    format.reference = "BitNet (arXiv 2310.11453): Sign(x) = +1 if x > 0 else -1";
    format.spec = SignSpec {false};
    return format;
}

std::vector<NumberFormat> allFormats()
{
    std::vector<NumberFormat> formats;
    for (bool isSigned : {true, false}) {
        for (int bits = 2; bits <= 8; ++bits)
            formats.push_back(integerFormat(bits, isSigned));
        formats.push_back(integerFormat(16, isSigned));
    }
    for (NumberFormat& format : minifloatPresets())
        formats.push_back(std::move(format));
    formats.push_back(nf4Format());
    formats.push_back(bnbFp4Format());
    formats.push_back(iq4nlFormat());
    formats.push_back(ternaryFormat());
    formats.push_back(binaryFormat());
    return formats;
}

NumberFormat formatByName(const std::string& name)
{
    const std::string key = lowercaseTrimmed(name);
    // Built once: the fused kernels look their element formats up on every call.
    static const std::vector<NumberFormat> formats = allFormats();
    for (const NumberFormat& format : formats)
        if (format.name == key)
            return format;

    const bool isUnsigned = key.starts_with("uint");
    if (isUnsigned || key.starts_with("int")) {
        const int bits = smallNumber(key, isUnsigned ? 4 : 3, key.size());
        if (bits >= 0) {
            if (bits < 2 || bits > 16)
                throw Error("number format '" + name + "': integer formats have 2 to 16 bits");
            return integerFormat(bits, !isUnsigned);
        }
    }
    if (key.starts_with("e")) {
        const auto m = key.find('m');
        const int exponentBits = m == std::string::npos ? -1 : smallNumber(key, 1, m);
        const int mantissaBits = m == std::string::npos ? -1 : smallNumber(key, m + 1, key.size());
        if (exponentBits >= 0 && mantissaBits >= 0)
            return minifloatFormat(exponentBits, mantissaBits);
    }
    throw Error("unknown number format '" + name + "'; valid names: " + validNames());
}

MinifloatOptions minifloatCompatibility(const std::string& name)
{
    const std::string key = lowercaseTrimmed(name);
    using R = Rounding;
    if (key == "ml_dtypes" || key == "pytorch")
        return {R::NearestEven, OverflowPolicy::NonFinite, InfPolicy::Propagate, NanPolicy::NegativeZero};
    if (key == "ml_dtypes_saturate")
        return {R::NearestEven, OverflowPolicy::Saturate, InfPolicy::Propagate, NanPolicy::NegativeZero};
    if (key == "cuda_satfinite" || key == "onnx_saturate")
        return {R::NearestEven, OverflowPolicy::Saturate, InfPolicy::Saturate, NanPolicy::PositiveMax};
    if (key == "onnx_nosat")
        return {R::NearestEven, OverflowPolicy::NonFinite, InfPolicy::Propagate, NanPolicy::PositiveMax};
    throw Error("unknown minifloat compatibility '" + name
        + "'; valid names: ml_dtypes, ml_dtypes_saturate, pytorch, cuda_satfinite, onnx_saturate, "
          "onnx_nosat");
}

} // namespace qs
