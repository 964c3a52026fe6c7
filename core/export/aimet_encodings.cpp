#include "export/aimet_encodings.h"

#include "base/error.h"
#include "export/range_from_scale.h"
#include "formats/number_format.h"

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <variant>

namespace qs {

namespace {

using Json = nlohmann::json;

struct AimetEntry {
    int bits = 8;
    bool symmetric = true;
    double scale = 0;
    std::int64_t offset = 0;
};

const IntegerSpec* integerSpec(const Scheme& scheme)
{
    return std::get_if<IntegerSpec>(&scheme.format.spec);
}

std::vector<AimetEntry> entriesOf(const TensorSetting& s)
{
    if (const std::string problem = aimetSchemeProblem(s.scheme); !problem.empty())
        throw Error("tensor '" + s.name + "' cannot be written as AIMET encodings: " + problem);
    if (s.scales.empty() || (!s.zeroPoints.empty() && s.zeroPoints.size() != s.scales.size()))
        throw Error("tensor '" + s.name + "': " + std::to_string(s.scales.size()) + " scales and "
            + std::to_string(s.zeroPoints.size()) + " zero points do not describe one set of groups");
    const IntegerSpec& spec = *integerSpec(s.scheme);
    const std::int64_t base = spec.isSigned ? -(std::int64_t(1) << (spec.bits - 1)) : 0;
    std::vector<AimetEntry> entries;
    for (std::size_t g = 0; g < s.scales.size(); ++g) {
        const std::int64_t zp = s.zeroPoints.empty() ? 0 : s.zeroPoints[g];
        entries.push_back(
            {spec.bits, s.scheme.rangeMode != RangeMode::Affine, double(s.scales[g]), base - zp});
    }
    return entries;
}

Json legacyEntry(const AimetEntry& e)
{
    const double levels = std::ldexp(1.0, e.bits) - 1;
    return {{"bitwidth", e.bits}, {"dtype", "int"}, {"is_symmetric", e.symmetric ? "True" : "False"},
        {"max", (double(e.offset) + levels) * e.scale}, {"min", double(e.offset) * e.scale},
        {"offset", e.offset}, {"scale", e.scale}};
}

Json listEntry(const TensorSetting& s, const std::vector<AimetEntry>& entries)
{
    Json scales = Json::array();
    Json offsets = Json::array();
    for (const AimetEntry& e : entries) {
        scales.push_back(e.scale);
        offsets.push_back(e.offset);
    }
    return {{"name", s.name}, {"dtype", "INT"},
        {"enc_type",
            s.scheme.granularity.kind == Granularity::Kind::PerChannel ? "PER_CHANNEL" : "PER_TENSOR"},
        {"bw", entries.front().bits}, {"is_sym", entries.front().symmetric}, {"scale", scales},
        {"offset", offsets}};
}

std::string quantScheme(const SettingsDocument& document)
{
    if (document.tensors.empty())
        return "post_training_tf";
    switch (document.tensors.front().calibration.method) {
    case CalibrationMethod::MinMax:
    case CalibrationMethod::MovingAverage:
        return "post_training_tf";
    case CalibrationMethod::Percentile:
        return "post_training_percentile";
    default:
        return "post_training_tf_enhanced";
    }
}

Json quantizerArgs(const SettingsDocument& document)
{
    int paramBits = 8;
    int activationBits = 8;
    bool foundParam = false;
    bool foundActivation = false;
    bool symmetric = true;
    bool perChannel = false;
    for (const TensorSetting& s : document.tensors) {
        const int bits = integerSpec(s.scheme)->bits;
        if (s.role == TensorRole::Weight) {
            if (!foundParam)
                paramBits = bits;
            foundParam = true;
            symmetric = symmetric && s.scheme.rangeMode != RangeMode::Affine;
            perChannel = perChannel || s.scheme.granularity.kind == Granularity::Kind::PerChannel;
        } else {
            if (!foundActivation)
                activationBits = bits;
            foundActivation = true;
        }
    }
    return {{"activation_bitwidth", activationBits}, {"dtype", "int"}, {"is_symmetric", symmetric},
        {"param_bitwidth", paramBits}, {"per_channel_quantization", perChannel},
        {"quant_scheme", quantScheme(document)}};
}

/// Builds the setting of one AIMET tensor; throws qs::Error with the reason when it cannot be represented.
TensorSetting settingFromEntries(
    const std::string& name, TensorRole role, const std::vector<AimetEntry>& entries)
{
    TensorSetting s;
    s.name = name;
    s.role = role;
    if (entries.empty())
        throw Error("no encoding entries");
    const int bits = entries.front().bits;
    const bool symmetric = entries.front().symmetric;
    if (bits < 2 || bits > 16)
        throw Error("bitwidth " + std::to_string(bits) + " is outside the 2 to 16 bits Quantscope quantizes");
    for (const AimetEntry& e : entries)
        if (e.bits != bits || e.symmetric != symmetric)
            throw Error("the per-channel entries mix bitwidths or symmetry");
    const std::int64_t half = std::int64_t(1) << (bits - 1);
    const bool isUnsignedSymmetric = symmetric && entries.front().offset == 0;
    s.scheme.format = integerFormat(bits, !isUnsignedSymmetric);
    s.scheme.rangeMode = symmetric ? RangeMode::SymmetricNarrow : RangeMode::Affine;
    s.scheme.granularity = entries.size() > 1 ? Granularity::perChannel(0) : Granularity::perTensor();
    for (const AimetEntry& e : entries) {
        const float scale = float(e.scale);
        if (!(std::isfinite(scale) && scale > 0))
            throw Error("scale " + Json(e.scale).dump() + " is not a finite positive float32");
        std::int32_t zp = 0;
        if (symmetric) {
            if (e.offset != (isUnsignedSymmetric ? 0 : -half) && e.offset != -half + 1)
                throw Error("symmetric offset " + std::to_string(e.offset) + " is neither "
                    + std::to_string(-half) + " nor 0");
        } else {
            const std::int64_t zero = -half - e.offset;
            if (zero < -half || zero > half - 1)
                throw Error("offset " + std::to_string(e.offset) + " lies outside the " + std::to_string(bits)
                    + "-bit grid");
            zp = std::int32_t(zero);
            s.zeroPoints.push_back(zp);
        }
        s.scales.push_back(scale);
        s.ranges.push_back(rangeFromScale(s.scheme, scale, zp));
    }
    return s;
}

std::int64_t integralNumber(const Json& value, const char* what)
{
    if (!value.is_number())
        throw Error(std::string(what) + " is not a number");
    const double v = value.get<double>();
    if (!(std::isfinite(v) && v == std::floor(v)))
        throw Error(std::string(what) + " " + value.dump() + " is not an integer");
    return std::int64_t(v);
}

bool legacySymmetric(const Json& value)
{
    if (value.is_boolean())
        return value.get<bool>();
    const std::string text = value.get<std::string>();
    if (text == "True" || text == "true")
        return true;
    if (text == "False" || text == "false")
        return false;
    throw Error("is_symmetric \"" + text + "\" is neither \"True\" nor \"False\"");
}

void addTensor(SettingsDocument& document, const std::string& name, TensorRole role,
    const std::function<std::vector<AimetEntry>()>& read)
{
    try {
        document.tensors.push_back(settingFromEntries(name, role, read()));
    } catch (const Error& e) {
        document.rejected.push_back({name, e.what()});
    }
}

void readLegacy(const Json& encodings, TensorRole role, SettingsDocument& document)
{
    if (!encodings.is_object())
        throw Error("expected an object of tensor names");
    for (const auto& [name, list] : encodings.items()) {
        if (!list.is_array())
            throw Error("tensor '" + name + "': expected a list of encodings");
        addTensor(document, name, role, [&list] {
            std::vector<AimetEntry> entries;
            for (const Json& entry : list) {
                if (!entry.is_object())
                    throw Error("an encoding is not an object");
                const std::string dtype = entry.value("dtype", std::string("int"));
                if (dtype != "int")
                    throw Error("dtype \"" + dtype + "\" encodings are not integer quantization");
                AimetEntry e;
                e.bits = int(integralNumber(entry.at("bitwidth"), "bitwidth"));
                e.symmetric = legacySymmetric(entry.at("is_symmetric"));
                e.offset = integralNumber(entry.at("offset"), "offset");
                if (!entry.at("scale").is_number())
                    throw Error("scale is not a number");
                e.scale = entry.at("scale").get<double>();
                entries.push_back(e);
            }
            return entries;
        });
    }
}

void readList(const Json& encodings, TensorRole role, SettingsDocument& document)
{
    if (!encodings.is_array())
        throw Error("expected a list of encodings");
    for (const Json& entry : encodings) {
        if (!entry.is_object() || !entry.contains("name") || !entry.at("name").is_string())
            throw Error("an encoding has no \"name\"");
        addTensor(document, entry.at("name").get<std::string>(), role, [&entry] {
            const std::string dtype = entry.value("dtype", std::string("INT"));
            if (dtype != "INT")
                throw Error("dtype \"" + dtype + "\" encodings are not integer quantization");
            const std::string type = entry.value("enc_type", std::string("PER_TENSOR"));
            if (type != "PER_TENSOR" && type != "PER_CHANNEL")
                throw Error("enc_type \"" + type + "\" is not supported (PER_TENSOR, PER_CHANNEL)");
            const Json& scales = entry.at("scale");
            const Json& offsets = entry.at("offset");
            if (!scales.is_array() || !offsets.is_array() || scales.size() != offsets.size())
                throw Error("\"scale\" and \"offset\" must be lists of one length");
            if (!entry.at("is_sym").is_boolean())
                throw Error("is_sym is not a boolean");
            std::vector<AimetEntry> entries;
            for (std::size_t i = 0; i < scales.size(); ++i) {
                AimetEntry e;
                e.bits = int(integralNumber(entry.at("bw"), "bw"));
                e.symmetric = entry.at("is_sym").get<bool>();
                e.offset = integralNumber(offsets[i], "offset");
                if (!scales[i].is_number())
                    throw Error("scale is not a number");
                e.scale = scales[i].get<double>();
                entries.push_back(e);
            }
            return entries;
        });
    }
}

} // namespace

std::string aimetVersionName(AimetVersion version)
{
    return version == AimetVersion::V0_6_1 ? "0.6.1" : "1.0.0";
}

std::string aimetSchemeProblem(const Scheme& scheme)
{
    if (scheme.blockFormat != BlockFormat::None)
        return "block format '" + blockFormatName(scheme.blockFormat) + "' has no AIMET encoding";
    const IntegerSpec* spec = integerSpec(scheme);
    if (!spec)
        return "format '" + scheme.format.name + "' is not an integer format";
    if (spec->bits < 2 || spec->bits > 16)
        return "bitwidth " + std::to_string(spec->bits) + " is outside 2 to 16";
    if (scheme.rangeMode == RangeMode::SymmetricFull)
        return "range mode 'symfull' (amax/127.5) has no AIMET encoding; use 'sym' or 'affine'";
    if (scheme.scaleFormat != ScaleFormat::F32)
        return "scale format '" + scaleFormatName(scheme.scaleFormat) + "' is not float32";
    const Granularity& g = scheme.granularity;
    if (g.kind == Granularity::Kind::PerTensor)
        return {};
    if (g.kind == Granularity::Kind::PerChannel && g.axis == 0)
        return {};
    return "granularity '" + granularityName(g) + "' is neither per tensor nor per channel along axis 0";
}

std::string aimetEncodingsJson(const SettingsDocument& document, AimetVersion version)
{
    Json j;
    j["version"] = aimetVersionName(version);
    j["excluded_layers"] = Json::array();
    if (version == AimetVersion::V0_6_1) {
        Json params = Json::object();
        Json activations = Json::object();
        for (const TensorSetting& s : document.tensors) {
            Json list = Json::array();
            for (const AimetEntry& e : entriesOf(s))
                list.push_back(legacyEntry(e));
            (s.role == TensorRole::Weight ? params : activations)[s.name] = list;
        }
        j["param_encodings"] = params;
        j["activation_encodings"] = activations;
        j["quantizer_args"] = quantizerArgs(document);
    } else {
        Json params = Json::array();
        Json activations = Json::array();
        for (const TensorSetting& s : document.tensors)
            (s.role == TensorRole::Weight ? params : activations).push_back(listEntry(s, entriesOf(s)));
        j["param_encodings"] = params;
        j["activation_encodings"] = activations;
    }
    return j.dump(4) + "\n";
}

SettingsDocument aimetEncodingsFromJson(std::string_view text, std::string_view source)
{
    const std::string where(source);
    Json j;
    try {
        j = Json::parse(text.begin(), text.end());
    } catch (const Json::parse_error& e) {
        throw Error(where + ": not valid JSON: " + e.what());
    }
    if (!j.is_object() || !j.contains("version") || !j.at("version").is_string())
        throw Error(where + ": not AIMET encodings (no \"version\" string)");
    const std::string version = j.at("version").get<std::string>();
    const bool list = version.rfind("1.", 0) == 0;
    if (!list && version.rfind("0.", 0) != 0)
        throw Error(where + ": unsupported AIMET encodings version \"" + version
            + "\" (0.6.1 and 1.0.0 are read, and the older 0.x layouts)");
    SettingsDocument document;
    document.tool = "AIMET";
    document.toolVersion = version;
    const std::pair<const char*, TensorRole> sections[] {
        {"param_encodings", TensorRole::Weight}, {"activation_encodings", TensorRole::Activation}};
    for (const auto& [key, role] : sections) {
        if (!j.contains(key))
            continue;
        try {
            if (list)
                readList(j.at(key), role, document);
            else
                readLegacy(j.at(key), role, document);
        } catch (const Error& e) {
            throw Error(where + ": " + key + ": " + e.what());
        } catch (const Json::exception& e) {
            throw Error(where + ": " + key + ": " + e.what());
        }
    }
    return document;
}

} // namespace qs
