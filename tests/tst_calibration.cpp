#include "base/error.h"
#include "calib/calibration.h"
#include "calib/histogram_collectors.h"
#include "calib/order_statistic.h"
#include "formats/number_format.h"

#include <QtTest>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>

using namespace qs;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

QByteArray describe(double actual, double expected)
{
    char text[96];
    std::snprintf(text, sizeof text, "%.17g != %.17g", actual, expected);
    return text;
}

// Bit-exact comparison: QCOMPARE on floating point is fuzzy.
#define QCOMPARE_EXACT(actual, expected)                                                                     \
    do {                                                                                                     \
        const double qsA = double(actual);                                                                   \
        const double qsE = double(expected);                                                                 \
        QVERIFY2(qsA == qsE && std::signbit(qsA) == std::signbit(qsE), describe(qsA, qsE).constData());      \
    } while (false)

#define QCOMPARE_RANGE(actual, lo, hi)                                                                       \
    do {                                                                                                     \
        const GroupRange qsR = (actual);                                                                     \
        QCOMPARE_EXACT(qsR.min, lo);                                                                         \
        QCOMPARE_EXACT(qsR.max, hi);                                                                         \
    } while (false)

#define QVERIFY_THROWS_MENTIONING(statement, phrase)                                                         \
    do {                                                                                                     \
        bool qsThrew = false;                                                                                \
        try {                                                                                                \
            statement;                                                                                       \
        } catch (const qs::Error& e) {                                                                       \
            qsThrew = true;                                                                                  \
            QVERIFY2(std::string(e.what()).find(phrase) != std::string::npos, e.what());                     \
        }                                                                                                    \
        QVERIFY2(qsThrew, "expected qs::Error mentioning: " phrase);                                         \
    } while (false)

Tensor tensorOf(Shape shape, std::vector<float> values, std::string name = "t")
{
    return Tensor {std::move(name), std::move(shape), std::move(values)};
}

Tensor vec(std::vector<float> values)
{
    const auto n = std::int64_t(values.size());
    return tensorOf({n}, std::move(values));
}

Scheme schemeWith(Granularity granularity, RangeMode mode = RangeMode::SymmetricNarrow,
    NumberFormat format = integerFormat(8, true))
{
    Scheme s;
    s.format = std::move(format);
    s.granularity = granularity;
    s.rangeMode = mode;
    return s;
}

CalibrationOptions optionsFor(CalibrationMethod method, Compatibility compat = Compatibility::Native)
{
    CalibrationOptions o;
    o.method = method;
    o.compat = compat;
    return o;
}

/// The index and value of every non-zero count.
std::vector<std::pair<std::size_t, double>> nonZero(const std::vector<double>& counts)
{
    std::vector<std::pair<std::size_t, double>> out;
    for (std::size_t k = 0; k < counts.size(); ++k)
        if (counts[k] != 0)
            out.emplace_back(k, counts[k]);
    return out;
}

} // namespace

class TestCalibration : public QObject {
    Q_OBJECT

    // Two batches of [2, 4].
    static std::vector<Tensor> twoBatches()
    {
        return {tensorOf({2, 4}, {1, -2, 3, 0.5f, 4, 5, -6, 7}, "b0"),
            tensorOf({2, 4}, {-1, 8, 2, 2, 0, 0, 0, -9}, "b1")};
    }

private slots:
    void minMaxPerTensorChannelGroup()
    {
        const std::vector<Tensor> batches = twoBatches();
        std::vector<GroupRange> r = runningMinMaxRanges(batches, schemeWith(Granularity::perTensor()));
        QCOMPARE(r.size(), std::size_t(1));
        QCOMPARE_RANGE(r[0], -9, 8);

        r = runningMinMaxRanges(batches, schemeWith(Granularity::perChannel(0)));
        QCOMPARE(r.size(), std::size_t(2));
        QCOMPARE_RANGE(r[0], -2, 8);
        QCOMPARE_RANGE(r[1], -9, 7);

        r = runningMinMaxRanges(batches, schemeWith(Granularity::perChannel(1)));
        QCOMPARE(r.size(), std::size_t(4));
        QCOMPARE_RANGE(r[0], -1, 4);
        QCOMPARE_RANGE(r[1], -2, 8);
        QCOMPARE_RANGE(r[2], -6, 3);
        QCOMPARE_RANGE(r[3], -9, 7);

        r = runningMinMaxRanges(batches, schemeWith(Granularity::perGroup(2)));
        QCOMPARE(r.size(), std::size_t(4));
        QCOMPARE_RANGE(r[0], -2, 8);
        QCOMPARE_RANGE(r[1], 0.5f, 3);
        QCOMPARE_RANGE(r[2], 0, 5);
        QCOMPARE_RANGE(r[3], -9, 7);

        // Through calibrate(): ModelOpt/TensorRT keep only amax; ORT symmetric; scales from quantize().
        const Scheme perChannel = schemeWith(Granularity::perChannel(0));
        CalibrationResult result = calibrate(batches, perChannel, optionsFor(CalibrationMethod::MinMax));
        QCOMPARE_RANGE(result.ranges[1], -9, 7);
        QCOMPARE(result.batches, 2);
        QCOMPARE_EXACT(result.scales[1], 9.0f / 127.0f);
        QVERIFY(result.zeroPoints.empty());
        QVERIFY(result.curves.empty());
        QCOMPARE(result.histogramBins, std::int64_t(0));
        result
            = calibrate(batches, perChannel, optionsFor(CalibrationMethod::MinMax, Compatibility::ModelOpt));
        QCOMPARE_RANGE(result.ranges[0], -8, 8);
        QCOMPARE_RANGE(result.ranges[1], -9, 9);
        CalibrationOptions ort = optionsFor(CalibrationMethod::MinMax, Compatibility::OnnxRuntime);
        result = calibrate(batches, perChannel, ort);
        QCOMPARE(result.options.symmetric, std::optional<bool>(false)); // ORT's MinMax default
        QCOMPARE_RANGE(result.ranges[0], -2, 8);
        ort.symmetric = true;
        result = calibrate(batches, perChannel, ort);
        QCOMPARE_RANGE(result.ranges[0], -8, 8);
    }

