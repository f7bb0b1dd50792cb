// `portraitctl audit`: verify an exported audit log offline with the public key alone
// (`audit verify --file F --pubkey K`), and print this data directory's public key
// (`audit pubkey`, offline: derived from the master key).
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

// Adds the `audit` subcommand group to `app`; it sets `exit_code` when it runs.
void AddAuditCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
