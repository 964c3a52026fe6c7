#include "base/error.h"
#include "io/writers.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace qs {

namespace {

template<typename T> void storeAll(const Tensor& tensor, std::vector<std::byte>& out, auto convert)
{
    out.resize(tensor.data.size() * sizeof(T));
    for (std::size_t i = 0; i < tensor.data.size(); ++i) {
        const T value = convert(tensor.data[i]);
        std::memcpy(out.data() + i * sizeof(T), &value, sizeof(T));
    }
}

template<typename T> T saturatingInteger(float value)
{
    if (std::isnan(value))
        return T(0);
    const double rounded = std::nearbyint(static_cast<double>(value));
    if (rounded <= static_cast<double>(std::numeric_limits<T>::min()))
        return std::numeric_limits<T>::min();
    if (rounded >= static_cast<double>(std::numeric_limits<T>::max()))
        return std::numeric_limits<T>::max();
    return static_cast<T>(rounded);
}

} // namespace

RawTensor toRawTensor(const Tensor& tensor, DType dtype)
{
    RawTensor raw {tensor.name, tensor.shape, dtype, {}};
    if (static_cast<std::int64_t>(tensor.data.size()) != shapeElementCount(tensor.shape))
        throw Error("tensor '" + tensor.name + "': " + std::to_string(tensor.data.size())
            + " values do not fill shape " + shapeToString(tensor.shape));
    switch (dtype) {
    case DType::F32:
        storeAll<float>(tensor, raw.data, [](float v) { return v; });
        break;
    case DType::F64:
        storeAll<double>(tensor, raw.data, [](float v) { return static_cast<double>(v); });
        break;
    case DType::F16:
        storeAll<std::uint16_t>(tensor, raw.data, f32ToF16);
        break;
    case DType::BF16:
        storeAll<std::uint16_t>(tensor, raw.data, f32ToBf16);
        break;
    case DType::I8:
        storeAll<std::int8_t>(tensor, raw.data, saturatingInteger<std::int8_t>);
        break;
    case DType::U8:
        storeAll<std::uint8_t>(tensor, raw.data, saturatingInteger<std::uint8_t>);
        break;
    case DType::I16:
        storeAll<std::int16_t>(tensor, raw.data, saturatingInteger<std::int16_t>);
        break;
    case DType::U16:
        storeAll<std::uint16_t>(tensor, raw.data, saturatingInteger<std::uint16_t>);
        break;
    case DType::I32:
        storeAll<std::int32_t>(tensor, raw.data, saturatingInteger<std::int32_t>);
        break;
    case DType::I64:
        storeAll<std::int64_t>(tensor, raw.data, saturatingInteger<std::int64_t>);
        break;
    case DType::BOOL:
        storeAll<std::uint8_t>(tensor, raw.data, [](float v) { return std::uint8_t(v != 0.0f ? 1 : 0); });
        break;
    default:
        throw Error("tensor '" + tensor.name + "': writing dtype " + std::string(dtypeName(dtype))
            + " is not supported");
    }
    return raw;
}

} // namespace qs
