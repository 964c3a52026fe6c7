#include "base/error.h"
#include "calib/histogram.h"
#include "tensor/stats.h"

#include <QtTest>
#include <cmath>
#include <random>

using namespace qs;

namespace {

struct Reference {
    long double n = 0, mean = 0, m2 = 0, m4 = 0, lo = INFINITY, hi = -INFINITY;
    long double beyond3 = 0, beyond6 = 0;
};

Reference referenceStats(const std::vector<float>& values)
{
    Reference r;
    long double sum = 0;
    for (float v : values) {
        if (!std::isfinite(v))
            continue;
        r.n += 1;
        sum += v;
        r.lo = std::min<long double>(r.lo, v);
        r.hi = std::max<long double>(r.hi, v);
    }
    r.mean = sum / r.n;
    for (float v : values) {
        if (!std::isfinite(v))
            continue;
        const long double d = v - r.mean;
        r.m2 += d * d;
        r.m4 += d * d * d * d;
    }
    const long double sd = std::sqrt(r.m2 / r.n);
    for (float v : values) {
        if (!std::isfinite(v))
            continue;
        r.beyond3 += std::fabs(v - r.mean) > 3 * sd;
        r.beyond6 += std::fabs(v - r.mean) > 6 * sd;
    }
    return r;
}

bool close(double got, long double expected, double relative)
{
    return std::fabs(got - double(expected)) <= relative * std::max(1.0, std::fabs(double(expected)));
}

std::vector<float> heavyTailed(std::size_t n, unsigned seed, float offset)
{
    std::mt19937_64 rng(seed);
    std::student_t_distribution<float> t(3.0f);
    std::vector<float> v(n);
    for (auto& x : v)
        x = offset + 0.02f * t(rng);
    return v;
}

} // namespace

class TestStats : public QObject {
    Q_OBJECT

private slots:
    void matchesLongDoubleReference_data()
    {
        QTest::addColumn<int>("count");
        QTest::addColumn<float>("offset");
        QTest::newRow("small") << 7 << 0.0f;
        QTest::newRow("one chunk") << 4096 << 0.5f;
        QTest::newRow("ragged chunks") << 100003 << 0.0f;
        // A large offset relative to the spread is where naive sum-of-squares formulas lose every digit.
        QTest::newRow("large offset") << 50000 << 1000.0f;
    }

    void matchesLongDoubleReference()
    {
        QFETCH(int, count);
        QFETCH(float, offset);
        std::vector<float> v = heavyTailed(std::size_t(count), 42, offset);
        v[0] = NAN;
        if (count > 3) {
            v[1] = INFINITY;
            v[2] = -INFINITY;
            v[3] = 0.0f;
        }
        const SummaryStats s = computeSummaryStats(v);
        const Reference r = referenceStats(v);
        QCOMPARE(s.count, std::int64_t(count));
        QCOMPARE(s.nanCount, std::int64_t(1));
        QCOMPARE(s.infCount, std::int64_t(count > 3 ? 2 : 0));
        QCOMPARE(double(s.finiteCount), double(r.n));
        QCOMPARE(s.min, double(r.lo));
        QCOMPARE(s.max, double(r.hi));
        QCOMPARE(s.absmax, std::max(std::fabs(s.min), std::fabs(s.max)));
        QVERIFY2(close(s.mean, r.mean, 1e-12), qPrintable(QString::number(s.mean, 'g', 17)));
        QVERIFY(close(s.std, std::sqrt(r.m2 / r.n), 1e-10));
        QVERIFY(close(s.kurtosis, (r.m4 / r.n) / ((r.m2 / r.n) * (r.m2 / r.n)), 1e-9));
        QCOMPARE(s.beyond3SigmaShare, double(r.beyond3 / r.n));
        QCOMPARE(s.beyond6SigmaShare, double(r.beyond6 / r.n));
        if (count > 1000)
            QVERIFY(s.beyond3SigmaShare > 0);
    }

    void normalKurtosisIsThree()
    {
        std::mt19937_64 rng(7);
        std::normal_distribution<float> normal;
        std::vector<float> v(400000);
        for (auto& x : v)
            x = normal(rng);
        const SummaryStats s = computeSummaryStats(v);
        QVERIFY2(std::fabs(s.kurtosis - 3.0) < 0.05, qPrintable(QString::number(s.kurtosis)));
        QVERIFY(std::fabs(s.beyond3SigmaShare - 0.0027) < 0.0005);
    }

