#include "export/settings_json.h"

#include "base/error.h"
#include "export/json_schema_validator.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace qs {

namespace {

using Ordered = nlohmann::ordered_json;
using Json = nlohmann::json;

Ordered real(double value)
{
    if (std::isnan(value))
        return "nan";
    if (std::isinf(value))
        return value > 0 ? "inf" : "-inf";
    return value;
}

double realFrom(const Json& value)
{
    if (value.is_number())
        return value.get<double>();
    const std::string text = value.get<std::string>();
    if (text == "inf")
        return std::numeric_limits<double>::infinity();
    if (text == "-inf")
        return -std::numeric_limits<double>::infinity();
    return std::numeric_limits<double>::quiet_NaN();
}

std::string granularityKind(Granularity::Kind kind)
{
    switch (kind) {
    case Granularity::Kind::PerTensor:
        return "tensor";
    case Granularity::Kind::PerChannel:
        return "channel";
    case Granularity::Kind::PerGroup:
        return "group";
    case Granularity::Kind::Block2D:
        return "block";
    }
    return "tensor";
}

Granularity::Kind granularityKindByName(const std::string& name)
{
    if (name == "channel")
        return Granularity::Kind::PerChannel;
    if (name == "group")
        return Granularity::Kind::PerGroup;
    if (name == "block")
        return Granularity::Kind::Block2D;
    return Granularity::Kind::PerTensor;
}

Ordered schemeJson(const Scheme& scheme)
{
    const Granularity& g = scheme.granularity;
    Ordered j;
    j["format"] = scheme.format.name;
    j["block_format"]
        = scheme.blockFormat == BlockFormat::None ? "none" : blockFormatName(scheme.blockFormat);
    j["block_size"] = scheme.blockSize;
    j["double_quantization"] = scheme.doubleQuantization;
    j["granularity"] = {{"kind", granularityKind(g.kind)}, {"axis", g.axis}, {"group_size", g.groupSize},
        {"block_rows", g.blockRows}, {"block_cols", g.blockCols}};
    j["range_mode"] = rangeModeName(scheme.rangeMode);
    j["scale_format"] = scaleFormatName(scheme.scaleFormat);
    j["e8m0_rounding"] = e8m0RoundingName(scheme.e8m0Rounding);
    j["arithmetic"] = scaleArithmeticName(scheme.arithmetic);
    j["element_rounding"] = scheme.elementRounding == Rounding::NearestAway ? "away" : "even";
    return j;
}

Ordered calibrationJson(const TensorSetting& s)
{
    const CalibrationOptions& o = s.calibration;
    Ordered j;
    j["method"] = calibrationMethodName(o.method);
    j["compat"] = compatibilityName(o.compat);
    j["percentile"] = o.percentile;
    j["bins"] = o.bins;
    j["quantized_bins"] = o.quantizedBins;
    j["averaging_constant"] = o.averagingConstant;
    j["start_bin"] = o.startBin;
    j["stride"] = o.stride;
    j["symmetric"] = o.symmetric ? Ordered(*o.symmetric) : Ordered(nullptr);
    j["skip_zeros"] = o.skipZeros;
    j["mse_sweep"] = o.mseSweep;
    j["mse_steps"] = o.mseSteps;
    j["histogram_bins"] = s.histogramBins;
    j["histogram_bin_width"] = s.histogramBinWidth;
    j["batches"] = s.batches;
    j["non_finite"] = s.nonFiniteCount;
    return j;
}

Ordered resultsJson(const TensorSetting& s)
{
    Ordered min = Ordered::array();
    Ordered max = Ordered::array();
    Ordered amax = Ordered::array();
    for (const GroupRange& r : s.ranges) {
        min.push_back(r.min);
        max.push_back(r.max);
        amax.push_back(std::max(std::fabs(r.min), std::fabs(r.max)));
    }
    Ordered scales = Ordered::array();
    for (float v : s.scales)
        scales.push_back(double(v));
    return {{"min", min}, {"max", max}, {"amax", amax}, {"scale", scales}, {"zero_point", s.zeroPoints}};
}

Ordered errorJson(const ErrorReport& r)
{
    return {{"count", r.count}, {"mse", real(r.mse)}, {"rmse", real(r.rmse)}, {"sqnr_db", real(r.sqnrDb)},
        {"max_abs_error", real(r.maxAbsError)}, {"mean_abs_error", real(r.meanAbsError)},
        {"rel_rmse", real(r.relativeRmse)}, {"cosine", real(r.cosine)},
        {"p50_abs_error", real(r.p50AbsError)}, {"p95_abs_error", real(r.p95AbsError)},
        {"p99_abs_error", real(r.p99AbsError)}, {"clipped_share", real(r.clippedShare)},
        {"bits_per_value", real(r.bitsPerValue)}};
}

void checkWritable(const TensorSetting& s)
{
    if (!s.shape)
        throw Error("tensor '" + s.name + "': the shape is unknown, a settings file needs it");
    if (s.scheme.blockFormat == BlockFormat::None && !(formatByName(s.scheme.format.name) == s.scheme.format))
        throw Error("tensor '" + s.name + "': format '" + s.scheme.format.name
            + "' has non-default options that a settings file cannot record");
    if (s.scales.size() != s.ranges.size()
        || (!s.zeroPoints.empty() && s.zeroPoints.size() != s.ranges.size()))
        throw Error("tensor '" + s.name + "': " + std::to_string(s.ranges.size()) + " ranges, "
            + std::to_string(s.scales.size()) + " scales and " + std::to_string(s.zeroPoints.size())
            + " zero points do not belong to one set of groups");
}

/// Reads the scheme and calibration names; a name this version does not know throws qs::Error, which the
/// caller turns into a rejected tensor.
void readNamedParts(const Json& t, TensorSetting& s)
{
    const Json& scheme = t.at("scheme");
    const std::string block = scheme.at("block_format").get<std::string>();
    if (block != "none") {
        s.scheme.blockFormat = blockFormatByName(block);
        if (s.scheme.blockFormat == BlockFormat::None)
            throw Error("unknown block format '" + block + "'");
    }
    s.scheme.format = formatByName(scheme.at("format").get<std::string>());
    s.scheme.blockSize = scheme.at("block_size").get<std::int64_t>();
    s.scheme.doubleQuantization = scheme.at("double_quantization").get<bool>();
    const Json& g = scheme.at("granularity");
    s.scheme.granularity.kind = granularityKindByName(g.at("kind").get<std::string>());
    s.scheme.granularity.axis = g.at("axis").get<int>();
    s.scheme.granularity.groupSize = g.at("group_size").get<std::int64_t>();
    s.scheme.granularity.blockRows = g.at("block_rows").get<std::int64_t>();
    s.scheme.granularity.blockCols = g.at("block_cols").get<std::int64_t>();
    s.scheme.rangeMode = rangeModeByName(scheme.at("range_mode").get<std::string>());
    s.scheme.scaleFormat = scaleFormatByName(scheme.at("scale_format").get<std::string>());
    s.scheme.e8m0Rounding = e8m0RoundingByName(scheme.at("e8m0_rounding").get<std::string>());
    s.scheme.arithmetic = scaleArithmeticByName(scheme.at("arithmetic").get<std::string>());
    s.scheme.elementRounding = scheme.at("element_rounding").get<std::string>() == "away"
        ? Rounding::NearestAway
        : Rounding::NearestEven;

    const Json& c = t.at("calibration");
    s.calibration.method = calibrationMethodByName(c.at("method").get<std::string>());
    s.calibration.compat = compatibilityByName(c.at("compat").get<std::string>());
}

TensorSetting readTensor(const Json& t, std::string_view source)
{
    TensorSetting s;
    s.name = t.at("name").get<std::string>();
    s.shape = t.at("shape").get<Shape>();
    s.sourceDtype = t.at("dtype").get<std::string>();
    s.role = tensorRoleByName(t.at("role").get<std::string>());

    const Json& c = t.at("calibration");
    CalibrationOptions& o = s.calibration;
    o.percentile = c.at("percentile").get<double>();
    o.bins = c.at("bins").get<int>();
    o.quantizedBins = c.at("quantized_bins").get<int>();
    o.averagingConstant = c.at("averaging_constant").get<double>();
    o.startBin = c.at("start_bin").get<int>();
    o.stride = c.at("stride").get<int>();
    if (!c.at("symmetric").is_null())
        o.symmetric = c.at("symmetric").get<bool>();
    o.skipZeros = c.at("skip_zeros").get<bool>();
    o.mseSweep = c.at("mse_sweep").get<bool>();
    o.mseSteps = c.at("mse_steps").get<int>();
    s.histogramBins = c.at("histogram_bins").get<std::int64_t>();
    s.histogramBinWidth = c.at("histogram_bin_width").get<double>();
    s.batches = c.at("batches").get<int>();
    s.nonFiniteCount = c.at("non_finite").get<std::int64_t>();

    const Json& r = t.at("results");
    const auto min = r.at("min").get<std::vector<double>>();
    const auto max = r.at("max").get<std::vector<double>>();
    const auto amax = r.at("amax").get<std::vector<double>>();
    const auto scales = r.at("scale").get<std::vector<double>>();
    s.zeroPoints = r.at("zero_point").get<std::vector<std::int32_t>>();
    const std::size_t groups = min.size();
    if (max.size() != groups || amax.size() != groups || scales.size() != groups
        || (!s.zeroPoints.empty() && s.zeroPoints.size() != groups))
        throw Error(std::string(source) + ": tensor '" + s.name + "': results hold " + std::to_string(groups)
            + " min, " + std::to_string(max.size()) + " max, " + std::to_string(amax.size()) + " amax, "
            + std::to_string(scales.size()) + " scale and " + std::to_string(s.zeroPoints.size())
            + " zero_point values; they must all have one per group (zero_point may be empty)");
    for (std::size_t g = 0; g < groups; ++g) {
        if (!(min[g] <= max[g]))
            throw Error(std::string(source) + ": tensor '" + s.name + "': group " + std::to_string(g)
                + " has min " + Json(min[g]).dump() + " above max " + Json(max[g]).dump());
        s.ranges.push_back({min[g], max[g]});
        s.scales.push_back(float(scales[g]));
    }

    const Json& e = t.at("error");
    ErrorReport& rep = s.report;
    rep.count = e.at("count").get<std::int64_t>();
    rep.mse = realFrom(e.at("mse"));
    rep.rmse = realFrom(e.at("rmse"));
    rep.sqnrDb = realFrom(e.at("sqnr_db"));
    rep.maxAbsError = realFrom(e.at("max_abs_error"));
    rep.meanAbsError = realFrom(e.at("mean_abs_error"));
    rep.relativeRmse = realFrom(e.at("rel_rmse"));
    rep.cosine = realFrom(e.at("cosine"));
    rep.p50AbsError = realFrom(e.at("p50_abs_error"));
    rep.p95AbsError = realFrom(e.at("p95_abs_error"));
    rep.p99AbsError = realFrom(e.at("p99_abs_error"));
    rep.clippedShare = realFrom(e.at("clipped_share"));
    rep.bitsPerValue = realFrom(e.at("bits_per_value"));
    return s;
}

/// Builds the document from JSON that already passed the schema.
SettingsDocument documentFrom(const Json& j, std::string_view source)
{
    SettingsDocument document;
    document.tool = j.at("tool").at("name").get<std::string>();
    document.toolVersion = j.at("tool").at("version").get<std::string>();
    document.date = j.at("date").get<std::string>();
    for (const Json& f : j.at("sources"))
        document.sources.push_back({f.at("path").get<std::string>(), f.at("size").get<std::uint64_t>(),
            f.at("sha256").get<std::string>()});
    for (const Json& t : j.at("tensors")) {
        TensorSetting setting = readTensor(t, source);
        try {
            readNamedParts(t, setting);
        } catch (const Error& e) {
            document.rejected.push_back({setting.name, e.what()});
            continue;
        }
        document.tensors.push_back(std::move(setting));
    }
    return document;
}

} // namespace

