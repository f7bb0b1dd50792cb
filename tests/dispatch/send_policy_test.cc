#include "dispatch/send_policy.h"

#include <gtest/gtest.h>

#include "base/time_format.h"
#include "rules/calendar.h"

namespace portrait::dispatch {
namespace {

int64_t At(const std::string& rfc3339) { return ParseRfc3339(rfc3339).value(); }

TEST(QuietHours, AcrossMidnightInTheProfilesZone) {
  const date::time_zone* shanghai = rules::FindZone("Asia/Shanghai");
  // 22:00 in Shanghai: waits for 08:00 the next morning.
  EXPECT_EQ(QuietHoursEnd("21:00-08:00", shanghai, At("2026-06-10T14:00:00Z")),
            At("2026-06-11T00:00:00Z"));
  // 07:00: waits for 08:00 that morning.
  EXPECT_EQ(QuietHoursEnd("21:00-08:00", shanghai, At("2026-06-10T23:00:00Z")),
            At("2026-06-11T00:00:00Z"));
  // 08:00 exactly and noon are outside.
  EXPECT_FALSE(QuietHoursEnd("21:00-08:00", shanghai, At("2026-06-11T00:00:00Z")));
  EXPECT_FALSE(QuietHoursEnd("21:00-08:00", shanghai, At("2026-06-11T04:00:00Z")));
  // The same instant is quiet in one zone and not in another.
  EXPECT_FALSE(
      QuietHoursEnd("21:00-08:00", rules::FindZone("Europe/London"), At("2026-06-10T14:00:00Z")));
  EXPECT_FALSE(QuietHoursEnd("", shanghai, At("2026-06-10T14:00:00Z")));
}

TEST(QuietHours, WithinADayAndAcrossTheSpringForwardGap) {
  const date::time_zone* new_york = rules::FindZone("America/New_York");
  EXPECT_EQ(QuietHoursEnd("12:00-14:00", new_york, At("2026-06-10T17:00:00Z")),  // 13:00 EDT
            At("2026-06-10T18:00:00Z"));
  // 8 March 2026, 01:30 EST; clocks jump from 02:00 to 03:00, so 03:00 EDT is 07:00Z.
  EXPECT_EQ(QuietHoursEnd("01:00-03:00", new_york, At("2026-03-08T06:30:00Z")),
            At("2026-03-08T07:00:00Z"));
}

TEST(CapWindow, WholeDaysStartAtALocalMidnight) {
  const date::time_zone* shanghai = rules::FindZone("Asia/Shanghai");
  config::FrequencyCap week{2, std::chrono::hours(24 * 7)};
  // 10 June 10:00 in Shanghai: the window is 4-10 June local.
  EXPECT_EQ(CapWindowStart(week, shanghai, At("2026-06-10T02:00:00Z")), At("2026-06-03T16:00:00Z"));
  config::FrequencyCap day{1, std::chrono::hours(24)};
  EXPECT_EQ(CapWindowStart(day, shanghai, At("2026-06-10T02:00:00Z")), At("2026-06-09T16:00:00Z"));
  config::FrequencyCap hours{1, std::chrono::hours(12)};
  EXPECT_EQ(CapWindowStart(hours, shanghai, At("2026-06-10T14:00:00Z")),
            At("2026-06-10T02:00:00Z"));
  EXPECT_EQ(NextLocalMidnight(shanghai, At("2026-06-10T02:00:00Z")), At("2026-06-10T16:00:00Z"));
}

}  // namespace
}  // namespace portrait::dispatch
