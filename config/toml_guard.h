// A check of TOML text before toml++ reads it. The toml++ of Debian bookworm (3.3) reaches
// __builtin_unreachable, which is undefined behaviour, when it asks whether some non-ASCII
// characters (U+00A1..U+0499, U+2D8E..U+3187, U+FBC6..U+FEFE: accented Latin, Greek, Cyrillic,
// CJK punctuation, kana) are whitespace. It asks outside strings and comments, and after a
// backslash in a multi-line basic string (upstream issues #190 and #295). The check refuses
// any non-ASCII character in those places (TOML allows none outside strings and comments; a
// backslash escapes only ASCII), and text that is not UTF-8, with the line and column, so the
// parser never sees them. Strings and comments may hold any character.
// Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace portrait::config {

struct TomlHazard {
  int line = 0;    // 1-based
  int column = 0;  // 1-based, in characters
  std::string message;
};

// The first place in `text` that toml++ must not read, or nothing.
std::optional<TomlHazard> FindTomlHazard(std::string_view text);

}  // namespace portrait::config
