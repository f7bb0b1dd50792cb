#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/loader.h"

namespace portrait::testing {

namespace fs = std::filesystem;

// Test binaries ignore SIGPIPE as portraitd does: an exec sink run in-process, or a client whose
// daemon died mid-request, must fail a write (EPIPE), not end the whole test binary.
[[maybe_unused]] const bool kSigpipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "portrait-test-XXXXXX").string();
  char* made = ::mkdtemp(tmpl.data());
  if (!made) {
    std::abort();
  }
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void WriteFile(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> ListFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      out.push_back(entry.path().string());
    }
  }
  return out;
}

std::string TestConfigText() {
  return R"toml(
[daemon]
data_dir = "var"
timezone = "Asia/Shanghai"
phone_region = "CN"

[keys]
file = "var/master.key"

[[field]]
name = "name"
type = "string"
mask = "name"

[[field]]
name = "phone"
type = "phone"
blind_index = true
mask = "phone"

[[field]]
name = "email"
type = "email"
blind_index = true
mask = "email"

[[field]]
name = "city"
type = "string"

[[field]]
name = "birthday"
type = "date"
mask = "date"

[[field]]
name = "score"
type = "number"

[[field]]
name = "vip"
type = "bool"

[[field]]
name = "gender"
type = "enum"
values = ["female", "male", "other"]

[[purpose]]
name = "marketing"
basis = "consent"
fields = ["name", "city", "phone", "email"]
cap = { max = 2, per = "7d" }
quiet_hours = "21:00-08:00"

[[role]]
name = "admin"
purposes = ["marketing"]
can = ["profiles.read", "profiles.write", "admin"]
read = ["name", "phone", "email", "city", "birthday", "score", "vip", "gender"]
)toml";
}

config::Config WriteTestConfig(const TempDir& dir, std::string_view text) {
  const std::string path = dir / "portrait.toml";
  WriteFile(path, text);
  auto config = config::LoadConfig(path);
  EXPECT_TRUE(config.has_value()) << (config ? "" : config.error().ToString());
  return config ? *config : config::Config{};
}

std::string BuyersSegmentRules(std::string_view when, std::string_view message_lines) {
  return "[[segment]]\nname = \"buyers\"\nwhen = \"" + std::string(when) +
         "\"\n\n"
         "[[trigger]]\nid = \"buyer-welcome\"\npurpose = \"marketing\"\n"
         "on.segment = { enter = \"buyers\" }\ntask = \"welcome\"\nchannel = \"sms\"\n"
         "sink = \"crm\"\n" +
         std::string(message_lines);
}

std::string BinDir() {
  const char* dir = std::getenv("PORTRAIT_BIN_DIR");
  return dir ? dir : ".";
}

int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) {
    return -1;
  }
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) {
    if (output) {
      output->append(buf, n);
    }
  }
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace portrait::testing
