// The grammar of a tag path, one definition for the API (tags set on a profile) and the rules
// (the paths of [[tag]] rules): 1-3 levels separated by '/' ("vip", "interest/sports/running"),
// each 1-64 bytes without whitespace or control bytes. Pure; thread-safe.
#pragma once

#include <string_view>

#include "base/status.h"

namespace portrait {

// Ok, or InvalidArgument naming the rule broken (never the tag, which may be a personal value).
Status CheckTagPath(std::string_view tag);

}  // namespace portrait
