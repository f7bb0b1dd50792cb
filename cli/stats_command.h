// portraitctl stats: the daemon's counts (GET /v1/stats) — profiles, events, consents, tasks,
// timers due, lifecycle stages — with small bar charts on a terminal.
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

void AddStatsCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
