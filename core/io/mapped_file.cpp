#include "io/mapped_file.h"

#include "base/error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace qs {

MappedFile::MappedFile(const std::string& path)
    : m_path(path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throwFileError(path, {}, std::string("cannot open: ") + std::strerror(errno));
    struct stat st { };
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throwFileError(path, {}, std::string("cannot stat: ") + std::strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        throwFileError(path, {}, "is a folder, not a file");
    }
    m_size = static_cast<std::size_t>(st.st_size);
    if (m_size > 0) {
        void* mapping = ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (mapping == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throwFileError(path, {}, std::string("cannot map into memory: ") + std::strerror(err));
        }
        m_data = static_cast<const std::byte*>(mapping);
    }
    ::close(fd);
}

MappedFile::~MappedFile()
{
    if (m_data)
        ::munmap(const_cast<std::byte*>(m_data), m_size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : m_path(std::move(other.m_path))
    , m_data(std::exchange(other.m_data, nullptr))
    , m_size(std::exchange(other.m_size, 0))
{
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept
{
    if (this != &other) {
        if (m_data)
            ::munmap(const_cast<std::byte*>(m_data), m_size);
        m_path = std::move(other.m_path);
        m_data = std::exchange(other.m_data, nullptr);
        m_size = std::exchange(other.m_size, 0);
    }
    return *this;
}

std::span<const std::byte> MappedFile::slice(
    std::uint64_t offset, std::uint64_t length, std::string_view what) const
{
    if (offset > m_size || length > m_size - offset) {
        throwFileError(m_path, what,
            "data bytes " + std::to_string(offset) + ".." + std::to_string(offset + length)
                + " lie past the end of the file (" + std::to_string(m_size)
                + " bytes); the file is truncated or its header is wrong");
    }
    return {m_data + offset, static_cast<std::size_t>(length)};
}

} // namespace qs
