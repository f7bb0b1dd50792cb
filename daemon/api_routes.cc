#include "daemon/api_routes.h"

#include "base/url.h"

namespace portrait::daemon {
namespace {

using boost::beast::http::verb;

constexpr ApiRoute kRoutes[] = {
    {verb::get, "/healthz", false},
    {verb::get, "/metrics"},
    {verb::get, "/v1/openapi.json"},
    {verb::get, "/v1/whoami"},
    {verb::put, "/v1/profiles/{id}"},
    {verb::get, "/v1/profiles/{id}"},
    {verb::delete_, "/v1/profiles/{id}"},
    {verb::get, "/v1/profiles"},
    {verb::put, "/v1/profiles/{id}/hold"},
    {verb::delete_, "/v1/profiles/{id}/hold"},
    {verb::post, "/v1/profiles/{id}/merge"},
    {verb::post, "/v1/profiles/{id}/consents"},
    {verb::get, "/v1/profiles/{id}/consents"},
    {verb::get, "/v1/profiles/{id}/events"},
    {verb::get, "/v1/profiles/{id}/export"},
    {verb::get, "/v1/profiles/{id}/scores"},
    {verb::post, "/v1/import/profiles"},
    {verb::post, "/v1/events"},
    {verb::get, "/v1/tasks"},
    {verb::post, "/v1/tasks/{id}/retry"},
    {verb::post, "/v1/tasks/{id}/cancel"},
    {verb::get, "/v1/segments"},
    {verb::get, "/v1/segments/{name}/members"},
    {verb::post, "/v1/rules/test"},
    {verb::post, "/v1/models/{name}/fit"},
    {verb::get, "/v1/models/{name}"},
    {verb::post, "/v1/scores/{name}/refresh"},
    {verb::get, "/v1/scores/{name}"},
    {verb::post, "/v1/tokens"},
    {verb::get, "/v1/tokens"},
    {verb::delete_, "/v1/tokens/{name}"},
    {verb::get, "/v1/audit"},
    {verb::get, "/v1/audit/verify"},
    {verb::get, "/v1/audit/export"},
    {verb::post, "/v1/admin/reload"},
    {verb::get, "/v1/stats"},
    {verb::get, "/v1/stats/activity"},
};

bool PathMatches(std::string_view pattern, const std::vector<std::string>& path) {
  const std::vector<std::string> want = SplitPath(pattern);
  if (want.size() != path.size()) {
    return false;
  }
  for (size_t i = 0; i < want.size(); ++i) {
    const bool parameter = want[i].size() >= 2 && want[i].front() == '{' && want[i].back() == '}';
    if (!parameter && want[i] != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::span<const ApiRoute> ApiRoutes() { return kRoutes; }

const ApiRoute* FindRoute(verb method, const std::vector<std::string>& path) {
  for (const ApiRoute& route : kRoutes) {
    if (route.method == method && PathMatches(route.path, path)) {
      return &route;
    }
  }
  return nullptr;
}

std::string AllowedMethods(const std::vector<std::string>& path) {
  std::string allowed;
  for (const ApiRoute& route : kRoutes) {
    if (PathMatches(route.path, path)) {
      allowed += (allowed.empty() ? "" : ", ");
      allowed += std::string(boost::beast::http::to_string(route.method));
    }
  }
  return allowed;
}

}  // namespace portrait::daemon
