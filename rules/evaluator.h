// Evaluating a parsed expression against what is known of one profile (and, for event
// triggers, one event) at one instant. Missing values are null; a comparison with null is
// false, arithmetic and functions on null give null (as does time arithmetic whose result does
// not fit), and a condition that is not `true` did not hold. Explain says which part of a condition
// failed, naming sub-expressions and missing fields, never a value. Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rules/expression.h"

namespace portrait::rules {

struct EventFacts {
  std::string type;
  int64_t time_us = 0;
  const nlohmann::json* data = nullptr;  // the event's data object
};

// Field values opened only when a condition reads one: a base-wide check then opens a field
// only for the profiles whose conditions get that far (given a source, `and` and `or` take
// first the side that reads no field). Used by one evaluation at a time.
class FieldSource {
 public:
  virtual ~FieldSource() = default;
  // The field's canonical value; null when the profile has none.
  virtual const nlohmann::json* Find(std::string_view name) const = 0;
};

// What a condition may read. Pointers may be null (then everything under them is missing).
struct Facts {
  const nlohmann::json* fields = nullptr;          // field name -> canonical value
  const nlohmann::json* metrics = nullptr;         // metric name -> value (times as µs numbers)
  const std::vector<std::string>* tags = nullptr;  // set through the API
  std::string lifecycle;
  std::string timezone = "UTC";  // the profile's, for age() and days_since(date)
  const EventFacts* event = nullptr;
  int64_t now_us = 0;
  const nlohmann::json* rule_tags = nullptr;    // array: the paths of the [[tag]] rules that hold
  const nlohmann::json* segments = nullptr;     // segment name -> transitions (odd: a member)
  const nlohmann::json* scores = nullptr;       // score name -> {"r", "f", "m", "group"}
  const nlohmann::json* predictions = nullptr;  // model name -> {"p_alive", ...}
  const FieldSource* field_source = nullptr;    // when set, the fields, instead of `fields`
};

Value Evaluate(const Expr& expr, const Facts& facts);

// True only if the condition evaluates to true.
bool Holds(const Expr& expr, const Facts& facts);

// Why `expr` (parsed from `source`) does not hold: "`metrics.orders >= 5` is false" or
// "fields.birthday is missing". Empty if it holds.
std::string Explain(const Expr& expr, std::string_view source, const Facts& facts);

// Whether `tags` holds `tag` or a descendant of it ("interest/sports" matches
// "interest/sports/running").
bool HasTag(const std::vector<std::string>& tags, std::string_view tag);
// Whether `path` is `tag` or a descendant of it.
bool TagMatches(std::string_view path, std::string_view tag);

// Whether `segments` (name -> transitions, as in Facts) counts the profile a member of `name`.
bool IsMember(const nlohmann::json* segments, std::string_view name);

// Today's date (days since the epoch) in time zone `tz` at `now_us` (UTC if `tz` is unknown).
int32_t LocalDay(int64_t now_us, std::string_view tz);

}  // namespace portrait::rules
