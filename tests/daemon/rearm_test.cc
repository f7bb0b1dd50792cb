// Re-arming every timer after a rule change from the anniversary anchors, over a real SQLCipher
// data directory: the timers it arms are those the decrypting pass armed (29 February, zones far
// east and far west, a date ahead, a missing date), anchors follow profile writes and erasure,
// and the backfill of a database written before anchors existed gives the same timers.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "base/time_format.h"
#include "daemon/ingestor.h"
#include "daemon/rules_holder.h"
#include "daemon/timer_rearm.h"
#include "store/anchor_date.h"
#include "store/sqlcipher/sqlite.h"
#include "tests/daemon/service_fixture.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;
using Timers = std::map<std::string, int64_t>;

class RearmTest : public ServiceFixture {
 protected:
  std::shared_ptr<const LoadedRules> Load() {
    auto loaded = LoadRules(in_force_.Get());
    EXPECT_TRUE(loaded) << loaded.error().ToString();
    return *loaded;
  }
  std::shared_ptr<const LoadedRules> ExampleRules() {
    std::filesystem::copy(std::string(PORTRAIT_SOURCE_DIR) + "/examples/rules", dir_ / "rules");
    return Load();
  }
  // The rule change: the birthday greeting at 10:00 instead of 09:00, 29 February birthdays
  // greeted on 1 March in common years.
  void ChangeTheBirthdayRule() {
    const std::string path = dir_ / "rules/care.toml";
    std::string text = testing::ReadFile(path);
    for (auto [from, to] : {std::pair{"on.at = \"09:00\"", "on.at = \"10:00\""},
                            std::pair{"on.leap_day = \"feb28\"", "on.leap_day = \"mar1\""}}) {
      ASSERT_NE(text.find(from), std::string::npos) << from;
      text.replace(text.find(from), std::string(from).size(), to);
    }
    testing::WriteFile(path, text);
    rules_.Set(Load());
  }

