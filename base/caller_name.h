// How a name the caller chose — a JSON key, a CSV column, a field name — appears in an error
// message. An unknown "name" may be a personal value (a file keyed by email, a header row that
// is really data), so only a name that looks like one is repeated: 1-64 ASCII letters, digits,
// '_', '.' or '-'. Anything else is described by its length.
#pragma once

#include <string>
#include <string_view>

namespace portrait {

// True for 1-64 ASCII letters, digits, '_', '.' or '-'.
bool LooksLikeAName(std::string_view name);

// "'phone'" for a name that looks like one, else "(a 17-byte name, not shown)".
std::string QuotedCallerName(std::string_view name);

// "phone" for a name that looks like one, else "(not shown)": for an error's field member.
std::string CallerNameLabel(std::string_view name);

}  // namespace portrait
