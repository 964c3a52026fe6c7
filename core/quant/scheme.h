#pragma once

#include "formats/number_format.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qs {

/// Which elements share one scale (and zero point).
/// Axis conventions (DESIGN.md §4): per-channel default axis 0 (PyTorch Linear.weight is [out, in]);
/// groups run along the last, contiguous axis unless `axis` says otherwise; the last group of a row may be
/// shorter (ragged); 2-D blocks tile the last two axes (rows × cols), ragged at the edges, and every index of
/// the leading axes has its own blocks. Negative axes count from the end (-1 = last).
struct Granularity {
    enum class Kind { PerTensor, PerChannel, PerGroup, Block2D };
    Kind kind = Kind::PerTensor;
    int axis = 0; ///< PerChannel: channel axis; PerGroup: axis the groups run along (-1 = last)
    std::int64_t groupSize = 0; ///< PerGroup
    std::int64_t blockRows = 0; ///< Block2D
    std::int64_t blockCols = 0; ///< Block2D
    bool operator==(const Granularity&) const = default;

    static Granularity perTensor() { return {}; }
    static Granularity perChannel(int axis = 0) { return {Kind::PerChannel, axis, 0, 0, 0}; }
    /// Groups of `size` consecutive elements along `axis` (default: the last axis).
    static Granularity perGroup(std::int64_t size, int axis = -1)
    {
        return {Kind::PerGroup, axis, size, 0, 0};
    }
    static Granularity block2D(std::int64_t rows, std::int64_t cols)
    {
        return {Kind::Block2D, 0, 0, rows, cols};
    }
};

/// "tensor", "channel" (axis 0), "channel:1", "channel:-1", "group:128" (last axis), "group:32:0"
/// (size, axis), "block:128x128" (rows x cols). Case-insensitive. Throws qs::Error on a malformed spelling
/// or a size < 1.
Granularity parseGranularity(const std::string& text);
/// The spelling parseGranularity accepts (round-trips).
std::string granularityName(const Granularity& granularity);

/// How the range of a group maps onto the integer grid (integer formats only; minifloats and lookup tables
/// are always symmetric: scale = amax / formatMaxFinite, no zero point; ternary and binary take BitNet's
/// statistics of the weights instead of a range, see quantize() in quant/quantizer.h).
/// Signed b-bit integers (qmax = 2^(b-1)-1):
///   SymmetricNarrow  q in [-qmax, qmax],   scale = amax / qmax                 (TensorRT, ModelOpt; default)
///   SymmetricFull    q in [-qmax-1, qmax], scale = max(amax / (qmax + 0.5), eps)   (PyTorch: amax / 127.5)
///   Affine           q in [-qmax-1, qmax], min' = min(min, 0), max' = max(max, 0),
///                    scale = max((max' - min') / (2^b - 1), eps), zp = clamp(qmin - round(min' / scale))
/// Unsigned b-bit integers (q in [0, 2^b-1]): both symmetric modes are one-sided, for non-negative (ReLU)
/// data: scale = max(max, 0) / (2^b-1), zero point 0, negative values clip to 0 (SymmetricFull adds the
/// eps floor); Affine as above with qmin = 0.
/// eps = finfo(float32).eps = 2^-23 (PyTorch). A symmetric-narrow group whose amax is 0 gets scale 1.
/// amax = max(|min|, |max|) of the group's range. Scales are computed in float32, as PyTorch does.
enum class RangeMode {
    SymmetricNarrow,
    SymmetricFull,
    Affine,
};

/// Storage format of the scales; the scale is rounded to it (RNE) before use, so errors include that
/// rounding. A scale that underflows is raised to the format's smallest usable positive value (f32 and bf16
/// 2^-126, f16 2^-24, e4m3 2^-9, e8m0 2^-127), one that overflows is lowered to its largest finite value:
/// the scale is always finite and non-zero, and so is its float32 reciprocal.
enum class ScaleFormat {
    F32,
    F16, ///< IEEE half, RNE
    BF16, ///< RNE
    E8M0, ///< power of two 2^e, e in [-127, 127], exponent chosen by `E8M0Rounding` (OCP MX)
    E4M3, ///< FP8 E4M3, RNE, saturating (NVFP4 block scales)
};

