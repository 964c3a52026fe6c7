#include "io/hdf5_library_lock.h"

#include <hdf5.h>
#include <vector>

namespace qs {

std::recursive_mutex& hdf5LibraryMutex()
{
    // Never destroyed: handles closed by static destructors in other translation units still need it.
    static auto* mutex = new std::recursive_mutex;
    return *mutex;
}

Hdf5LibraryLock::Hdf5LibraryLock()
    : m_guard(hdf5LibraryMutex())
{
    thread_local bool silenced = false;
    if (!silenced) {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        silenced = true;
    }
}

namespace {

struct ErrorEntry {
    std::string text;
    hid_t minor = -1;
};

herr_t collectEntry(unsigned, const H5E_error2_t* error, void* data) noexcept
{
    try {
        ErrorEntry entry;
        entry.minor = error->min_num;
        if (error->desc && *error->desc) {
            entry.text = error->desc;
        } else {
            char message[256] = {};
            H5E_type_t type;
            if (H5Eget_msg(error->min_num, &type, message, sizeof message) > 0)
                entry.text = message;
        }
        for (char& c : entry.text) {
            if (c == '\n' || c == '\r')
                c = ' ';
        }
        static_cast<std::vector<ErrorEntry>*>(data)->push_back(std::move(entry));
    } catch (...) {
        return -1;
    }
    return 0;
}

std::vector<ErrorEntry> errorStack()
{
    std::vector<ErrorEntry> entries;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collectEntry, &entries);
    return entries;
}

} // namespace

std::string hdf5ErrorText()
{
    // The two innermost entries say what went wrong; the outer ones only repeat "unable to open file".
    constexpr std::size_t kEntriesShown = 2;
    std::string text;
    std::size_t shown = 0;
    for (const ErrorEntry& entry : errorStack()) {
        if (entry.text.empty() || text.find(entry.text) != std::string::npos)
            continue;
        if (!text.empty())
            text += "; ";
        text += entry.text;
        if (++shown == kEntriesShown)
            break;
    }
    return text;
}

std::string hdf5ErrorDetail()
{
    const std::string text = hdf5ErrorText();
    return text.empty() ? std::string() : " (HDF5: " + text + ")";
}

bool hdf5ErrorIsTruncation()
{
    for (const ErrorEntry& entry : errorStack()) {
        if (entry.minor == H5E_TRUNCATED)
            return true;
    }
    return false;
}

} // namespace qs
