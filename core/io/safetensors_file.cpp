#include "base/error.h"
#include "io/mapped_file.h"
#include "io/readers.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

namespace qs {

namespace {

constexpr std::uint64_t kMaxHeaderSize = 100'000'000; // safetensors MAX_HEADER_SIZE

/// Bits per element of every dtype the safetensors spec defines (huggingface/safetensors `Dtype`);
/// 0 for names the spec does not define.
int safetensorsBits(std::string_view name)
{
    static constexpr std::pair<std::string_view, int> kBits[] = {
        {"BOOL", 8},
        {"F4", 4},
        {"F6_E2M3", 6},
        {"F6_E3M2", 6},
        {"U8", 8},
        {"I8", 8},
        {"F8_E5M2", 8},
        {"F8_E4M3", 8},
        {"F8_E8M0", 8},
        {"I16", 16},
        {"U16", 16},
        {"F16", 16},
        {"BF16", 16},
        {"I32", 32},
        {"U32", 32},
        {"F32", 32},
        {"C64", 64},
        {"F64", 64},
        {"I64", 64},
        {"U64", 64},
    };
    for (const auto& [n, bits] : kBits)
        if (n == name)
            return bits;
    return 0;
}

struct Entry {
    TensorInfo info;
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

class SafetensorsFile final : public TensorFile {
public:
    explicit SafetensorsFile(const std::string& path)
        : m_path(path)
        , m_map(path)
    {
        parseHeader();
    }

    const std::string& path() const override { return m_path; }
    std::string formatName() const override { return "safetensors"; }
    const std::vector<TensorInfo>& tensors() const override { return m_infos; }

    Tensor load(std::string_view name) const override
    {
        const TensorInfo* info = find(name);
        if (!info)
            throwFileError(m_path, name, "no such tensor in the file");
        if (!info->loadable())
            throwFileError(m_path, name, "dtype " + info->dtypeName + " cannot be converted to float32 yet");
        const auto bytes = m_map.slice(info->offset, info->byteSize, name);
        Tensor tensor;
        tensor.name = info->name;
        tensor.shape = info->shape;
        tensor.data.resize(static_cast<std::size_t>(info->elementCount()));
        convertToF32(info->dtype, bytes.data(), tensor.data.size(), tensor.data.data(), ByteOrder::Little);
        return tensor;
    }

private:
    [[noreturn]] void fail(std::string_view tensor, const std::string& problem) const
    {
        throwFileError(m_path, tensor, problem);
    }

    void parseHeader()
    {
        const std::uint64_t fileSize = m_map.size();
        if (fileSize < 8)
            fail({},
                "file is too short (" + std::to_string(fileSize)
                    + " bytes) to be safetensors: it needs an 8-byte header size");
        std::uint64_t headerSize = 0;
        for (int i = 7; i >= 0; --i)
            headerSize
                = (headerSize << 8) | static_cast<std::uint8_t>(m_map.bytes()[static_cast<std::size_t>(i)]);
        if (headerSize > kMaxHeaderSize)
            fail({},
                "header size " + std::to_string(headerSize)
                    + " bytes exceeds the safetensors limit of 100,000,000 (not a safetensors file?)");
        if (headerSize > fileSize - 8)
            fail({},
                "header size " + std::to_string(headerSize) + " bytes runs past the end of the file ("
                    + std::to_string(fileSize) + " bytes); the file is truncated or not safetensors");
        const auto headerBytes = m_map.slice(8, headerSize);
        const std::string_view header(reinterpret_cast<const char*>(headerBytes.data()), headerBytes.size());
        const auto first = header.find_first_not_of(" \t\r\n");
        if (first == std::string_view::npos || header[first] != '{')
            fail({}, "header does not start with '{' (not a safetensors file?)");

        std::set<std::string> seen;
        std::string duplicate;
        nlohmann::ordered_json json;
        try {
            json = nlohmann::ordered_json::parse(header,
                [&](int depth, nlohmann::ordered_json::parse_event_t event, nlohmann::ordered_json& parsed) {
                    if (depth == 1 && event == nlohmann::ordered_json::parse_event_t::key && duplicate.empty()
                        && !seen.insert(parsed.get<std::string>()).second)
                        duplicate = parsed.get<std::string>();
                    return true;
                });
        } catch (const nlohmann::json::exception& e) {
            fail({}, std::string("header is not valid JSON: ") + e.what());
        }
        if (!duplicate.empty())
            fail(duplicate, "the header names this tensor twice");
        if (!json.is_object())
            fail({}, "header is not a JSON object");

        const std::uint64_t dataStart = 8 + headerSize;
        const std::uint64_t bufferSize = fileSize - dataStart;
        std::vector<Entry> entries;
        for (const auto& [name, value] : json.items()) {
            if (name == "__metadata__") {
                if (!value.is_object())
                    fail({}, "__metadata__ must be an object of strings");
                for (const auto& [key, item] : value.items())
                    if (!item.is_string())
                        fail({}, "__metadata__ value '" + key + "' is not a string");
                continue;
            }
            entries.push_back(parseEntry(name, value, dataStart));
        }

        std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
            return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
        });
        std::uint64_t expected = 0;
        for (const Entry& e : entries) {
            if (e.begin < expected)
                fail(e.info.name,
                    "data bytes " + std::to_string(e.begin) + ".." + std::to_string(e.end)
                        + " overlap the previous tensor's data (which ends at " + std::to_string(expected)
                        + ")");
            if (e.begin > expected)
                fail(e.info.name,
                    "there is a gap of " + std::to_string(e.begin - expected)
                        + " unused bytes before this tensor's data (offsets must be contiguous)");
            if (e.end > bufferSize)
                fail(e.info.name,
                    "data bytes " + std::to_string(e.begin) + ".." + std::to_string(e.end)
                        + " run past the end of the data buffer (" + std::to_string(bufferSize)
                        + " bytes); the file is truncated");
            expected = e.end;
        }
        if (expected != bufferSize)
            fail({},
                "the data buffer has " + std::to_string(bufferSize - expected)
                    + " bytes that no tensor uses (offsets must cover the buffer exactly)");
        for (Entry& e : entries)
            m_infos.push_back(std::move(e.info));
    }

