#include "export/json_schema_validator.h"

#include "base/error.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>

namespace qs {

namespace {

using Json = nlohmann::json;

constexpr std::size_t kMaxViolations = 50;

bool isKeyword(const std::string& key)
{
    const auto& all = jsonSchemaKeywords();
    return std::find(all.begin(), all.end(), key) != all.end();
}

std::string memberPath(const std::string& parent, const std::string& name)
{
    const bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    return plain ? parent + "." + name : parent + "[" + Json(name).dump() + "]";
}

std::string typeName(const Json& value)
{
    switch (value.type()) {
    case Json::value_t::null:
        return "null";
    case Json::value_t::boolean:
        return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
        return "an integer";
    case Json::value_t::number_float:
        return "a number";
    case Json::value_t::string:
        return "a string";
    case Json::value_t::array:
        return "an array";
    case Json::value_t::object:
        return "an object";
    default:
        return "an unsupported value";
    }
}

bool hasType(const Json& value, const std::string& type)
{
    if (type == "null")
        return value.is_null();
    if (type == "boolean")
        return value.is_boolean();
    if (type == "object")
        return value.is_object();
    if (type == "array")
        return value.is_array();
    if (type == "string")
        return value.is_string();
    if (type == "number")
        return value.is_number();
    if (type == "integer") {
        if (value.is_number_integer())
            return true;
        if (!value.is_number_float())
            return false;
        const double v = value.get<double>();
        return std::isfinite(v) && v == std::floor(v);
    }
    throw Error("JSON schema: unknown type name '" + type + "'");
}

std::string shortDump(const Json& value)
{
    std::string text = value.dump();
    if (text.size() > 60)
        text = text.substr(0, 57) + "...";
    return text;
}

class Validator {
public:
    explicit Validator(const Json& root)
        : root_(root)
    {
    }

    void validate(const Json& value, const Json& schema, const std::string& path)
    {
        if (violations_.size() >= kMaxViolations)
            return;
        if (schema.is_boolean()) {
            if (!schema.get<bool>())
                add(path, "no value is allowed here");
            return;
        }
        if (!schema.is_object())
            throw Error("JSON schema: a schema must be an object or a boolean");
        for (const auto& [key, unused] : schema.items())
            if (!isKeyword(key))
                throw Error("JSON schema: unsupported keyword '" + key + "'");

        if (auto ref = schema.find("$ref"); ref != schema.end())
            validate(value, resolve(ref->get<std::string>()), path);
        if (auto type = schema.find("type"); type != schema.end())
            if (!checkType(value, *type, path))
                return;
        if (auto any = schema.find("anyOf"); any != schema.end())
            checkAnyOf(value, *any, path);
        if (auto values = schema.find("enum"); values != schema.end()) {
            if (std::find(values->begin(), values->end(), value) == values->end())
                add(path, "expected one of " + shortDump(*values) + ", found " + shortDump(value));
        }
        if (auto constant = schema.find("const"); constant != schema.end()) {
            if (value != *constant)
                add(path, "expected " + constant->dump() + ", found " + shortDump(value));
        }
        if (value.is_object())
            checkObject(value, schema, path);
        if (value.is_array())
            checkArray(value, schema, path);
        if (value.is_number())
            checkNumber(value.get<double>(), schema, path);
        if (value.is_string())
            checkString(value.get<std::string>(), schema, path);
    }

    std::vector<SchemaViolation> take() { return std::move(violations_); }

private:
    void add(const std::string& path, std::string message)
    {
        if (violations_.size() < kMaxViolations)
            violations_.push_back({path, std::move(message)});
    }

    const Json& resolve(const std::string& ref) const
    {
        if (ref.empty() || ref[0] != '#')
            throw Error("JSON schema: only local references (\"#/...\") are supported, not '" + ref + "'");
        try {
            const Json::json_pointer pointer(ref.substr(1));
            return root_.at(pointer);
        } catch (const Json::exception&) {
            throw Error("JSON schema: the reference '" + ref + "' does not resolve");
        }
    }

    bool checkType(const Json& value, const Json& type, const std::string& path)
    {
        std::vector<std::string> names;
        if (type.is_string())
            names.push_back(type.get<std::string>());
        else
            for (const Json& name : type)
                names.push_back(name.get<std::string>());
        for (const std::string& name : names)
            if (hasType(value, name))
                return true;
        std::string expected;
        for (std::size_t i = 0; i < names.size(); ++i)
            expected += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
        add(path, "expected " + expected + ", found " + typeName(value));
        return false;
    }

    void checkAnyOf(const Json& value, const Json& branches, const std::string& path)
    {
        for (const Json& branch : branches) {
            Validator trial(root_);
            trial.validate(value, branch, path);
            if (trial.violations_.empty())
                return;
        }
        add(path, "matches none of the allowed forms (found " + shortDump(value) + ")");
    }

