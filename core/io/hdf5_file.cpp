#include "base/error.h"
#include "io/hdf5_handle.h"
#include "io/hdf5_library_lock.h"
#include "io/readers.h"
#include "tensor/dtype.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <limits>
#include <new>
#include <utility>
#include <vector>

// Listing order: depth-first from the root group, each group's members in byte-wise name order (H5Ovisit
// with H5_INDEX_NAME), which is the order `h5ls -r` prints. So "/B" comes before "/a", and "/a/x" before
// "/a-b" although '-' sorts before '/'. A dataset reachable through several hard links is listed once, under
// the first path in that order; soft and external links are not followed.

namespace qs {
namespace {

// Rows are read in slabs of about this size so that peak memory stays near the size of the float32 result.
constexpr std::size_t kSlabBytes = std::size_t(16) << 20;

struct ElementType {
    DType dtype = DType::Unsupported;
    ByteOrder order = ByteOrder::Little;
    std::string name;
};

// What listing learned about one dataset that load() needs again.
struct DatasetPlan {
    ByteOrder order = ByteOrder::Little;
    hsize_t chunkRows = 0;
    std::string unloadable; ///< why load() refuses, when the dataset cannot be loaded
};

// Keeps the first reason: it is the most basic one (type, then shape, then storage).
void markUnloadable(TensorInfo& info, DatasetPlan& plan, std::string reason)
{
    info.dtype = DType::Unsupported;
    if (plan.unloadable.empty())
        plan.unloadable = std::move(reason);
}

const char* orderName(H5T_order_t order)
{
    return order == H5T_ORDER_BE ? "BE" : "LE";
}

bool knownByteOrder(H5T_order_t order)
{
    return order == H5T_ORDER_LE || order == H5T_ORDER_BE;
}

ElementType describeInteger(hid_t type)
{
    const std::size_t size = H5Tget_size(type);
    const bool isSigned = H5Tget_sign(type) == H5T_SGN_2;
    const H5T_order_t order = H5Tget_order(type);
    ElementType result;
    result.name = std::string(isSigned ? "int" : "uint") + std::to_string(size * 8);
    if (H5Tget_precision(type) != size * 8 || H5Tget_offset(type) != 0) {
        result.name = "integer (" + std::to_string(H5Tget_precision(type)) + " bits in "
            + std::to_string(size) + " bytes)";
        return result;
    }
    if (size > 1) {
        if (!knownByteOrder(order)) {
            result.name += " (mixed byte order)";
            return result;
        }
        result.name += ' ';
        result.name += orderName(order);
        result.order = order == H5T_ORDER_BE ? ByteOrder::Big : ByteOrder::Little;
    }
    switch (size) {
    case 1:
        result.dtype = isSigned ? DType::I8 : DType::U8;
        break;
    case 2:
        result.dtype = isSigned ? DType::I16 : DType::U16;
        break;
    case 4:
        result.dtype = isSigned ? DType::I32 : DType::U32;
        break;
    case 8:
        result.dtype = isSigned ? DType::I64 : DType::U64;
        break;
    default:
        break;
    }
    return result;
}

struct FloatLayout {
    DType dtype;
    const char* name;
    std::size_t size;
    std::size_t exponentPosition;
    std::size_t exponentBits;
    std::size_t mantissaBits;
    std::size_t exponentBias;
};

// HDF5 1.10 has no predefined half type; writers describe it as a custom float type with these fields.
constexpr std::array<FloatLayout, 4> kFloatLayouts = {{
    {DType::F16, "float16", 2, 10, 5, 10, 15},
    {DType::BF16, "bfloat16", 2, 7, 8, 7, 127},
    {DType::F32, "float32", 4, 23, 8, 23, 127},
    {DType::F64, "float64", 8, 52, 11, 52, 1023},
}};

ElementType describeFloat(hid_t type)
{
    const std::size_t size = H5Tget_size(type);
    const H5T_order_t order = H5Tget_order(type);
    std::size_t signPosition = 0, exponentPosition = 0, exponentBits = 0, mantissaPosition = 0,
                mantissaBits = 0;
    H5Tget_fields(type, &signPosition, &exponentPosition, &exponentBits, &mantissaPosition, &mantissaBits);
    const bool standardFrame = H5Tget_precision(type) == size * 8 && H5Tget_offset(type) == 0
        && signPosition == size * 8 - 1 && mantissaPosition == 0 && H5Tget_norm(type) == H5T_NORM_IMPLIED
        && knownByteOrder(order);

    ElementType result;
    result.name = "float (" + std::to_string(size * 8) + "-bit, custom layout)";
    if (!standardFrame)
        return result;
    for (const FloatLayout& layout : kFloatLayouts) {
        if (layout.size == size && layout.exponentPosition == exponentPosition
            && layout.exponentBits == exponentBits && layout.mantissaBits == mantissaBits
            && layout.exponentBias == H5Tget_ebias(type)) {
            result.dtype = layout.dtype;
            result.order = order == H5T_ORDER_BE ? ByteOrder::Big : ByteOrder::Little;
            result.name = std::string(layout.name) + ' ' + orderName(order);
            return result;
        }
    }
    return result;
}

std::string memberName(hid_t type, unsigned index)
{
    char* raw = H5Tget_member_name(type, index);
    if (!raw)
        return {};
    std::string name = raw;
    H5free_memory(raw);
    return name;
}

// h5py stores numpy bool as an enum {FALSE = 0, TRUE = 1} over int8; other enums stay unsupported.
ElementType describeEnum(hid_t type)
{
    ElementType result;
    result.name = "enum";
    Hdf5Handle base = hdf5Datatype(H5Tget_super(type));
    if (!base.valid() || H5Tget_class(base.get()) != H5T_INTEGER || H5Tget_size(base.get()) != 1
        || H5Tget_nmembers(type) != 2)
        return result;
    bool sawFalse = false, sawTrue = false;
    for (unsigned i = 0; i < 2; ++i) {
        unsigned char value = 0xFF;
        if (H5Tget_member_value(type, i, &value) < 0)
            return result;
        const std::string name = memberName(type, i);
        sawFalse = sawFalse || (name == "FALSE" && value == 0);
        sawTrue = sawTrue || (name == "TRUE" && value == 1);
    }
    if (!sawFalse || !sawTrue)
        return result;
    result.dtype = DType::BOOL;
    result.name
        = std::string("bool (enum over ") + (H5Tget_sign(base.get()) == H5T_SGN_2 ? "int8)" : "uint8)");
    return result;
}

ElementType describeType(hid_t type)
{
    ElementType result;
    switch (H5Tget_class(type)) {
    case H5T_INTEGER:
        return describeInteger(type);
    case H5T_FLOAT:
        return describeFloat(type);
    case H5T_ENUM:
        return describeEnum(type);
    case H5T_STRING:
        result.name = "string";
        break;
    case H5T_COMPOUND:
        result.name = "compound";
        break;
    case H5T_VLEN:
        result.name = "variable-length";
        break;
    case H5T_REFERENCE:
        result.name = "reference";
        break;
    case H5T_ARRAY:
        result.name = "array";
        break;
    case H5T_OPAQUE:
        result.name = "opaque";
        break;
    case H5T_BITFIELD:
        result.name = "bitfield";
        break;
    case H5T_TIME:
        result.name = "time";
        break;
    default:
        result.name = "unknown type";
        break;
    }
    return result;
}

std::string describeFilter(hid_t dcpl, unsigned index, H5Z_filter_t& id, bool& optional)
{
    unsigned flags = 0, config = 0;
    std::size_t valueCount = 0;
    std::array<char, 128> name {};
    id = H5Pget_filter2(dcpl, index, &flags, &valueCount, nullptr, name.size(), name.data(), &config);
    optional = (flags & H5Z_FLAG_OPTIONAL) != 0;
    switch (id) {
    case H5Z_FILTER_DEFLATE:
        return "deflate";
    case H5Z_FILTER_SHUFFLE:
        return "shuffle";
    case H5Z_FILTER_FLETCHER32:
        return "fletcher32";
    case H5Z_FILTER_SZIP:
        return "szip";
    case H5Z_FILTER_NBIT:
        return "nbit";
    case H5Z_FILTER_SCALEOFFSET:
        return "scaleoffset";
    default:
        break;
    }
    name.back() = '\0';
    if (name.front() != '\0')
        return name.data();
    return "filter " + std::to_string(id);
}

// Fills info.location (and info.offset for contiguous data) and notes filters this library cannot decode.
void describeStorage(hid_t dataset, TensorInfo& info, DatasetPlan& plan)
{
    info.byteSize = H5Dget_storage_size(dataset);
    Hdf5Handle dcpl = hdf5PropertyList(H5Dget_create_plist(dataset));
    if (!dcpl.valid()) {
        info.location = "unknown layout";
        return;
    }
    switch (H5Pget_layout(dcpl.get())) {
    case H5D_COMPACT:
        info.location = "compact";
        break;
    case H5D_CONTIGUOUS: {
        info.location = H5Pget_external_count(dcpl.get()) > 0 ? "contiguous, external file" : "contiguous";
        const haddr_t address = H5Dget_offset(dataset);
        if (address != HADDR_UNDEF)
            info.offset = address;
        break;
    }
    case H5D_CHUNKED: {
        std::array<hsize_t, H5S_MAX_RANK> chunk {};
        const int rank = H5Pget_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
        info.location = "chunked ";
        for (int i = 0; i < rank; ++i) {
            if (i > 0)
                info.location += "\u00D7";
            info.location += std::to_string(chunk[i]);
        }
        if (rank > 0)
            plan.chunkRows = chunk[0];
        break;
    }
    case H5D_VIRTUAL:
        info.location = "virtual";
        break;
    default:
        info.location = "unknown layout";
        break;
    }

    const int filterCount = H5Pget_nfilters(dcpl.get());
    for (int i = 0; i < filterCount; ++i) {
        H5Z_filter_t id = H5Z_FILTER_ERROR;
        bool optional = false;
        const std::string name = describeFilter(dcpl.get(), static_cast<unsigned>(i), id, optional);
        info.location += ", " + name;
        // Chunks skip an optional filter that failed when they were written, so those may still read fine.
        if (id >= 0 && !optional && H5Zfilter_avail(id) <= 0)
            markUnloadable(info, plan,
                "the data is compressed with the '" + name + "' filter (id " + std::to_string(id)
                    + "), which this HDF5 library cannot decode");
    }
}

void describeShape(hid_t dataset, TensorInfo& info, DatasetPlan& plan)
{
    Hdf5Handle space = hdf5Dataspace(H5Dget_space(dataset));
    const H5S_class_t kind = space.valid() ? H5Sget_simple_extent_type(space.get()) : H5S_NO_CLASS;
    if (kind == H5S_SCALAR)
        return;
    if (kind == H5S_NULL) {
        info.dtypeName += ", null dataspace";
        markUnloadable(info, plan, "the dataset has a null dataspace (no shape and no elements)");
        return;
    }
    const int rank = kind == H5S_SIMPLE ? H5Sget_simple_extent_ndims(space.get()) : -1;
    std::array<hsize_t, H5S_MAX_RANK> dims {};
    if (rank < 0 || H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0) {
        markUnloadable(
            info, plan, "cannot read the dataset's shape, the file may be damaged" + hdf5ErrorDetail());
        return;
    }
    constexpr auto kMaxDim = static_cast<hsize_t>(std::numeric_limits<std::int64_t>::max());
    for (int i = 0; i < rank; ++i)
        info.shape.push_back(static_cast<std::int64_t>(std::min(dims[i], kMaxDim)));
    try {
        shapeElementCount(info.shape);
    } catch (const Error&) {
        markUnloadable(
            info, plan, "the shape " + shapeToString(info.shape) + " has too many elements to load");
    }
}

std::pair<TensorInfo, DatasetPlan> describeDataset(
    const std::string& path, hid_t file, const std::string& name)
{
    TensorInfo info;
    DatasetPlan plan;
    info.name = name;
    info.file = path;
    auto unreadable = [&](const char* what) {
        info.dtype = DType::Unsupported;
        info.dtypeName = "unreadable";
        plan.unloadable = std::string("cannot read the dataset's ") + what + ", the file may be damaged"
            + hdf5ErrorDetail();
        return std::pair {info, plan};
    };

    Hdf5Handle dataset = hdf5Dataset(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
    if (!dataset.valid())
        return unreadable("header");
    Hdf5Handle type = hdf5Datatype(H5Dget_type(dataset.get()));
    if (!type.valid())
        return unreadable("element type");

    const ElementType element = describeType(type.get());
    info.dtype = element.dtype;
    info.dtypeName = element.name;
    plan.order = element.order;
    if (element.dtype == DType::Unsupported)
        markUnloadable(info, plan,
            "cannot load a dataset of type '" + element.name
                + "': only integer, float and bool datasets can be converted to float32");
    describeShape(dataset.get(), info, plan);
    describeStorage(dataset.get(), info, plan);
    return {info, plan};
}

herr_t collectDataset(hid_t, const char* name, const H5O_info_t* object, void* data) noexcept
{
    try {
        if (object->type == H5O_TYPE_DATASET)
            static_cast<std::vector<std::string>*>(data)->push_back(std::string("/") + name);
    } catch (...) {
        return -1;
    }
    return 0;
}

std::string openProblem()
{
    const std::string detail = hdf5ErrorDetail();
    if (hdf5ErrorIsTruncation())
        return "not a readable HDF5 file: it is shorter than its header says (truncated?)" + detail;
    if (detail.find("unable to lock") != std::string::npos)
        return "cannot open the file: another program holds a lock on it" + detail;
    return "not a readable HDF5 file: the header is damaged or uses an HDF5 version this program cannot read"
        + detail;
}

class Hdf5File final : public TensorFile {
public:
    Hdf5File(
        std::string path, Hdf5Handle file, std::vector<TensorInfo> tensors, std::vector<DatasetPlan> plans)
        : m_path(std::move(path))
        , m_file(std::move(file))
        , m_tensors(std::move(tensors))
        , m_plans(std::move(plans))
    {
    }

    const std::string& path() const override { return m_path; }
    std::string formatName() const override { return "hdf5"; }
    const std::vector<TensorInfo>& tensors() const override { return m_tensors; }
    Tensor load(std::string_view name) const override;

private:
    void readSlab(hid_t dataset, hid_t type, hid_t fileSpace, const TensorInfo& info, hsize_t firstRow,
        hsize_t rows, std::vector<std::byte>& buffer) const;

    std::string m_path;
    Hdf5Handle m_file;
    std::vector<TensorInfo> m_tensors;
    std::vector<DatasetPlan> m_plans;
};

void Hdf5File::readSlab(hid_t dataset, hid_t type, hid_t fileSpace, const TensorInfo& info, hsize_t firstRow,
    hsize_t rows, std::vector<std::byte>& buffer) const
{
    Hdf5LibraryLock lock;
    Hdf5Handle memorySpace;
    herr_t status = 0;
    if (info.shape.empty()) {
        status = H5Dread(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data());
    } else {
        std::vector<hsize_t> start(info.shape.size(), 0);
        std::vector<hsize_t> count(info.shape.begin(), info.shape.end());
        start[0] = firstRow;
        count[0] = rows;
        hsize_t elements = 1;
        for (hsize_t extent : count)
            elements *= extent;
        memorySpace = hdf5Dataspace(H5Screate_simple(1, &elements, nullptr));
        status = memorySpace.valid()
                && H5Sselect_hyperslab(
                       fileSpace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr)
                    >= 0
            ? H5Dread(dataset, type, memorySpace.get(), fileSpace, H5P_DEFAULT, buffer.data())
            : -1;
    }
    // Before memorySpace closes: any HDF5 call clears the error stack.
    if (status < 0)
        throwFileError(
            m_path, info.name, "cannot read the data, the file may be damaged" + hdf5ErrorDetail());
}

Tensor Hdf5File::load(std::string_view name) const
{
    const auto it = std::find_if(
        m_tensors.begin(), m_tensors.end(), [&](const TensorInfo& info) { return info.name == name; });
    if (it == m_tensors.end())
        throwFileError(m_path, name, "no such dataset in the file");
    const TensorInfo& info = *it;
    const DatasetPlan& plan = m_plans[static_cast<std::size_t>(it - m_tensors.begin())];
    if (!info.loadable())
        throwFileError(m_path, name, plan.unloadable);

    Tensor tensor;
    tensor.name = info.name;
    tensor.shape = info.shape;
    const auto elements = static_cast<std::size_t>(info.elementCount());
    if (elements == 0)
        return tensor;

    const std::size_t elementSize = dtypeSize(info.dtype);
    const hsize_t rows = info.shape.empty() ? 1 : static_cast<hsize_t>(info.shape[0]);
    const std::size_t rowElements = elements / rows;
    hsize_t slabRows = std::max<hsize_t>(1, kSlabBytes / (rowElements * elementSize));
    if (plan.chunkRows > 0) // whole chunks per slab, so that no chunk is decompressed twice
        slabRows = (slabRows + plan.chunkRows - 1) / plan.chunkRows * plan.chunkRows;
    slabRows = std::min(slabRows, rows);

    std::vector<std::byte> buffer;
    try {
        tensor.data.resize(elements);
        buffer.resize(slabRows * rowElements * elementSize);
    } catch (const std::bad_alloc&) {
        throwFileError(m_path, name, "not enough memory to load " + std::to_string(elements) + " elements");
    }

    Hdf5Handle dataset, type, fileSpace;
    {
        Hdf5LibraryLock lock;
        dataset = hdf5Dataset(H5Dopen2(m_file.get(), info.name.c_str(), H5P_DEFAULT));
        if (dataset.valid())
            type = hdf5Datatype(H5Dget_type(dataset.get()));
        if (type.valid())
            fileSpace = hdf5Dataspace(H5Dget_space(dataset.get()));
        if (!fileSpace.valid())
            throwFileError(
                m_path, name, "cannot open the dataset, the file may be damaged" + hdf5ErrorDetail());
        // The hyperslab and the buffer are sized from the listing; a file rewritten since then must not
        // make HDF5 read past them.
        std::array<hsize_t, H5S_MAX_RANK> dims {};
        const int rank = H5Sget_simple_extent_dims(fileSpace.get(), dims.data(), nullptr);
        const bool unchanged = H5Tget_size(type.get()) == elementSize
            && rank == static_cast<int>(info.shape.size())
            && std::equal(info.shape.begin(), info.shape.end(), dims.begin(),
                [](std::int64_t listed, hsize_t now) { return static_cast<hsize_t>(listed) == now; });
        if (!unchanged)
            throwFileError(
                m_path, name, "the dataset changed since the file was opened; open the file again");
    }
    for (hsize_t row = 0; row < rows; row += slabRows) {
        const hsize_t count = std::min(slabRows, rows - row);
        readSlab(dataset.get(), type.get(), fileSpace.get(), info, row, count, buffer);
        // Converting outside the lock lets other threads read meanwhile.
        convertToF32(info.dtype, buffer.data(), count * rowElements, tensor.data.data() + row * rowElements,
            plan.order);
    }
    return tensor;
}

} // namespace

std::unique_ptr<TensorFile> openHdf5(const std::string& path)
{
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error))
        throwFileError(path, {}, "cannot open the file (it does not exist or is not a regular file)");

