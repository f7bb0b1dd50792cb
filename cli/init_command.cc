#include "cli/init_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "consent/access_policy.h"
#include "store/data_dir.h"
#include "store/token_registry.h"

namespace portrait::cli {
namespace {

struct InitOptions {
  std::string config_path = "portrait.toml";
  bool json = false;
};

// The role the first token gets: "admin" if declared, else the first role with the admin
// permission; nullptr when no role may administer.
const config::Role* AdminRole(const config::Config& config) {
  if (const config::Role* admin = config.FindRole("admin")) {
    return admin;
  }
  for (const config::Role& role : config.roles) {
    if (consent::HasPermission(role, "admin")) {
      return &role;
    }
  }
  return nullptr;
}

// Creates the first API token and writes it, alone, to `path` (mode 0600, never overwritten).
Status WriteAdminToken(store::DataDir& data, const config::Role& role, const std::string& path) {
  SystemClock clock;
  PORTRAIT_ASSIGN_OR_RETURN(std::string token,
                            store::CreateToken(data, "admin", role.name, "system:init", clock));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::IOError("cannot create " + path);
  }
  token += "\n";
  bool ok = ::write(fd, token.data(), token.size()) == static_cast<ssize_t>(token.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::Ok() : Status::IOError("cannot write " + path);
}

int RunInit(const InitOptions& opts) {
  auto config = config::LoadConfig(opts.config_path);
  if (!config) {
    std::cerr << "portraitctl init: " << config.error().message() << "\n";
    return 1;
  }
  auto data = store::InitDataDir(*config);
  if (!data) {
    std::cerr << "portraitctl init: " << data.error().message() << "\n";
    return 1;
  }
  const std::string token_path = config->daemon.data_dir + "/admin.token";
  const config::Role* admin = AdminRole(*config);
  if (admin) {
    if (Status s = WriteAdminToken(*data, *admin, token_path); !s.ok()) {
      std::cerr << "portraitctl init: the first API token: " << s.message() << "\n";
      return 1;
    }
  }
  if (opts.json) {
    nlohmann::json out = {{"data_dir", config->daemon.data_dir},
                          {"key_file", config->keys.file},
                          {"passphrase_env", config->keys.passphrase_env},
                          {"admin_token_file", admin ? token_path : ""}};
    std::cout << out.dump() << "\n";
  } else {
    std::cout << "created data directory " << config->daemon.data_dir << "\n";
    if (!config->keys.file.empty()) {
      std::cout << "master key: " << config->keys.file
                << " (mode 0600; back it up apart from the data - without it nothing can be "
                   "read)\n";
    }
    if (admin) {
      std::cout << "API token for role '" << admin->name << "': " << token_path
                << " (mode 0600; portraitctl uses it by default)\n";
    } else {
      std::cout << "no role has the admin permission, so no API token was made\n";
    }
    std::cout << "next: portraitd --config " << opts.config_path << "\n";
  }
  return 0;
}

}  // namespace

void AddInitCommand(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<InitOptions>();
  CLI::App* cmd = app.add_subcommand(
      "init",
      "Create a data directory: a fresh 32-byte master key file (mode 0600), or a salt for a "
      "passphrase key, and the encrypted databases portrait.db and keystore.db (with [store] "
      "kind = \"postgres\", the schemas of its two databases instead). Refuses to "
      "overwrite anything that exists. Works offline.\n"
      "  portraitctl init --config portrait.toml");
  cmd->add_option("-c,--config", opts->config_path, "path of portrait.toml")->capture_default_str();
  cmd->add_flag("--json", opts->json, "print the result as JSON");
  cmd->callback([opts, &exit_code] { exit_code = RunInit(*opts); });
}

}  // namespace portrait::cli
