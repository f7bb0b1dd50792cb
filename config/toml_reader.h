// Reading toml++ tables into plain values while collecting errors that name file:line:col and
// the key. A TableReader remembers which keys were asked for, so Finish() can report every key
// nobody asked for: a typo never passes silently. Single-threaded helpers used by the loaders.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "config/config.h"

namespace portrait::config {

// Errors found while loading one file, in the order found.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  SourcePos Pos(const toml::source_region& where) const;
  void Add(const SourcePos& pos, std::string_view message);
  void Add(const toml::source_region& where, std::string_view message) { Add(Pos(where), message); }
  bool empty() const { return lines_.empty(); }
  const std::string& file() const { return file_; }
  // InvalidArgument whose message holds one "file:line:col: message" line per error; OK if none.
  Status ToStatus() const;

 private:
  std::string file_;
  std::vector<std::string> lines_;
};

// Parses `text` as TOML, refusing first what toml++ can't read safely (toml_guard.h). On an
// error, adds it to `diag` (file:line:col) and returns nothing.
std::optional<toml::table> ParseToml(std::string_view text, Diagnostics& diag);

// A string with where it was written.
struct Located {
  std::string value;
  SourcePos pos;
};

class TableReader {
 public:
  // `context` names the table in messages, e.g. "daemon" or "role 'marketer'".
  TableReader(const toml::table& table, std::string context, Diagnostics& diag)
      : table_(table), context_(std::move(context)), diag_(diag) {}

  void set_context(std::string context) { context_ = std::move(context); }
  SourcePos pos() const { return diag_.Pos(table_.source()); }
  // Where `key` was written (its value), or the table's position when absent.
  SourcePos PosOf(std::string_view key) const;

  // Each getter marks `key` known, reports a wrong type, and returns nullopt when the key is
  // absent (an error too when `required`) or invalid.
  std::optional<Located> String(std::string_view key, bool required = false);
  std::optional<int64_t> Int(std::string_view key, int64_t min, int64_t max);
  // An integer or a float (finite), within [min, max].
  std::optional<double> Number(std::string_view key, double min, double max);
  std::optional<bool> Bool(std::string_view key);
  std::optional<std::vector<Located>> Strings(std::string_view key);
  const toml::table* Table(std::string_view key);
  // An array of tables ([[field]]); empty when absent.
  std::vector<const toml::table*> Tables(std::string_view key);

  // One of `names`, or an error listing them.
  template <typename E>
  std::optional<E> Enum(std::string_view key,
                        const std::vector<std::pair<std::string_view, E>>& names,
                        bool required = false) {
    auto s = String(key, required);
    if (!s) {
      return std::nullopt;
    }
    std::string options;
    for (const auto& [name, value] : names) {
      if (name == s->value) {
        return value;
      }
      options += options.empty() ? "" : ", ";
      options += name;
    }
    Error(s->pos, key, "'" + s->value + "' is not one of: " + options);
    return std::nullopt;
  }

  // Reports an error about `key` at `pos`.
  void Error(const SourcePos& pos, std::string_view key, std::string_view message);
  // Reports every key of the table that no getter asked for.
  void Finish();

 private:
  const toml::node* Get(std::string_view key, bool required);
  void WrongType(const toml::node& node, std::string_view key, std::string_view expected);

  const toml::table& table_;
  std::string context_;
  Diagnostics& diag_;
  std::set<std::string, std::less<>> known_;
};

}  // namespace portrait::config
