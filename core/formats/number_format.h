#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace qs {

/// How a value halfway between two representable values is rounded.
enum class Rounding {
    NearestEven, ///< IEEE round-half-to-even (ml_dtypes, PyTorch, CUDA cvt.rn, numpy, ONNX)
    NearestAway, ///< round-half-away-from-zero (C roundf; microxcaling "nearest"; ggml Q8_0 _ref)
};

/// What a finite value beyond the largest finite magnitude becomes (after rounding).
enum class OverflowPolicy {
    Saturate, ///< ±max finite (ml_dtypes kSaturate, CUDA __NV_SATFINITE, ONNX saturate=1)
    NonFinite, ///< ±Inf where the format has Inf, else NaN (e4m3fn) or ±max (MX types without NaN)
               ///< (ml_dtypes default cast, PyTorch <= 2.11, ONNX saturate=0)
};

/// What ±Inf inputs become.
enum class InfPolicy {
    Propagate, ///< ±Inf where the format has Inf, else NaN (ml_dtypes incl. its saturating cast, PyTorch)
    Saturate, ///< ±max finite (CUDA __NV_SATFINITE, ONNX saturate=1)
};

/// What NaN becomes in a format that has no NaN encoding (OCP MX FP6/FP4). Formats with a NaN encoding
/// always give their quiet NaN with the input's sign (e4m3fn 0x7F/0xFF, e5m2 0x7E/0xFE, fp16 0x7E00,
/// bf16 0x7FC0), as ml_dtypes does.
enum class NanPolicy {
    NegativeZero, ///< ml_dtypes: +NaN -> quiet_NaN() of the MX types = sign bit set, rest 0 ("-0");
                  ///< -NaN -> -quiet_NaN() = +0 (ml_dtypes negates the code)
    PositiveMax, ///< +max finite (CUDA __nv_cvt_float_to_fp4: "NaN input values result in positive MAXNORM";
                 ///< ONNX Cast to FLOAT4E2M1: NaN -> 6)
};

/// Special-value layout of a minifloat.
enum class MinifloatSpecials {
    Ieee, ///< top exponent reserved: mantissa 0 = ±Inf, else NaN (FP16, BF16, FP8 E5M2)
    NanOnlyFn, ///< "fn": no Inf, only S.1..1.1..1 is NaN, the rest of the top exponent is finite (FP8 E4M3)
    FiniteOnly, ///< every code is finite (OCP MX FP6 E3M2/E2M3, FP4 E2M1, non-standard E1M2/E3M0)
};

/// A sign + ExMy minifloat: value = (-1)^s · 2^(e-bias) · 1.m for e > 0,
/// (-1)^s · 2^(1-bias) · 0.m for e = 0.
/// Code layout: sign in bit (E+M), exponent in the next E bits, mantissa in the low M bits.
/// Valid: 1 <= E <= 8, 0 <= M <= 20, |bias| <= 512; Ieee needs E >= 2 and M >= 1, NanOnlyFn E >= 2.
struct MinifloatSpec {
    int exponentBits = 4;
    int mantissaBits = 3;
    int bias = 7;
    MinifloatSpecials specials = MinifloatSpecials::NanOnlyFn;
    bool operator==(const MinifloatSpec&) const = default;
};

/// Conversion behaviour of a minifloat encoder; the defaults give ml_dtypes' saturating cast
/// (`ConvertFrom<kSaturate=true>`), which is also what the FP8/FP6/FP4 presets use. fp16/bf16 presets use
/// the IEEE behaviour ("ml_dtypes": overflow -> ±Inf). See `minifloatCompatibility` for other references.
///
/// Encoding (formats.md §1.2, ml_dtypes `ConvertImpl`): the magnitude is rounded with `rounding` to a
/// multiple of the quantum 2^(max(floor(log2|x|), 1-bias) - M) (subnormals included, so e4m3fn(2^-10) = 0);
/// a carry moves into the exponent; only then is the result compared with the max finite value
/// (e4m3fn: 464 -> 448, 465 -> overflow). ±0 keep their sign. ±Inf follow `inf`, NaN follows NanPolicy.
/// `rounding` also applies to integer and ternary formats (lookup formats use LookupSpec::tie instead).
struct MinifloatOptions {
    Rounding rounding = Rounding::NearestEven;
    OverflowPolicy overflow = OverflowPolicy::Saturate;
    InfPolicy inf = InfPolicy::Propagate;
    NanPolicy nan = NanPolicy::NegativeZero;
    bool operator==(const MinifloatOptions&) const = default;
};

