// Helpers for tests: temporary directories, files, a test config, and a data directory built
// from it with a fresh key. Tests generate their own keys; nothing secret is in the repository.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "store/data_dir.h"

namespace portrait::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, std::string_view content);
std::string ReadFile(const std::string& path);
// Every regular file under `dir`, recursively.
std::vector<std::string> ListFiles(const std::string& dir);

// A complete portrait.toml whose data_dir and key file live in `dir`/var.
std::string TestConfigText();

// A config file written into `dir` and loaded; the test fails if it doesn't load.
config::Config WriteTestConfig(const TempDir& dir, std::string_view text = TestConfigText());

// Rules text (TOML) of a segment "buyers" of the customers matching `when` and a marketing
// trigger "buyer-welcome" on entering it (a "welcome" task by sms to sink "crm"), whose message
// is given by the TOML lines `message_lines`. A marketing trigger reading a segment makes the
// rules read the personalisation objection (docs/DECISIONS.md 106).
std::string BuyersSegmentRules(std::string_view when = "metrics.orders >= 1",
                               std::string_view message_lines = "message = \"Welcome\"\n");

// The directory of the built binaries (portraitd, portraitctl), from PORTRAIT_BIN_DIR.
std::string BinDir();

// Runs a shell command, returning its exit status and (if `output`) its stdout.
int RunCommand(const std::string& command, std::string* output = nullptr);

}  // namespace portrait::testing
