#pragma once

// Internal to the CUDA backend (kernels/cuda_kernels.h): error checking, device buffers, float keys, fast
// division and the min/max and histogram launchers that the public functions and cudaTimeKernelMs share
// (the fake-quant ones are in fake_quant.cuh). Launchers work on device pointers and the given stream and
// throw qs::Error when a launch fails.

#include "base/error.h"
#include "kernels/kernels.h"

#include <cstdint>
#include <cuda_runtime.h>
#include <span>
#include <string>
#include <utility>

namespace qs::cuda {

using I = std::int64_t;

/// Threads per block of every kernel here; the fixed reduction order of cuda_kernels.h assumes 256.
inline constexpr int kBlockThreads = 256;
inline constexpr unsigned kFullMask = 0xFFFFFFFFu;

/// Throws qs::Error naming `what` when `status` is an error.
inline void check(cudaError_t status, const char* what)
{
    if (status != cudaSuccess)
        throw Error(std::string("CUDA: ") + what + " failed: " + cudaGetErrorString(status));
}

/// Throws qs::Error when the last kernel launch failed.
inline void checkLaunch(const char* kernel)
{
    check(cudaGetLastError(), kernel);
}

/// Number of streaming multiprocessors of the current device.
int multiprocessorCount();

/// An owning device allocation of `count` elements of T (no construction; T is trivial).
template<class T> class DeviceBuffer {
public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(std::size_t count)
        : count_(count)
    {
        if (count > 0)
            check(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T)), "cudaMalloc");
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    DeviceBuffer(DeviceBuffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr))
        , count_(std::exchange(other.count_, 0))
    {
    }
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept
    {
        std::swap(data_, other.data_);
        std::swap(count_, other.count_);
        return *this;
    }
    ~DeviceBuffer()
    {
        if (data_)
            cudaFree(data_);
    }

    T* get() const { return data_; }
    std::size_t size() const { return count_; }

    /// Copies `host` (at most size() elements) to the start of the buffer.
    void upload(std::span<const T> host)
    {
        if (!host.empty())
            check(cudaMemcpy(data_, host.data(), host.size_bytes(), cudaMemcpyHostToDevice),
                "cudaMemcpy to device");
    }

    /// A device copy of `host`.
    static DeviceBuffer from(std::span<const T> host)
    {
        DeviceBuffer buffer(host.size());
        buffer.upload(host);
        return buffer;
    }

private:
    T* data_ = nullptr;
    std::size_t count_ = 0;
};

