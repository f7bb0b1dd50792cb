// The route table (daemon/api_routes.h) against docs/openapi.json: the same operations, each
// needing a token exactly where the document asks for one, and the document compiled into the
// daemon byte for byte the repository's. A route added to the table without its operation in
// the document, or the reverse, fails here.
#include "daemon/api_routes.h"

#include <gtest/gtest.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "base/url.h"
#include "daemon/openapi_document.h"
#include "tests/support/test_support.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

// "get" for GET: the document names methods in lower case.
std::string MethodOf(const ApiRoute& route) {
  std::string m(boost::beast::http::to_string(route.method));
  for (char& c : m) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return m;
}

boost::beast::http::verb VerbOf(std::string method) {
  for (char& c : method) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return boost::beast::http::string_to_verb(method);
}

TEST(ApiRoutes, AreExactlyTheOperationsOfTheOpenApiDocument) {
  const json doc = json::parse(OpenApiDocument());
  std::set<std::pair<std::string, std::string>> documented, routed;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, operation] : item.items()) {
      documented.emplace(method, path);
      const bool open = operation.contains("security") && operation["security"].empty();
      const ApiRoute* route = FindRoute(VerbOf(method), SplitPath(path));
      ASSERT_NE(route, nullptr) << method << " " << path << " is documented but not routed";
      EXPECT_EQ(route->path, path);
      EXPECT_EQ(route->needs_token, !open) << method << " " << path;
    }
  }
  for (const ApiRoute& route : ApiRoutes()) {
    routed.emplace(MethodOf(route), std::string(route.path));
  }
  EXPECT_EQ(routed, documented);
}

TEST(ApiRoutes, TheServedDocumentIsTheRepositorys) {
  EXPECT_EQ(OpenApiDocument(),
            testing::ReadFile(std::string(PORTRAIT_SOURCE_DIR) + "/docs/openapi.json"));
  const json doc = json::parse(OpenApiDocument());
  EXPECT_EQ(doc["openapi"], "3.1.0");
}

TEST(ApiRoutes, MatchWholeSegmentsAndNameTheMethodsOfAPath) {
  using boost::beast::http::verb;
  const ApiRoute* route = FindRoute(verb::get, SplitPath("/v1/profiles/a%2Fb/consents"));
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->path, "/v1/profiles/{id}/consents");
  EXPECT_EQ(FindRoute(verb::get, SplitPath("/v1/profiles/a/b/consents")), nullptr);
  EXPECT_EQ(FindRoute(verb::patch, SplitPath("/v1/profiles/c42")), nullptr);
  EXPECT_EQ(FindRoute(verb::get, SplitPath("/v1/profile")), nullptr);
  EXPECT_EQ(FindRoute(verb::get, SplitPath("/v1")), nullptr);
  EXPECT_EQ(FindRoute(verb::get, {}), nullptr);
  EXPECT_EQ(AllowedMethods(SplitPath("/v1/profiles/c42")), "PUT, GET, DELETE");
  EXPECT_EQ(AllowedMethods(SplitPath("/v1/tokens")), "POST, GET");
  EXPECT_EQ(AllowedMethods(SplitPath("/v1/nothing")), "");
  EXPECT_FALSE(FindRoute(verb::get, SplitPath("/healthz"))->needs_token);
}

}  // namespace
}  // namespace portrait::daemon