/// A two's-complement (signed) or plain binary (unsigned) integer of 2..16 bits. The usable code range of a
/// scheme (narrow symmetric, full, affine) is chosen by the scheme, not by the format.
struct IntegerSpec {
    int bits = 8;
    bool isSigned = true;
    bool operator==(const IntegerSpec&) const = default;
};

/// Which neighbour a value exactly on the threshold between two table entries takes.
enum class LookupTie {
    Lower, ///< the entry with the smaller value (bitsandbytes strict '>' decision trees)
    Upper, ///< the entry with the larger value (ggml best_index_int8 for IQ4_NL)
};

/// A format defined by a table of values, code i <-> values[i] (NF4, bitsandbytes FP4, IQ4_NL).
///
/// Encoding: with the searched entries sorted by value v_0 < v_1 < ... and thresholds t_k between v_k and
/// v_{k+1}, x goes to v_k with k = #{t : x > t} (tie Lower) or #{t : x >= t} (tie Upper). The thresholds are
/// `thresholds` when given (the reference's decision-tree literals: bitsandbytes' dQuantizeNF4/dQuantizeFP4
/// constants are not all equal to the float32 midpoints, e.g. FP4 0.583333f vs 0.58333337f), otherwise the
/// float32 midpoints (v_k + v_{k+1}) / 2. NaN takes the lowest entry (every comparison is false, as in the
/// bitsandbytes trees).
///
/// `signMagnitude` (bitsandbytes FP4): the table's upper half are the negatives of the lower half
/// (values[i + n/2] = -values[i]); only the lower half is searched, on |x|, and the sign bit n/2 is added for
/// x < 0, so ties go toward the smaller magnitude and a small negative x gives the -0 code (dQuantizeFP4).
struct LookupSpec {
    std::vector<float> values;
    LookupTie tie = LookupTie::Lower;
    std::vector<float> thresholds; ///< empty, or one per adjacent pair of searched entries, ascending
    bool signMagnitude = false;
    bool operator==(const LookupSpec&) const = default;
};

/// Ternary {-1, 0, +1} (BitNet b1.58) or binary {-1, +1} (BitNet sign, zero -> -1).
/// Ternary: code = clamp(round(x), -1, 1) + 1, round = MinifloatOptions::rounding (RNE like torch.round:
/// 0.5 -> 0, 1.5 -> 2 -> 1; ties-away gives ggml TQ1_0/TQ2_0's lroundf); NaN -> code 1 (zero).
/// Binary: code 1 (+1) for x > 0, code 0 (-1) otherwise (0 and NaN included).
struct SignSpec {
    bool ternary = true;
    bool operator==(const SignSpec&) const = default;
};

/// One element number format as data. Build one with the preset functions below or `formatByName`.
struct NumberFormat {
    std::string name; ///< canonical CLI/GUI spelling: "int8", "uint4", "fp8_e4m3", "nf4", "ternary" ...
    std::string reference; ///< which reference it follows, e.g. "ml_dtypes float8_e4m3fn; OCP OFP8"
    bool standard = true; ///< false for formats no reference defines (E1M2, E3M0)
    std::variant<IntegerSpec, MinifloatSpec, LookupSpec, SignSpec> spec;
    MinifloatOptions minifloat; ///< minifloats use all of it; integers and ternary use `rounding` only

    bool operator==(const NumberFormat&) const = default;
};

/// Storage bits of one element (4 for nf4/bnb_fp4/iq4_nl, 8 for fp8, 2 for ternary, 1 for binary).
int formatBits(const NumberFormat& format);

/// Number of distinct codes (2^bits, or the table size for lookup formats, 3 for ternary).
int formatCodeCount(const NumberFormat& format);

/// Largest finite magnitude representable (before any scale): 448 for E4M3, 6 for E2M1, 127 for int8,
/// 255 for uint8, 1 for nf4 and bnb_fp4, 127 for iq4_nl (raw kvalues), 1 for ternary/binary.
double formatMaxFinite(const NumberFormat& format);

/// Every distinct finite value, ascending, -0 omitted (for plotting the grid and for exhaustive tests).
/// For integers: every integer of the signed/unsigned full range.
std::vector<double> formatValues(const NumberFormat& format);

/// Value of a code (NaN for NaN codes, ±Inf for Inf codes, -0 for negative-zero codes). Integers: the code
/// is the two's-complement bit pattern in the low `bits` bits. Ternary: code - 1. Binary: code ? +1 : -1.
/// Throws qs::Error for a code outside [0, codeCount) or an invalid spec.
double decodeValue(const NumberFormat& format, std::uint32_t code);

