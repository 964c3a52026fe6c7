#include "io/npy_header.h"

#include "base/error.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

namespace qs {

namespace {

constexpr unsigned char kMagic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr std::size_t kMagicSize = sizeof(kMagic);
// NumPy itself refuses headers over 10000 bytes unless told otherwise; anything near this bound is corrupt.
constexpr std::uint64_t kMaxHeaderLength = 16u << 20;
constexpr int kMaxNesting = 32;

std::string printable(char c)
{
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F)
        return std::string("'") + c + "'";
    static constexpr char hex[] = "0123456789abcdef";
    return std::string("byte 0x") + hex[byte >> 4] + hex[byte & 0xF];
}

struct PyValue {
    enum class Kind { String, Integer, Bool, None, Sequence, Dict };
    Kind kind = Kind::None;
    std::string_view source;
    std::string text;
    std::int64_t integer = 0;
    bool integerFits = true;
    bool boolean = false;
    std::vector<PyValue> items; ///< sequence elements; for a dict, keys and values alternate
};

/// Reads the subset of Python literal syntax that NumPy writes with repr(): strings, integers (with the
/// Python 2 'L' suffix), True/False/None, tuples, lists and dicts.
class LiteralParser {
public:
    LiteralParser(std::string_view text, std::string_view path, std::string_view tensor)
        : m_text(text)
        , m_path(path)
        , m_tensor(tensor)
    {
    }

    PyValue parseDocument()
    {
        skipSpace();
        if (atEnd() || peek() != '{')
            fail("it does not start with '{'");
        PyValue value = parseValue(0);
        skipSpace();
        if (!atEnd())
            fail("unexpected " + printable(peek()) + " after the closing '}'");
        return value;
    }

private:
    bool atEnd() const { return m_pos >= m_text.size(); }
    char peek() const { return m_text[m_pos]; }

    void skipSpace()
    {
        while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
            ++m_pos;
    }

    [[noreturn]] void fail(const std::string& what) const
    {
        throwFileError(m_path, m_tensor,
            "the npy header is not a valid Python dictionary: " + what + " (at character "
                + std::to_string(m_pos) + ")");
    }

    void expect(char c)
    {
        skipSpace();
        if (atEnd())
            fail(std::string("the header ends where '") + c + "' was expected");
        if (peek() != c)
            fail(std::string("expected '") + c + "' but found " + printable(peek()));
        ++m_pos;
    }

    PyValue parseValue(int depth)
    {
        if (depth > kMaxNesting)
            fail("values are nested too deeply");
        skipSpace();
        if (atEnd())
            fail("the header ends where a value was expected");
        const std::size_t begin = m_pos;
        PyValue value;
        const char c = peek();
        if (c == '\'' || c == '"'
            || ((c == 'u' || c == 'b') && m_pos + 1 < m_text.size()
                && (m_text[m_pos + 1] == '\'' || m_text[m_pos + 1] == '"'))) {
            value = parseString();
        } else if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
            value = parseInteger();
        } else if (c == '(' || c == '[') {
            value = parseSequence(depth, c == '(' ? ')' : ']');
        } else if (c == '{') {
            value = parseDict(depth);
        } else if (std::isalpha(static_cast<unsigned char>(c))) {
            value = parseName();
        } else {
            fail("unexpected " + printable(c));
        }
        value.source = m_text.substr(begin, m_pos - begin);
        return value;
    }

    PyValue parseString()
    {
        if (peek() == 'u' || peek() == 'b')
            ++m_pos;
        const char quote = peek();
        ++m_pos;
        PyValue value;
        value.kind = PyValue::Kind::String;
        while (true) {
            if (atEnd())
                fail("a string is not closed");
            char c = peek();
            ++m_pos;
            if (c == quote)
                break;
            if (c == '\\') {
                if (atEnd())
                    fail("a string is not closed");
                c = peek();
                ++m_pos;
            }
            value.text += c;
        }
        return value;
    }

