// Percent-encoding for request targets (RFC 3986), shared by the daemon, which splits targets,
// and portraitctl, which builds them. Pure; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace portrait {

// Every byte outside RFC 3986's unreserved set (A-Z a-z 0-9 - . _ ~) as %XX, so the result is
// safe as one path segment or one query value: an external id like "+86 138/1" stays whole.
std::string PercentEncode(std::string_view text);

// "/v1/profiles/a%2Fb" -> {"v1", "profiles", "a/b"}. Empty segments are dropped; "+" stays "+".
std::vector<std::string> SplitPath(std::string_view path);

// "state=dead&since=2026-11-01T00%3A00%3A00%2B08%3A00" -> {state: dead, since: ...}. In a query
// "+" is a space (HTML forms); a key without "=" maps to "". A repeated key keeps its last value.
std::map<std::string, std::string> ParseQuery(std::string_view query);

// The non-negative integer `query` holds under `name`, or `fallback` without one;
// InvalidArgument naming the parameter when it is anything else.
Result<int64_t> QueryInt(const std::map<std::string, std::string>& query, const std::string& name,
                         int64_t fallback);

}  // namespace portrait
