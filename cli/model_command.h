// portraitctl model fit|show: the [[model]]s' fits and parameters, through the running daemon.
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

void AddModelCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
