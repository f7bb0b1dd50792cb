// How portraitctl reaches a running portraitd: the URL (--url or PORTRAIT_URL, else http:// +
// [daemon] listen) and the bearer token (--token or PORTRAIT_TOKEN, else DATA_DIR/admin.token,
// which `portraitctl init` wrote). Answers that are not 2xx come back as errors carrying the
// problem's detail.
//
// The purpose (X-Purpose): --purpose when given; else the connection asks the daemon which
// role the token has (GET /v1/whoami) and, when the role acts for several purposes, sends the
// first of them, so every verb works for a role of several purposes (docs/DECISIONS.md 122).
// Permissions belong to the role, so that purpose may do whatever the role may; --purpose
// chooses another.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/result.h"
#include "cli/http_client.h"

namespace portrait::cli {

struct DaemonOptions {
  std::string config_path = "portrait.toml";
  std::string url;
  std::string token;
  std::string purpose;
  bool json = false;
};

// Adds --config, --url, --token, --purpose and --json to `cmd`.
void AddDaemonOptions(CLI::App* cmd, DaemonOptions& options);

class DaemonConnection {
 public:
  static Result<DaemonConnection> Open(const DaemonOptions& options);

  // The answer's JSON body; an error naming the status and the problem's detail otherwise.
  Result<nlohmann::json> Call(const std::string& method, const std::string& target,
                              const std::string& body = "");
  // The same, returning the body as it came (e.g. JSON lines).
  Result<std::string> CallRaw(const std::string& method, const std::string& target,
                              const std::string& body = "");

  // The purpose sent as X-Purpose (empty: none, the role's only one), and whether the
  // connection chose it (no --purpose, a role of several purposes).
  const std::string& purpose() const { return purpose_; }
  bool purpose_chosen() const { return purpose_chosen_; }

 private:
  DaemonConnection(std::string host, int port, std::string token, std::string purpose);
  // Without --purpose: the role's first purpose when it has several (GET /v1/whoami).
  Status ChoosePurpose();

  std::string url_;
  std::string token_;
  std::string purpose_;
  bool purpose_chosen_ = false;
  std::unique_ptr<HttpClient> client_;
};

// Prints `status` as "portraitctl VERB: message" to stderr; returns the exit code (1).
int Fail(const std::string& verb, const Status& status);

// One request for the verb `verb` ("tasks list"): connects, sends, and prints the answer — as
// JSON with --json, else with `print` (and, when the connection chose the purpose, a note on
// stderr naming it). Returns the exit code.
int CallAndPrint(const DaemonOptions& options, const std::string& verb, const std::string& method,
                 const std::string& target, const std::string& body,
                 const std::function<void(const nlohmann::json&)>& print);

}  // namespace portrait::cli
