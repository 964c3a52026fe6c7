#include "base/error.h"
#include "tensor/tensor.h"

#include <limits>

namespace qs {

std::int64_t shapeElementCount(const Shape& shape)
{
    std::int64_t count = 1;
    for (const std::int64_t dim : shape) {
        if (dim < 0)
            throw Error("shape " + shapeToString(shape) + " has a negative dimension");
        if (dim != 0 && count > std::numeric_limits<std::int64_t>::max() / dim)
            throw Error("shape " + shapeToString(shape) + " has more elements than fit in 64 bits");
        count *= dim;
    }
    return count;
}

std::string shapeToString(const Shape& shape)
{
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i)
            text += ", ";
        text += std::to_string(shape[i]);
    }
    return text + "]";
}

} // namespace qs
