// portraitctl consent grant|withdraw|object|show: a customer's consent ledger, through the
// running daemon.
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

void AddConsentCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
