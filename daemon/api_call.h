// Private to the Api (api.cc, api_admin.cc): one request in progress and response helpers.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/caller.h"
#include "daemon/http_server.h"

namespace portrait::daemon {

struct ApiCall {
  HttpRequest request;
  std::string remote;
  std::vector<std::string> path;  // percent-decoded segments
  std::map<std::string, std::string> query;
  Caller caller;

  http::verb method() const { return request.method(); }
  // The body as JSON. A body that isn't JSON is InvalidArgument with a "malformed: " prefix,
  // which the Api answers with 400 rather than 422.
  Result<nlohmann::json> Body() const {
    nlohmann::json body = nlohmann::json::parse(request.body(), nullptr, false);
    if (body.is_discarded()) {
      return Error(Status::InvalidArgument("malformed: the body is not valid JSON"));
    }
    return body;
  }
};

inline HttpResponse JsonResponse(const nlohmann::json& body,
                                 http::status status = http::status::ok) {
  HttpResponse r{status, 11};
  r.set(http::field::content_type, "application/json");
  r.body() = body.dump();
  return r;
}

}  // namespace portrait::daemon
