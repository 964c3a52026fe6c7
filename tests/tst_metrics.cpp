#include "base/error.h"
#include "metrics/error_report.h"

#include <QtTest>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

using namespace qs;

namespace {

/// The same metrics in long double, straight from the definitions (sorting for the percentiles).
struct Reference {
    long double count = 0, mse = 0, sqnrDb = 0, maxAbs = 0, meanAbs = 0, relRmse = 0, cosine = 0;
    long double p50 = 0, p95 = 0, p99 = 0;
};

Reference reference(const std::vector<float>& x, const std::vector<float>& y)
{
    Reference r;
    long double e2 = 0, ea = 0, x2 = 0, xa = 0, y2 = 0, xy = 0;
    std::vector<long double> errors;
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (!std::isfinite(x[i]))
            continue;
        const long double e = std::fabs((long double)x[i] - (long double)y[i]);
        errors.push_back(e);
        e2 += e * e;
        ea += e;
        x2 += (long double)x[i] * x[i];
        xa += std::fabs((long double)x[i]);
        y2 += (long double)y[i] * y[i];
        xy += (long double)x[i] * y[i];
        r.maxAbs = std::max(r.maxAbs, e);
    }
    r.count = errors.size();
    r.mse = e2 / r.count;
    r.sqnrDb = 10 * std::log10(x2 / e2);
    r.meanAbs = ea / r.count;
    r.relRmse = std::sqrt(r.mse) / (xa / r.count);
    r.cosine = xy / std::sqrt(x2 * y2);
    std::sort(errors.begin(), errors.end());
    const auto rank = [&](long double p) { return errors[std::size_t(std::ceil(p * r.count / 100)) - 1]; };
    r.p50 = rank(50);
    r.p95 = rank(95);
    r.p99 = rank(99);
    return r;
}

bool close(double got, long double expected, double relative = 1e-12)
{
    return std::fabs((long double)got - expected)
        <= relative * std::max<long double>(1e-300, std::fabs(expected));
}

