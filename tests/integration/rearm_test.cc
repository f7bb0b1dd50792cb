// A data directory written before anniversary anchors existed (schema version 6, no anchors, no
// record of them): the daemon migrates it, backfills the anchors once (opening each profile),
// and the re-arm a rule change needs then arms from the anchors what it armed before.
#include <gtest/gtest.h>

#include "tests/integration/daemon_harness.h"

namespace portrait::testing {
namespace {

using nlohmann::json;

// A greeting at 10:00 on the birthday itself.
void AddBirthdayDayRule(const Daemon& daemon) {
  WriteFile(daemon.dir() / "rules/birthday_day.toml", R"toml(
[[trigger]]
id = "birthday-day"
purpose = "care"
on.anniversary = "birthday"
on.at = "10:00"
task = "greeting"
channel = "sms"
sink = "care-queue"
message = "Happy birthday, {{fields.name}}!"
fields = ["name"]
)toml");
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

TEST(Rearm, AnOlderDatabaseIsMigratedBackfilledOnceAndItsTimersArmedFromTheAnchors) {
  Daemon daemon;
  ASSERT_TRUE(daemon.Start("2026-06-10T00:00:00Z"));
  for (const auto& [id, fields, zone] : std::vector<std::tuple<std::string, json, std::string>>{
           {"ann", {{"name", "Ann"}, {"birthday", "1991-06-20"}}, ""},
           {"kiri", {{"name", "Kiri"}, {"birthday", "1988-06-20"}}, "Pacific/Kiritimati"},
           {"nobody", {{"name", "Nob"}}, ""}}) {
    json patch = {{"fields", fields}};
    if (!zone.empty()) {
      patch["timezone"] = zone;
    }
    ASSERT_EQ(daemon.Admin("PUT", "/v1/profiles/" + id, patch.dump()).status, 201);
  }
  EXPECT_EQ(daemon.Stop(), 0);
  // As the build before anchors left it.
  const std::string undone = daemon.Sql(
      "DROP TABLE digests; DROP TRIGGER digest_on_profile_insert; "
      "DROP TRIGGER digest_on_profile_update; DROP TRIGGER digest_on_profile_delete; "
      "DROP TRIGGER digest_on_field_insert; DROP TRIGGER digest_on_field_update; "
      "DROP TRIGGER digest_on_field_delete; "
      "DROP TABLE anchors; DROP TABLE segment_members; DROP TABLE models; "
      "DROP INDEX profiles_by_lifecycle; DROP INDEX profiles_by_created; "
      "DROP INDEX tasks_by_created; "
      "DELETE FROM meta WHERE key = 'anchors.fields'; "
      "PRAGMA user_version = 6; PRAGMA user_version;");
  ASSERT_NE(undone.find("6"), std::string::npos) << undone;
  AddBirthdayDayRule(daemon);

  ASSERT_TRUE(daemon.Start("2026-06-10T01:00:00Z"));
  ASSERT_TRUE(daemon.WaitForLog("anniversary anchors backfilled: 2 changed")) << daemon.Log();
  ASSERT_TRUE(daemon.WaitForLog("timers re-armed for the rules and time zone in force: 2 changed"))
      << daemon.Log();
  const std::string anchors = daemon.Sql("SELECT count(*), min(month), max(day) FROM anchors;");
  EXPECT_NE(anchors.find("2|6|20"), std::string::npos) << anchors;
  // Each profile got its digest row from the migration (DECISIONS 180).
  const std::string digests = daemon.Sql(
      "SELECT 'rows ' || count(*) || ' of ' || (SELECT count(*) FROM profiles) FROM digests;");
  EXPECT_NE(digests.find("rows 3 of 3"), std::string::npos) << digests;
  EXPECT_NE(daemon.Admin("GET", "/v1/audit?after=0&limit=1000").body.find("anchors.backfill"),
            std::string::npos);
  EXPECT_EQ(daemon.Stop(), 0);

  // 20 June 03:00Z: 11:00 in Shanghai, an hour after Ann's 10:00 greeting; Kiritimati (UTC+14)
  // is at 17:00, seven hours after hers. Both fire, each once.
  ASSERT_TRUE(daemon.Start("2026-06-20T03:00:00Z"));
  ASSERT_TRUE(Eventually([&] {
    return daemon.TasksOf("ann", "birthday-day").size() == 1 &&
           daemon.TasksOf("kiri", "birthday-day").size() == 1;
  })) << daemon.Log();
  EXPECT_TRUE(daemon.TasksOf("nobody", "birthday-day").empty());
  EXPECT_EQ(daemon.Stop(), 0);
  // Nothing is backfilled twice.
  EXPECT_EQ(Count(daemon.Log(), "anniversary anchors backfilled"), 1u);
}

}  // namespace
}  // namespace portrait::testing
