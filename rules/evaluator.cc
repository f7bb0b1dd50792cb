#include "rules/evaluator.h"

#include <date/tz.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace portrait::rules {
namespace {

constexpr int64_t kDayUs = 86'400'000'000;

// A JSON value as a Value of the static type `type` (kAny: as it comes).
Value FromJson(const nlohmann::json& j, Type type) {
  if (j.is_null()) {
    return Value::Null();
  }
  switch (type) {
    case Type::kDate: {
      int32_t days = 0;
      return j.is_string() && ParseIsoDate(j.get_ref<const std::string&>(), &days)
                 ? Value::Date(days)
                 : Value::Null();
    }
    case Type::kTime:
      return j.is_number_integer() ? Value::Time(j.get<int64_t>()) : Value::Null();
    default:
      break;
  }
  if (j.is_boolean()) {
    return Value::Bool(j.get<bool>());
  }
  if (j.is_number()) {
    return Value::Number(j.get<double>());
  }
  if (j.is_string()) {
    return Value::String(j.get<std::string>());
  }
  if (j.is_array()) {
    std::vector<Value> items;
    for (const auto& item : j) {
      items.push_back(FromJson(item, Type::kAny));
    }
    return Value::List(std::move(items));
  }
  return Value::Null();
}

const nlohmann::json* Lookup(const nlohmann::json* object, std::string_view dotted) {
  const nlohmann::json* at = object;
  size_t start = 0;
  while (at && at->is_object()) {
    size_t dot = dotted.find('.', start);
    std::string key(dotted.substr(start, dot == std::string_view::npos ? dot : dot - start));
    auto it = at->find(key);
    if (it == at->end()) {
      return nullptr;
    }
    at = &*it;
    if (dot == std::string_view::npos) {
      return at;
    }
    start = dot + 1;
  }
  return nullptr;
}

Value PathValue(const Expr& e, const Facts& f) {
  switch (e.root) {
    case PathRoot::kField:
      if (f.field_source) {
        const nlohmann::json* value = f.field_source->Find(e.name);
        return value ? FromJson(*value, e.type) : Value::Null();
      }
      [[fallthrough]];
    case PathRoot::kMetric: {
      const nlohmann::json* object = e.root == PathRoot::kField ? f.fields : f.metrics;
      if (!object || !object->is_object()) {
        return Value::Null();
      }
      auto it = object->find(e.name);
      return it == object->end() ? Value::Null() : FromJson(*it, e.type);
    }
    case PathRoot::kTags: {
      std::vector<Value> items;
      if (f.tags) {
        for (const auto& t : *f.tags) {
          items.push_back(Value::String(t));
        }
      }
      if (f.rule_tags && f.rule_tags->is_array()) {
        for (const auto& t : *f.rule_tags) {
          if (t.is_string()) {
            items.push_back(Value::String(t.get<std::string>()));
          }
        }
      }
      return Value::List(std::move(items));
    }
    case PathRoot::kScore:
    case PathRoot::kPrediction: {
      const nlohmann::json* object = e.root == PathRoot::kScore ? f.scores : f.predictions;
      if (!object || !object->is_object()) {
        return Value::Null();
      }
      auto it = object->find(e.name);
      if (it == object->end() || !it->is_object()) {
        return Value::Null();
      }
      auto value = it->find(e.key);
      return value == it->end() ? Value::Null() : FromJson(*value, e.type);
    }
    case PathRoot::kLifecycle:
      return f.lifecycle.empty() ? Value::Null() : Value::String(f.lifecycle);
    case PathRoot::kTimezone:
      return Value::String(f.timezone);
    case PathRoot::kEventType:
      return f.event ? Value::String(f.event->type) : Value::Null();
    case PathRoot::kEventTime:
      return f.event ? Value::Time(f.event->time_us) : Value::Null();
    case PathRoot::kEventData: {
      const nlohmann::json* j = f.event ? Lookup(f.event->data, e.name) : nullptr;
      return j ? FromJson(*j, Type::kAny) : Value::Null();
    }
  }
  return Value::Null();
}

bool Less(const Value& a, const Value& b) {
  switch (a.type) {
    case Type::kNumber:
      return a.n < b.n;
    case Type::kString:
      return a.s < b.s;
    case Type::kTime:
    case Type::kDuration:
      return a.us < b.us;
    case Type::kDate:
      return a.days < b.days;
    default:
      return false;
  }
}

Value Compare(Op op, const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) {
    return Value::Bool(false);  // comparing with a missing value is false
  }
  if (op == Op::kEq) return Value::Bool(Equal(a, b));
  if (op == Op::kNe) return Value::Bool(a.type == b.type && !Equal(a, b));
  if (a.type != b.type) return Value::Bool(false);
  if (op == Op::kLt) return Value::Bool(Less(a, b));
  if (op == Op::kLe) return Value::Bool(!Less(b, a));
  if (op == Op::kGt) return Value::Bool(Less(b, a));
  return Value::Bool(!Less(a, b));  // >=
}