    PyValue parseInteger()
    {
        PyValue value;
        value.kind = PyValue::Kind::Integer;
        bool negative = false;
        if (peek() == '-' || peek() == '+') {
            negative = peek() == '-';
            ++m_pos;
        }
        if (atEnd() || !std::isdigit(static_cast<unsigned char>(peek())))
            fail("a sign is not followed by digits");
        std::uint64_t magnitude = 0;
        while (!atEnd() && std::isdigit(static_cast<unsigned char>(peek()))) {
            const unsigned digit = static_cast<unsigned>(peek() - '0');
            if (magnitude > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
                value.integerFits = false;
            else
                magnitude = magnitude * 10 + digit;
            ++m_pos;
        }
        if (!atEnd() && (peek() == 'L' || peek() == 'l'))
            ++m_pos;
        if (!atEnd() && (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '.'))
            fail("a number contains " + printable(peek()) + " (only integers are expected)");
        const auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        if (magnitude > limit)
            value.integerFits = false;
        if (value.integerFits)
            value.integer
                = negative ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
        return value;
    }

    PyValue parseName()
    {
        const std::size_t begin = m_pos;
        while (!atEnd() && (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_'))
            ++m_pos;
        const std::string_view name = m_text.substr(begin, m_pos - begin);
        PyValue value;
        if (name == "True" || name == "False") {
            value.kind = PyValue::Kind::Bool;
            value.boolean = name == "True";
        } else if (name == "None") {
            value.kind = PyValue::Kind::None;
        } else {
            m_pos = begin;
            fail("unexpected word '" + std::string(name.substr(0, 40)) + "'");
        }
        return value;
    }

    PyValue parseSequence(int depth, char close)
    {
        ++m_pos;
        PyValue value;
        value.kind = PyValue::Kind::Sequence;
        while (true) {
            skipSpace();
            if (!atEnd() && peek() == close) {
                ++m_pos;
                return value;
            }
            value.items.push_back(parseValue(depth + 1));
            skipSpace();
            if (!atEnd() && peek() == ',') {
                ++m_pos;
                continue;
            }
            expect(close);
            return value;
        }
    }

    PyValue parseDict(int depth)
    {
        ++m_pos;
        PyValue value;
        value.kind = PyValue::Kind::Dict;
        while (true) {
            skipSpace();
            if (!atEnd() && peek() == '}') {
                ++m_pos;
                return value;
            }
            value.items.push_back(parseValue(depth + 1));
            expect(':');
            value.items.push_back(parseValue(depth + 1));
            skipSpace();
            if (!atEnd() && peek() == ',') {
                ++m_pos;
                continue;
            }
            expect('}');
            return value;
        }
    }

    std::string_view m_text;
    std::string_view m_path;
    std::string_view m_tensor;
    std::size_t m_pos = 0;
};

std::optional<std::uint64_t> parseDecimal(std::string_view digits)
{
    if (digits.empty() || digits.size() > 12)
        return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9')
            return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return value;
}

std::string_view stripByteOrder(std::string_view descr)
{
    if (!descr.empty() && (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '='))
        descr.remove_prefix(1);
    return descr;
}

std::uint64_t readLittleEndian(std::span<const std::byte> bytes, std::size_t offset, std::size_t size)
{
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < size; ++i)
        value |= static_cast<std::uint64_t>(bytes[offset + i]) << (8 * i);
    return value;
}

std::string shapeTuple(const Shape& shape)
{
    std::string text = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i)
            text += ", ";
        text += std::to_string(shape[i]);
    }
    if (shape.size() == 1)
        text += ",";
    return text + ")";
}

void transpose2d(const float* src, std::int64_t rows, std::int64_t cols, float* dst)
{
    constexpr std::int64_t block = 64;
    for (std::int64_t r0 = 0; r0 < rows; r0 += block) {
        const std::int64_t r1 = std::min(rows, r0 + block);
        for (std::int64_t c0 = 0; c0 < cols; c0 += block) {
            const std::int64_t c1 = std::min(cols, c0 + block);
            for (std::int64_t r = r0; r < r1; ++r)
                for (std::int64_t c = c0; c < c1; ++c)
                    dst[r * cols + c] = src[r + c * rows];
        }
    }
}

} // namespace

