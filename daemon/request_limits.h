// The limits every request is held to, in one place (docs/API.md "Limits" lists them), and the two
// checks that run before anything else reads a request: every part is valid UTF-8, and a JSON
// body parses within the limits. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "daemon/http_server.h"

namespace portrait::daemon {

// Arrays and objects inside one another in a JSON body; deeper is 422.
inline constexpr size_t kMaxJsonDepth = 64;
// Numbers must be finite doubles: 1e999 is 422, never stored as infinity. Integers past
// 2^64 - 1 (e.g. 18446744073709551616) are read as doubles.

// Whether the request's target (after percent-decoding each path segment and query key and
// value), header names and values and body are valid UTF-8. Malformed names the part, e.g.
// "header X-Purpose is not valid UTF-8" — a header's name only when the name itself is valid.
Status CheckRequestUtf8(const HttpRequest& request, const std::vector<std::string>& path,
                        const std::map<std::string, std::string>& query);

// `text` as JSON within the limits above. Not JSON: Malformed "the body is not valid JSON"; too
// deep or a number out of range: InvalidArgument naming the body.
Result<nlohmann::json> ParseJsonBody(std::string_view text);

}  // namespace portrait::daemon