    void checkObject(const Json& value, const Json& schema, const std::string& path)
    {
        if (auto required = schema.find("required"); required != schema.end())
            for (const Json& name : *required)
                if (!value.contains(name.get<std::string>()))
                    add(path, "missing required member \"" + name.get<std::string>() + "\"");
        const auto properties = schema.find("properties");
        const auto additional = schema.find("additionalProperties");
        for (const auto& [key, member] : value.items()) {
            const std::string memberAt = memberPath(path, key);
            if (properties != schema.end() && properties->contains(key)) {
                validate(member, properties->at(key), memberAt);
                continue;
            }
            if (additional == schema.end())
                continue;
            if (additional->is_boolean() && !additional->get<bool>())
                add(memberAt, "unknown member \"" + key + "\"");
            else
                validate(member, *additional, memberAt);
        }
    }

    void checkArray(const Json& value, const Json& schema, const std::string& path)
    {
        if (auto minItems = schema.find("minItems"); minItems != schema.end())
            if (value.size() < minItems->get<std::size_t>())
                add(path,
                    "expected at least " + minItems->dump() + " elements, found "
                        + std::to_string(value.size()));
        if (auto maxItems = schema.find("maxItems"); maxItems != schema.end())
            if (value.size() > maxItems->get<std::size_t>())
                add(path,
                    "expected at most " + maxItems->dump() + " elements, found "
                        + std::to_string(value.size()));
        if (auto items = schema.find("items"); items != schema.end())
            for (std::size_t i = 0; i < value.size(); ++i)
                validate(value[i], *items, path + "[" + std::to_string(i) + "]");
    }

    void checkNumber(double number, const Json& schema, const std::string& path)
    {
        if (auto minimum = schema.find("minimum"); minimum != schema.end())
            if (!(number >= minimum->get<double>()))
                add(path, "expected a value >= " + minimum->dump() + ", found " + Json(number).dump());
        if (auto maximum = schema.find("maximum"); maximum != schema.end())
            if (!(number <= maximum->get<double>()))
                add(path, "expected a value <= " + maximum->dump() + ", found " + Json(number).dump());
    }

    void checkString(const std::string& text, const Json& schema, const std::string& path)
    {
        if (auto minLength = schema.find("minLength"); minLength != schema.end())
            if (text.size() < minLength->get<std::size_t>())
                add(path,
                    "expected at least " + minLength->dump() + " characters, found " + Json(text).dump());
        if (auto maxLength = schema.find("maxLength"); maxLength != schema.end())
            if (text.size() > maxLength->get<std::size_t>())
                add(path, "expected at most " + maxLength->dump() + " characters");
        if (auto pattern = schema.find("pattern"); pattern != schema.end()) {
            const std::regex expression(pattern->get<std::string>(), std::regex::ECMAScript);
            if (!std::regex_search(text, expression))
                add(path, Json(text).dump() + " does not match the pattern " + pattern->dump());
        }
    }

    const Json& root_;
    std::vector<SchemaViolation> violations_;
};

Json parse(std::string_view text, const char* what)
{
    try {
        return Json::parse(text.begin(), text.end());
    } catch (const Json::parse_error& e) {
        throw Error(std::string(what) + " is not valid JSON: " + e.what());
    }
}

void collectUnsupported(const Json& schema, const std::string& path, std::vector<std::string>& out)
{
    if (!schema.is_object())
        return;
    for (const auto& [key, value] : schema.items()) {
        if (!isKeyword(key)) {
            out.push_back(path + ": " + key);
            continue;
        }
        if (key == "properties" || key == "$defs") {
            for (const auto& [name, member] : value.items())
                collectUnsupported(member, memberPath(memberPath(path, key), name), out);
        } else if (key == "items" || key == "additionalProperties") {
            collectUnsupported(value, memberPath(path, key), out);
        } else if (key == "anyOf") {
            for (std::size_t i = 0; i < value.size(); ++i)
                collectUnsupported(value[i], memberPath(path, key) + "[" + std::to_string(i) + "]", out);
        }
    }
}

} // namespace

const std::vector<std::string>& jsonSchemaKeywords()
{
    static const std::vector<std::string> keywords {"$schema", "$id", "$comment", "title", "description",
        "$defs", "$ref", "anyOf", "type", "enum", "const", "properties", "required", "additionalProperties",
        "items", "minItems", "maxItems", "minimum", "maximum", "minLength", "maxLength", "pattern"};
    return keywords;
}

std::vector<SchemaViolation> validateJsonText(std::string_view document, std::string_view schema)
{
    const Json schemaJson = parse(schema, "the JSON schema");
    const Json documentJson = parse(document, "the document");
    Validator validator(schemaJson);
    validator.validate(documentJson, schemaJson, "$");
    return validator.take();
}

std::vector<std::string> unsupportedSchemaKeywords(std::string_view schema)
{
    std::vector<std::string> out;
    collectUnsupported(parse(schema, "the JSON schema"), "$", out);
    return out;
}

} // namespace qs
