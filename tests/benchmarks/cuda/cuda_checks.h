#pragma once

// The CUDA-versus-scalar comparisons, shared by tst_cuda_kernels (Qt Test) and the standalone GPU driver
// (qs_cuda_bench --check) so that both run exactly the same cases. Each check returns an empty string when
// every result equals the scalar reference bit for bit, otherwise a description of the first difference.
// Needs a CUDA device.

#include "base/error.h"
#include "calib/histogram.h"
#include "cuda_reference.h"
#include "formats/number_format.h"
#include "kernels/cuda_kernels.h"
#include "kernels/cuda_packed.h"
#include "quant/block_formats.h"
#include "quant/quantizer.h"
#include "table_bin_edges.h"
#include "tensor/tensor.h"

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace qs::cudacheck {

using cudaref::testValues;

inline std::string describe(const MinMaxResult& r)
{
    char text[160];
    std::snprintf(text, sizeof text, "{%a, %a, %a, %lld}", double(r.min), double(r.max), double(r.absmax),
        static_cast<long long>(r.nonFinite));
    return text;
}

inline std::string checkMinMax()
{
    std::vector<std::pair<std::string, std::vector<float>>> cases;
    cases.push_back({"random 1M+3", testValues(1000003, 1)});
    cases.push_back({"random 5 rows of 2M", testValues(2000000, 2, 400000)});
    cases.push_back({"all NaN", std::vector<float>(1000, NAN)});
    cases.push_back({"+0 then -0", {0.0f, -0.0f}});
    cases.push_back({"-0 then +0", {-0.0f, 0.0f}});
    cases.push_back({"only -0", {-0.0f, -0.0f, NAN}});
    cases.push_back({"one value", {-3.5f}});
    cases.push_back({"extremes", {FLT_MAX, -FLT_MAX, INFINITY, 1e-45f, -1e-45f}});
    for (std::size_t n = 1; n <= 9; ++n)
        cases.push_back({"size " + std::to_string(n), testValues(n, unsigned(10 + n))});
    cases.push_back({"empty", {}});
    for (const auto& [name, values] : cases) {
        const MinMaxResult expected = cudaref::minMax(values);
        const MinMaxResult got = cudaMinMax(values);
        if (!cudaref::sameMinMax(got, expected))
            return "minmax " + name + ": cuda " + describe(got) + ", reference " + describe(expected);
    }
    return {};
}

inline std::string checkMinMaxRows()
{
    const std::pair<std::int64_t, std::int64_t> shapes[]
        = {{1000, 128}, {37, 3}, {5, 20000}, {3, 8193}, {1, 1}, {2, 16384}, {4096, 1}, {300, 4100}};
    for (const auto& [rows, cols] : shapes) {
        std::vector<float> values
            = testValues(std::size_t(rows * cols), unsigned(rows + cols), std::size_t(cols));
        if (rows > 2) {
            for (std::int64_t c = 0; c < cols; ++c) {
                values[std::size_t(cols + c)] = NAN; // row 1: no finite value
                values[std::size_t(2 * cols + c)] = c % 2 ? -0.0f : 0.0f; // row 2: zeros of both signs
            }
        }
        const std::vector<MinMaxResult> got = cudaMinMaxRows(values, rows, cols);
        if (std::int64_t(got.size()) != rows)
            return "minmax rows: wrong result count";
        for (std::int64_t r = 0; r < rows; ++r) {
            const MinMaxResult expected = cudaref::minMax(
                std::span<const float>(values).subspan(std::size_t(r * cols), std::size_t(cols)));
            if (!cudaref::sameMinMax(got[std::size_t(r)], expected))
                return "minmax rows [" + std::to_string(rows) + ", " + std::to_string(cols) + "] row "
                    + std::to_string(r) + ": cuda " + describe(got[std::size_t(r)]) + ", reference "
                    + describe(expected);
        }
    }
    return {};
}

/// Data that hits the edges of `bins` bins over [lo, hi] exactly and one ulp either side, plus random values.
inline std::vector<float> edgeValues(int bins, float lo, float hi, unsigned seed)
{
    std::vector<float> v = testValues(300000, seed);
    const double width = double(hi) - double(lo);
    for (int i = 0; i <= bins; i += std::max(1, bins / 4096)) {
        const auto edge = static_cast<float>(double(lo) + width * i / bins);
        v.push_back(edge);
        v.push_back(std::nextafter(edge, -INFINITY));
        v.push_back(std::nextafter(edge, INFINITY));
        v.push_back(-edge);
    }
    v.push_back(lo);
    v.push_back(hi);
    return v;
}

inline std::string checkHistogram()
{
    struct Case {
        int bins;
        float lo;
        float hi;
        bool absolute;
    };
    const Case cases[] = {{2048, -3.0f, 3.0f, false}, {2048, 0.0f, 7.25f, true}, {2048, -0.1f, 0.3f, false},
        {7, -1.0f, 1.0f, false}, {1, -1.0f, 1.0f, true}, {100000, -5.0f, 5.0f, false},
        {3000, 0.0f, 1e-3f, true}, {2048, 1.0f, 1.0f, false}, {2048, -FLT_MAX, FLT_MAX, false},
        {1 << 21, -2.0f, 2.0f, false}, {2048, 0.0f, 1e-37f, true}};
    unsigned seed = 100;
    for (const Case& c : cases) {
        const std::vector<float> values = edgeValues(c.bins, c.lo, c.hi, ++seed);
        const Histogram expected = computeHistogram(values, c.bins, c.lo, c.hi, c.absolute);
        const std::vector<std::int64_t> got = cudaHistogram(values, c.bins, c.lo, c.hi, c.absolute);
        const std::string name = "histogram " + std::to_string(c.bins) + " bins over [" + std::to_string(c.lo)
            + ", " + std::to_string(c.hi) + "]" + (c.absolute ? " abs" : "");
        if (got != expected.counts) {
            std::size_t b = 0;
            while (b < got.size() && got[b] == expected.counts[b])
                ++b;
            return name + ": bin " + std::to_string(b) + " cuda "
                + (b < got.size() ? std::to_string(got[b]) : "?") + ", reference "
                + (b < got.size() ? std::to_string(expected.counts[b]) : "?");
        }
        const Histogram whole = cudaHistogram(values, c.bins, double(c.lo), double(c.hi), c.absolute, 0);
        if (!(whole == expected))
            return name + ": below/above/non-finite cuda " + std::to_string(whole.below) + "/"
                + std::to_string(whole.above) + "/" + std::to_string(whole.nonFinite) + ", reference "
                + std::to_string(expected.below) + "/" + std::to_string(expected.above) + "/"
                + std::to_string(expected.nonFinite);
    }
    {
        // Enough values that every thread takes the 8-value steps, the bin edges among them throughout.
        std::vector<float> values;
        for (unsigned copy = 0; copy < 16; ++copy) {
            const std::vector<float> part = edgeValues(2048, -3.0f, 3.0f, 200 + copy);
            values.insert(values.end(), part.begin(), part.end());
        }
        for (const bool absolute : {false, true}) {
            const double lo = absolute ? 0.0 : -3.0;
            const Histogram expected = computeHistogram(values, 2048, lo, 3.0, absolute);
            if (!(cudaHistogram(values, 2048, lo, 3.0, absolute, 0) == expected))
                return std::string("histogram of 5M values over [-3, 3]") + (absolute ? " abs" : "")
                    + " differs";
        }
    }
    {
        // A double range that is not a pair of floats takes the double path only.
        const std::vector<float> values = edgeValues(2048, -0.3f, 0.7f, 99);
        const Histogram expected = computeHistogram(values, 2048, -0.3, 0.7, false);
        if (!(cudaHistogram(values, 2048, -0.3, 0.7, false, 0) == expected))
            return "histogram over the double range [-0.3, 0.7] differs";
    }
    if (cudaHistogram({}, 16, 0.0f, 1.0f, false) != std::vector<std::int64_t>(16, 0))
        return "histogram of no values is not all zero";
    return {};
}

/// One fake-quant case: the scheme, the shape, the values and optional clipping ranges.
struct FakeQuantCase {
    std::string name;
    Scheme scheme;
    Shape shape;
    std::vector<float> values;
    std::optional<std::vector<GroupRange>> ranges;
};

inline Scheme makeScheme(
    const std::string& format, Granularity granularity, RangeMode mode = RangeMode::SymmetricNarrow)
{
    Scheme s;
    s.format = formatByName(format);
    s.granularity = granularity;
    s.rangeMode = mode;
    return s;
}

/// Every finite float the E4M3 grid cares about: grid points, midpoints and their float neighbours over the
/// whole range (subnormals and the 448..480 overflow band included), both signs, plus random bit patterns.
inline std::vector<float> e4m3Probe(unsigned seed)
{
    std::vector<float> v;
    const NumberFormat f = fp8E4M3Format();
    std::vector<double> grid = formatValues(f);
    grid.push_back(480.0);
    for (std::size_t i = 0; i + 1 < grid.size(); ++i) {
        for (const double p : {grid[i], 0.5 * (grid[i] + grid[i + 1])}) {
            const auto x = static_cast<float>(p);
            for (const float y : {x, std::nextafter(x, -INFINITY), std::nextafter(x, INFINITY)})
                v.push_back(y);
        }
    }
    for (const float x : {464.0f, 470.0f, 479.99f, 480.0f, 1e30f, FLT_MAX, FLT_MIN, 1e-45f, 0.0f, 0x1p-10f,
             0x1.8p-10f, 0x1p-11f, 0x1.000002p-10f})
        v.push_back(x);
    const std::size_t positive = v.size();
    for (std::size_t i = 0; i < positive; ++i)
        v.push_back(-v[i]);
    std::mt19937 rng(seed);
    for (int i = 0; i < 200000; ++i)
        v.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(rng())));
    v.push_back(448.0f);
    v.push_back(-448.0f);
    return v;
}

