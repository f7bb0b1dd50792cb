// portraitctl token create|list|revoke: API tokens, through the running daemon.
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

void AddTokenCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
