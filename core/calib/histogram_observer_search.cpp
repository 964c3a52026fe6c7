#include "base/error.h"
#include "calib/search_methods.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace qs {

namespace detail {

namespace {

using I = std::int64_t;
constexpr int kLanes = 8; // Vectorized<float>::size() of the AVX2 kernel sum_stub dispatches to
using Lanes = std::array<float, kLanes>;

void addInto(float& acc, float v)
{
    acc += v;
}

void addInto(Lanes& acc, const Lanes& v)
{
    for (std::size_t l = 0; l < acc.size(); ++l)
        acc[l] += v[l];
}

I ceilLog2(I x)
{
    return x <= 2 ? 1 : I(std::bit_width(std::uint64_t(x) - 1));
}

/// SumKernel.cpp row_sum(): multi_row_sum over rows of 4 interleaved elements (a cascade of 4 levels), then
/// the elements left over, then the 4 partial sums in order. `load(k)` is element k of the row.
template<typename T, typename Load> T rowSum(I size, const Load& load)
{
    constexpr I rows = 4;
    constexpr int levels = 4;
    const I sizeIlp = size / rows;
    const I levelPower = std::max<I>(4, ceilLog2(sizeIlp) / levels);
    const I levelStep = I(1) << levelPower;
    const I levelMask = levelStep - 1;
    T acc[levels][rows] = {};
    I i = 0;
    while (i + levelStep <= sizeIlp) {
        for (I j = 0; j < levelStep; ++j, ++i)
            for (I k = 0; k < rows; ++k)
                addInto(acc[0][k], load(i * rows + k));
        for (int j = 1; j < levels; ++j) {
            for (I k = 0; k < rows; ++k) {
                addInto(acc[j][k], acc[j - 1][k]);
                acc[j - 1][k] = T {};
            }
            if ((i & (levelMask << (j * levelPower))) != 0)
                break;
        }
    }
    for (; i < sizeIlp; ++i)
        for (I k = 0; k < rows; ++k)
            addInto(acc[0][k], load(i * rows + k));
    for (int j = 1; j < levels; ++j)
        for (I k = 0; k < rows; ++k)
            addInto(acc[0][k], acc[j][k]);
    T partial[rows] = {acc[0][0], acc[0][1], acc[0][2], acc[0][3]};
    for (I k = sizeIlp * rows; k < size; ++k)
        addInto(partial[0], load(k));
    for (I k = 1; k < rows; ++k)
        addInto(partial[0], partial[k]);
    return partial[0];
}

} // namespace

float torchSum(std::span<const float> values)
{
    const I n = I(values.size());
    if (n < kLanes)
        return 0.0f + rowSum<float>(n, [&](I k) { return values[std::size_t(k)]; });
    const I vectors = n / kLanes;
    const Lanes lanes = rowSum<Lanes>(vectors, [&](I v) {
        Lanes out;
        for (std::size_t l = 0; l < out.size(); ++l)
            out[l] = values[std::size_t(v * kLanes) + l];
        return out;
    });
    float sum = 0.0f;
    for (I k = vectors * kLanes; k < n; ++k)
        sum += values[std::size_t(k)];
    for (float lane : lanes)
        sum += lane;
    return 0.0f + sum;
}

} // namespace detail

namespace {

using I = std::int64_t;

/// c10::div_floor_floating (torch.div(..., rounding_mode='floor') on float32).
float divFloor(float a, float b)
{
    if (b == 0)
        return a / b;
    const float mod = std::fmod(a, b);
    float div = (a - mod) / b;
    if (mod != 0 && (b < 0) != (mod < 0))
        div -= 1.0f;
    if (div == 0)
        return std::copysign(0.0f, a / b);
    float floored = std::floor(div);
    if (div - floored > 0.5f)
        floored += 1.0f;
    return floored;
}

/// torch.clamp(x, lo, hi) (NaN stays NaN).
float clampTorch(float x, float lo, float hi)
{
    return std::isnan(x) ? x : std::min(std::max(x, lo), hi);
}

class ObserverSearch {
public:
    ObserverSearch(const CollectedHistogram& histogram, int dstBins)
        : bins_(I(histogram.counts.size()))
        , dstBins_(dstBins)
        , min_(float(histogram.edges.front()))
        , max_(float(histogram.edges.back()))
        , hist_(histogram.counts.size())
        , norm_(histogram.counts.size())
    {
        for (std::size_t k = 0; k < hist_.size(); ++k)
            hist_[k] = float(histogram.counts[k]);
    }

