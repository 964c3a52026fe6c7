#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace qs {

/// A read-only memory mapping of a whole file (POSIX mmap). Listing a multi-GB checkpoint touches only the
/// pages that are read. Move-only. Throws qs::Error (naming the file) when the file cannot be opened or
/// mapped. An empty file maps to an empty span.
class MappedFile {
public:
    MappedFile() = default;
    explicit MappedFile(const std::string& path);
    ~MappedFile();
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::string& path() const { return m_path; }
    std::span<const std::byte> bytes() const { return {m_data, m_size}; }
    std::size_t size() const { return m_size; }

    /// Bytes [offset, offset+length). Throws qs::Error (naming `what`) when the range is not inside the file.
    std::span<const std::byte> slice(
        std::uint64_t offset, std::uint64_t length, std::string_view what = {}) const;

private:
    std::string m_path;
    const std::byte* m_data = nullptr;
    std::size_t m_size = 0;
};

} // namespace qs