/// Code of the representable value nearest to `x` (x already divided by the scale), following the format's
/// rounding, overflow, Inf and NaN policies (see MinifloatOptions, LookupSpec, SignSpec). Exact for every
/// double (float inputs give the references' results bit for bit). Integers round with
/// `format.minifloat.rounding` (default RNE) and saturate to the full range (int8 [-128, 127]); NaN -> 0.
/// Throws qs::Error for an invalid spec.
std::uint32_t encodeValue(const NumberFormat& format, double x);

/// decodeValue(encodeValue(x)): the value after quantizing x to this format (no scale).
double roundToFormat(const NumberFormat& format, double x);

// ---- Presets (the names formatByName accepts are in brackets) ----
NumberFormat integerFormat(int bits, bool isSigned); ///< [int2..int16, uint2..uint16]
NumberFormat fp16Format(); ///< [fp16] IEEE binary16
NumberFormat bf16Format(); ///< [bf16]
NumberFormat fp8E4M3Format(); ///< [fp8_e4m3] OCP E4M3 "fn", max 448
NumberFormat fp8E5M2Format(); ///< [fp8_e5m2] OCP E5M2, max 57344
NumberFormat fp6E3M2Format(); ///< [fp6_e3m2] OCP MX, max 28
NumberFormat fp6E2M3Format(); ///< [fp6_e2m3] OCP MX, max 7.5
NumberFormat fp4E2M1Format(); ///< [fp4_e2m1] OCP MX, max 6
NumberFormat fp4E1M2Format(); ///< [fp4_e1m2] non-standard, bias 0, finite only
NumberFormat fp4E3M0Format(); ///< [fp4_e3m0] non-standard, bias 3, finite only
/// [eXmY] generic sign+ExMy, bias 2^(E-1)-1, finite only (like the OCP MX types), standard = false,
/// 1 <= E <= 8, 0 <= M <= 10 (qs::Error otherwise). Where (E, M) names a preset the preset is returned
/// (e4m3 -> fp8_e4m3 with NaN and max 448, e5m2 -> fp8_e5m2, e3m2, e2m3, e2m1, e1m2, e3m0, e5m10 -> fp16,
/// e8m7 -> bf16), so "e4m3" never silently means a finite-only grid with max 480.
NumberFormat minifloatFormat(int exponentBits, int mantissaBits);
NumberFormat nf4Format(); ///< [nf4] bitsandbytes NF4 table, max 1
NumberFormat bnbFp4Format(); ///< [bnb_fp4] bitsandbytes FP4 table (not OCP E2M1), max 1, sign-magnitude
NumberFormat iq4nlFormat(); ///< [iq4_nl] ggml kvalues_iq4nl as raw int8 values {-127 ... 113}, max 127
NumberFormat ternaryFormat(); ///< [ternary]
NumberFormat binaryFormat(); ///< [binary]

/// Every preset, in the order the CLI lists them: int2..int8, int16, uint2..uint8, uint16, the minifloats,
/// nf4, bnb_fp4, iq4_nl, ternary, binary (formatByName also accepts int9..int15 and uint9..uint15).
std::vector<NumberFormat> allFormats();

/// Looks up a preset by name (case-insensitive, surrounding blanks ignored) or a generic "eXmY" minifloat
/// (see minifloatFormat). Throws qs::Error naming the unknown format and listing the valid names.
NumberFormat formatByName(const std::string& name);

/// Named compatibility settings for minifloat conversion (formats.md §1.2), all RNE:
///   "ml_dtypes"          {NonFinite, inf Propagate, NegativeZero}  ml_dtypes astype / constructor
///   "ml_dtypes_saturate" {Saturate,  inf Propagate, NegativeZero}  ml_dtypes ConvertFrom<kSaturate=true>
///   "pytorch"            = "ml_dtypes" (PyTorch <= 2.11; 2.13+ saturates e4m3fn finite overflow)
///   "cuda_satfinite"     {Saturate,  inf Saturate,  PositiveMax}   __NV_SATFINITE / cvt.rn.satfinite
///   "onnx_saturate"      {Saturate,  inf Saturate,  PositiveMax}   Cast saturate=1 (FLOAT4E2M1: NaN -> 6)
///   "onnx_nosat"         {NonFinite, inf Propagate, PositiveMax}   Cast saturate=0
/// Not modelled (NaN bit patterns only): CUDA's cuda_fp8.hpp writes every NaN as 0x7F (e4m3 and e5m2, sign
/// dropped), ONNX's reference writes e5m2 NaN as 0x7F|sign, PyTorch writes bf16 NaN as 0x7FC0 for both signs.
/// Case-insensitive; throws qs::Error listing the valid names for other names.
MinifloatOptions minifloatCompatibility(const std::string& name);

} // namespace qs
