#include "rules/calendar.h"

#include <date/tz.h>

#include <charconv>
#include <vector>

namespace portrait::rules {
namespace {

using namespace std::chrono;

// Parses one cron field into `bits` (positions lo..hi). Names map to numbers.
bool ParseField(std::string_view field, int lo, int hi, const std::vector<std::string_view>& names,
                std::vector<bool>& bits) {
  auto number = [&](std::string_view s, int* out) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (s.size() == 3 && names[i].size() == 3 &&
          std::equal(s.begin(), s.end(), names[i].begin(),
                     [](char a, char b) { return std::toupper(a) == b; })) {
        *out = static_cast<int>(i) + (names.size() == 12 ? 1 : 0);
        return true;
      }
    }
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  size_t start = 0;
  while (start <= field.size()) {
    size_t comma = field.find(',', start);
    std::string_view part =
        field.substr(start, comma == std::string_view::npos ? comma : comma - start);
    int step = 1;
    if (size_t slash = part.find('/'); slash != std::string_view::npos) {
      if (!number(part.substr(slash + 1), &step) || step <= 0) {
        return false;
      }
      part = part.substr(0, slash);
    }
    int a = lo;
    int b = hi;
    if (part != "*") {
      size_t dash = part.find('-');
      if (!number(part.substr(0, dash), &a)) {
        return false;
      }
      b = a;
      if (dash != std::string_view::npos && !number(part.substr(dash + 1), &b)) {
        return false;
      }
      if (step > 1 && dash == std::string_view::npos) {
        b = hi;  // "5/15" means 5-hi/15
      }
    }
    if (a < lo || b > hi || a > b) {
      return false;
    }
    for (int v = a; v <= b; v += step) {
      bits[static_cast<size_t>(v)] = true;
    }
    if (comma == std::string_view::npos) {
      return true;
    }
    start = comma + 1;
  }
  return true;
}

date::local_days LocalDay(const date::time_zone* zone, int64_t utc_us) {
  auto local = zone->to_local(sys_time<microseconds>(microseconds(utc_us)));
  return date::floor<date::days>(local);
}

}  // namespace

const date::time_zone* FindZone(std::string_view name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
}

int64_t LocalToUtc(const date::time_zone* zone, int64_t local_minutes) {
  date::local_time<minutes> local{minutes(local_minutes)};
  date::local_info info = zone->get_info(local);
  switch (info.result) {
    case date::local_info::unique:
    case date::local_info::ambiguous:  // the first of the two
      return duration_cast<microseconds>(local.time_since_epoch() - info.first.offset).count();
    default:  // nonexistent: the instant the gap ends
      return duration_cast<microseconds>(info.second.begin.time_since_epoch()).count();
  }
}

std::string FormatDate(int32_t days) {
  return date::format("%F", date::sys_days(date::days(days)));
}

tl::expected<CronSpec, std::string> ParseCron(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ') ++j;
    if (j > i) fields.push_back(text.substr(i, j - i));
    i = j;
  }
  if (fields.size() != 5) {
    return tl::unexpected(
        std::string("a cron schedule has 5 fields (minute hour day-of-month month "
                    "day-of-week), e.g. \"0 10 * * MON\""));
  }
  static const std::vector<std::string_view> kMonths = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                        "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  static const std::vector<std::string_view> kDays = {"SUN", "MON", "TUE", "WED",
                                                      "THU", "FRI", "SAT"};
  struct Spec {
    const char* name;
    int lo, hi;
    const std::vector<std::string_view>* names;
  };
  static const std::vector<std::string_view> kNone;
  const Spec specs[5] = {{"minute", 0, 59, &kNone},
                         {"hour", 0, 23, &kNone},
                         {"day-of-month", 1, 31, &kNone},
                         {"month", 1, 12, &kMonths},
                         {"day-of-week", 0, 7, &kDays}};
  std::vector<bool> bits[5];
  for (int f = 0; f < 5; ++f) {
    bits[f].assign(static_cast<size_t>(specs[f].hi + 1), false);
    if (!ParseField(fields[f], specs[f].lo, specs[f].hi, *specs[f].names, bits[f])) {
      return tl::unexpected("bad " + std::string(specs[f].name) + " field '" +
                            std::string(fields[f]) + "'");
    }
  }
  CronSpec spec;
  spec.text = std::string(text);
  for (int v = 0; v < 60; ++v) spec.minutes[v] = bits[0][v];
  for (int v = 0; v < 24; ++v) spec.hours[v] = bits[1][v];
  for (int v = 1; v <= 31; ++v) spec.days_of_month[v] = bits[2][v];
  for (int v = 1; v <= 12; ++v) spec.months[v] = bits[3][v];
  for (int v = 0; v <= 7; ++v) {
    if (bits[4][v]) spec.days_of_week[v % 7] = true;
  }
  spec.dom_star = fields[2][0] == '*';
  spec.dow_star = fields[4][0] == '*';
  return spec;
}

std::optional<int64_t> NextCron(const CronSpec& spec, const date::time_zone* zone,
                                int64_t after_us) {
  date::local_days day = LocalDay(zone, after_us);
  for (int n = 0; n < 366 * 8 + 2; ++n, day += date::days(1)) {
    date::year_month_day ymd{day};
    date::weekday wd{day};
    if (!spec.months[unsigned(ymd.month())]) {
      continue;
    }
    bool dom = spec.days_of_month[unsigned(ymd.day())];
    bool dow = spec.days_of_week[wd.c_encoding()];
    bool match = spec.dom_star || spec.dow_star ? (dom && dow) : (dom || dow);
    if (!match) {
      continue;
    }
    const int64_t day_minutes = day.time_since_epoch().count() * 1440;
    for (int h = 0; h < 24; ++h) {
      if (!spec.hours[h]) continue;
      for (int m = 0; m < 60; ++m) {
        if (!spec.minutes[m]) continue;
        int64_t utc = LocalToUtc(zone, day_minutes + h * 60 + m);
        if (utc > after_us) {
          return utc;
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<Occurrence> NextAnniversary(int32_t birth_days, const AnniversarySpec& spec,
                                          const date::time_zone* zone, int64_t after_us) {
  date::year_month_day born{date::sys_days(date::days(birth_days))};
  const bool leap_birthday = born.month() == date::February && born.day() == date::day(29);
  date::year_month_day now_local{LocalDay(zone, after_us)};
  for (int y = int(now_local.year()) - 1; y <= int(now_local.year()) + 9; ++y) {
    if (y < int(born.year())) {
      continue;
    }
    date::year year(y);
    date::year_month_day occurrence = year / born.month() / born.day();
    if (leap_birthday && !year.is_leap()) {
      if (spec.leap_day == LeapDay::kSkip) {
        continue;
      }
      occurrence =
          spec.leap_day == LeapDay::kFeb28 ? year / date::February / 28 : year / date::March / 1;
    }
    date::sys_days occurrence_day{occurrence};
    int64_t fire_minutes =
        (occurrence_day.time_since_epoch().count() + spec.offset_days) * 1440 + spec.at_minutes;
    int64_t fire = LocalToUtc(zone, fire_minutes);
    if (fire > after_us) {
      return Occurrence{static_cast<int32_t>(occurrence_day.time_since_epoch().count()), fire};
    }
  }
  return std::nullopt;
}

}  // namespace portrait::rules
