#include "quant/compare_matrix.h"

#include "base/error.h"
#include "quant/block_formats.h"
#include "quant/quantizer.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <mutex>
#include <new>
#include <thread>

namespace qs {

namespace {

bool isNative(const std::string& granularity)
{
    std::string key = granularity;
    std::transform(
        key.begin(), key.end(), key.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return key == kNativeGranularity;
}

std::string blockFormatNames()
{
    std::string names;
    for (BlockFormat format : allBlockFormats()) {
        if (!names.empty())
            names += ", ";
        names += blockFormatName(format);
    }
    return names;
}

/// The scheme of one cell, or the reason it does not apply.
struct CellPlan {
    Scheme scheme;
    std::string error;
};

CellPlan planCell(
    const std::string& formatName, const std::string& granularityText, const Scheme& base, const Shape& shape)
{
    CellPlan plan;
    plan.scheme = base;
    const BlockFormat block = blockFormatByName(formatName);
    if (block != BlockFormat::None) {
        plan.scheme.blockFormat = block;
        plan.scheme.blockSize = 0;
        const Granularity own = Granularity::perGroup(defaultBlockSize(block), -1);
        plan.scheme.granularity = own;
        if (!isNative(granularityText) && parseGranularity(granularityText) != own)
            plan.error = blockFormatName(block) + " is defined on its own blocks (" + granularityName(own)
                + "); it is evaluated in the '" + kNativeGranularity + "' column";
        return plan;
    }
    plan.scheme.blockFormat = BlockFormat::None;
    plan.scheme.format = formatByName(formatName);
    if (isNative(granularityText)) {
        plan.error = "element formats have no native blocks; choose a granularity";
        return plan;
    }
    plan.scheme.granularity = parseGranularity(granularityText);
    try {
        effectiveBitsPerValue(plan.scheme, shape);
    } catch (const Error& e) {
        plan.error = e.what();
    }
    return plan;
}

} // namespace

std::vector<std::string> defaultCompareFormats()
{
    return {"int8", "int6", "int4", "int3", "fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "nf4",
        "bnb_fp4", "iq4_nl", "ternary"};
}

std::vector<std::string> defaultCompareBlockFormats()
{
    std::vector<std::string> names;
    for (BlockFormat format : allBlockFormats())
        names.push_back(blockFormatName(format));
    return names;
}

std::vector<std::string> defaultCompareGranularities()
{
    return {"tensor", "channel:0", "group:128", "block:128x128"};
}

void validateCompareNames(
    const std::vector<std::string>& formats, const std::vector<std::string>& granularities)
{
    for (const std::string& name : formats) {
        if (blockFormatByName(name) != BlockFormat::None)
            continue;
        try {
            formatByName(name);
        } catch (const Error& e) {
            throw Error(std::string(e.what()) + "; block formats: " + blockFormatNames());
        }
    }
    for (const std::string& text : granularities)
        if (!isNative(text))
            parseGranularity(text);
}

std::vector<CompareCell> compareSchemes(const Tensor& tensor, const std::vector<std::string>& formats,
    const std::vector<std::string>& granularities, const Scheme& base, std::atomic<bool>* cancel,
    std::function<void(const CompareCell&)> onCell)
{
    validateCompareNames(formats, granularities);
    std::vector<CompareCell> cells;
    cells.reserve(formats.size() * granularities.size());
    std::vector<std::string> planErrors;
    for (const std::string& format : formats)
        for (const std::string& granularity : granularities) {
            CellPlan plan = planCell(format, granularity, base, tensor.shape);
            cells.push_back({std::move(plan.scheme), format, granularity, {}, {}});
            planErrors.push_back(std::move(plan.error));
        }

    std::atomic<std::size_t> next {0};
    std::mutex callbackMutex;
    const auto work = [&] {
        std::vector<float> reconstructed;
        for (std::size_t i = next++; i < cells.size(); i = next++) {
            CompareCell& cell = cells[i];
            if (!planErrors[i].empty()) {
                cell.error = planErrors[i];
            } else if (cancel && cancel->load()) {
                cell.error = "cancelled";
            } else {
                try {
                    const FakeQuantizeCounts counts = fakeQuantizeInto(tensor, cell.scheme, reconstructed);
                    cell.report = computeErrorReport(tensor.values(), reconstructed, counts.clippedCount,
                        effectiveBitsPerValue(cell.scheme, tensor.shape));
                } catch (const Error& e) {
                    cell.error = e.what();
                } catch (const std::bad_alloc&) {
                    cell.error = "out of memory";
                } catch (const std::exception& e) {
                    cell.error = e.what();
                }
            }
            if (onCell) {
                const std::lock_guard lock(callbackMutex);
                onCell(cell);
            }
        }
    };
    const std::size_t threads = std::min<std::size_t>(
        std::max(1u, std::thread::hardware_concurrency()), std::max<std::size_t>(cells.size(), 1));
    std::vector<std::jthread> pool;
    for (std::size_t t = 1; t < threads; ++t)
        pool.emplace_back(work);
    work();
    pool.clear();
    return cells;
}

std::vector<CompareCell> compareSchemes(const Tensor& tensor, const std::vector<std::string>& formats,
    const std::vector<std::string>& granularities, std::atomic<bool>* cancel,
    std::function<void(const CompareCell&)> onCell)
{
    return compareSchemes(tensor, formats, granularities, Scheme {}, cancel, std::move(onCell));
}

} // namespace qs
