#include "base/error.h"
#include "commands.h"
#include "io/tensor_file.h"
#include "kernels/benchmark_suite.h"
#include "text_table.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

namespace qs::cli {

namespace {

struct BenchCommandOptions {
    std::string backend = "all";
    std::vector<std::string> kernels;
    std::int64_t size = std::int64_t {1} << 24;
    int threads = 0;
    std::string file;
    std::string tensor;
    std::string simdTarget;
    int repeats = 7;
    int warmup = 1;
    bool json = false;
};

std::vector<Backend> parseBackends(const std::string& text)
{
    if (text == "all")
        return allBackends();
    std::vector<Backend> backends;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        backends.push_back(backendByName(text.substr(start, comma - start)));
        start = comma + 1;
    }
    return backends;
}

nlohmann::ordered_json number(double value)
{
    return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json resultJson(const BenchResult& r)
{
    nlohmann::ordered_json j;
    j["kernel"] = r.kernel;
    j["backend"] = r.backend;
    j["target"] = r.target;
    j["elements"] = r.elements;
    j["threads"] = r.threads;
    j["skipped"] = r.skipped;
    if (r.skipped) {
        j["reason"] = r.skipReason;
        return j;
    }
    j["repeats"] = r.timing.repeats;
    j["median_ms"] = number(r.timing.medianMs);
    j["spread"] = {{"min_ms", number(r.timing.minMs)}, {"p10_ms", number(r.timing.p10Ms)},
        {"p90_ms", number(r.timing.p90Ms)}, {"max_ms", number(r.timing.maxMs)}};
    j["bytes"] = r.bytes;
    j["gbps"] = number(r.gbps);
    j["input_gbps"] = number(r.inputGbps);
    j["fraction_of_baseline"] = number(r.fractionOfBaseline);
    j["matches_scalar"]
        = r.checked ? nlohmann::ordered_json(r.matchesScalar) : nlohmann::ordered_json(nullptr);
    j["device_timed"] = r.deviceTimed;
    return j;
}

nlohmann::ordered_json baselineJson(const BandwidthBaseline& b)
{
    return {{"threads", b.threads}, {"bytes", b.bytes}, {"read_gbps", number(b.readGbps)},
        {"copy_gbps", number(b.copyGbps)}, {"read_median_ms", number(b.read.medianMs)},
        {"copy_median_ms", number(b.copy.medianMs)}};
}

std::string fixed(double value, int decimals)
{
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

std::string tableText(const BenchReport& report, const BenchCommandOptions& options)
{
    const BandwidthBaseline& baseline = report.baselines.front();
    std::string text = "tensor " + report.tensor + "  " + shapeToString(report.shape) + "  "
        + std::to_string(report.elements) + " elements (" + formatBytes(double(report.elements) * 4.0)
        + " float32), " + std::to_string(baseline.threads) + " thread(s), median of "
        + std::to_string(std::max(options.repeats, 1)) + " after " + std::to_string(options.warmup)
        + " warm-up\n";
    text += "baseline: streaming read " + fixed(baseline.readGbps, 1) + " GB/s, copy "
        + fixed(baseline.copyGbps, 1) + " GB/s (read + write) over " + formatBytes(double(baseline.bytes))
        + "\n";
    if (!report.gpuBaseline.empty())
        text += "GPU baseline: read " + fixed(report.gpuBaseline.front().readGbps, 1) + " GB/s, copy "
            + fixed(report.gpuBaseline.front().copyGbps, 1)
            + " GB/s on the device; cuda rows are CUDA-event times on device-resident data and % READ is of "
              "the GPU read (cuda* = host time around the whole call, copies included)\n";
    text += "GB/s = 1e9 bytes moved per second: the float32 tensor once per pass over it (twice for NVFP4\n"
            "  and bnb double quantization), the scales and zero points read, the codes, scales and zero\n"
            "  points written (unpack_: read, and the tensor written). IN GB/s = the tensor's float32 bytes\n"
            "  per second. % READ = GB/s as a share of the streaming-read baseline\n\n";

    TextTable table({{"KERNEL"}, {"BACKEND"}, {"TARGET"}, {"THR", TextTable::Align::Right},
        {"MEDIAN ms", TextTable::Align::Right}, {"P10..P90 ms", TextTable::Align::Right},
        {"GB/s", TextTable::Align::Right}, {"IN GB/s", TextTable::Align::Right},
        {"% READ", TextTable::Align::Right}, {"= SCALAR"}});
    std::set<std::string> notes;
    for (const BenchResult& r : report.results) {
        if (r.skipped) {
            table.addRow({r.kernel, r.backend, "-", "-", "-", "-", "-", "-", "-", "skipped"});
            notes.insert(
                (backendAvailable(backendByName(r.backend)) ? r.kernel : r.backend) + ": " + r.skipReason);
            continue;
        }
        const bool hostTimedGpu = r.backend == "cuda" && !r.deviceTimed;
        table.addRow({r.kernel, r.backend + (hostTimedGpu ? "*" : ""), r.target, std::to_string(r.threads),
            fixed(r.timing.medianMs, 3), fixed(r.timing.p10Ms, 3) + ".." + fixed(r.timing.p90Ms, 3),
            fixed(r.gbps, 2), fixed(r.inputGbps, 2), formatPercent(r.fractionOfBaseline),
            r.checked ? (r.matchesScalar ? "yes" : "NO") : "-"});
    }
    text += table.render();
    if (!notes.empty()) {
        text += "\nskipped:\n";
        for (const std::string& note : notes)
            text += "  " + note + "\n";
    }
    return text;
}

int runBench(const BenchCommandOptions& options)
{
    BenchOptions bench;
    bench.backends = parseBackends(options.backend);
    bench.kernels = options.kernels;
    bench.threads = {options.threads};
    bench.timing = {options.warmup, options.repeats};
    if (options.size < 1)
        throw Error("--size must be at least 1, not " + std::to_string(options.size));
    if (!options.simdTarget.empty())
        setSimdTarget(options.simdTarget);

    Tensor tensor;
    if (!options.file.empty()) {
        if (options.tensor.empty())
            throw Error("bench --file needs --tensor NAME (list the names with 'quantscope-cli inspect FILE "
                        "--list')");
        const auto file = TensorFile::open(options.file);
        if (!file->find(options.tensor))
            throwFileError(
                file->path(), options.tensor, "no such tensor (run 'quantscope-cli inspect FILE --list')");
        tensor = file->load(options.tensor);
        if (tensor.elementCount() == 0)
            throwFileError(file->path(), options.tensor, "the tensor has no elements");
    } else {
        if (!options.tensor.empty())
            throw Error("--tensor needs --file FILE");
        tensor = syntheticBenchTensor(options.size);
    }

    const BenchReport report = runBenchmarks(tensor, bench);
    if (options.json) {
        nlohmann::ordered_json doc;
        doc["tensor"] = report.tensor;
        doc["shape"] = report.shape;
        doc["elements"] = report.elements;
        doc["baseline"] = baselineJson(report.baselines.front());
        if (!report.gpuBaseline.empty())
            doc["gpu_baseline"] = baselineJson(report.gpuBaseline.front());
        auto results = nlohmann::ordered_json::array();
        for (const BenchResult& r : report.results)
            results.push_back(resultJson(r));
        doc["results"] = std::move(results);
        std::cout << doc.dump(2) << "\n";
    } else {
        std::cout << tableText(report, options);
    }
    return 0;
}

} // namespace

Action addBenchCommand(CLI::App& app)
{
    auto options = std::make_shared<BenchCommandOptions>();
    CLI::App* command = app.add_subcommand("bench",
        "Time the kernels (scalar, SIMD, CUDA) on a synthetic or loaded tensor against memory bandwidth");
    command
        ->add_option("--backend,-b", options->backend, "scalar, simd, cuda, a comma-separated list, or all")
        ->capture_default_str();
    command
        ->add_option("--kernels,-k", options->kernels,
            "Comma-separated kernels: minmax, minmax_rows, histogram, histogram_abs, fq_int8_tensor, "
            "fq_int8_channel, fq_int8_affine_channel, fq_int4_group128, fq_int4_affine_group128, "
            "fq_fp8_e4m3_channel, fq_fp8_e5m2_channel, fq_fp16_tensor, fq_bf16_tensor, fq_fp4_e2m1_group32, "
            "fq_nf4_group64, fq_mxfp8_e4m3, fq_mxfp6_e2m3, fq_mxfp6_e3m2, fq_mxfp4, fq_nvfp4, "
            "fq_ternary_channel, fq_q4_0, fq_bnb_nf4 (the last three CPU only);  packed quantize "
            "pack_int8_channel, pack_int8_affine_group128, pack_int4_group128, "
            "pack_fp8_e4m3_channel, pack_nf4, pack_mxfp4 and the same with unpack_ (dequantize; CPU only); "
            "default: all")
        ->delimiter(',');
    command
        ->add_option(
            "--size,-n", options->size, "Elements of the synthetic tensor ([N/4096, 4096] when divisible)")
        ->capture_default_str();
    command->add_option("--threads,-j", options->threads, "CPU threads (0: all hardware threads)")
        ->capture_default_str();
    command->add_option(
        "--file,-f", options->file, "Benchmark a tensor from this file instead (with --tensor)");
    command->add_option("--tensor,-t", options->tensor, "The tensor of --file (full name)");
    command->add_option("--repeats,-r", options->repeats, "Timed runs per kernel (the median is reported)")
        ->capture_default_str();
    command->add_option("--warmup,-w", options->warmup, "Untimed runs before timing")->capture_default_str();
    command->add_option("--simd-target", options->simdTarget, "Force a Highway target (AVX3, AVX2, SSE4...)");
    command->add_flag(
        "--json", options->json, "Print JSON: the baseline and one object per kernel and backend");
    return [options] { return runBench(*options); };
}

} // namespace qs::cli
