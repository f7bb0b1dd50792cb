#include "base/duration.h"

#include <charconv>
#include <string>

namespace portrait {

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error(Status::InvalidArgument("'" + std::string(text) + "' is not a duration (" +
                                         std::string(why) + "; e.g. 90d, 2h, 30m, 45s, 2y)"));
  };
  if (text.size() < 2) {
    return bad("too short");
  }
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (ec != std::errc() || end != text.data() + text.size() - 1 || n < 0) {
    return bad("expected a non-negative whole number before the unit");
  }
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 7 * 86400;
      break;
    case 'y':
      unit = 365 * 86400;
      break;
    default:
      return bad("unknown unit");
  }
  if (n > (int64_t{1} << 40) / unit) {
    return bad("too long");
  }
  return std::chrono::seconds(n * unit);
}

}  // namespace portrait