// Microseconds (and days) that do not fit make the value missing: a rule's arithmetic never
// overflows.
Value TimeOrNull(bool duration, std::optional<int64_t> us) {
  if (!us) {
    return Value::Null();
  }
  return duration ? Value::Duration(*us) : Value::Time(*us);
}

std::optional<int64_t> SumUs(int64_t a, int64_t b, bool subtract) {
  int64_t out = 0;
  if (subtract ? __builtin_sub_overflow(a, b, &out) : __builtin_add_overflow(a, b, &out)) {
    return std::nullopt;
  }
  return out;
}

// `us` truncated to whole microseconds; nullopt when not finite or out of range.
std::optional<int64_t> WholeUs(double us) {
  constexpr double kBound = 9.2e18;  // inside int64_t's range
  if (!std::isfinite(us) || us <= -kBound || us >= kBound) {
    return std::nullopt;
  }
  return static_cast<int64_t>(us);
}

Value Arithmetic(Op op, const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) {
    return Value::Null();
  }
  const Type ta = a.type;
  const Type tb = b.type;
  if (ta == Type::kNumber && tb == Type::kNumber) {
    if (op == Op::kAdd) return Value::Number(a.n + b.n);
    if (op == Op::kSub) return Value::Number(a.n - b.n);
    if (op == Op::kMul) return Value::Number(a.n * b.n);
    if (b.n == 0) return Value::Null();
    if (op == Op::kDiv) return Value::Number(a.n / b.n);
    return Value::Number(std::fmod(a.n, b.n));
  }
  if (op == Op::kAdd && ta == Type::kString && tb == Type::kString) return Value::String(a.s + b.s);
  const bool subtract = op == Op::kSub;
  if (ta == Type::kTime && tb == Type::kDuration) {
    return TimeOrNull(false, SumUs(a.us, b.us, subtract));
  }
  if (op == Op::kAdd && ta == Type::kDuration && tb == Type::kTime) {
    return TimeOrNull(false, SumUs(a.us, b.us, false));
  }
  if (op == Op::kSub && ta == Type::kTime && tb == Type::kTime) {
    return TimeOrNull(true, SumUs(a.us, b.us, true));
  }
  if (ta == Type::kDuration && tb == Type::kDuration) {
    return TimeOrNull(true, SumUs(a.us, b.us, subtract));
  }
  if (op == Op::kSub && ta == Type::kDate && tb == Type::kDate) {
    int64_t us = 0;
    if (__builtin_mul_overflow(int64_t{a.days} - b.days, kDayUs, &us)) {
      return Value::Null();
    }
    return Value::Duration(us);
  }
  if (ta == Type::kDate && tb == Type::kDuration) {
    const int64_t days = int64_t{a.days} + (subtract ? -1 : 1) * (b.us / kDayUs);
    if (days < std::numeric_limits<int32_t>::min() || days > std::numeric_limits<int32_t>::max()) {
      return Value::Null();
    }
    return Value::Date(static_cast<int32_t>(days));
  }
  if (ta == Type::kDuration && tb == Type::kNumber) {
    if (op == Op::kMul) return TimeOrNull(true, WholeUs(static_cast<double>(a.us) * b.n));
    if (op == Op::kDiv && b.n != 0) {
      return TimeOrNull(true, WholeUs(static_cast<double>(a.us) / b.n));
    }
  }
  return Value::Null();
}

