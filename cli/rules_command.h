// `portraitctl rules check`: loads portrait.toml and every rule file it names, and reports each
// error with file:line:col — offline, before a reload or a deploy.
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

// Adds the `rules` subcommand group to `app`; it sets `exit_code` when it runs.
void AddRulesCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
