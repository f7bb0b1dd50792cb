// Masks: what a role allowed only a masked view of a field sees instead of its value.
//   phone  +8613812345678 -> 138****5678 (national number: first 3 and last 4 digits)
//   email  zhang@example.com -> z***@example.com
//   name   张伟 -> 张*, Emma Stone -> E*********
//   date   1990-02-28 -> --02-28 (month and day, ISO 8601's year-less form)
//   year   1990-02-28 -> 1990
//   redact anything -> ***
// A value that doesn't have the expected shape is redacted. Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "config/config.h"

namespace portrait::consent {

std::string Mask(config::MaskKind kind, const nlohmann::json& value);

}  // namespace portrait::consent
