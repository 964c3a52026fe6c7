#include "base/error.h"
#include "io/mapped_file.h"
#include "io/npy_header.h"
#include "io/readers.h"

#include <algorithm>
#include <new>
#include <set>
#include <zip.h>

namespace qs {

namespace {

constexpr std::string_view kMemberSuffix = ".npy";
// Deflate cannot compress better than about 1032:1, so a larger claimed size is a corrupt or hostile archive
// that would otherwise make us allocate (and zero) memory the data can never fill.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
constexpr std::size_t kReadChunkBytes = 1u << 20;

/// A libzip handle on the mapped archive. libzip handles are not thread-safe, so every load opens its own;
/// parsing the central directory from memory is cheap next to inflating a tensor.
class ZipArchive {
public:
    explicit ZipArchive(const MappedFile& file)
    {
        zip_error_t error;
        zip_error_init(&error);
        zip_source_t* source = zip_source_buffer_create(file.bytes().data(), file.size(), 0, &error);
        if (source)
            m_zip = zip_open_from_source(source, ZIP_RDONLY, &error);
        if (!m_zip) {
            const std::string reason = zip_error_strerror(&error);
            zip_error_fini(&error);
            if (source)
                zip_source_free(source);
            throwFileError(file.path(), {},
                "not a readable .npz (zip) archive: " + reason + " (the file is truncated or corrupt)");
        }
        zip_error_fini(&error);
    }
    ~ZipArchive() { zip_discard(m_zip); }
    ZipArchive(const ZipArchive&) = delete;
    ZipArchive& operator=(const ZipArchive&) = delete;

    zip_t* get() const { return m_zip; }

private:
    zip_t* m_zip = nullptr;
};

/// One member opened for reading; reads report libzip's complaint (CRC error, zlib error) as qs::Error.
class ZipMember {
public:
    ZipMember(const ZipArchive& archive, zip_uint64_t index, std::string_view path, std::string_view member,
        std::string_view tensor)
        : m_path(path)
        , m_member(member)
        , m_tensor(tensor)
    {
        m_file = zip_fopen_index(archive.get(), index, 0);
        if (!m_file)
            throwFileError(
                m_path, m_tensor, "cannot read member '" + m_member + "': " + zip_strerror(archive.get()));
    }
    ~ZipMember() { zip_fclose(m_file); }
    ZipMember(const ZipMember&) = delete;
    ZipMember& operator=(const ZipMember&) = delete;

    /// Reads up to `size` bytes; fewer only at the end of the member.
    std::size_t read(std::byte* out, std::size_t size)
    {
        std::size_t done = 0;
        while (done < size) {
            const zip_int64_t n = zip_fread(m_file, out + done, size - done);
            if (n < 0)
                throwFileError(m_path, m_tensor,
                    "cannot read member '" + m_member + "': " + zip_file_strerror(m_file)
                        + " (the archive is corrupt)");
            if (n == 0)
                break;
            done += static_cast<std::size_t>(n);
        }
        return done;
    }

    /// libzip verifies the CRC only when a read reaches the end of the member, so data errors in the last
    /// bytes show up here.
    void finish()
    {
        std::byte rest[256];
        while (read(rest, sizeof rest) == sizeof rest) { }
    }

private:
    std::string m_path;
    std::string m_member;
    std::string m_tensor;
    zip_file_t* m_file = nullptr;
};

struct Member {
    zip_uint64_t index = 0;
    std::string name;
    NpyHeader header;
};

class NpzFile final : public TensorFile {
public:
    explicit NpzFile(const std::string& path)
        : m_path(path)
        , m_file(path)
    {
        if (m_file.size() == 0)
            throwFileError(path, {}, "the file is empty; a .npz (zip) archive was expected");
        const ZipArchive archive(m_file);
        const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
        std::set<std::string> names;
        for (zip_int64_t i = 0; i < entries; ++i) {
            zip_stat_t stat;
            zip_stat_init(&stat);
            if (zip_stat_index(archive.get(), static_cast<zip_uint64_t>(i), 0, &stat) != 0 || !stat.name)
                throwFileError(
                    path, {}, "cannot read the zip directory: " + std::string(zip_strerror(archive.get())));
            const std::string_view memberName = stat.name;
            if (!memberName.ends_with(kMemberSuffix))
                continue;
            Member member;
            member.index = static_cast<zip_uint64_t>(i);
            member.name = memberName;
            const std::string tensorName(memberName.substr(0, memberName.size() - kMemberSuffix.size()));
            if (!names.insert(tensorName).second)
                throwFileError(path, tensorName, "the archive holds two members named '" + member.name + "'");
            m_tensors.push_back(describe(archive, stat, member, tensorName));
            m_members.push_back(std::move(member));
        }
    }

    const std::string& path() const override { return m_path; }
    std::string formatName() const override { return "npz"; }
    const std::vector<TensorInfo>& tensors() const override { return m_tensors; }

