#pragma once

#include "schemesettings.h"

#include <optional>

class QSettings;

namespace qs::gui {

/// Writes `settings` under the group "scheme/" with the core's spellings (format or block-format name,
/// granularityName, rangeModeName, scaleFormatName, e8m0RoundingName, calibrationMethodName,
/// compatibilityName, percentile, bins, batches).
void storeSchemeSettings(QSettings& store, const SchemeSettings& settings);

/// Reads what storeSchemeSettings wrote; nullopt when nothing was stored or a stored name is not known any
/// more (the caller keeps its defaults).
std::optional<SchemeSettings> loadSchemeSettings(const QSettings& store);

} // namespace qs::gui