inline std::vector<FakeQuantCase> fakeQuantCases()
{
    std::vector<FakeQuantCase> cases;
    const auto add
        = [&](std::string name, Scheme scheme, Shape shape, unsigned seed, std::size_t rowLength = 1000) {
              const auto n = static_cast<std::size_t>(shapeElementCount(shape));
              cases.push_back(
                  {std::move(name), std::move(scheme), std::move(shape), testValues(n, seed, rowLength), {}});
          };
    add("int8 tensor", makeScheme("int8", Granularity::perTensor()), {1000, 1000}, 1);
    add("int8 channel run 300", makeScheme("int8", Granularity::perChannel(0)), {512, 300}, 2, 300);
    add("int8 channel last axis", makeScheme("int8", Granularity::perChannel(1)), {300, 512}, 3, 512);
    add("int8 channel middle axis", makeScheme("int8", Granularity::perChannel(1)), {6, 40, 700}, 4, 700);
    add("int4 group 128", makeScheme("int4", Granularity::perGroup(128)), {64, 1024}, 5, 1024);
    add("int4 symfull group 128 ragged",
        makeScheme("int4", Granularity::perGroup(128), RangeMode::SymmetricFull), {64, 300}, 6, 300);
    add("uint8 affine group 32 axis 0", makeScheme("uint8", Granularity::perGroup(32, 0), RangeMode::Affine),
        {256, 96}, 7, 96);
    add("int8 affine channel", makeScheme("int8", Granularity::perChannel(0), RangeMode::Affine), {300, 333},
        8, 333);
    add("int8 block 16x32", makeScheme("int8", Granularity::block2D(16, 32)), {4, 100, 70}, 9, 70);
    add("uint4 one-sided channel", makeScheme("uint4", Granularity::perChannel(0)), {128, 512}, 10, 512);
    add("int16 tensor", makeScheme("int16", Granularity::perTensor()), {777, 1001}, 11);
    add("int2 group 16", makeScheme("int2", Granularity::perGroup(16)), {100, 160}, 12, 160);
    {
        Scheme s = makeScheme("int8", Granularity::perTensor());
        s.elementRounding = Rounding::NearestAway;
        s.arithmetic = ScaleArithmetic::Divide;
        add("int8 away divide", s, {1000, 999}, 13);
    }
    add("fp8_e4m3 tensor", makeScheme("fp8_e4m3", Granularity::perTensor()), {1000, 1000}, 14);
    add("fp8_e4m3 channel", makeScheme("fp8_e4m3", Granularity::perChannel(0)), {512, 1024}, 15, 1024);
    {
        Scheme s = makeScheme("fp8_e4m3", Granularity::perGroup(128));
        s.scaleFormat = ScaleFormat::E8M0;
        add("fp8_e4m3 group 128 e8m0 scales", s, {256, 1024}, 16, 1024);
    }
    add("fp8_e5m2 tensor", makeScheme("fp8_e5m2", Granularity::perTensor()), {500, 1000}, 17);
    add("fp4_e2m1 group 32", makeScheme("fp4_e2m1", Granularity::perGroup(32)), {256, 1024}, 18, 1024);
    add("fp6_e3m2 channel", makeScheme("fp6_e3m2", Granularity::perChannel(0)), {256, 1000}, 19, 1000);
    add("fp6_e2m3 group 32", makeScheme("fp6_e2m3", Granularity::perGroup(32)), {256, 1024}, 50, 1024);
    add(
        "fp6_e3m2 group 64 e8m0 scales",
        [] {
            Scheme s = makeScheme("fp6_e3m2", Granularity::perGroup(64));
            s.scaleFormat = ScaleFormat::E8M0;
            return s;
        }(),
        {128, 4096}, 51, 4096);
    add("fp16 tensor", makeScheme("fp16", Granularity::perTensor()), {300, 1000}, 20);
    add("bf16 group 64", makeScheme("bf16", Granularity::perGroup(64)), {300, 1024}, 21, 1024);
    add("nf4 group 64", makeScheme("nf4", Granularity::perGroup(64)), {256, 1024}, 26, 1024);
    add("bnb_fp4 channel", makeScheme("bnb_fp4", Granularity::perChannel(0)), {128, 1000}, 27, 1000);
    add("iq4_nl group 32 ragged", makeScheme("iq4_nl", Granularity::perGroup(32)), {128, 1000}, 28, 1000);
    // Groups of whole chunks of 4096 (the kernel reads a chunk's group once): channels of rows of 4096 and
    // 8192, with zero points, FP8, and groups of 4096 on rows of 8192.
    add("int8 channel rows of 4096", makeScheme("int8", Granularity::perChannel(0)), {48, 4096}, 41, 4096);
    add("int8 affine channel rows of 8192", makeScheme("int8", Granularity::perChannel(0), RangeMode::Affine),
        {24, 8192}, 42, 8192);
    add("fp8_e4m3 channel rows of 4096", makeScheme("fp8_e4m3", Granularity::perChannel(0)), {32, 4096}, 43,
        4096);
    add("nf4 group 4096", makeScheme("nf4", Granularity::perGroup(4096)), {16, 8192}, 44, 8192);
    // Runs of groups that tile the rows: 512 with zero points, 128 on rows of 8192.
    add("uint8 affine group 512", makeScheme("uint8", Granularity::perGroup(512), RangeMode::Affine),
        {64, 2048}, 45, 2048);
    add("int8 group 128 rows of 8192", makeScheme("int8", Granularity::perGroup(128)), {16, 8192}, 46, 8192);
    // Runs of whole rows of 16 (each pair's group from its row, or a batch's from its first): 32 and 64 with
    // zero points (their scales in pairs), 32 with ties away, NF4's batches of 8 rows in groups of 32; 96 (no
    // power of two: the cursor) and 256 on element counts that end in a partial chunk.
    {
        Scheme s = makeScheme("uint8", Granularity::perGroup(32), RangeMode::Affine);
        s.elementRounding = Rounding::NearestAway;
        add("uint8 affine group 32 ties away", s, {40, 4096}, 47, 4096);
    }
    add("int8 affine group 64", makeScheme("int8", Granularity::perGroup(64), RangeMode::Affine), {48, 4096},
        52, 4096);
    add("nf4 group 32", makeScheme("nf4", Granularity::perGroup(32)), {48, 4096}, 53, 4096);
    add("int4 group 96 partial chunk", makeScheme("int4", Granularity::perGroup(96)), {333, 768}, 48, 768);
    add("int8 affine group 256 partial chunk",
        makeScheme("int8", Granularity::perGroup(256), RangeMode::Affine), {333, 768}, 49, 768);
    add("int8 scalar", makeScheme("int8", Granularity::perTensor()), {}, 22);
    add("int8 empty", makeScheme("int8", Granularity::perChannel(0)), {0, 5}, 23);

    // Ties and clipping at known scales: the range [-127, 127] gives int8 narrow scale 1, [-448, 448] E4M3 1.
    std::vector<float> ties;
    for (int k = -140; k < 140; ++k)
        for (const float d : {0.0f, 0.25f, 0.5f, 0.75f})
            for (const float y : {float(k) + d, std::nextafter(float(k) + d, -INFINITY),
                     std::nextafter(float(k) + d, INFINITY)})
                ties.push_back(y);
    ties.push_back(NAN);
    ties.push_back(-INFINITY);
    for (const bool away : {false, true}) {
        Scheme s = makeScheme("int8", Granularity::perTensor());
        s.elementRounding = away ? Rounding::NearestAway : Rounding::NearestEven;
        cases.push_back({away ? "int8 ties away" : "int8 ties even", s, {std::int64_t(ties.size())}, ties,
            std::vector<GroupRange> {{-127.0, 127.0}}});
    }
    // The same values repeated over several full chunks, whose batches (unlike a partial chunk's elements)
    // first take the path without the clamp and must fall back wherever |v| passes 127.
    std::vector<float> tiled;
    while (tiled.size() < 5 * 4096)
        tiled.insert(tiled.end(), ties.begin(), ties.end());
    for (const bool away : {false, true}) {
        Scheme s = makeScheme("int8", Granularity::perTensor());
        s.elementRounding = away ? Rounding::NearestAway : Rounding::NearestEven;
        cases.push_back({away ? "int8 ties away, full chunks" : "int8 ties even, full chunks", s,
            {std::int64_t(tiled.size())}, tiled, std::vector<GroupRange> {{-127.0, 127.0}}});
    }
    const std::vector<float> probe = e4m3Probe(24);
    const std::vector<GroupRange> unit {{-448.0, 448.0}};
    cases.push_back({"fp8_e4m3 probe", makeScheme("fp8_e4m3", Granularity::perTensor()),
        {std::int64_t(probe.size())}, probe, unit});
    {
        Scheme s = makeScheme("fp8_e4m3", Granularity::perTensor());
        s.arithmetic = ScaleArithmetic::Divide;
        cases.push_back({"fp8_e4m3 probe divide", s, {std::int64_t(probe.size())}, probe, unit});
    }
    {
        Scheme s = makeScheme("fp8_e4m3", Granularity::perTensor());
        s.format.minifloat.rounding = Rounding::NearestAway;
        cases.push_back(
            {"fp8_e4m3 probe ties away (software)", s, {std::int64_t(probe.size())}, probe, unit});
    }
    {
        Scheme s = makeScheme("fp8_e4m3", Granularity::perTensor());
        s.format.minifloat = minifloatCompatibility("cuda_satfinite");
        cases.push_back({"fp8_e4m3 probe cuda_satfinite", s, {std::int64_t(probe.size())}, probe, unit});
    }
    // Lookup tables around their bins' boundaries (the CUDA kernel's 32 bins) at scale 1.
    for (const char* name : {"nf4", "iq4_nl"}) {
        const Scheme s = makeScheme(name, Granularity::perTensor());
        const std::vector<float> edges = testing::binEdgeValues(s.format, 32, 1);
        const double top = formatMaxFinite(s.format);
        cases.push_back({std::string(name) + " bin edges", s, {std::int64_t(edges.size())}, edges,
            std::vector<GroupRange> {{-top, top}}});
    }
    cases.push_back({"fp8_e4m3 clipping range", makeScheme("fp8_e4m3", Granularity::perTensor()),
        {1000, 1000}, testValues(1000000, 25), std::vector<GroupRange> {{-0.5, 0.5}}});
    return cases;
}

