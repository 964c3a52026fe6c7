#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qs {

/// One place where a JSON document breaks its schema. `path` names the value in JSONPath-like spelling:
/// "$" is the document, "$.tensors[0].scheme.format" a member of an element.
struct SchemaViolation {
    std::string path;
    std::string message; ///< e.g. "expected an integer, found a string"
    bool operator==(const SchemaViolation&) const = default;
};

/// JSON Schema (draft 2020-12) validation of the keyword subset our schemas use; no general-purpose
/// validator is packaged for C++ on Debian. Supported keywords (jsonSchemaKeywords()):
///   annotations, ignored: $schema, $id, $comment, title, description
///   structure: $defs, $ref (local JSON pointers "#/..." only), anyOf
///   any value: type (a name or a list of names; "integer" accepts numbers with no fraction), enum, const
///   objects: properties, required, additionalProperties (true, false or a schema)
///   arrays: items (one schema for every element), minItems, maxItems
///   numbers: minimum, maximum (inclusive)
///   strings: minLength, maxLength (in bytes), pattern (ECMAScript std::regex, searched, not anchored)
/// Any other keyword in the schema is an error, so nothing is silently left unchecked.
/// Returns every violation found (empty: valid), at most 50, in document order.
/// Throws qs::Error when either text is not JSON, or the schema uses an unsupported keyword or a $ref that
/// does not resolve.
std::vector<SchemaViolation> validateJsonText(std::string_view document, std::string_view schema);

/// The keywords validateJsonText understands.
const std::vector<std::string>& jsonSchemaKeywords();

/// The keywords a schema uses that validateJsonText does not understand, each with the schema path where it
/// appears ("$.properties.name: format"); empty when the validator covers the whole schema. Member names
/// under properties and $defs are names, not keywords. Throws qs::Error when `schema` is not JSON.
std::vector<std::string> unsupportedSchemaKeywords(std::string_view schema);

} // namespace qs
