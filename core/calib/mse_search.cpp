#include "base/error.h"
#include "calib/search_methods.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace qs {

namespace detail {

std::vector<float> torchLinspace(float start, float end, int steps)
{
    if (steps < 1)
        return {};
    if (steps == 1)
        return {start};
    std::vector<float> values(std::size_t(steps), 0.0f);
    const float step = (end - start) / float(steps - 1);
    const int halfway = steps / 2;
    for (int k = 0; k < steps; ++k)
        values[std::size_t(k)]
            = k < halfway ? std::fma(step, float(k), start) : std::fma(-step, float(steps - 1 - k), end);
    return values;
}

} // namespace detail

namespace {

using I = std::int64_t;

/// How a candidate threshold t becomes the range handed to the quantizer.
enum class RangeShape {
    Symmetric, ///< [-t, t]
    OneSided, ///< [0, t] (unsigned symmetric integers, or |x| data)
    Clipped, ///< [lo, hi] clamped to [-t, t] (affine schemes on signed data)
};

struct Searcher {
    Scheme scheme;
    RangeShape shape = RangeShape::Symmetric;
    double lo = 0;
    double hi = 0;

    GroupRange range(double t) const
    {
        switch (shape) {
        case RangeShape::OneSided:
            return {0, t};
        case RangeShape::Clipped:
            return {std::clamp(lo, -t, t), std::clamp(hi, -t, t)};
        case RangeShape::Symmetric:
            break;
        }
        return {-t, t};
    }
};

/// The scheme at per-tensor granularity (one candidate range for the whole group) and how ranges are shaped.
Searcher makeSearcher(const Scheme& scheme, bool absoluteData, double lo, double hi, const char* what)
{
    if (scheme.blockFormat != BlockFormat::None)
        throw Error(std::string(what) + ": block format " + blockFormatName(scheme.blockFormat)
            + " computes its own scales from the data; search a generic scheme with its element and scale "
              "formats instead");
    if (std::holds_alternative<SignSpec>(scheme.format.spec))
        throw Error(std::string(what) + ": " + scheme.format.name
            + " takes BitNet's statistics of the weights as its scale, not a clipping range");
    Searcher searcher;
    searcher.scheme = scheme;
    searcher.scheme.granularity = Granularity::perTensor();
    searcher.lo = lo;
    searcher.hi = hi;
    const auto* integer = std::get_if<IntegerSpec>(&scheme.format.spec);
    const bool affine = integer && scheme.rangeMode == RangeMode::Affine;
    const bool oneSided = integer && !integer->isSigned && !affine;
    if (oneSided)
        searcher.shape = RangeShape::OneSided;
    else if (affine && !absoluteData)
        searcher.shape = RangeShape::Clipped;
    return searcher;
}

std::size_t firstMinimum(const std::vector<double>& values)
{
    std::size_t best = 0;
    for (std::size_t c = 1; c < values.size(); ++c)
        if (values[c] < values[best])
            best = c;
    return best;
}

SearchResult modelOptMse(const CollectedHistogram& histogram, const Scheme& scheme, int startBin, int stride)
{
    const auto* integer = std::get_if<IntegerSpec>(&scheme.format.spec);
    if (!integer || scheme.blockFormat != BlockFormat::None)
        throw Error("ModelOpt MSE search (pytorch-quantization _compute_amax_mse) quantizes to integers; '"
            + schemeName(scheme) + "' is not an integer scheme (use the native MSE search)");
    if (startBin < 0 || stride < 1)
        throw Error("ModelOpt MSE search: start_bin must be >= 0 and stride >= 1 (got "
            + std::to_string(startBin) + ", " + std::to_string(stride) + ")");
    const std::size_t n = histogram.counts.size();
    if (std::size_t(startBin) >= n)
        throw Error("ModelOpt MSE search starts at bin " + std::to_string(startBin)
            + " but the histogram has " + std::to_string(n) + " bins");
    const bool isUnsigned = !integer->isSigned;
    const float maxBound = float(std::ldexp(1.0, integer->bits - 1 + (isUnsigned ? 1 : 0)) - 1.0);
    const float minBound = isUnsigned ? 0.0f : -maxBound;

    std::vector<float> counts(n);
    std::vector<float> centers(n);
    for (std::size_t k = 0; k < n; ++k) {
        counts[k] = float(static_cast<I>(histogram.counts[k]));
        centers[k] = (float(histogram.edges[k + 1]) + float(histogram.edges[k])) / 2.0f;
        if (isUnsigned && centers[k] < 0)
            throw Error(
                "ModelOpt MSE search: negative values in unsigned quantization (the peer raises TypeError)");
    }

    std::vector<float> terms(n);
    SearchResult result;
    result.curve.objective = "MSE";
    for (std::size_t i = std::size_t(startBin); i < n; i += std::size_t(stride)) {
        const float amax = centers[i];
        if (amax < 0)
            throw Error("ModelOpt MSE search: negative amax candidate (the peer raises ValueError)");
        const bool zero = amax <= 1.0f / float(1 << 24);
        const float scale = zero ? 0.0f : maxBound / amax;
        const float divisor = zero ? 1.0f : scale;
        for (std::size_t k = 0; k < n; ++k) {
            const float q = std::clamp(std::nearbyint(centers[k] * scale), minBound, maxBound);
            const float diff = q / divisor - centers[k];
            terms[k] = diff * diff * counts[k];
        }
        result.curve.threshold.push_back(double(amax));
        result.curve.value.push_back(double(detail::torchSum(terms) / float(n)));
    }
    result.curve.best = firstMinimum(result.curve.value);
    const double amax = result.curve.threshold[result.curve.best];
    result.range = isUnsigned ? GroupRange {0, amax} : GroupRange {-amax, amax};
    return result;
}

SearchResult nativeHistogramMse(const CollectedHistogram& histogram, const Scheme& scheme)
{
    const std::size_t n = histogram.counts.size();
    const Searcher searcher = makeSearcher(
        scheme, histogram.absolute, histogram.edges.front(), histogram.edges.back(), "MSE search");
    Tensor centers {"", {I(n)}, std::vector<float>(n)};
    double total = 0;
    for (std::size_t k = 0; k < n; ++k) {
        centers.data[k] = float(0.5 * (histogram.edges[k] + histogram.edges[k + 1]));
        total += histogram.counts[k];
    }
    std::vector<double> candidates;
    for (double edge : histogram.edges)
        if (std::fabs(edge) > 0)
            candidates.push_back(std::fabs(edge));
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    if (candidates.empty())
        candidates.push_back(0);

    std::vector<float> out;
    std::vector<GroupRange> ranges(1);
    SearchResult result;
    result.curve.objective = "MSE";
    for (double t : candidates) {
        ranges[0] = searcher.range(t);
        fakeQuantizeInto(centers, searcher.scheme, out, ranges);
        double error = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const double diff = double(out[k]) - double(centers.data[k]);
            error += histogram.counts[k] * diff * diff;
        }
        result.curve.threshold.push_back(t);
        result.curve.value.push_back(total > 0 ? error / total : 0.0);
    }
    result.curve.best = firstMinimum(result.curve.value);
    result.range = searcher.range(result.curve.threshold[result.curve.best]);
    return result;
}

