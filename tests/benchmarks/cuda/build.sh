#!/usr/bin/env bash
# Builds the standalone GPU driver qs_cuda_bench with nvcc alone: the CUDA backend (core/kernels/cuda/*.cu)
# and the part of the core that the scalar reference needs (base, tensor, formats, quant, histogram,
# metrics) and the table bins. Usage: tests/benchmarks/cuda/build.sh [OUTPUT_DIR]   (default build-cuda-bench, next to core/)
# Environment: NVCC (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc), CUDA_ARCH (default 90), JOBS.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
out="${1:-$root/build-cuda-bench}"
nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
arch="${CUDA_ARCH:-90}"
jobs="${JOBS:-$(nproc)}"
mkdir -p "$out/obj"
rm -f "$out"/obj/*.o
flags=(-std=c++20 -O3 -DNDEBUG -DQS_HAVE_CUDA=1 -DQS_VERSION=\"bench\" -I"$root/core" -I"$root/tests"
    -gencode "arch=compute_$arch,code=[sm_$arch,compute_$arch]" -Xcompiler=-Wall,-Wextra,-ffp-contract=off)
# quant/compare_matrix.cpp runs the CPU kernels (Highway), which the driver does not build.
sources=("$root"/core/kernels/cuda/*.cu "$root"/tests/benchmarks/cuda/qs_cuda_bench.cu
    "$root"/core/base/*.cpp "$root"/core/tensor/*.cpp "$root"/core/formats/*.cpp
    $(ls "$root"/core/quant/*.cpp | grep -v '/compare_matrix\.cpp$')
    "$root"/core/calib/histogram.cpp "$root"/core/metrics/*.cpp "$root"/core/kernels/table_bins.cpp)
compile='f="$1"; shift; "$@" -c "$f" -o "$0/obj/$(echo "$f" | sed "s|/|_|g").o"'
printf '%s\n' "${sources[@]}" | xargs -P "$jobs" -I{} sh -c "$compile" "$out" {} "$nvcc" "${flags[@]}"
"$nvcc" "${flags[@]}" "$out"/obj/*.o -o "$out/qs_cuda_bench" -lpthread
echo "$out/qs_cuda_bench"
