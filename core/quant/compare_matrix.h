#pragma once

#include "metrics/error_report.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace qs {

/// Granularity spelling of the column where block formats (mxfp4, nvfp4, bnb_nf4, q4_0 ...) are evaluated on
/// their own blocks. Element formats have no native blocks: their cells in this column carry an error.
inline constexpr const char* kNativeGranularity = "native";

/// One cell of the formats × granularities matrix.
struct CompareCell {
    Scheme scheme; ///< what was evaluated (block formats: blockFormat set, granularity = their blocks)
    std::string format; ///< the format name as requested
    std::string granularity; ///< the granularity spelling as requested ("tensor", "group:128", "native" ...)
    ErrorReport report; ///< min-max ranges; bitsPerValue from effectiveBitsPerValue
    std::string error; ///< non-empty when the cell does not apply or failed (report is then all zero):
                       ///< the granularity does not fit the tensor, a block format with a granularity
                       ///< other than its own, an element format in the native column, "cancelled"
    bool percentiles = true; ///< false when the report's p50/p95/p99 were not computed (fused cells, see
                             ///< compareSchemes; they are then 0)
    bool operator==(const CompareCell&) const = default;
};

/// Tensors with at least this many elements take the fused kernels in compareSchemes; smaller ones gain
/// nothing from them and keep the reference path for every cell.
inline constexpr std::int64_t kCompareFusedMinElements = 65536;

struct CompareOptions {
    /// Every cell by the reference path (fakeQuantize, then computeErrorReport): exact percentiles and
    /// computeErrorReport's summation order, several times slower on large tensors.
    bool exactPercentiles = false;
    int threads = 0; ///< cells computed at once (<= 0: every hardware thread)
};

/// The default rows and columns of `quantscope-cli compare`: int8, int6, int4, int3, fp8_e4m3, fp8_e5m2,
/// fp6_e3m2, fp6_e2m3, fp4_e2m1, nf4, bnb_fp4, iq4_nl, ternary; every block format; and
/// tensor, channel:0, group:128, block:128x128.
std::vector<std::string> defaultCompareFormats();
std::vector<std::string> defaultCompareBlockFormats();
std::vector<std::string> defaultCompareGranularities();

/// Throws qs::Error naming the first unknown format (listing the valid element and block format names) or
/// malformed granularity spelling (kNativeGranularity is accepted).
void validateCompareNames(
    const std::vector<std::string>& formats, const std::vector<std::string>& granularities);

/// Evaluates every format × granularity combination on `tensor`, row-major: cell (f, g) is
/// cells[f * granularities.size() + g].
/// Element formats use `base` (range mode, scale format, E8M0 rounding, arithmetic, element rounding) with
/// their format and the cell's granularity; block formats use their reference algorithm (with base's E8M0
/// and element rounding and double quantization) and apply only at "native" or at group:B along the last
/// axis where B is their default block size. Ranges are min-max.
/// Element-format cells whose granularity the fused kernels support (kernels/kernels.h
/// fakeQuantErrorUnsupported: per tensor, per channel along axis 0, groups along the last axis, 2-D blocks)
/// on tensors of at least kCompareFusedMinElements elements are computed without writing x̂: the min-max
/// range of every group is found once per granularity (minMaxGroups) and shared by the formats, the scales
/// and zero points follow from it exactly as qs::quantize derives them, and the simd backend's
/// fakeQuantError gives the sums. Those reports equal qs::computeErrorReport of the reconstruction except
/// that (a) the sums are added in the kernels' documented order (kKernelChunk), so mse, rmse, mean error,
/// SQNR, relative RMSE and cosine may differ in the last bits (relative 1e-12 on 16M values; count, max
/// error, clipped share and bits per value are identical), and (b) p50/p95/p99 are not computed (0, with
/// CompareCell::percentiles false). Block formats with a fused kernel (blockFakeQuantErrorUnsupported: MX
/// minifloats, NVFP4) and ternary are computed the same way by blockFakeQuantError and
/// ternaryFakeQuantError. Every other cell, and every cell with options.exactPercentiles, takes
/// the reference path.
/// Runs on every hardware thread (cells in parallel; options.threads overrides). `cancel`, when set to true,
/// stops starting new cells; cells not computed carry the error "cancelled". `onCell` is called once per
/// finished cell, from worker threads, one call at a time, and must not throw. Throws qs::Error (before any
/// work) for unknown names.
std::vector<CompareCell> compareSchemes(const Tensor& tensor, const std::vector<std::string>& formats,
    const std::vector<std::string>& granularities, const Scheme& base, std::atomic<bool>* cancel = nullptr,
    std::function<void(const CompareCell&)> onCell = {});

/// The same with explicit options.
std::vector<CompareCell> compareSchemes(const Tensor& tensor, const std::vector<std::string>& formats,
    const std::vector<std::string>& granularities, const Scheme& base, const CompareOptions& options,
    std::atomic<bool>* cancel = nullptr, std::function<void(const CompareCell&)> onCell = {});

/// The same with the default scheme settings (symmetric narrow, fp32 scales, multiply by the reciprocal).
std::vector<CompareCell> compareSchemes(const Tensor& tensor, const std::vector<std::string>& formats,
    const std::vector<std::string>& granularities, std::atomic<bool>* cancel = nullptr,
    std::function<void(const CompareCell&)> onCell = {});

} // namespace qs