/// cudaFakeQuantize (every x̂ and the counts) and cudaFakeQuantError (the sums) against qs::quantize's
/// scales, qs::fakeQuantizeInto and the fixed-order reference sums.
inline std::string checkFakeQuant(const FakeQuantCase& c)
{
    const Tensor tensor {c.name, c.shape, c.values};
    const QuantizedTensor quantized = quantize(tensor, c.scheme, c.ranges);
    std::vector<float> expected;
    const FakeQuantizeCounts counts = fakeQuantizeInto(tensor, c.scheme, expected, c.ranges);
    if (!cudaSupportsScheme(c.scheme))
        return c.name + ": scheme reported unsupported";
    const CudaFakeQuantized got
        = cudaFakeQuantize(c.values, c.shape, c.scheme, quantized.scales, quantized.zeroPoints);
    if (got.values.size() != expected.size())
        return c.name + ": cuda returned " + std::to_string(got.values.size()) + " values";
    for (std::size_t i = 0; i < expected.size(); ++i)
        if (!cudaref::sameFloat(got.values[i], expected[i]))
            return c.name + ": element " + std::to_string(i) + " x = " + std::to_string(c.values[i])
                + ": cuda " + std::to_string(got.values[i]) + ", reference " + std::to_string(expected[i]);
    if (got.clippedCount != counts.clippedCount || got.nonFiniteCount != counts.nonFiniteCount)
        return c.name + ": counts cuda " + std::to_string(got.clippedCount) + "/"
            + std::to_string(got.nonFiniteCount) + ", reference " + std::to_string(counts.clippedCount) + "/"
            + std::to_string(counts.nonFiniteCount);
    const ErrorSums sums
        = cudaFakeQuantError(c.values, c.shape, c.scheme, quantized.scales, quantized.zeroPoints);
    const ErrorSums reference = cudaref::errorSums(c.values, expected, counts.clippedCount);
    if (!cudaref::sameSums(sums, reference)) {
        const auto line = [](const ErrorSums& e) {
            char text[512];
            std::snprintf(text, sizeof text, "%a %a %a %a %a %a max %a n %lld clipped %lld non-finite %lld",
                e.sumSquaredError, e.sumAbsError, e.sumSquaredSignal, e.sumAbsSignal, e.sumProduct,
                e.sumSquaredRecon, e.maxAbsError, static_cast<long long>(e.count),
                static_cast<long long>(e.clipped), static_cast<long long>(e.nonFinite));
            return std::string(text);
        };
        return c.name + ": error sums differ: cuda " + line(sums) + "; reference " + line(reference);
    }
    return {};
}