/// Copies `count` elements from the device to `host`.
template<class T> void download(T* host, const T* device, std::size_t count)
{
    if (count > 0)
        check(cudaMemcpy(host, device, count * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy to host");
}

// ---- Floats as ordered integers ----

/// Float bits -> uint32 key that orders like IEEE totalOrder on non-NaN floats (-0 just below +0).
__host__ __device__ inline std::uint32_t orderedKey(std::uint32_t bits)
{
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

/// Inverse of orderedKey.
__host__ __device__ inline std::uint32_t keyBits(std::uint32_t key)
{
    return (key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key;
}

__host__ __device__ inline bool finiteBits(std::uint32_t bits)
{
    return (bits & 0x7F800000u) != 0x7F800000u;
}

// ---- Tallies ----

/// tally + 1 when `flag`, as one predicated add: ptxas makes `tally += flag` an add and a conditional move,
/// one instruction more per element of the fused passes and the packing kernels.
__device__ inline void countIf(unsigned& tally, bool flag)
{
    asm("{\n\t.reg .pred p;\n\tsetp.ne.u32 p, %1, 0;\n\t@p add.u32 %0, %0, 1;\n\t}"
        : "+r"(tally)
        : "r"(static_cast<unsigned>(flag)));
}

// ---- 2-D blocks ----

/// Group of element i (flat index) under 2-D blocks of `height` rows × `width` columns over matrices of
/// rows × cols (the last two axes; blocks ragged at the matrix edges), in qs::groupLayout's order: row-major
/// over (matrix, block row, block column). With m = i / (rows · cols), r = (i mod rows · cols) / cols and
/// c = i mod cols: (m · blockRows + r / height) · blocksPerRow + c / width.
__host__ __device__ inline I blockGroup(I i, I rows, I cols, I height, I width, I blockRows, I blocksPerRow)
{
    const I matrix = rows * cols;
    const I m = i / matrix;
    const I rest = i - m * matrix;
    const I r = rest / cols;
    return (m * blockRows + r / height) * blocksPerRow + (rest - r * cols) / width;
}

// ---- Unsigned 32-bit division by an invariant divisor (Granlund-Montgomery, round-up multiplier) ----

/// n / d for every uint32 n as (mulhi(n, magic) + n) >> shift, exact for 1 <= d < 2^32.
struct FastDivider {
    std::uint32_t magic = 1;
    std::uint32_t shift = 0;

    static FastDivider make(std::uint32_t divisor)
    {
        FastDivider f;
        while ((std::uint64_t(1) << f.shift) < divisor)
            ++f.shift;
        const std::uint64_t numerator = (std::uint64_t(1) << 32) * ((std::uint64_t(1) << f.shift) - divisor);
        f.magic = static_cast<std::uint32_t>(numerator / divisor + 1);
        return f;
    }

#if defined(__CUDACC__)
    __device__ std::uint32_t divide(std::uint32_t n) const
    {
        return static_cast<std::uint32_t>((std::uint64_t(__umulhi(n, magic)) + n) >> shift);
    }
#endif
};

// ---- Per-row min/max (minmax.cu) ----

/// Device result of one row: ordered keys of min and max, bits of absmax, non-finite count. A row without a
/// finite value keeps minKey = 0xFFFFFFFF.
struct RowKeys {
    std::uint32_t minKey;
    std::uint32_t maxKey;
    std::uint32_t absBits;
    std::uint32_t padding;
    unsigned long long nonFinite;
};

/// Reduces each row of the [rows, cols] matrix at `x` into out[row] (out has `rows` entries).
void launchMinMaxRows(const float* x, I rows, I cols, RowKeys* out, cudaStream_t stream);

/// The public result of one row.
MinMaxResult minMaxResult(const RowKeys& keys);

/// Sets *key (device memory) to the largest (bits & 0x7FFFFFFF) + 2^23 over the finite values among the n at
/// `x`, or 0 without one: the float bits of the absmax over the finite values are max(*key, 2^23) - 2^23
/// (NVFP4's tensor absmax; a read of x with one integer max per element, where launchMinMaxRows keeps four
/// results).
void launchFiniteAbsKey(const float* x, I n, std::int32_t* key, cudaStream_t stream);

// ---- Histogram (histogram.cu) ----

/// A validated histogram request with the constants the kernel uses.
struct HistogramPlan {
    int bins = 1;
    bool absolute = false;
    bool degenerate = false; ///< hi == lo: every counted value goes to the last bin
    bool floatPath = false; ///< the float position with the double fallback applies (see cuda_kernels.h)
    double lo = 0;
    double hi = 0;
    double scale = 0; ///< bins / (hi - lo)
    float loFloat = 0;
    float hiFloat = 0;
    float scaleFloat = 0;
    float margin = 0; ///< bins · 2^-20
    float upperMargin = 0; ///< 1 - margin
};

/// Checks the arguments as qs::computeHistogram does (qs::Error) and derives the constants.
HistogramPlan histogramPlan(int bins, double lo, double hi, bool absolute);

/// Zeroes `counts` (plan.bins + 3 entries: the bins, then below, above and non-finite) and counts the n
/// values at `x`.
void launchHistogram(
    const float* x, I n, const HistogramPlan& plan, unsigned long long* counts, cudaStream_t stream);

} // namespace qs::cuda
