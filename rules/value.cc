#include "rules/value.h"

#include <date/date.h>

namespace portrait::rules {

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kAny:
      return "any";
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "bool";
    case Type::kNumber:
      return "number";
    case Type::kString:
      return "string";
    case Type::kTime:
      return "time";
    case Type::kDuration:
      return "duration";
    case Type::kDate:
      return "date";
    case Type::kList:
      return "list";
  }
  return "?";
}

bool Equal(const Value& a, const Value& b) {
  if (a.type != b.type) {
    return false;
  }
  switch (a.type) {
    case Type::kBool:
      return a.b == b.b;
    case Type::kNumber:
      return a.n == b.n;
    case Type::kString:
      return a.s == b.s;
    case Type::kTime:
    case Type::kDuration:
      return a.us == b.us;
    case Type::kDate:
      return a.days == b.days;
    case Type::kList:
      if (a.list.size() != b.list.size()) {
        return false;
      }
      for (size_t i = 0; i < a.list.size(); ++i) {
        if (!Equal(a.list[i], b.list[i])) {
          return false;
        }
      }
      return true;
    default:
      return false;
  }
}

bool ParseIsoDate(std::string_view text, int32_t* days) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return false;
  }
  int v[3] = {0, 0, 0};
  const int starts[3] = {0, 5, 8};
  const int lens[3] = {4, 2, 2};
  for (int f = 0; f < 3; ++f) {
    for (int i = 0; i < lens[f]; ++i) {
      char c = text[starts[f] + i];
      if (c < '0' || c > '9') {
        return false;
      }
      v[f] = v[f] * 10 + (c - '0');
    }
  }
  date::year_month_day ymd{date::year(v[0]), date::month(static_cast<unsigned>(v[1])),
                           date::day(static_cast<unsigned>(v[2]))};
  if (!ymd.ok()) {
    return false;
  }
  *days = static_cast<int32_t>(date::sys_days(ymd).time_since_epoch().count());
  return true;
}

}  // namespace portrait::rules
