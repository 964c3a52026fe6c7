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
    Saturate,  ///< ±max finite (ml_dtypes kSaturate, CUDA __NV_SATFINITE, ONNX saturate=1)
    NonFinite, ///< ±Inf where the format has Inf, else NaN (ml_dtypes default cast, PyTorch <= 2.11, ONNX saturate=0)
};

/// What ±Inf inputs become.
enum class InfPolicy {
    Propagate, ///< ±Inf where the format has Inf, else NaN (ml_dtypes incl. its saturating cast, PyTorch)
    Saturate,  ///< ±max finite (CUDA __NV_SATFINITE, ONNX saturate=1)
};

/// What NaN becomes in a format that has no NaN encoding (OCP MX FP6/FP4).
enum class NanPolicy {
    NegativeZero, ///< the code ml_dtypes returns as quiet_NaN() for MX types: sign bit set, rest 0
    PositiveMax,  ///< +max finite (CUDA __nv_cvt_float_to_fp4: "NaN input values result in positive MAXNORM")
};

/// Special-value layout of a minifloat.
enum class MinifloatSpecials {
    Ieee,        ///< top exponent reserved: mantissa 0 = ±Inf, else NaN (FP16, BF16, FP8 E5M2)
    NanOnlyFn,   ///< "fn": no Inf, only S.1..1.1..1 is NaN, the rest of the top exponent is finite (FP8 E4M3)
    FiniteOnly,  ///< every code is finite (OCP MX FP6 E3M2/E2M3, FP4 E2M1, non-standard E1M2/E3M0)
};

/// A sign + ExMy minifloat: value = (-1)^s · 2^(e-bias) · 1.m for e > 0, (-1)^s · 2^(1-bias) · 0.m for e = 0.
/// Code layout: sign in bit (E+M), exponent in the next E bits, mantissa in the low M bits.
struct MinifloatSpec {
    int exponentBits = 4;
    int mantissaBits = 3;
    int bias = 7;
    MinifloatSpecials specials = MinifloatSpecials::NanOnlyFn;
    bool operator==(const MinifloatSpec&) const = default;
};

/// Conversion behaviour of a minifloat encoder; the defaults give ml_dtypes' saturating cast
/// (`ConvertFrom<kSaturate=true>`). See `minifloatCompatibility` for the other references.
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

/// Which neighbour a value exactly halfway between two table entries takes.
enum class LookupTie {
    Lower, ///< the entry with the smaller value (bitsandbytes strict '>' decision trees)
    Upper, ///< the entry with the larger value (ggml best_index_int8 for IQ4_NL)
};

/// A format defined by a table of values, code i <-> values[i] (NF4, bitsandbytes FP4, IQ4_NL).
/// Encoding picks the nearest entry (after the scheme's scale); ties follow `tie`.
struct LookupSpec {
    std::vector<float> values;
    LookupTie tie = LookupTie::Lower;
    bool operator==(const LookupSpec&) const = default;
};

/// Ternary {-1, 0, +1} (BitNet b1.58) or binary {-1, +1} (BitNet sign, zero -> -1).
struct SignSpec {
    bool ternary = true;
    bool operator==(const SignSpec&) const = default;
};

/// One element number format as data. Build one with the preset functions below or `formatByName`.
struct NumberFormat {
    std::string name;      ///< canonical CLI/GUI spelling: "int8", "uint4", "fp8_e4m3", "nf4", "ternary" ...
    std::string reference; ///< which reference it follows, e.g. "ml_dtypes float8_e4m3fn; OCP OFP8"
    bool standard = true;  ///< false for formats no reference defines (E1M2, E3M0)
    std::variant<IntegerSpec, MinifloatSpec, LookupSpec, SignSpec> spec;
    MinifloatOptions minifloat; ///< used by minifloats only

    bool operator==(const NumberFormat&) const = default;
};

/// Storage bits of one element (4 for nf4, 8 for fp8, 2 for ternary, 1 for binary).
int formatBits(const NumberFormat& format);

/// Number of distinct codes (2^bits, or the table size for lookup formats, 3 for ternary).
int formatCodeCount(const NumberFormat& format);

/// Largest finite magnitude representable (before any scale): 448 for E4M3, 6 for E2M1, 127 for int8,
/// 1 for nf4, ...
double formatMaxFinite(const NumberFormat& format);

/// Every distinct finite value, ascending, -0 omitted (for plotting the grid and for exhaustive tests).
/// For integers: every integer of the signed/unsigned full range.
std::vector<double> formatValues(const NumberFormat& format);

/// Value of a code (NaN for NaN codes, ±Inf for Inf codes). Integers: the code is the two's-complement
/// bit pattern in the low `bits` bits. Throws qs::Error for a code outside [0, codeCount).
double decodeValue(const NumberFormat& format, std::uint32_t code);

/// Code of the representable value nearest to `x` (x already divided by the scale), following the format's
/// rounding, overflow, Inf and NaN policies. Integers round with `rounding` and saturate to the full range.
std::uint32_t encodeValue(const NumberFormat& format, double x);

/// decodeValue(encodeValue(x)): the value after quantizing x to this format (no scale).
double roundToFormat(const NumberFormat& format, double x);

// ---- Presets (the names formatByName accepts are in brackets) ----
NumberFormat integerFormat(int bits, bool isSigned); ///< [int2..int16, uint2..uint16]
NumberFormat fp16Format();                           ///< [fp16] IEEE binary16
NumberFormat bf16Format();                           ///< [bf16]
NumberFormat fp8E4M3Format();                        ///< [fp8_e4m3] OCP E4M3 "fn", max 448
NumberFormat fp8E5M2Format();                        ///< [fp8_e5m2] OCP E5M2, max 57344
NumberFormat fp6E3M2Format();                        ///< [fp6_e3m2] OCP MX, max 28
NumberFormat fp6E2M3Format();                        ///< [fp6_e2m3] OCP MX, max 7.5
NumberFormat fp4E2M1Format();                        ///< [fp4_e2m1] OCP MX, max 6
NumberFormat fp4E1M2Format();                        ///< [fp4_e1m2] non-standard, bias 0, finite only
NumberFormat fp4E3M0Format();                        ///< [fp4_e3m0] non-standard, bias 3, finite only
NumberFormat minifloatFormat(int exponentBits, int mantissaBits); ///< [eXmY] generic, bias 2^(E-1)-1, finite only
NumberFormat nf4Format();                            ///< [nf4] bitsandbytes NF4 table
NumberFormat bnbFp4Format();                         ///< [bnb_fp4] bitsandbytes FP4 table (not OCP E2M1)
NumberFormat iq4nlFormat();                          ///< [iq4_nl] ggml kvalues_iq4nl / 127
NumberFormat ternaryFormat();                        ///< [ternary]
NumberFormat binaryFormat();                         ///< [binary]

/// Every preset, in the order the CLI lists them.
std::vector<NumberFormat> allFormats();

/// Looks up a preset by name (case-insensitive) or a generic "eXmY" minifloat (1 <= X <= 8, 0 <= Y <= 10).
/// Throws qs::Error naming the unknown format and listing the valid names.
NumberFormat formatByName(const std::string& name);

/// Named compatibility settings for minifloat conversion (formats.md §1.2): "ml_dtypes" (default cast),
/// "ml_dtypes_saturate", "pytorch" (<= 2.11), "cuda_satfinite", "onnx_saturate", "onnx_nosat".
/// Throws qs::Error for other names.
MinifloatOptions minifloatCompatibility(const std::string& name);

} // namespace qs
