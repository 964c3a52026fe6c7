#pragma once

// Values where the table kernels switch bins (kernels/table_bins.h): random data almost never lands on a bin
// boundary, so the SIMD and CUDA checks add these.

#include "formats/number_format.h"
#include "kernels/encoder_table.h"
#include "kernels/table_bins.h"
#include "quant/block_formats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <variant>
#include <vector>

namespace qs::testing {

/// The first key whose bin is at least `bin`: bins never decrease as keys grow.
inline std::int32_t firstKeyOfBin(const kernel_detail::TableBins& bins, int bin)
{
    std::int64_t below = kernel_detail::encoderKey(-INFINITY);
    std::int64_t at = kernel_detail::encoderKey(INFINITY);
    while (at - below > 1) {
        const std::int64_t middle = below + (at - below) / 2;
        const float v = kernel_detail::encoderKeyValue(static_cast<std::int32_t>(middle));
        (kernel_detail::tableBin(bins, v) >= bin ? at : below) = middle;
    }
    return static_cast<std::int32_t>(at);
}

/// For a table of `thresholds` (ascending keys) binned by `bins`: the floats within three keys of every bin
/// boundary and every threshold; empty when `bins` has no bins.
inline std::vector<float> binEdgeValues(
    const std::vector<std::int32_t>& thresholds, const kernel_detail::TableBins& bins)
{
    if (bins.count == 0)
        return {};
    std::vector<std::int32_t> keys(thresholds.begin(), thresholds.end());
    for (int bin = 1; bin < bins.count; ++bin)
        keys.push_back(firstKeyOfBin(bins, bin));
    std::vector<float> values;
    for (const std::int32_t key : keys)
        for (std::int32_t step = -3; step <= 3; ++step)
            values.push_back(kernel_detail::encoderKeyValue(key + step));
    return values;
}

/// binEdgeValues with `count` bins of at most `perBin` thresholds spanning the thresholds (tableBins).
inline std::vector<float> binEdgeValues(const std::vector<std::int32_t>& thresholds, int count, int perBin)
{
    return binEdgeValues(thresholds, kernel_detail::tableBins(thresholds, count, perBin));
}

/// The 32 bins the AVX-512 table pass takes for `table` (bins32Layout).
inline kernel_detail::TableBins avx512Bins(const kernel_detail::EncoderTable& table)
{
    return kernel_detail::bins32Layout(table.thresholds, kernel_detail::encoderKeyValue(table.lowestKey),
        kernel_detail::encoderKeyValue(table.highestKey))
        .bins;
}

/// binEdgeValues of a lookup format's encoder table; empty for other formats.
inline std::vector<float> binEdgeValues(const NumberFormat& format, int count, int perBin)
{
    if (!std::holds_alternative<LookupSpec>(format.spec))
        return {};
    return binEdgeValues(kernel_detail::encoderTable(format, "the test").thresholds, count, perBin);
}

/// binEdgeValues of a lookup format's encoder table in the AVX-512 layout (avx512Bins); empty for other
/// formats.
inline std::vector<float> avx512BinEdgeValues(const NumberFormat& format)
{
    if (!std::holds_alternative<LookupSpec>(format.spec))
        return {};
    const kernel_detail::EncoderTable table = kernel_detail::encoderTable(format, "the test");
    return binEdgeValues(table.thresholds, avx512Bins(table));
}

/// `edges` in blocks of `block` values, each block first holding ±`top` (alternately by where it starts),
/// the last one padded with 0.5.
inline std::vector<float> blocksHolding(const std::vector<float>& edges, std::size_t block, float top)
{
    std::vector<float> values;
    for (std::size_t k = 0; k < edges.size(); k += block - 1) {
        values.push_back(k % 2 ? -top : top);
        values.insert(values.end(), edges.begin() + static_cast<std::ptrdiff_t>(k),
            edges.begin() + static_cast<std::ptrdiff_t>(std::min(edges.size(), k + block - 1)));
    }
    values.resize((values.size() + block - 1) / block * block, 0.5f);
    return values;
}

/// The encoder table of bitsandbytes' NF4 or FP4 element code (the regions where bnbElementCode changes).
inline kernel_detail::EncoderTable bnbEncoderTable(BlockFormat format)
{
    return kernel_detail::encoderTableOf([&](float v) { return blockformat::bnbElementCode(format, v); },
        [&](std::uint32_t code) { return double(blockformat::bnbElementValue(format, code)); },
        blockFormatName(format), "the test");
}

/// Rows of 64 values for bitsandbytes NF4 blocks of 64: each block starts with ±1 (absmax 1, so v = x) and
/// holds the values of `edges` within [-1, 1]; the last block is padded with 0.5.
inline std::vector<float> bnbNf4Blocks(const std::vector<float>& edges)
{
    std::vector<float> inside;
    for (const float v : edges)
        if (std::fabs(v) <= 1.0f)
            inside.push_back(v);
    return blocksHolding(inside, 64, 1.0f);
}

/// bnbNf4Blocks of binEdgeValues of the NF4 code's table with `count` bins of `perBin`.
inline std::vector<float> bnbNf4BinEdgeBlocks(int count, int perBin)
{
    return bnbNf4Blocks(binEdgeValues(bnbEncoderTable(BlockFormat::BnbNF4).thresholds, count, perBin));
}

/// bnbNf4Blocks of binEdgeValues of the NF4 code's table in the AVX-512 layout.
inline std::vector<float> bnbNf4Avx512BinEdgeBlocks()
{
    const kernel_detail::EncoderTable table = bnbEncoderTable(BlockFormat::BnbNF4);
    return bnbNf4Blocks(binEdgeValues(table.thresholds, avx512Bins(table)));
}

/// Rows of 32 values for MXFP4 blocks: each block starts with ±6 (shared exponent 0, so v = x) and holds
/// the values within [-6, 6] beside every boundary of the CUDA packing's 32 bins over |v| and every E2M1
/// rounding threshold of |v| (ties to even), with either sign.
inline std::vector<float> mxfp4BinEdgeBlocks()
{
    const NumberFormat e2m1 = formatByName("fp4_e2m1");
    const auto table
        = kernel_detail::encoderTableOf([&](float v) { return v <= 0 ? 0u : encodeValue(e2m1, double(v)); },
            [](std::uint32_t code) { return double(code); }, "fp4_e2m1", "the test");
    std::vector<float> edges;
    for (const float v : binEdgeValues(table.thresholds, 32, 1))
        if (v >= 0.0f && v <= 6.0f)
            edges.insert(edges.end(), {v, -v});
    return blocksHolding(edges, 32, 6.0f);
}

} // namespace qs::testing