/// How an E8M0 scale exponent is chosen (torchao ScaleCalculationMode, formats.md §2.2). `span` is the
/// value the grid must cover (amax; affine: max' - min') and `elemMax` the grid's extent in element units
/// (minifloat and lookup: formatMaxFinite; integers: qmax, qmax + 0.5 or 2^b - 1 as in RangeMode);
/// emax = floor(log2 elemMax).
enum class E8M0Rounding {
    Floor, ///< e = floor(log2 span) - emax  (OCP MX §6.3; elements above the grid clamp; default)
    Ceil, ///< e = ceil(log2 span) - emax
    Even, ///< span rounded (half up) to the element's mantissa width first, then Floor (minifloats: M bits,
          ///< integers: b-2 bits signed / b-1 unsigned, lookup and ternary: 0 bits)
    RCeil, ///< e = ceil(log2(span / elemMax)) (NVIDIA cuBLAS recipe); never clips
};

/// How x/scale is computed in float32: the references differ on ties (formats.md §6).
enum class ScaleArithmetic {
    MultiplyReciprocal, ///< q = round(x * (1.0f/scale)) + zp (PyTorch quantize_val, TensorRT, bitsandbytes)
    Divide, ///< q = round(x / scale) + zp (ONNX QuantizeLinear)
};

/// Block formats whose exact algorithms are fixed by a reference (formats.md §2–4), implemented in
/// quant/block_formats.h. When set, `format`, `granularity`, `rangeMode`, `scaleFormat` and `arithmetic` are
/// implied by the block format and ignored.
enum class BlockFormat {
    None,
    MXFP8_E4M3, ///< OCP MX: block 32, E8M0 shared scale, E4M3 elements
    MXFP8_E5M2,
    MXFP6_E3M2,
    MXFP6_E2M3,
    MXFP4, ///< E2M1 elements
    MXINT8, ///< int8 elements, implicit 2^-6
    NVFP4, ///< block 16, E4M3 block scale, fp32 tensor scale 448*6/amax (vLLM/TensorRT-LLM reference)
    BnbNF4, ///< bitsandbytes blockwise NF4 (block 64 default), absmax fp32
    BnbFP4, ///< bitsandbytes blockwise FP4
    GgmlQ8_0, ///< ggml quantize_row_q8_0_ref
    GgmlQ4_0,
    GgmlQ4_1,
    GgmlQ5_0,
    GgmlQ5_1,
    GgmlMXFP4, ///< ggml quantize_row_mxfp4_ref: E8M0 e, elements searched in kvalues_mxfp4 (ties to the
               ///< smaller magnitude), ggml's byte layout; not bit-identical to OCP MXFP4 above
};

/// A complete quantization recipe. Values, comparable; the default is per-tensor symmetric narrow int8.
struct Scheme {
    NumberFormat format = integerFormat(8, true);
    Granularity granularity;
    RangeMode rangeMode = RangeMode::SymmetricNarrow;
    ScaleFormat scaleFormat = ScaleFormat::F32;
    E8M0Rounding e8m0Rounding = E8M0Rounding::Floor;
    ScaleArithmetic arithmetic = ScaleArithmetic::MultiplyReciprocal;
    /// Integers and block elements (MX: ties-away = microxcaling). Minifloat and ternary elements round as
    /// their format's `minifloat.rounding` says; lookup tables break ties as their table says.
    Rounding elementRounding = Rounding::NearestEven;
    BlockFormat blockFormat = BlockFormat::None;
    std::int64_t blockSize = 0; ///< block formats: 0 = the reference default (32, 16, 64, 32)
    bool doubleQuantization = false; ///< bitsandbytes: quantize the absmax values (8-bit dynamic, block 256)

