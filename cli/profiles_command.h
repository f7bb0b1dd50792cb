// portraitctl profiles hold|unhold: a profile's legal hold, through the running daemon.
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

void AddProfilesCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
