#include "config/toml_reader.h"

#include <cmath>
#include <cstdio>

#include "config/toml_guard.h"

namespace portrait::config {

SourcePos Diagnostics::Pos(const toml::source_region& where) const {
  return SourcePos{file_, static_cast<int>(where.begin.line), static_cast<int>(where.begin.column)};
}

void Diagnostics::Add(const SourcePos& pos, std::string_view message) {
  lines_.push_back(pos.ToString() + ": " + std::string(message));
}

std::optional<toml::table> ParseToml(std::string_view text, Diagnostics& diag) {
  if (std::optional<TomlHazard> hazard = FindTomlHazard(text)) {
    diag.Add(SourcePos{diag.file(), hazard->line, hazard->column}, hazard->message);
    return std::nullopt;
  }
  toml::parse_result parsed = toml::parse(text, std::string_view(diag.file()));
  if (!parsed) {
    diag.Add(parsed.error().source(), std::string(parsed.error().description()));
    return std::nullopt;
  }
  return std::move(parsed).table();
}

Status Diagnostics::ToStatus() const {
  if (lines_.empty()) {
    return Status::Ok();
  }
  std::string all;
  for (const auto& line : lines_) {
    all += all.empty() ? "" : "\n";
    all += line;
  }
  return Status::InvalidArgument(std::move(all));
}

namespace {
std::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date/time";
  }
}
}  // namespace

SourcePos TableReader::PosOf(std::string_view key) const {
  const toml::node* node = table_.get(key);
  return diag_.Pos(node ? node->source() : table_.source());
}

void TableReader::Error(const SourcePos& pos, std::string_view key, std::string_view message) {
  diag_.Add(pos, context_ + " key '" + std::string(key) + "': " + std::string(message));
}

void TableReader::WrongType(const toml::node& node, std::string_view key,
                            std::string_view expected) {
  Error(diag_.Pos(node.source()), key,
        "expected " + std::string(expected) + ", got " + std::string(TypeName(node)));
}

const toml::node* TableReader::Get(std::string_view key, bool required) {
  known_.emplace(key);
  const toml::node* node = table_.get(key);
  if (!node && required) {
    Error(pos(), key, "missing (required)");
  }
  return node;
}

std::optional<Located> TableReader::String(std::string_view key, bool required) {
  const toml::node* node = Get(key, required);
  if (!node) {
    return std::nullopt;
  }
  if (!node->is_string()) {
    WrongType(*node, key, "a string");
    return std::nullopt;
  }
  return Located{std::string(node->as_string()->get()), diag_.Pos(node->source())};
}

std::optional<int64_t> TableReader::Int(std::string_view key, int64_t min, int64_t max) {
  const toml::node* node = Get(key, false);
  if (!node) {
    return std::nullopt;
  }
  if (!node->is_integer()) {
    WrongType(*node, key, "an integer");
    return std::nullopt;
  }
  int64_t v = node->as_integer()->get();
  if (v < min || v > max) {
    Error(
        diag_.Pos(node->source()), key,
        std::to_string(v) + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
    return std::nullopt;
  }
  return v;
}

std::optional<double> TableReader::Number(std::string_view key, double min, double max) {
  const toml::node* node = Get(key, false);
  if (!node) {
    return std::nullopt;
  }
  if (!node->is_integer() && !node->is_floating_point()) {
    WrongType(*node, key, "a number");
    return std::nullopt;
  }
  const double v = node->is_integer() ? static_cast<double>(node->as_integer()->get())
                                      : node->as_floating_point()->get();
  if (!std::isfinite(v) || v < min || v > max) {
    char range[64];
    std::snprintf(range, sizeof range, "out of range %g..%g", min, max);
    Error(diag_.Pos(node->source()), key, range);
    return std::nullopt;
  }
  return v;
}

std::optional<bool> TableReader::Bool(std::string_view key) {
  const toml::node* node = Get(key, false);
  if (!node) {
    return std::nullopt;
  }
  if (!node->is_boolean()) {
    WrongType(*node, key, "a boolean");
    return std::nullopt;
  }
  return node->as_boolean()->get();
}

std::optional<std::vector<Located>> TableReader::Strings(std::string_view key) {
  const toml::node* node = Get(key, false);
  if (!node) {
    return std::nullopt;
  }
  if (!node->is_array()) {
    WrongType(*node, key, "an array of strings");
    return std::nullopt;
  }
  std::vector<Located> out;
  for (const toml::node& item : *node->as_array()) {
    if (!item.is_string()) {
      WrongType(item, key, "a string in the array");
      return std::nullopt;
    }
    out.push_back(Located{std::string(item.as_string()->get()), diag_.Pos(item.source())});
  }
  return out;
}

const toml::table* TableReader::Table(std::string_view key) {
  const toml::node* node = Get(key, false);
  if (!node) {
    return nullptr;
  }
  if (!node->is_table()) {
    WrongType(*node, key, "a table");
    return nullptr;
  }
  return node->as_table();
}

std::vector<const toml::table*> TableReader::Tables(std::string_view key) {
  const toml::node* node = Get(key, false);
  std::vector<const toml::table*> out;
  if (!node) {
    return out;
  }
  if (!node->is_array_of_tables()) {
    WrongType(*node, key, "an array of tables ([[" + std::string(key) + "]])");
    return out;
  }
  for (const toml::node& item : *node->as_array()) {
    out.push_back(item.as_table());
  }
  return out;
}

void TableReader::Finish() {
  for (const auto& [key, value] : table_) {
    if (!known_.contains(key.str())) {
      diag_.Add(key.source(), context_ + ": unknown key '" + std::string(key.str()) + "'");
    }
  }
}

}  // namespace portrait::config
