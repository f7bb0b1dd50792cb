// portraitctl profile get|put|find|erase|export|hold|unhold: one customer's profile, through the
// running daemon (`profiles` is the same group under its older name).
#pragma once

#include <CLI/CLI.hpp>

namespace portrait::cli {

void AddProfileCommand(CLI::App& app, int& exit_code);

}  // namespace portrait::cli
