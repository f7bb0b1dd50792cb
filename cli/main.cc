// portraitctl: the admin CLI. Exit codes: 0 ok, 1 failure, 2 usage.
#include <CLI/CLI.hpp>
#include <iostream>

#include "base/process.h"
#include "cli/audit_command.h"
#include "cli/backup_command.h"
#include "cli/consent_command.h"
#include "cli/import_command.h"
#include "cli/init_command.h"
#include "cli/key_command.h"
#include "cli/model_command.h"
#include "cli/profile_command.h"
#include "cli/rules_command.h"
#include "cli/scores_command.h"
#include "cli/segments_command.h"
#include "cli/stats_command.h"
#include "cli/tasks_command.h"
#include "cli/token_command.h"

int main(int argc, char** argv) {
  portrait::HardenProcess();
  CLI::App app{
      "portraitctl - administer portrait, the privacy-first customer profile daemon.\n\n"
      "Start here:\n"
      "  portraitctl init --config portrait.toml   create the encrypted data directory\n"
      "  portraitd --config portrait.toml          run the daemon\n"
      "  portraitctl token create --name crm --role marketer   a token for a system or person"};
  app.require_subcommand(1);
  int exit_code = 0;
  portrait::cli::AddInitCommand(app, exit_code);
  portrait::cli::AddAuditCommand(app, exit_code);
  portrait::cli::AddRulesCommand(app, exit_code);
  portrait::cli::AddTokenCommand(app, exit_code);
  portrait::cli::AddTasksCommand(app, exit_code);
  portrait::cli::AddSegmentsCommand(app, exit_code);
  portrait::cli::AddProfileCommand(app, exit_code);
  portrait::cli::AddConsentCommand(app, exit_code);
  portrait::cli::AddImportCommand(app, exit_code);
  portrait::cli::AddModelCommand(app, exit_code);
  portrait::cli::AddScoresCommand(app, exit_code);
  portrait::cli::AddStatsCommand(app, exit_code);
  portrait::cli::AddKeyCommand(app, exit_code);
  portrait::cli::AddBackupCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const std::exception&) {
    // A bug, not the caller's input: its text may quote data, so only this is printed.
    std::cerr << "portraitctl: internal error; please report it with the command you ran\n";
    return 1;
  }
  return exit_code;
}