    void minMaxReport()
    {
        // [0, 127] with scale 1: every integer is exact, 200 clips to 127.
        const std::vector<Tensor> batches {vec({0, 1, 2, 127}), vec({-5, 64, 100, 3})};
        const CalibrationResult r
            = calibrate(batches, Scheme {}, optionsFor(CalibrationMethod::MinMax, Compatibility::ModelOpt));
        QCOMPARE_RANGE(r.ranges[0], -127, 127);
        QCOMPARE_EXACT(r.scales[0], 1.0f);
        QCOMPARE(r.report.count, std::int64_t(8));
        QCOMPARE_EXACT(r.report.mse, 0.0);
        QCOMPARE_EXACT(r.report.clippedShare, 0.0);
    }

    void emaSequenceOnThreeBatches()
    {
        // Batch minima -1, -3, 100 and maxima 2, 4, 101. torch: min + c*(batch_min - min) in float32 with
        // c = float(0.01): -1 -> -1.0199999809265137 -> -0.009800076484680176 (double arithmetic would give
        // -0.009800000116229057); 2 -> 2.0199999809265137 -> 3.0097999572753906.
        const std::vector<Tensor> batches {vec({-1, 0.5f, 2}), vec({4, -3, 0}), vec({101, 100})};
        const std::vector<GroupRange> r = emaMinMaxRanges(batches, Scheme {}, 0.01);
        QCOMPARE_RANGE(r[0], -0.009800076484680176, 3.0097999572753906);

        const CalibrationResult viaCalibrate = calibrate(
            batches, Scheme {}, optionsFor(CalibrationMethod::MovingAverage, Compatibility::PyTorch));
        QCOMPARE_RANGE(viaCalibrate.ranges[0], -0.009800076484680176, 3.0097999572753906);

        // The first batch initialises: one batch is its own min-max; c = 1 follows the last batch.
        QCOMPARE_RANGE(emaMinMaxRanges({vec({-1, 2})}, Scheme {}, 0.01)[0], -1, 2);
        QCOMPARE_RANGE(emaMinMaxRanges(batches, Scheme {}, 1.0)[0], 100, 101);

        // Per channel (MovingAveragePerChannelMinMaxObserver): channel 1 only ever sees 5.
        const std::vector<Tensor> channels {tensorOf({2, 2}, {-1, 2, 5, 5}), tensorOf({2, 2}, {-3, 4, 5, 5}),
            tensorOf({2, 2}, {100, 101, 5, 5})};
        const std::vector<GroupRange> rc
            = emaMinMaxRanges(channels, schemeWith(Granularity::perChannel(0)), 0.01);
        QCOMPARE_RANGE(rc[0], -0.009800076484680176, 3.0097999572753906);
        QCOMPARE_RANGE(rc[1], 5, 5);
    }

    void ortMovingAverageIsTheMeanOfExtrema()
    {
        const std::vector<Tensor> batches {vec({-1, 0.5f, 2}), vec({4, -3, 0}), vec({101, 100})};
        // (-1 - 3 + 100)/3 = 32, (2 + 4 + 101)/3 = 35.666668 (float32 sum, float64 division, float32 result).
        std::vector<GroupRange> r = ortMeanMinMaxRanges(batches, Scheme {}, false);
        QCOMPARE_RANGE(r[0], 32, 35.66666793823242);
        r = ortMeanMinMaxRanges(batches, Scheme {}, true);
        QCOMPARE_RANGE(r[0], -35.66666793823242, 35.66666793823242);
        const CalibrationResult c = calibrate(
            batches, Scheme {}, optionsFor(CalibrationMethod::MovingAverage, Compatibility::OnnxRuntime));
        QCOMPARE_RANGE(c.ranges[0], 32, 35.66666793823242);

        // A batch without finite values is skipped by nanmean.
        r = ortMeanMinMaxRanges({vec({-1, 1}), vec({kNaN, kInf}), vec({-3, 3})}, Scheme {}, false);
        QCOMPARE_RANGE(r[0], -2, 2);

        // numpy sums one group's [batches, 1] array pairwise (8 accumulators), several groups row by row:
        // 1e8 followed by eight 4s is 100000032 pairwise but stays 1e8 sequentially in float32.
        std::vector<Tensor> nine {vec({1e8f})};
        std::vector<Tensor> nineByTwo {tensorOf({2}, {1e8f, 1e8f})};
        for (int k = 0; k < 8; ++k) {
            nine.push_back(vec({4}));
            nineByTwo.push_back(tensorOf({2}, {4, 4}));
        }
        QCOMPARE_EXACT(ortMeanMinMaxRanges(nine, Scheme {}, false)[0].max, 11111115.0);
        QCOMPARE_EXACT(
            ortMeanMinMaxRanges(nineByTwo, schemeWith(Granularity::perChannel(0)), false)[1].max, 11111111.0);
    }

