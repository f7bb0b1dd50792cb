// A real portraitd for integration tests: a fresh data directory made by `portraitctl init` from
// the example config and rules, the daemon started on 127.0.0.1 (a free port), and a small
// keep-alive HTTP client. Tests talk to it only over HTTP, as users do.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/http_client.h"
#include "tests/support/test_support.h"

namespace portrait::testing {

using cli::HttpClient;
using cli::HttpResult;

// Polls `done` until it holds; false when `seconds` pass first. Tests wait on conditions, never
// for a fixed time.
bool Eventually(const std::function<bool()>& done, int seconds = 20);

class Daemon {
 public:
  // Copies examples/portrait.toml and examples/rules into a temp dir and runs portraitctl init;
  // `config_suffix` (TOML, e.g. a [store] table) is appended to the config first.
  Daemon() : Daemon(std::string()) {}
  explicit Daemon(const std::string& config_suffix);
  // Another node on `first`'s store (several nodes on one PostgreSQL): `first`'s config (its
  // [cluster] table, last in it, replaced by `cluster`) and rules, its master key and admin
  // token; no portraitctl init, the store exists.
  Daemon(const Daemon& first, const std::string& cluster);
  ~Daemon();

  // Starts portraitd; waits until it listens. `test_now` (RFC 3339) sets PORTRAIT_TEST_NOW.
  // Returns false (with the log in the failure) if it did not come up.
  bool Start(const std::string& test_now = "");
  // Sets `name` to `value` in the environment of every later Start (e.g. NOTIFY_SOCKET).
  void SetEnv(const std::string& name, const std::string& value) { env_[name] = value; }
  // SIGTERM and wait; returns the exit code.
  int Stop();
  // SIGKILL and wait.
  void Kill();
  // Sends a signal without waiting.
  void Signal(int signal);
  bool running() const { return pid_ > 0; }

  // Waits up to `seconds` for `text` in the daemon's log (all runs so far).
  bool WaitForLog(const std::string& text, int seconds = 20) const;
  std::string Log() const;

  int port() const { return port_; }
  const std::string& admin_token() const { return admin_token_; }
  const TempDir& dir() const { return dir_; }
  std::string config_path() const { return dir_ / "portrait.toml"; }

  // A request as the admin token with X-Purpose `purpose` (empty: none).
  HttpResult Admin(const std::string& method, const std::string& target,
                   const std::string& body = "", const std::string& purpose = "service");
  // The customer's tasks of `trigger`, from the profile's export.
  std::vector<nlohmann::json> TasksOf(const std::string& customer, const std::string& trigger);
  // A token for `role`, created through the API.
  std::string CreateToken(const std::string& name, const std::string& role);
  // Runs PRAGMA integrity_check on portrait.db with the sqlcipher shell; returns its output.
  std::string IntegrityCheck() const;
  // Runs `statements` on portrait.db with the sqlcipher shell (keyed); returns its output. For
  // making the state an older version left, with the daemon stopped.
  std::string Sql(const std::string& statements) const;

  HttpClient& client();

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  int runs_ = 0;
  std::string admin_token_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace portrait::testing