/// Mean squared error of fake-quantizing `tensor` with one range (float64 accumulation).
double meanSquaredError(const Tensor& tensor, const Searcher& searcher, double t, std::vector<float>& out)
{
    fakeQuantizeInto(tensor, searcher.scheme, out, std::vector<GroupRange> {searcher.range(t)});
    double error = 0;
    for (std::size_t k = 0; k < out.size(); ++k) {
        const double diff = double(out[k]) - double(tensor.data[k]);
        error += diff * diff;
    }
    return out.empty() ? 0.0 : error / double(out.size());
}

void checkValues(std::span<const float> values, const char* what)
{
    for (float v : values)
        if (!std::isfinite(v))
            throw Error(
                std::string(what) + ": the values must be finite (NaN/Inf are excluded before the search)");
}

} // namespace

SearchResult mseHistogramSearch(
    const CollectedHistogram& histogram, const Scheme& scheme, Compatibility compat, int startBin, int stride)
{
    checkHistogram(histogram, "MSE search");
    switch (compat) {
    case Compatibility::ModelOpt:
        return modelOptMse(histogram, scheme, startBin, stride);
    case Compatibility::Native:
        return nativeHistogramMse(histogram, scheme);
    case Compatibility::PyTorch:
        throw Error("MSE histogram search has no PyTorch mode; valid: native, modelopt");
    case Compatibility::OnnxRuntime:
        throw Error("MSE histogram search has no ONNX Runtime mode; valid: native, modelopt");
    case Compatibility::TensorRT:
        break;
    }
    throw Error("MSE histogram search has no TensorRT mode; valid: native, modelopt");
}

