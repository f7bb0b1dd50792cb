// The activity log: one info line per period with the counts of what changed, none when
// nothing did.
#include "daemon/activity_log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <sstream>

namespace portrait::daemon {
namespace {

TEST(ActivityLog, LogsTheCountsOfAPeriodOnceAndNothingForAQuietOne) {
  std::ostringstream text;
  spdlog::logger log{"test", std::make_shared<spdlog::sinks::ostream_sink_st>(text)};
  Telemetry telemetry;
  ActivityLog activity(telemetry, log, std::chrono::seconds(60));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 300; ++i) {
    telemetry.profiles_created.Add();
  }
  telemetry.profiles_updated.Add(2);
  telemetry.consents_recorded.Add(23);
  telemetry.events_accepted.Add(252);
  activity.Tick(start + std::chrono::seconds(30));  // within the period: nothing yet
  EXPECT_EQ(text.str(), "");
  activity.Tick(start + std::chrono::seconds(61));
  const std::string line = text.str();
  EXPECT_NE(line.find("300 profiles created, 2 updated, 0 erased, 0 merged; 23 consent records; "
                      "252 events"),
            std::string::npos)
      << line;
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  activity.Tick(start + std::chrono::seconds(200));  // a quiet period: no line
  EXPECT_EQ(text.str(), line);
  telemetry.profiles_erased.Add();
  activity.Tick(start + std::chrono::seconds(300));
  EXPECT_NE(text.str().find("0 profiles created, 0 updated, 1 erased"), std::string::npos)
      << text.str();
}

}  // namespace
}  // namespace portrait::daemon
