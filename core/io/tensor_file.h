#pragma once

#include "tensor/tensor.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

/// One open tensor file (or a sharded checkpoint). `open` reads only the metadata; `load` reads and converts
/// one tensor. Every method may be called from several threads at once once the file is open.
/// All problems are reported as qs::Error naming the file, the tensor and the problem.
class TensorFile {
public:
    virtual ~TensorFile() = default;

    /// The path that was opened (for a sharded checkpoint, the index file).
    virtual const std::string& path() const = 0;

    /// "safetensors", "safetensors (sharded)", "npy", "npz", "hdf5".
    virtual std::string formatName() const = 0;

    /// Every tensor in file order, including those whose dtype cannot be loaded.
    virtual const std::vector<TensorInfo>& tensors() const = 0;

    /// Reads tensor `name` and converts it to float32. Throws qs::Error for an unknown name, an unsupported
    /// dtype, or data that is missing or inconsistent.
    virtual Tensor load(std::string_view name) const = 0;

    /// The info of tensor `name`, or nullptr.
    const TensorInfo* find(std::string_view name) const;

    /// Opens `path`, choosing the reader by content (magic bytes) and then by extension:
    /// safetensors, *.safetensors.index.json, npy, npz, HDF5 (.h5/.hdf5). Throws qs::Error otherwise.
    static std::unique_ptr<TensorFile> open(const std::string& path);
};

} // namespace qs
