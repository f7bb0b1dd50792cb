// portraitctl import profiles|events FILE: bulk import through the running daemon, in batches
// (POST /v1/import/profiles, POST /v1/events), streaming with bounded memory. Bad lines are
// reported (--errors FILE: one JSON object {line, field, reason} per bad line, never a value)
// and never stop the good ones; a daemon error stops the import. Exit 0 when every line was
// imported, 1 when any line failed or the daemon failed, 2 on a usage error.
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

void AddImportCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