NpyDescr parseNpyDescr(std::string_view descr)
{
    NpyDescr result;
    if (!descr.empty() && descr[0] == '>')
        result.byteOrder = ByteOrder::Big;
    else if (!descr.empty() && descr[0] == '=')
        result.byteOrder = std::endian::native == std::endian::big ? ByteOrder::Big : ByteOrder::Little;
    const std::string_view body = stripByteOrder(descr);
    if (body == "?") {
        result.dtype = DType::BOOL;
        result.itemSize = 1;
        return result;
    }
    if (body.empty())
        return result;
    const char kind = body[0];
    std::string_view sizeText = body.substr(1);
    if ((kind == 'M' || kind == 'm') && sizeText.find('[') != std::string_view::npos)
        sizeText = sizeText.substr(0, sizeText.find('['));
    const std::optional<std::uint64_t> size = parseDecimal(sizeText);
    if (!size)
        return result;

    struct Known {
        char kind;
        std::uint64_t size;
        DType dtype;
    };
    static constexpr Known known[] = {
        {'f', 2, DType::F16},
        {'f', 4, DType::F32},
        {'f', 8, DType::F64},
        {'i', 1, DType::I8},
        {'i', 2, DType::I16},
        {'i', 4, DType::I32},
        {'i', 8, DType::I64},
        {'u', 1, DType::U8},
        {'u', 2, DType::U16},
        {'u', 4, DType::U32},
        {'u', 8, DType::U64},
        {'b', 1, DType::BOOL},
    };
    for (const Known& entry : known) {
        if (entry.kind == kind && entry.size == *size) {
            result.dtype = entry.dtype;
            result.itemSize = entry.size;
            return result;
        }
    }
    switch (kind) {
    case 'U':
        result.itemSize = *size * 4;
        break;
    case 'O':
        break;
    default:
        result.itemSize = *size;
        break;
    }
    return result;
}

std::string npyDescr(DType type)
{
    switch (type) {
    case DType::F64:
        return "<f8";
    case DType::F32:
        return "<f4";
    case DType::F16:
        return "<f2";
    case DType::I8:
        return "|i1";
    case DType::U8:
        return "|u1";
    case DType::I16:
        return "<i2";
    case DType::U16:
        return "<u2";
    case DType::I32:
        return "<i4";
    case DType::U32:
        return "<u4";
    case DType::I64:
        return "<i8";
    case DType::U64:
        return "<u8";
    case DType::BOOL:
        return "|b1";
    default:
        return {};
    }
}

std::string npyUnsupportedReason(std::string_view descr)
{
    const std::string_view body = stripByteOrder(descr);
    std::string what = "an unrecognised type";
    if (!body.empty()) {
        switch (body[0]) {
        case 'c':
            what = "complex numbers";
            break;
        case 'U':
            what = "Unicode strings";
            break;
        case 'S':
        case 'a':
            what = "byte strings";
            break;
        case 'O':
            what = "pickled Python objects";
            break;
        case 'M':
            what = "date-times";
            break;
        case 'm':
            what = "time deltas";
            break;
        case 'V':
            what = "raw void records, which is also how ml_dtypes saves bfloat16 and FP8";
            break;
        case '[':
        case '(':
        case '{':
            what = "a structured record type";
            break;
        case 'f':
            what = "a floating-point width other than 16, 32 or 64 bits";
            break;
        case 'i':
        case 'u':
        case 'b':
            what = "an integer width NumPy does not define";
            break;
        default:
            break;
        }
    }
    std::string shown(descr.substr(0, 60));
    if (descr.size() > 60)
        shown += "...";
    return "dtype '" + shown + "' (" + what
        + ") is not supported; only real floating-point, integer and boolean arrays can be loaded";
}

