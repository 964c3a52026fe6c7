#include "export/tensorrt_cache.h"

#include "base/error.h"
#include "export/range_from_scale.h"
#include "formats/number_format.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>

namespace qs {

namespace {

std::string_view trim(std::string_view text)
{
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!text.empty() && blank(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && blank(text.back()))
        text.remove_suffix(1);
    return text;
}

bool parseHeader(std::string_view line, TensorRtCacheHeader& header)
{
    if (line.substr(0, 4) != "TRT-")
        return false;
    line.remove_prefix(4);
    const std::size_t dash = line.find('-');
    if (dash == 0 || dash == std::string_view::npos || dash > 9 || dash + 1 == line.size())
        return false;
    int version = 0;
    for (char c : line.substr(0, dash)) {
        if (c < '0' || c > '9')
            return false;
        version = version * 10 + (c - '0');
    }
    header.version = version;
    header.algorithm = std::string(line.substr(dash + 1));
    return true;
}

bool parseHex(std::string_view text, std::uint32_t& bits)
{
    if (text.empty() || text.size() > 8)
        return false;
    bits = 0;
    for (char c : text) {
        int digit;
        if (c >= '0' && c <= '9')
            digit = c - '0';
        else if (c >= 'a' && c <= 'f')
            digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            digit = c - 'A' + 10;
        else
            return false;
        bits = bits << 4 | std::uint32_t(digit);
    }
    return true;
}

} // namespace

std::string tensorRtSchemeProblem(const Scheme& scheme)
{
    if (scheme.blockFormat != BlockFormat::None)
        return "block format '" + blockFormatName(scheme.blockFormat)
            + "' cannot be written; a TensorRT cache holds symmetric int8 per tensor only";
    if (scheme.format.name != "int8" || scheme.rangeMode != RangeMode::SymmetricNarrow
        || scheme.granularity.kind != Granularity::Kind::PerTensor || scheme.scaleFormat != ScaleFormat::F32)
        return "scheme '" + schemeName(scheme)
            + "' cannot be written; a TensorRT cache holds symmetric int8 per tensor only (--format int8 "
              "--granularity tensor, range sym, scale f32)";
    return {};
}

std::string tensorRtCacheText(const SettingsDocument& document, const TensorRtCacheHeader& header)
{
    std::string text = "TRT-" + std::to_string(header.version) + "-" + header.algorithm + "\n";
    for (const TensorSetting& s : document.tensors) {
        if (const std::string problem = tensorRtSchemeProblem(s.scheme); !problem.empty())
            throw Error("tensor '" + s.name + "': " + problem);
        if (s.scales.size() != 1)
            throw Error("tensor '" + s.name + "' holds " + std::to_string(s.scales.size())
                + " scales; a TensorRT cache needs exactly one");
        char hex[9];
        std::snprintf(hex, sizeof hex, "%08x", unsigned(std::bit_cast<std::uint32_t>(s.scales.front())));
        text += s.name + ": " + hex + "\n";
    }
    return text;
}

SettingsDocument tensorRtCacheFromText(std::string_view text, std::string_view source)
{
    const std::string where(source);
    SettingsDocument document;
    bool headerSeen = false;
    std::set<std::string> names;
    std::size_t lineNumber = 0;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        const std::string_view raw = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        ++lineNumber;
        const std::string_view line = trim(raw);
        if (line.empty())
            continue;
        const std::string at = where + ": line " + std::to_string(lineNumber) + ": ";
        if (!headerSeen) {
            TensorRtCacheHeader header;
            if (!parseHeader(line, header))
                throw Error(at + "expected a header such as 'TRT-8601-EntropyCalibration2', found '"
                    + std::string(line.substr(0, 60)) + "'");
            document.tool = "TensorRT " + header.algorithm;
            document.toolVersion = std::to_string(header.version);
            headerSeen = true;
            continue;
        }
        const std::size_t colon = line.rfind(':');
        if (colon == std::string_view::npos)
            throw Error(at + "expected 'NAME: HEX', found '" + std::string(line.substr(0, 60)) + "'");
        const std::string name(trim(line.substr(0, colon)));
        const std::string_view value = trim(line.substr(colon + 1));
        if (name.empty())
            throw Error(at + "the tensor name is empty");
        std::uint32_t bits = 0;
        if (!parseHex(value, bits))
            throw Error(at + "'" + std::string(value.substr(0, 20)) + "' is not 1 to 8 hex digits");
        if (!names.insert(name).second)
            throw Error(at + "tensor '" + name + "' is listed twice");
        const float scale = std::bit_cast<float>(bits);
        if (!(std::isfinite(scale) && scale > 0)) {
            document.rejected.push_back({name,
                "line " + std::to_string(lineNumber) + ": scale " + std::string(value) + " ("
                    + std::to_string(scale) + ") is not a finite positive number"});
            continue;
        }
        TensorSetting s;
        s.name = name;
        s.role = TensorRole::Activation;
        s.scales = {scale};
        s.ranges = {rangeFromScale(s.scheme, scale)};
        document.tensors.push_back(std::move(s));
    }
    if (!headerSeen)
        throw Error(where + ": line 1: empty; expected a header such as 'TRT-8601-EntropyCalibration2'");
    return document;
}

} // namespace qs
