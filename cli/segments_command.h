// portraitctl segments list|members: the segments the caller's purpose may see, their member
// counts and their members (external ids), through the running daemon.
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

void AddSegmentsCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
