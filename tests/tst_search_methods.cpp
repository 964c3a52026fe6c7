#include "base/error.h"
#include "calib/search_methods.h"
#include "quant/quantizer.h"

#include <QtTest>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <type_traits>
#include <vector>

using namespace qs;

namespace {

using I = std::int64_t;
constexpr double kInf = std::numeric_limits<double>::infinity();

/// Deterministic N(0, 1) samples (Box–Muller on mt19937_64), the same on every standard library.
std::vector<double> gaussian(std::size_t count, std::uint64_t seed)
{
    std::mt19937_64 engine(seed);
    const auto uniform = [&] { return (double(engine() >> 11) + 0.5) * 0x1p-53; };
    std::vector<double> out;
    while (out.size() < count) {
        const double r = std::sqrt(-2 * std::log(uniform()));
        const double phi = 2 * std::numbers::pi * uniform();
        out.push_back(r * std::cos(phi));
        out.push_back(r * std::sin(phi));
    }
    out.resize(count);
    return out;
}

/// Student-t with 3 degrees of freedom: heavy tails.
std::vector<double> studentT3(std::size_t count, std::uint64_t seed)
{
    const std::vector<double> z = gaussian(4 * count, seed);
    std::vector<double> out(count);
    for (std::size_t k = 0; k < count; ++k) {
        const double chi2
            = z[4 * k + 1] * z[4 * k + 1] + z[4 * k + 2] * z[4 * k + 2] + z[4 * k + 3] * z[4 * k + 3];
        out[k] = z[4 * k] / std::sqrt(chi2 / 3);
    }
    return out;
}

/// Histogram of |x| over [0, max|x|] (ModelOpt / TensorRT style).
CollectedHistogram absoluteHistogram(const std::vector<double>& values, std::size_t bins)
{
    double top = 0;
    for (double v : values)
        top = std::max(top, std::fabs(v));
    CollectedHistogram h;
    h.absolute = true;
    h.counts.assign(bins, 0);
    for (double v : values)
        h.counts[std::min(bins - 1, std::size_t(std::fabs(v) / top * double(bins)))] += 1;
    for (std::size_t k = 0; k <= bins; ++k)
        h.edges.push_back(top * double(k) / double(bins));
    h.minSeen = 0;
    h.maxSeen = top;
    return h;
}

/// Signed histogram over [-th, th], th = max|x| (ONNX Runtime collect_value style).
CollectedHistogram signedHistogram(const std::vector<double>& values, std::size_t bins)
{
    double top = 0;
    double lo = kInf;
    double hi = -kInf;
    for (double v : values) {
        top = std::max(top, std::fabs(v));
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    CollectedHistogram h;
    h.counts.assign(bins, 0);
    for (double v : values)
        h.counts[std::min(bins - 1, std::size_t((v + top) / (2 * top) * double(bins)))] += 1;
    for (std::size_t k = 0; k <= bins; ++k)
        h.edges.push_back(-top + 2 * top * double(k) / double(bins));
    h.minSeen = lo;
    h.maxSeen = hi;
    return h;
}

CollectedHistogram histogramOf(std::vector<double> counts, double width, bool absolute, double start = 0)
{
    CollectedHistogram h;
    h.absolute = absolute;
    for (std::size_t k = 0; k <= counts.size(); ++k)
        h.edges.push_back(start + width * double(k));
    h.counts = std::move(counts);
    h.minSeen = h.edges.front();
    h.maxSeen = h.edges.back();
    return h;
}

std::vector<double> randomCounts(std::size_t n, std::uint64_t seed, double emptyShare, int maxCount)
{
    std::mt19937_64 engine(seed);
    std::vector<double> counts(n);
    for (double& c : counts)
        c = double(engine() % 1000) < emptyShare * 1000 ? 0 : double(1 + engine() % std::uint64_t(maxCount));
    return counts;
}

bool sameValue(double a, double b, double relative)
{
    if (std::isnan(a) || std::isnan(b))
        return std::isnan(a) && std::isnan(b);
    if (std::isinf(a) || std::isinf(b))
        return a == b;
    return std::fabs(a - b) <= relative * std::max({std::fabs(a), std::fabs(b), 1e-300});
}

template<class A, class B> bool exactlyEqual(const A& a, const B& b)
{
    if constexpr (std::is_floating_point_v<A> && std::is_floating_point_v<B>)
        return a == b || (std::isnan(a) && std::isnan(b));
    else
        return a == b;
}

template<class T> QString describe(const T& v)
{
    if constexpr (std::is_arithmetic_v<T>)
        return QString::number(double(v), 'g', 17);
    else if constexpr (std::is_same_v<T, GroupRange>)
        return QStringLiteral("[%1, %2]").arg(v.min, 0, 'g', 17).arg(v.max, 0, 'g', 17);
    else
        return QStringLiteral("(not printable)");
}

/// QCOMPARE without Qt's fuzzy comparison of floating-point values: the results must match bit for bit.
#define QCOMPARE_EXACT(actual, expected)                                                                     \
    do {                                                                                                     \
        const auto& qsActual = (actual);                                                                     \
        const auto& qsExpected = (expected);                                                                 \
        QVERIFY2(exactlyEqual(qsActual, qsExpected),                                                         \
            qPrintable(QStringLiteral("%1 = %2, expected %3 = %4")                                           \
                           .arg(QLatin1String(#actual), describe(qsActual), QLatin1String(#expected),        \
                               describe(qsExpected))));                                                      \
    } while (false)

#define QCOMPARE_CURVE(actual, expected, relative)                                                           \
    do {                                                                                                     \
        const std::vector<double>& qsA = (actual);                                                           \
        const std::vector<double>& qsE = (expected);                                                         \
        QCOMPARE_EXACT(qsA.size(), qsE.size());                                                              \
        for (std::size_t qsK = 0; qsK < qsA.size(); ++qsK)                                                   \
            QVERIFY2(sameValue(qsA[qsK], qsE[qsK], (relative)),                                              \
                qPrintable(QStringLiteral("candidate %1: %2 != expected %3")                                 \
                               .arg(qsK)                                                                     \
                               .arg(qsA[qsK], 0, 'g', 17)                                                    \
                               .arg(qsE[qsK], 0, 'g', 17)));                                                 \
    } while (false)

void verifyCurveShape(const ObjectiveCurve& curve)
{
    QVERIFY(!curve.threshold.empty());
    QCOMPARE_EXACT(curve.threshold.size(), curve.value.size());
    QVERIFY(curve.best < curve.value.size());
    QVERIFY(std::is_sorted(curve.threshold.begin(), curve.threshold.end()));
}

/// Index of the smallest finite value; `last` picks the last of equal minima. -1 if none is finite.
std::ptrdiff_t argminFinite(const std::vector<double>& values, bool last)
{
    std::ptrdiff_t best = -1;
    for (std::size_t k = 0; k < values.size(); ++k)
        if (std::isfinite(values[k])
            && (best < 0 || values[k] < values[std::size_t(best)]
                || (last && values[k] == values[std::size_t(best)])))
            best = std::ptrdiff_t(k);
    return best;
}

/// The smallest gap between the minimum and any other finite value, relative to the minimum's magnitude.
double minimumMargin(const std::vector<double>& values, std::ptrdiff_t best)
{
    double margin = kInf;
    for (std::size_t k = 0; k < values.size(); ++k)
        if (std::ptrdiff_t(k) != best && std::isfinite(values[k]))
            margin = std::min(margin,
                (values[k] - values[std::size_t(best)])
                    / std::max(1e-300, std::fabs(values[std::size_t(best)])));
    return margin;
}

// ---- Straightforward references, written from calibration.md, not from the implementation ---------------

/// ModelOpt _compute_amax_entropy, one candidate at a time with plain loops and sequential sums.
std::vector<double> modelOptReference(
    std::vector<double> bins, int nq, int startBin, int stride, bool overwriteZero)
{
    if (overwriteZero)
        bins[0] = bins[1];
    const std::size_t n = bins.size();
    double total = 0;
    for (double b : bins)
        total += b;
    std::vector<double> kl;
    for (std::size_t i = std::size_t(startBin); i <= n; i += std::size_t(stride)) {
        std::vector<double> space(std::size_t(nq) + 1);
        for (int k = 0; k < nq; ++k)
            space[std::size_t(k)] = double(k) * (double(i) / double(nq));
        space[std::size_t(nq)] = double(i);
        std::vector<int> level(i);
        std::vector<double> sums(static_cast<std::size_t>(nq), 0);
        std::vector<double> counts(static_cast<std::size_t>(nq), 0);
        for (std::size_t j = 0; j < i; ++j) {
            int below = 0;
            for (double s : space)
                below += s <= double(j);
            level[j] = bins[j] == 0 ? -1 : below - 1;
            if (level[j] >= 0) {
                sums[std::size_t(level[j])] += bins[j];
                counts[std::size_t(level[j])] += 1;
            }
        }
        std::vector<double> q(i, 0);
        double sumQ = 0;
        for (std::size_t j = 0; j < i; ++j) {
            if (level[j] >= 0)
                q[j] = sums[std::size_t(level[j])] / counts[std::size_t(level[j])];
            sumQ += q[j];
        }
        std::vector<double> p(bins.begin(), bins.begin() + std::ptrdiff_t(i));
        for (std::size_t j = i; j < n; ++j)
            p[i - 1] += bins[j];
        double divergence = 0;
        for (std::size_t j = 0; j < i; ++j) {
            if (sumQ == 0) {
                divergence = std::numeric_limits<double>::quiet_NaN();
                break;
            }
            if (p[j] == 0)
                continue;
            if (q[j] == 0) {
                divergence = kInf;
                continue;
            }
            const double pj = p[j] / total;
            divergence += pj * std::log(pj / (q[j] / sumQ));
        }
        kl.push_back(divergence);
    }
    return kl;
}

/// The GTC 2017 slides' KL for one candidate i: proportional grouping floor(j·nq/i), empty bins stay 0.
double slidesDivergence(const std::vector<double>& bins, int nq, std::size_t i)
{
    double total = 0;
    for (double b : bins)
        total += b;
    std::vector<double> sums(static_cast<std::size_t>(nq), 0);
    std::vector<double> counts(static_cast<std::size_t>(nq), 0);
    for (std::size_t j = 0; j < i; ++j)
        if (bins[j] > 0) {
            sums[j * std::size_t(nq) / i] += bins[j];
            counts[j * std::size_t(nq) / i] += 1;
        }
    double sumQ = 0;
    std::vector<double> q(i, 0);
    for (std::size_t j = 0; j < i; ++j) {
        if (bins[j] > 0)
            q[j] = sums[j * std::size_t(nq) / i] / counts[j * std::size_t(nq) / i];
        sumQ += q[j];
    }
    long double divergence = 0;
    for (std::size_t j = 0; j < i; ++j) {
        double p = bins[j];
        if (j == i - 1)
            for (std::size_t k = i; k < bins.size(); ++k)
                p += bins[k];
        if (p == 0)
            continue;
        if (q[j] == 0 || sumQ == 0)
            return kInf;
        divergence
            += (long double)(p / total) * std::log((long double)(p / total) / (long double)(q[j] / sumQ));
    }
    return double(divergence);
}

/// quant_utils.smooth_distribution on int64 counts, float32 result; empty when the peer returns None.
std::vector<float> smooth(const std::vector<I>& p)
{
    double zeros = 0;
    for (I v : p)
        zeros += v == 0;
    const double nonZeros = double(p.size()) - zeros;
    if (nonZeros == 0)
        return {};
    const double eps1 = 0.0001 * zeros / nonZeros;
    std::vector<float> out;
    for (I v : p)
        out.push_back(v == 0 ? 0.0001f : float(v) - float(eps1));
    return out;
}

/// ORT get_entropy_threshold with plain loops; `truncate` = false expands Q in float64 instead of int64.
std::vector<double> onnxRuntimeReference(const std::vector<I>& hist, int nq, bool truncate)
{
    const I n = I(hist.size());
    const I zero = n / 2;
    std::vector<double> kl;
    for (I i = nq / 2; i <= zero; ++i) {
        const I start = zero - i;
        const I end = std::min(zero + i + 1, n);
        std::vector<I> sliced(hist.begin() + start, hist.begin() + end);
        std::vector<I> p = sliced;
        for (I k = 0; k < start; ++k)
            p.front() += hist[std::size_t(k)];
        for (I k = end; k < n; ++k)
            p.back() += hist[std::size_t(k)];
        const I merged = I(sliced.size()) / nq;
        std::vector<I> levels(std::size_t(nq), 0);
        for (I k = 0; k < nq; ++k)
            for (I j = k * merged; j < (k + 1) * merged; ++j)
                levels[std::size_t(k)] += sliced[std::size_t(j)];
        for (I j = nq * merged; j < I(sliced.size()); ++j)
            levels.back() += sliced[std::size_t(j)];
        std::vector<double> q(p.size(), 0);
        for (I k = 0; k < nq; ++k) {
            I norm = 0;
            for (I j = k * merged; j < (k + 1) * merged; ++j)
                norm += p[std::size_t(j)] != 0;
            if (norm == 0)
                continue;
            const double value = double(levels[std::size_t(k)]) / double(norm);
            for (I j = k * merged; j < (k + 1) * merged; ++j)
                q[std::size_t(j)] = truncate ? std::trunc(value) : value;
        }
        std::vector<float> ps = smooth(p);
        std::vector<float> qs;
        {
            double zeros = 0;
            for (double v : q)
                zeros += v == 0;
            const double nonZeros = double(q.size()) - zeros;
            if (nonZeros > 0)
                for (double v : q)
                    qs.push_back(v == 0 ? 0.0001f : float(v) - float(0.0001 * zeros / nonZeros));
        }
        if (ps.empty() || qs.empty()) {
            kl.push_back(kInf);
            continue;
        }
        double sumP = 0;
        double sumQ = 0;
        for (std::size_t j = 0; j < ps.size(); ++j) {
            sumP += ps[j];
            sumQ += qs[j];
        }
        double divergence = 0;
        for (std::size_t j = 0; j < ps.size(); ++j)
            divergence += ps[j] / sumP * std::log((ps[j] / sumP) / (qs[j] / sumQ));
        kl.push_back(divergence);
    }
    return kl;
}

std::vector<I> asIntegers(const std::vector<double>& counts)
{
    return std::vector<I>(counts.begin(), counts.end());
}

/// _compute_quantization_error in double, straight from its closed form (calibration.md §2.4).
double observerError(const std::vector<double>& hist, double min, double max, int dst, int s, int e)
{
    const double bw = (max - min) / double(hist.size());
    const double dw = bw * (e - s + 1) / dst;
    const auto norm = [](double a, double b, double d) { return d * (b * b * b - a * a * a) / 3; };
    double total = 0;
    for (std::size_t k = 0; k < hist.size(); ++k) {
        const double b0 = (double(k) - s) * bw;
        const double b1 = b0 + bw;
        const double db = std::clamp(std::floor(b0 / dw), 0.0, dst - 1.0);
        const double de = std::clamp(std::floor(b1 / dw), 0.0, dst - 1.0);
        const double d = hist[k] / bw;
        total += norm(b0 - (db + 0.5) * dw, dw / 2, d) + (de - db - 1) * norm(-dw / 2, dw / 2, d)
            + norm(-dw / 2, b1 - (de + 0.5) * dw, d);
    }
    return total;
}

Scheme schemeOf(const std::string& format, RangeMode mode = RangeMode::SymmetricNarrow)
{
    Scheme s;
    s.format = formatByName(format);
    s.rangeMode = mode;
    return s;
}

std::vector<float> asFloats(const std::vector<double>& values)
{
    return std::vector<float>(values.begin(), values.end());
}

} // namespace

class TestSearchMethods : public QObject {
    Q_OBJECT

private slots:
    // ---- Peer reductions --------------------------------------------------------------------------------

    void peerSums_data()
    {
        QTest::addColumn<int>("n");
        QTest::addColumn<double>("numpy64");
        QTest::addColumn<float>("numpy32");
        QTest::addColumn<float>("torch32");
        // a_k = (-1)^k 10^(k mod 7) / (k + 1); the expected sums are numpy 1.24's np.sum and torch 1.13's
        // torch.sum (CPU, one thread; the cascade_sum kernel torch 2.11 still has).
        QTest::newRow("7") << 7 << 127969.80952380954 << 127969.8046875f << 127969.8125f;
        QTest::newRow("9") << 9 << 127970.79563492064 << 127970.796875f << 127970.796875f;
        QTest::newRow("130") << 130 << 84926.57643351413 << 84926.5625f << 84926.59375f;
        QTest::newRow("9000 (two numpy buffers)")
            << 9000 << 88488.04166726572 << 88488.078125f << 88488.0390625f;
    }
    void peerSums()
    {
        QFETCH(int, n);
        QFETCH(double, numpy64);
        QFETCH(float, numpy32);
        QFETCH(float, torch32);
        std::vector<double> a(static_cast<std::size_t>(n));
        for (int k = 0; k < n; ++k)
            a[std::size_t(k)] = (k % 2 ? -1.0 : 1.0) * std::pow(10.0, k % 7) / double(k + 1);
        const std::vector<float> a32 = asFloats(a);
        QCOMPARE_EXACT(detail::numpyPairwiseSum(std::span<const double>(a)), numpy64);
        QCOMPARE_EXACT(detail::numpyPairwiseSum(std::span<const float>(a32)), numpy32);
        QCOMPARE_EXACT(detail::torchSum(a32), torch32);
    }

    void torchLinspace()
    {
        const std::vector<float> m = detail::torchLinspace(0.25f, 4.0f, 39);
        QCOMPARE_EXACT(m.size(), std::size_t(39));
        const float step = (4.0f - 0.25f) / 38.0f;
        for (int k = 0; k < 39; ++k) {
            const float expected
                = k < 19 ? std::fma(step, float(k), 0.25f) : std::fma(-step, float(38 - k), 4.0f);
            QCOMPARE_EXACT(m[std::size_t(k)], expected);
        }
        QCOMPARE_EXACT(m.front(), 0.25f);
        QCOMPARE_EXACT(m.back(), 4.0f);
        QCOMPARE_EXACT(detail::torchLinspace(0.25f, 4.0f, 1), std::vector<float> {0.25f});
    }

    // ---- ModelOpt entropy -------------------------------------------------------------------------------

    void modelOptEntropyMatchesDirectComputation_data()
    {
        QTest::addColumn<int>("bins");
        QTest::addColumn<int>("seed");
        QTest::addColumn<int>("numBits");
        QTest::addColumn<int>("startBin");
        QTest::addColumn<int>("stride");
        QTest::addColumn<double>("emptyShare");
        QTest::newRow("int3, sparse") << 40 << 6 << 3 << 4 << 1 << 0.3;
        QTest::newRow("int4, stride 3") << 90 << 2 << 4 << 8 << 3 << 0.2;
        QTest::newRow("int5, dense") << 120 << 3 << 5 << 16 << 1 << 0.0;
        QTest::newRow("int8 levels, 300 bins") << 300 << 4 << 8 << 128 << 2 << 0.5;
    }
    void modelOptEntropyMatchesDirectComputation()
    {
        QFETCH(int, bins);
        QFETCH(int, seed);
        QFETCH(int, numBits);
        QFETCH(int, startBin);
        QFETCH(int, stride);
        QFETCH(double, emptyShare);
        const CollectedHistogram h
            = histogramOf(randomCounts(std::size_t(bins), std::uint64_t(seed), emptyShare, 40), 0.1, true);
        const SearchResult r = entropySearch(h, Compatibility::ModelOpt, numBits, false, 0, startBin, stride);
        verifyCurveShape(r.curve);
        const std::vector<double> expected
            = modelOptReference(h.counts, 1 << (numBits - 1), startBin, stride, true);
        QCOMPARE_CURVE(r.curve.value, expected, 1e-9);
        const std::ptrdiff_t best = argminFinite(expected, true);
        QVERIFY(minimumMargin(expected, best) > 1e-6);
        QCOMPARE_EXACT(r.curve.best, std::size_t(best));
        const double amax = h.edges[std::size_t(startBin + best * stride)];
        QCOMPARE_EXACT(r.range.max, double(float(amax)));
        QCOMPARE_EXACT(r.range.min, -double(float(amax)));
        QCOMPARE_EXACT(r.curve.threshold[std::size_t(best)], amax);
    }

    void modelOptEntropyTiesGoToLargest()
    {
        // 12 equal bins, then 28 empty ones: every i >= 12 has P == Q exactly, so KL = 0 for all of them.
        std::vector<double> counts(40, 0);
        std::fill(counts.begin(), counts.begin() + 12, 5);
        const CollectedHistogram h = histogramOf(counts, 0.5, true);
        const SearchResult r = entropySearch(h, Compatibility::ModelOpt, 3, false, 0, 4, 1);
        for (std::size_t c = 8; c < r.curve.value.size(); ++c)
            QCOMPARE_EXACT(r.curve.value[c], 0.0);
        QVERIFY(r.curve.value[7] > 0);
        QCOMPARE_EXACT(r.curve.best, r.curve.value.size() - 1);
        QCOMPARE_EXACT(r.range.max, 20.0);
    }

    void modelOptEntropyOverwritesTheZeroBin()
    {
        // ReLU-like: a spike of exact zeros in bin 0 and a half-normal elsewhere.
        const std::vector<double> z = gaussian(200000, 11);
        std::vector<double> values;
        for (double v : z)
            values.push_back(v > 0 ? v : 0.0);
        CollectedHistogram h = absoluteHistogram(values, 512);
        QVERIFY(h.counts[0] > 50 * h.counts[1]);
        const SearchResult spiked = entropySearch(h, Compatibility::ModelOpt, 6, false, 0, 32, 1);
        CollectedHistogram flattened = h;
        flattened.counts[0] = flattened.counts[1];
        const SearchResult flat = entropySearch(flattened, Compatibility::ModelOpt, 6, false, 0, 32, 1);
        QCOMPARE_EXACT(spiked.curve.value, flat.curve.value);
        QCOMPARE_EXACT(spiked.range, flat.range);
        const std::vector<double> expected = modelOptReference(h.counts, 32, 32, 1, true);
        QCOMPARE_CURVE(spiked.curve.value, expected, 1e-9);
        // Without the overwrite the spike dominates P and the search lands elsewhere.
        const std::vector<double> unpatched = modelOptReference(h.counts, 32, 32, 1, false);
        QVERIFY(argminFinite(unpatched, true) != std::ptrdiff_t(spiked.curve.best));
    }

    void modelOptEntropyInfiniteNeverWins()
    {
        // 2 levels; candidates i = 3..9 keep an empty last bin while 3 counts are clipped: KL = +Inf.
        const CollectedHistogram h = histogramOf({5, 5, 0, 0, 0, 0, 0, 0, 0, 3}, 1.0, true);
        const SearchResult r = entropySearch(h, Compatibility::ModelOpt, 2, false, 0, 2, 1);
        QCOMPARE_EXACT(r.curve.value.size(), std::size_t(9));
        for (std::size_t c = 1; c < 8; ++c)
            QCOMPARE_EXACT(r.curve.value[c], kInf);
        QVERIFY(std::isfinite(r.curve.value.front()) && std::isfinite(r.curve.value.back()));
        QVERIFY(r.curve.best == 0 || r.curve.best == 8);
        QCOMPARE_CURVE(r.curve.value, modelOptReference(h.counts, 2, 2, 1, true), 1e-12);
        QCOMPARE_EXACT(r.range.max, r.curve.best == 0 ? 2.0 : 10.0);
    }

    void modelOptEntropyNaNWhenAllKeptBinsAreEmpty()
    {
        // bins[0..3] empty: for i <= 4 scipy normalises Q = 0 to 0/0 and the KL is NaN; numpy's argmin takes
        // NaN as the minimum, so ModelOpt returns the largest such i although finite candidates exist.
        const CollectedHistogram h = histogramOf({0, 0, 0, 0, 7, 1, 2, 9, 4, 4}, 0.5, true);
        const SearchResult r = entropySearch(h, Compatibility::ModelOpt, 2, false, 0, 2, 1);
        QVERIFY(std::isnan(r.curve.value[0]) && std::isnan(r.curve.value[2]));
        QVERIFY(std::isfinite(r.curve.value.back()));
        QCOMPARE_EXACT(r.curve.best, std::size_t(2));
        QCOMPARE_EXACT(r.range.max, 2.0);
    }

    void modelOptEntropyRejects_data()
    {
        QTest::addColumn<int>("startBin");
        QTest::addColumn<bool>("negativeEdge");
        QTest::newRow("start past the end") << 11 << false;
        QTest::newRow("start 0") << 0 << false;
        QTest::newRow("signed histogram") << 2 << true;
    }
    void modelOptEntropyRejects()
    {
        QFETCH(int, startBin);
        QFETCH(bool, negativeEdge);
        const CollectedHistogram h
            = histogramOf(std::vector<double>(10, 1), 1.0, !negativeEdge, negativeEdge ? -5 : 0);
        QVERIFY_THROWS_EXCEPTION(Error, entropySearch(h, Compatibility::ModelOpt, 8, false, 0, startBin, 1));
    }

    // ---- ONNX Runtime entropy ---------------------------------------------------------------------------

    void onnxRuntimeEntropyMatchesDirectComputation_data()
    {
        QTest::addColumn<int>("bins");
        QTest::addColumn<int>("quantizedBins");
        QTest::addColumn<int>("seed");
        QTest::newRow("16 bins, 4 levels") << 16 << 4 << 1;
        QTest::newRow("40 bins, 6 levels") << 40 << 6 << 2;
        QTest::newRow("128 bins, 16 levels") << 128 << 16 << 3;
        QTest::newRow("300 bins, 128 levels") << 300 << 128 << 4;
    }
    void onnxRuntimeEntropyMatchesDirectComputation()
    {
        QFETCH(int, bins);
        QFETCH(int, quantizedBins);
        QFETCH(int, seed);
        const CollectedHistogram h = histogramOf(
            randomCounts(std::size_t(bins), std::uint64_t(seed), 0.3, 60), 0.125, false, -0.0625 * bins);
        const SearchResult r = entropySearch(h, Compatibility::OnnxRuntime, 8, false, quantizedBins, 128, 1);
        verifyCurveShape(r.curve);
        const std::vector<double> expected = onnxRuntimeReference(asIntegers(h.counts), quantizedBins, true);
        QCOMPARE_CURVE(r.curve.value, expected, 2e-5);
        const std::ptrdiff_t best = argminFinite(expected, false);
        QVERIFY(minimumMargin(expected, best) > 1e-3);
        QCOMPARE_EXACT(r.curve.best, std::size_t(best));
        const std::size_t i = std::size_t(quantizedBins / 2 + best);
        QCOMPARE_EXACT(r.range.min, h.edges[std::size_t(bins / 2) - i]);
        QCOMPARE_EXACT(r.range.max, h.edges[std::min(std::size_t(bins / 2) + i + 1, std::size_t(bins))]);
    }

    void onnxRuntimeEntropyIsAsymmetricByOneBin()
    {
        const std::vector<double> z = gaussian(100000, 5);
        CollectedHistogram h = signedHistogram(z, 2048);
        h.minSeen = h.edges.front();
        h.maxSeen = h.edges.back();
        const SearchResult r = entropySearch(h, Compatibility::OnnxRuntime, 8, false, 128, 128, 1);
        const std::size_t i = 64 + r.curve.best;
        QVERIFY(i < 1024);
        QCOMPARE_EXACT(r.range.min, h.edges[1024 - i]);
        QCOMPARE_EXACT(r.range.max, h.edges[1024 + i + 1]);
        const double width = h.edges[1] - h.edges[0];
        QVERIFY(std::fabs(r.range.max + r.range.min - width) < 1e-9 * width);
        QVERIFY(r.range.max > 2.5 && r.range.max < 5);
    }

    void onnxRuntimeEntropyTruncatesTheExpansion()
    {
        // Found by search: Q expanded in float64 has its minimum at i = 6, ORT's int64-truncated Q at i = 7.
        const CollectedHistogram h
            = histogramOf({7, 9, 0, 1, 8, 9, 2, 3, 8, 4, 2, 8, 2, 4, 0, 0}, 0.125, false, -1);
        const SearchResult r = entropySearch(h, Compatibility::OnnxRuntime, 8, false, 6, 128, 1);
        const std::vector<double> truncated = onnxRuntimeReference(asIntegers(h.counts), 6, true);
        const std::vector<double> exact = onnxRuntimeReference(asIntegers(h.counts), 6, false);
        QCOMPARE_CURVE(r.curve.value, truncated, 2e-5);
        QCOMPARE_EXACT(argminFinite(exact, false), std::ptrdiff_t(3));
        QCOMPARE_EXACT(r.curve.best, std::size_t(4));
        QCOMPARE_EXACT(r.range, (GroupRange {h.edges[1], h.edges[16]}));
    }

    void onnxRuntimeEntropyTiesGoToFirst()
    {
        // One occupied bin at zero: the first two candidates have P == Q after smoothing, KL = 0 exactly.
        std::vector<double> counts(12, 0);
        counts[6] = 3;
        const CollectedHistogram h = histogramOf(counts, 1.0 / 6, false, -1);
        const SearchResult r = entropySearch(h, Compatibility::OnnxRuntime, 8, false, 4, 128, 1);
        QCOMPARE_EXACT(r.curve.value[0], 0.0);
        QCOMPARE_EXACT(r.curve.value[1], 0.0);
        QCOMPARE_EXACT(r.curve.best, std::size_t(0));
        QCOMPARE_EXACT(r.range, (GroupRange {h.edges[4], h.edges[9]}));
    }

    void onnxRuntimeEntropyClampsToTheSeenRange()
    {
        CollectedHistogram h = histogramOf(std::vector<double>(16, 4), 0.25, false, -2);
        h.minSeen = -0.3;
        h.maxSeen = 0.4;
        const SearchResult r = entropySearch(h, Compatibility::OnnxRuntime, 8, false, 4, 128, 1);
        QVERIFY(h.edges[8 - (2 + r.curve.best)] < -0.3);
        QCOMPARE_EXACT(r.range, (GroupRange {-0.3, 0.4}));
    }

    void onnxRuntimeEntropyRejects()
    {
        CollectedHistogram h = histogramOf(std::vector<double>(16, 1), 0.25, true);
        QVERIFY_THROWS_EXCEPTION(Error, entropySearch(h, Compatibility::OnnxRuntime, 8, false, 4, 128, 1));
        h.absolute = false;
        QVERIFY_THROWS_EXCEPTION(Error, entropySearch(h, Compatibility::OnnxRuntime, 8, false, 128, 128, 1));
        QVERIFY_THROWS_EXCEPTION(Error, entropySearch(h, Compatibility::PyTorch, 8, false, 4, 128, 1));
    }

    // ---- TensorRT 2017 and native entropy ---------------------------------------------------------------

    void tensorRtEntropyMatchesTheSlides_data()
    {
        QTest::addColumn<int>("bins");
        QTest::addColumn<int>("levels");
        QTest::addColumn<int>("seed");
        QTest::newRow("60 bins, 8 levels") << 60 << 8 << 1;
        QTest::newRow("200 bins, 32 levels, sparse") << 200 << 32 << 2;
        QTest::newRow("400 bins, 128 levels") << 400 << 128 << 3;
    }
    void tensorRtEntropyMatchesTheSlides()
    {
        QFETCH(int, bins);
        QFETCH(int, levels);
        QFETCH(int, seed);
        const CollectedHistogram h = histogramOf(
            randomCounts(std::size_t(bins), std::uint64_t(seed), seed == 2 ? 0.5 : 0.1, 30), 0.5, true);
        const SearchResult r = entropySearch(h, Compatibility::TensorRT, 8, false, levels, 128, 1);
        verifyCurveShape(r.curve);
        std::vector<double> expected;
        for (int i = levels; i < bins; ++i)
            expected.push_back(slidesDivergence(h.counts, levels, std::size_t(i)));
        QCOMPARE_CURVE(r.curve.value, expected, 1e-9);
        const std::ptrdiff_t best = argminFinite(expected, false);
        QVERIFY(minimumMargin(expected, best) > 1e-6);
        QCOMPARE_EXACT(r.curve.best, std::size_t(best));
        const double m = double(levels + best);
        QCOMPARE_EXACT(r.range.max, (m + 0.5) * 0.5);
        QCOMPARE_EXACT(r.range.min, -(m + 0.5) * 0.5);
    }

    void tensorRtEntropyNeverTriesNoClipping()
    {
        // Flat data: only i = n (no clipping) reproduces P exactly; the slides stop at n - 1.
        const CollectedHistogram h = histogramOf(std::vector<double>(300, 7), 0.1, true);
        const SearchResult trt = entropySearch(h, Compatibility::TensorRT, 8, false, 0, 128, 1);
        const SearchResult native = entropySearch(h, Compatibility::Native, 8, false, 0, 128, 1);
        QCOMPARE_EXACT(trt.curve.value.size(), std::size_t(300 - 128));
        QCOMPARE_EXACT(native.curve.value.size(), std::size_t(300 - 128 + 1));
        QVERIFY(std::fabs(trt.curve.threshold.back() - 299.5 * 0.1) < 1e-12);
        QCOMPARE_EXACT(native.curve.threshold.back(), h.edges.back());
        QCOMPARE_EXACT(native.curve.best, native.curve.value.size() - 1);
        QVERIFY(std::fabs(native.curve.value.back()) < 1e-12);
        QVERIFY(trt.curve.value[trt.curve.best] > 1e-6);
    }

    void nativeEntropyOnAGaussian()
    {
        const std::vector<double> z = gaussian(1000000, 2024);
        const CollectedHistogram h = absoluteHistogram(z, 2048);
        const SearchResult r = entropySearch(h, Compatibility::Native, 8, false, 0, 128, 1);
        verifyCurveShape(r.curve);
        QCOMPARE_EXACT(r.curve.value.size(), std::size_t(2048 - 128 + 1));
        QVERIFY2(r.range.max > 3 && r.range.max < 5, qPrintable(QString::number(r.range.max)));
        QCOMPARE_EXACT(r.range.min, -r.range.max);
        QCOMPARE_EXACT(r.range.max, h.edges[128 + r.curve.best]);
        for (std::size_t c : {std::size_t(0), std::size_t(500), r.curve.best, std::size_t(1900)})
            QVERIFY2(sameValue(r.curve.value[c], slidesDivergence(h.counts, 128, 128 + c), 1e-8),
                qPrintable(QStringLiteral("candidate %1").arg(c)));
        for (double v : r.curve.value)
            QVERIFY(v >= r.curve.value[r.curve.best]);
    }

    void nativeEntropyFoldsASignedHistogram()
    {
        // A signed histogram whose two halves add up to the |x| one, bin for bin.
        const CollectedHistogram absolute = absoluteHistogram(gaussian(200000, 9), 512);
        const double width = absolute.edges[1];
        std::vector<double> mirrored(1024);
        for (std::size_t m = 0; m < 512; ++m) {
            mirrored[512 + m] = std::ceil(absolute.counts[m] / 2);
            mirrored[511 - m] = std::floor(absolute.counts[m] / 2);
        }
        const CollectedHistogram absoluteGrid = histogramOf(absolute.counts, width, true);
        const CollectedHistogram signedGrid = histogramOf(mirrored, width, false, -512 * width);
        const SearchResult fromSigned = entropySearch(signedGrid, Compatibility::Native, 8, false, 0, 0, 0);
        const SearchResult fromAbsolute
            = entropySearch(absoluteGrid, Compatibility::Native, 8, false, 0, 0, 0);
        QCOMPARE_EXACT(fromSigned.curve.value, fromAbsolute.curve.value);
        QCOMPARE_EXACT(fromSigned.range, fromAbsolute.range);
        QVERIFY(fromSigned.range.max > 3 * width * 512 / absolute.maxSeen);
        const SearchResult unsignedRange
            = entropySearch(absoluteGrid, Compatibility::Native, 8, true, 0, 0, 0);
        QCOMPARE_EXACT(unsignedRange.curve.value.size(), std::size_t(512 - 256 + 1));
        QCOMPARE_EXACT(
            unsignedRange.range, (GroupRange {0, unsignedRange.curve.threshold[unsignedRange.curve.best]}));
    }

    // ---- MSE --------------------------------------------------------------------------------------------

    void modelOptMseByHand()
    {
        // int4 narrow (max_bound 7), bin width 0.5, candidates centers[2..7].
        const std::vector<double> counts {40, 30, 20, 10, 5, 2, 1, 1};
        const CollectedHistogram h = histogramOf(counts, 0.5, true);
        const SearchResult r = mseHistogramSearch(h, schemeOf("int4"), Compatibility::ModelOpt, 2, 1);
        verifyCurveShape(r.curve);
        std::vector<double> expected;
        for (std::size_t i = 2; i < 8; ++i) {
            const float amax = float(0.25 + 0.5 * double(i));
            const float scale = 7.0f / amax;
            double sum = 0;
            for (std::size_t k = 0; k < 8; ++k) {
                const float c = float(0.25 + 0.5 * double(k));
                const float q = std::clamp(std::nearbyint(c * scale), -7.0f, 7.0f);
                sum += double(q / scale - c) * double(q / scale - c) * counts[k];
            }
            expected.push_back(sum / 8);
        }
        QCOMPARE_CURVE(r.curve.value, expected, 1e-6);
        // pytorch-quantization's _compute_amax_mse on CPU (legacy fake quant, torch 1.13), in float32:
        QCOMPARE_EXACT(r.curve.value,
            (std::vector<double> {2.8115434646606445, 1.1875, 0.566007673740387, 0.32286351919174194,
                0.4492983818054199, 0.5985331535339355}));
        const std::ptrdiff_t best = argminFinite(expected, false);
        QVERIFY(minimumMargin(expected, best) > 1e-3);
        QCOMPARE_EXACT(r.curve.best, std::size_t(best));
        QCOMPARE_EXACT(r.range.max, 0.25 + 0.5 * double(2 + best));
        QVERIFY_THROWS_EXCEPTION(
            Error, mseHistogramSearch(h, schemeOf("fp8_e4m3"), Compatibility::ModelOpt, 2, 1));
        QVERIFY_THROWS_EXCEPTION(
            Error, mseHistogramSearch(h, schemeOf("int4"), Compatibility::ModelOpt, 8, 1));
        QVERIFY_THROWS_EXCEPTION(
            Error, mseHistogramSearch(h, schemeOf("int4"), Compatibility::TensorRT, 2, 1));
    }

    void mseClipsHeavyTailsHarderWithFewerBits_data()
    {
        QTest::addColumn<int>("method");
        QTest::newRow("native histogram") << 0;
        QTest::newRow("modelopt histogram") << 1;
        QTest::newRow("exact") << 2;
    }
    void mseClipsHeavyTailsHarderWithFewerBits()
    {
        QFETCH(int, method);
        const std::vector<double> t = studentT3(100000, 77);
        const CollectedHistogram h = absoluteHistogram(t, 2048);
        const std::vector<float> values = asFloats(t);
        double threshold[2] = {0, 0};
        int k = 0;
        for (const char* format : {"int4", "int8"}) {
            const Scheme scheme = schemeOf(format);
            const SearchResult r = method == 0 ? mseHistogramSearch(h, scheme, Compatibility::Native, 0, 1)
                : method == 1 ? mseHistogramSearch(h, scheme, Compatibility::ModelOpt, 128, 1)
                              : mseExactSearch(values, scheme);
            verifyCurveShape(r.curve);
            QCOMPARE_EXACT(r.range.min, -r.range.max);
            threshold[k++] = r.range.max;
        }
        QVERIFY2(threshold[0] < 0.8 * threshold[1],
            qPrintable(QStringLiteral("int4 %1, int8 %2").arg(threshold[0]).arg(threshold[1])));
        QVERIFY(threshold[1] < h.maxSeen);
    }

    void nativeMseUsesTheSchemesQuantizer_data()
    {
        QTest::addColumn<QString>("format");
        QTest::addColumn<int>("mode");
        QTest::addColumn<bool>("relu");
        QTest::addColumn<bool>("e8m0");
        QTest::newRow("int8") << "int8" << int(RangeMode::SymmetricNarrow) << false << false;
        QTest::newRow("int8 affine") << "int8" << int(RangeMode::Affine) << false << false;
        QTest::newRow("uint8 on relu") << "uint8" << int(RangeMode::SymmetricNarrow) << true << false;
        QTest::newRow("fp8_e4m3") << "fp8_e4m3" << int(RangeMode::SymmetricNarrow) << false << false;
        QTest::newRow("fp4_e2m1, e8m0 scale")
            << "fp4_e2m1" << int(RangeMode::SymmetricNarrow) << false << true;
        QTest::newRow("nf4") << "nf4" << int(RangeMode::SymmetricNarrow) << false << false;
    }
    void nativeMseUsesTheSchemesQuantizer()
    {
        QFETCH(QString, format);
        QFETCH(int, mode);
        QFETCH(bool, relu);
        QFETCH(bool, e8m0);
        Scheme scheme = schemeOf(format.toStdString(), RangeMode(mode));
        if (e8m0)
            scheme.scaleFormat = ScaleFormat::E8M0;
        std::vector<double> data = studentT3(20000, 5);
        if (relu)
            for (double& v : data)
                v = std::max(v, 0.0);
        const CollectedHistogram h = signedHistogram(data, 256);
        const SearchResult r = mseHistogramSearch(h, scheme, Compatibility::Native, 0, 1);
        verifyCurveShape(r.curve);
        const double t = r.curve.threshold[r.curve.best];
        const GroupRange expectedRange = relu ? GroupRange {0, t}
            : RangeMode(mode) == RangeMode::Affine
            ? GroupRange {std::clamp(h.edges.front(), -t, t), std::clamp(h.edges.back(), -t, t)}
            : GroupRange {-t, t};
        QCOMPARE_EXACT(r.range, expectedRange);
        for (double v : r.curve.value)
            QVERIFY(v >= r.curve.value[r.curve.best]);
        // The objective at the chosen threshold: the real quantizer's count-weighted error on the centers.
        Tensor centers {"", {256}, {}};
        for (std::size_t k = 0; k < 256; ++k)
            centers.data.push_back(float(0.5 * (h.edges[k] + h.edges[k + 1])));
        const Tensor q = fakeQuantize(centers, scheme, std::vector<GroupRange> {r.range});
        double error = 0;
        double total = 0;
        for (std::size_t k = 0; k < 256; ++k) {
            error += h.counts[k] * std::pow(double(q.data[k]) - double(centers.data[k]), 2);
            total += h.counts[k];
        }
        QVERIFY(sameValue(r.curve.value[r.curve.best], error / total, 1e-12));
    }

    void mseExactSearchRefinesTheBest()
    {
        const std::vector<float> values = asFloats(gaussian(50000, 3));
        const Scheme scheme = schemeOf("int4");
        const SearchResult r = mseExactSearch(values, scheme);
        verifyCurveShape(r.curve);
        QVERIFY(r.curve.value.size() > 80);
        const double t = r.range.max;
        QVERIFY2(t > 1.5 && t < 3.5, qPrintable(QString::number(t)));
        const auto mseAt = [&](double threshold) {
            const Tensor x {"", {I(values.size())}, values};
            const Tensor q = fakeQuantize(x, scheme, std::vector<GroupRange> {{-threshold, threshold}});
            double e = 0;
            for (std::size_t k = 0; k < values.size(); ++k)
                e += std::pow(double(q.data[k]) - double(values[k]), 2);
            return e / double(values.size());
        };
        QVERIFY(sameValue(r.curve.value[r.curve.best], mseAt(t), 1e-12));
        for (double factor : {0.98, 1.02})
            QVERIFY(mseAt(t * factor) >= mseAt(t));
        QCOMPARE_EXACT(mseExactSearch(std::vector<float>(10, 0.0f), scheme).range, (GroupRange {0, 0}));
    }

    void mseRejectsBlockFormats()
    {
        Scheme mx;
        mx.blockFormat = BlockFormat::MXFP4;
        const std::vector<float> values {1, 2, 3};
        QVERIFY_THROWS_EXCEPTION(Error, mseExactSearch(values, mx));
        QVERIFY_THROWS_EXCEPTION(Error, mseMultiplierSweep(values, 3, mx, 39));
        QVERIFY_THROWS_EXCEPTION(
            Error, mseHistogramSearch(histogramOf({1, 2}, 1, true), mx, Compatibility::Native, 0, 1));
        QVERIFY_THROWS_EXCEPTION(Error, mseExactSearch(values, schemeOf("ternary")));
    }

    void multiplierSweepCandidates_data()
    {
        QTest::addColumn<int>("steps");
        QTest::addColumn<double>("initialAmax");
        QTest::newRow("HEAD: step_size 0.1 -> 39") << 39 << 2.5;
        QTest::newRow("Dec 2025: 10 steps") << 10 << 1.0;
        QTest::newRow("one step") << 1 << 3.0;
    }
    void multiplierSweepCandidates()
    {
        QFETCH(int, steps);
        QFETCH(double, initialAmax);
        const std::vector<double> data = gaussian(3000, 8);
        const std::vector<float> values = asFloats(data);
        const Scheme scheme = schemeOf("int8");
        const SearchResult r = mseMultiplierSweep(values, initialAmax, scheme, steps);
        verifyCurveShape(r.curve);
        QCOMPARE_EXACT(r.curve.threshold.size(), std::size_t(steps));
        const std::vector<float> m = detail::torchLinspace(0.25f, 4.0f, steps);
        for (int k = 0; k < steps; ++k) {
            QCOMPARE_EXACT(r.curve.threshold[std::size_t(k)], double(float(initialAmax) * m[std::size_t(k)]));
            QVERIFY(m[std::size_t(k)] != 1.0f);
            const float c = float(initialAmax) * m[std::size_t(k)];
            const Tensor q
                = fakeQuantize(Tensor {"", {3000}, values}, scheme, std::vector<GroupRange> {{-c, c}});
            double e = 0;
            for (std::size_t j = 0; j < values.size(); ++j)
                e += std::pow(double(values[j]) - double(q.data[j]), 2);
            QVERIFY(sameValue(r.curve.value[std::size_t(k)], e, 1e-5));
        }
        QCOMPARE_EXACT(r.curve.threshold.front(), 0.25 * double(float(initialAmax)));
        if (steps > 1)
            QCOMPARE_EXACT(r.curve.threshold.back(), 4.0 * double(float(initialAmax)));
        QCOMPARE_EXACT(r.range.max, r.curve.threshold[r.curve.best]);
        for (double v : r.curve.value)
            QVERIFY(v >= r.curve.value[r.curve.best]);
        QVERIFY_THROWS_EXCEPTION(Error, mseMultiplierSweep(values, initialAmax, scheme, 0));
    }

    // ---- PyTorch HistogramObserver ----------------------------------------------------------------------

    void histogramObserverByHand()
    {
        // hist [2, 6, 1, 1] on [0, 4], dst_nbins 2, total 10, cSum [2, 8, 9, 10].
        // Step 1: cSum[3] = 10 > 0.99999·10 moves the end to bin 2: (0, 2), dw = 1.5, centers 0.75, 2.25:
        //   bin0 2·∫_{-0.75}^{0.25} x² = 0.2916..; bin1 6·(∫_{0.25}^{0.75} + ∫_{-0.75}^{-0.25}) x² = 1.625;
        //   bin2 ∫_{-0.25}^{0.75} x² = 0.1458..; bin3 ∫_{0.75}^{1.75} x² = 1.6458..; 89/24 < inf: taken.
        // Step 2: cSum[2] = 9 > 0.99998·10 moves the end to bin 1: (0, 1), dw = 1, centers 0.5, 1.5:
        //   1/6 + 1/2 + 13/12 + 49/12 = 35/6 > 89/24: stop. Result [0 + 1·0, 0 + 1·3].
        // The full range, never evaluated by torch, costs 10/3.
        const CollectedHistogram h = histogramOf({2, 6, 1, 1}, 1.0, false);
        const SearchResult r = histogramObserverSearch(h, 2);
        QCOMPARE_EXACT(r.range, (GroupRange {0, 3}));
        QCOMPARE_EXACT(r.curve.threshold, (std::vector<double> {2, 3, 4}));
        QCOMPARE_EXACT(r.curve.best, std::size_t(1));
        // torch 1.13's float32 values of the three errors (its code is torch 2.11's).
        QCOMPARE_EXACT(r.curve.value,
            (std::vector<double> {5.8333330154418945, 3.7083334922790527, 3.3333332538604736}));
        for (int e = 1; e <= 3; ++e)
            QVERIFY(
                sameValue(r.curve.value[std::size_t(e - 1)], observerError(h.counts, 0, 4, 2, 0, e), 1e-6));
    }

    void histogramObserverMatchesTorch_data()
    {
        QTest::addColumn<QVector<double>>("hist");
        QTest::addColumn<int>("dst");
        QTest::addColumn<double>("newMin");
        QTest::addColumn<double>("newMax");
        QTest::addColumn<QVector<double>>("errors");
        // obs._non_linear_param_search() on obs.histogram = hist, min 0, max = len(hist) (torch 1.13, whose
        // search and error code torch 2.11 still has); errors as the search evaluated them, last one the
        // stop, then _compute_quantization_error(0, bins - 1).
        QTest::newRow("[1, 8, 8, 1]") << QVector<double> {1, 8, 8, 1} << 2 << 0.0 << 3.0
                                      << QVector<double> {5.125, 13.499999046325684, 6.000000476837158};
        QTest::newRow("[0, 10, 10, 1]") << QVector<double> {0, 10, 10, 1} << 4 << 1.0 << 3.0
                                        << QVector<double> {1.734375, 1.0625, 7.515625, 1.7500001192092896};
        QTest::newRow("equal errors continue") << QVector<double> {0, 0, 0, 0, 0, 5, 4, 3,
            0} << 2 << 5.0 << 7.0 << QVector<double> {4.0, 4.0, 12.125, 10.750000953674316};
        QTest::newRow("outlier at the end") << QVector<double> {1, 0, 0, 0, 0, 0, 0,
            100} << 4 << 0.0 << 7.0 << QVector<double> {197.6197967529297, 4397.400390625, 33.66666793823242};
    }
    void histogramObserverMatchesTorch()
    {
        QFETCH(QVector<double>, hist);
        QFETCH(int, dst);
        QFETCH(double, newMin);
        QFETCH(double, newMax);
        QFETCH(QVector<double>, errors);
        const CollectedHistogram h = histogramOf(std::vector<double>(hist.begin(), hist.end()), 1.0, false);
        const SearchResult r = histogramObserverSearch(h, dst);
        QCOMPARE_EXACT(r.range, (GroupRange {newMin, newMax}));
        std::vector<double> searched(errors.begin(), errors.end() - 1);
        std::reverse(searched.begin(), searched.end());
        searched.push_back(errors.back());
        QCOMPARE_EXACT(r.curve.value, searched);
        QCOMPARE_EXACT(r.curve.best, std::size_t(1));
        verifyCurveShape(r.curve);
    }

    void histogramObserverRejects()
    {
        QVERIFY_THROWS_EXCEPTION(Error, histogramObserverSearch(histogramOf({1, 2}, 1, false), 0));
        CollectedHistogram broken = histogramOf({1, 2}, 1, false);
        broken.edges.pop_back();
        QVERIFY_THROWS_EXCEPTION(Error, histogramObserverSearch(broken, 256));
    }
};

QTEST_APPLESS_MAIN(TestSearchMethods)
#include "tst_search_methods.moc"
