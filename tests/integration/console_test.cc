// The web console in a real browser: a real portraitd with generated customers, driven through
// headless Chromium (Debian's chromium and chromium-driver) by tests/integration/console_browser.py
// (python3-selenium). The script checks what each role sees and does (the marketer's masked
// phone and withheld birthday, an XSS name shown as text with no alert, an admin's retry of a
// dead task until it is delivered, the auditor's chain check), that every console answer carries
// the Content-Security-Policy and that no request of the browser leaves the origin (from its
// network log), and saves a screenshot of each view into BUILD/console-screenshots/. Between its
// two runs this test tampers with one audit record, with the daemon stopped, and the second run
// checks the console reports the chain broken at that record.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <string>

#include "tests/integration/cdnow_events.h"
#include "tests/integration/daemon_harness.h"

namespace portrait::testing {
namespace {

// Rules the test adds to the example's: a score and segments for the overview, a service
// trigger whose exec sink fails until a flag file exists (so its task dies, and a retry after
// the flag is made delivers it), and a marketing trigger sent under the customer's consent.
const std::string kRules = kCdnowScore + R"toml(
[[segment]]
name = "buyers"
when = "metrics.orders >= 1"

[[segment]]
name = "repeat_buyers"
when = "metrics.orders >= 2"

[[trigger]]
id = "console-ping"
purpose = "service"
on.event = "console.ping"
task = "note"
channel = "email"
sink = "console-hook"
message = "ping"

[[trigger]]
id = "console-offer"
purpose = "marketing"
on.event = "console.offer"
task = "offer"
channel = "sms"
sink = "care-queue"
message = "offer"
)toml";

void Replace(std::string& text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
}

TEST(Console, EachRoleSeesAndDoesInTheBrowserOnlyWhatItsTokenMay) {
  Daemon daemon;
  const std::string flag = daemon.dir() / "deliver.flag";
  std::string config = ReadFile(daemon.config_path());
  Replace(config, R"(derived = ["metrics", "lifecycle", "tags"])",
          R"(derived = ["metrics", "lifecycle", "tags", "segments", "scores", "predictions"])");
  config +=
      "\n[[sink]]\nname = \"console-hook\"\ntype = \"exec\"\ncommand = \"cat > /dev/null "
      "&& test -e '" +
      flag + "'\"\nmax_attempts = 1\n";
  WriteFile(daemon.config_path(), config);
  WriteFile(daemon.dir() / "rules/console.toml", kRules);
  ASSERT_TRUE(daemon.Start());
  const std::string url = "http://127.0.0.1:" + std::to_string(daemon.port());
  std::string out;
  ASSERT_EQ(RunCommand(BinDir() + "/portrait-sample --config " + daemon.config_path() + " --url " +
                           url + " -n 150 --seed 5 2>&1",
                       &out),
            0)
      << out;
  const std::string shots = BinDir() + "/../console-screenshots";
  std::filesystem::create_directories(shots);
  auto script = [&](const std::string& phase) {
    return "/usr/bin/python3 -B " + std::string(PORTRAIT_SOURCE_DIR) +
           "/tests/integration/console_browser.py --url http://127.0.0.1:" +
           std::to_string(daemon.port()) + " --token " + daemon.admin_token() + " --flag " + flag +
           " --shots " + shots + " --phase " + phase + " 2>&1";
  };
  std::string main_out;
  int rc = RunCommand(script("main"), &main_out);
  std::cout << main_out;
  ASSERT_EQ(rc, 0) << main_out;

  // Record 5 altered behind the daemon's back: its hash no longer chains.
  ASSERT_EQ(daemon.Stop(), 0);
  daemon.Sql("UPDATE audit SET action = 'profile.erase' WHERE seq = 5;");
  ASSERT_TRUE(daemon.Start());
  std::string tampered_out;
  rc = RunCommand(script("tampered --bad-seq 5"), &tampered_out);
  std::cout << tampered_out;
  EXPECT_EQ(rc, 0) << tampered_out;
  EXPECT_EQ(daemon.Stop(), 0);
}

}  // namespace
}  // namespace portrait::testing
