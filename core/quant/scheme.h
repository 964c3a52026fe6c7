#pragma once

#include "formats/number_format.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <string>

namespace qs {

/// Which elements share one scale (and zero point).
/// Axis conventions (DESIGN.md §4): per-channel default axis 0 (PyTorch Linear.weight is [out, in]);
/// groups run along the last, contiguous axis unless `axis` says otherwise; the last group of a row may be
/// shorter (ragged); 2-D blocks tile the last two axes (rows × cols), ragged at the edges.
struct Granularity {
    enum class Kind { PerTensor, PerChannel, PerGroup, Block2D };
    Kind kind = Kind::PerTensor;
    int axis = 0;                ///< PerChannel: channel axis; PerGroup: axis the groups run along (-1 = last)
    std::int64_t groupSize = 0;  ///< PerGroup
    std::int64_t blockRows = 0;  ///< Block2D
    std::int64_t blockCols = 0;  ///< Block2D
    bool operator==(const Granularity&) const = default;
};

/// "tensor", "channel", "channel:1", "group:128", "group:32:0" (size, axis), "block:128x128".
/// Throws qs::Error on a malformed spelling or a non-positive size.
Granularity parseGranularity(const std::string& text);
/// The spelling parseGranularity accepts (round-trips).
std::string granularityName(const Granularity& granularity);

/// How the range of a group maps onto the integer grid (integers only; minifloats and lookup formats are
/// always symmetric: scale = amax / formatMaxFinite).
enum class RangeMode {
    SymmetricNarrow, ///< q in [-(2^(b-1)-1), 2^(b-1)-1], scale = amax / (2^(b-1)-1)  (TensorRT, ModelOpt; default)
    SymmetricFull,   ///< q in [-2^(b-1), 2^(b-1)-1], scale = amax / ((qmax - qmin)/2) = amax/127.5 for int8 (PyTorch)
    Affine,          ///< scale = (max - min)/(qmax - qmin), zp = round(qmin - min/scale) clamped; min/max widened to 0
};

/// Storage format of the scales; the scale is rounded to it before use, so errors include that rounding.
enum class ScaleFormat {
    F32,
    F16,  ///< IEEE half, RNE
    BF16, ///< RNE
    E8M0, ///< power of two, exponent chosen by `E8M0Rounding` (OCP MX)
    E4M3, ///< FP8 E4M3, RNE, saturating (NVFP4 block scales)
};

/// How an E8M0 scale exponent is chosen from amax / elemMax (torchao ScaleCalculationMode, formats.md §2.2).
enum class E8M0Rounding {
    Floor, ///< OCP MX §6.3: floor(log2(amax)) - emax_elem; elements clamp (default)
    Ceil,  ///< floor + 1 when amax's mantissa is non-zero
    Even,  ///< amax rounded to the element mantissa width first
    RCeil, ///< ceil_pow2(amax / elemMax) (NVIDIA cuBLAS recipe); never overflows
};

/// How x/scale is computed: both references exist and differ on ties (formats.md §6).
enum class ScaleArithmetic {
    MultiplyReciprocal, ///< q = round(x * (1/scale)) with the reciprocal in float32 (PyTorch, TensorRT, bitsandbytes)
    Divide,             ///< q = round(x / scale) (ONNX QuantizeLinear, numpy ORT)
};

/// Block formats whose exact algorithms are fixed by a reference (formats.md §2–4). When set, `format`,
/// `granularity`, `rangeMode` and `scaleFormat` are implied by the block format and ignored.
enum class BlockFormat {
    None,
    MXFP8_E4M3, ///< OCP MX: block 32, E8M0 shared scale, E4M3 elements
    MXFP8_E5M2,
    MXFP6_E3M2,
    MXFP6_E2M3,
    MXFP4,      ///< E2M1 elements
    MXINT8,     ///< int8 elements, implicit 2^-6
    NVFP4,      ///< block 16, E4M3 block scale, fp32 tensor scale 448*6/amax (vLLM/TensorRT-LLM reference)
    BnbNF4,     ///< bitsandbytes blockwise NF4 (block 64 default), absmax fp32
    BnbFP4,     ///< bitsandbytes blockwise FP4
    GgmlQ8_0,   ///< ggml quantize_row_q8_0_ref
    GgmlQ4_0,
    GgmlQ4_1,
    GgmlQ5_0,
    GgmlQ5_1,
};

/// A complete quantization recipe. Values, comparable; the default is per-tensor symmetric narrow int8.
struct Scheme {
    NumberFormat format = integerFormat(8, true);
    Granularity granularity;
    RangeMode rangeMode = RangeMode::SymmetricNarrow;
    ScaleFormat scaleFormat = ScaleFormat::F32;
    E8M0Rounding e8m0Rounding = E8M0Rounding::Floor;
    ScaleArithmetic arithmetic = ScaleArithmetic::MultiplyReciprocal;
    Rounding elementRounding = Rounding::NearestEven; ///< integers and block elements (MX: ties-away = microxcaling)
    BlockFormat blockFormat = BlockFormat::None;
    std::int64_t blockSize = 0;        ///< block formats: 0 = the reference default (32, 16, 64, 32)
    bool doubleQuantization = false;   ///< bitsandbytes: quantize the absmax values (8-bit dynamic, block 256)

    bool operator==(const Scheme&) const = default;
};

/// Short human name: "int8 sym channel:0", "fp8_e4m3 group:128 (scale bf16)", "mxfp4", "nf4 b64 dq".
std::string schemeName(const Scheme& scheme);

/// Parses a block-format name ("mxfp8_e4m3", "mxfp4", "nvfp4", "bnb_nf4", "q4_0" ...); BlockFormat::None if
/// the name is not a block format.
BlockFormat blockFormatByName(const std::string& name);
std::string blockFormatName(BlockFormat format);

/// Effective bits per stored value including every scale and zero point, for a tensor of `shape`
/// (ragged groups counted as they are stored). INT4 g128 + fp16 scale = 4.125; NF4 b64 + double quant ≈ 4.127.
double effectiveBitsPerValue(const Scheme& scheme, const Shape& shape);

} // namespace qs
