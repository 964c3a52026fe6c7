#pragma once

#include "tensor/tensor.h"

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace qs {

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, then rename.
/// A failed write leaves any existing file untouched. Throws qs::Error naming the file.
void writeFileAtomically(const std::string& path, std::span<const std::byte> bytes);

/// One tensor to write in its source dtype: `data` holds elementCount(shape) * dtypeSize(dtype) bytes,
/// little-endian, row-major.
struct RawTensor {
    std::string name;
    Shape shape;
    DType dtype = DType::F32;
    std::vector<std::byte> data;
};

/// Raw bytes of a float32 tensor converted to `dtype` (F32, F16 and BF16 round to nearest even; F64 exact;
/// integer types round to nearest even and saturate). Throws qs::Error for other dtypes.
RawTensor toRawTensor(const Tensor& tensor, DType dtype);

/// Safetensors: 8-byte header size, JSON header padded with spaces to a multiple of 8, tensors stored
/// contiguously in the given order. `metadata` becomes "__metadata__". Atomic.
void writeSafetensors(const std::string& path, const std::vector<RawTensor>& tensors,
    const std::map<std::string, std::string>& metadata = {});

/// Serialises one array as .npy version 1.0 (little-endian, C order, header padded to 64 bytes).
std::vector<std::byte> encodeNpy(const RawTensor& tensor);
/// Writes one array as .npy. Atomic.
void writeNpy(const std::string& path, const RawTensor& tensor);
/// Writes a .npz archive with one member "<name>.npy" per tensor, deflated when `compress`. Atomic.
void writeNpz(const std::string& path, const std::vector<RawTensor>& tensors, bool compress);

/// One HDF5 dataset: `path` like "/calib/batch_0" (groups are created as needed), float32 data,
/// optionally chunked (`chunk` has one entry per dimension) and deflate-compressed (level 1..9; 0 = none).
struct Hdf5Dataset {
    std::string path;
    Tensor tensor;
    Shape chunk;
    int deflateLevel = 0;
};
/// Writes an HDF5 file holding the given datasets. Atomic (written to a temporary name, then renamed).
void writeHdf5(const std::string& path, const std::vector<Hdf5Dataset>& datasets);

} // namespace qs