    /// _compute_quantization_error(start, end) as torch evaluates it (see search_methods.h).
    double error(I start, I end)
    {
        const double binWidth = (double(max_) - double(min_)) / double(bins_);
        const double dstWidth = binWidth * double(end - start + 1) / double(dstBins_);
        if (dstWidth == 0.0)
            return 0.0;
        const float bw = float(binWidth);
        const float dw = float(dstWidth);
        const float half = float(dstWidth / 2);
        const float minusHalf = float(-dstWidth / 2);
        const float top = float(dstBins_ - 1);
        const float minusHalfCube = minusHalf * minusHalf * minusHalf;
        const float halfCube = half * half * half;
        const float middle = (halfCube - minusHalfCube) / 3.0f;
        for (I k = 0; k < bins_; ++k) {
            const float begin = float(k - start) * bw;
            const float endOfBin = begin + bw;
            const float dstBegin = clampTorch(divFloor(begin, dw), 0.0f, top);
            const float dstBeginCenter = (dstBegin + 0.5f) * dw;
            const float dstEnd = clampTorch(divFloor(endOfBin, dw), 0.0f, top);
            const float density = hist_[std::size_t(k)] / bw;
            const float deltaBegin = begin - dstBeginCenter;
            float norm = 0.0f + density * ((halfCube - deltaBegin * deltaBegin * deltaBegin) / 3.0f);
            norm += (dstEnd - dstBegin - 1.0f) * (density * middle);
            const float dstEndCenter = dstEnd * dw + half;
            const float deltaEnd = endOfBin - dstEndCenter;
            norm += density * ((deltaEnd * deltaEnd * deltaEnd - minusHalfCube) / 3.0f);
            norm_[std::size_t(k)] = norm;
        }
        return double(detail::torchSum(norm_));
    }

    SearchResult run()
    {
        const float binWidth = (max_ - min_) / float(bins_);
        const double total = double(detail::torchSum(hist_));
        std::vector<float> cSum(hist_.size());
        double running = 0;
        for (std::size_t k = 0; k < hist_.size(); ++k) {
            running += double(hist_[k]);
            cSum[k] = float(running);
        }

        struct Candidate {
            I start;
            I end;
            double norm;
        };
        std::vector<Candidate> evaluated {{0, bins_ - 1, error(0, bins_ - 1)}};
        std::size_t accepted = 0;
        const double stepSize = 1e-5;
        double alpha = 0.0;
        double beta = 1.0;
        I startBin = 0;
        I endBin = bins_ - 1;
        double normMin = std::numeric_limits<double>::infinity();
        while (alpha < beta) {
            const double nextAlpha = alpha + stepSize;
            const double nextBeta = beta - stepSize;
            I l = startBin;
            I r = endBin;
            while (l < endBin && cSum[std::size_t(l)] < float(nextAlpha * total))
                ++l;
            while (r > startBin && cSum[std::size_t(r)] > float(nextBeta * total))
                --r;
            I nextStart = startBin;
            I nextEnd = endBin;
            if (l - startBin > endBin - r) {
                nextStart = l;
                alpha = nextAlpha;
            } else {
                nextEnd = r;
                beta = nextBeta;
            }
            if (nextStart == startBin && nextEnd == endBin)
                continue;
            const double norm = error(nextStart, nextEnd);
            evaluated.push_back({nextStart, nextEnd, norm});
            if (norm > normMin)
                break;
            normMin = norm;
            startBin = nextStart;
            endBin = nextEnd;
            accepted = evaluated.size() - 1;
        }

        const auto lower = [&](I s) { return double(min_ + binWidth * float(s)); };
        const auto upper = [&](I e) { return double(min_ + binWidth * float(e + 1)); };
        SearchResult result;
        result.range = {lower(startBin), upper(endBin)};
        result.curve.objective = "L2 (HistogramObserver)";
        for (std::size_t c = evaluated.size(); c-- > 0;) {
            result.curve.threshold.push_back(upper(evaluated[c].end) - lower(evaluated[c].start));
            result.curve.value.push_back(evaluated[c].norm);
        }
        result.curve.best = evaluated.size() - 1 - accepted;
        return result;
    }

private:
    I bins_;
    int dstBins_;
    float min_;
    float max_;
    std::vector<float> hist_;
    std::vector<float> norm_;
};

} // namespace

SearchResult histogramObserverSearch(const CollectedHistogram& histogram, int dstBins)
{
    if (histogram.counts.empty() || histogram.edges.size() != histogram.counts.size() + 1)
        throw Error(
            "HistogramObserver search: the histogram needs at least one bin and one more edge than bins");
    if (dstBins < 1)
        throw Error("HistogramObserver search: dst_nbins must be >= 1, not " + std::to_string(dstBins));
    for (double c : histogram.counts)
        if (!std::isfinite(c))
            throw Error("HistogramObserver search: histogram counts must be finite");
    return ObserverSearch(histogram, dstBins).run();
}

} // namespace qs
