// portraitctl scores refresh|show: the [[score]]s' refreshes and one customer's scores with the
// inputs that made them, through the running daemon.
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

void AddScoresCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