/// Unsupported schemes and inconsistent arguments are refused with qs::Error.
inline std::string checkRefusals()
{
    const std::vector<float> values(64, 1.0f);
    const std::vector<float> one {1.0f};
    const auto throws = [](const std::function<void()>& f) {
        try {
            f();
        } catch (const Error&) {
            return true;
        }
        return false;
    };
    const Scheme ternary = makeScheme("ternary", Granularity::perTensor());
    if (cudaSupportsScheme(ternary) || !throws([&] { cudaFakeQuantError(values, {64}, ternary, one, {}); }))
        return "ternary is not refused";
    Scheme mx = makeScheme("int8", Granularity::perTensor());
    mx.blockFormat = BlockFormat::MXFP4;
    if (cudaSupportsScheme(mx))
        return "a block format is reported supported";
    const Scheme affine = makeScheme("int8", Granularity::perTensor(), RangeMode::Affine);
    const std::vector<std::int32_t> outside {300};
    if (!throws([&] { cudaFakeQuantError(values, {64}, affine, one, outside); }))
        return "a zero point outside the integer range is not refused";
    const Scheme int8 = makeScheme("int8", Granularity::perChannel(0));
    if (!throws([&] { cudaFakeQuantError(values, {8, 8}, int8, one, {}); }))
        return "a wrong scale count is not refused";
    if (!throws([&] {
            cudaFakeQuantError(values, {8, 9}, makeScheme("int8", Granularity::perTensor()), one, {});
        }))
        return "a wrong shape is not refused";
    const std::vector<float> zero {0.0f};
    if (!throws([&] {
            cudaFakeQuantError(values, {64}, makeScheme("int8", Granularity::perTensor()), zero, {});
        }))
        return "a zero scale is not refused";
    if (!throws([&] { cudaMinMaxRows(values, 7, 9); }))
        return "a wrong row shape is not refused";
    if (!throws([&] { cudaHistogram(values, 0, 0.0f, 1.0f, false); })
        || !throws([&] { cudaHistogram(values, 8, 1.0f, 0.0f, false); }))
        return "an invalid histogram is not refused";
    return {};
}

