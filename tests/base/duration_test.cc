#include "base/duration.h"

#include <gtest/gtest.h>

#include "base/clock.h"

namespace portrait {
namespace {

using std::chrono::seconds;

TEST(ParseDuration, AcceptsEveryUnit) {
  EXPECT_EQ(ParseDuration("45s").value(), seconds(45));
  EXPECT_EQ(ParseDuration("30m").value(), seconds(1800));
  EXPECT_EQ(ParseDuration("2h").value(), seconds(7200));
  EXPECT_EQ(ParseDuration("90d").value(), seconds(90 * 86400));
  EXPECT_EQ(ParseDuration("1w").value(), seconds(7 * 86400));
  EXPECT_EQ(ParseDuration("2y").value(), seconds(2 * 365 * 86400));
}

TEST(ParseDuration, RejectsMalformedText) {
  for (const char* bad : {"", "d", "7", "7x", "-1d", "1.5h", " 7d", "7dd", "99999999999999y"}) {
    auto d = ParseDuration(bad);
    EXPECT_FALSE(d.has_value()) << bad;
    if (!d) {
      EXPECT_NE(d.error().message().find("duration"), std::string::npos);
    }
  }
}

TEST(FakeClock, MovesOnlyWhenTold) {
  FakeClock clock(TimePoint(std::chrono::seconds(1000)));
  EXPECT_EQ(clock.Now(), TimePoint(std::chrono::seconds(1000)));
  clock.Advance(std::chrono::seconds(5));
  EXPECT_EQ(clock.Now(), TimePoint(std::chrono::seconds(1005)));
  clock.Set(TimePoint(std::chrono::seconds(7)));
  EXPECT_EQ(clock.Now(), TimePoint(std::chrono::seconds(7)));
}

}  // namespace
}  // namespace portrait

#include "base/time_format.h"

namespace portrait {
namespace {

TEST(Rfc3339, RoundTripsAndAcceptsOffsets) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1'500'000), "1970-01-01T00:00:01.500000Z");
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:01.5Z").value(), 1'500'000);
  EXPECT_EQ(ParseRfc3339("2026-11-22T09:00:00+08:00").value(),
            ParseRfc3339("2026-11-22T01:00:00Z").value());
  EXPECT_FALSE(ParseRfc3339("2026-11-22 09:00"));
  EXPECT_FALSE(ParseRfc3339("2026-11-22T09:00:00Zjunk"));
}

}  // namespace
}  // namespace portrait

// Found by tests/fuzz/cloud_event_fuzz: a space in the seconds made date::parse convert NaN to
// an integer (UBSan: "-nan is outside the range of representable values").
TEST(Rfc3339, RefusesAnythingButRfc3339sShape) {
  EXPECT_FALSE(portrait::ParseRfc3339("2026-11-01T10:00: 0+08:00"));
  EXPECT_FALSE(portrait::ParseRfc3339("2026-11-01T10:00:+0Z"));
  EXPECT_FALSE(portrait::ParseRfc3339(" 2026-11-01T10:00:00Z"));
  EXPECT_FALSE(portrait::ParseRfc3339("2026-11-01T10:00:00.Z"));
  EXPECT_FALSE(portrait::ParseRfc3339("2026-11-01T10:00:00+0800"));
  EXPECT_TRUE(portrait::ParseRfc3339("2026-11-01T10:00:00.25+08:00"));
  EXPECT_TRUE(portrait::ParseRfc3339("2026-11-01T10:00:00Z"));
}
