#include "base/time_format.h"

#include <date/date.h>

#include <sstream>

namespace portrait {

std::string FormatRfc3339(int64_t unix_us) {
  using namespace std::chrono;
  sys_time<microseconds> t{microseconds(unix_us)};
  if (unix_us % 1'000'000 == 0) {
    return date::format("%FT%TZ", time_point_cast<seconds>(t));
  }
  return date::format("%FT%TZ", t);
}

namespace {

// Whether `text` has RFC 3339's shape: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), digits
// where digits belong. date::parse alone reads more (spaces, signs), and a seconds field such
// as " 0" made it convert NaN to an integer (undefined; found by tests/fuzz/cloud_event_fuzz).
bool HasRfc3339Shape(std::string_view t) {
  auto digits = [&](size_t from, size_t n) {
    if (t.size() < from + n) return false;
    for (size_t i = from; i < from + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
    }
    return true;
  };
  if (t.size() < 20 || t.size() > 64 || !digits(0, 4) || t[4] != '-' || !digits(5, 2) ||
      t[7] != '-' || !digits(8, 2) || (t[10] != 'T' && t[10] != 't') || !digits(11, 2) ||
      t[13] != ':' || !digits(14, 2) || t[16] != ':' || !digits(17, 2)) {
    return false;
  }
  size_t i = 19;
  if (t[i] == '.') {
    const size_t start = ++i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    if (i == start) return false;
  }
  std::string_view zone = t.substr(i);
  if (zone == "Z" || zone == "z") return true;
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digits(i + 1, 2) &&
         zone[3] == ':' && digits(i + 4, 2);
}

}  // namespace

Result<int64_t> ParseRfc3339(std::string_view text) {
  using namespace std::chrono;
  if (!HasRfc3339Shape(text)) {
    return Error(Status::InvalidArgument("expected an RFC 3339 time such as 2026-11-22T09:00:00Z"));
  }
  std::string s(text);
  for (const char* fmt : {"%FT%T%Ez", "%FT%TZ"}) {
    std::istringstream in(s);
    sys_time<microseconds> t;
    in >> date::parse(fmt, t);
    if (!in.fail() && in.peek() == std::char_traits<char>::eof()) {
      return t.time_since_epoch().count();
    }
  }
  return Error(Status::InvalidArgument("expected an RFC 3339 time such as 2026-11-22T09:00:00Z"));
}

}  // namespace portrait
