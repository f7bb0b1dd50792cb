// `portraitctl backup create|restore` (store/backup.h). `create DIR` copies both databases of a
// running (or stopped) portraitd's data directory into DIR through SQLite's online backup API,
// with a manifest written last; `restore DIR` (portraitd stopped) puts a backup in place and
// re-applies every erasure recorded since, from the erasure ledgers, and says how many.
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

// Adds the `backup` subcommand to `app`; it sets `exit_code` when it runs.
void AddBackupCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