    bool operator==(const Scheme&) const = default;
};

/// Short human name: "int8 sym channel:0", "uint8 affine tensor", "fp8_e4m3 group:128 (scale bf16)",
/// "int8 symfull tensor (divide)", "mxfp4", "bnb_nf4 b128 dq".
std::string schemeName(const Scheme& scheme);

/// Scheme spellings used by the CLI and settings files: "sym", "symfull", "affine"; "f32", "f16", "bf16",
/// "e8m0", "e4m3"; "floor", "ceil", "even", "rceil"; "reciprocal", "divide". Parsers are case-insensitive and
/// throw qs::Error listing the valid names.
std::string rangeModeName(RangeMode mode);
RangeMode rangeModeByName(const std::string& name);
std::string scaleFormatName(ScaleFormat format);
ScaleFormat scaleFormatByName(const std::string& name);
std::string e8m0RoundingName(E8M0Rounding rounding);
E8M0Rounding e8m0RoundingByName(const std::string& name);
std::string scaleArithmeticName(ScaleArithmetic arithmetic);
ScaleArithmetic scaleArithmeticByName(const std::string& name);

/// Storage bits of one scale value: 32, 16, 16, 8, 8.
int scaleFormatBits(ScaleFormat format);

/// Parses a block-format name ("mxfp8_e4m3", "mxfp4", "nvfp4", "bnb_nf4", "bnb_fp4_block", "q4_0", also
/// "ggml_q4_0", "mxfp4_ggml", also "ggml_mxfp4"; case-insensitive); BlockFormat::None if the name is not a
/// block format. "mxfp4" is OCP MXFP4; ggml's own MXFP4 is "mxfp4_ggml". bitsandbytes'
/// blockwise FP4 is "bnb_fp4_block" because "bnb_fp4" names its element table (formatByName), which a scheme
/// can use at any granularity.
BlockFormat blockFormatByName(const std::string& name);
std::string blockFormatName(BlockFormat format);
/// Every block format (None excluded), in the order the CLI lists them.
std::vector<BlockFormat> allBlockFormats();

/// What a block format stores, for listings (`quantscope-cli formats`, the GUI).
struct BlockFormatInfo {
    std::string element; ///< element grid: "fp4_e2m1", "int8 q/64", "nf4", "int4 (q-8)" ...
    int elementBits = 0;
    double elementMax = 0; ///< largest element magnitude in element units (MXFP4 6, Q4_0 8, NF4 1)
    std::string scale; ///< "e8m0 per 32", "e4m3 per 16 + fp32 per tensor", "fp16 d + fp16 m per 32" ...
    std::string reference; ///< the implementation it matches bit for bit
};
BlockFormatInfo blockFormatInfo(BlockFormat format);

/// Effective bits per stored value including every scale and zero point, for a tensor of `shape`:
///   formatBits + (groups · scaleFormatBits + [affine] groups · formatBits) / elements
/// with groups counted as stored (a ragged group costs a full scale). Affine zero points are stored in the
/// element format's width (int4 affine: 4 bits per group). Block formats: blockFormatBitsPerValue plus
/// 32/elements for the fp32 values stored once per tensor (NVFP4's global scale, bitsandbytes' double-
/// quantization offset). INT4 g128 + fp16 scale = 4.125; int8 per-channel fp32 on [4096, 4096] =
/// 8 + 32/4096. Ternary: 2 bits + the scale (transformers' BitNet packing stores ternary + 1 in 2 bits, 4
/// values per uint8, plus the weight scale); binary: 1 bit + the scale β (α is only needed to encode).
/// 0 for a shape with no elements. Throws qs::Error when the granularity does not fit the shape.
double effectiveBitsPerValue(const Scheme& scheme, const Shape& shape);

} // namespace qs
