#include "quant/compare_matrix.h"

#include "base/error.h"
#include "kernels/kernels.h"
#include "quant/block_formats.h"
#include "quant/quantizer.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <mutex>
#include <new>
#include <thread>
#include <variant>

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

/// The min-max ranges of one granularity's groups, as a [groups, 2] tensor of (min, max) rows.
struct GroupRanges {
    Granularity granularity;
    Tensor rangeTensor;
};

Tensor rangeTensor(const std::vector<MinMaxResult>& groups)
{
    Tensor t;
    t.shape = {static_cast<std::int64_t>(groups.size()), 2};
    t.data.reserve(2 * groups.size());
    for (const MinMaxResult& g : groups) {
        t.data.push_back(g.min);
        t.data.push_back(g.max);
    }
    return t;
}

/// A fused cell: the scales and zero points qs::quantize derives from the group ranges (quantizing the
/// (min, max) rows per channel gives each row the range of its group, so the same scale and zero point,
/// bit for bit), then the sums of one simd pass over the tensor.
ErrorReport fusedReport(const Tensor& tensor, const Scheme& scheme, const Tensor& ranges, double bits)
{
    Scheme perRow = scheme;
    perRow.granularity = Granularity::perChannel(0);
    const QuantizedTensor params = quantize(ranges, perRow);
    const ErrorSums sums = fakeQuantError(
        Backend::Simd, tensor.values(), tensor.shape, scheme, params.scales, params.zeroPoints, 1);
    return errorReportFromSums(sums, bits);
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
    const std::vector<std::string>& granularities, const Scheme& base, const CompareOptions& options,
    std::atomic<bool>* cancel, std::function<void(const CompareCell&)> onCell)
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

    // Fused cells read the group ranges of their granularity; each granularity is reduced once.
    const bool fusedTensor = !options.exactPercentiles
        && static_cast<std::int64_t>(tensor.data.size()) >= kCompareFusedMinElements
        && static_cast<std::int64_t>(tensor.data.size()) == shapeElementCount(tensor.shape);
    std::vector<int> rangeOf(cells.size(), -1);
    std::vector<char> ownScales(cells.size(), 0);
    std::vector<GroupRanges> ranges;
    for (std::size_t i = 0; i < cells.size() && fusedTensor; ++i) {
        if (!planErrors[i].empty())
            continue;
        if (cells[i].scheme.blockFormat != BlockFormat::None) {
            ownScales[i] = blockFakeQuantErrorUnsupported(cells[i].scheme).empty();
            continue;
        }
        if (std::holds_alternative<SignSpec>(cells[i].scheme.format.spec)) {
            ownScales[i] = ternaryFakeQuantErrorUnsupported(cells[i].scheme, tensor.shape).empty();
            continue;
        }
        if (!fakeQuantErrorUnsupported(cells[i].scheme, tensor.shape).empty())
            continue;
        const Granularity& granularity = cells[i].scheme.granularity;
        const auto known = std::find_if(
            ranges.begin(), ranges.end(), [&](const GroupRanges& r) { return r.granularity == granularity; });
        rangeOf[i] = static_cast<int>(known - ranges.begin());
        if (known == ranges.end())
            ranges.push_back({granularity, {}});
    }
    const int threads = options.threads > 0
        ? options.threads
        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (GroupRanges& r : ranges)
        r.rangeTensor
            = rangeTensor(minMaxGroups(Backend::Simd, tensor.values(), tensor.shape, r.granularity, threads));

    // The slow reference cells start first, so that the fused ones fill in the end of the run.
    std::vector<std::size_t> order(cells.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_partition(
        order.begin(), order.end(), [&](std::size_t i) { return rangeOf[i] < 0 && !ownScales[i]; });

    // A fused cell's report; false when the cell takes the reference path. qs::quantize keeps scales in
    // [FLT_MIN, FLT_MAX], which the kernels accept; should they still reject a cell's parameters, the
    // reference path computes it rather than the cell failing.
    const auto fusedCell = [&](std::size_t i, double bits, CompareCell& cell) {
        try {
            if (rangeOf[i] >= 0) {
                cell.report = fusedReport(
                    tensor, cell.scheme, ranges[static_cast<std::size_t>(rangeOf[i])].rangeTensor, bits);
            } else if (ownScales[i]) {
                const ErrorSums sums = cell.scheme.blockFormat != BlockFormat::None
                    ? blockFakeQuantError(Backend::Simd, tensor.values(), tensor.shape, cell.scheme, 1)
                    : ternaryFakeQuantError(Backend::Simd, tensor.values(), tensor.shape, cell.scheme, 1);
                cell.report = errorReportFromSums(sums, bits);
            } else {
                return false;
            }
        } catch (const Error&) {
            return false;
        }
        cell.percentiles = false;
        return true;
    };

    std::atomic<std::size_t> next {0};
    std::mutex callbackMutex;
    const auto work = [&] {
        std::vector<float> reconstructed;
        for (std::size_t k = next++; k < cells.size(); k = next++) {
            const std::size_t i = order[k];
            CompareCell& cell = cells[i];
            if (!planErrors[i].empty()) {
                cell.error = planErrors[i];
            } else if (cancel && cancel->load()) {
                cell.error = "cancelled";
            } else {
                try {
                    const double bits = effectiveBitsPerValue(cell.scheme, tensor.shape);
                    if (!fusedCell(i, bits, cell)) {
                        const FakeQuantizeCounts counts
                            = fakeQuantizeInto(tensor, cell.scheme, reconstructed);
                        cell.report
                            = computeErrorReport(tensor.values(), reconstructed, counts.clippedCount, bits);
                    }
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
    const std::size_t workers
        = std::min<std::size_t>(static_cast<std::size_t>(threads), std::max<std::size_t>(cells.size(), 1));
    std::vector<std::jthread> pool;
    for (std::size_t t = 1; t < workers; ++t)
        pool.emplace_back(work);
    work();
    pool.clear();
    return cells;
}

std::vector<CompareCell> compareSchemes(const Tensor& tensor, const std::vector<std::string>& formats,
    const std::vector<std::string>& granularities, const Scheme& base, std::atomic<bool>* cancel,
    std::function<void(const CompareCell&)> onCell)
{
    return compareSchemes(tensor, formats, granularities, base, CompareOptions {}, cancel, std::move(onCell));
}

std::vector<CompareCell> compareSchemes(const Tensor& tensor, const std::vector<std::string>& formats,
    const std::vector<std::string>& granularities, std::atomic<bool>* cancel,
    std::function<void(const CompareCell&)> onCell)
{
    return compareSchemes(tensor, formats, granularities, Scheme {}, cancel, std::move(onCell));
}

} // namespace qs