    Tensor load(std::string_view name) const override
    {
        const auto it = std::find_if(
            m_tensors.begin(), m_tensors.end(), [&](const TensorInfo& info) { return info.name == name; });
        if (it == m_tensors.end())
            throwFileError(m_path, name, "no such tensor in this archive");
        const TensorInfo& info = *it;
        const Member& member = m_members[static_cast<std::size_t>(it - m_tensors.begin())];
        const NpyHeader& header = member.header;
        if (!info.loadable())
            throwFileError(m_path, name, npyUnsupportedReason(header.descr));

        const auto count = static_cast<std::size_t>(info.elementCount());
        Tensor tensor {info.name, info.shape, {}};
        std::vector<float> columnMajor;
        try {
            tensor.data.resize(count);
            if (header.fortranOrder)
                columnMajor.resize(count);
        } catch (const std::bad_alloc&) {
            throwFileError(m_path, name, "not enough memory to load " + std::to_string(count) + " values");
        }

        const ZipArchive archive(m_file);
        ZipMember stream(archive, member.index, m_path, member.name, info.name);
        std::vector<std::byte> buffer(std::max<std::size_t>(header.dataOffset, kReadChunkBytes));
        if (stream.read(buffer.data(), header.dataOffset) != header.dataOffset)
            throwFileError(m_path, name, "member '" + member.name + "' ends inside its npy header");

        float* out = header.fortranOrder ? columnMajor.data() : tensor.data.data();
        const std::size_t itemSize = header.type.itemSize;
        const std::size_t chunkElements = kReadChunkBytes / itemSize;
        std::size_t done = 0;
        while (done < count) {
            const std::size_t want = std::min(chunkElements, count - done);
            const std::size_t got = stream.read(buffer.data(), want * itemSize);
            if (got != want * itemSize)
                throwFileError(m_path, name,
                    "npy header declares " + std::to_string(header.dataSize) + " data bytes but only "
                        + std::to_string(done * itemSize + got) + " remain in member '" + member.name
                        + "' (file truncated?)");
            convertToF32(info.dtype, buffer.data(), want, out + done, header.type.byteOrder);
            done += want;
        }
        stream.finish();
        if (header.fortranOrder && count > 0)
            fortranToRowMajor(columnMajor.data(), info.shape, tensor.data.data());
        return tensor;
    }

private:
    TensorInfo describe(const ZipArchive& archive, const zip_stat_t& stat, Member& member,
        const std::string& tensorName) const
    {
        ZipMember stream(archive, member.index, m_path, member.name, tensorName);
        std::vector<std::byte> head(kNpyPreambleSize);
        head.resize(stream.read(head.data(), head.size()));
        const std::uint64_t headerEnd = npyHeaderEnd(head, m_path, tensorName);
        const std::size_t have = head.size();
        head.resize(static_cast<std::size_t>(headerEnd));
        head.resize(have + stream.read(head.data() + have, head.size() - have));
        member.header = parseNpyHeader(head, m_path, tensorName);
        const NpyHeader& header = member.header;

        const bool knowSize = (stat.valid & ZIP_STAT_SIZE) != 0;
        const bool deflated = (stat.valid & ZIP_STAT_COMP_METHOD) && stat.comp_method == ZIP_CM_DEFLATE;
        const bool stored = (stat.valid & ZIP_STAT_COMP_METHOD) && stat.comp_method == ZIP_CM_STORE;
        if (knowSize && deflated && (stat.valid & ZIP_STAT_COMP_SIZE)
            && stat.size / kMaxDeflateRatio > stat.comp_size + 1)
            throwFileError(m_path, tensorName,
                "member '" + member.name + "' claims " + std::to_string(stat.size)
                    + " bytes inflated from only " + std::to_string(stat.comp_size)
                    + ", which deflate cannot do (the archive is corrupt)");
        if (knowSize) {
            const std::uint64_t remaining = stat.size > header.dataOffset ? stat.size - header.dataOffset : 0;
            if (header.dataSize > remaining)
                throwFileError(m_path, tensorName,
                    "npy header declares " + std::to_string(header.dataSize) + " data bytes but only "
                        + std::to_string(remaining) + " remain in member '" + member.name
                        + "' (file truncated?)");
        }

        TensorInfo info;
        info.name = tensorName;
        info.shape = header.shape;
        info.dtype = header.type.dtype;
        info.dtypeName = header.descr;
        info.file = m_path;
        info.location = "member '" + member.name + "'";
        if (stored) {
            info.byteSize = header.dataSize;
            info.location += ", stored";
        } else if (deflated && (stat.valid & ZIP_STAT_COMP_SIZE)) {
            info.byteSize = stat.comp_size;
            info.location += ", deflated " + std::to_string(stat.size) + " -> "
                + std::to_string(stat.comp_size) + " bytes";
        } else {
            info.byteSize = (stat.valid & ZIP_STAT_COMP_SIZE) ? stat.comp_size : header.dataSize;
            info.location += ", compressed";
        }
        if (header.fortranOrder)
            info.location += ", Fortran (column-major) order";
        return info;
    }

    std::string m_path;
    MappedFile m_file;
    std::vector<TensorInfo> m_tensors;
    std::vector<Member> m_members; ///< parallel to m_tensors
};

} // namespace

std::unique_ptr<TensorFile> openNpz(const std::string& path)
{
    return std::make_unique<NpzFile>(path);
}

} // namespace qs
