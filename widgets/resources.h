#pragma once

namespace qs::gui {

/// Registers the compiled-in resources (icons). The widgets library is static, so the linker would
/// otherwise drop the resource object; idempotent.
void initResources();

} // namespace qs::gui