    void nativePercentileIsTheExactOrderStatistic()
    {
        QCOMPARE(percentileRank(99.99, 10000), std::int64_t(9999));
        QCOMPARE(percentileRank(99.999, 10000), std::int64_t(10000));
        QCOMPARE(percentileRank(50, 7), std::int64_t(4));
        QCOMPARE(percentileRank(0.0001, 7), std::int64_t(1));
        QCOMPARE(percentileRank(100, 7), std::int64_t(7));

        // 1..100 (negated where odd), shuffled over three batches.
        std::vector<float> values;
        for (int k = 0; k < 100; ++k) {
            const int v = (k * 37) % 100 + 1;
            values.push_back(float(v % 2 ? -v : v));
        }
        const std::vector<Tensor> batches {vec({values.begin(), values.begin() + 30}),
            vec({values.begin() + 30, values.begin() + 70}), vec({values.begin() + 70, values.end()})};
        const Scheme s;
        QCOMPARE_RANGE(exactPercentileRanges(batches, s, 99, true)[0], -99, 99);
        QCOMPARE_RANGE(exactPercentileRanges(batches, s, 99.5, true)[0], -100, 100);
        QCOMPARE_RANGE(exactPercentileRanges(batches, s, 50, true)[0], -50, 50);
        // Both tails: cut 5 % each side of the signed values -99, -97, ..., -1, 2, 4, ..., 100: the 95th
        // smallest is 90, the 6th smallest -89.
        QCOMPARE_RANGE(exactPercentileRanges(batches, s, 90, false)[0], -89, 90);
        QCOMPARE_RANGE(exactPercentileRanges(batches, s, 100, false)[0], -99, 100);

        // calibrate(): symmetric by default, two tails for affine schemes; per channel too.
        CalibrationOptions o = optionsFor(CalibrationMethod::Percentile);
        o.percentile = 99;
        QCOMPARE_RANGE(calibrate(batches, s, o).ranges[0], -99, 99);
        o.percentile = 90;
        const CalibrationResult affine
            = calibrate(batches, schemeWith(Granularity::perTensor(), RangeMode::Affine), o);
        QCOMPARE(affine.options.symmetric, std::optional<bool>(false));
        QCOMPARE_RANGE(affine.ranges[0], -89, 90);
        o.percentile = 0;
        QCOMPARE_EXACT(calibrate(batches, s, o).options.percentile, 99.99);

        const std::vector<Tensor> rows {tensorOf({2, 4}, {1, 2, 3, 40, -5, -6, -7, -8})};
        o.percentile = 75;
        const CalibrationResult perRow = calibrate(rows, schemeWith(Granularity::perChannel(0)), o);
        QCOMPARE_RANGE(perRow.ranges[0], -3, 3);
        QCOMPARE_RANGE(perRow.ranges[1], -7, 7);
    }

    void modelOptPercentileTakesTheLeftEdge()
    {
        CollectedHistogram h;
        h.absolute = true;
        h.edges = {0, 1, 2, 3, 4};
        h.counts = {10, 0, 80, 10}; // cdf 0.1, 0.1, 0.9, 1.0
        QCOMPARE_EXACT(modelOptPercentileAmax(h, 50), 2.0); // the median lies inside bin 2: its left edge
        QCOMPARE_EXACT(modelOptPercentileAmax(h, 10), 0.0); // side='left': cdf[0] == 0.1 already
        QCOMPARE_EXACT(modelOptPercentileAmax(h, 10.5), 2.0); // the empty bin 1 is skipped
        QCOMPARE_EXACT(modelOptPercentileAmax(h, 95), 3.0);
        h.counts = {10.9, 0, 80.7, 10}; // float counts are truncated first, as ModelOpt's .int()
        QCOMPARE_EXACT(modelOptPercentileAmax(h, 50), 2.0);
        QVERIFY_THROWS_MENTIONING(modelOptPercentileAmax(h, 101), "percentile");
        h.edges = {0, 0.1, 0.2, 0.3, 0.4}; // float64 edges (numpy path after growth)
        QCOMPARE_EXACT(
            modelOptPercentileAmax(h, 95), double(0.3f)); // returned as torch.tensor(edge): float32
    }

    void modelOptPerChannelPercentileAsCalibrateWeights()
    {
        // numpy.histogram(|w_c|, 2048, range=(0, max|w_c|)) per row, then the left edge of the bin where the
        // cdf reaches p. Row 0: |w| 1, 2, 3, 4 in bins 512, 1024, 1536, 2047 (width 4/2048): the median's bin
        // starts at 2. Row 1: two zeros are half of the row, so the 50 % amax is edges[0] = 0.
        const std::vector<Tensor> w {tensorOf({2, 4}, {1, -2, 3, 4, -8, 0.5f, 0, 0})};
        CalibrationOptions o = optionsFor(CalibrationMethod::Percentile, Compatibility::ModelOpt);
        o.percentile = 50;
        const CalibrationResult r = calibrate(w, schemeWith(Granularity::perChannel(0)), o);
        QCOMPARE_RANGE(r.ranges[0], -2, 2);
        QCOMPARE_RANGE(r.ranges[1], 0, 0);
        QCOMPARE(r.histogramBins, std::int64_t(2048));
        QCOMPARE_EXACT(r.histogramBinWidth, 0.0); // the rows' widths differ
        const CollectedHistogram h = modelOptWeightHistogram(std::vector<float> {1, -2, 3, 4}, 2048);
        QCOMPARE(nonZero(h.counts),
            (std::vector<std::pair<std::size_t, double>> {{512, 1}, {1024, 1}, {1536, 1}, {2047, 1}}));
        QCOMPARE_EXACT(h.edges[1], 4.0 / 2048);
    }

