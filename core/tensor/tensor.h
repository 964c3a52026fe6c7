#pragma once

#include "tensor/dtype.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qs {

/// Shape in row-major (C) order: the last axis is contiguous. An empty shape is a scalar (one element);
/// a zero in any dimension is an empty tensor.
using Shape = std::vector<std::int64_t>;

/// Number of elements of a shape (1 for a scalar). Throws qs::Error on a negative dimension or overflow.
std::int64_t shapeElementCount(const Shape& shape);

/// "[4096, 11008]" (and "[]" for a scalar).
std::string shapeToString(const Shape& shape);

/// What a file says about one tensor, read without loading its data.
struct TensorInfo {
    std::string name; ///< full name: safetensors key, npz member stem, HDF5 dataset path "/group/ds"
    Shape shape; ///< row-major; readers of column-major data report the logical row-major shape
    DType dtype = DType::Unsupported;
    std::string dtypeName; ///< the file's own spelling, e.g. "BF16", "<f4", "H5T_IEEE_F32LE", "F8_E8M0"
    std::uint64_t byteSize = 0; ///< bytes the data occupies in the source (compressed size where applicable)
    std::string file; ///< file that holds the data (a shard for sharded checkpoints)
    std::uint64_t offset = 0; ///< byte offset of the data in `file`, when the data is stored contiguously
    std::string location; ///< human-readable description: "bytes 128..4224", "chunked, deflate"

    std::int64_t elementCount() const { return shapeElementCount(shape); }
    bool loadable() const { return dtype != DType::Unsupported; }
    bool operator==(const TensorInfo&) const = default;
};

/// A tensor converted to float32, row-major. `data.size() == shapeElementCount(shape)`.
struct Tensor {
    std::string name;
    Shape shape;
    std::vector<float> data;

    std::int64_t elementCount() const { return static_cast<std::int64_t>(data.size()); }
    std::span<const float> values() const { return data; }
    bool operator==(const Tensor&) const = default;
};

} // namespace qs
