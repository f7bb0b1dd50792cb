#include "cli/import_rows.h"

#include <sodium.h>

#include <set>
#include <string_view>

#include "base/caller_name.h"
#include "base/utf8.h"

namespace portrait::cli {
namespace {

using nlohmann::json;

tl::unexpected<LineError> Refuse(const Record& r, std::string field, std::string reason) {
  return tl::unexpected(LineError{r.line, std::move(field), std::move(reason)});
}

// The line parsed as a JSON object, or why it is not one.
tl::expected<json, LineError> ParseObject(const Record& r) {
  if (!r.error.empty()) {
    return Refuse(r, "line", r.error);
  }
  if (JsonNestsDeeperThan(r.text, kMaxLineNesting)) {
    return Refuse(r, "line", "JSON nested deeper than " + std::to_string(kMaxLineNesting));
  }
  json value = json::parse(r.text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return Refuse(r, "line", "not valid JSON");
  }
  if (!value.is_object()) {
    return Refuse(r, "line", "expected a JSON object");
  }
  return value;
}

std::vector<std::string> SplitTags(const std::string& cell) {
  std::vector<std::string> tags;
  size_t start = 0;
  while (start <= cell.size()) {
    size_t end = cell.find(';', start);
    std::string tag = cell.substr(start, end == std::string::npos ? end : end - start);
    if (!tag.empty()) {
      tags.push_back(std::move(tag));
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return tags;
}

}  // namespace

tl::expected<ProfileRows, std::string> ProfileRows::ForCsv(const Record& header) {
  if (!header.error.empty()) {
    return tl::unexpected("the header line: " + header.error);
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < header.cells.size(); ++i) {
    const std::string& name = header.cells[i];
    if (name.empty()) {
      return tl::unexpected("the header's column " + std::to_string(i + 1) + " has no name");
    }
    if (!seen.insert(name).second) {
      return tl::unexpected("the header's column " + std::to_string(i + 1) +
                            " repeats an earlier column's name");
    }
  }
  if (!seen.count("id")) {
    return tl::unexpected(std::string("the header has no 'id' column"));
  }
  return ProfileRows(header.cells);
}

tl::expected<json, LineError> ProfileRows::Build(const Record& record) {
  auto row = columns_.empty() ? FromJson(record) : FromCells(record);
  if (!row) {
    return row;
  }
  const std::string& id = (*row)["id"].get_ref<const std::string&>();
  IdDigest digest;
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(id.data()), id.size(), nullptr, 0);
  auto [first, is_first] = first_line_.emplace(digest, record.line);
  if (!is_first) {
    return Refuse(record, "id",
                  "id repeated in this file at line " + std::to_string(first->second));
  }
  return row;
}

tl::expected<json, LineError> ProfileRows::FromCells(const Record& r) const {
  if (!r.error.empty()) {
    return Refuse(r, "line", r.error);
  }
  if (r.cells.size() != columns_.size()) {
    return Refuse(r, "line",
                  "the row has " + std::to_string(r.cells.size()) + " cells, the header " +
                      std::to_string(columns_.size()));
  }
  json row = {{"line", r.line}, {"fields", json::object()}};
  for (size_t i = 0; i < columns_.size(); ++i) {
    const std::string& column = columns_[i];
    const std::string& cell = r.cells[i];
    if (column == "id") {
      row["id"] = cell;
    } else if (cell.empty()) {
      continue;
    } else if (column == "tags") {
      row["tags"] = SplitTags(cell);
    } else if (column == "timezone") {
      row["timezone"] = cell;
    } else {
      row["fields"][column] = cell;
    }
  }
  if (row["id"].get_ref<const std::string&>().empty()) {
    return Refuse(r, "id", "the id cell is empty");
  }
  return row;
}

tl::expected<json, LineError> ProfileRows::FromJson(const Record& r) const {
  auto object = ParseObject(r);
  if (!object) {
    return object;
  }
  json row = {{"line", r.line}};
  for (auto& [key, value] : object->items()) {
    if (key != "id" && key != "fields" && key != "tags" && key != "timezone") {
      return Refuse(
          r, "row",
          "unknown key " + QuotedCallerName(key) + " (expected id, fields, tags, timezone)");
    }
    row[key] = std::move(value);
  }
  if (!row.contains("id") || !row["id"].is_string() ||
      row["id"].get_ref<const std::string&>().empty()) {
    return Refuse(r, "id", "expected the profile's id as a non-empty string");
  }
  return row;
}

tl::expected<json, LineError> EventFromLine(const Record& record) {
  auto event = ParseObject(record);
  if (!event) {
    return event;
  }
  // The members every event needs, checked here so that a file of events without them costs
  // no request; the daemon checks the rest.
  for (const char* name : {"id", "type", "subject"}) {
    if (!event->contains(name) || !(*event)[name].is_string()) {
      return Refuse(record, name, std::string("expected the event's ") + name + " as a string");
    }
  }
  return event;
}

}  // namespace portrait::cli
