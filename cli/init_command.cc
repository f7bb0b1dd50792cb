#include "cli/init_command.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "store/data_dir.h"

namespace portrait::cli {
namespace {

struct InitOptions {
  std::string config_path = "portrait.toml";
  bool json = false;
};

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
  if (opts.json) {
    nlohmann::json out = {{"data_dir", config->daemon.data_dir},
                          {"key_file", config->keys.file},
                          {"passphrase_env", config->keys.passphrase_env}};
    std::cout << out.dump() << "\n";
  } else {
    std::cout << "created data directory " << config->daemon.data_dir << "\n";
    if (!config->keys.file.empty()) {
      std::cout << "master key: " << config->keys.file
                << " (mode 0600; back it up apart from the data - without it nothing can be "
                   "read)\n";
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
      "passphrase key, and the encrypted databases portrait.db and keystore.db. Refuses to "
      "overwrite anything that exists.");
  cmd->add_option("-c,--config", opts->config_path, "path of portrait.toml")->capture_default_str();
  cmd->add_flag("--json", opts->json, "print the result as JSON");
  cmd->callback([opts, &exit_code] { exit_code = RunInit(*opts); });
}

}  // namespace portrait::cli
