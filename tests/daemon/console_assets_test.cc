// The console's asset table (daemon/console_assets.h) against console/: every file of the folder
// is served, byte for byte the repository's, with the security headers; nothing else is.
#include "daemon/console_assets.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "tests/support/test_support.h"

namespace portrait::daemon {
namespace {

const std::string kConsoleDir = std::string(PORTRAIT_SOURCE_DIR) + "/console";

TEST(ConsoleAssets, EveryFileOfTheConsoleFolderIsServedAsInTheRepository) {
  std::set<std::string> files, served;
  for (const auto& entry : std::filesystem::directory_iterator(kConsoleDir)) {
    files.insert(entry.path().filename().string());
  }
  for (const ConsoleAsset& asset : ConsoleAssets()) {
    served.insert(std::string(asset.name));
    if (asset.name != "chart.min.js") {
      EXPECT_EQ(asset.bytes(), testing::ReadFile(kConsoleDir + "/" + std::string(asset.name)))
          << asset.name;
    }
  }
  served.erase("chart.min.js");  // Debian's, from /usr/share/javascript/chart.js
  EXPECT_EQ(served, files);
}

TEST(ConsoleAssets, AnswersCarryTheSecurityHeadersAndServeOnlyTheTable) {
  const HttpResponse index = ConsoleAnswer(http::verb::get, "/console/?x=1");
  EXPECT_EQ(index.result(), http::status::ok);
  EXPECT_EQ(index.body(), ConsoleAssets()[0].bytes());
  for (const char* target : {"/console/", "/console/app.js", "/console/nope", "/console"}) {
    const HttpResponse r = ConsoleAnswer(http::verb::get, target);
    EXPECT_EQ(r["Content-Security-Policy"], std::string(kConsoleContentSecurityPolicy)) << target;
    EXPECT_EQ(r["X-Frame-Options"], "DENY") << target;
    EXPECT_EQ(r["X-Content-Type-Options"], "nosniff") << target;
    EXPECT_EQ(r["Referrer-Policy"], "no-referrer") << target;
  }
  EXPECT_EQ(ConsoleAnswer(http::verb::get, "/console/../v1/whoami").result(),
            http::status::not_found);
  EXPECT_EQ(ConsoleAnswer(http::verb::get, "/console/%61pp.js").result(), http::status::not_found);
  EXPECT_EQ(ConsoleAnswer(http::verb::get, "/console").result(), http::status::permanent_redirect);
  EXPECT_EQ(ConsoleAnswer(http::verb::post, "/console/").result(),
            http::status::method_not_allowed);
  EXPECT_TRUE(IsConsoleTarget("/console?x"));
  EXPECT_FALSE(IsConsoleTarget("/consoles/"));
  EXPECT_FALSE(IsConsoleTarget("/v1/console/"));
}

}  // namespace
}  // namespace portrait::daemon
