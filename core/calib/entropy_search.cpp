#include "base/error.h"
#include "calib/search_methods.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace qs {

namespace detail {

namespace {

/// numpy's @TYPE@_pairwise_sum (loops_utils.h.src), PW_BLOCKSIZE 128, unrolled by 8.
template<typename T> T pairwiseSum(const T* a, std::size_t n)
{
    if (n < 8) {
        T res = 0;
        for (std::size_t i = 0; i < n; ++i)
            res += a[i];
        return res;
    }
    if (n <= 128) {
        T r[8];
        for (int j = 0; j < 8; ++j)
            r[j] = a[j];
        std::size_t i = 8;
        for (; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; ++j)
                r[j] += a[i + std::size_t(j)];
        T res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i)
            res += a[i];
        return res;
    }
    std::size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwiseSum(a, n2) + pairwiseSum(a + n2, n - n2);
}

/// The reduction runs the inner loop once per buffer of NPY_BUFSIZE elements, so the pairwise sums of the
/// 8192-element chunks are added in order to the identity.
template<typename T> T chunkedPairwiseSum(std::span<const T> values)
{
    constexpr std::size_t kBufferSize = 8192;
    T sum = 0;
    for (std::size_t start = 0; start < values.size(); start += kBufferSize)
        sum += pairwiseSum(values.data() + start, std::min(kBufferSize, values.size() - start));
    return sum;
}

} // namespace

double numpyPairwiseSum(std::span<const double> values)
{
    return chunkedPairwiseSum(values);
}

float numpyPairwiseSum(std::span<const float> values)
{
    return chunkedPairwiseSum(values);
}

} // namespace detail

