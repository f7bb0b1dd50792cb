// Private to the Api (api.cc, api_admin.cc): one request in progress and response helpers.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/caller.h"
#include "daemon/http_server.h"
#include "daemon/request_limits.h"
#include "store/postgres/lease_keeper.h"

namespace portrait::daemon {

struct ApiCall {
  HttpRequest request;
  std::string remote;
  std::vector<std::string> path;  // percent-decoded segments
  std::map<std::string, std::string> query;
  Caller caller;

  http::verb method() const { return request.method(); }
  // The body as JSON, within the limits of request_limits.h. A body that isn't JSON is
  // Malformed, which the Api answers with 400 rather than 422.
  Result<nlohmann::json> Body() const { return ParseJsonBody(request.body()); }
};

// The HTTP status a Status code maps to (api.cc: the one switch).
http::status HttpStatusOf(const Status& s);

// Among several nodes, the answer to a write that belongs to another node (api.cc): 421 naming
// `owner`, or 503 when its partition has none. `what` names the partition's owner in the
// detail: "the subject's", "the task's".
HttpResponse Misdirected(const std::optional<store::LeaseHolder>& owner, std::string_view what);

inline HttpResponse JsonResponse(const nlohmann::json& body,
                                 http::status status = http::status::ok) {
  HttpResponse r{status, 11};
  r.set(http::field::content_type, "application/json");
  // Invalid UTF-8 can't reach here (requests are checked first); replacing it keeps dump() from
  // throwing all the same.
  r.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

}  // namespace portrait::daemon
