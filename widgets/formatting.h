#pragma once

#include "tensor/tensor.h"

#include <QString>
#include <cstdint>

namespace qs::gui {

/// "8.0 KiB", "1.5 GiB" (IEC units, the user's locale).
QString formatBytes(std::uint64_t bytes);

/// "[4096, 11008]" ("[]" for a scalar).
QString formatShape(const qs::Shape& shape);

/// A count with the locale's group separators.
QString formatCount(std::int64_t count);

/// "1 tensor", "21 tensors".
QString tensorCountText(std::int64_t count);

/// A value with 4 significant digits, for titles and labels where space is short.
QString formatValueShort(double value);

/// A measured value with 6 significant digits; "NaN", "+Inf", "−Inf" spelled out.
QString formatValue(double value);

/// A share in [0, 1] as a percentage with enough digits to see tiny tails ("0.2700 %", "< 0.0001 %").
QString formatShare(double share);

/// The dtype shown to the user: the safetensors spelling for types we convert, the file's own spelling
/// for types we cannot.
QString dtypeLabel(const qs::TensorInfo& info);

/// Why a tensor cannot be loaded (empty when it can).
QString unsupportedReason(const qs::TensorInfo& info);

} // namespace qs::gui
