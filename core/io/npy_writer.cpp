#include "base/error.h"
#include "io/npy_header.h"
#include "io/writers.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <unistd.h>
#include <zip.h>

namespace qs {

namespace {

[[noreturn]] void fail(std::string_view path, std::string_view tensor, const std::string& problem)
{
    if (path.empty())
        throw Error("tensor '" + std::string(tensor) + "': " + problem);
    throwFileError(path, tensor, problem);
}

/// The .npy header for `tensor`, after checking that NumPy can represent it and that its bytes fill its
/// shape.
std::vector<std::byte> headerFor(const RawTensor& tensor, std::string_view path)
{
    const std::string descr = npyDescr(tensor.dtype);
    if (descr.empty()) {
        const std::string numpyName
            = tensor.dtype == DType::BF16 ? "bfloat16" : std::string(dtypeName(tensor.dtype));
        fail(path, tensor.name,
            "cannot be saved as .npy: NumPy has no " + numpyName
                + " type (convert the tensor to F32 or F16 first)");
    }
    std::int64_t count = 0;
    try {
        count = shapeElementCount(tensor.shape);
    } catch (const Error& error) {
        fail(path, tensor.name, error.what());
    }
    const std::uint64_t itemSize = dtypeSize(tensor.dtype);
    const auto elements = static_cast<std::uint64_t>(count);
    if (elements > std::numeric_limits<std::uint64_t>::max() / itemSize
        || tensor.data.size() != elements * itemSize)
        fail(path, tensor.name,
            "holds " + std::to_string(tensor.data.size()) + " data bytes, but shape "
                + shapeToString(tensor.shape) + " of " + std::string(dtypeName(tensor.dtype)) + " needs "
                + std::to_string(elements) + " x " + std::to_string(itemSize) + " bytes");
    return formatNpyHeader(descr, tensor.shape);
}

std::vector<std::byte> encode(const RawTensor& tensor, std::string_view path)
{
    std::vector<std::byte> bytes = headerFor(tensor, path);
    bytes.insert(bytes.end(), tensor.data.begin(), tensor.data.end());
    return bytes;
}

std::string temporaryNameFor(const std::string& path)
{
    namespace fs = std::filesystem;
    const fs::path target(path);
    const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::random_device entropy;
    std::string name = target.filename().string();
    name.insert(name.begin(), '.');
    name += ".tmp-";
    name += std::to_string(entropy());
    return (folder / name).string();
}

/// Owns a libzip archive being written to a temporary file; the file is removed unless commit() succeeds.
class ZipWriter {
public:
    explicit ZipWriter(const std::string& path)
        : m_path(path)
        , m_temporary(temporaryNameFor(path))
    {
        int code = 0;
        m_zip = zip_open(m_temporary.c_str(), ZIP_CREATE | ZIP_EXCL, &code);
        if (!m_zip) {
            zip_error_t error;
            zip_error_init_with_code(&error, code);
            const std::string reason = zip_error_strerror(&error);
            zip_error_fini(&error);
            throwFileError(path, {}, "cannot write: " + reason);
        }
    }

    ~ZipWriter()
    {
        if (m_zip)
            zip_discard(m_zip);
        if (!m_committed)
            ::unlink(m_temporary.c_str());
    }
    ZipWriter(const ZipWriter&) = delete;
    ZipWriter& operator=(const ZipWriter&) = delete;

    /// Adds `header` followed by `data` as one member. Both must stay alive until commit().
    void add(const std::string& member, std::span<const std::byte> header, std::span<const std::byte> data,
        bool compress)
    {
        zip_buffer_fragment_t fragments[2] = {
            {const_cast<zip_uint8_t*>(reinterpret_cast<const zip_uint8_t*>(header.data())), header.size()},
            {const_cast<zip_uint8_t*>(reinterpret_cast<const zip_uint8_t*>(data.data())), data.size()},
        };
        zip_source_t* source = zip_source_buffer_fragment(m_zip, fragments, data.empty() ? 1 : 2, 0);
        if (!source)
            failZip("cannot add member '" + member + "'");
        const zip_int64_t index = zip_file_add(m_zip, member.c_str(), source, ZIP_FL_ENC_UTF_8);
        if (index < 0) {
            zip_source_free(source);
            failZip("cannot add member '" + member + "'");
        }
        if (zip_set_file_compression(
                m_zip, static_cast<zip_uint64_t>(index), compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0)
            != 0)
            failZip("cannot set the compression of member '" + member + "'");
        // A fixed timestamp (1980-01-01 00:00, what np.savez writes) keeps archives byte-for-byte
        // reproducible.
        if (zip_file_set_dostime(m_zip, static_cast<zip_uint64_t>(index), 0, 0x0021, 0) != 0)
            failZip("cannot set the time of member '" + member + "'");
    }

    void commit()
    {
        if (zip_close(m_zip) != 0)
            failZip("cannot write the archive");
        m_zip = nullptr;
        // zip_close does not fsync; without it a crash right after the rename could leave an empty file.
        const int fd = ::open(m_temporary.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::fsync(fd) != 0) {
            const int err = errno;
            if (fd >= 0)
                ::close(fd);
            throwFileError(m_path, {}, std::string("write failed: ") + std::strerror(err));
        }
        ::close(fd);
        if (::rename(m_temporary.c_str(), m_path.c_str()) != 0)
            throwFileError(m_path, {}, std::string("cannot replace the file: ") + std::strerror(errno));
        m_committed = true;
    }

private:
    [[noreturn]] void failZip(const std::string& what) const
    {
        throwFileError(m_path, {}, what + ": " + zip_strerror(m_zip));
    }

    std::string m_path;
    std::string m_temporary;
    zip_t* m_zip = nullptr;
    bool m_committed = false;
};

} // namespace

std::vector<std::byte> encodeNpy(const RawTensor& tensor)
{
    return encode(tensor, {});
}

void writeNpy(const std::string& path, const RawTensor& tensor)
{
    writeFileAtomically(path, encode(tensor, path));
}

void writeNpz(const std::string& path, const std::vector<RawTensor>& tensors, bool compress)
{
    std::vector<std::vector<std::byte>> headers;
    std::set<std::string> names;
    for (const RawTensor& tensor : tensors) {
        if (tensor.name.empty())
            throwFileError(path, {}, "a tensor without a name cannot become an .npz member");
        if (!names.insert(tensor.name).second)
            throwFileError(path, tensor.name, "two tensors have this name; .npz member names must be unique");
        headers.push_back(headerFor(tensor, path));
    }
    if (tensors.empty()) {
        // libzip deletes an archive left without members, so write the 22-byte end record NumPy would write.
        std::vector<std::byte> empty(22, std::byte {0});
        const unsigned char signature[] = {'P', 'K', 5, 6};
        std::memcpy(empty.data(), signature, sizeof signature);
        writeFileAtomically(path, empty);
        return;
    }
    ZipWriter writer(path);
    for (std::size_t i = 0; i < tensors.size(); ++i)
        writer.add(tensors[i].name + ".npy", headers[i], tensors[i].data, compress);
    writer.commit();
}

} // namespace qs
