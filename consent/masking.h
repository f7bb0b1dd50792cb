// Masks: what a role allowed only a masked view of a field sees instead of its value. Every mask
// hides at least half of the value's characters, short values included (a value too short to
// show anything is all stars), and shows stars of a fixed count where the length itself would
// say too much:
//   phone  +8613812345678 -> 138******78 (national number: at most half its digits, at most the
//          first 3 and the rest from the end)
//   email  zhang@example.com -> z***@***.com (first character of a local part of 2 or more; the
//          top-level domain only when that still hides half the address)
//   name   张伟 -> 张*, Emma Stone -> E********* (first character of a name of 2 or more)
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
