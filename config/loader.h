// Loading portrait.toml into a Config. Every error names file:line:col and the key: unknown
// keys, wrong types, bad values, unknown or duplicate names, masks that don't fit a field's type.
// All errors of a file are reported at once, one per line. Pure apart from reading the file.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "config/config.h"

namespace portrait::config {

// Reads and validates the file at `path`. Relative paths inside it (data_dir, keys.file, rules)
// resolve against the file's folder. InvalidArgument lists every problem found; NotFound or
// IOError when the file can't be read.
Result<Config> LoadConfig(const std::string& path);

// Same, from text already in memory; `path` names it in messages and anchors relative paths.
Result<Config> ParseConfig(std::string_view text, const std::string& path);

// True if `name` is an IANA time zone known to this machine's tz database.
bool IsKnownTimeZone(std::string_view name);

}  // namespace portrait::config
