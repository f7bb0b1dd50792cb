// The HTTP API's routes: every method and path the Api answers, in one table. Api::Serve looks
// each request up here before any handler runs: a request that matches no route is answered 404
// (405 with `Allow` when only its method is wrong), so a route a handler serves is reachable only
// once it is in this table, and tests/daemon/api_routes_test.cc holds this table equal to the
// operations of docs/openapi.json, which tests/integration/openapi_test.cc checks the daemon's
// answers against. A new route therefore needs its row here and its operation in the document.
// Pure; thread-safe.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <ostream>  // boost/beast/http/verb.hpp needs it and does not include it
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace portrait::daemon {

struct ApiRoute {
  boost::beast::http::verb method;
  // As in docs/openapi.json: "/v1/profiles/{id}"; a segment in braces matches any one segment.
  std::string_view path;
  // False only for GET /healthz, answered before a token is checked.
  bool needs_token = true;
};

// Every route, in the order of docs/API.md.
std::span<const ApiRoute> ApiRoutes();

// The route of `method` on `path` (percent-decoded segments), or nullptr.
const ApiRoute* FindRoute(boost::beast::http::verb method, const std::vector<std::string>& path);

// The methods of the routes whose path matches `path`, as an `Allow` header lists them
// ("GET, PUT"); empty when no route's path matches.
std::string AllowedMethods(const std::vector<std::string>& path);

}  // namespace portrait::daemon
