#pragma once

#include "quant/quantizer.h"
#include "quant/scheme.h"

#include <cstdint>

namespace qs {

/// The clipping range of one group that makes quantize() derive exactly `scale` (and, for affine schemes,
/// `zeroPoint`) under `scheme`, for files that store scales but not the ranges behind them (AIMET encodings,
/// TensorRT caches). Integer element formats only (scale format F32).
///   signed symmetric (narrow or full): [-a, a] with a ≈ scale · elemMax (qmax, or qmax + 0.5 for full)
///   unsigned symmetric (one-sided):    [0, a]  with a ≈ scale · (2^b - 1)
///   affine:                            [lo, lo + scale · (2^b - 1)] with lo ≈ (qmin - zeroPoint) · scale
/// The ends are rounded to float32 and then moved by up to 8 float32 steps each (affine: both ends) until
/// quantize() reproduces the scale and zero point bit for bit. Every scale and zero point quantize() derives
/// from some range is found again this way (tst_export checks 14000); other floats may have no range at all
/// (int4: amax / 7 skips some floats), and then the rounded first guess is returned.
/// Throws qs::Error for a non-integer format, a block format, or a scale that is not finite and positive.
GroupRange rangeFromScale(const Scheme& scheme, float scale, std::int32_t zeroPoint = 0);

} // namespace qs