    Hdf5LibraryLock lock;
    const htri_t signature = H5Fis_hdf5(path.c_str());
    if (signature == 0)
        throwFileError(path, {}, "not an HDF5 file (no HDF5 signature found)");
    if (signature < 0)
        throwFileError(path, {}, "cannot open the file" + hdf5ErrorDetail());

    Hdf5Handle access = hdf5PropertyList(H5Pcreate(H5P_FILE_ACCESS));
#if H5_VERSION_GE(1, 10, 7)
    // Read-only viewing must also work on file systems without flock (some network mounts).
    H5Pset_file_locking(access.get(), true, true);
#endif
    Hdf5Handle file = hdf5File(H5Fopen(path.c_str(), H5F_ACC_RDONLY, access.get()));
    if (!file.valid())
        throwFileError(path, {}, openProblem());

    std::vector<std::string> names;
    if (H5Ovisit2(file.get(), H5_INDEX_NAME, H5_ITER_INC, collectDataset, &names, H5O_INFO_BASIC) < 0)
        throwFileError(path, {},
            "not a readable HDF5 file: cannot list its groups, the metadata is damaged" + hdf5ErrorDetail());

    std::vector<TensorInfo> tensors;
    std::vector<DatasetPlan> plans;
    tensors.reserve(names.size());
    plans.reserve(names.size());
    for (const std::string& name : names) {
        auto [info, plan] = describeDataset(path, file.get(), name);
        tensors.push_back(std::move(info));
        plans.push_back(std::move(plan));
    }
    return std::make_unique<Hdf5File>(path, std::move(file), std::move(tensors), std::move(plans));
}

} // namespace qs
