#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace qs::kernel_detail {

/// A uniform index over the regions of an encoder table (encoder_table.h), so that a kernel finds the region
/// of v with one bin and at most `perBin` compares instead of a search over every threshold:
///
///   bin(v)    = bits(min(max(fma(v, scale, offset), 2^23), 2^23 + count - 1)) - bits(2^23)
///               (float32; offset includes 2^23, so the fma's one rounding lands on an integer, to nearest
///               even, and the bin is the low bits of the float; ±Inf land in the end bins, NaN is the
///               caller's to handle)
///   region(v) = base[bin] + Σ_k [key(v) >= thresholds[bin][k]]        (key = encoderKey; unused slots hold
///               INT32_MAX, above every key but a NaN's)
///
/// Exact for every non-NaN v, whatever the bin arithmetic rounds to: bin(v) never decreases as key(v) grows
/// (scale > 0), and tableBins puts each threshold in the bin of its own first value, computed with the same
/// float operations, so every threshold of a lower bin is <= key(v) and every one of a higher bin is above
/// it.
struct TableBins {
    static constexpr int kMaxBins = 32;
    static constexpr int kMaxPerBin = 2;
    static constexpr float kOrigin = 8388608.0f; ///< 2^23: the float of bin 0, whose low bits count the bins

    int count = 0; ///< 0: the thresholds do not spread out enough for `perBin` compares per bin
    float scale = 0; ///< bins per unit of v: count / (last threshold's value - first threshold's value)
    float offset = 0; ///< 2^23 - (first threshold's value) · scale
    std::array<std::int32_t, kMaxBins> base {}; ///< regions wholly below the bin
    std::array<std::array<std::int32_t, kMaxBins>, kMaxPerBin> thresholds {}; ///< [k][bin], ascending in k
};

/// The bin index of v: the formula above (std::fma, as every backend computes it). v must not be NaN.
int tableBin(const TableBins& bins, float v);

/// Bins spanning [first, last] evenly (finite, first < last), `count` (≤ kMaxBins) of them with at most
/// `perBin` (≤ kMaxPerBin) of the table's thresholds (ascending ordered keys, as EncoderTable::thresholds) in
/// each, a threshold beyond the span in the end bin on its side; count 0 when some bin would hold more, or
/// fewer than two thresholds are given.
TableBins tableBinsOver(
    const std::vector<std::int32_t>& thresholds, int count, int perBin, float first, float last);

/// tableBinsOver from the first threshold's value to the last's.
TableBins tableBins(const std::vector<std::int32_t>& thresholds, int count, int perBin);

/// 32 bins of one threshold spanning ±(17/16)·bound (bound > 0), such that every v with |v| <= bound lands in
/// its bin without the clamp of tableBin: fma(±bound, scale, offset) already lies within [2^23, 2^23 + 31]
/// (the fma grows with v, so every v between does). Count 0 when no such bins exist.
TableBins unclampedTableBins(const std::vector<std::int32_t>& thresholds, float bound);

/// The 32-bin layout of the AVX-512 table pass (FakeQuantPlan::bins32 and ::unclippedBound) for a table whose
/// extreme values are `lowest` and `highest`: where lowest < 0 < highest, no v with |v| <= B = min(-lowest,
/// highest) clips, and unclampedTableBins(B) when it exists, with that bound; else tableBins(32, 1) and 0.
struct Bins32Layout {
    TableBins bins;
    float unclippedBound = 0;
};
Bins32Layout bins32Layout(const std::vector<std::int32_t>& thresholds, float lowest, float highest);

} // namespace qs::kernel_detail