    void ortPercentileClampsToSeenMinMax()
    {
        // Asymmetric (collect_value histogram): cut 5 % each side; cdf 0.01, 0.51, 1.0, 1.0.
        CollectedHistogram h;
        h.edges = {-4, -2, 0, 2, 4};
        h.counts = {1, 50, 49, 0};
        QCOMPARE_RANGE(ortPercentileRange(h, 90, false, -4, 4), -2, 0);
        QCOMPARE_RANGE(ortPercentileRange(h, 90, false, -1.5, 3), -1.5, 0); // lo clamped to the seen min
        QCOMPARE_RANGE(ortPercentileRange(h, 90, false, -4, -0.5), -2, -0.5); // hi clamped to the seen max

        // Symmetric (|x| histogram): (-e, e), and the clamp can make it asymmetric.
        CollectedHistogram a;
        a.absolute = true;
        a.edges = {0, 1, 2, 3};
        a.counts = {10, 80, 10};
        QCOMPARE_RANGE(ortPercentileRange(a, 50, true, -5, 5), -1, 1);
        QCOMPARE_RANGE(ortPercentileRange(a, 50, true, -0.5, 5), -0.5, 1);

        // End to end on 0.01, 0.02, ..., 10: all positive, so ORT's symmetric range (-e, e) starts at the
        // seen min 0.01. e is the left edge of the last bin of the |x| histogram over [0.01, 10].
        std::vector<float> values;
        for (int k = 1; k <= 1000; ++k)
            values.push_back(float(k) / 100.0f);
        CalibrationOptions o = optionsFor(CalibrationMethod::Percentile, Compatibility::OnnxRuntime);
        const CalibrationResult r = calibrate({vec(values)}, Scheme {}, o);
        QCOMPARE(r.options.symmetric, std::optional<bool>(true));
        QCOMPARE_EXACT(r.options.percentile, 99.999);
        QCOMPARE(r.histogramBins, std::int64_t(2048));
        QCOMPARE_RANGE(r.ranges[0], 0.01f, peer::numpyLinspace(0.01f, 10.0f, 2049)[2047]);
        // Both tails over [-10, 10] (bin width 20/2048): the lower cut falls in bin 1025, whose left edge
        // 0.009765625 is below the seen min and is clamped to it; the upper one in the last bin.
        o.symmetric = false;
        o.percentile = 99.9;
        QCOMPARE_RANGE(calibrate({vec(values)}, Scheme {}, o).ranges[0], 0.01f, 9.990234375);
    }

    void modelOptHistogramAppendsSameWidthBins()
    {
        ModelOptHistogramCollector c; // 2048 bins, torch.histc
        c.collect(std::vector<float> {0.5f, 1, 2, -2}); // |x|; max 2 fixes the width 2/2048 = 2^-10
        CollectedHistogram h = c.histogram();
        QCOMPARE(h.binCount(), std::size_t(2048));
        QCOMPARE(h.edges.size(), std::size_t(2049));
        QCOMPARE_EXACT(h.edges[1], 1.0 / 1024);
        QCOMPARE_EXACT(h.edges[1500], 1500.0 / 1024);
        QCOMPARE_EXACT(h.edges[2048], 2.0);
        QCOMPARE(nonZero(h.counts),
            (std::vector<std::pair<std::size_t, double>> {{512, 1}, {1024, 1}, {2047, 2}}));

        c.collect(std::vector<float> {3, -2.5f}); // grows to ceil(3 / 2^-10) = 3072 bins of the same width
        c.collect(std::vector<float> {1.5f}); // inside: no growth
        h = c.histogram();
        QCOMPARE(h.binCount(), std::size_t(3072));
        QCOMPARE(h.edges.size(), std::size_t(3073));
        QCOMPARE_EXACT(h.edges[1], 1.0 / 1024);
        QCOMPARE_EXACT(h.edges[2049], 2049.0 / 1024);
        QCOMPARE_EXACT(h.edges[3072], 3.0);
        QCOMPARE(nonZero(h.counts),
            (std::vector<std::pair<std::size_t, double>> {
                {512, 1}, {1024, 1}, {1536, 1}, {2047, 2}, {2560, 1}, {3071, 1}}));
        QVERIFY(h.absolute);
        QCOMPARE_EXACT(h.minSeen, 0.5);
        QCOMPARE_EXACT(h.maxSeen, 3.0);
        QCOMPARE(c.batchCount(), 3);

        // The first batch's edges are torch.linspace(0, max, 2049).
        ModelOptHistogramCollector d;
        d.collect(std::vector<float> {0.3f, -0.7f});
        QCOMPARE(d.histogram().edges, (std::vector<double>([] {
            const std::vector<float> e = peer::torchLinspace(0, 0.7f, 2049);
            return std::vector<double>(e.begin(), e.end());
        }())));

        // calibrate() reports the final histogram; per tensor only.
        const CalibrationResult r = calibrate({vec({0.5f, 1, 2, -2}), vec({3, -2.5f})}, Scheme {},
            optionsFor(CalibrationMethod::Percentile, Compatibility::ModelOpt));
        QCOMPARE(r.histogramBins, std::int64_t(3072));
        QCOMPARE_EXACT(r.histogramBinWidth, 1.0 / 1024);
        QCOMPARE_RANGE(r.ranges[0], -3071.0 / 1024, 3071.0 / 1024); // 99.99 %: the left edge of the last bin
        QVERIFY_THROWS_MENTIONING(
            calibrate({tensorOf({2, 2}, {1, 2, 3, 4})}, schemeWith(Granularity::perGroup(2)),
                optionsFor(CalibrationMethod::Percentile, Compatibility::ModelOpt)),
            "per tensor or per channel only");
    }

