// `portraitctl key rotate|status`: the master key's rotation, offline (store/key_rotation.h).
// `rotate` makes a new master key and moves the data directory onto it in a crash-safe order;
// run again after a crash, it finishes the interrupted rotation first. `status` says which key
// the store is on, whether a rotation was interrupted, and how to finish it.
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

// Adds the `key` subcommand to `app`; it sets `exit_code` when it runs.
void AddKeyCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
