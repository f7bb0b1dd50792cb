// Calendar arithmetic for scheduled triggers, in a given IANA time zone and right across DST:
// cron schedules (5 fields, names like MON and JAN, Vixie day-of-month/day-of-week OR
// semantics) and yearly anniversaries of a date field (offset in days, local time of day,
// 29 February policy). A local time that doesn't exist (the spring-forward gap) fires at the
// instant the gap ends; one that exists twice (fall-back) fires at the first. Pure; thread-safe.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace date {
class time_zone;
}

namespace portrait::rules {

struct CronSpec {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days_of_month;  // 1..31
  std::bitset<13> months;         // 1..12
  std::bitset<7> days_of_week;    // 0 = Sunday
  bool dom_star = false;          // day-of-month field started with '*'
  bool dow_star = false;
  std::string text;
};

// Parses "minute hour day-of-month month day-of-week"; the error says which field is wrong.
tl::expected<CronSpec, std::string> ParseCron(std::string_view text);

// The first instant (µs, UTC) strictly after `after_us` that matches `spec` in `zone`; nullopt
// if none within 8 years (e.g. "0 0 30 2 *").
std::optional<int64_t> NextCron(const CronSpec& spec, const date::time_zone* zone,
                                int64_t after_us);

enum class LeapDay { kFeb28, kMar1, kSkip };

struct AnniversarySpec {
  int offset_days = 0;      // e.g. -1: the day before
  int at_minutes = 9 * 60;  // local time of day
  LeapDay leap_day = LeapDay::kFeb28;
};

struct Occurrence {
  int32_t date_days = 0;  // the anniversary's date that year (after the 29 February policy)
  int64_t fire_us = 0;    // when it fires
};

// The first occurrence of the yearly anniversary of `birth_days` (days since the epoch) whose
// firing instant is strictly after `after_us`, in `zone`.
std::optional<Occurrence> NextAnniversary(int32_t birth_days, const AnniversarySpec& spec,
                                          const date::time_zone* zone, int64_t after_us);

// The UTC instant (µs) of a local wall-clock time given as minutes since the local epoch.
int64_t LocalToUtc(const date::time_zone* zone, int64_t local_minutes);

// The zone named `name`, or nullptr if unknown.
const date::time_zone* FindZone(std::string_view name);

// "YYYY-MM-DD" of days since the epoch.
std::string FormatDate(int32_t days);

}  // namespace portrait::rules
