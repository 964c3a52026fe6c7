#pragma once

#include "io/tensor_file.h"

#include <memory>
#include <string>

namespace qs {

/// One factory per file format; TensorFile::open picks among them. Each reads only metadata and throws
/// qs::Error naming the file and the problem when the file is not a valid instance of its format.
std::unique_ptr<TensorFile> openSafetensors(const std::string& path);
/// `*.safetensors.index.json` with a "weight_map" {tensor: shard file}; shards resolved next to the index.
std::unique_ptr<TensorFile> openSafetensorsIndex(const std::string& path);
/// NumPy .npy, format versions 1.0, 2.0 and 3.0, either byte order, C or Fortran order.
std::unique_ptr<TensorFile> openNpy(const std::string& path);
/// NumPy .npz (a zip of .npy members, stored or deflated); tensor names are member names without ".npy".
std::unique_ptr<TensorFile> openNpz(const std::string& path);
/// HDF5: every numeric dataset in every group; the tensor name is the dataset path ("/group/dataset").
std::unique_ptr<TensorFile> openHdf5(const std::string& path);

} // namespace qs
