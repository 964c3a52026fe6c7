#pragma once

#include <mutex>
#include <string>

namespace qs {

/// The one process-wide mutex that guards every HDF5 call in Quantscope. Debian's libhdf5 is built without
/// thread safety, so two threads inside the library at once corrupt its global state. Recursive, so helpers
/// that lock may be called by code that already holds it.
std::recursive_mutex& hdf5LibraryMutex();

/// Holds hdf5LibraryMutex() for its lifetime. Also switches off HDF5's automatic printing of error stacks to
/// stderr for the calling thread (a thread-safe HDF5 build keeps that setting per thread); errors are turned
/// into qs::Error text with hdf5ErrorText() instead.
class Hdf5LibraryLock {
public:
    Hdf5LibraryLock();
    Hdf5LibraryLock(const Hdf5LibraryLock&) = delete;
    Hdf5LibraryLock& operator=(const Hdf5LibraryLock&) = delete;

private:
    std::lock_guard<std::recursive_mutex> m_guard;
};

/// The calling thread's HDF5 error stack as one line, most specific entry first, e.g.
/// "truncated file: eof = 1000, sblock->base_addr = 0, stored_eof = 3248; unable to read superblock".
/// Call it while holding the lock, right after the failing call (the next HDF5 call clears the stack).
/// Empty when the stack is empty.
std::string hdf5ErrorText();

/// " (HDF5: <hdf5ErrorText()>)", or "" when the stack is empty: ready to append to a problem description.
std::string hdf5ErrorDetail();

/// True when the current error stack says the file is shorter than its superblock records.
bool hdf5ErrorIsTruncation();

} // namespace qs