namespace {

using I = std::int64_t;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Counts as the numpy-based peers hold them: integers, truncated toward zero like `.int()` and astype.
std::vector<I> integerCounts(const CollectedHistogram& histogram)
{
    std::vector<I> counts(histogram.counts.size());
    for (std::size_t k = 0; k < counts.size(); ++k)
        counts[k] = static_cast<I>(histogram.counts[k]);
    return counts;
}

/// scipy.special.rel_entr.
double relEntr(double x, double y)
{
    if (std::isnan(x) || std::isnan(y))
        return kNaN;
    if (x > 0 && y > 0)
        return x * std::log(x / y);
    if (x == 0 && y >= 0)
        return 0;
    return kInf;
}

int levelCount(int numBits, bool isUnsigned, int quantizedBins)
{
    if (quantizedBins > 0)
        return quantizedBins;
    const int shift = numBits - 1 + (isUnsigned ? 1 : 0);
    if (numBits < 1 || shift < 0 || shift > 24)
        throw Error("entropy search: " + std::to_string(numBits) + " bits give no usable level count");
    return 1 << shift;
}

GroupRange symmetricRange(double amax, bool oneSided)
{
    return oneSided ? GroupRange {0, amax} : GroupRange {-amax, amax};
}

SearchResult modelOptEntropy(
    const CollectedHistogram& histogram, int nq, bool isUnsigned, int startBin, int stride)
{
    if (histogram.edges.front() < 0)
        throw Error("ModelOpt entropy search needs the |x| histogram (the first edge is negative)");
    const I n = I(histogram.counts.size());
    if (startBin < 1 || stride < 1)
        throw Error("ModelOpt entropy search: start_bin and stride must be >= 1 (got "
            + std::to_string(startBin) + ", " + std::to_string(stride) + ")");
    if (n < 2 || startBin > n)
        throw Error("ModelOpt entropy search starts at bin " + std::to_string(startBin)
            + " but the histogram has " + std::to_string(n) + " bins");

    std::vector<I> bins = integerCounts(histogram);
    bins[0] = bins[1];
    std::vector<I> prefix(std::size_t(n) + 1, 0);
    std::vector<I> nonEmpty(std::size_t(n) + 1, 0);
    for (I j = 0; j < n; ++j) {
        prefix[std::size_t(j) + 1] = prefix[std::size_t(j)] + bins[std::size_t(j)];
        nonEmpty[std::size_t(j) + 1] = nonEmpty[std::size_t(j)] + (bins[std::size_t(j)] != 0);
    }
    const I total = prefix[std::size_t(n)];
    const double totalD = double(total);

    std::vector<double> q(static_cast<std::size_t>(n));
    std::vector<double> terms(static_cast<std::size_t>(n));
    std::vector<I> bounds(static_cast<std::size_t>(nq) + 1);
    SearchResult result;
    result.curve.objective = "KL divergence";
    for (I i = startBin; i <= n; i += stride) {
        // np.linspace(0, i, nq + 1) then np.digitize(range(i), space) - 1: level k holds the integers j with
        // space[k] <= j < space[k + 1], i.e. [ceil(space[k]), ceil(space[k + 1])).
        const double step = double(i) / double(nq);
        for (int k = 0; k < nq; ++k)
            bounds[std::size_t(k)] = std::min<I>(i, I(std::ceil(double(k) * step)));
        bounds[std::size_t(nq)] = i;
        for (int k = 0; k < nq; ++k) {
            const I lo = bounds[std::size_t(k)];
            const I hi = bounds[std::size_t(k) + 1];
            if (hi <= lo)
                continue;
            const I count = nonEmpty[std::size_t(hi)] - nonEmpty[std::size_t(lo)];
            const double level
                = count ? double(prefix[std::size_t(hi)] - prefix[std::size_t(lo)]) / double(count) : 0;
            for (I j = lo; j < hi; ++j)
                q[std::size_t(j)] = bins[std::size_t(j)] != 0 ? level : 0.0;
        }
        const double sumQ = detail::numpyPairwiseSum(std::span<const double>(q.data(), std::size_t(i)));
        const I outliers = total - prefix[std::size_t(i)];
        if (std::nearbyint(sumQ + double(outliers)) != totalD)
            throw Error("ModelOpt entropy search: count mismatch at " + std::to_string(i)
                + " bins (the peer raises RuntimeError here)");
        const I last = bins[std::size_t(i) - 1] + outliers;
        double divergence;
        if (sumQ == 0) {
            divergence = kNaN; // q = 0/0 everywhere
        } else if (bins[std::size_t(i) - 1] == 0 && last > 0) {
            divergence = kInf;
        } else {
            for (I j = 0; j < i; ++j) {
                const I count = j == i - 1 ? last : bins[std::size_t(j)];
                terms[std::size_t(j)]
                    = count == 0 ? 0.0 : relEntr(double(count) / totalD, q[std::size_t(j)] / sumQ);
            }
            divergence = detail::numpyPairwiseSum(std::span<const double>(terms.data(), std::size_t(i)));
        }
        result.curve.threshold.push_back(histogram.edges[std::size_t(i)]);
        result.curve.value.push_back(divergence);
    }

    // np.argmin(div[::-1]): the first NaN, else the first minimum, counted from the end.
    const std::vector<double>& values = result.curve.value;
    std::size_t best = values.size() - 1;
    bool bestIsNaN = std::isnan(values[best]);
    for (std::size_t c = values.size() - 1; c-- > 0 && !bestIsNaN;) {
        if (std::isnan(values[c])) {
            best = c;
            bestIsNaN = true;
        } else if (values[c] < values[best]) {
            best = c;
        }
    }
    result.curve.best = best;
    result.range = symmetricRange(double(float(result.curve.threshold[best])), isUnsigned);
    return result;
}

/// quant_utils.smooth_distribution(p, eps=0.0001) on int64 counts; false where the peer returns None.
bool smoothDistribution(const I* p, std::size_t size, float* out)
{
    std::size_t zeros = 0;
    for (std::size_t j = 0; j < size; ++j)
        zeros += p[j] == 0;
    const std::size_t nonZeros = size - zeros;
    if (nonZeros == 0)
        return false;
    const double eps1 = 0.0001 * double(zeros) / double(nonZeros);
    if (!(eps1 < 1.0))
        throw Error("ONNX Runtime entropy search: smooth_distribution's eps1 = " + std::to_string(eps1)
            + " is not < 1 (" + std::to_string(zeros) + " zeros, " + std::to_string(nonZeros)
            + " non-zeros; the peer's assert fails)");
    const float eps = 0.0001f;
    const float minusEps1 = float(-eps1);
    for (std::size_t j = 0; j < size; ++j) {
        out[j] = p[j] == 0 ? eps : float(p[j]) + minusEps1;
        if (!(out[j] > 0))
            throw Error("ONNX Runtime entropy search: smooth_distribution made an entry <= 0");
    }
    return true;
}

SearchResult onnxRuntimeEntropy(const CollectedHistogram& histogram, int nq)
{
    if (histogram.absolute)
        throw Error("ONNX Runtime entropy search needs a signed histogram, not an |x| one");
    const I n = I(histogram.counts.size());
    const I zero = n / 2;
    const I half = nq / 2;
    if (nq < 2 || half > zero)
        throw Error("ONNX Runtime entropy search with " + std::to_string(nq)
            + " quantized bins needs at least " + std::to_string(std::max(2, nq))
            + " bins, the histogram has " + std::to_string(n));

    const std::vector<I> hist = integerCounts(histogram);
    std::vector<I> prefix(std::size_t(n) + 1, 0);
    for (I j = 0; j < n; ++j)
        prefix[std::size_t(j) + 1] = prefix[std::size_t(j)] + hist[std::size_t(j)];

    std::vector<I> p(static_cast<std::size_t>(n));
    std::vector<I> q(static_cast<std::size_t>(n));
    std::vector<float> pSmooth(static_cast<std::size_t>(n));
    std::vector<float> qSmooth(static_cast<std::size_t>(n));
    std::vector<float> terms(static_cast<std::size_t>(n));
    std::vector<I> pPrefixNonZero(std::size_t(n) + 1);
    std::vector<double> low;
    SearchResult result;
    result.curve.objective = "KL divergence";
    for (I i = half; i <= zero; ++i) {
        const I start = zero - i;
        const I end = std::min(zero + i + 1, n);
        const std::size_t length = std::size_t(end - start);
        for (std::size_t j = 0; j < length; ++j)
            p[j] = hist[std::size_t(start) + j];
        p[0] += prefix[std::size_t(start)];
        p[length - 1] += prefix[std::size_t(n)] - prefix[std::size_t(end)];
        for (std::size_t j = 0; j < length; ++j)
            pPrefixNonZero[j + 1] = pPrefixNonZero[j] + (p[j] != 0);

        const I merged = I(length) / nq;
        std::fill(q.begin(), q.begin() + std::ptrdiff_t(length), 0);
        for (I k = 0; k < nq; ++k) {
            const I s = k * merged;
            const I e = s + merged;
            I levelSum = prefix[std::size_t(start + e)] - prefix[std::size_t(start + s)];
            if (k == nq - 1)
                levelSum += prefix[std::size_t(end)] - prefix[std::size_t(start + nq * merged)];
            const I norm = pPrefixNonZero[std::size_t(e)] - pPrefixNonZero[std::size_t(s)];
            if (norm != 0) {
                const I value = I(double(levelSum) / double(norm));
                std::fill(q.begin() + s, q.begin() + e, value);
            }
        }

        double divergence = kInf;
        if (smoothDistribution(p.data(), length, pSmooth.data())
            && smoothDistribution(q.data(), length, qSmooth.data())) {
            const float sumP = detail::numpyPairwiseSum(std::span<const float>(pSmooth.data(), length));
            const float sumQ = detail::numpyPairwiseSum(std::span<const float>(qSmooth.data(), length));
            for (std::size_t j = 0; j < length; ++j)
                terms[j] = float(relEntr(double(pSmooth[j] / sumP), double(qSmooth[j] / sumQ)));
            divergence = double(detail::numpyPairwiseSum(std::span<const float>(terms.data(), length)));
        }
        low.push_back(histogram.edges[std::size_t(start)]);
        result.curve.threshold.push_back(histogram.edges[std::size_t(end)]);
        result.curve.value.push_back(divergence);
    }

    const std::vector<double>& values = result.curve.value;
    std::size_t best = 0;
    for (std::size_t c = 1; c < values.size() && !std::isnan(values[best]); ++c)
        if (std::isnan(values[c]) || values[c] < values[best])
            best = c;
    result.curve.best = best;
    double lo = low[best];
    double hi = result.curve.threshold[best];
    if (lo < histogram.minSeen)
        lo = histogram.minSeen;
    if (hi > histogram.maxSeen)
        hi = histogram.maxSeen;
    result.range = {lo, hi};
    return result;
}

/// The |x| histogram of a signed one: each bin's count goes to the width-w bin from 0 that holds |center|.
CollectedHistogram foldedHistogram(const CollectedHistogram& histogram)
{
    if (histogram.absolute || histogram.edges.front() >= 0)
        return histogram;
    const std::size_t n = histogram.counts.size();
    const double width = (histogram.edges[n] - histogram.edges[0]) / double(n);
    const double amax = std::max(std::fabs(histogram.edges[0]), std::fabs(histogram.edges[n]));
    CollectedHistogram folded;
    folded.absolute = true;
    if (!(width > 0)) {
        folded.edges = {0, amax};
        folded.counts = {0};
        for (double c : histogram.counts)
            folded.counts[0] += c;
    } else {
        const std::size_t bins = std::max<std::size_t>(1, std::size_t(std::ceil(amax / width - 1e-9)));
        folded.counts.assign(bins, 0);
        for (std::size_t k = 0; k < n; ++k) {
            const double center = std::fabs(0.5 * (histogram.edges[k] + histogram.edges[k + 1]));
            folded.counts[std::min(bins - 1, std::size_t(center / width))] += histogram.counts[k];
        }
        folded.edges.resize(bins + 1);
        for (std::size_t k = 0; k <= bins; ++k)
            folded.edges[k] = double(k) * width;
    }
    folded.minSeen = 0;
    folded.maxSeen = std::max(std::fabs(histogram.minSeen), std::fabs(histogram.maxSeen));
    return folded;
}

SearchResult prefixEntropy(const CollectedHistogram& input, int nq, bool isUnsigned, bool tensorRT)
{
    const CollectedHistogram histogram = foldedHistogram(input);
    const I n = I(histogram.counts.size());
    const I first = nq;
    const I last = tensorRT ? n - 1 : n;
    if (nq < 1 || first > last)
        throw Error(std::string(tensorRT ? "TensorRT" : "Native") + " entropy search with "
            + std::to_string(nq) + " levels needs at least " + std::to_string(tensorRT ? nq + 1 : nq)
            + " bins, the |x| histogram has " + std::to_string(n));

    const std::vector<double>& b = histogram.counts;
    std::vector<double> sum(std::size_t(n) + 1, 0);
    std::vector<double> bLogB(std::size_t(n) + 1, 0);
    std::vector<I> nonEmpty(std::size_t(n) + 1, 0);
    std::vector<double> logInt(std::size_t(n) + 1, 0);
    for (I j = 0; j < n; ++j) {
        const double c = b[std::size_t(j)];
        sum[std::size_t(j) + 1] = sum[std::size_t(j)] + c;
        bLogB[std::size_t(j) + 1] = bLogB[std::size_t(j)] + (c > 0 ? c * std::log(c) : 0.0);
        nonEmpty[std::size_t(j) + 1] = nonEmpty[std::size_t(j)] + (c > 0);
        logInt[std::size_t(j) + 1] = std::log(double(j + 1));
    }
    const double total = sum[std::size_t(n)];
    const double width = (histogram.edges[std::size_t(n)] - histogram.edges[0]) / double(n);

    SearchResult result;
    result.curve.objective = "KL divergence";
    for (I i = first; i <= last; ++i) {
        result.curve.threshold.push_back(
            tensorRT ? histogram.edges[0] + (double(i) + 0.5) * width : histogram.edges[std::size_t(i)]);
        const double kept = sum[std::size_t(i)];
        const double lastBin = b[std::size_t(i) - 1];
        const double lastP = lastBin + (total - kept);
        if (total == 0) {
            result.curve.value.push_back(0);
            continue;
        }
        if (!(kept > 0) || (lastBin == 0 && lastP > 0)) {
            result.curve.value.push_back(kInf);
            continue;
        }
        const double logShift = std::log(kept) - std::log(total); // log ΣQ - log T
        double scaled = 0; // T · KL
        for (I k = 0; k < nq; ++k) {
            const I lo = (k * i + nq - 1) / nq;
            const I hi = ((k + 1) * i + nq - 1) / nq;
            const double levelSum = sum[std::size_t(hi)] - sum[std::size_t(lo)];
            if (hi <= lo || !(levelSum > 0))
                continue;
            const double logRatio = logInt[std::size_t(nonEmpty[std::size_t(hi)] - nonEmpty[std::size_t(lo)])]
                - std::log(levelSum) + logShift;
            const I inner = hi == i ? i - 1 : hi; // the last kept bin carries the clipped mass: below
            scaled += bLogB[std::size_t(inner)] - bLogB[std::size_t(lo)]
                + (sum[std::size_t(inner)] - sum[std::size_t(lo)]) * logRatio;
            if (hi == i && lastP > 0)
                scaled += lastP * (std::log(lastP) + logRatio);
        }
        result.curve.value.push_back(scaled / total);
    }

    const std::vector<double>& values = result.curve.value;
    std::size_t best = 0;
    for (std::size_t c = 1; c < values.size(); ++c)
        if (values[c] < values[best])
            best = c;
    result.curve.best = best;
    result.range = symmetricRange(result.curve.threshold[best], isUnsigned);
    return result;
}

} // namespace

SearchResult entropySearch(const CollectedHistogram& histogram, Compatibility compat, int numBits,
    bool isUnsigned, int quantizedBins, int startBin, int stride)
{
    checkHistogram(histogram, "entropy search");
    switch (compat) {
    case Compatibility::ModelOpt:
        return modelOptEntropy(
            histogram, levelCount(numBits, isUnsigned, quantizedBins), isUnsigned, startBin, stride);
    case Compatibility::OnnxRuntime:
        return onnxRuntimeEntropy(histogram, quantizedBins > 0 ? quantizedBins : 128);
    case Compatibility::TensorRT:
        return prefixEntropy(histogram, quantizedBins > 0 ? quantizedBins : 128, isUnsigned, true);
    case Compatibility::Native:
        return prefixEntropy(histogram, levelCount(numBits, isUnsigned, quantizedBins), isUnsigned, false);
    case Compatibility::PyTorch:
        break;
    }
    throw Error("entropy search has no PyTorch mode; valid: native, modelopt, onnxruntime, tensorrt");
}

} // namespace qs
