#pragma once

// Reference-exact block formats (internal API of the quantizer; no Qt).
//
// Each block format reproduces one reference implementation bit for bit: the codes, the per-block scales and,
// through packBlockFormat, the bytes the reference stores. The algorithms and their sources are summarised
// below; shared/reference/formats.md has the long version (sections in brackets).
//
// Common conventions
//   * Blocks run along the last (contiguous) axis, row by row: a tensor of shape [..., n] is
//     elementCount / n rows of n values, and a scalar is one row of one value. Group g (the index into
//     QuantizedTensor::scales) is the g-th block in row-major order: row r, block b is group
//     r * ceil(n / blockSize) + b.
//   * ggml rows must hold whole blocks (n % 32 == 0), as ggml asserts; quantizeBlockFormat throws qs::Error
//     otherwise. MX and NVFP4 pad a ragged last block of a row with zeros (the padding is not part of
//     `codes`, packBlockFormat stores it as code 0); bitsandbytes gives the ragged tail block its own absmax
//     as the reference does for the tail of its flattened tensor. Note that bitsandbytes itself flattens
//     the whole tensor before blocking; both agree whenever n is a multiple of the block size.
//   * All arithmetic is float32, operation by operation, in the order the reference writes it (no FMA
//     contraction, no double intermediates) unless said otherwise.
//   * QuantizedTensor::codes holds one code per element (the element format's code bits, or the signed
//     integer for MXINT8 and Q8_0, or the stored unsigned q for the other ggml types, ggml MXFP4 included),
//     QuantizedTensor::scales the effective decode scale of each block as float, and
//     dequantizeBlockFormat reproduces the reference's dequantization.
//   * nonFiniteCount counts NaN/±Inf inputs; clippedCount counts finite elements whose magnitude after
//     scaling exceeded the largest element value (they were clamped, or for Q5_1 wrapped, by the reference).
//
// MX: OCP Microscaling v1.0 (MXFP8_E4M3, MXFP8_E5M2, MXFP6_E3M2, MXFP6_E2M3, MXFP4, MXINT8) [2.1-2.3]
//   Sources: OCP MX v1.0 §6.3; microsoft/microxcaling mx/mx_ops.py::_quantize_mx, mx/cpp/shared_exp.cuh;
//   pytorch/ao torchao/prototype/mx_formats/mx_tensor.py::to_mx (ScaleCalculationMode).
//   Block 32 (default), one E8M0 scale per block. amax = max |x| of the block.
//   shared exponent e by scheme.e8m0Rounding (emax = exponent of the element's largest normal: E4M3 8,
//   E5M2 15, E3M2 4, E2M3 2, E2M1 2, INT8 0; mbits = element mantissa bits, 6 for INT8's q/64 grid):
//     Floor : e = E(amax) - 127 - emax, E(.) = the 8-bit exponent field of the float32 (floor(log2 amax)
//             for normal amax; subnormal and zero amax give E = 0)
//     Ceil  : as Floor, plus 1 when amax's 23 mantissa bits are not all zero
//     Even  : as Floor on amax' = bits(amax) + 2^(22 - mbits) with the mantissa cleared (round amax to
//             the element's mantissa width first)
//     RCeil : d = float32(amax * float32(1 / elemMax)); e = E(d) - 127, plus 1 when d's mantissa is not
//             zero (for a subnormal d: when the mantissa exceeds 0x400000) — the smallest 2^e >= d
//   then e is clamped to [-127, 127] (an all-zero block gets X = 2^-127). A NaN or ±Inf amax (Even: after
//   its rounding) gives the NaN scale 0xFF: scale NaN and every value of the block decodes to NaN.
//   X = 2^e, P_i = element(V_i / X) with V_i / X clamped to ±elemMax first (Floor can exceed it: up to
//   ~1.99 * 2^emax; RCeil never does). Element rounding is scheme.elementRounding: NearestEven (torchao,
//   ml_dtypes, CUDA) or NearestAway (microxcaling's default "nearest"). MXINT8: q = clamp(round(64 V/X),
//   -127, 127), value q / 64 (codes hold the signed q). Dequant: float(decode(P_i) * X).
//   scales[g] = X as float (2^-127 is a float subnormal), NaN for a NaN block.
//   Checked against torchao's to_mx (re-typed from mx_tensor.py, element casts by torch and ml_dtypes) on
//   torch 2.11 for the four scale modes and five float element types: every E8M0 byte and element code.
//
// NVFP4 (NVIDIA two-level FP4) [2.4]
//   Source: vllm-project/vllm tests/kernels/quantization/test_nvfp4_quant.py::ref_nvfp4_quant and
//   nvfp4_utils.py (same recipe as csrc/quantization/fp4/nvfp4_quant_kernels.cu and TensorRT-LLM, which use
//   approximate reciprocals and may differ by one ulp). Block 16, E2M1 elements, E4M3 block scale, one fp32
//   tensor scale. All float32:
//     global   = (1.0f / amax_tensor) * 2688.0f (448 * 6; amax over the finite values; amax 0 -> global = 1,
//                where the reference would divide by zero). The reference writes 448 * 6 / amax with a Python
//                float on the left, which torch evaluates as amax.reciprocal() * 2688: two roundings, and a
//                result one ulp away from the true quotient for about a quarter of all amax values.
//     SF       = global * (vecMax * float32(1/6))
//     sf8      = E4M3(SF), round to nearest even, saturating (SF <= 448 up to rounding anyway)
//     inv      = float(sf8) * (1.0f / global)
//     outScale = inv == 0 ? 0 : 1.0f / inv
//     q_i      = E2M1(clamp(x_i * outScale, -6, 6)), round to nearest even
//     dequant  = float(e2m1(q_i)) * (float(sf8) / global)
//   In a block whose sf8 is 0, outScale is 0 and a negative input stores the -0 code 0x8, as the CUDA
//   conversion does (the Python reference returns +0 there because torch.sign(-0.0) is 0); both decode to 0.
//   Checked bit for bit against ref_nvfp4_quant on torch 2.11 (codes, sf8, global scale, dequantized values).
//   scales[g] = float(sf8), tensorScale = 1 / global (double; float(1 / tensorScale) gives global back
//   exactly). A block holding a NaN or ±Inf gets sf8 = 0x7F (NaN) and decodes to NaN.
//
// bitsandbytes 4-bit blockwise (BnbNF4, BnbFP4) [3]
//   Sources: bitsandbytes csrc/kernels.cu (kQuantizeBlockwise, dQuantizeNF4, dQuantizeFP4, dQuantize<0>),
//   bitsandbytes/functional.py (quantize_4bit, get_4bit_type, create_dynamic_map),
//   bitsandbytes/backends/default/ops.py (torch reference path).
//   Block 64 (default; 32..4096, powers of two). absmax = max |x| (NaN ignored, as CUDA fmaxf);
//   s_i = clamp(x_i * (1.0f / absmax), -1, 1); the code comes from the kernel's decision tree with its
//   float32 thresholds and strict '>' (a value exactly on a threshold takes the lower code):
//     NF4 (code = index of the 16-entry table, -1 ... 1): thresholds as in dQuantizeNF4;
//     FP4 (sign bit 3 set when s < 0; the 3 low bits from the magnitude tree on |s|, thresholds
//     0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333; value table
//     {0, 0.0625, 8, 12, 4, 6, 2, 3} / 12).
//   An absmax below 1e-38 (an all-zero block) is raised to 1e-38 for the reciprocal as the torch path does,
//   so a zero block stores the code of 0.0 (NF4 7, FP4 0); the CUDA kernel computes 0 * Inf = NaN there and
//   stores code 0. The stored absmax is the true one.
//   The torch path divides the ragged tail by absmax instead of multiplying by the reciprocal, and buckets
//   with float32 table midpoints instead of the kernel's literals; both can move a value lying within an
//   ulp of a threshold by one code, and its FP4 bucketing gives the +0 or -0 code to |s| <= 0.0026 regardless
//   of the sign of s (its sorted table holds both zeros). Dequant: float(table[q]) * absmax. Checked against
//   the torch path on torch 2.11: NF4 identical; FP4 identical up to that sign of zero codes.
//   Double quantization (scheme.doubleQuantization, quantize_4bit(compress_statistics=True)):
//     offset = mean(absmax) as torch computes it on the CPU: the float32 cascade sum of
//       aten/src/ATen/native/cpu/SumKernel.cpp (vectorized_inner_sum over 8-lane float vectors, multi_row_sum
//       with 4 accumulator levels and 4-way ILP, then the scalar tail and the lanes in order), then one
//       float32 division by the count. Torch splits sums of >= 32768 values across threads, so larger
//       inputs match torch only when it runs with one thread.
//     v_g = absmax_g - offset, quantized blockwise (256) with the signed dynamic map: per chunk
//       absmax2 = max |v|, q = dQuantize<0>(map, v * (1.0f / absmax2)) (binary search over the sorted map,
//       then the nearer neighbour by float32 midpoints, ties to the pivot). A chunk of zeros stores code 0
//       as the CUDA and CPU kernels do.
//     The map is create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8) in float32: for
//       i = 0..6, b = torch.linspace(0.1, 1, n = 2^i + 1) (float32: step = (1 - 0.1f) / (n - 1);
//       b_k = fma(step, k, 0.1f) for k < n/2, else fma(-step, n - 1 - k, 1), because torch's AVX2/AVX512
//       kernel is compiled with FMA contraction), m_k = (b_k + b_{k+1}) / 2, values ±(float32(10^(i-6)) *
//       m_k); plus 0 and 1; sorted (256 values, map[127] = 0, map[255] = 1).
//     absmax_g is reconstructed as float32(map[q_g] * absmax2) + offset; scales[g] holds that value and
//     dequantization uses it. The double-quantization state is kept in QuantizedTensor fields that the
//     scheme does not otherwise use: zeroPoints[g] = q_g (0..255), groupOffsets = the absmax2 of every
//     256-group chunk followed by the offset (ceil(groups / 256) + 1 floats).
//     Checked bit for bit against torch 2.11 on its AVX2 and AVX512 kernels: the map against
//     create_dynamic_map itself, the mean for 272 vector lengths up to 32767, offset, absmax2 and codes
//     against the torch path of quantize_4bit(compress_statistics=True).
//
// ggml legacy quants (GgmlQ8_0, GgmlQ4_0, GgmlQ4_1, GgmlQ5_0, GgmlQ5_1) [4]
//   Source: ggml-org/ggml src/ggml-quants.c quantize_row_*_ref / dequantize_row_*, src/ggml-common.h.
//   Block 32. d is computed in float32, the elements are quantized with that float32 d, and d is then
//   stored as fp16 (RNE); dequantization uses the stored fp16 d (and m):
//     Q8_0: amax = max |x| (MAX macro); d = amax / 127; id = d ? 1/d : 0; q = roundf(x * id) (ties away)
//     Q4_0: max = the signed value of largest |x| (first one wins); d = max / -8; id = d ? 1/d : 0;
//           q = MIN(15, (int8_t)(x * id + 8.5f)) (truncation: ties round up; the extreme maps to q = 0,
//           the other side clamps at 15); dequant (q - 8) * d
//     Q4_1: min, max; d = (max - min) / 15; id = d ? 1/d : 0; q = MIN(15, (int8_t)((x - min) * id + 0.5f));
//           m = fp16(min); dequant q * d + m
//     Q5_0: as Q4_0 with d = max / -16, q = MIN(31, (int8_t)(x * id + 16.5f)); dequant (q - 16) * d
//     Q5_1: d = (max - min) / 31; q = (uint8_t)((x - min) * id + 0.5f) (no clamp: a q of 32 wraps to 0
//           in the stored 5 bits, as in ggml); dequant q * d + m
//   Float-to-int8 conversions follow x86-64 (cvttss2si, low byte kept), so NaN gives 0 as it does there.
//   codes: Q8_0 the signed q (-127..127); the others the stored unsigned q. scales[g] = float(fp16 d);
//   Q4_1/Q5_1: groupOffsets[g] = float(fp16 m). scheme.elementRounding does not apply.
//   Checked byte for byte (packed blocks and dequantized values) against ggml's own quantize_row_*_ref and
//   dequantize_row_* compiled from ggml @d99724f, on 2000 random, tie-heavy and NaN/Inf rows.
//
// ggml MXFP4 (GgmlMXFP4, "mxfp4_ggml") [2.2, 4]
//   Source: ggml-org/ggml src/ggml-quants.c quantize_row_mxfp4_ref, best_index_mxfp4, dequantize_row_mxfp4;
//   src/ggml-impl.h ggml_e8m0_to_fp32_half; src/ggml-common.h kvalues_mxfp4 (= kvalues_fp4). Block 32:
//     amax = max |x| (`if (amax < fabsf(v))`, so NaN is skipped)
//     e    = amax > 0 ? (uint8_t)(floorf(log2f(amax)) - 2 + 127) : 0   (glibc log2f, as ggml calls it: for an
//            amax just below a large power of two it rounds up to the power, and e follows; no clamp: the
//            float-to-uint8 conversion is modelled as x86-64 does it (cvttss2si, low byte), so amax < 2^-125
//            wraps and an Inf amax gives e = 0)
//     d    = 2^(e-128) (GGML_E8M0_TO_FP32_HALF: kvalues are twice the E2M1 values)
//     q    = argmin_i |kvalues_mxfp4[i] * d - x| over i = 0..15 with strict '<', all float32, kvalues =
//            {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12}: ties go to the lower index, i.e. the
//            smaller magnitude (0.75 -> 0.5, -0.75 -> -0.5), small negatives and -0 give code 0 (+0), larger
//            magnitudes saturate at ±12 d, NaN and ±Inf give code 0
//     dequant: float(kvalues[q]) * d (exact; code 8 gives +0 like code 0).
//   Against OCP MXFP4 (above): the same scale 2^(floor(log2 amax) - 2) for normal amax (up to log2f's
//   rounding), but no NaN scale, a different tie rule and a different byte layout. codes = q, scales[g] = d;
//   clippedCount counts finite |x| > 12 d. scheme.elementRounding and e8m0Rounding do not apply.
//   Checked against the ggml @d99724f fixture (tests/fixtures/reference/ggml/mxfp4_*): every block byte and
//   every dequantized bit.
//
// packBlockFormat byte layouts (little-endian throughout)
//   ggml: the ggml block structs back to back, rows in order:
//     Q8_0 {fp16 d; int8 qs[32]} (34 B), Q4_0 {fp16 d; u8 qs[16]} (18 B), Q4_1 {fp16 d, m; u8 qs[16]}
//     (20 B), Q5_0 {fp16 d; u8 qh[4]; u8 qs[16]} (22 B), Q5_1 {fp16 d, m; u8 qh[4]; u8 qs[16]} (24 B);
//     qs byte j = element j (low nibble) | element j+16 (high nibble); qh bit j = bit 4 of element j.
//     MXFP4 {u8 e; u8 qs[16]} (17 B), e as computed above and qs as for Q4_0.
//   MX: per block, in group order: one E8M0 byte (e + 127, 0xFF = NaN) then the elements: MXFP4 two per
//     byte, element 2i in the low nibble (OCP, torchao pack_uint4), ceil(B/2) bytes; FP8 one byte each;
//     FP6 one byte each (code in the low 6 bits, torchao's unpacked layout); MXINT8 one two's-complement
//     byte each. Padding of a ragged block is code 0.
//   NVFP4: all blocks' elements (two per byte, element 2i low, ceil(B/2) bytes per block: 8 for B = 16, i.e.
//     vLLM's [m, n/2] uint8 tensor when n % 16 == 0), then one E4M3 byte per block (linear, not swizzled),
//     then the fp32 global scale.
//   bitsandbytes: the codes of the whole tensor in row-major order two per byte, (q[2j] << 4) | q[2j+1]
//     (an odd count is padded with the code of 0.0), then fp32 absmax per block; with double quantization
//     instead: the packed codes, one uint8 absmax code per block, fp32 absmax2 per 256 blocks, fp32 offset.

