#include "export/settings_document.h"

#include "base/error.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>

namespace qs {

namespace {

std::string lower(std::string_view text)
{
    std::string out(text);
    std::transform(
        out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}

} // namespace

std::string tensorRoleName(TensorRole role)
{
    return role == TensorRole::Weight ? "weight" : "activation";
}

TensorRole tensorRoleByName(const std::string& name)
{
    const std::string key = lower(name);
    if (key == "weight")
        return TensorRole::Weight;
    if (key == "activation")
        return TensorRole::Activation;
    throw Error("unknown tensor role '" + name + "' (weight, activation)");
}

TensorRole tensorRoleForName(std::string_view name)
{
    const std::size_t cut = name.find_last_of("./");
    const std::string last = lower(cut == std::string_view::npos ? name : name.substr(cut + 1));
    return last == "weight" || last == "bias" ? TensorRole::Weight : TensorRole::Activation;
}

TensorSetting tensorSetting(const TensorInfo& info, const Scheme& scheme, const CalibrationResult& result)
{
    TensorSetting setting;
    setting.name = info.name;
    setting.shape = info.shape;
    setting.sourceDtype = info.dtypeName;
    setting.role = tensorRoleForName(info.name);
    setting.scheme = scheme;
    setting.calibration = result.options;
    setting.histogramBins = result.histogramBins;
    setting.histogramBinWidth = result.histogramBinWidth;
    setting.batches = result.batches;
    setting.nonFiniteCount = result.nonFiniteCount;
    setting.ranges = result.ranges;
    setting.scales = result.scales;
    setting.zeroPoints = result.zeroPoints;
    setting.report = result.report;
    return setting;
}

std::string utcTimestamp()
{
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm parts {};
    gmtime_r(&now, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return text;
}

} // namespace qs
