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

Result<int64_t> ParseRfc3339(std::string_view text) {
  using namespace std::chrono;
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