// `a in <rhs>` without building a list when rhs is a list literal or the tags.
bool In(const Value& a, const Expr& rhs, const Facts& f) {
  if (a.is_null()) {
    return false;
  }
  if (rhs.kind == Expr::Kind::kList) {
    return std::any_of(rhs.args.begin(), rhs.args.end(),
                       [&](const Expr& item) { return Equal(a, Evaluate(item, f)); });
  }
  if (rhs.kind == Expr::Kind::kPath && rhs.root == PathRoot::kTags) {
    if (a.type != Type::kString) {
      return false;
    }
    if (f.tags && std::find(f.tags->begin(), f.tags->end(), a.s) != f.tags->end()) {
      return true;
    }
    return f.rule_tags && f.rule_tags->is_array() &&
           std::any_of(f.rule_tags->begin(), f.rule_tags->end(), [&](const nlohmann::json& t) {
             return t.is_string() && t.get_ref<const std::string&>() == a.s;
           });
  }
  Value b = Evaluate(rhs, f);
  return b.type == Type::kList && std::any_of(b.list.begin(), b.list.end(),
                                              [&](const Value& item) { return Equal(a, item); });
}

Value CallFunction(const Expr& e, const Facts& f) {
  if (e.code == Op::kNow) {
    return Value::Time(f.now_us);
  }
  Value arg = Evaluate(e.args[0], f);
  if (e.code == Op::kHasTag) {
    if (arg.type != Type::kString) {
      return Value::Bool(false);
    }
    bool has = f.tags && HasTag(*f.tags, arg.s);
    if (!has && f.rule_tags && f.rule_tags->is_array()) {
      has = std::any_of(f.rule_tags->begin(), f.rule_tags->end(), [&](const nlohmann::json& t) {
        return t.is_string() && TagMatches(t.get_ref<const std::string&>(), arg.s);
      });
    }
    return Value::Bool(has);
  }
  if (e.code == Op::kInSegment) {
    return Value::Bool(arg.type == Type::kString && IsMember(f.segments, arg.s));
  }
  if (arg.is_null()) {
    return Value::Null();
  }
  if (e.code == Op::kDaysSince) {
    if (arg.type == Type::kDate) {
      return Value::Number(LocalDay(f.now_us, f.timezone) - arg.days);
    }
    return arg.type == Type::kTime ? Value::Number(std::floor(double(f.now_us - arg.us) / kDayUs))
                                   : Value::Null();
  }
  if (e.code == Op::kHoursSince) {
    return arg.type == Type::kTime
               ? Value::Number(std::floor(double(f.now_us - arg.us) / (kDayUs / 24)))
               : Value::Null();
  }
  if (e.code == Op::kAge && arg.type == Type::kDate) {
    using namespace date;
    year_month_day born{sys_days(days(arg.days))};
    year_month_day today{sys_days(days(LocalDay(f.now_us, f.timezone)))};
    int years = int(today.year()) - int(born.year());
    if (month_day(today.month(), today.day()) < month_day(born.month(), born.day())) {
      --years;
    }
    return Value::Number(years);
  }
  if (e.code == Op::kLower && arg.type == Type::kString) {
    std::string s = arg.s;
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return Value::String(s);
  }
  if (e.code == Op::kLen) {
    if (arg.type == Type::kString) return Value::Number(static_cast<double>(arg.s.size()));
    if (arg.type == Type::kList) return Value::Number(static_cast<double>(arg.list.size()));
  }
  return Value::Null();
}

}  // namespace

bool TagMatches(std::string_view t, std::string_view tag) {
  return t == tag ||
         (t.size() > tag.size() && t.compare(0, tag.size(), tag) == 0 && t[tag.size()] == '/');
}