  store::ProfileId Put(const std::string& id, json patch) {
    auto put = vault_.Upsert(id, patch);
    EXPECT_TRUE(put) << put.error().ToString();
    ingestor_.Forget(put->id);  // as the API does after an upsert
    EXPECT_TRUE(ingestor_.AfterProfileWrite(put->id).ok());
    return put->id;
  }
  Timers TimersOf(store::ProfileId id) {
    Timers out;
    const std::vector<store::TimerRow> rows = store_.GetTimers(id).value();
    for (const store::TimerRow& t : rows) {
      out[t.trigger] = t.due_us;
    }
    return out;
  }
  // What the decrypting pass (before anchors) left: each profile opened, its timers re-armed
  // from its decrypted fields.
  std::map<store::ProfileId, Timers> DecryptingRearm(const std::vector<store::ProfileId>& ids) {
    std::map<store::ProfileId, Timers> out;
    for (store::ProfileId id : ids) {
      const store::Profile p = vault_.GetById(id).value();
      rules::ProfileFacts facts;
      facts.fields = p.fields;
      facts.timezone = p.timezone;
      Timers timers = TimersOf(id);
      for (const TimerChange& c : RearmTimers(rules_.Get()->engine, facts,
                                              store_.GetTimers(id).value(), Now(), true, false)) {
        if (c.due) {
          timers[c.trigger] = *c.due;
        } else {
          timers.erase(c.trigger);
        }
      }
      out[id] = timers;
    }
    return out;
  }
  // Re-arms every profile, three per step (so paging is exercised); the timers changed.
  int64_t RearmAll() {
    RearmProgress step;
    int64_t changed = 0;
    do {
      auto next = ingestor_.RearmProfiles(step.last, 3);
      EXPECT_TRUE(next) << next.error().ToString();
      if (!next) {
        break;
      }
      step = *next;
      changed += step.changed;
    } while (step.last != 0);
    return changed;
  }
  std::optional<store::TimerInputs> InputsOf(store::ProfileId id) {
    std::vector<store::TimerInputs> all = store_.RearmInputs(0, 1000).value();
    for (store::TimerInputs& in : all) {
      if (in.profile_id == id) {
        return std::move(in);
      }
    }
    return std::nullopt;
  }
  int64_t Utc(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

  RulesHolder rules_{ExampleRules()};
  Ingestor ingestor_{store_, vault_, consents_, audit_, rules_, data_.blind, clock_};
};

// The clock: 2027-01-15T08:00:00Z. The greeting: the day before the birthday, in the
// profile's zone (the config's: Asia/Shanghai).
TEST_F(RearmTest, ARuleChangeArmsFromTheAnchorsWhatTheDecryptingPassArmed) {
  std::map<std::string, store::ProfileId> ids;
  ids["leap"] = Put("leap", {{"fields", {{"name", "L"}, {"birthday", "1992-02-29"}}}});
  ids["east"] = Put("east", {{"fields", {{"birthday", "1980-03-01"}}},
                             {"timezone", "Pacific/Kiritimati"}});  // UTC+14
  ids["west"] = Put("west", {{"fields", {{"birthday", "1975-01-01"}}},
                             {"timezone", "Pacific/Pago_Pago"}});  // UTC-11
  ids["ahead"] = Put("ahead", {{"fields", {{"birthday", "2029-07-01"}}}});
  ids["none"] = Put("none", {{"fields", {{"name", "N"}}}});
  EXPECT_EQ(TimersOf(ids["leap"]).at("birthday-greeting"), Utc("2027-02-27T01:00:00Z"));

  ChangeTheBirthdayRule();
  std::vector<store::ProfileId> all;
  for (const auto& [name, id] : ids) {
    all.push_back(id);
  }
  const std::map<store::ProfileId, Timers> expected = DecryptingRearm(all);
  EXPECT_EQ(RearmAll(), 4);  // every greeting moved; "none" has none
  for (const auto& [name, id] : ids) {
    EXPECT_EQ(TimersOf(id), expected.at(id)) << name;
  }
  // 2027 is a common year: 1 March, the day before is 28 February, at 10:00 in Shanghai.
  EXPECT_EQ(TimersOf(ids["leap"]).at("birthday-greeting"), Utc("2027-02-28T02:00:00Z"));
  // 28 February 10:00 at UTC+14 is 27 February 20:00Z.
  EXPECT_EQ(TimersOf(ids["east"]).at("birthday-greeting"), Utc("2027-02-27T20:00:00Z"));
  // 31 December 10:00 at UTC-11 is 21:00Z the same day.
  EXPECT_EQ(TimersOf(ids["west"]).at("birthday-greeting"), Utc("2027-12-31T21:00:00Z"));
  // Not before the date's own year.
  EXPECT_EQ(TimersOf(ids["ahead"]).at("birthday-greeting"), Utc("2029-06-30T02:00:00Z"));
  EXPECT_FALSE(TimersOf(ids["none"]).count("birthday-greeting"));
  EXPECT_TRUE(TimersOf(ids["none"]).count("$lifecycle"));
  // Nothing left to change.
  EXPECT_EQ(RearmAll(), 0);
}

TEST_F(RearmTest, AnUpdateMovesTheAnchorAndTheTimerAndAnErasureDeletesTheAnchor) {
  const store::ProfileId id = Put("kim", {{"fields", {{"birthday", "1990-06-15"}}}});
  EXPECT_EQ(InputsOf(id)->anchors.at("birthday"), (store::AnchorDate{0, 6, 15}));
  EXPECT_EQ(TimersOf(id).at("birthday-greeting"), Utc("2027-06-14T01:00:00Z"));

  Put("kim", {{"fields", {{"birthday", "1990-08-20"}}}, {"timezone", "Europe/Berlin"}});
  const store::TimerInputs in = *InputsOf(id);
  EXPECT_EQ(in.anchors.at("birthday"), (store::AnchorDate{0, 8, 20}));
  EXPECT_EQ(in.timezone, "Europe/Berlin");
  EXPECT_EQ(TimersOf(id).at("birthday-greeting"), Utc("2027-08-19T07:00:00Z"));  // 09:00 CEST

  Put("kim", {{"fields", {{"birthday", nullptr}}}});
  EXPECT_TRUE(InputsOf(id)->anchors.empty());
  EXPECT_FALSE(TimersOf(id).count("birthday-greeting"));

  Put("kim", {{"fields", {{"birthday", "1990-08-20"}}}});
  ASSERT_TRUE(vault_.Erase("kim"));
  ingestor_.Forget(id);
  EXPECT_FALSE(InputsOf(id));
  auto raw = store::sqlite::Db::Open(config_.daemon.data_dir + "/portrait.db",
                                     data_.keys.portrait_db_key(), false, 4);
  ASSERT_TRUE(raw) << raw.error().ToString();
  store::sqlite::Stmt left(*raw, "SELECT count(*) FROM anchors WHERE profile_id = ?;");
  left.Bind(1, id);
  ASSERT_TRUE(left.Step().value());
  EXPECT_EQ(left.Int(0), 0);
}

// A database written before anchors existed (their table emptied, the meta key gone): the
// backfill opens each profile once, and the re-arm then arms what the decrypting pass armed.
TEST_F(RearmTest, TheBackfillOfAnOlderDatabaseGivesTheDecryptingPassesTimers) {
  std::mt19937 random(13);
  const char* zones[] = {"", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/New_York"};
  std::vector<store::ProfileId> ids;
  for (int i = 0; i < 40; ++i) {
    json patch = {{"fields", {{"name", "n"}}}};
    if (i % 7 != 0) {  // some have no birthday
      char date[16];
      std::snprintf(date, sizeof date, "%04d-%02d-%02d", 1940 + int(random() % 95),
                    1 + int(random() % 12), i % 5 == 0 ? 29 : 1 + int(random() % 28));
      patch["fields"]["birthday"] = i % 5 == 0 ? "2000-02-29" : date;
    }
    if (const char* zone = zones[random() % 4]; *zone) {
      patch["timezone"] = zone;
    }
    ids.push_back(Put("c" + std::to_string(i), patch));
  }
  ASSERT_TRUE(ingestor_.AnchorsComplete());
  {
    auto raw = store::sqlite::Db::Open(config_.daemon.data_dir + "/portrait.db",
                                       data_.keys.portrait_db_key(), false, 4);
    ASSERT_TRUE(raw) << raw.error().ToString();
    ASSERT_TRUE(
        raw->Exec("DELETE FROM anchors; DELETE FROM meta WHERE key = 'anchors.fields';").ok());
  }
  EXPECT_FALSE(ingestor_.AnchorsComplete().value());

  ChangeTheBirthdayRule();
  const std::map<store::ProfileId, Timers> expected = DecryptingRearm(ids);
  RearmProgress step;
  int64_t backfilled = 0;
  do {
    step = ingestor_.BackfillAnchors(step.last, 7).value();
    backfilled += step.changed;
  } while (step.last != 0);
  // A pass that began under other date fields (a reload came meanwhile) is not complete.
  ASSERT_TRUE(ingestor_.MarkAnchorsComplete(0, ingestor_.AnchoredFieldsNow() + "x,").ok());
  EXPECT_FALSE(ingestor_.AnchorsComplete().value());
  ASSERT_TRUE(ingestor_.MarkAnchorsComplete(backfilled, ingestor_.AnchoredFieldsNow()).ok());
  EXPECT_TRUE(ingestor_.AnchorsComplete().value());
  EXPECT_EQ(backfilled, 40 - 6);  // every profile with a birthday
  RearmAll();
  for (store::ProfileId id : ids) {
    EXPECT_EQ(TimersOf(id), expected.at(id)) << id;
  }
  // A second backfill changes nothing.
  EXPECT_EQ(ingestor_.BackfillAnchors(0, 100).value().changed, 0);
}

// For any date, zone and instant no more than two years before the anchor was written, the
// anchor's date gives the occurrences the date itself gives.
TEST_F(RearmTest, AnAnchorsOccurrencesAreTheDatesOwn) {
  ChangeTheBirthdayRule();  // 29 February on 1 March: the leap-day policy that moves the day
  const rules::Engine& engine = rules_.Get()->engine;
  const rules::Trigger& greeting = *rules_.Get()->set.FindTrigger("birthday-greeting");
  std::mt19937_64 random(89);
  const char* zones[] = {"Asia/Shanghai", "Pacific/Kiritimati", "Pacific/Pago_Pago",
                         "Europe/London", "America/St_Johns"};
  const int64_t kYearUs = 365LL * 86'400'000'000;
  for (int i = 0; i < 3000; ++i) {
    char date[16];
    const int year = 1900 + int(random() % 140);
    const int month = 1 + int(random() % 12);
    const int day = month == 2 && random() % 3 == 0 ? 29 : 1 + int(random() % 28);
    std::snprintf(date, sizeof date, "%04d-%02d-%02d", year, month, day);
    const int64_t written = Now() + static_cast<int64_t>(random() % (20 * kYearUs)) - 10 * kYearUs;
    const std::optional<store::AnchorDate> anchor = store::AnchorOf(date, written);
    if (!anchor) {
      continue;  // 29 February of a common year
    }
    rules::ProfileFacts real;
    real.fields["birthday"] = date;
    real.timezone = zones[random() % 5];
    store::TimerInputs in;
    in.timezone = real.timezone;
    in.anchors["birthday"] = *anchor;
    const rules::ProfileFacts anchored = AnchoredFacts(in);
    const int64_t after =
        written - 700 * kYearUs / 365 + static_cast<int64_t>(random() % (12 * kYearUs));
    EXPECT_EQ(engine.NextOccurrence(anchored, greeting, after),
              engine.NextOccurrence(real, greeting, after))
        << date << " in " << real.timezone << " written " << FormatRfc3339(written) << " after "
        << FormatRfc3339(after);
  }
}

}  // namespace
}  // namespace portrait::daemon