    void ortValueHistogramGrowsSymmetrically()
    {
        OrtHistogramCollector c(128, false);
        c.collect(std::vector<float> {-1, 0, 0.5f, 1}); // th = 1: edges -1 + i/64
        CollectedHistogram h = c.histogram();
        QCOMPARE(h.binCount(), std::size_t(128));
        QCOMPARE_EXACT(h.edges[0], -1.0);
        QCOMPARE_EXACT(h.edges[64], 0.0);
        QCOMPARE(nonZero(h.counts),
            (std::vector<std::pair<std::size_t, double>> {{0, 1}, {64, 1}, {96, 1}, {127, 1}}));

        // th 1.5: half = int((1.5 - 1) // (2/128) + 1) = 33, so 128 + 2·33 = 194 bins and
        // th' = 33/64 + 1 = 1.515625.
        c.collect(std::vector<float> {1.5f, -0.25f});
        h = c.histogram();
        QCOMPARE(h.binCount(), std::size_t(194));
        QCOMPARE_EXACT(c.threshold(), 1.515625);
        QCOMPARE_EXACT(h.edges.front(), -1.515625);
        QCOMPARE_EXACT(h.edges.back(), 1.515625);
        for (std::size_t i = 0; i < h.edges.size(); ++i)
            QCOMPARE_EXACT(h.edges[i], -1.515625 + double(i) / 64);
        // The old bins keep their meaning, shifted by 33.
        QCOMPARE(nonZero(h.counts),
            (std::vector<std::pair<std::size_t, double>> {
                {33, 1}, {81, 1}, {97, 1}, {129, 1}, {160, 1}, {193, 1}}));

        c.collect(std::vector<float> {0.2f}); // within th: binned on the existing edges
        h = c.histogram();
        QCOMPARE(h.binCount(), std::size_t(194));
        QCOMPARE_EXACT(h.counts[109], 1.0);
        QCOMPARE_EXACT(h.minSeen, -1.0);
        QCOMPARE_EXACT(h.maxSeen, 1.5);
        QVERIFY(!h.absolute);
    }

    void ortAbsoluteHistogramDropsValuesBelowTheFirstEdge()
    {
        OrtHistogramCollector c(4, true);
        c.collect(std::vector<float> {-1, 2, 3}); // |x| in [1, 3]: edges 1, 1.5, 2, 2.5, 3
        c.collect(std::vector<float> {0.5f, -2.25f}); // 0.5 < edges[0]: dropped
        const CollectedHistogram h = c.histogram();
        QCOMPARE(h.edges, (std::vector<double> {1, 1.5, 2, 2.5, 3}));
        QCOMPARE(h.counts, (std::vector<double> {1, 0, 2, 1}));
        QCOMPARE_EXACT(c.signedMin(), -2.25);
        QCOMPARE_EXACT(c.signedMax(), 3.0);
    }

    void pytorchObserverUpscalesTheOldHistogram()
    {
        PyTorchHistogramCollector c(4);
        c.collect(std::vector<float> {0, 1, 2, 3, 4}); // [0, 4]: 4 -> the last bin
        QCOMPARE(c.histogram().counts, (std::vector<double> {1, 1, 1, 2}));
        // New range [-4, 4]: the batch is binned on it ([1, 0, 0, 1]); each old bin becomes 16 sub-bins of
        // count/16 at mid points j/16 + 1/32, which bucketize into the new bins [0, 2) -> 2 and [2, 4) -> 3.
        c.collect(std::vector<float> {-4, 4});
        const CollectedHistogram h = c.histogram();
        QCOMPARE(h.counts, (std::vector<double> {1, 0, 2, 4}));
        QCOMPARE(h.edges, (std::vector<double> {-4, -2, 0, 2, 4}));
        QCOMPARE_EXACT(h.minSeen, -4.0);
        QCOMPARE_EXACT(h.maxSeen, 4.0);

        // While min == max the counts sit in torch.histc's [v - 1, v + 1] bins; growth moves them as one.
        PyTorchHistogramCollector k(4);
        k.collect(std::vector<float> {2, 2, 2});
        QCOMPARE(k.histogram().counts, (std::vector<double> {0, 0, 3, 0}));
        QCOMPARE(k.histogram().edges, (std::vector<double> {1, 1.5, 2, 2.5, 3}));
        k.collect(std::vector<float> {0, 4});
        QCOMPARE(k.histogram().counts, (std::vector<double> {1, 0, 3, 1}));

        // HistogramObserver on constant data: the range is the value itself, without a search.
        const CalibrationResult r
            = calibrate({vec({3, 3, 3})}, schemeWith(Granularity::perTensor(), RangeMode::SymmetricFull),
                optionsFor(CalibrationMethod::HistogramObserver));
        QCOMPARE(r.options.compat, Compatibility::PyTorch);
        QCOMPARE_RANGE(r.ranges[0], 3, 3);
        QCOMPARE_EXACT(r.scales[0], 3.0f / 127.5f);
    }

    void countsNeverSaturate()
    {
        const std::vector<float> ones((std::size_t(1) << 24) + 5, 1.0f);
        const CollectedHistogram h = nativeHistogram({std::span<const float>(ones)}, 4, true);
        QCOMPARE_EXACT(h.counts[3], 16777221.0);
        // torch.histc's float32 counts stop at 2^24 (NVIDIA/TensorRT#2757), as the peer collectors do.
        QCOMPARE_EXACT(peer::torchHistc(ones, 4, 0, 1)[3], 16777216.0);
    }