/// One packed quantize/dequantize case.
using PackedCase = cudaref::SchemeCase;

/// Ragged groups and blocks, an odd element count, all-zero rows, NaN/±Inf, subnormals, -0 and grid ties.
inline std::vector<PackedCase> packedCases()
{
    std::vector<PackedCase> cases;
    const auto add = [&](const std::string& name, Scheme scheme) {
        // [24, 512] takes the vector kernels (8 elements of one group per thread); the others the general
        // ones.
        for (const Shape& shape : {Shape {37, 300}, Shape {3, 5, 4103}, Shape {24, 512}}) {
            const auto n = static_cast<std::size_t>(shapeElementCount(shape));
            std::vector<float> values = testValues(n, unsigned(cases.size()) + 3, std::size_t(shape.back()));
            for (std::size_t i = 0; i < std::min<std::size_t>(n, 300); ++i)
                values[i] = 0;
            for (std::size_t i = 3000; i < std::min<std::size_t>(n, 5000); ++i)
                values[i] = std::ldexp(static_cast<float>(static_cast<int>(i % 97) - 48), -3 - int(i % 5));
            values[2001] = 1e-42f;
            values[2002] = -3e-39f;
            values[n - 1] = 1e30f;
            cases.push_back({name + " " + shapeToString(shape), scheme, shape, std::move(values)});
        }
    };
    add("int8 sym tensor", makeScheme("int8", Granularity::perTensor()));
    add("int8 sym channel", makeScheme("int8", Granularity::perChannel(0)));
    add("int8 symfull group32", makeScheme("int8", Granularity::perGroup(32), RangeMode::SymmetricFull));
    add("int8 affine channel", makeScheme("int8", Granularity::perChannel(0), RangeMode::Affine));
    add("int8 affine group128", makeScheme("int8", Granularity::perGroup(128), RangeMode::Affine));
    add("uint8 affine tensor", makeScheme("uint8", Granularity::perTensor(), RangeMode::Affine));
    add("int8 affine group256", makeScheme("int8", Granularity::perGroup(256), RangeMode::Affine));
    add("int8 sym group12", makeScheme("int8", Granularity::perGroup(12)));
    add("int4 sym group128", makeScheme("int4", Granularity::perGroup(128)));
    add("uint4 affine channel", makeScheme("uint4", Granularity::perChannel(0), RangeMode::Affine));
    Scheme away = makeScheme("int4", Granularity::perGroup(32), RangeMode::Affine);
    away.elementRounding = Rounding::NearestAway;
    away.arithmetic = ScaleArithmetic::Divide;
    add("int4 affine group32 ties-away divide", away);
    add("uint4 affine group7", makeScheme("uint4", Granularity::perGroup(7), RangeMode::Affine));
    add("fp8_e4m3 tensor", makeScheme("fp8_e4m3", Granularity::perTensor()));
    add("fp8_e4m3 channel", makeScheme("fp8_e4m3", Granularity::perChannel(0)));
    add("fp8_e4m3 group128", makeScheme("fp8_e4m3", Granularity::perGroup(128)));
    add("uint8 symfull group64", makeScheme("uint8", Granularity::perGroup(64), RangeMode::SymmetricFull));
    add("int8 sym group512", makeScheme("int8", Granularity::perGroup(512)));
    add("uint4 sym group4", makeScheme("uint4", Granularity::perGroup(4)));
    Scheme bf16Scales = makeScheme("fp8_e4m3", Granularity::perGroup(32));
    bf16Scales.scaleFormat = ScaleFormat::BF16;
    add("fp8_e4m3 group32 bf16 scales", bf16Scales);
    for (const std::int64_t block : {64, 32}) {
        Scheme nf4;
        nf4.blockFormat = BlockFormat::BnbNF4;
        nf4.blockSize = block;
        add("bnb_nf4 " + std::to_string(block), nf4);
    }
    {
        // Values beside every decision threshold and boundary of the CUDA packing's 32 bins.
        const std::vector<float> values = testing::bnbNf4BinEdgeBlocks(32, 1);
        Scheme nf4;
        nf4.blockFormat = BlockFormat::BnbNF4;
        cases.push_back({"bnb_nf4 64 bin edges", nf4, Shape {std::int64_t(values.size() / 64), 64}, values});
    }
    {
        // Values beside every E2M1 rounding threshold and boundary of the CUDA MXFP4 packing's 32 bins.
        const std::vector<float> values = testing::mxfp4BinEdgeBlocks();
        Scheme mx;
        mx.blockFormat = BlockFormat::MXFP4;
        cases.push_back({"mxfp4 bin edges", mx, Shape {std::int64_t(values.size() / 32), 32}, values});
    }
    const std::pair<E8M0Rounding, const char*> roundings[] = {{E8M0Rounding::Floor, "floor"},
        {E8M0Rounding::Ceil, "ceil"}, {E8M0Rounding::Even, "even"}, {E8M0Rounding::RCeil, "rceil"}};
    for (const auto& [rounding, name] : roundings) {
        Scheme mx;
        mx.blockFormat = BlockFormat::MXFP4;
        mx.e8m0Rounding = rounding;
        mx.elementRounding = rounding == E8M0Rounding::Ceil ? Rounding::NearestAway : Rounding::NearestEven;
        add(std::string("mxfp4 ") + name, mx);
    }
    {
        // Single-pass MXFP4 whose last warp step is partial (21 blocks of 32: 16, then 5 whose 85 bytes end
        // off a 16-byte boundary), for ties to even (the magic E2M1 path) and ties away (the bins); the
        // second 512 values hold a NaN and an Inf.
        for (const Rounding rounding : {Rounding::NearestEven, Rounding::NearestAway}) {
            Scheme mx;
            mx.blockFormat = BlockFormat::MXFP4;
            mx.elementRounding = rounding;
            std::vector<float> values = testValues(21 * 32, unsigned(cases.size()) + 3, 32);
            values[600] = NAN;
            values[601] = -INFINITY;
            cases.push_back(
                {std::string("mxfp4 partial step ") + (rounding == Rounding::NearestEven ? "even" : "away"),
                    mx, Shape {21, 32}, std::move(values)});
        }
    }
    Scheme mx7;
    mx7.blockFormat = BlockFormat::MXFP4;
    mx7.blockSize = 7;
    add("mxfp4 block 7", mx7);
    // 2-D blocks: ragged at the bottom and the right edge (70 = 4·16 + 6 rows, 300 = 9·32 + 12 columns;
    // 128×128 blocks taller than the matrix, the last one narrower), several matrices, an odd element
    // count, an aligned shape that would take the vector kernels for groups, and an all-zero first block.
    const auto addBlocks = [&](const std::string& name, Scheme scheme) {
        for (const Shape& shape : {Shape {3, 70, 300}, Shape {5, 33, 7}, Shape {2, 256, 512}}) {
            const auto n = static_cast<std::size_t>(shapeElementCount(shape));
            std::vector<float> values = testValues(n, unsigned(cases.size()) + 3, std::size_t(shape.back()));
            const auto columns = static_cast<std::size_t>(shape.back());
            for (std::size_t i = 0; i < 16 * columns; ++i)
                if (i % columns < 32)
                    values[i] = 0;
            values[n / 2] = INFINITY;
            values[n / 2 + 1] = -INFINITY;
            values[n / 3] = NAN;
            values[n - 1] = 1e30f;
            cases.push_back({name + " " + shapeToString(shape), scheme, shape, std::move(values)});
        }
    };
    for (const auto& [rows, cols] : {std::pair<std::int64_t, std::int64_t> {16, 32}, {128, 128}}) {
        const std::string block = " block" + std::to_string(rows) + "x" + std::to_string(cols);
        const Granularity g = Granularity::block2D(rows, cols);
        addBlocks("int8 sym" + block, makeScheme("int8", g));
        addBlocks("int8 symfull" + block, makeScheme("int8", g, RangeMode::SymmetricFull));
        addBlocks("int8 affine" + block, makeScheme("int8", g, RangeMode::Affine));
        addBlocks("uint8 affine" + block, makeScheme("uint8", g, RangeMode::Affine));
        addBlocks("int4 sym" + block, makeScheme("int4", g));
        addBlocks("uint4 affine" + block, makeScheme("uint4", g, RangeMode::Affine));
        addBlocks("fp8_e4m3" + block, makeScheme("fp8_e4m3", g));
    }
    Scheme awayBlocks = makeScheme("int4", Granularity::block2D(16, 32), RangeMode::Affine);
    awayBlocks.elementRounding = Rounding::NearestAway;
    awayBlocks.arithmetic = ScaleArithmetic::Divide;
    addBlocks("int4 affine block16x32 ties-away divide", awayBlocks);
    return cases;
}

