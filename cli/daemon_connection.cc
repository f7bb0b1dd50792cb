#include "cli/daemon_connection.h"

#include <fstream>
#include <iostream>

#include "config/loader.h"

namespace portrait::cli {

void AddDaemonOptions(CLI::App* cmd, DaemonOptions& o) {
  cmd->add_option("-c,--config", o.config_path, "path of portrait.toml")->capture_default_str();
  cmd->add_option("--url", o.url, "the daemon's address (default: http:// + [daemon] listen)")
      ->envname("PORTRAIT_URL");
  cmd->add_option("--token", o.token,
                  "API token (default: the one in DATA_DIR/admin.token, written by init)")
      ->envname("PORTRAIT_TOKEN");
  cmd->add_option("--purpose", o.purpose,
                  "the purpose to act for (default: the token's role's first purpose)");
  cmd->add_flag("--json", o.json, "print the answer as JSON");
}

Result<DaemonConnection> DaemonConnection::Open(const DaemonOptions& o) {
  std::string url = o.url;
  std::string token = o.token;
  if (url.empty() || token.empty()) {
    PORTRAIT_ASSIGN_OR_RETURN(config::Config config, config::LoadConfig(o.config_path));
    if (url.empty()) {
      url = "http://" + config.daemon.listen;
    }
    if (token.empty()) {
      const std::string path = config.daemon.data_dir + "/admin.token";
      std::ifstream in(path);
      if (!in || !std::getline(in, token) || token.empty()) {
        return Error(Status::NotFound("no token: pass --token, or run as the owner of " + path));
      }
    }
  }
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0) {
    return Error(Status::InvalidArgument("--url: expected http://host:port"));
  }
  std::string rest = url.substr(prefix.size());
  rest = rest.substr(0, rest.find('/'));
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos) {
    return Error(Status::InvalidArgument("--url: expected http://host:port"));
  }
  const std::string port_text = rest.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) > 65535) {
    return Error(Status::InvalidArgument("--url: expected http://host:port"));
  }
  DaemonConnection conn(rest.substr(0, colon), std::stoi(port_text), token, o.purpose);
  if (o.purpose.empty()) {
    PORTRAIT_RETURN_IF_ERROR(conn.ChoosePurpose());
  }
  return conn;
}

Status DaemonConnection::ChoosePurpose() {
  PORTRAIT_ASSIGN_OR_RETURN(nlohmann::json me, Call("GET", "/v1/whoami"));
  const nlohmann::json purposes =
      me.is_object() ? me.value("purposes", nlohmann::json::array()) : nlohmann::json();
  if (!purposes.is_array()) {
    return Status::Internal("GET /v1/whoami: unexpected answer");
  }
  if (purposes.size() > 1 && purposes[0].is_string()) {
    purpose_ = purposes[0].get<std::string>();
    purpose_chosen_ = true;
  }
  return Status::Ok();
}

DaemonConnection::DaemonConnection(std::string host, int port, std::string token,
                                   std::string purpose)
    : url_("http://" + host + ":" + std::to_string(port)),
      token_(std::move(token)),
      purpose_(std::move(purpose)),
      client_(std::make_unique<HttpClient>(port, std::move(host))) {}

Result<std::string> DaemonConnection::CallRaw(const std::string& method, const std::string& target,
                                              const std::string& body) {
  std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token_}};
  if (!purpose_.empty()) {
    headers["X-Purpose"] = purpose_;
  }
  HttpResult r = client_->Send(method, target, body, headers);
  if (r.status == 0) {
    return Error(Status::Unavailable("cannot reach portraitd at " + url_ +
                                     "; is it running? (start it with portraitd --config FILE)"));
  }
  if (r.status < 200 || r.status >= 300) {
    const nlohmann::json answer = r.json();  // untrusted: any shape, or discarded
    const auto found = answer.is_object() ? answer.find("detail") : answer.end();
    const std::string detail =
        found != answer.end() && found->is_string() ? found->get<std::string>() : r.body;
    return Error(Status::Internal("HTTP " + std::to_string(r.status) + ": " + detail));
  }
  return std::move(r.body);
}

Result<nlohmann::json> DaemonConnection::Call(const std::string& method, const std::string& target,
                                              const std::string& body) {
  PORTRAIT_ASSIGN_OR_RETURN(std::string answer, CallRaw(method, target, body));
  return nlohmann::json::parse(answer, nullptr, false);
}

int Fail(const std::string& verb, const Status& status) {
  std::cerr << "portraitctl " << verb << ": " << status.message() << "\n";
  return 1;
}

int CallAndPrint(const DaemonOptions& o, const std::string& verb, const std::string& method,
                 const std::string& target, const std::string& body,
                 const std::function<void(const nlohmann::json&)>& print) {
  auto conn = DaemonConnection::Open(o);
  if (!conn) {
    return Fail(verb, conn.error());
  }
  auto answer = conn->Call(method, target, body);
  if (!answer) {
    return Fail(verb, answer.error());
  }
  if (o.json) {
    std::cout << answer->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    if (conn->purpose_chosen()) {
      std::cerr << "(for purpose '" << conn->purpose() << "'; --purpose chooses another)\n";
    }
    print(*answer);
  }
  return 0;
}

}  // namespace portrait::cli
