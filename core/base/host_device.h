#pragma once

// QS_HOST_DEVICE marks the few core functions that the CUDA kernels share with the CPU code (so that both
// compute alike from one definition); it is empty outside nvcc.

#if defined(__CUDACC__)
#define QS_HOST_DEVICE __host__ __device__
#else
#define QS_HOST_DEVICE
#endif

namespace qs {

// Float operations rounded one at a time in such shared functions: on the device nvcc would otherwise
// contract a product into a following sum (one rounding instead of two); the host builds keep contraction
// off.

QS_HOST_DEVICE inline float roundedMul(float a, float b)
{
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

QS_HOST_DEVICE inline float roundedAdd(float a, float b)
{
#if defined(__CUDA_ARCH__)
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

QS_HOST_DEVICE inline float roundedSub(float a, float b)
{
#if defined(__CUDA_ARCH__)
    return __fsub_rn(a, b);
#else
    return a - b;
#endif
}

QS_HOST_DEVICE inline float roundedDiv(float a, float b)
{
#if defined(__CUDA_ARCH__)
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
}

} // namespace qs
