#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace qs {

/// The one exception type the core throws for bad input: a truncated file, a wrong dtype, an absurd
/// parameter. `what()` is a complete, user-facing sentence that names the file and tensor when known.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message)
        : std::runtime_error(message)
    {
    }
};

/// Builds "FILE: tensor 'NAME': PROBLEM" (the tensor part is left out when `tensor` is empty).
/// Only the file name is printed, not the full path, so messages stay readable in dialogs.
std::string fileErrorMessage(std::string_view path, std::string_view tensor, std::string_view problem);

/// Throws qs::Error with fileErrorMessage(path, tensor, problem).
[[noreturn]] void throwFileError(std::string_view path, std::string_view tensor, std::string_view problem);

} // namespace qs