/// The reference bytes of packedQuantize: qs::quantize's codes in the documented layout (element formats)
/// or packBlockFormat (NF4, MXFP4).
inline std::vector<std::uint8_t> referencePackedBytes(const QuantizedTensor& q)
{
    if (q.scheme.blockFormat != BlockFormat::None)
        return packBlockFormat(q);
    const auto* integer = std::get_if<IntegerSpec>(&q.scheme.format.spec);
    std::vector<std::uint8_t> bytes;
    if (integer && integer->bits == 4) {
        for (std::size_t i = 0; i < q.codes.size(); i += 2)
            bytes.push_back(static_cast<std::uint8_t>(
                (q.codes[i] & 0x0F) | ((i + 1 < q.codes.size() ? q.codes[i + 1] & 0x0F : 0) << 4)));
        return bytes;
    }
    for (const std::int32_t code : q.codes)
        bytes.push_back(static_cast<std::uint8_t>(code & 0xFF));
    return bytes;
}

/// cudaPackedQuantize against qs::quantize (bytes, scales, zero points, counts) and cudaPackedDequantize
/// against qs::dequantize, bit for bit.
inline std::string checkPacked(const PackedCase& c)
{
    const Tensor tensor {c.name, c.shape, c.values};
    const QuantizedTensor q = quantize(tensor, c.scheme);
    const std::vector<std::uint8_t> bytes = referencePackedBytes(q);
    const PackedTensor got = cudaPackedQuantize(c.values, c.shape, c.scheme);
    if (got.bytes.size() != bytes.size())
        return c.name + ": " + std::to_string(got.bytes.size()) + " bytes, reference "
            + std::to_string(bytes.size());
    for (std::size_t i = 0; i < bytes.size(); ++i)
        if (got.bytes[i] != bytes[i])
            return c.name + ": byte " + std::to_string(i) + " cuda " + std::to_string(got.bytes[i])
                + ", reference " + std::to_string(bytes[i]);
    if (got.scales.size() != q.scales.size())
        return c.name + ": scale count differs";
    for (std::size_t g = 0; g < q.scales.size(); ++g)
        if (!cudaref::sameFloat(got.scales[g], q.scales[g]))
            return c.name + ": scale " + std::to_string(g) + " differs";
    if (c.scheme.blockFormat == BlockFormat::None && got.zeroPoints != q.zeroPoints)
        return c.name + ": zero points differ";
    if (got.clippedCount != q.clippedCount || got.nonFiniteCount != q.nonFiniteCount)
        return c.name + ": counts cuda " + std::to_string(got.clippedCount) + "/"
            + std::to_string(got.nonFiniteCount) + ", reference " + std::to_string(q.clippedCount) + "/"
            + std::to_string(q.nonFiniteCount);
    const std::vector<float> expected = dequantize(q).data;
    const std::vector<float> values = cudaPackedDequantize(got, c.shape, c.scheme);
    if (values.size() != expected.size())
        return c.name + ": dequantize returned " + std::to_string(values.size()) + " values";
    for (std::size_t i = 0; i < expected.size(); ++i)
        if (std::bit_cast<std::uint32_t>(values[i]) != std::bit_cast<std::uint32_t>(expected[i])
            && !(std::isnan(values[i]) && std::isnan(expected[i])))
            return c.name + ": dequantized element " + std::to_string(i) + " cuda "
                + std::to_string(values[i]) + ", reference " + std::to_string(expected[i]);
    return {};
}

