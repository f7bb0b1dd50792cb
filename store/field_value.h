// Checking a field's value against its declared type (string, phone, email, date, number, bool,
// enum) and normalising it. Error messages name the field and the rule broken, never the value.
// Pure and thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/result.h"
#include "config/config.h"

namespace portrait::store {

struct CheckedValue {
  nlohmann::json value;   // canonical form stored (phone in E.164, email and strings trimmed)
  std::string index_key;  // normalised form for the blind index (email lower-cased, phone E.164)
};

// InvalidArgument ("field 'birthday': expected a date YYYY-MM-DD") when `value` doesn't fit.
// Phone numbers written without +CC are read in `phone_region` (e.g. "CN").
Result<CheckedValue> CheckFieldValue(const config::Field& field, const nlohmann::json& value,
                                     std::string_view phone_region);

}  // namespace portrait::store