std::uint64_t npyHeaderEnd(std::span<const std::byte> start, std::string_view path, std::string_view tensor)
{
    const std::size_t have = start.size();
    if (have == 0)
        throwFileError(path, tensor, "the file is empty; a NumPy .npy header was expected");
    if (std::memcmp(start.data(), kMagic, std::min(have, kMagicSize)) != 0)
        throwFileError(path, tensor, "not a NumPy .npy file: it does not start with the bytes \\x93NUMPY");
    if (have < kMagicSize + 2)
        throwFileError(path, tensor,
            "the npy header is truncated: the file ends after " + std::to_string(have)
                + " bytes, inside the format version");
    const int major = static_cast<int>(start[6]);
    const int minor = static_cast<int>(start[7]);
    if (major < 1 || major > 3)
        throwFileError(path, tensor,
            "npy format version " + std::to_string(major) + "." + std::to_string(minor)
                + " is not supported (only versions 1.0, 2.0 and 3.0 exist)");
    const std::size_t lengthSize = major == 1 ? 2 : 4;
    const std::size_t preamble = kMagicSize + 2 + lengthSize;
    if (have < preamble)
        throwFileError(path, tensor,
            "the npy header is truncated: the file ends after " + std::to_string(have)
                + " bytes, inside the header length field");
    const std::uint64_t length = readLittleEndian(start, kMagicSize + 2, lengthSize);
    if (length > kMaxHeaderLength)
        throwFileError(path, tensor,
            "the npy header claims to be " + std::to_string(length)
                + " bytes long, which is implausible (the file is corrupt)");
    return preamble + length;
}

NpyHeader parseNpyHeader(std::span<const std::byte> bytes, std::string_view path, std::string_view tensor)
{
    const std::uint64_t end = npyHeaderEnd(bytes, path, tensor);
    NpyHeader header;
    header.majorVersion = static_cast<int>(bytes[6]);
    header.minorVersion = static_cast<int>(bytes[7]);
    header.dataOffset = end;
    const std::size_t preamble = header.majorVersion == 1 ? 10 : 12;
    if (bytes.size() < end)
        throwFileError(path, tensor,
            "the npy header declares " + std::to_string(end - preamble) + " header bytes but only "
                + std::to_string(bytes.size() - preamble)
                + " remain in the file (file truncated or header corrupt?)");

    const std::string_view text(
        reinterpret_cast<const char*>(bytes.data()) + preamble, static_cast<std::size_t>(end - preamble));
    const PyValue dict = LiteralParser(text, path, tensor).parseDocument();

    const PyValue* descr = nullptr;
    const PyValue* fortran = nullptr;
    const PyValue* shape = nullptr;
    for (std::size_t i = 0; i + 1 < dict.items.size(); i += 2) {
        const PyValue& key = dict.items[i];
        if (key.kind != PyValue::Kind::String)
            throwFileError(
                path, tensor, "the npy header has a key that is not a string: " + std::string(key.source));
        const PyValue** slot = key.text == "descr" ? &descr
            : key.text == "fortran_order"          ? &fortran
            : key.text == "shape"                  ? &shape
                                                   : nullptr;
        if (!slot)
            continue;
        if (*slot)
            throwFileError(path, tensor, "the npy header lists '" + key.text + "' twice");
        *slot = &dict.items[i + 1];
    }
    for (const auto& [value, key] :
        {std::pair {descr, "descr"}, {fortran, "fortran_order"}, {shape, "shape"}}) {
        if (!value)
            throwFileError(path, tensor, std::string("the npy header has no '") + key + "' entry");
    }

    if (descr->kind == PyValue::Kind::String) {
        header.descr = descr->text;
        header.type = parseNpyDescr(header.descr);
    } else if (descr->kind == PyValue::Kind::Sequence) {
        header.descr = std::string(descr->source);
    } else {
        throwFileError(
            path, tensor, "the npy header's 'descr' is not a type string: " + std::string(descr->source));
    }

    if (fortran->kind != PyValue::Kind::Bool)
        throwFileError(path, tensor,
            "the npy header's 'fortran_order' is not True or False: " + std::string(fortran->source));
    header.fortranOrder = fortran->boolean;

    if (shape->kind != PyValue::Kind::Sequence)
        throwFileError(path, tensor,
            "the npy header's 'shape' is not a tuple of integers: " + std::string(shape->source));
    for (const PyValue& dim : shape->items) {
        if (dim.kind != PyValue::Kind::Integer)
            throwFileError(path, tensor,
                "the npy header's 'shape' is not a tuple of integers: " + std::string(shape->source));
        if (!dim.integerFits)
            throwFileError(path, tensor,
                "the npy header's shape has a dimension too large for 64 bits: " + std::string(dim.source));
        header.shape.push_back(dim.integer);
    }

    std::int64_t count = 0;
    try {
        count = shapeElementCount(header.shape);
    } catch (const Error& error) {
        throwFileError(path, tensor, std::string("the npy header's shape is invalid: ") + error.what());
    }
    const auto elements = static_cast<std::uint64_t>(count);
    if (header.type.itemSize != 0
        && elements > std::numeric_limits<std::uint64_t>::max() / header.type.itemSize)
        throwFileError(path, tensor,
            "the npy header's shape " + shapeToString(header.shape)
                + " needs more bytes than fit in 64 bits");
    header.dataSize = elements * header.type.itemSize;
    return header;
}

