#pragma once

#include "export/settings_document.h"

#include <string>
#include <string_view>

namespace qs {

/// The schema identifier every Quantscope settings file carries in its "schema" member.
inline constexpr std::string_view kSettingsSchemaId = "quantscope.settings/1";

/// resources/quantscope.settings-1.schema.json (JSON Schema 2020-12), embedded at build time.
std::string_view settingsSchemaText();

/// A SettingsDocument as a quantscope.settings/1 JSON document (2-space indent, members in schema order,
/// numbers in the shortest form that reads back to the same double, so float32 scales round-trip exactly;
/// an empty date is written as the current time (utcTimestamp);
/// non-finite error figures as the strings "inf", "-inf", "nan"). Layout: README "Export and import".
/// Throws qs::Error when a setting cannot be written: no shape, a format that formatByName does not give
/// back as it is (non-default minifloat options), or result arrays whose lengths disagree.
std::string settingsToJson(const SettingsDocument& document);

/// Reads a quantscope.settings/1 document. In order: the text must be JSON, its "schema" must be
/// kSettingsSchemaId, the document must validate against settingsSchemaText() (the error lists the JSON path
/// of each problem, at most 10), and each tensor's result arrays must agree in length. Any of these throws
/// qs::Error and nothing is returned. A tensor whose format, block format, range mode, scale format,
/// rounding, arithmetic, method or compatibility name this version does not know goes to
/// SettingsDocument::rejected with the reason instead. `source` names the text in messages (a file name).
SettingsDocument settingsFromJson(std::string_view text, std::string_view source = "settings");

} // namespace qs
