// Anniversary anchors: what of a date is kept, and the date an anchor stands for.
#include "store/anchor_date.h"

#include <gtest/gtest.h>

namespace portrait::store {
namespace {

// 2027-01-15T08:00:00Z.
constexpr int64_t kWrittenUs = 1'800'000'000'000'000;

TEST(AnchorDate, KeepsTheYearOnlyWhenItCanStillMatter) {
  EXPECT_EQ(AnchorOf("1990-06-15", kWrittenUs), (AnchorDate{0, 6, 15}));
  EXPECT_EQ(AnchorOf("2024-12-31", kWrittenUs), (AnchorDate{0, 12, 31}));
  EXPECT_EQ(AnchorOf("2025-01-01", kWrittenUs), (AnchorDate{2025, 1, 1}));  // 2027 - 2
  EXPECT_EQ(AnchorOf("2030-03-04", kWrittenUs), (AnchorDate{2030, 3, 4}));  // ahead
  EXPECT_EQ(AnchorOf("1992-02-29", kWrittenUs), (AnchorDate{0, 2, 29}));
}

TEST(AnchorDate, RefusesWhatIsNoDate) {
  for (const char* bad : {"", "1990-6-15", "1990-02-30", "1990-13-01", "19900615xx", "abcd-ef-gh",
                          "2023-02-29", "1990-06-15T00:00"}) {
    EXPECT_FALSE(AnchorOf(bad, kWrittenUs)) << bad;
  }
}

TEST(AnchorDate, StandsForALeapYearWithoutAYearAndForItsOwnOtherwise) {
  EXPECT_EQ(AnchorIsoDate(AnchorDate{0, 2, 29}), "1904-02-29");
  EXPECT_EQ(AnchorIsoDate(AnchorDate{0, 6, 15}), "1904-06-15");
  EXPECT_EQ(AnchorIsoDate(AnchorDate{2030, 3, 4}), "2030-03-04");
  // What a hostile store could hold is no date.
  for (const AnchorDate& bad :
       {AnchorDate{0, 0, 1}, AnchorDate{0, 2, 30}, AnchorDate{-5, 1, 1}, AnchorDate{10000, 1, 1},
        AnchorDate{2023, 2, 29}, AnchorDate{0, 13, 1}, AnchorDate{0, 1, 0}}) {
    EXPECT_EQ(AnchorIsoDate(bad), "") << bad.year << "-" << bad.month << "-" << bad.day;
  }
}

}  // namespace
}  // namespace portrait::store
