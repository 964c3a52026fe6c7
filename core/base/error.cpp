#include "base/error.h"

#include <filesystem>
#include <sstream>

namespace qs {

std::string fileErrorMessage(std::string_view path, std::string_view tensor, std::string_view problem)
{
    std::string name = std::filesystem::path(path).filename().string();
    std::ostringstream message;
    message << (name.empty() ? path : std::string_view(name)) << ": ";
    if (!tensor.empty())
        message << "tensor '" << tensor << "': ";
    message << problem;
    return message.str();
}

void throwFileError(std::string_view path, std::string_view tensor, std::string_view problem)
{
    throw Error(fileErrorMessage(path, tensor, problem));
}

} // namespace qs