std::string settingsToJson(const SettingsDocument& document)
{
    Ordered j;
    j["schema"] = kSettingsSchemaId;
    j["tool"] = {{"name", document.tool}, {"version", document.toolVersion}};
    j["date"] = document.date.empty() ? utcTimestamp() : document.date;
    Ordered sources = Ordered::array();
    for (const SourceFile& f : document.sources)
        sources.push_back({{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}});
    j["sources"] = sources;
    Ordered tensors = Ordered::array();
    for (const TensorSetting& s : document.tensors) {
        checkWritable(s);
        Ordered t;
        t["name"] = s.name;
        t["shape"] = *s.shape;
        t["dtype"] = s.sourceDtype;
        t["role"] = tensorRoleName(s.role);
        t["scheme"] = schemeJson(s.scheme);
        t["calibration"] = calibrationJson(s);
        t["results"] = resultsJson(s);
        t["error"] = errorJson(s.report);
        tensors.push_back(std::move(t));
    }
    j["tensors"] = tensors;
    return j.dump(2) + "\n";
}

SettingsDocument settingsFromJson(std::string_view text, std::string_view source)
{
    Json j;
    try {
        j = Json::parse(text.begin(), text.end());
    } catch (const Json::parse_error& e) {
        throw Error(std::string(source) + ": not valid JSON: " + e.what());
    }
    if (!j.is_object() || !j.contains("schema"))
        throw Error(std::string(source) + ": not a Quantscope settings file (no \"schema\" member)");
    if (j.at("schema") != Json(kSettingsSchemaId))
        throw Error(std::string(source) + ": unsupported settings schema " + j.at("schema").dump()
            + " (this version reads \"" + std::string(kSettingsSchemaId) + "\")");
    const std::vector<SchemaViolation> violations = validateJsonText(text, settingsSchemaText());
    if (!violations.empty()) {
        std::string message
            = std::string(source) + ": the settings do not follow " + std::string(kSettingsSchemaId) + ":";
        for (std::size_t i = 0; i < violations.size() && i < 10; ++i)
            message += "\n  " + violations[i].path + ": " + violations[i].message;
        if (violations.size() > 10)
            message += "\n  ... and " + std::to_string(violations.size() - 10) + " more";
        throw Error(message);
    }

    try {
        return documentFrom(j, source);
    } catch (const Json::exception& e) {
        throw Error(std::string(source) + ": unreadable settings: " + e.what());
    }
}

} // namespace qs