/// cudaScaledE4M3 against cudaref::scaledE4M3 (codes and counts) on testValues with grid ties, subnormal
/// products, overflowing products and every special, at sizes for the vector and the general kernel, with
/// several scales (negative, overflowing); a non-finite scale must be refused with a message naming it.
inline std::string checkScaledE4M3()
{
    for (const std::size_t n : {std::size_t(8192), std::size_t(4103), std::size_t(7)}) {
        std::vector<float> values = testValues(n, unsigned(n), 512);
        for (std::size_t i = 100; i < std::min<std::size_t>(n, 612); ++i) // ties and near-ties of the grid
            values[i] = std::ldexp(static_cast<float>(2 * (i % 64) + 17), -4 - int(i % 11))
                * ((i & 1) ? -1.0f : 1.0f);
        for (std::size_t i = 700; i < std::min<std::size_t>(n, 760); ++i)
            values[i] = std::ldexp(static_cast<float>(i % 7 + 1), -12 - int(i % 6));
        for (const float scale : {448.0f / 12.0f, 1.0f, -0.375f, 3e37f, 0.0f}) {
            const cudaref::ScaledCodes expected = cudaref::scaledE4M3(values, scale);
            const ScaledE4M3 got = cudaScaledE4M3(values, scale);
            const std::string where = "n " + std::to_string(n) + " scale " + std::to_string(scale);
            if (got.codes.size() != expected.codes.size())
                return where + ": " + std::to_string(got.codes.size()) + " codes";
            for (std::size_t i = 0; i < n; ++i)
                if (got.codes[i] != expected.codes[i])
                    return where + ": code " + std::to_string(i) + " cuda " + std::to_string(got.codes[i])
                        + ", reference " + std::to_string(expected.codes[i])
                        + " (x = " + std::to_string(values[i]) + ")";
            if (got.clippedCount != expected.clipped || got.nonFiniteCount != expected.nonFinite)
                return where + ": counts cuda " + std::to_string(got.clippedCount) + "/"
                    + std::to_string(got.nonFiniteCount) + ", reference " + std::to_string(expected.clipped)
                    + "/" + std::to_string(expected.nonFinite);
        }
    }
    // packedQuantize of fp8_e4m3 per tensor multiplies by 1.0f / scale: the cast with that scale is the same.
    const std::vector<float> values = testValues(4096, 77, 512);
    const PackedTensor packed
        = cudaPackedQuantize(values, {4096}, makeScheme("fp8_e4m3", Granularity::perTensor()));
    if (cudaScaledE4M3(values, 1.0f / packed.scales[0]).codes != packed.bytes)
        return "the scaled cast differs from packedQuantize per tensor";
    try {
        cudaScaledE4M3(values, NAN);
        return "a NaN scale is not refused";
    } catch (const Error& error) {
        if (std::string(error.what()).find("scale must be finite") == std::string::npos)
            return std::string("a NaN scale is refused with: ") + error.what();
    }
    return {};
}

