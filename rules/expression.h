// The expression language of `when` conditions: a typed AST, parsed and type-checked when a rule
// loads, so type errors and unknown names are load errors (with the offset of the culprit), not
// run-time surprises. Parsing is linear in the input and its nesting is bounded, so a hostile
// rule file can neither hang nor overflow the stack. Immutable after parsing; thread-safe.
//
//   and or not | == != < <= > >= in | + - * / % | ( ) [list, ...]
//   literals: 12  3.5  'text'  "text"  true false null  90d 2h 30m 45s 1w 1y
//             2026-02-28 (date)  2026-02-28T09:00:00Z (time)
//   paths: fields.NAME  metrics.NAME  tags  lifecycle  timezone
//          scores.NAME.r|f|m|group  predict.NAME.p_alive|purchases_90d|value_1y
//          event.type  event.time  event.data.KEY[.KEY...]
//   functions: now() days_since(t) hours_since(t) age(date) has_tag(s) lower(s) len(x)
//              in_segment('NAME') (a segment of the rule set, named by a literal)
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "config/config.h"
#include "rules/value.h"

namespace portrait::rules {

enum class PathRoot {
  kField,
  kMetric,
  kTags,
  kLifecycle,
  kTimezone,
  kScore,       // scores.NAME.KEY
  kPrediction,  // predict.NAME.KEY
  kEventType,
  kEventTime,
  kEventData
};

// Operators and functions, resolved when parsing so evaluation never compares strings.
enum class Op : uint8_t {
  kNone,
  kAnd,
  kOr,
  kNot,
  kNeg,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kNow,
  kDaysSince,
  kHoursSince,
  kAge,
  kHasTag,
  kLower,
  kLen,
  kInSegment
};

struct Expr {
  enum class Kind { kLiteral, kPath, kUnary, kBinary, kCall, kList };
  Kind kind = Kind::kLiteral;
  Type type = Type::kAny;  // the static type
  int offset = 0;          // where it starts in the source text
  int length = 0;
  Value literal;                     // kLiteral
  std::string op;                    // kUnary / kBinary operator, kCall function name, as written
  Op code = Op::kNone;               // the same, resolved
  PathRoot root = PathRoot::kField;  // kPath
  std::string name;                  // kPath: field / metric / score / model name, event.data path
  std::string key;                   // kPath: the score's or model's output ("r", "p_alive")
  std::vector<Expr> args;            // operands, call arguments, list items
  bool reads_fields = false;         // it or an operand reads a fields.NAME
};

// A node of `kind` and static `type` at `offset` (and `length`) of the source text.
inline Expr Node(Expr::Kind kind, Type type, int offset, int length = 0) {
  Expr e;
  e.kind = kind;
  e.type = type;
  e.offset = offset;
  e.length = length;
  return e;
}

struct ExprError {
  int offset = 0;  // in the source text
  std::string message;
};

// What names mean when an expression is parsed.
struct Schema {
  const config::Config* config = nullptr;       // field names and types
  std::map<std::string, Type> metrics;          // metric name -> type
  bool event = false;                           // whether event.* may be used (event triggers)
  std::set<std::string, std::less<>> segments;  // names in_segment() may use
  std::set<std::string, std::less<>> scores;    // names scores.NAME.* may use
  std::set<std::string, std::less<>> models;    // names predict.NAME.* may use
};

inline constexpr int kMaxExpressionLength = 4096;
inline constexpr int kMaxNesting = 64;

// Parses and type-checks `text`. The error names the offending token and its offset.
tl::expected<Expr, ExprError> ParseExpression(std::string_view text, const Schema& schema);

// Every fields.NAME read by `expr`, with its offset.
void CollectFields(const Expr& expr, std::vector<std::pair<std::string, int>>& out);

// The static type of a field of the config.
Type FieldValueType(const config::Field& field);

}  // namespace portrait::rules
