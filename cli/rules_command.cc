#include "cli/rules_command.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "config/source_files.h"
#include "rules/rule_set.h"

namespace portrait::cli {
namespace {

struct RulesOptions {
  std::string config_path = "portrait.toml";
  bool json = false;
};

int RunCheck(const RulesOptions& opts) {
  auto fail = [&](const Status& s) {
    if (opts.json) {
      std::cout << nlohmann::json{{"ok", false}, {"errors", s.message()}}.dump() << "\n";
    } else {
      std::cerr << s.message() << "\n";
    }
    return 1;
  };
  auto config = config::LoadConfig(opts.config_path);
  if (!config) {
    return fail(config.error());
  }
  auto files = config::ReadRuleFiles(*config);
  if (!files) {
    return fail(files.error());
  }
  auto rules = rules::ParseRules(*files, *config);
  if (!rules) {
    return fail(rules.error());
  }
  if (opts.json) {
    std::cout << nlohmann::json{{"ok", true},
                                {"files", files->size()},
                                {"metrics", rules->metrics.size()},
                                {"stages", rules->lifecycle.size()},
                                {"triggers", rules->triggers.size()}}
                     .dump()
              << "\n";
  } else {
    std::cout << "ok: " << files->size() << " rule files, " << rules->metrics.size() << " metrics, "
              << rules->lifecycle.size() << " lifecycle stages, " << rules->triggers.size()
              << " triggers\n";
  }
  return 0;
}

}  // namespace

void AddRulesCommand(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<RulesOptions>();
  CLI::App* rules = app.add_subcommand("rules", "Check rule files");
  rules->require_subcommand(1);
  CLI::App* check = rules->add_subcommand(
      "check",
      "Load portrait.toml and its rule files and report every error with file:line:col: "
      "syntax, unknown keys, expression type errors, unknown fields or metrics, and triggers "
      "that read or send fields their purpose may not use. Works offline.");
  check->add_option("-c,--config", opts->config_path, "path of portrait.toml")
      ->capture_default_str();
  check->add_flag("--json", opts->json, "print the result as JSON");
  check->callback([opts, &exit_code] { exit_code = RunCheck(*opts); });
}

}  // namespace portrait::cli
