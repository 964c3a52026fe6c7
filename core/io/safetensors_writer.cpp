#include "base/error.h"
#include "io/writers.h"

#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

namespace qs {

void writeSafetensors(const std::string& path, const std::vector<RawTensor>& tensors,
    const std::map<std::string, std::string>& metadata)
{
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::set<std::string> names;
    std::uint64_t offset = 0;
    for (const RawTensor& t : tensors) {
        if (t.name.empty() || t.name == "__metadata__" || !names.insert(t.name).second)
            throwFileError(path, t.name, "tensor names must be unique, non-empty and not \"__metadata__\"");
        const auto expected = static_cast<std::uint64_t>(shapeElementCount(t.shape)) * dtypeSize(t.dtype);
        if (t.dtype == DType::Unsupported || expected != t.data.size())
            throwFileError(path, t.name,
                "holds " + std::to_string(t.data.size()) + " bytes but shape " + shapeToString(t.shape)
                    + " of " + std::string(dtypeName(t.dtype)) + " needs " + std::to_string(expected));
        header[t.name] = {{"dtype", dtypeName(t.dtype)}, {"shape", t.shape},
            {"data_offsets", {offset, offset + t.data.size()}}};
        offset += t.data.size();
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');

    std::vector<std::byte> bytes(8 + text.size() + offset);
    std::uint64_t headerSize = text.size();
    for (int i = 0; i < 8; ++i)
        bytes[static_cast<std::size_t>(i)] = static_cast<std::byte>((headerSize >> (8 * i)) & 0xFF);
    std::memcpy(bytes.data() + 8, text.data(), text.size());
    std::size_t position = 8 + text.size();
    for (const RawTensor& t : tensors) {
        if (!t.data.empty())
            std::memcpy(bytes.data() + position, t.data.data(), t.data.size());
        position += t.data.size();
    }
    writeFileAtomically(path, bytes);
}

} // namespace qs
