#include "export/file_digest.h"

#include "base/error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <openssl/evp.h>
#include <vector>

namespace qs {

std::string sha256OfFile(const std::string& path)
{
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file)
        throwFileError(path, {}, std::string("cannot read: ") + std::strerror(errno));
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1)
        throwFileError(path, {}, "SHA-256 is not available from libcrypto");
    std::vector<unsigned char> buffer(std::size_t(1) << 20);
    for (;;) {
        const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
        if (n > 0 && EVP_DigestUpdate(context.get(), buffer.data(), n) != 1)
            throwFileError(path, {}, "SHA-256 computation failed");
        if (n < buffer.size()) {
            if (std::ferror(file.get()))
                throwFileError(path, {}, std::string("read failed: ") + std::strerror(errno));
            break;
        }
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(context.get(), digest, &length) != 1)
        throwFileError(path, {}, "SHA-256 computation failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
        hex += kHex[digest[i] >> 4];
        hex += kHex[digest[i] & 15];
    }
    return hex;
}

SourceFile describeSourceFile(const std::string& path)
{
    SourceFile source;
    source.path = path;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file || std::fseek(file.get(), 0, SEEK_END) != 0)
        throwFileError(path, {}, std::string("cannot read: ") + std::strerror(errno));
    const long size = std::ftell(file.get());
    if (size < 0)
        throwFileError(path, {}, std::string("cannot read: ") + std::strerror(errno));
    source.size = static_cast<std::uint64_t>(size);
    source.sha256 = sha256OfFile(path);
    return source;
}

} // namespace qs
