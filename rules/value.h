// Values and static types of the rule expression language. A Value is a small tagged struct:
// null (missing), bool, number, string, time (µs since the epoch), duration (µs), date (days
// since 1970-01-01) or a list. Plain data; thread-safe to share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace portrait::rules {

// kAny: known only at run time (event.data.*, metrics that keep an event's value).
enum class Type { kAny, kNull, kBool, kNumber, kString, kTime, kDuration, kDate, kList };

std::string_view TypeName(Type type);

struct Value {
  Type type = Type::kNull;
  bool b = false;
  double n = 0;
  std::string s;
  int64_t us = 0;    // time or duration
  int32_t days = 0;  // date
  std::vector<Value> list;

  static Value Null() { return Value{}; }
  static Value Bool(bool v) {
    return Of(Type::kBool, [&](Value& x) { x.b = v; });
  }
  static Value Number(double v) {
    return Of(Type::kNumber, [&](Value& x) { x.n = v; });
  }
  static Value String(std::string v) {
    return Of(Type::kString, [&](Value& x) { x.s = std::move(v); });
  }
  static Value Time(int64_t v) {
    return Of(Type::kTime, [&](Value& x) { x.us = v; });
  }
  static Value Duration(int64_t v) {
    return Of(Type::kDuration, [&](Value& x) { x.us = v; });
  }
  static Value Date(int32_t v) {
    return Of(Type::kDate, [&](Value& x) { x.days = v; });
  }
  static Value List(std::vector<Value> v) {
    return Of(Type::kList, [&](Value& x) { x.list = std::move(v); });
  }

  bool is_null() const { return type == Type::kNull; }
  bool IsTrue() const { return type == Type::kBool && b; }

 private:
  template <typename Set>
  static Value Of(Type t, Set set) {
    Value v;
    v.type = t;
    set(v);
    return v;
  }
};

// Equality of two values of the same type; false for different types or null.
bool Equal(const Value& a, const Value& b);

// Days since 1970-01-01 of "YYYY-MM-DD"; false if it isn't a real date.
bool ParseIsoDate(std::string_view text, int32_t* days);

}  // namespace portrait::rules
