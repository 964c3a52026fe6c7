#include "resources.h"

#include <QtGlobal>

// Q_INIT_RESOURCE must be used outside any namespace.
static void initQuantscopeResources()
{
    Q_INIT_RESOURCE(quantscope);
}

namespace qs::gui {

void initResources()
{
    static const bool done = [] {
        initQuantscopeResources();
        return true;
    }();
    (void)done;
}

} // namespace qs::gui