    Entry parseEntry(
        const std::string& name, const nlohmann::ordered_json& value, std::uint64_t dataStart) const
    {
        if (!value.is_object())
            fail(name, "header entry is not an object");
        const auto dtype = value.find("dtype");
        const auto shape = value.find("shape");
        const auto offsets = value.find("data_offsets");
        if (dtype == value.end() || !dtype->is_string())
            fail(name, "header entry has no string \"dtype\"");
        if (shape == value.end() || !shape->is_array())
            fail(name, "header entry has no \"shape\" array");
        if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2)
            fail(name, "header entry has no \"data_offsets\" pair");

        Entry e;
        e.info.name = name;
        e.info.file = m_path;
        e.info.dtypeName = dtype->get<std::string>();
        e.info.dtype = dtypeFromName(e.info.dtypeName);
        const int bits = safetensorsBits(e.info.dtypeName);
        if (bits == 0)
            fail(name, "unknown dtype \"" + e.info.dtypeName + "\"");
        for (const auto& dim : *shape) {
            if (!dim.is_number_unsigned())
                fail(name, "shape " + shape->dump() + " must hold non-negative integers");
            e.info.shape.push_back(static_cast<std::int64_t>(dim.get<std::uint64_t>()));
        }
        for (const auto& offset : *offsets)
            if (!offset.is_number_unsigned())
                fail(name, "data_offsets " + offsets->dump() + " must be non-negative integers");
        e.begin = (*offsets)[0].get<std::uint64_t>();
        e.end = (*offsets)[1].get<std::uint64_t>();
        if (e.end < e.begin)
            fail(name, "data_offsets " + offsets->dump() + " end before they begin");

        std::int64_t count = 0;
        try {
            count = shapeElementCount(e.info.shape);
        } catch (const Error& error) {
            fail(name, error.what());
        }
        const auto totalBits = static_cast<unsigned __int128>(count) * static_cast<unsigned>(bits);
        if (totalBits % 8 != 0)
            fail(name,
                "shape " + shapeToString(e.info.shape) + " of " + e.info.dtypeName
                    + " does not fill a whole number of bytes");
        const auto expectedBytes = totalBits / 8;
        if (expectedBytes != e.end - e.begin)
            fail(name,
                "shape " + shapeToString(e.info.shape) + " of " + e.info.dtypeName + " needs "
                    + std::to_string(static_cast<std::uint64_t>(expectedBytes)) + " bytes but data_offsets "
                    + offsets->dump() + " hold " + std::to_string(e.end - e.begin));
        e.info.byteSize = e.end - e.begin;
        e.info.offset = dataStart + e.begin;
        e.info.location = "bytes " + std::to_string(e.info.offset) + ".."
            + std::to_string(e.info.offset + e.info.byteSize);
        return e;
    }

    std::string m_path;
    MappedFile m_map;
    std::vector<TensorInfo> m_infos;
};

} // namespace

std::unique_ptr<TensorFile> openSafetensors(const std::string& path)
{
    return std::make_unique<SafetensorsFile>(path);
}

} // namespace qs