#include "base/error.h"
#include "quant/quantizer.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

namespace qs {

/// The reference's default block size: 32 for MX and ggml, 16 for NVFP4, 64 for bitsandbytes; 0 for None.
inline std::int64_t defaultBlockSize(BlockFormat format);

/// scheme.blockSize, or the default when it is 0. Throws qs::Error when the block format is None or the
/// size is not one the reference accepts: ggml exactly 32; bitsandbytes a power of two in 32..4096; MX
/// and NVFP4 any size >= 1.
inline std::int64_t blockFormatBlockSize(const Scheme& scheme);

/// Storage bits per value including every scale: element bits + scale bits / blockSize. MXFP4 (OCP and
/// ggml) 4.25, MXFP8 8.25, MXFP6 6.25, MXINT8 8.25, NVFP4 4.5 (plus 32/N for the fp32 tensor scale of an
/// N-element tensor, not included here), Q8_0 8.5, Q4_0 4.5, Q4_1 5.0, Q5_0 5.5, Q5_1 6.0, NF4/FP4 4 + 32/B,
/// with double quantization 4 + 8/B + 32/(256 B) (plus 32/N for the offset, not included). blockSize 0 means
/// the default. Throws qs::Error for BlockFormat::None or a block size < 1.
inline double blockFormatBitsPerValue(BlockFormat format, std::int64_t blockSize, bool doubleQuant);

/// Quantizes `tensor` with scheme.blockFormat (!= None), exactly as the reference does (see above).
/// Ignores scheme.format, granularity, rangeMode and scaleFormat. Throws qs::Error when the block format is
/// None, the block size is invalid, ggml rows are not whole blocks, or the data size does not match the
/// shape.
inline QuantizedTensor quantizeBlockFormat(const Tensor& tensor, const Scheme& scheme);

/// The values the reference's dequantization produces from `quantized` (the result's name is empty).
/// Throws qs::Error when the codes or scales do not match the shape and scheme.
inline Tensor dequantizeBlockFormat(const QuantizedTensor& quantized);

/// The bytes the reference stores for `quantized` (layouts above), for byte-for-byte comparison with files
/// written by ggml, torchao, vLLM or bitsandbytes. Throws qs::Error like dequantizeBlockFormat.
inline std::vector<std::uint8_t> packBlockFormat(const QuantizedTensor& quantized);

namespace blockformat {

// ---- Internals shared by block_mx.cpp, block_nvfp4.cpp, block_bnb.cpp and block_ggml.cpp ----

/// Family of a block format, to dispatch on.
enum class Family { None, Mx, Nvfp4, Bnb, Ggml };

inline Family familyOf(BlockFormat format)
{
    switch (format) {
    case BlockFormat::MXFP8_E4M3:
    case BlockFormat::MXFP8_E5M2:
    case BlockFormat::MXFP6_E3M2:
    case BlockFormat::MXFP6_E2M3:
    case BlockFormat::MXFP4:
    case BlockFormat::MXINT8:
        return Family::Mx;
    case BlockFormat::NVFP4:
        return Family::Nvfp4;
    case BlockFormat::BnbNF4:
    case BlockFormat::BnbFP4:
        return Family::Bnb;
    case BlockFormat::GgmlQ8_0:
    case BlockFormat::GgmlQ4_0:
    case BlockFormat::GgmlQ4_1:
    case BlockFormat::GgmlQ5_0:
    case BlockFormat::GgmlQ5_1:
    case BlockFormat::GgmlMXFP4:
        return Family::Ggml;
    case BlockFormat::None:
        break;
    }
    return Family::None;
}

/// Rows and blocks of a shape for a block size: rows = elements / rowLength (rowLength = last dimension,
/// 1 for a scalar); blocksPerRow = ceil(rowLength / blockSize).
struct Geometry {
    std::int64_t rows = 0;
    std::int64_t rowLength = 0;
    std::int64_t blockSize = 0;
    std::int64_t blocksPerRow = 0;