using cudaref::BlockCase;
using cudaref::blockCases;

/// cudaBlockFakeQuantError against the sums of (x, dequantize(quantize(x))) in kernels.h's order with the
/// reference's clipped count.
inline std::string checkBlockFakeQuant(const BlockCase& c)
{
    const Tensor tensor {c.name, c.shape, c.values};
    const QuantizedTensor q = quantize(tensor, c.scheme);
    const Tensor reconstructed = dequantize(q);
    ErrorSums reference = cudaref::errorSums(c.values, reconstructed.data, q.clippedCount);
    reference.clipped = q.clippedCount;
    const ErrorSums sums = cudaBlockFakeQuantError(c.values, c.shape, c.scheme);
    if (!cudaref::sameSums(sums, reference)) {
        const auto line = [](const ErrorSums& e) {
            char text[512];
            std::snprintf(text, sizeof text, "%a %a %a %a %a %a max %a n %lld clipped %lld non-finite %lld",
                e.sumSquaredError, e.sumAbsError, e.sumSquaredSignal, e.sumAbsSignal, e.sumProduct,
                e.sumSquaredRecon, e.maxAbsError, static_cast<long long>(e.count),
                static_cast<long long>(e.clipped), static_cast<long long>(e.nonFinite));
            return std::string(text);
        };
        return c.name + ": error sums differ: cuda " + line(sums) + "; reference " + line(reference);
    }
    return {};
}

/// Every kernel name of cudaTimeKernelMs runs on a small tensor; an unknown name is refused.
inline std::string checkTiming()
{
    const std::vector<float> values = testValues(1 << 20, 77);
    const char* kernels[] = {"copy", "read", "minmax", "minmax_rows 4096", "histogram 2048",
        "histogram_abs 2048", "fakequant int8 tensor", "fakequant int8 channel 4096",
        "fakequant int4 group:128", "fakequant fp8_e4m3 tensor", "fakequant fp8_e4m3 group:64 1024 bitround",
        "fakequant fp8_e5m2 channel 1024", "fakequant nf4 group:64", "fakequant_twopass int8 channel",
        "fakequant_values int8 group:128 4096"};
    for (const char* kernel : kernels) {
        const double ms = cudaTimeKernelMs(kernel, values, 3);
        if (!(ms > 0) || !std::isfinite(ms))
            return std::string("timing of '") + kernel + "' gave " + std::to_string(ms) + " ms";
    }
    try {
        cudaTimeKernelMs("sort", values, 1);
    } catch (const Error&) {
        return {};
    }
    return "an unknown kernel name is not refused";
}

} // namespace qs::cudacheck
