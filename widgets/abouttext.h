#pragma once

#include <QString>

namespace qs::gui {

/// The rich text of Help › About: what Quantscope is and the libraries it is built on.
QString aboutText();

} // namespace qs::gui
