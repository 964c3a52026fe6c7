#include "base/error.h"
#include "io/hdf5_handle.h"
#include "io/hdf5_library_lock.h"
#include "io/writers.h"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <system_error>
#include <unistd.h>

namespace qs {
namespace {

namespace fs = std::filesystem;

// Names the dataset in user terms: "/calib/batch_0" (a missing leading slash means the root group).
std::string normalisedPath(const std::string& file, const std::string& path)
{
    std::string result = path.starts_with('/') ? path : "/" + path;
    if (result.size() < 2 || result.ends_with('/'))
        throwFileError(file, path, "invalid dataset path (it must name a dataset, like \"/group/dataset\")");
    std::size_t start = 1;
    while (start <= result.size()) {
        const std::size_t end = std::min(result.find('/', start), result.size());
        const std::string_view part = std::string_view(result).substr(start, end - start);
        if (part.empty() || part == "." || part == "..")
            throwFileError(file, path, "invalid dataset path (empty, \".\" or \"..\" parts are not allowed)");
        start = end + 1;
    }
    return result;
}

void validate(const std::string& file, const std::vector<Hdf5Dataset>& datasets)
{
    std::set<std::string> seen;
    for (const Hdf5Dataset& dataset : datasets) {
        const std::string path = normalisedPath(file, dataset.path);
        if (!seen.insert(path).second)
            throwFileError(file, path, "the dataset path appears twice");
        std::int64_t elements = 0;
        try {
            elements = shapeElementCount(dataset.tensor.shape);
        } catch (const Error& error) {
            throwFileError(file, path, error.what());
        }
        if (static_cast<std::uint64_t>(elements) != dataset.tensor.data.size())
            throwFileError(file, path,
                "the shape " + shapeToString(dataset.tensor.shape) + " needs " + std::to_string(elements)
                    + " values but " + std::to_string(dataset.tensor.data.size()) + " were given");
        if (dataset.deflateLevel < 0 || dataset.deflateLevel > 9)
            throwFileError(file, path, "the deflate level must be 0 (none) to 9");
        if (dataset.chunk.empty()) {
            if (dataset.deflateLevel > 0)
                throwFileError(file, path, "deflate compression needs a chunk shape");
            continue;
        }
        const Shape& shape = dataset.tensor.shape;
        bool fits = dataset.chunk.size() == shape.size() && !shape.empty();
        for (std::size_t i = 0; fits && i < shape.size(); ++i)
            fits = dataset.chunk[i] > 0 && (shape[i] == 0 || dataset.chunk[i] <= shape[i]);
        if (!fits)
            throwFileError(file, path,
                "the chunk shape " + shapeToString(dataset.chunk) + " does not fit the shape "
                    + shapeToString(shape)
                    + " (one positive entry per dimension, none larger than the dimension)");
    }
}

std::string temporaryPathFor(const std::string& path)
{
    static std::atomic<unsigned> counter {0};
    return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

void writeDataset(const std::string& file, hid_t handle, const Hdf5Dataset& dataset)
{
    const std::string path = normalisedPath(file, dataset.path);
    const Shape& shape = dataset.tensor.shape;
    auto fail
        = [&](const std::string& what) { throwFileError(file, path, "cannot " + what + hdf5ErrorDetail()); };

    std::vector<hsize_t> dims(shape.begin(), shape.end());
    std::vector<hsize_t> maxDims = dims;
    Hdf5Handle dcpl = hdf5PropertyList(H5Pcreate(H5P_DATASET_CREATE));
    if (!dcpl.valid())
        fail("create the dataset properties");
    // Modification times would make identical data give different files.
    H5Pset_obj_track_times(dcpl.get(), false);
    if (!dataset.chunk.empty()) {
        const std::vector<hsize_t> chunk(dataset.chunk.begin(), dataset.chunk.end());
        // HDF5 refuses a chunk larger than a fixed dimension, so empty dimensions are made extendible.
        for (std::size_t i = 0; i < dims.size(); ++i) {
            if (dims[i] == 0)
                maxDims[i] = H5S_UNLIMITED;
        }
        if (H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()) < 0)
            fail("set the chunk shape");
        if (dataset.deflateLevel > 0
            && H5Pset_deflate(dcpl.get(), static_cast<unsigned>(dataset.deflateLevel)) < 0)
            fail("enable deflate compression");
    }

    Hdf5Handle space = hdf5Dataspace(shape.empty()
            ? H5Screate(H5S_SCALAR)
            : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), maxDims.data()));
    Hdf5Handle lcpl = hdf5PropertyList(H5Pcreate(H5P_LINK_CREATE));
    if (!space.valid() || !lcpl.valid() || H5Pset_create_intermediate_group(lcpl.get(), 1) < 0)
        fail("prepare the dataset");
    Hdf5Handle created = hdf5Dataset(
        H5Dcreate2(handle, path.c_str(), H5T_IEEE_F32LE, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT));
    if (!created.valid())
        fail("create the dataset (does its path clash with another dataset or group?)");
    if (!dataset.tensor.data.empty()
        && H5Dwrite(
               created.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dataset.tensor.data.data())
            < 0)
        fail("write the data");
}

void writeFile(
    const std::string& path, const std::string& temporary, const std::vector<Hdf5Dataset>& datasets)
{
    Hdf5LibraryLock lock;
    Hdf5Handle access = hdf5PropertyList(H5Pcreate(H5P_FILE_ACCESS));
    if (!access.valid())
        throwFileError(path, {}, "cannot prepare the HDF5 file" + hdf5ErrorDetail());
    // The temporary file is ours alone: closing it must really close it before it is synced and renamed.
    H5Pset_fclose_degree(access.get(), H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(access.get(), true, true);
#endif
    Hdf5Handle file = hdf5File(H5Fcreate(temporary.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, access.get()));
    if (!file.valid())
        throwFileError(
            path, {}, "cannot create a temporary file in the folder (is it writable?)" + hdf5ErrorDetail());
    for (const Hdf5Dataset& dataset : datasets)
        writeDataset(path, file.get(), dataset);
    if (!file.close())
        throwFileError(path, {}, "cannot finish writing the file" + hdf5ErrorDetail());
}

// HDF5 only writes; without fsync a crash soon after the rename could leave an empty file in its place.
void syncFile(const std::string& path, const std::string& temporary)
{
    const int fd = ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throwFileError(path, {}, "cannot sync the written file: " + std::generic_category().message(errno));
    const int status = ::fsync(fd);
    const int savedErrno = errno;
    ::close(fd);
    if (status != 0)
        throwFileError(
            path, {}, "cannot sync the written file: " + std::generic_category().message(savedErrno));
}

// Best effort: the new file is already in place, so a folder that cannot be synced is no reason to fail.
void syncFolder(const std::string& folder)
{
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

} // namespace

void writeHdf5(const std::string& path, const std::vector<Hdf5Dataset>& datasets)
{
    validate(path, datasets);
    const fs::path target(path);
    const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::error_code error;
    if (!fs::is_directory(folder, error))
        throwFileError(path, {}, "cannot write the file: the folder " + folder.string() + " does not exist");

    const std::string temporary = temporaryPathFor(path);
    try {
        writeFile(path, temporary, datasets);
        syncFile(path, temporary);
        fs::rename(temporary, target, error);
        if (error)
            throwFileError(path, {}, "cannot replace the file: " + error.message());
    } catch (...) {
        fs::remove(temporary, error);
        throw;
    }
    syncFolder(folder.string());
}

} // namespace qs
