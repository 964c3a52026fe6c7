#pragma once

#include "io/hdf5_library_lock.h"

#include <hdf5.h>
#include <utility>

namespace qs {

/// Owns one HDF5 identifier (file, group, dataset, dataspace, datatype, property list) and closes it with the
/// matching H5*close function under the library lock. Move-only; an id < 0 (a failed call) owns nothing.
class Hdf5Handle {
public:
    using Closer = herr_t (*)(hid_t);

    Hdf5Handle() = default;
    Hdf5Handle(hid_t id, Closer closer)
        : m_id(id)
        , m_closer(closer)
    {
    }
    ~Hdf5Handle() { close(); }
    Hdf5Handle(Hdf5Handle&& other) noexcept
        : m_id(std::exchange(other.m_id, H5I_INVALID_HID))
        , m_closer(other.m_closer)
    {
    }
    Hdf5Handle& operator=(Hdf5Handle&& other) noexcept
    {
        if (this != &other) {
            close();
            m_id = std::exchange(other.m_id, H5I_INVALID_HID);
            m_closer = other.m_closer;
        }
        return *this;
    }
    Hdf5Handle(const Hdf5Handle&) = delete;
    Hdf5Handle& operator=(const Hdf5Handle&) = delete;

    hid_t get() const { return m_id; }
    bool valid() const { return m_id >= 0; }

    /// Closes now; false when HDF5 reports a failure (for a file: the final flush failed).
    bool close() noexcept
    {
        if (m_id < 0)
            return true;
        Hdf5LibraryLock lock;
        const herr_t status = m_closer(std::exchange(m_id, H5I_INVALID_HID));
        return status >= 0;
    }

private:
    hid_t m_id = H5I_INVALID_HID;
    Closer m_closer = nullptr;
};

inline Hdf5Handle hdf5File(hid_t id)
{
    return {id, H5Fclose};
}
inline Hdf5Handle hdf5Group(hid_t id)
{
    return {id, H5Gclose};
}
inline Hdf5Handle hdf5Dataset(hid_t id)
{
    return {id, H5Dclose};
}
inline Hdf5Handle hdf5Dataspace(hid_t id)
{
    return {id, H5Sclose};
}
inline Hdf5Handle hdf5Datatype(hid_t id)
{
    return {id, H5Tclose};
}
inline Hdf5Handle hdf5PropertyList(hid_t id)
{
    return {id, H5Pclose};
}

} // namespace qs
