#include "formats/number_format.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/fake_quant.cuh"
#include "kernels/cuda_kernels.h"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace qs::cuda {

int multiprocessorCount()
{
    int device = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    int count = 0;
    check(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
    return count;
}

namespace {

/// The read-bandwidth baseline: every float of x is loaded once (as float4) and folded into a value that
/// is stored only in a case that does not happen, so the loads cannot be removed.
__global__ void __launch_bounds__(kBlockThreads) readKernel(const float* __restrict__ x, I n, unsigned* sink)
{
    const I stride = I(gridDim.x) * kBlockThreads;
    const I quads = n / 4;
    const auto* q = reinterpret_cast<const float4*>(x);
    unsigned fold = 0;
    const auto add = [&](const float4& v) {
        fold ^= __float_as_uint(v.x) + __float_as_uint(v.y) + __float_as_uint(v.z) + __float_as_uint(v.w);
    };
    I k = I(blockIdx.x) * kBlockThreads + threadIdx.x;
    for (; k + 3 * stride < quads; k += 4 * stride) {
        const float4 a = __ldcs(q + k);
        const float4 b = __ldcs(q + k + stride);
        const float4 c = __ldcs(q + k + 2 * stride);
        const float4 d = __ldcs(q + k + 3 * stride);
        add(a);
        add(b);
        add(c);
        add(d);
    }
    for (; k < quads; k += stride)
        add(__ldcs(q + k));
    for (I i = 4 * quads + I(blockIdx.x) * kBlockThreads + threadIdx.x; i < n; i += stride)
        fold ^= __float_as_uint(x[i]);
    if (fold == 0x9E3779B9u)
        *sink = fold;
}

class EventPair {
public:
    EventPair()
    {
        check(cudaEventCreate(&start_), "cudaEventCreate");
        check(cudaEventCreate(&stop_), "cudaEventCreate");
    }
    EventPair(const EventPair&) = delete;
    EventPair& operator=(const EventPair&) = delete;
    ~EventPair()
    {
        cudaEventDestroy(start_);
        cudaEventDestroy(stop_);
    }

    /// Milliseconds between two events recorded around f() on the default stream.
    template<class F> float time(F&& f)
    {
        check(cudaEventRecord(start_, nullptr), "cudaEventRecord");
        f();
        check(cudaEventRecord(stop_, nullptr), "cudaEventRecord");
        check(cudaEventSynchronize(stop_), "cudaEventSynchronize");
        float ms = 0;
        check(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime");
        return ms;
    }

private:
    cudaEvent_t start_ = nullptr;
    cudaEvent_t stop_ = nullptr;
};

I parseCount(const std::string& word, const std::string& kernel)
{
    I value = 0;
    const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
    if (error != std::errc() || end != word.data() + word.size() || value < 1)
        throw Error("kernel '" + kernel + "': '" + word + "' is not a positive count");
    return value;
}

/// Device min/max of the n values at x viewed as [n / cols, cols], downloaded.
std::vector<MinMaxResult> deviceRows(const float* x, I n, I cols)
{
    const I rows = n / cols;
    DeviceBuffer<RowKeys> keys(static_cast<std::size_t>(rows));
    launchMinMaxRows(x, rows, cols, keys.get(), nullptr);
    std::vector<RowKeys> host(static_cast<std::size_t>(rows));
    download(host.data(), keys.get(), host.size());
    std::vector<MinMaxResult> results;
    results.reserve(host.size());
    for (const RowKeys& k : host)
        results.push_back(minMaxResult(k));
    return results;
}

} // namespace

} // namespace qs::cuda

namespace qs {

bool cudaAvailable()
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    return count > 0;
}

std::string cudaDeviceName()
{
    if (!cudaAvailable())
        return {};
    cudaDeviceProp properties;
    if (cudaGetDeviceProperties(&properties, 0) != cudaSuccess) {
        cudaGetLastError();
        return {};
    }
    return properties.name;
}

double cudaTimeKernelMs(const std::string& kernel, std::span<const float> values, int repeats)
{
    using cuda::I;
    if (repeats < 1)
        throw Error("kernel timing needs at least one repeat, not " + std::to_string(repeats));
    std::vector<std::string> words;
    std::istringstream stream(kernel);
    for (std::string word; stream >> word;)
        words.push_back(word);
    const auto n = static_cast<I>(values.size());
    if (words.empty() || n == 0)
        throw Error("cannot time kernel '" + kernel + "' on " + std::to_string(n) + " values");
    const std::string& name = words.front();
    const auto word = [&](std::size_t index, const std::string& fallback) {
        return index < words.size() ? words[index] : fallback;
    };
    const auto x = cuda::DeviceBuffer<float>::from(values);

    cuda::DeviceBuffer<float> target;
    cuda::DeviceBuffer<unsigned> sink;
    cuda::DeviceBuffer<cuda::RowKeys> keys;
    cuda::DeviceBuffer<unsigned long long> counts;
    cuda::DeviceBuffer<cuda::ChunkSums> chunks;
    cuda::DeviceBuffer<cuda::ChunkSums> total;
    cuda::HistogramPlan histogram;
    cuda::FakeQuantPlan plan;
    std::function<void()> run;
    const unsigned fullGrid = static_cast<unsigned>(8 * cuda::multiprocessorCount());

    if (name == "copy" && words.size() == 1) {
        target = cuda::DeviceBuffer<float>(values.size());
        run = [&] {
            cuda::check(cudaMemcpyAsync(
                            target.get(), x.get(), values.size_bytes(), cudaMemcpyDeviceToDevice, nullptr),
                "cudaMemcpyAsync");
        };
    } else if (name == "read" && words.size() == 1) {
        sink = cuda::DeviceBuffer<unsigned>(1);
        run = [&] {
            cuda::readKernel<<<fullGrid, cuda::kBlockThreads>>>(x.get(), n, sink.get());
            cuda::checkLaunch("read kernel");
        };
    } else if (name == "minmax" && words.size() == 1) {
        keys = cuda::DeviceBuffer<cuda::RowKeys>(1);
        run = [&] { cuda::launchMinMaxRows(x.get(), 1, n, keys.get(), nullptr); };
    } else if (name == "minmax_rows" && words.size() == 2) {
        const I cols = cuda::parseCount(words[1], kernel);
        if (n % cols != 0)
            throw Error(
                "kernel '" + kernel + "': " + std::to_string(n) + " values are not rows of " + words[1]);
        keys = cuda::DeviceBuffer<cuda::RowKeys>(static_cast<std::size_t>(n / cols));
        run = [&, cols] { cuda::launchMinMaxRows(x.get(), n / cols, cols, keys.get(), nullptr); };
    } else if ((name == "histogram" || name == "histogram_abs") && words.size() <= 2) {
        const bool absolute = name == "histogram_abs";
        const I bins = cuda::parseCount(word(1, "2048"), kernel);
        const MinMaxResult range = cuda::deviceRows(x.get(), n, n).front();
        histogram = cuda::histogramPlan(static_cast<int>(std::min<I>(bins, I(1) << 25)),
            absolute ? 0.0f : range.min, absolute ? range.absmax : range.max, absolute);
        counts = cuda::DeviceBuffer<unsigned long long>(static_cast<std::size_t>(histogram.bins) + 3);
        run = [&] { cuda::launchHistogram(x.get(), n, histogram, counts.get(), nullptr); };
    } else if ((name == "fakequant" || name == "fakequant_twopass" || name == "fakequant_values")
        && words.size() >= 3 && words.size() <= 5) {
        const bool bitRounding = words.back() == "bitround";
        if (bitRounding)
            words.pop_back();
        Scheme scheme;
        scheme.format = formatByName(words[1]);
        const I cols = cuda::parseCount(word(3, "4096"), kernel);
        if (n % cols != 0)
            throw Error("kernel '" + kernel + "': " + std::to_string(n) + " values are not rows of "
                + std::to_string(cols));
        I groupSize = n;
        if (words[2] == "channel") {
            scheme.granularity = Granularity::perChannel(0);
            groupSize = cols;
        } else if (words[2].starts_with("group:")) {
            groupSize = cuda::parseCount(words[2].substr(6), kernel);
            if (cols % groupSize != 0)
                throw Error("kernel '" + kernel + "': groups of " + std::to_string(groupSize)
                    + " do not divide rows of " + std::to_string(cols));
            scheme.granularity = Granularity::perGroup(groupSize);
        } else if (words[2] != "tensor") {
            throw Error(
                "kernel '" + kernel + "': granularity '" + words[2] + "' is not tensor, channel or group:G");
        }
        const double elementMax = formatMaxFinite(scheme.format);
        std::vector<float> scales;
        for (const MinMaxResult& group : cuda::deviceRows(x.get(), n, groupSize)) {
            const float scale = static_cast<float>(group.absmax / elementMax);
            scales.push_back(scale > 0 ? std::clamp(scale, FLT_MIN, FLT_MAX) : 1.0f);
        }
        plan = cuda::makeFakeQuantPlan(values, {n / cols, cols}, scheme, scales, {});
        if (bitRounding && cuda::clipsFromThreshold(plan.kind))
            plan.kind = cuda::ElementKind::Minifloat;
        chunks = cuda::DeviceBuffer<cuda::ChunkSums>(static_cast<std::size_t>(cuda::workspaceEntries(n)));
        total = cuda::DeviceBuffer<cuda::ChunkSums>(1);
        if (name == "fakequant_values")
            target = cuda::DeviceBuffer<float>(values.size());
        const cuda::TotalMode mode = name == "fakequant" ? cuda::TotalMode::Overlapped
            : name == "fakequant_twopass"                ? cuda::TotalMode::AfterChunks
                                                         : cuda::TotalMode::Counts;
        run = [&, mode] {
            cuda::launchFakeQuant(x.get(), n, plan, chunks.get(), total.get(), target.get(), mode, nullptr);
        };
    } else {
        throw Error("unknown CUDA kernel '" + kernel
            + "' (copy, read, minmax, minmax_rows COLS, histogram BINS, histogram_abs BINS, fakequant FORMAT "
              "GRANULARITY [COLS] [bitround], fakequant_twopass …, fakequant_values …)");
    }

    run();
    run();
    cuda::check(cudaDeviceSynchronize(), "warm-up");
    cuda::EventPair events;
    std::vector<float> times;
    for (int r = 0; r < repeats; ++r)
        times.push_back(events.time(run));
    std::sort(times.begin(), times.end());
    const std::size_t middle = times.size() / 2;
    return times.size() % 2 ? times[middle] : 0.5 * (double(times[middle - 1]) + double(times[middle]));
}

} // namespace qs
