#include "cli/token_command.h"

#include <cstdio>
#include <iostream>

#include "base/url.h"
#include "cli/daemon_connection.h"

namespace portrait::cli {
namespace {

struct TokenOptions {
  DaemonOptions daemon;
  std::string name;
  std::string role;
};

int Create(const TokenOptions& o) {
  const std::string body = nlohmann::json{{"name", o.name}, {"role", o.role}}.dump();
  return CallAndPrint(o.daemon, "token create", "POST", "/v1/tokens", body,
                      [&](const nlohmann::json& answer) {
                        std::cout << answer.value("token", "") << "\n";
                        std::cerr << "token '" << o.name << "' for role '" << o.role
                                  << "' created; it is shown only now - store it in a secret "
                                     "manager\n";
                      });
}

int List(const TokenOptions& o) {
  return CallAndPrint(
      o.daemon, "token list", "GET", "/v1/tokens", "", [](const nlohmann::json& answer) {
        std::printf("%-24s %-14s %-28s %-28s %s\n", "NAME", "ROLE", "CREATED", "LAST USED",
                    "REVOKED");
        for (const auto& t : answer.value("tokens", nlohmann::json::array())) {
          std::printf("%-24s %-14s %-28s %-28s %s\n", t.value("name", "").c_str(),
                      t.value("role", "").c_str(), t.value("created", "").c_str(),
                      t.value("last_used", "-").c_str(), t.value("revoked", "").c_str());
        }
      });
}

int Revoke(const TokenOptions& o) {
  return CallAndPrint(
      o.daemon, "token revoke", "DELETE", "/v1/tokens/" + PercentEncode(o.name), "",
      [&](const nlohmann::json&) { std::cout << "revoked token '" << o.name << "'\n"; });
}

}  // namespace

void AddTokenCommand(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<TokenOptions>();
  CLI::App* token = app.add_subcommand(
      "token",
      "API tokens for people and systems, through the running daemon (needs a token with the "
      "admin permission: by default the one `init` wrote to DATA_DIR/admin.token).");
  token->require_subcommand(1);

  CLI::App* create = token->add_subcommand(
      "create",
      "Create a token for a role; prints it once (it is stored only as a keyed hash).\n"
      "  portraitctl token create --name crm-sync --role marketer");
  create->add_option("--name", o->name, "a unique name, e.g. crm-sync")->required();
  create->add_option("--role", o->role, "a role declared in portrait.toml")->required();
  AddDaemonOptions(create, o->daemon);
  create->callback([o, &exit_code] { exit_code = Create(*o); });

  CLI::App* list = token->add_subcommand(
      "list", "List tokens: name, role, created, last used.\n  portraitctl token list --json");
  AddDaemonOptions(list, o->daemon);
  list->callback([o, &exit_code] { exit_code = List(*o); });

  CLI::App* revoke = token->add_subcommand(
      "revoke", "Revoke a token by name, at once.\n  portraitctl token revoke crm-sync");
  revoke->add_option("name", o->name, "the token's name")->required();
  AddDaemonOptions(revoke, o->daemon);
  revoke->callback([o, &exit_code] { exit_code = Revoke(*o); });
}

}  // namespace portrait::cli
