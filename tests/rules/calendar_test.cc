// Cron and anniversary instants, checked against next instants computed by hand.
#include "rules/calendar.h"

#include <gtest/gtest.h>

#include "base/time_format.h"
#include "rules/value.h"
#include "tests/rules/rules_fixture.h"

namespace portrait::rules {
namespace {

using testing::T;

std::string NextAfter(const char* cron, const char* zone, const char* after) {
  auto spec = ParseCron(cron);
  EXPECT_TRUE(spec) << cron << ": " << (spec ? "" : spec.error());
  if (!spec) {
    return "";
  }
  auto next = NextCron(*spec, FindZone(zone), T(after));
  return next ? FormatRfc3339(*next) : "never";
}

TEST(Cron, NextInstantsComputedByHand) {
  // 2026-11-22 is a Sunday.
  const char* sunday = "2026-11-22T10:53:00Z";
  struct Case {
    const char* cron;
    const char* zone;
    const char* after;
    const char* next;
  } cases[] = {
      {"* * * * *", "UTC", sunday, "2026-11-22T10:54:00Z"},
      {"0 * * * *", "UTC", sunday, "2026-11-22T11:00:00Z"},
      {"30 10 * * *", "UTC", sunday, "2026-11-23T10:30:00Z"},
      {"0 10 * * MON", "UTC", sunday, "2026-11-23T10:00:00Z"},
      {"0 10 * * 1", "UTC", sunday, "2026-11-23T10:00:00Z"},
      {"0 9 * * SUN", "UTC", sunday, "2026-11-29T09:00:00Z"},
      {"0 12 * * 0", "UTC", sunday, "2026-11-22T12:00:00Z"},
      {"0 12 * * 7", "UTC", sunday, "2026-11-22T12:00:00Z"},
      {"*/15 * * * *", "UTC", sunday, "2026-11-22T11:00:00Z"},
      {"5/20 * * * *", "UTC", sunday, "2026-11-22T11:05:00Z"},
      {"0 0 1 * *", "UTC", sunday, "2026-12-01T00:00:00Z"},
      {"0 0 1 JAN *", "UTC", sunday, "2027-01-01T00:00:00Z"},
      {"0 0 29 2 *", "UTC", sunday, "2028-02-29T00:00:00Z"},
      {"0 8-10 * * *", "UTC", sunday, "2026-11-23T08:00:00Z"},
      {"0 8-18/4 * * *", "UTC", sunday, "2026-11-22T12:00:00Z"},
      {"0 0 13 * FRI", "UTC", sunday, "2026-11-27T00:00:00Z"},  // 13th OR Friday
      {"0 0 13 * *", "UTC", sunday, "2026-12-13T00:00:00Z"},
      {"0 0 * * MON-FRI", "UTC", sunday, "2026-11-23T00:00:00Z"},
      {"0 0 * * SAT,SUN", "UTC", sunday, "2026-11-28T00:00:00Z"},
      {"15 14 1,15 * *", "UTC", sunday, "2026-12-01T14:15:00Z"},
      {"0 0 * jun *", "UTC", sunday, "2027-06-01T00:00:00Z"},
      {"0 0 */10 * *", "UTC", sunday, "2026-12-01T00:00:00Z"},
      {"0 0 30 2 *", "UTC", sunday, "never"},
      {"0 10 * * MON", "Asia/Shanghai", sunday, "2026-11-23T02:00:00Z"},
      // New York springs forward on 2026-03-08 at 02:00: 02:30 does not exist that day.
      {"30 2 * * *", "America/New_York", "2026-03-08T05:00:00Z", "2026-03-08T07:00:00Z"},
      {"30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"},
      // ... and falls back on 2026-11-01: 01:30 happens twice; the first counts.
      {"30 1 * * *", "America/New_York", "2026-11-01T04:00:00Z", "2026-11-01T05:30:00Z"},
      {"30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NextAfter(c.cron, c.zone, c.after), c.next) << c.cron << " in " << c.zone;
  }
}

TEST(Cron, MalformedSchedulesNameTheField) {
  struct Case {
    const char* cron;
    const char* says;
  } cases[] = {
      {"0 10 * *", "5 fields"},      {"60 * * * *", "minute"},  {"0 24 * * *", "hour"},
      {"0 0 0 * *", "day-of-month"}, {"0 0 * 13 *", "month"},   {"0 0 * * FUNDAY", "day-of-week"},
      {"*/0 * * * *", "minute"},     {"5-3 * * * *", "minute"}, {"0 0 L * *", "day-of-month"}};
  for (const Case& c : cases) {
    auto spec = ParseCron(c.cron);
    ASSERT_FALSE(spec) << c.cron;
    EXPECT_NE(spec.error().find(c.says), std::string::npos) << c.cron << ": " << spec.error();
  }
}

int32_t Day(const char* iso) {
  int32_t d = 0;
  EXPECT_TRUE(ParseIsoDate(iso, &d)) << iso;
  return d;
}

// The firing instants of the next `n` occurrences after `after`.
std::vector<std::string> Occurrences(const char* birthday, AnniversarySpec spec, const char* zone,
                                     const char* after, int n) {
  std::vector<std::string> out;
  int64_t at = T(after);
  for (int i = 0; i < n; ++i) {
    auto occ = NextAnniversary(Day(birthday), spec, FindZone(zone), at);
    if (!occ) {
      break;
    }
    out.push_back(FormatRfc3339(occ->fire_us) + " for " + FormatDate(occ->date_days));
    at = occ->fire_us;
  }
  return out;
}

TEST(Anniversary, TwentyNinthOfFebruaryUnderEachPolicy) {
  AnniversarySpec spec;
  spec.leap_day = LeapDay::kFeb28;
  EXPECT_EQ(Occurrences("2000-02-29", spec, "UTC", "2027-01-01T00:00:00Z", 3),
            (std::vector<std::string>{"2027-02-28T09:00:00Z for 2027-02-28",
                                      "2028-02-29T09:00:00Z for 2028-02-29",
                                      "2029-02-28T09:00:00Z for 2029-02-28"}));
  spec.leap_day = LeapDay::kMar1;
  EXPECT_EQ(Occurrences("2000-02-29", spec, "UTC", "2027-01-01T00:00:00Z", 3),
            (std::vector<std::string>{"2027-03-01T09:00:00Z for 2027-03-01",
                                      "2028-02-29T09:00:00Z for 2028-02-29",
                                      "2029-03-01T09:00:00Z for 2029-03-01"}));
  spec.leap_day = LeapDay::kSkip;
  EXPECT_EQ(Occurrences("2000-02-29", spec, "UTC", "2027-01-01T00:00:00Z", 2),
            (std::vector<std::string>{"2028-02-29T09:00:00Z for 2028-02-29",
                                      "2032-02-29T09:00:00Z for 2032-02-29"}));
}

TEST(Anniversary, OffsetCrossesMonthAndYearBoundaries) {
  AnniversarySpec spec;
  spec.offset_days = -1;
  EXPECT_EQ(Occurrences("1990-03-01", spec, "UTC", "2027-01-01T00:00:00Z", 2),
            (std::vector<std::string>{"2027-02-28T09:00:00Z for 2027-03-01",
                                      "2028-02-29T09:00:00Z for 2028-03-01"}));
  EXPECT_EQ(Occurrences("1985-01-01", spec, "UTC", "2026-11-22T00:00:00Z", 2),
            (std::vector<std::string>{"2026-12-31T09:00:00Z for 2027-01-01",
                                      "2027-12-31T09:00:00Z for 2028-01-01"}));
  spec.offset_days = 7;
  EXPECT_EQ(Occurrences("1985-12-28", spec, "UTC", "2026-11-22T00:00:00Z", 1),
            (std::vector<std::string>{"2027-01-04T09:00:00Z for 2026-12-28"}));
}

TEST(Anniversary, NineOClockLocalInEveryZoneAndAcrossDst) {
  AnniversarySpec spec;  // 09:00, no offset
  struct Case {
    const char* birthday;
    const char* zone;
    const char* fires;
  } cases[] = {
      {"1990-06-15", "Asia/Shanghai", "2026-06-15T01:00:00Z"},
      {"1990-12-15", "Asia/Shanghai", "2026-12-15T01:00:00Z"},
      {"1990-03-07", "America/New_York", "2026-03-07T14:00:00Z"},  // EST, the day before
      {"1990-03-08", "America/New_York", "2026-03-08T13:00:00Z"},  // EDT from 02:00 that day
      {"1990-10-31", "America/New_York", "2026-10-31T13:00:00Z"},  // EDT, the day before
      {"1990-11-01", "America/New_York", "2026-11-01T14:00:00Z"},  // EST from 02:00 that day
      {"1990-01-15", "Pacific/Auckland", "2026-01-14T20:00:00Z"},  // NZDT, +13
      {"1990-07-15", "Pacific/Auckland", "2026-07-14T21:00:00Z"},  // NZST, +12
      {"1990-04-05", "Pacific/Auckland", "2026-04-04T21:00:00Z"},  // NZ falls back 03:00 that day
      {"1990-09-27", "Pacific/Auckland", "2026-09-26T20:00:00Z"},  // NZ springs forward 02:00
  };
  for (const Case& c : cases) {
    auto got = Occurrences(c.birthday, spec, c.zone, "2026-01-01T00:00:00Z", 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].substr(0, 20), c.fires) << c.birthday << " in " << c.zone;
  }
}

TEST(Anniversary, AGapHourFiresWhenTheGapEnds) {
  AnniversarySpec spec;
  spec.at_minutes = 2 * 60 + 30;  // 02:30 does not exist in New York on 2026-03-08
  EXPECT_EQ(Occurrences("1990-03-08", spec, "America/New_York", "2026-01-01T00:00:00Z", 1)[0],
            "2026-03-08T07:00:00Z for 2026-03-08");
}

}  // namespace
}  // namespace portrait::rules
