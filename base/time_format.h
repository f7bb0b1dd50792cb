// RFC 3339 timestamps to and from microseconds since the Unix epoch (UTC). Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace portrait {

// "2026-11-22T10:53:21.123456Z" (fraction only when non-zero).
std::string FormatRfc3339(int64_t unix_us);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)"; InvalidArgument otherwise.
Result<int64_t> ParseRfc3339(std::string_view text);

}  // namespace portrait
