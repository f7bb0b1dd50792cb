// From import file records (cli/record_reader.h) to the rows the daemon imports: profile rows
// {"line", "id", "fields", "tags", "timezone"} for POST /v1/import/profiles, CloudEvents for
// POST /v1/events. What can be checked without the daemon is checked here — the record's shape,
// JSON syntax and nesting, the id's presence, an id repeated in the file — and refused with the
// field and the reason, never the value; the daemon checks the rest. Not thread-safe.
#pragma once

#include <array>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <tl/expected.hpp>
#include <unordered_map>
#include <vector>

#include "cli/record_reader.h"

namespace portrait::cli {

// Why a line was not imported: the field (or "line", "id", "row") and the reason.
struct LineError {
  int64_t line = 0;
  std::string field;
  std::string reason;
};

// JSON nested deeper than this in one line is refused.
inline constexpr size_t kMaxLineNesting = 32;

class ProfileRows {
 public:
  // CSV: the header names the columns: `id` (required), `tags` (tags separated by ';'),
  // `timezone`, and field names. Refused (a usage error, naming the column) when the header
  // is bad: no id column, an empty or repeated name.
  static tl::expected<ProfileRows, std::string> ForCsv(const Record& header);
  // JSON lines: each line an object {"id", "fields", "tags", "timezone"}.
  static ProfileRows ForJsonLines() { return ProfileRows({}); }

  // The row for `record`, or why it is refused. An empty CSV cell is left out (the field is
  // not written). An id seen at an earlier line of the file is refused ("id repeated in this
  // file at line N"). Ids are remembered by their 32-byte BLAKE2b digest (no two ids share one
  // in practice, so no false repeat), about 80 bytes per distinct id with the line and the
  // table's node: memory grows with the file's rows, e.g. ~80 MiB for a million ids.
  tl::expected<nlohmann::json, LineError> Build(const Record& record);

 private:
  explicit ProfileRows(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  tl::expected<nlohmann::json, LineError> FromCells(const Record& record) const;
  tl::expected<nlohmann::json, LineError> FromJson(const Record& record) const;

  using IdDigest = std::array<unsigned char, 32>;
  struct DigestHash {
    size_t operator()(const IdDigest& d) const {
      size_t h = 0;
      std::memcpy(&h, d.data(), sizeof h);  // a digest's bytes are uniform already
      return h;
    }
  };

  std::vector<std::string> columns_;                              // empty: JSON lines
  std::unordered_map<IdDigest, int64_t, DigestHash> first_line_;  // id digest -> line
};

// The CloudEvent on a JSON line: an object with a string "id", checked here; the daemon checks
// the rest (POST /v1/events).
tl::expected<nlohmann::json, LineError> EventFromLine(const Record& record);

}  // namespace portrait::cli
