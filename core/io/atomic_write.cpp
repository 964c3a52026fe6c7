#include "base/error.h"
#include "io/writers.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <unistd.h>

namespace qs {

void writeFileAtomically(const std::string& path, std::span<const std::byte> bytes)
{
    namespace fs = std::filesystem;
    const fs::path target(path);
    const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::random_device entropy;
    std::string temporaryName = target.filename().string();
    temporaryName.insert(0, 1, '.');
    temporaryName += ".tmp-";
    temporaryName += std::to_string(entropy());
    const std::string temporary = (folder / temporaryName).string();

    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        throwFileError(path, {}, std::string("cannot write: ") + std::strerror(errno));

    std::size_t written = 0;
    while (written < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            const int err = errno;
            ::close(fd);
            ::unlink(temporary.c_str());
            throwFileError(path, {}, std::string("write failed: ") + std::strerror(err));
        }
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        const int err = errno;
        ::unlink(temporary.c_str());
        throwFileError(path, {}, std::string("write failed: ") + std::strerror(err));
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(temporary.c_str());
        throwFileError(path, {}, std::string("cannot replace the file: ") + std::strerror(err));
    }
}

} // namespace qs
