#include "tests/integration/daemon_harness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include "config/loader.h"
#include "crypto/key_hierarchy.h"
#include "crypto/master_key.h"

namespace portrait::testing {

namespace fs = std::filesystem;

Daemon::Daemon(const std::string& config_suffix) {
  const fs::path source = PORTRAIT_SOURCE_DIR;
  fs::copy_file(source / "examples/portrait.toml", dir_ / "portrait.toml");
  if (!config_suffix.empty()) {
    WriteFile(dir_ / "portrait.toml", ReadFile(dir_ / "portrait.toml") + "\n" + config_suffix);
  }
  fs::copy(source / "examples/rules", dir_ / "rules", fs::copy_options::recursive);
  std::string out;
  int rc = RunCommand(BinDir() + "/portraitctl init --config " + config_path() + " 2>&1", &out);
  EXPECT_EQ(rc, 0) << out;
  admin_token_ = ReadFile(dir_ / "var/admin.token");
  while (!admin_token_.empty() && admin_token_.back() == '\n') {
    admin_token_.pop_back();
  }
}

Daemon::Daemon(const Daemon& first, const std::string& cluster) {
  std::string config = ReadFile(first.config_path());
  const size_t at = config.rfind("[cluster]");
  EXPECT_NE(at, std::string::npos) << "the first node's config has no [cluster] table";
  WriteFile(config_path(), config.substr(0, at) + cluster);
  fs::copy(first.dir() / "rules", dir_ / "rules", fs::copy_options::recursive);
  fs::create_directory(dir_ / "var");
  fs::permissions(dir_ / "var", fs::perms::owner_all);
  for (const char* name : {"master.key", "admin.token"}) {
    fs::copy_file(first.dir() / (std::string("var/") + name), dir_ / (std::string("var/") + name));
  }
  admin_token_ = first.admin_token_;
}

Daemon::~Daemon() {
  if (pid_ > 0) {
    Kill();
  }
}

std::string Daemon::Log() const {
  std::string all;
  for (int i = 1; i <= runs_; ++i) {
    all += ReadFile(dir_ / ("daemon." + std::to_string(i) + ".log"));
  }
  return all;
}

bool Eventually(const std::function<bool()>& done, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return true;
}

bool Daemon::WaitForLog(const std::string& text, int seconds) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Log().find(text) != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool Daemon::Start(const std::string& test_now) {
  ++runs_;
  const std::string log = dir_ / ("daemon." + std::to_string(runs_) + ".log");
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (!test_now.empty()) {
      ::setenv("PORTRAIT_TEST_NOW", test_now.c_str(), 1);
    }
    for (const auto& [name, value] : env_) {
      ::setenv(name.c_str(), value.c_str(), 1);
    }
    std::string bin = BinDir() + "/portraitd";
    std::string config = config_path();
    ::execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), "--listen", "127.0.0.1:0",
            nullptr);
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  static const std::regex kListening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    std::string text = ReadFile(log);
    if (std::regex_search(text, m, kListening)) {
      port_ = std::stoi(m[1]);
      client_ = std::make_unique<HttpClient>(port_);
      return true;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ADD_FAILURE() << "portraitd exited at start:\n" << text;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "portraitd did not start listening:\n" << ReadFile(log);
  return false;
}

int Daemon::Stop() {
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  client_.reset();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void Daemon::Kill() {
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  client_.reset();
}

void Daemon::Signal(int signal) { ::kill(pid_, signal); }

HttpClient& Daemon::client() { return *client_; }

HttpResult Daemon::Admin(const std::string& method, const std::string& target,
                         const std::string& body, const std::string& purpose) {
  std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + admin_token_}};
  if (!purpose.empty()) {
    headers["X-Purpose"] = purpose;
  }
  return client().Send(method, target, body, headers);
}

std::vector<nlohmann::json> Daemon::TasksOf(const std::string& customer,
                                            const std::string& trigger) {
  HttpResult r = Admin("GET", "/v1/profiles/" + customer + "/export");
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<nlohmann::json> out;
  const nlohmann::json tasks = r.json()["tasks"];
  for (const nlohmann::json& t : tasks) {
    if (t["trigger"] == trigger) {
      out.push_back(t);
    }
  }
  return out;
}

std::string Daemon::CreateToken(const std::string& name, const std::string& role) {
  HttpResult r = Admin("POST", "/v1/tokens", nlohmann::json{{"name", name}, {"role", role}}.dump());
  EXPECT_EQ(r.status, 201) << r.body;
  return r.json().value("token", "");
}

std::string Daemon::IntegrityCheck() const { return Sql("PRAGMA integrity_check;"); }

std::string Daemon::Sql(const std::string& statements) const {
  auto config = config::LoadConfig(config_path()).value();
  auto master = crypto::LoadKeyFile(config.keys.file).value();
  auto keys = crypto::KeyHierarchy::Create(master).value();
  std::string hex;
  for (unsigned char c : keys.portrait_db_key().view()) {
    static const char* kDigits = "0123456789abcdef";
    hex += kDigits[c >> 4];
    hex += kDigits[c & 15];
  }
  WriteFile(
      dir_ / "statements.sql",
      "PRAGMA key = \"x'" + hex + "'\";\nPRAGMA cipher_page_size = 4096;\n" + statements + "\n");
  std::string out;
  RunCommand(
      "sqlcipher " + (dir_ / "var/portrait.db") + " < " + (dir_ / "statements.sql") + " 2>&1",
      &out);
  fs::remove(dir_ / "statements.sql");
  return out;
}

}  // namespace portrait::testing