    void degenerateInputs()
    {
        const SummaryStats empty = computeSummaryStats({});
        QCOMPARE(empty.count, std::int64_t(0));
        QCOMPARE(empty.mean, 0.0);
        const std::vector<float> nans {NAN, NAN};
        const SummaryStats allNan = computeSummaryStats(nans);
        QCOMPARE(allNan.nanCount, std::int64_t(2));
        QCOMPARE(allNan.finiteCount, std::int64_t(0));
        QVERIFY(std::isfinite(allNan.mean) && std::isfinite(allNan.std));
        const std::vector<float> constant(1000, -2.5f);
        const SummaryStats c = computeSummaryStats(constant);
        QCOMPARE(c.mean, -2.5);
        QCOMPARE(c.std, 0.0);
        QCOMPARE(c.kurtosis, 0.0);
        QCOMPARE(c.absmax, 2.5);
        const std::vector<float> zeros(10, 0.0f);
        QCOMPARE(computeSummaryStats(zeros).zeroShare, 1.0);
    }

    void channelStatsAlongEveryAxis_data()
    {
        QTest::addColumn<int>("axis");
        QTest::newRow("0") << 0;
        QTest::newRow("1") << 1;
        QTest::newRow("2") << 2;
        QTest::newRow("-1") << -1;
    }

    void channelStatsAlongEveryAxis()
    {
        QFETCH(int, axis);
        Tensor t {"t", {3, 4, 5}, heavyTailed(60, 3, 0.1f)};
        t.data[7] = NAN;
        const ChannelStats cs = computeChannelStats(t, axis);
        const int a = axis < 0 ? axis + 3 : axis;
        QCOMPARE(cs.axis, a);
        QCOMPARE(cs.channelCount(), std::size_t(t.shape[std::size_t(a)]));
        for (std::size_t c = 0; c < cs.channelCount(); ++c) {
            std::vector<float> members;
            for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 4; ++j)
                    for (int k = 0; k < 5; ++k) {
                        const int index[] = {i, j, k};
                        if (std::size_t(index[a]) == c)
                            members.push_back(t.data[std::size_t((i * 4 + j) * 5 + k)]);
                    }
            const Reference r = referenceStats(members);
            QCOMPARE(cs.min[c], double(r.lo));
            QCOMPARE(cs.max[c], double(r.hi));
            QCOMPARE(cs.absmax[c], std::max(std::fabs(double(r.lo)), std::fabs(double(r.hi))));
            QVERIFY(close(cs.mean[c], r.mean, 1e-12));
            QVERIFY(close(cs.std[c], std::sqrt(r.m2 / r.n), 1e-10));
        }
    }

    void channelStatsRejectsBadAxis()
    {
        Tensor t {"t", {2, 2}, {1, 2, 3, 4}};
        QVERIFY_THROWS_EXCEPTION(Error, computeChannelStats(t, 2));
        QVERIFY_THROWS_EXCEPTION(Error, computeChannelStats(t, -3));
        Tensor scalar {"s", {}, {1}};
        QVERIFY_THROWS_EXCEPTION(Error, computeChannelStats(scalar, 0));
    }

    void outlierChannelsRankedByAbsmax()
    {
        ChannelStats cs;
        cs.absmax = {1, 1, 50, 2, 1, 20, 1, 1};
        const auto top = topOutlierChannels(cs, 3);
        QCOMPARE(top.size(), std::size_t(3));
        QCOMPARE(top[0].channel, std::int64_t(2));
        QCOMPARE(top[1].channel, std::int64_t(5));
        QCOMPARE(top[2].channel, std::int64_t(3));
        QCOMPARE(top[0].ratio, 50.0); // median of {1,1,1,1,1,2,20,50} = 1
        QCOMPARE(topOutlierChannels(cs, 100).size(), std::size_t(8));
        cs.absmax = {0, 0, 3};
        QVERIFY(std::isinf(topOutlierChannels(cs, 1)[0].ratio));
    }

    void histogramCountsLikeNumpy()
    {
        const std::vector<float> v {0.0f, 0.5f, 1.0f, 1.0f, -1.0f, NAN, 2.0f, 0.999f};
        const Histogram h = computeHistogram(v, 4, 0.0, 1.0);
        QCOMPARE(h.counts, (std::vector<std::int64_t> {1, 0, 1, 3})); // last bin is closed on the right
        QCOMPARE(h.below, std::int64_t(1));
        QCOMPARE(h.above, std::int64_t(1));
        QCOMPARE(h.nonFinite, std::int64_t(1));
        QCOMPARE(h.binWidth(), 0.25);
        const Histogram a = computeHistogram(v, 2, true);
        QCOMPARE(a.lo, 0.0);
        QCOMPARE(a.hi, 2.0);
        QCOMPARE(a.total(), std::int64_t(7));
        QVERIFY_THROWS_EXCEPTION(Error, computeHistogram(v, 0, 0.0, 1.0));
        QVERIFY_THROWS_EXCEPTION(Error, computeHistogram(v, 10, 1.0, 0.0));
        QVERIFY_THROWS_EXCEPTION(Error, computeHistogram(v, 10, 0.0, INFINITY));
    }
};

QTEST_APPLESS_MAIN(TestStats)
#include "tst_stats.moc"
