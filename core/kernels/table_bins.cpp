#include "kernels/table_bins.h"

#include "kernels/encoder_table.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace qs::kernel_detail {

int tableBin(const TableBins& bins, float v)
{
    const float position = std::min(std::max(std::fma(v, bins.scale, bins.offset), TableBins::kOrigin),
        TableBins::kOrigin + static_cast<float>(bins.count - 1));
    return std::bit_cast<std::int32_t>(position) - std::bit_cast<std::int32_t>(TableBins::kOrigin);
}

TableBins tableBinsOver(
    const std::vector<std::int32_t>& thresholds, int count, int perBin, float first, float last)
{
    TableBins bins;
    if (thresholds.size() < 2 || count < 1 || count > TableBins::kMaxBins || perBin < 1
        || perBin > TableBins::kMaxPerBin)
        return bins;
    const float scale = static_cast<float>(count) / (last - first);
    if (!std::isfinite(first) || !std::isfinite(last) || !(scale > 0) || !std::isfinite(scale))
        return bins;
    bins.count = count;
    bins.scale = scale;
    bins.offset = TableBins::kOrigin - first * scale;
    for (auto& slot : bins.thresholds)
        slot.fill(std::numeric_limits<std::int32_t>::max());
    std::array<int, TableBins::kMaxBins> held {};
    for (const std::int32_t threshold : thresholds) {
        const float value = encoderKeyValue(threshold);
        if (std::isnan(value))
            return TableBins {};
        const auto own = static_cast<std::size_t>(tableBin(bins, value));
        if (held[own] == perBin)
            return TableBins {};
        bins.thresholds[static_cast<std::size_t>(held[own])][own] = threshold;
        ++held[own];
    }
    int below = 0;
    for (int b = 0; b < count; ++b) {
        bins.base[static_cast<std::size_t>(b)] = below;
        below += held[static_cast<std::size_t>(b)];
    }
    return bins;
}

TableBins tableBins(const std::vector<std::int32_t>& thresholds, int count, int perBin)
{
    if (thresholds.size() < 2)
        return {};
    return tableBinsOver(
        thresholds, count, perBin, encoderKeyValue(thresholds.front()), encoderKeyValue(thresholds.back()));
}

TableBins unclampedTableBins(const std::vector<std::int32_t>& thresholds, float bound)
{
    constexpr int kCount = 32;
    if (!(bound > 0) || !std::isfinite(bound * 2))
        return {};
    const float reach = bound + bound / 16;
    const TableBins bins = tableBinsOver(thresholds, kCount, 1, -reach, reach);
    const auto within = [&](float v) {
        const float position = std::fma(v, bins.scale, bins.offset);
        return position >= TableBins::kOrigin && position <= TableBins::kOrigin + (kCount - 1);
    };
    if (bins.count != kCount || !within(-bound) || !within(bound))
        return {};
    return bins;
}

Bins32Layout bins32Layout(const std::vector<std::int32_t>& thresholds, float lowest, float highest)
{
    if (lowest < 0 && highest > 0) {
        const float bound = std::min(-lowest, highest);
        if (TableBins unclamped = unclampedTableBins(thresholds, bound); unclamped.count != 0)
            return {unclamped, bound};
    }
    return {tableBins(thresholds, 32, 1), 0};
}

} // namespace qs::kernel_detail
