#pragma once

// The test that sends a chunk's error sums back to double (kernels.h, accumulation order), in one place for
// the CPU backends and the CUDA kernels, so that every backend decides alike.

#include "base/host_device.h"

namespace qs {

/// Whether float runs may have lost accuracy in a chunk whose sums (ErrorSums order: Σe², Σe, Σx², Σ|x|,
/// Σx·x̂, Σx̂²) they gave: a sum is not finite (a square overflowed, or x̂ was not finite), or a sum of
/// squares is below 2^-100 although its terms are not all zero (Σx² with Σ|x| > 0, Σe² with Σe > 0, Σx̂²
/// with Σx·x̂ != 0), where float squares may have underflowed.
QS_HOST_DEVICE inline bool floatRunsInaccurate(const double (&sums)[6])
{
    constexpr double kTiny = 0x1p-100;
    for (int s = 0; s < 6; ++s)
        if (!(sums[s] - sums[s] == 0))
            return true;
    return (sums[2] < kTiny && sums[3] > 0) || (sums[0] < kTiny && sums[1] > 0)
        || (sums[5] < kTiny && sums[4] != 0);
}

} // namespace qs
