#pragma once

// QS_HOST_DEVICE marks the few core functions that the CUDA kernels share with the CPU code (so that both
// compute alike from one definition); it is empty outside nvcc.

#if defined(__CUDACC__)
#define QS_HOST_DEVICE __host__ __device__
#else
#define QS_HOST_DEVICE
#endif
