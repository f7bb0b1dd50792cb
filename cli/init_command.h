// `portraitctl init`: creates a data directory — a fresh master key (or passphrase salt) and
// both encrypted databases — from the paths in portrait.toml. Works offline.
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

// Adds the `init` subcommand to `app`; it sets `exit_code` when it runs.
void AddInitCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