#define QVERIFY_CLOSE(got, expected)                                                                         \
    QVERIFY2(close((got), (expected)),                                                                       \
        qPrintable(QStringLiteral("%1 = %2, expected %3")                                                    \
                       .arg(QLatin1String(#got))                                                             \
                       .arg(double(got), 0, 'g', 17)                                                         \
                       .arg(double(expected), 0, 'g', 17)))

} // namespace

class TestMetrics : public QObject {
    Q_OBJECT

private slots:
    void smallHandCase()
    {
        // e = {0.5, 0, 1, 0}; Σe² = 1.25, Σx² = 30, Σx̂² = 26.25, Σx·x̂ = 27.5, mean|x| = 2.5.
        const std::vector<float> x {1, 2, 3, 4};
        const std::vector<float> y {1.5f, 2, 2, 4};
        const ErrorReport r = computeErrorReport(x, y, 1, 4.125);
        QCOMPARE(r.count, qint64(4));
        QCOMPARE(r.mse, 0.3125);
        QCOMPARE(r.rmse, std::sqrt(0.3125));
        QVERIFY_CLOSE(r.sqnrDb, 10 * std::log10(24.0L));
        QCOMPARE(r.maxAbsError, 1.0);
        QCOMPARE(r.meanAbsError, 0.375);
        QVERIFY_CLOSE(r.relativeRmse, std::sqrt(0.3125L) / 2.5L);
        QVERIFY_CLOSE(r.cosine, 27.5L / std::sqrt(30.0L * 26.25L));
        // Sorted |e| = {0, 0, 0.5, 1}: ranks ceil(2) = 2, ceil(3.8) = 4, ceil(3.96) = 4.
        QCOMPARE(r.p50AbsError, 0.0);
        QCOMPARE(r.p95AbsError, 1.0);
        QCOMPARE(r.p99AbsError, 1.0);
        QCOMPARE(r.clippedShare, 0.25);
        QCOMPARE(r.bitsPerValue, 4.125);
    }

    void percentilesAreNearestRank()
    {
        // |e| = 1..200 in shuffled order: p50 = 100th, p95 = 190th, p99 = 198th smallest.
        std::vector<float> x(200);
        std::iota(x.begin(), x.end(), 1.0f);
        std::shuffle(x.begin(), x.end(), std::mt19937(3));
        const std::vector<float> zeros(x.size(), 0.0f);
        const ErrorReport r = computeErrorReport(x, zeros);
        QCOMPARE(r.p50AbsError, 100.0);
        QCOMPARE(r.p95AbsError, 190.0);
        QCOMPARE(r.p99AbsError, 198.0);
        QCOMPARE(r.maxAbsError, 200.0);
        QCOMPARE(r.cosine, 0.0);
        QCOMPARE(r.sqnrDb, 0.0); // x̂ = 0: the error energy is the signal energy
        // 600 exact zeros and the errors k/1000 (k = 1..400), shuffled: p50 is a zero, p95 the 950th smallest
        // (k = 350), p99 the 990th (k = 390).
        std::vector<float> sparse(1000, 0.0f);
        for (int k = 1; k <= 400; ++k)
            sparse[std::size_t(599 + k)] = float(k) / 1000.0f;
        std::shuffle(sparse.begin(), sparse.end(), std::mt19937(5));
        const ErrorReport s = computeErrorReport(sparse, std::vector<float>(sparse.size(), 0.0f));
        QCOMPARE(s.p50AbsError, 0.0);
        QCOMPARE(s.p95AbsError, double(350.0f / 1000.0f));
        QCOMPARE(s.p99AbsError, double(390.0f / 1000.0f));
        // One element: every percentile is that element.
        const ErrorReport one = computeErrorReport(std::vector<float> {2.0f}, std::vector<float> {1.5f});
        QCOMPARE(one.p50AbsError, 0.5);
        QCOMPARE(one.p99AbsError, 0.5);
    }

    void identicalInput()
    {
        const std::vector<float> x {0.25f, -3.0f, 7.5f, 1e-20f};
        const ErrorReport r = computeErrorReport(x, x);
        QCOMPARE(r.mse, 0.0);
        QCOMPARE(r.maxAbsError, 0.0);
        QVERIFY(std::isinf(r.sqnrDb) && r.sqnrDb > 0);
        QCOMPARE(r.cosine, 1.0);
        QCOMPARE(r.p99AbsError, 0.0);
    }

    void degenerateInputs()
    {
        const std::vector<float> zeros(5, 0.0f);
        ErrorReport r = computeErrorReport(zeros, zeros);
        QCOMPARE(r.sqnrDb, 0.0);
        QCOMPARE(r.cosine, 1.0);
        QCOMPARE(r.relativeRmse, 0.0);
        const std::vector<float> ones(5, 1.0f);
        r = computeErrorReport(zeros, ones);
        QVERIFY(std::isinf(r.sqnrDb) && r.sqnrDb < 0);
        QCOMPARE(r.cosine, 0.0);
        QCOMPARE(r.mse, 1.0);
        // Anti-parallel reconstruction.
        r = computeErrorReport(std::vector<float> {1, 2}, std::vector<float> {-1, -2});
        QCOMPARE(r.cosine, -1.0);
        // Nothing to compare.
        r = computeErrorReport(std::vector<float> {}, std::vector<float> {});
        QCOMPARE(r.count, qint64(0));
        QCOMPARE(r.mse, 0.0);
        QVERIFY_THROWS_EXCEPTION(
            qs::Error, computeErrorReport(std::vector<float> {1, 2}, std::vector<float> {1}));
    }

    void nonFiniteValues()
    {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        // Non-finite originals are skipped entirely.
        ErrorReport r = computeErrorReport(
            std::vector<float> {nan, 1.0f, inf, 2.0f}, std::vector<float> {0, 1.5f, 0, 2});
        QCOMPARE(r.count, qint64(2));
        QCOMPARE(r.mse, 0.125);
        QCOMPARE(r.maxAbsError, 0.5);
        // A non-finite reconstruction of a finite value is an infinite error, never a NaN metric.
        r = computeErrorReport(std::vector<float> {1.0f, 2.0f}, std::vector<float> {nan, 2.0f});
        QCOMPARE(r.count, qint64(2));
        QVERIFY(std::isinf(r.mse));
        QVERIFY(std::isinf(r.maxAbsError));
        QVERIFY(std::isinf(r.sqnrDb) && r.sqnrDb < 0);
        QVERIFY(!std::isnan(r.cosine));
        QCOMPARE(r.p50AbsError, 0.0);
    }

    void againstLongDoubleReference_data()
    {
        QTest::addColumn<int>("count");
        QTest::addColumn<unsigned>("seed");
        QTest::addColumn<float>("noise");
        QTest::newRow("small") << 17 << 1u << 0.1f;
        QTest::newRow("medium") << 1000 << 2u << 0.01f;
        QTest::newRow("large") << 300001 << 3u << 1e-4f;
    }

    void againstLongDoubleReference()
    {
        QFETCH(int, count);
        QFETCH(unsigned, seed);
        QFETCH(float, noise);
        std::mt19937 rng(seed);
        std::student_t_distribution<float> heavy(3.0f);
        std::normal_distribution<float> normal(0.0f, noise);
        std::vector<float> x(static_cast<std::size_t>(count));
        std::vector<float> y(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) {
            x[i] = 0.02f * heavy(rng) + 0.001f;
            y[i] = x[i] + normal(rng) * std::fabs(x[i]);
        }
        x[0] = std::numeric_limits<float>::quiet_NaN();
        const Reference ref = reference(x, y);
        const ErrorReport r = computeErrorReport(x, y, 7, 8.0);
        QCOMPARE(r.count, qint64(count - 1));
        QVERIFY_CLOSE(r.mse, ref.mse);
        QVERIFY_CLOSE(r.rmse, std::sqrt(ref.mse));
        QVERIFY2(std::fabs(r.sqnrDb - double(ref.sqnrDb)) < 1e-10, qPrintable(QString::number(r.sqnrDb)));
        QVERIFY_CLOSE(r.maxAbsError, ref.maxAbs);
        QVERIFY_CLOSE(r.meanAbsError, ref.meanAbs);
        QVERIFY_CLOSE(r.relativeRmse, ref.relRmse);
        QVERIFY2(
            std::fabs(r.cosine - double(ref.cosine)) < 1e-14, qPrintable(QString::number(r.cosine, 'g', 17)));
        QVERIFY_CLOSE(r.p50AbsError, ref.p50);
        QVERIFY_CLOSE(r.p95AbsError, ref.p95);
        QVERIFY_CLOSE(r.p99AbsError, ref.p99);
        QCOMPARE(r.clippedShare, 7.0 / (count - 1));
    }

    void perChannelReports()
    {
        // [2, 3]: axis 0 = rows, axis 1 = columns.
        const Tensor x {"x", {2, 3}, {1, 2, 3, 4, 5, 6}};
        const Tensor y {"y", {2, 3}, {1, 2.5f, 3, 4, 5, 4}};
        const std::vector<ErrorReport> rows = perChannelErrorReports(x, y, 0);
        QCOMPARE(rows.size(), std::size_t(2));
        QCOMPARE(rows[0], computeErrorReport(std::vector<float> {1, 2, 3}, std::vector<float> {1, 2.5f, 3}));
        QCOMPARE(rows[1], computeErrorReport(std::vector<float> {4, 5, 6}, std::vector<float> {4, 5, 4}));
        QCOMPARE(rows[1].maxAbsError, 2.0);
        const std::vector<ErrorReport> columns = perChannelErrorReports(x, y, -1);
        QCOMPARE(columns.size(), std::size_t(3));
        QCOMPARE(columns[1], computeErrorReport(std::vector<float> {2, 5}, std::vector<float> {2.5f, 5}));
        QCOMPARE(columns[2].mse, 2.0);
        QVERIFY(std::isinf(columns[0].sqnrDb));
        // Middle axis of a 3-D tensor.
        std::vector<float> values(24);
        std::iota(values.begin(), values.end(), 1.0f);
        std::vector<float> shifted = values;
        for (std::size_t i = 0; i < shifted.size(); ++i)
            shifted[i] += float((i / 4) % 3); // channel c of axis 1 (size 3, inner 4) is off by c
        const std::vector<ErrorReport> middle
            = perChannelErrorReports({"a", {2, 3, 4}, values}, {"b", {2, 3, 4}, shifted}, 1);
        QCOMPARE(middle.size(), std::size_t(3));
        QCOMPARE(middle[0].mse, 0.0);
        QCOMPARE(middle[1].mse, 1.0);
        QCOMPARE(middle[2].mse, 4.0);
        QCOMPARE(middle[2].count, qint64(8));

        QVERIFY_THROWS_EXCEPTION(qs::Error, perChannelErrorReports(x, y, 2));
        QVERIFY_THROWS_EXCEPTION(qs::Error, perChannelErrorReports(x, {"z", {3, 2}, y.data}, 0));
        QVERIFY_THROWS_EXCEPTION(qs::Error, perChannelErrorReports(x, {"z", {2, 3}, {1, 2}}, 0));
    }
};

QTEST_GUILESS_MAIN(TestMetrics)
#include "tst_metrics.moc"
