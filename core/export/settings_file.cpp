#include "export/settings_file.h"

#include "base/error.h"
#include "export/aimet_encodings.h"
#include "export/settings_json.h"
#include "export/tensorrt_cache.h"
#include "io/writers.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>

namespace qs {

std::string settingsFormatName(SettingsFormat format)
{
    switch (format) {
    case SettingsFormat::Quantscope:
        return "quantscope";
    case SettingsFormat::Aimet061:
        return "aimet-0.6.1";
    case SettingsFormat::Aimet100:
        return "aimet-1.0.0";
    case SettingsFormat::TensorRt:
        return "tensorrt";
    }
    return "quantscope";
}

SettingsFormat settingsFormatByName(const std::string& name)
{
    std::string key = name;
    std::transform(
        key.begin(), key.end(), key.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    for (SettingsFormat f : {SettingsFormat::Quantscope, SettingsFormat::Aimet061, SettingsFormat::Aimet100,
             SettingsFormat::TensorRt})
        if (settingsFormatName(f) == key)
            return f;
    throw Error("unknown settings format '" + name + "' (quantscope, aimet-0.6.1, aimet-1.0.0, tensorrt)");
}

std::string settingsFormatProblem(SettingsFormat format, const Scheme& scheme)
{
    switch (format) {
    case SettingsFormat::Quantscope:
        return {};
    case SettingsFormat::Aimet061:
    case SettingsFormat::Aimet100:
        return aimetSchemeProblem(scheme);
    case SettingsFormat::TensorRt:
        return tensorRtSchemeProblem(scheme);
    }
    return {};
}

std::string serializeSettings(const SettingsDocument& document, SettingsFormat format)
{
    switch (format) {
    case SettingsFormat::Quantscope:
        return settingsToJson(document);
    case SettingsFormat::Aimet061:
        return aimetEncodingsJson(document, AimetVersion::V0_6_1);
    case SettingsFormat::Aimet100:
        return aimetEncodingsJson(document, AimetVersion::V1_0_0);
    case SettingsFormat::TensorRt:
        return tensorRtCacheText(document);
    }
    return {};
}

void writeSettingsFile(const std::string& path, const SettingsDocument& document, SettingsFormat format)
{
    const std::string text = serializeSettings(document, format);
    writeFileAtomically(path, std::as_bytes(std::span(text.data(), text.size())));
}

LoadedSettings parseSettings(std::string_view text, std::string_view source)
{
    std::string_view body = text;
    if (body.substr(0, 3) == "\xEF\xBB\xBF")
        body.remove_prefix(3);
    while (!body.empty() && std::isspace(static_cast<unsigned char>(body.front())))
        body.remove_prefix(1);
    LoadedSettings loaded;
    if (body.substr(0, 4) == "TRT-") {
        loaded.format = SettingsFormat::TensorRt;
        loaded.document = tensorRtCacheFromText(text, source);
        return loaded;
    }
    if (!body.empty() && body.front() == '{') {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(body.begin(), body.end());
        } catch (const nlohmann::json::parse_error& e) {
            throw Error(std::string(source) + ": not valid JSON: " + e.what());
        }
        if (j.contains("schema")) {
            loaded.format = SettingsFormat::Quantscope;
            loaded.document = settingsFromJson(body, source);
            return loaded;
        }
        if (j.contains("version")) {
            const bool list
                = j.at("version").is_string() && j.at("version").get<std::string>().rfind("1.", 0) == 0;
            loaded.format = list ? SettingsFormat::Aimet100 : SettingsFormat::Aimet061;
            loaded.document = aimetEncodingsFromJson(body, source);
            return loaded;
        }
        throw Error(std::string(source)
            + ": unknown settings format: a JSON object with neither \"schema\" (Quantscope settings) nor "
              "\"version\" (AIMET encodings)");
    }
    throw Error(std::string(source)
        + ": unknown settings format (expected Quantscope settings JSON, AIMET encodings or a TensorRT "
          "calibration cache starting with 'TRT-')");
}

LoadedSettings readSettingsFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throwFileError(path, {}, std::string("cannot read: ") + std::strerror(errno));
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad())
        throwFileError(path, {}, "read failed");
    return parseSettings(buffer.str(), std::filesystem::path(path).filename().string());
}

} // namespace qs
