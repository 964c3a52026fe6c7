#include "base/error.h"
#include "io/mapped_file.h"
#include "io/npy_header.h"
#include "io/readers.h"

#include <filesystem>
#include <new>

namespace qs {

namespace {

class NpyFile final : public TensorFile {
public:
    explicit NpyFile(const std::string& path)
        : m_path(path)
        , m_file(path)
    {
        m_header = parseNpyHeader(m_file.bytes(), path);
        const std::uint64_t remaining = m_file.size() - m_header.dataOffset;
        if (m_header.dataSize > remaining)
            throwFileError(path, {},
                "npy header declares " + std::to_string(m_header.dataSize) + " data bytes but only "
                    + std::to_string(remaining) + " remain (file truncated?)");

        TensorInfo info;
        info.name = std::filesystem::path(path).stem().string();
        info.shape = m_header.shape;
        info.dtype = m_header.type.dtype;
        info.dtypeName = m_header.descr;
        info.byteSize = m_header.type.itemSize ? m_header.dataSize : remaining;
        info.file = path;
        info.offset = m_header.dataOffset;
        info.location
            = "bytes " + std::to_string(info.offset) + ".." + std::to_string(info.offset + info.byteSize);
        if (m_header.fortranOrder)
            info.location += ", Fortran (column-major) order";
        m_tensors.push_back(std::move(info));
    }

    const std::string& path() const override { return m_path; }
    std::string formatName() const override { return "npy"; }
    const std::vector<TensorInfo>& tensors() const override { return m_tensors; }

    Tensor load(std::string_view name) const override
    {
        const TensorInfo& info = m_tensors.front();
        if (name != info.name)
            throwFileError(m_path, name, "no such tensor; this .npy file holds only '" + info.name + "'");
        if (!info.loadable())
            throwFileError(m_path, name, npyUnsupportedReason(m_header.descr));

        const auto count = static_cast<std::size_t>(info.elementCount());
        const std::span<const std::byte> data = m_file.slice(m_header.dataOffset, m_header.dataSize, name);
        Tensor tensor {info.name, info.shape, {}};
        try {
            tensor.data.resize(count);
            if (count == 0)
                return tensor;
            if (!m_header.fortranOrder) {
                convertToF32(info.dtype, data.data(), count, tensor.data.data(), m_header.type.byteOrder);
            } else {
                std::vector<float> columnMajor(count);
                convertToF32(info.dtype, data.data(), count, columnMajor.data(), m_header.type.byteOrder);
                fortranToRowMajor(columnMajor.data(), info.shape, tensor.data.data());
            }
        } catch (const std::bad_alloc&) {
            throwFileError(m_path, name, "not enough memory to load " + std::to_string(count) + " values");
        }
        return tensor;
    }

private:
    std::string m_path;
    MappedFile m_file;
    NpyHeader m_header;
    std::vector<TensorInfo> m_tensors;
};

} // namespace

std::unique_ptr<TensorFile> openNpy(const std::string& path)
{
    return std::make_unique<NpyFile>(path);
}

} // namespace qs