SearchResult mseExactSearch(std::span<const float> values, const Scheme& scheme)
{
    checkValues(values, "MSE search");
    float lo = 0;
    float hi = 0;
    if (!values.empty()) {
        const auto [mn, mx] = std::minmax_element(values.begin(), values.end());
        lo = *mn;
        hi = *mx;
    }
    const Searcher searcher = makeSearcher(scheme, false, lo, hi, "MSE search");
    const double amax = searcher.shape == RangeShape::OneSided
        ? std::max(double(hi), 0.0)
        : std::max(std::fabs(double(lo)), std::fabs(double(hi)));
    SearchResult result;
    result.curve.objective = "MSE";
    if (!(amax > 0)) {
        result.curve.threshold = {0};
        result.curve.value = {0};
        result.range = {0, 0};
        return result;
    }

    const Tensor tensor {"", {I(values.size())}, std::vector<float>(values.begin(), values.end())};
    std::vector<float> out;
    std::vector<std::pair<double, double>> evaluated; // (threshold, mse)
    const auto evaluate = [&](double t) {
        evaluated.emplace_back(t, meanSquaredError(tensor, searcher, t, out));
        return evaluated.back().second;
    };
    const auto bestSoFar = [&] {
        std::size_t best = 0;
        for (std::size_t c = 1; c < evaluated.size(); ++c)
            if (evaluated[c].second < evaluated[best].second
                || (evaluated[c].second == evaluated[best].second
                    && evaluated[c].first < evaluated[best].first))
                best = c;
        return evaluated[best].first;
    };

    constexpr int kCoarse = 40;
    constexpr int kFine = 20;
    constexpr int kRefinements = 3;
    for (int k = 1; k <= kCoarse; ++k)
        evaluate(amax * k / kCoarse);
    double spacing = amax / kCoarse;
    for (int level = 0; level < kRefinements; ++level) {
        const double center = bestSoFar();
        const double from = std::max(center - spacing, 0.0);
        const double to = std::min(center + spacing, amax);
        spacing = (to - from) / (kFine + 1);
        for (int k = 1; k <= kFine; ++k)
            evaluate(from + spacing * k);
    }

    std::sort(evaluated.begin(), evaluated.end());
    evaluated.erase(std::unique(evaluated.begin(), evaluated.end(),
                        [](const auto& a, const auto& b) { return a.first == b.first; }),
        evaluated.end());
    for (const auto& [t, error] : evaluated) {
        result.curve.threshold.push_back(t);
        result.curve.value.push_back(error);
    }
    result.curve.best = firstMinimum(result.curve.value);
    result.range = searcher.range(result.curve.threshold[result.curve.best]);
    return result;
}

SearchResult mseMultiplierSweep(
    std::span<const float> values, double initialAmax, const Scheme& scheme, int steps)
{
    checkValues(values, "MSE multiplier sweep");
    if (steps < 1)
        throw Error("MSE multiplier sweep: steps must be >= 1, not " + std::to_string(steps));
    if (!(initialAmax >= 0) || !std::isfinite(initialAmax))
        throw Error("MSE multiplier sweep: the initial amax must be finite and >= 0");
    float lo = 0;
    float hi = 0;
    if (!values.empty()) {
        const auto [mn, mx] = std::minmax_element(values.begin(), values.end());
        lo = *mn;
        hi = *mx;
    }
    const Searcher searcher = makeSearcher(scheme, false, lo, hi, "MSE multiplier sweep");
    const Tensor tensor {"", {I(values.size())}, std::vector<float>(values.begin(), values.end())};
    const float initial = float(initialAmax);
    std::vector<float> out;
    std::vector<float> squares(values.size());
    SearchResult result;
    result.curve.objective = "MSE";
    for (float multiplier : detail::torchLinspace(0.25f, 4.0f, steps)) {
        const float candidate = initial * multiplier;
        fakeQuantizeInto(tensor, searcher.scheme, out, std::vector<GroupRange> {searcher.range(candidate)});
        for (std::size_t k = 0; k < squares.size(); ++k) {
            const float diff = tensor.data[k] - out[k];
            squares[k] = diff * diff;
        }
        result.curve.threshold.push_back(double(candidate));
        result.curve.value.push_back(double(detail::torchSum(squares)));
    }
    result.curve.best = firstMinimum(result.curve.value);
    result.range = searcher.range(result.curve.threshold[result.curve.best]);
    return result;
}

} // namespace qs
