// portraitctl tasks list|retry|cancel: the dispatch outbox, through the running daemon.
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

void AddTasksCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
