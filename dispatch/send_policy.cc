#include "dispatch/send_policy.h"

#include <date/tz.h>

#include "rules/calendar.h"

namespace portrait::dispatch {
namespace {

using std::chrono::microseconds;
using std::chrono::minutes;

constexpr int64_t kMinutesPerDay = 24 * 60;

int ClockMinutes(std::string_view hh_mm) {
  return ((hh_mm[0] - '0') * 10 + (hh_mm[1] - '0')) * 60 + (hh_mm[3] - '0') * 10 + (hh_mm[4] - '0');
}

// Local minutes since the local epoch at `utc_us`.
int64_t LocalMinutes(const date::time_zone* zone, int64_t utc_us) {
  auto local = zone->to_local(date::sys_time<microseconds>(microseconds(utc_us)));
  return date::floor<minutes>(local).time_since_epoch().count();
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

}  // namespace

std::optional<int64_t> QuietHoursEnd(std::string_view quiet_hours, const date::time_zone* zone,
                                     int64_t now_us) {
  if (quiet_hours.size() != 11) {
    return std::nullopt;
  }
  const int start = ClockMinutes(quiet_hours.substr(0, 5));
  const int end = ClockMinutes(quiet_hours.substr(6));
  const int64_t local = LocalMinutes(zone, now_us);
  const int64_t day = FloorDiv(local, kMinutesPerDay) * kMinutesPerDay;
  const int64_t of_day = local - day;
  if (start == end) {
    return std::nullopt;
  }
  if (start < end) {  // e.g. 12:00-14:00
    if (of_day >= start && of_day < end) {
      return rules::LocalToUtc(zone, day + end);
    }
    return std::nullopt;
  }
  if (of_day >= start) {  // evening: ends tomorrow
    return rules::LocalToUtc(zone, day + kMinutesPerDay + end);
  }
  if (of_day < end) {  // early morning: ends today
    return rules::LocalToUtc(zone, day + end);
  }
  return std::nullopt;
}

int64_t CapWindowStart(const config::FrequencyCap& cap, const date::time_zone* zone,
                       int64_t now_us) {
  const int64_t per_minutes = cap.per.count() / 60;
  if (cap.per.count() % 86'400 != 0) {
    return now_us - cap.per.count() * 1'000'000;
  }
  const int64_t days = per_minutes / kMinutesPerDay;
  const int64_t today = FloorDiv(LocalMinutes(zone, now_us), kMinutesPerDay) * kMinutesPerDay;
  return rules::LocalToUtc(zone, today - (days - 1) * kMinutesPerDay);
}

int64_t NextLocalMidnight(const date::time_zone* zone, int64_t now_us) {
  const int64_t today = FloorDiv(LocalMinutes(zone, now_us), kMinutesPerDay) * kMinutesPerDay;
  return rules::LocalToUtc(zone, today + kMinutesPerDay);
}

}  // namespace portrait::dispatch
