#include "io/tensor_file.h"

#include "base/error.h"
#include "io/readers.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>

namespace qs {

const TensorInfo* TensorFile::find(std::string_view name) const
{
    const auto& all = tensors();
    auto it = std::find_if(all.begin(), all.end(), [&](const TensorInfo& info) { return info.name == name; });
    return it == all.end() ? nullptr : &*it;
}

namespace {

bool endsWith(std::string_view text, std::string_view suffix)
{
    if (text.size() < suffix.size())
        return false;
    return std::equal(suffix.rbegin(), suffix.rend(), text.rbegin(),
        [](char a, char b) { return std::tolower(a) == std::tolower(b); });
}

} // namespace

std::unique_ptr<TensorFile> TensorFile::open(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throwFileError(path, {}, "cannot open the file (it does not exist or is not readable)");
    std::array<unsigned char, 16> head {};
    in.read(reinterpret_cast<char*>(head.data()), head.size());
    const auto got = static_cast<std::size_t>(in.gcount());

    static constexpr unsigned char npyMagic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    static constexpr unsigned char zipMagic[] = {'P', 'K', 0x03, 0x04};
    static constexpr unsigned char emptyZipMagic[] = {'P', 'K', 0x05, 0x06};
    static constexpr unsigned char hdf5Magic[] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1A, '\n'};

    if (got >= 6 && std::memcmp(head.data(), npyMagic, 6) == 0)
        return openNpy(path);
    if (got >= 4
        && (std::memcmp(head.data(), zipMagic, 4) == 0 || std::memcmp(head.data(), emptyZipMagic, 4) == 0))
        return openNpz(path);
    if (got >= 8 && std::memcmp(head.data(), hdf5Magic, 8) == 0)
        return openHdf5(path);
    if (endsWith(path, ".safetensors.index.json") || endsWith(path, ".index.json"))
        return openSafetensorsIndex(path);
    if (endsWith(path, ".safetensors"))
        return openSafetensors(path);
    if (got >= 9 && head[8] == '{')
        return openSafetensors(path);
    if (endsWith(path, ".npy"))
        return openNpy(path);
    if (endsWith(path, ".npz"))
        return openNpz(path);
    if (endsWith(path, ".h5") || endsWith(path, ".hdf5") || endsWith(path, ".he5"))
        return openHdf5(path);
    if (got == 0)
        throwFileError(path, {}, "the file is empty");
    throwFileError(path, {},
        "unrecognised file type (expected safetensors, a .safetensors.index.json, npy, npz or HDF5)");
}

} // namespace qs