bool HasTag(const std::vector<std::string>& tags, std::string_view tag) {
  return std::any_of(tags.begin(), tags.end(),
                     [&](const std::string& t) { return TagMatches(t, tag); });
}

bool IsMember(const nlohmann::json* segments, std::string_view name) {
  if (!segments || !segments->is_object()) {
    return false;
  }
  auto it = segments->find(name);
  return it != segments->end() && it->is_number_integer() && it->get<int64_t>() > 0 &&
         it->get<int64_t>() % 2 != 0;
}

int32_t LocalDay(int64_t now_us, std::string_view tz) {
  using namespace std::chrono;
  sys_time<microseconds> now{microseconds(now_us)};
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(tz);
  } catch (const std::exception&) {
    zone = nullptr;
  }
  auto local = zone ? zone->to_local(now).time_since_epoch() : now.time_since_epoch();
  return static_cast<int32_t>(date::floor<date::days>(local).count());
}

Value Evaluate(const Expr& e, const Facts& f) {
  switch (e.kind) {
    case Expr::Kind::kLiteral:
      return e.literal;
    case Expr::Kind::kPath:
      return PathValue(e, f);
    case Expr::Kind::kList: {
      std::vector<Value> items;
      for (const Expr& item : e.args) {
        items.push_back(Evaluate(item, f));
      }
      return Value::List(std::move(items));
    }
    case Expr::Kind::kCall:
      return CallFunction(e, f);
    case Expr::Kind::kUnary: {
      Value v = Evaluate(e.args[0], f);
      if (e.code == Op::kNot) {
        return Value::Bool(!v.IsTrue());
      }
      if (v.type == Type::kNumber) return Value::Number(-v.n);
      if (v.type == Type::kDuration) return TimeOrNull(true, SumUs(0, v.us, true));
      return Value::Null();
    }
    case Expr::Kind::kBinary:
      break;
  }
  switch (e.code) {
    case Op::kAnd:
    case Op::kOr: {
      // Both sides are pure, so either order gives the same answer: with fields opened on
      // demand (FieldSource) the side that reads no field goes first, and a field is opened
      // only when the answer needs it.
      const bool swap = f.field_source && e.args[0].reads_fields && !e.args[1].reads_fields;
      const bool first = Evaluate(e.args[swap ? 1 : 0], f).IsTrue();
      if (first == (e.code == Op::kOr)) {
        return Value::Bool(first);
      }
      return Value::Bool(Evaluate(e.args[swap ? 0 : 1], f).IsTrue());
    }
    case Op::kIn:
      return Value::Bool(In(Evaluate(e.args[0], f), e.args[1], f));
    case Op::kEq:
    case Op::kNe:
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe:
      return Compare(e.code, Evaluate(e.args[0], f), Evaluate(e.args[1], f));
    default:
      return Arithmetic(e.code, Evaluate(e.args[0], f), Evaluate(e.args[1], f));
  }
}

bool Holds(const Expr& expr, const Facts& facts) { return Evaluate(expr, facts).IsTrue(); }

std::string Explain(const Expr& e, std::string_view source, const Facts& f) {
  if (Holds(e, f)) {
    return "";
  }
  if (e.kind == Expr::Kind::kBinary && e.code == Op::kAnd) {
    for (const Expr& side : e.args) {
      std::string why = Explain(side, source, f);
      if (!why.empty()) {
        return why;
      }
    }
  }
  // Name a missing input, if one is why.
  std::vector<const Expr*> stack = {&e};
  while (!stack.empty()) {
    const Expr* at = stack.back();
    stack.pop_back();
    if (at->kind == Expr::Kind::kPath && Evaluate(*at, f).is_null()) {
      return std::string(source.substr(at->offset, at->length)) + " is missing";
    }
    for (const Expr& child : at->args) {
      stack.push_back(&child);
    }
  }
  auto text =
      source.substr(static_cast<size_t>(e.offset), static_cast<size_t>(std::max(e.length, 1)));
  return "`" + std::string(text) + "` is false";
}

}  // namespace portrait::rules