    std::int64_t groupCount() const { return rows * blocksPerRow; }
    std::int64_t elementCount() const { return rows * rowLength; }
    /// Offset of the first element of block `b` of row `r`.
    std::int64_t blockStart(std::int64_t r, std::int64_t b) const { return r * rowLength + b * blockSize; }
    /// Elements in block `b` of a row (the last block of a row may be shorter).
    std::int64_t blockLength(std::int64_t b) const { return std::min(blockSize, rowLength - b * blockSize); }
};

inline Geometry geometry(const Shape& shape, std::int64_t blockSize)
{
    Geometry g;
    const std::int64_t count = shapeElementCount(shape);
    g.rowLength = shape.empty() ? 1 : shape.back();
    g.rows = g.rowLength == 0 ? 0 : count / g.rowLength;
    g.blockSize = blockSize;
    g.blocksPerRow = (g.rowLength + blockSize - 1) / blockSize;
    return g;
}

/// Throws unless codes and scales have the sizes the geometry implies.
inline void checkCodesAndScales(const QuantizedTensor& quantized, const Geometry& g)
{
    if (static_cast<std::int64_t>(quantized.codes.size()) != g.elementCount()
        || static_cast<std::int64_t>(quantized.scales.size()) != g.groupCount())
        throw Error("quantized " + blockFormatName(quantized.scheme.blockFormat) + " tensor of shape "
            + shapeToString(quantized.shape) + " has " + std::to_string(quantized.codes.size())
            + " codes and " + std::to_string(quantized.scales.size()) + " scales; expected "
            + std::to_string(g.elementCount()) + " and " + std::to_string(g.groupCount()));
}

/// A QuantizedTensor with the fields every family fills the same way.
inline QuantizedTensor emptyQuantized(const Tensor& tensor, const Scheme& scheme, const Geometry& g)
{
    QuantizedTensor q;
    q.scheme = scheme;
    q.shape = tensor.shape;
    q.codes.assign(static_cast<std::size_t>(g.elementCount()), 0);
    q.scales.assign(static_cast<std::size_t>(g.groupCount()), 0.0f);
    return q;
}

inline Tensor emptyDequantized(const QuantizedTensor& quantized)
{
    Tensor t;
    t.shape = quantized.shape;
    t.data.assign(quantized.codes.size(), 0.0f);
    return t;
}

inline void appendU16(std::vector<std::uint8_t>& out, std::uint16_t value)
{
    out.push_back(static_cast<std::uint8_t>(value & 0xFF));
    out.push_back(static_cast<std::uint8_t>(value >> 8));
}

inline void appendF32(std::vector<std::uint8_t>& out, float value)
{
    const auto bits = std::bit_cast<std::uint32_t>(value);
    for (int shift = 0; shift < 32; shift += 8)
        out.push_back(static_cast<std::uint8_t>((bits >> shift) & 0xFF));
}

QuantizedTensor quantizeMx(const Tensor& tensor, const Scheme& scheme, const Geometry& geometry);
Tensor dequantizeMx(const QuantizedTensor& quantized, const Geometry& geometry);
std::vector<std::uint8_t> packMx(const QuantizedTensor& quantized, const Geometry& geometry);

QuantizedTensor quantizeNvfp4(const Tensor& tensor, const Scheme& scheme, const Geometry& geometry);
Tensor dequantizeNvfp4(const QuantizedTensor& quantized, const Geometry& geometry);
std::vector<std::uint8_t> packNvfp4(const QuantizedTensor& quantized, const Geometry& geometry);

QuantizedTensor quantizeBnb(const Tensor& tensor, const Scheme& scheme, const Geometry& geometry);
Tensor dequantizeBnb(const QuantizedTensor& quantized, const Geometry& geometry);
std::vector<std::uint8_t> packBnb(const QuantizedTensor& quantized, const Geometry& geometry);

QuantizedTensor quantizeGgml(const Tensor& tensor, const Scheme& scheme, const Geometry& geometry);
Tensor dequantizeGgml(const QuantizedTensor& quantized, const Geometry& geometry);
std::vector<std::uint8_t> packGgml(const QuantizedTensor& quantized, const Geometry& geometry);

QuantizedTensor quantizeGgmlMxfp4(const Tensor& tensor, const Scheme& scheme, const Geometry& geometry);
Tensor dequantizeGgmlMxfp4(const QuantizedTensor& quantized, const Geometry& geometry);
std::vector<std::uint8_t> packGgmlMxfp4(const QuantizedTensor& quantized, const Geometry& geometry);

/// One 32-value ggml block (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) as quantize_row_*_ref computes it: `codes` gets the
/// 32 stored codes, d and m are fp16-rounded (m is 0 for Q8_0, Q4_0, Q5_0); `clipped` counts the clipped
/// elements j of the block with countFrom <= j < countTo.
struct GgmlBlock {
    float d = 0;
    float m = 0;
    std::int64_t clipped = 0;
};
GgmlBlock quantizeGgmlBlock(
    BlockFormat format, const float* x, std::int32_t* codes, std::int64_t countFrom, std::int64_t countTo);

/// dequantize_row_* of `count` stored codes of one block with its d and m: (code - bias) * d [+ m].
void dequantizeGgmlCodes(
    BlockFormat format, const std::int32_t* codes, std::int64_t count, float d, float m, float* out);

/// One 32-value ggml MXFP4 block as quantize_row_mxfp4_ref computes it: `codes` gets the 32 codes, `d` is
/// the decode scale 2^(e-128); clipped and nonFinite count elements j with countFrom <= j < countTo.
struct GgmlMxfp4Block {
    float d = 0;
    std::int64_t clipped = 0;
    std::int64_t nonFinite = 0;
};
GgmlMxfp4Block quantizeGgmlMxfp4Block(
    const float* x, std::int32_t* codes, std::int64_t countFrom, std::int64_t countTo);

/// dequantize_row_mxfp4 of `count` codes (0..15) of one block: float(kvalues_mxfp4[code]) * d.
void dequantizeGgmlMxfp4Codes(const std::int32_t* codes, std::int64_t count, float d, float* out);

/// One bitsandbytes block of `length` values (the ragged tail block included): `codes` gets the 4-bit
/// codes, `absmax` the block's true absmax; clipped and nonFinite count elements j with
/// countFrom <= j < countTo.
struct BnbBlock {
    float absmax = 0;
    std::int64_t clipped = 0;
    std::int64_t nonFinite = 0;
};
BnbBlock quantizeBnbBlock(BlockFormat format, const float* x, std::int64_t length, std::int32_t* codes,
    std::int64_t countFrom, std::int64_t countTo);

/// The absmax of one bitsandbytes block: max |x| with NaN ignored (CUDA fmaxf), 0 for a block of zeros.
float bnbBlockAbsmax(const float* x, std::int64_t length);

/// The 4-bit code (0..15) bitsandbytes gives v = x · (1 / max(absmax, 1e-38f)): dQuantizeNF4 (the number of
/// NF4 thresholds v exceeds) or dQuantizeFP4 (sign in bit 3, the leaf of |v| in its magnitude tree) of
/// csrc/kernels.cu; NaN gets code 0. `format` is BnbNF4 or BnbFP4.
std::uint32_t bnbElementCode(BlockFormat format, float v);

/// dQuantizeNF4's decision thresholds, ascending, as csrc/kernels.cu writes them (float literals):
/// bnbElementCode(BnbNF4, v) = #{k : v > t_k}.
const std::array<float, 15>& bnbNf4Thresholds();

/// The value of a 4-bit code (0..15) before the absmax: get_4bit_type("nf4") or ("fp4") in float32.
float bnbElementValue(BlockFormat format, std::uint32_t code);

/// The absmax bitsandbytes stores per block (in group order), decoded as dequantization uses it: `absmax`
/// itself, or with double quantization float32(map[q_g] * absmax2) + offset.
std::vector<float> bnbDecodeAbsmax(const std::vector<float>& absmax, bool doubleQuantization);

/// bitsandbytes dequantization of `count` 4-bit codes (0..15) of one block: table[code] * absmax.
void dequantizeBnbCodes(
    BlockFormat format, const std::int32_t* codes, std::int64_t count, float absmax, float* out);

/// bitsandbytes' signed 8-bit dynamic map (create_dynamic_map(True, 7, 8)), 256 ascending float32 values.
const std::vector<float>& bnbDynamicMap();

/// torch.mean of a contiguous float32 vector on the CPU, single-threaded (see the double-quantization notes).
float torchCpuMean(const std::vector<float>& values);

/// torchCpuMean of |x[0]|, ..., |x[n - 1]| (n > 0), read in place: all n of them, finite or not.
float torchCpuMeanAbs(const float* x, std::int64_t n);

} // namespace blockformat

inline std::int64_t defaultBlockSize(BlockFormat format)
{
    switch (blockformat::familyOf(format)) {
    case blockformat::Family::Mx:
    case blockformat::Family::Ggml:
        return 32;
    case blockformat::Family::Nvfp4:
        return 16;
    case blockformat::Family::Bnb:
        return 64;
    case blockformat::Family::None:
        break;
    }
    return 0;
}

inline std::int64_t blockFormatBlockSize(const Scheme& scheme)
{
    const BlockFormat format = scheme.blockFormat;
    const auto family = blockformat::familyOf(format);
    if (family == blockformat::Family::None)
        throw Error("the scheme has no block format");
    const std::int64_t size = scheme.blockSize == 0 ? defaultBlockSize(format) : scheme.blockSize;
    const std::string name = blockFormatName(format);
    if (size < 1)
        throw Error("block size " + std::to_string(size) + " of " + name + " must be positive");
    if (family == blockformat::Family::Ggml && size != 32)
        throw Error("ggml " + name + " has a fixed block size of 32, not " + std::to_string(size));
    if (family == blockformat::Family::Bnb && (size < 32 || size > 4096 || (size & (size - 1)) != 0))
        throw Error("bitsandbytes " + name + " accepts block sizes 32, 64, 128, ..., 4096, not "
            + std::to_string(size));
    return size;
}

inline double blockFormatBitsPerValue(BlockFormat format, std::int64_t blockSize, bool doubleQuant)
{
    if (blockformat::familyOf(format) == blockformat::Family::None)
        throw Error("the scheme has no block format");
    const double b = static_cast<double>(blockSize == 0 ? defaultBlockSize(format) : blockSize);
    if (b < 1)
        throw Error("block size " + std::to_string(blockSize) + " must be positive");
    switch (format) {
    case BlockFormat::MXFP8_E4M3:
    case BlockFormat::MXFP8_E5M2:
    case BlockFormat::MXINT8:
        return 8 + 8 / b;
    case BlockFormat::MXFP6_E3M2:
    case BlockFormat::MXFP6_E2M3:
        return 6 + 8 / b;
    case BlockFormat::MXFP4:
    case BlockFormat::NVFP4:
    case BlockFormat::GgmlMXFP4:
        return 4 + 8 / b;
    case BlockFormat::BnbNF4:
    case BlockFormat::BnbFP4:
        return doubleQuant ? 4 + 8 / b + 32 / (256 * b) : 4 + 32 / b;
    case BlockFormat::GgmlQ8_0:
        return 8 + 16 / b;
    case BlockFormat::GgmlQ4_0:
        return 4 + 16 / b;
    case BlockFormat::GgmlQ4_1:
        return 4 + 32 / b;
    case BlockFormat::GgmlQ5_0:
        return 5 + 16 / b;
    case BlockFormat::GgmlQ5_1:
        return 5 + 32 / b;
    case BlockFormat::None:
        break;
    }
    return 0;
}

inline QuantizedTensor quantizeBlockFormat(const Tensor& tensor, const Scheme& scheme)
{
    const std::int64_t blockSize = blockFormatBlockSize(scheme);
    if (tensor.elementCount() != shapeElementCount(tensor.shape))
        throw Error("tensor '" + tensor.name + "' has " + std::to_string(tensor.elementCount())
            + " values but shape " + shapeToString(tensor.shape));
    const auto g = blockformat::geometry(tensor.shape, blockSize);
    switch (blockformat::familyOf(scheme.blockFormat)) {
    case blockformat::Family::Mx:
        return blockformat::quantizeMx(tensor, scheme, g);
    case blockformat::Family::Nvfp4:
        return blockformat::quantizeNvfp4(tensor, scheme, g);
    case blockformat::Family::Bnb:
        return blockformat::quantizeBnb(tensor, scheme, g);
    case blockformat::Family::Ggml:
        return scheme.blockFormat == BlockFormat::GgmlMXFP4
            ? blockformat::quantizeGgmlMxfp4(tensor, scheme, g)
            : blockformat::quantizeGgml(tensor, scheme, g);
    case blockformat::Family::None:
        break;
    }
    throw Error("the scheme has no block format");
}

inline Tensor dequantizeBlockFormat(const QuantizedTensor& quantized)
{
    const auto g = blockformat::geometry(quantized.shape, blockFormatBlockSize(quantized.scheme));
    blockformat::checkCodesAndScales(quantized, g);
    switch (blockformat::familyOf(quantized.scheme.blockFormat)) {
    case blockformat::Family::Mx:
        return blockformat::dequantizeMx(quantized, g);
    case blockformat::Family::Nvfp4:
        return blockformat::dequantizeNvfp4(quantized, g);
    case blockformat::Family::Bnb:
        return blockformat::dequantizeBnb(quantized, g);
    case blockformat::Family::Ggml:
        return quantized.scheme.blockFormat == BlockFormat::GgmlMXFP4
            ? blockformat::dequantizeGgmlMxfp4(quantized, g)
            : blockformat::dequantizeGgml(quantized, g);
    case blockformat::Family::None:
        break;
    }
    throw Error("the scheme has no block format");
}

inline std::vector<std::uint8_t> packBlockFormat(const QuantizedTensor& quantized)
{
    const auto g = blockformat::geometry(quantized.shape, blockFormatBlockSize(quantized.scheme));
    blockformat::checkCodesAndScales(quantized, g);
    switch (blockformat::familyOf(quantized.scheme.blockFormat)) {
    case blockformat::Family::Mx:
        return blockformat::packMx(quantized, g);
    case blockformat::Family::Nvfp4:
        return blockformat::packNvfp4(quantized, g);
    case blockformat::Family::Bnb:
        return blockformat::packBnb(quantized, g);
    case blockformat::Family::Ggml:
        return quantized.scheme.blockFormat == BlockFormat::GgmlMXFP4
            ? blockformat::packGgmlMxfp4(quantized, g)
            : blockformat::packGgml(quantized, g);
    case blockformat::Family::None:
        break;
    }
    throw Error("the scheme has no block format");
}

} // namespace qs