std::vector<std::byte> formatNpyHeader(std::string_view descr, const Shape& shape, bool fortranOrder)
{
    const std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': "
        + (fortranOrder ? "True" : "False") + ", 'shape': " + shapeTuple(shape) + ", }";
    // NumPy's _wrap_header: pad with spaces plus '\n' so that magic, version, length and header end on a
    // 64-byte boundary (it adds a full 64 spaces when already aligned; we match it byte for byte).
    constexpr std::size_t align = 64;
    std::size_t lengthSize = 2;
    std::size_t padded = 0;
    for (;;) {
        const std::size_t unpadded = dict.size() + 1;
        const std::size_t pad = align - (kMagicSize + 2 + lengthSize + unpadded) % align;
        padded = unpadded + pad;
        if (lengthSize == 4 || padded <= 0xFFFF)
            break;
        lengthSize = 4;
    }
    std::vector<std::byte> out;
    out.reserve(kMagicSize + 2 + lengthSize + padded);
    for (const unsigned char c : kMagic)
        out.push_back(static_cast<std::byte>(c));
    out.push_back(static_cast<std::byte>(lengthSize == 2 ? 1 : 2));
    out.push_back(std::byte {0});
    for (std::size_t i = 0; i < lengthSize; ++i)
        out.push_back(static_cast<std::byte>((padded >> (8 * i)) & 0xFF));
    for (const char c : dict)
        out.push_back(static_cast<std::byte>(c));
    out.resize(out.size() + padded - dict.size() - 1, static_cast<std::byte>(' '));
    out.push_back(static_cast<std::byte>('\n'));
    return out;
}

void fortranToRowMajor(const float* src, const Shape& shape, float* dst)
{
    const std::int64_t count = shapeElementCount(shape);
    if (count == 0)
        return;
    const std::size_t rank = shape.size();
    if (rank <= 1 || count == shape[0] || count == shape[rank - 1]) {
        std::copy(src, src + count, dst);
        return;
    }
    if (rank == 2) {
        transpose2d(src, shape[0], shape[1], dst);
        return;
    }
    std::vector<std::int64_t> stride(rank, 1);
    for (std::size_t axis = 1; axis < rank; ++axis)
        stride[axis] = stride[axis - 1] * shape[axis - 1];
    std::vector<std::int64_t> index(rank, 0);
    std::int64_t offset = 0;
    for (std::int64_t i = 0; i < count; ++i) {
        dst[i] = src[offset];
        for (std::size_t axis = rank; axis-- > 0;) {
            if (++index[axis] < shape[axis]) {
                offset += stride[axis];
                break;
            }
            offset -= stride[axis] * (shape[axis] - 1);
            index[axis] = 0;
        }
    }
}

} // namespace qs