    void nonFiniteValuesAreExcludedAndCounted()
    {
        const std::vector<Tensor> batches {vec({1, kNaN, -2, kInf}), vec({-kInf, 0.5f, 3})};
        CalibrationResult r = calibrate(batches, Scheme {}, optionsFor(CalibrationMethod::MinMax));
        QCOMPARE_RANGE(r.ranges[0], -2, 3);
        QCOMPARE(r.nonFiniteCount, std::int64_t(3));
        QCOMPARE(r.report.count, std::int64_t(4));

        const std::vector<Tensor> clean {vec({1, -2}), vec({0.5f, 3})};
        for (const auto& [method, compat] : std::vector<std::pair<CalibrationMethod, Compatibility>> {
                 {CalibrationMethod::Percentile, Compatibility::ModelOpt},
                 {CalibrationMethod::Percentile, Compatibility::OnnxRuntime},
                 {CalibrationMethod::Percentile, Compatibility::Native},
                 {CalibrationMethod::HistogramObserver, Compatibility::PyTorch},
                 {CalibrationMethod::MovingAverage, Compatibility::OnnxRuntime},
                 {CalibrationMethod::MovingAverage, Compatibility::PyTorch}}) {
            r = calibrate(batches, Scheme {}, optionsFor(method, compat));
            QCOMPARE(r.nonFiniteCount, std::int64_t(3));
            QCOMPARE(r.ranges, calibrate(clean, Scheme {}, optionsFor(method, compat)).ranges);
        }

        ModelOptHistogramCollector m;
        m.collect(batches[0].data);
        m.collect(batches[1].data);
        QCOMPARE(m.nonFiniteCount(), std::int64_t(3));
        QCOMPARE(m.batchCount(), 2);
        std::int64_t bad = 0;
        nativeHistogram({std::span<const float>(batches[0].data)}, 8, false, &bad);
        QCOMPARE(bad, std::int64_t(2));
    }

    void degenerateGroupsGetDefinedRanges()
    {
        const std::vector<Tensor> zeros {tensorOf({2, 3}, {0, 0, 0, 0, 0, 0})};
        for (const auto& [method, compat] : std::vector<std::pair<CalibrationMethod, Compatibility>> {
                 {CalibrationMethod::MinMax, Compatibility::Native},
                 {CalibrationMethod::Entropy, Compatibility::ModelOpt},
                 {CalibrationMethod::Entropy, Compatibility::Native},
                 {CalibrationMethod::Entropy, Compatibility::OnnxRuntime},
                 {CalibrationMethod::Mse, Compatibility::Native},
                 {CalibrationMethod::Percentile, Compatibility::ModelOpt},
                 {CalibrationMethod::Percentile, Compatibility::Native},
                 {CalibrationMethod::HistogramObserver, Compatibility::PyTorch}}) {
            const CalibrationResult r = calibrate(zeros, Scheme {}, optionsFor(method, compat));
            QCOMPARE_RANGE(r.ranges[0], 0, 0);
            QVERIFY(std::isfinite(r.scales[0]) && r.scales[0] > 0);
            QCOMPARE_EXACT(r.report.mse, 0.0);
        }
        // A row without any finite value, next to a normal one.
        const CalibrationResult r = calibrate({tensorOf({2, 2}, {kNaN, kNaN, 1, -4})},
            schemeWith(Granularity::perChannel(0)), optionsFor(CalibrationMethod::MinMax));
        QCOMPARE_RANGE(r.ranges[0], 0, 0);
        QCOMPARE_RANGE(r.ranges[1], -4, 1);
    }

    void peerQParams()
    {
        const std::vector<Tensor> batch {vec({-1, 0.25f, 3})};
        // PyTorch quint8 affine: scale = 4/255 (float32), zp = 0 - round(-1/scale) = round(63.75) = 64.
        CalibrationResult r = calibrate(batch,
            schemeWith(Granularity::perTensor(), RangeMode::Affine, integerFormat(8, false)),
            optionsFor(CalibrationMethod::MinMax, Compatibility::PyTorch));
        QCOMPARE_EXACT(r.scales[0], 4.0f / 255.0f);
        QCOMPARE(r.zeroPoints, (std::vector<std::int32_t> {64}));
        // qint8 symmetric (full range): amax / 127.5.
        r = calibrate(batch, schemeWith(Granularity::perTensor(), RangeMode::SymmetricFull),
            optionsFor(CalibrationMethod::MinMax, Compatibility::PyTorch));
        QCOMPARE_EXACT(r.scales[0], 3.0f / 127.5f);
        QVERIFY(r.zeroPoints.empty());
        // ORT int8 symmetric [-127, 127]: float32(3/127 in float64);
        // uint8 affine: zp = round(0 - (-1)/scale).
        r = calibrate(batch, Scheme {}, optionsFor(CalibrationMethod::MinMax, Compatibility::OnnxRuntime));
        QCOMPARE_EXACT(r.scales[0], float(3.0 / 127.0));
        r = calibrate(batch, schemeWith(Granularity::perTensor(), RangeMode::Affine, integerFormat(8, false)),
            optionsFor(CalibrationMethod::MinMax, Compatibility::OnnxRuntime));
        QCOMPARE_EXACT(r.scales[0], float(4.0 / 255.0));
        QCOMPARE(r.zeroPoints, (std::vector<std::int32_t> {64}));
    }

