// Parsing of the short durations used in config and rules: "90d", "2h", "30m", "45s", "2y", "1w".
// A year is 365 days and a week 7 days; these are retention and window lengths, not calendar
// arithmetic. Pure functions, thread-safe.
#pragma once

#include <chrono>
#include <string_view>

#include "base/result.h"

namespace portrait {

// Returns the duration, or InvalidArgument naming what is wrong with `text`.
Result<std::chrono::seconds> ParseDuration(std::string_view text);

}  // namespace portrait
