#include "cli/rules_command.h"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/utf8.h"
#include "cli/daemon_connection.h"
#include "cli/output.h"
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

struct RulesTestOptions {
  DaemonOptions daemon;
  std::string profile;
  std::string event_file;
  std::string at;
};

constexpr size_t kMaxEventFileBytes = 1 << 20;  // the daemon's body limit

// The CloudEvent in `path`: a JSON object, at most 1 MiB. Errors name the file, never its text.
Result<nlohmann::json> ReadEvent(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(Status::NotFound("--event: cannot read the file"));
  }
  std::string text(kMaxEventFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxEventFileBytes) {
    return Error(Status::InvalidArgument("--event: the file is over 1 MiB"));
  }
  if (!IsValidUtf8(text)) {
    return Error(Status::InvalidArgument("--event: the file is not valid UTF-8"));
  }
  if (JsonNestsDeeperThan(text, 64)) {
    return Error(Status::InvalidArgument("--event: the JSON nests more than 64 deep"));
  }
  nlohmann::json event = nlohmann::json::parse(text, nullptr, false);
  if (!event.is_object()) {
    return Error(Status::InvalidArgument("--event: expected one CloudEvent, a JSON object"));
  }
  return event;
}

void PrintTest(const nlohmann::json& answer) {
  std::cout << "profile " << answer.value("internal_id", nlohmann::json(0)).dump() << " at "
            << Printable(answer.value("at", "")) << "\n";
  std::vector<std::vector<std::string>> rows{{"TRIGGER", "FIRES", "REASON"}};
  const nlohmann::json triggers = answer.value("triggers", nlohmann::json::array());
  for (const nlohmann::json& t : triggers.is_array() ? triggers : nlohmann::json::array()) {
    if (!t.is_object()) {
      continue;
    }
    const nlohmann::json fires = t.value("fires", nlohmann::json());
    rows.push_back({t.value("trigger", ""),
                    fires.is_boolean() ? (fires.get<bool>() ? "yes" : "no") : "not evaluated",
                    t.value("reason", "")});
  }
  if (rows.size() == 1) {
    std::cerr << "no trigger of this purpose\n";
    return;
  }
  std::cout << Table(rows);
}

int RunTest(const RulesTestOptions& o) {
  nlohmann::json body = {{"profile", o.profile}};
  if (!o.at.empty()) {
    body["at"] = o.at;
  }
  if (!o.event_file.empty()) {
    auto event = ReadEvent(o.event_file);
    if (!event) {
      return Fail("rules test", event.error());
    }
    body["event"] = std::move(*event);
  }
  return CallAndPrint(o.daemon, "rules test", "POST", "/v1/rules/test",
                      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                      PrintTest);
}

}  // namespace

void AddRulesCommand(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<RulesOptions>();
  CLI::App* rules =
      app.add_subcommand("rules", "Check rule files, or dry-run the rules in force for a profile");
  rules->require_subcommand(1);
  CLI::App* check = rules->add_subcommand(
      "check",
      "Load portrait.toml and its rule files and report every error with file:line:col: "
      "syntax, unknown keys, expression type errors, unknown fields or metrics, and triggers "
      "that read or send fields their purpose may not use. Works offline.\n"
      "  portraitctl rules check --config portrait.toml");
  check->add_option("-c,--config", opts->config_path, "path of portrait.toml")
      ->capture_default_str();
  check->add_flag("--json", opts->json, "print the result as JSON");
  check->callback([opts, &exit_code] { exit_code = RunCheck(*opts); });

  auto test_opts = std::make_shared<RulesTestOptions>();
  CLI::App* test = rules->add_subcommand(
      "test",
      "Dry-run the rules in force for one profile through the running daemon: which of the "
      "purpose's triggers would fire now, at --at, or on the event in --event, and why not. "
      "Writes nothing but its audit record.\n"
      "  portraitctl rules test --profile C1042 --event order.json --purpose care");
  test->add_option("--profile", test_opts->profile, "the customer's external id")->required();
  test->add_option("--event", test_opts->event_file, "a file holding one CloudEvent (JSON)");
  test->add_option("--at", test_opts->at, "RFC 3339 time to test at (default now)");
  AddDaemonOptions(test, test_opts->daemon);
  test->callback([test_opts, &exit_code] { exit_code = RunTest(*test_opts); });
}

}  // namespace portrait::cli
