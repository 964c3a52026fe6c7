// Times what a user waits for when opening a large checkpoint: listing its tensors (header only,
// memory-mapped), loading one tensor to float32, and the summary/per-channel statistics of that tensor.
// Usage: bench_io [FOLDER] [GIB]   (writes FOLDER/bench_1gib.safetensors once, default /tmp, 1 GiB)
#include "calib/histogram.h"
#include "io/tensor_file.h"
#include "io/writers.h"
#include "tensor/stats.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <vector>

using namespace qs;

namespace {

double medianMs(int repeats, const std::function<void()>& work)
{
    std::vector<double> times;
    for (int i = 0; i < repeats; ++i) {
        const auto start = std::chrono::steady_clock::now();
        work();
        times.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

} // namespace

int main(int argc, char** argv)
{
    const std::string folder = argc > 1 ? argv[1] : "/tmp";
    const double gib = argc > 2 ? std::atof(argv[2]) : 1.0;
    const std::string path = folder + "/bench_1gib.safetensors";
    const std::int64_t rows = 4096, cols = 4096; // 64 MiB per F32 tensor
    const int tensorCount = std::max(1, int(gib * 1024 / 64));

    if (!std::filesystem::exists(path)) {
        std::vector<RawTensor> tensors;
        Tensor t {"", {rows, cols}, std::vector<float>(std::size_t(rows * cols))};
        for (std::size_t i = 0; i < t.data.size(); ++i)
            t.data[i] = float((i * 2654435761u) % 1000003) * 1e-6f - 0.5f;
        for (int k = 0; k < tensorCount; ++k) {
            t.name = "model.layers." + std::to_string(k) + ".mlp.down_proj.weight";
            tensors.push_back(toRawTensor(t, DType::F32));
        }
        writeSafetensors(path, tensors);
    }
    std::printf("file: %s (%.2f GiB, %d tensors of %lldx%lld F32)\n", path.c_str(),
        double(std::filesystem::file_size(path)) / (1 << 30), tensorCount, (long long)rows, (long long)cols);

    const double listMs = medianMs(9, [&] { (void)TensorFile::open(path)->tensors().size(); });
    std::printf("open + list tensors:          %8.3f ms (median of 9)\n", listMs);

    const auto file = TensorFile::open(path);
    const std::string name = file->tensors().front().name;
    Tensor tensor;
    const double loadMs = medianMs(5, [&] { tensor = file->load(name); });
    const double mib = double(tensor.data.size() * 4) / (1 << 20);
    std::printf("load 4096x4096 F32:           %8.3f ms (%.0f MiB/s)\n", loadMs, mib / loadMs * 1000);
    const double statsMs = medianMs(5, [&] { (void)computeSummaryStats(tensor.values()); });
    std::printf("summary stats:                %8.3f ms (%.0f MiB/s)\n", statsMs, mib / statsMs * 1000);
    const double histMs = medianMs(5, [&] { (void)computeHistogram(tensor.values(), 2048); });
    std::printf("2048-bin histogram:           %8.3f ms (%.0f MiB/s)\n", histMs, mib / histMs * 1000);
    const double channelMs = medianMs(5, [&] { (void)computeChannelStats(tensor, 0); });
    std::printf("per-channel stats (axis 0):   %8.3f ms (%.0f MiB/s)\n", channelMs, mib / channelMs * 1000);
    return 0;
}