    void searchMethodsGiveCurves()
    {
        std::vector<float> values;
        for (int k = 0; k < 4000; ++k)
            values.push_back(float(std::sin(k * 0.37) * (k % 97 == 0 ? 9.0 : 1.0)));
        const std::vector<Tensor> batches {
            vec({values.begin(), values.begin() + 2000}), vec({values.begin() + 2000, values.end()})};
        const CalibrationResult r
            = calibrate(batches, Scheme {}, optionsFor(CalibrationMethod::Entropy, Compatibility::ModelOpt));
        QCOMPARE(r.curves.size(), std::size_t(1));
        const ObjectiveCurve& c = r.curves.front();
        QVERIFY(!c.threshold.empty());
        QCOMPARE(c.threshold.size(), c.value.size());
        QVERIFY(c.best < c.threshold.size());
        QCOMPARE_EXACT(r.ranges[0].max, c.threshold[c.best]);
        QCOMPARE(r.options.quantizedBins, 128);
        QCOMPARE(r.options.bins, 2048);
        const CalibrationResult ort = calibrate(
            batches, Scheme {}, optionsFor(CalibrationMethod::Entropy, Compatibility::OnnxRuntime));
        QCOMPARE(ort.options.bins, 128); // ORT's entropy defaults: 128 bins, 128 quantized bins
        QCOMPARE(ort.options.quantizedBins, 128);
        QCOMPARE(ort.curves.size(), std::size_t(1));
        QCOMPARE(r.report.count, std::int64_t(4000));
        // KL keeps the sine body and clips the 42 outliers (up to 9): amax is near 1.
        QVERIFY(r.ranges[0].max > 0.9 && r.ranges[0].max < 1.5);
        QVERIFY(r.report.clippedShare > 0);
    }

    void splitBatchesAndBatchAxis()
    {
        std::vector<float> data(12);
        for (int k = 0; k < 12; ++k)
            data[std::size_t(k)] = float(k);
        const Tensor t = tensorOf({4, 3}, data);
        std::vector<Tensor> b = splitBatches(t, 2);
        QCOMPARE(b.size(), std::size_t(2));
        QCOMPARE(b[0].shape, (Shape {2, 3}));
        QCOMPARE(b[0].data, (std::vector<float> {0, 1, 2, 3, 4, 5}));
        QCOMPARE(b[1].data, (std::vector<float> {6, 7, 8, 9, 10, 11}));
        QCOMPARE(b[1].name, std::string("t[2:4]"));
        QCOMPARE(splitBatches(t, 1).front(), t);
        QVERIFY_THROWS_MENTIONING(splitBatches(t, 3), "3 equal batches");
        QVERIFY_THROWS_MENTIONING(splitBatches(t, 0), "at least 1");

        b = batchesAlongAxis(t, 1);
        QCOMPARE(b.size(), std::size_t(3));
        QCOMPARE(b[0].shape, (Shape {4}));
        QCOMPARE(b[0].data, (std::vector<float> {0, 3, 6, 9}));
        QCOMPARE(b[2].data, (std::vector<float> {2, 5, 8, 11}));
        QCOMPARE(b[2].name, std::string("t[axis=1,2]"));
        QCOMPARE(batchesAlongAxis(t, -1), b);
        b = batchesAlongAxis(t, 0);
        QCOMPARE(b.size(), std::size_t(4));
        QCOMPARE(b[3].data, (std::vector<float> {9, 10, 11}));
        QCOMPARE(b[3].name, std::string("t[3]"));
        QVERIFY_THROWS_MENTIONING(batchesAlongAxis(t, 2), "out of range");
        QVERIFY_THROWS_MENTIONING(batchesAlongAxis(tensorOf({}, {1}), 0), "scalar");
    }

    void invalidInputIsRejected()
    {
        const std::vector<Tensor> batches {vec({1, 2, 3})};
        QVERIFY_THROWS_MENTIONING(calibrate(batches, Scheme {},
                                      optionsFor(CalibrationMethod::MovingAverage, Compatibility::ModelOpt)),
            "valid: native, pytorch, onnxruntime");
        QVERIFY_THROWS_MENTIONING(
            calibrate(batches, Scheme {}, optionsFor(CalibrationMethod::Mse, Compatibility::OnnxRuntime)),
            "valid: native, modelopt");
        CalibrationOptions o = optionsFor(CalibrationMethod::Percentile);
        o.percentile = 150;
        QVERIFY_THROWS_MENTIONING(calibrate(batches, Scheme {}, o), "outside (0, 100]");
        o = optionsFor(CalibrationMethod::Entropy);
        o.bins = 1;
        QVERIFY_THROWS_MENTIONING(calibrate(batches, Scheme {}, o), "bins");
        QVERIFY_THROWS_MENTIONING(
            calibrate({}, Scheme {}, optionsFor(CalibrationMethod::MinMax)), "at least one batch");
        QVERIFY_THROWS_MENTIONING(
            calibrate({tensorOf({2, 2}, {1, 2, 3, 4}), tensorOf({1, 2}, {1, 2})},
                schemeWith(Granularity::perChannel(0)), optionsFor(CalibrationMethod::MinMax)),
            "same shape");
        // Per tensor, batches may differ in size.
        QCOMPARE_RANGE(
            calibrate({vec({1, 2, 3}), vec({-4})}, Scheme {}, optionsFor(CalibrationMethod::MinMax))
                .ranges[0],
            -4, 3);
        QVERIFY_THROWS_MENTIONING(
            calibrate(batches,
                schemeWith(Granularity::perTensor(), RangeMode::SymmetricNarrow, ternaryFormat()),
                optionsFor(CalibrationMethod::MinMax)),
            "BitNet");
        QVERIFY_THROWS_MENTIONING(calibrationMethodByName("kmeans"), "valid: minmax, ema, percentile");
        QCOMPARE(calibrationMethodByName("Histogram-Observer"), CalibrationMethod::HistogramObserver);
        QCOMPARE(compatibilityByName("ORT"), Compatibility::OnnxRuntime);
        QCOMPARE(calibrationMethodName(CalibrationMethod::MovingAverage), std::string("ema"));
        QCOMPARE(compatibilityName(Compatibility::TensorRT), std::string("tensorrt"));
    }

    // The radix selection equals std::nth_element on a copy of the finite values, at every rank checked, on
    // data with negatives, ±0, subnormals, ties, NaN and ±Inf, spread over spans of different sizes.
    void orderStatisticsEqualNthElement_data()
    {
        QTest::addColumn<bool>("magnitudes");
        QTest::newRow("signed") << false;
        QTest::newRow("magnitudes") << true;
    }

    void orderStatisticsEqualNthElement()
    {
        QFETCH(bool, magnitudes);
        std::mt19937 gen(7);
        std::normal_distribution<float> normal;
        std::vector<float> a(70001), b(513), c(1);
        for (float& v : a)
            v = normal(gen) * 3;
        for (std::size_t i = 0; i < a.size(); i += 97)
            a[i] = 0.0f;
        for (std::size_t i = 5; i < a.size(); i += 89)
            a[i] = -0.0f;
        for (std::size_t i = 0; i < b.size(); ++i)
            b[i] = i % 3 == 0 ? 1.5f : std::numeric_limits<float>::denorm_min() * float(int(i) - 256);
        b[7] = std::numeric_limits<float>::quiet_NaN();
        b[8] = std::numeric_limits<float>::infinity();
        b[9] = -std::numeric_limits<float>::infinity();
        c[0] = std::numeric_limits<float>::quiet_NaN();
        const std::vector<std::span<const float>> spans {a, b, c};

        std::vector<float> finite;
        for (const auto& span : spans)
            for (const float v : span)
                if (std::isfinite(v))
                    finite.push_back(magnitudes ? std::fabs(v) : v);
        const std::int64_t n = qs::countFinite(spans);
        QCOMPARE(n, std::int64_t(finite.size()));
        QCOMPARE(n, std::int64_t(a.size() + b.size() - 3));
        std::vector<std::int64_t> ranks {0, 1, n / 2, n - 2, n - 1};
        for (std::int64_t r = 3; r < n; r += 4999)
            ranks.push_back(r);
        const std::vector<float> got = qs::selectRanks(spans, ranks, magnitudes, n);
        QCOMPARE(got.size(), ranks.size());
        for (std::size_t i = 0; i < ranks.size(); ++i) {
            std::vector<float> copy = finite;
            std::nth_element(copy.begin(), copy.begin() + ranks[i], copy.end());
            const float want = copy[std::size_t(ranks[i])];
            // Equal as floats; where the value is a zero, the bit order decides its sign.
            QVERIFY2(got[i] == want,
                qPrintable(QStringLiteral("rank %1: %2 vs %3").arg(ranks[i]).arg(got[i]).arg(want)));
            if (got[i] != 0 || magnitudes)
                QCOMPARE(std::bit_cast<std::uint32_t>(got[i]), std::bit_cast<std::uint32_t>(want));
        }
        // Every zero sits between the negatives and the positives, -0 first.
        if (!magnitudes) {
            const std::int64_t negatives
                = std::count_if(finite.begin(), finite.end(), [](float v) { return v < 0; });
            QCOMPARE(std::signbit(qs::selectRanks(spans, {negatives}, false, n).front()), true);
            QVERIFY_THROWS_EXCEPTION(qs::Error, qs::selectRanks(spans, {n}, false, n));
        }
    }

    // Per tensor, the native exact percentile (radix selection over the batches) equals the per-group path
    // (nth_element on a copy) that a one-channel scheme takes on the same values.
    void exactPercentilePerTensorEqualsTheGroupPath()
    {
        std::mt19937 gen(11);
        std::student_t_distribution<float> heavy(3);
        std::vector<Tensor> batches;
        for (int k = 0; k < 3; ++k) {
            Tensor t {std::string("b").append(std::to_string(k)), {1, 4000}, std::vector<float>(4000)};
            for (float& v : t.data)
                v = heavy(gen);
            t.data[17] = std::numeric_limits<float>::quiet_NaN();
            batches.push_back(t);
        }
        Scheme perTensor;
        Scheme oneChannel;
        oneChannel.granularity = Granularity::perChannel(0);
        for (const bool symmetric : {true, false})
            for (const double p : {50.0, 99.0, 99.99, 100.0}) {
                std::int64_t badA = 0, badB = 0;
                const std::vector<GroupRange> a
                    = exactPercentileRanges(batches, perTensor, p, symmetric, &badA);
                const std::vector<GroupRange> b
                    = exactPercentileRanges(batches, oneChannel, p, symmetric, &badB);
                QCOMPARE(a.size(), std::size_t(1));
                QCOMPARE(b.size(), std::size_t(1));
                QCOMPARE(a[0].min, b[0].min);
                QCOMPARE(a[0].max, b[0].max);
                QCOMPARE(badA, std::int64_t(3));
                QCOMPARE(badB, std::int64_t(3));
            }
    }
};

QTEST_APPLESS_MAIN(TestCalibration)
#include "tst_calibration.moc"
