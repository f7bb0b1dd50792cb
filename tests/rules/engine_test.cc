// The engine against the shipped example rules, walked through time with explicit instants.
#include "rules/engine.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tests/rules/rules_fixture.h"

namespace portrait::rules {
namespace {

using nlohmann::json;
using testing::kDay;
using testing::kHour;
using testing::T;

// A profile's durable timers and used dedupe keys, as the daemon's store would keep them.
struct TimerBook {
  std::map<std::string, int64_t> due;  // trigger id -> due instant
  std::set<std::string> used;

  void Apply(const std::vector<TimerOp>& ops) {
    for (const TimerOp& op : ops) {
      if (op.kind == TimerOp::Kind::kArm) {
        due[op.trigger->id] = op.due_us;
      } else {
        due.erase(op.trigger->id);
      }
    }
  }
  // Runs every timer due by `now` through a (possibly new) engine; returns the firings that
  // were not duplicates.
  std::vector<Firing> RunDue(const Engine& engine, const ProfileFacts& p, int64_t now) {
    std::vector<Firing> out;
    for (auto it = due.begin(); it != due.end();) {
      if (it->second > now) {
        ++it;
        continue;
      }
      const Trigger* t = engine.rules().FindTrigger(it->first);
      TimerOutcome o = engine.OnTimer(p, *t, it->second, now);
      if (o.fired && used.insert(o.fired->dedupe_key).second) {
        out.push_back(*o.fired);
      }
      if (o.next) {
        it->second = *o.next;
        ++it;
      } else {
        it = due.erase(it);
      }
    }
    return out;
  }
};

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    profile_.fields = {{"name", "王芳"}, {"phone", "+8613812345678"}};
    profile_.lifecycle = "new";
  }
  EventInput Event(std::string type, int64_t at, json data = json::object()) {
    return EventInput{"e" + std::to_string(++events_), std::move(type), at, std::move(data)};
  }
  // Applies an event the way the daemon will: metrics and stage saved, timers booked.
  EventOutcome Ingest(const EventInput& e) {
    EventOutcome o = engine_.OnEvent(profile_, e, e.time_us);
    profile_.metrics = o.metrics;
    profile_.lifecycle = o.lifecycle;
    book_.Apply(o.timers);
    return o;
  }
  static std::vector<std::string> Ids(const std::vector<Firing>& firings) {
    std::vector<std::string> ids;
    for (const auto& f : firings) ids.push_back(f.trigger->id);
    return ids;
  }

  config::Config config_ = testing::ExampleConfig();
  RuleSet rules_ = testing::ExampleRules(config_);
  Engine engine_{rules_, config_.daemon.timezone};
  ProfileFacts profile_ = [] {
    ProfileFacts p;
    p.id = 42;
    return p;
  }();
  TimerBook book_;
  int events_ = 0;
};

TEST_F(EngineTest, CartThenOrderWithinTwoHoursFiresNothing) {
  const int64_t t0 = T("2026-11-22T10:00:00Z");
  Ingest(Event("cart.updated", t0));
  EXPECT_EQ(book_.due.at("cart-abandonment"), t0 + 2 * kHour);
  Ingest(Event("order.placed", t0 + kHour, {{"amount", 50}}));
  EXPECT_FALSE(book_.due.contains("cart-abandonment"));
  EXPECT_TRUE(book_.RunDue(engine_, profile_, t0 + 5 * kHour).empty());
}

TEST_F(EngineTest, ALaterCartReArmsAndFiresTwoHoursAfterIt) {
  const int64_t t0 = T("2026-11-22T10:00:00Z");
  Ingest(Event("cart.updated", t0));
  Ingest(Event("cart.updated", t0 + kHour));
  EXPECT_TRUE(book_.RunDue(engine_, profile_, t0 + 2 * kHour).empty());  // the first was moved
  EXPECT_TRUE(book_.RunDue(engine_, profile_, t0 + 3 * kHour - 1).empty());
  auto fired = book_.RunDue(engine_, profile_, t0 + 3 * kHour);
  ASSERT_EQ(Ids(fired), std::vector<std::string>{"cart-abandonment"});
  EXPECT_EQ(fired[0].dedupe_key, "cart-abandonment|42|" + std::to_string(t0 + 3 * kHour));
  EXPECT_TRUE(book_.RunDue(engine_, profile_, t0 + 9 * kHour).empty());  // once
}

TEST_F(EngineTest, AnOrderStampedBeforeTheCartDoesNotDisarmItsReminder) {
  const int64_t t0 = T("2026-11-22T10:00:00Z");
  Ingest(Event("cart.updated", t0));
  Ingest(Event("order.placed", t0 - kHour, {{"amount", 50}}));  // older, arriving late
  EXPECT_EQ(book_.due.at("cart-abandonment"), t0 + 2 * kHour);
  Ingest(Event("order.placed", t0, {{"amount", 50}}));  // at the cart's time: it answers it
  EXPECT_FALSE(book_.due.contains("cart-abandonment"));
}

TEST_F(EngineTest, ALateOlderCartNeitherMovesTheReminderNorRevivesAnAnsweredOne) {
  const int64_t t0 = T("2026-11-22T10:00:00Z");
  Ingest(Event("cart.updated", t0));
  Ingest(Event("cart.updated", t0 - kHour));  // older, arriving late
  EXPECT_EQ(book_.due.at("cart-abandonment"), t0 + 2 * kHour);
  Ingest(Event("order.placed", t0 + kHour, {{"amount", 5}}));
  Ingest(Event("cart.updated", t0 + 30 * 60'000'000LL));  // before the order: stays answered
  EXPECT_FALSE(book_.due.contains("cart-abandonment"));
  Ingest(Event("cart.updated", t0 + 2 * kHour));  // after the order: a new reminder
  EXPECT_EQ(book_.due.at("cart-abandonment"), t0 + 4 * kHour);
}

TEST_F(EngineTest, ARestartedEngineFiresAStoredTimerOnce) {
  const int64_t t0 = T("2026-11-22T10:00:00Z");
  Ingest(Event("cart.updated", t0));
  TimerBook stored = book_;  // what survived in the store
  {
    // The daemon restarts: the rules are loaded again into a new engine.
    RuleSet reloaded = testing::ExampleRules(config_);
    Engine restarted(reloaded, config_.daemon.timezone);
    auto fired = stored.RunDue(restarted, profile_, t0 + 2 * kHour + 5 * 60'000'000);
    EXPECT_EQ(Ids(fired), std::vector<std::string>{"cart-abandonment"});
    EXPECT_TRUE(stored.RunDue(restarted, profile_, t0 + 4 * kHour).empty());
  }
  // Even if the old timer is run again (a crash after firing, before the timer was removed),
  // the dedupe key is the same, so the task is not made twice.
  auto again = book_.RunDue(engine_, profile_, t0 + 2 * kHour);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(stored.used.contains(again[0].dedupe_key));
}

TEST_F(EngineTest, MetricsLifecycleAndEventTriggers) {
  int64_t t = T("2026-01-05T10:00:00Z");
  EventOutcome first = Ingest(Event("order.placed", t, {{"amount", 10}, {"category", "jazz"}}));
  ASSERT_TRUE(first.stage_change);
  EXPECT_EQ(first.stage_change->first, "new");
  EXPECT_EQ(first.stage_change->second, "active");
  std::vector<std::string> fired;
  for (int i = 2; i <= 6; ++i) {
    t += kDay;
    auto o = Ingest(
        Event("order.placed", t, {{"amount", 10 * i}, {"category", i % 2 ? "rock" : "jazz"}}));
    for (const auto& f : o.fired) fired.push_back(f.trigger->id + "@" + std::to_string(i));
  }
  EXPECT_EQ(fired, std::vector<std::string>{"vip-thank-you@5"});  // metrics.orders == 5
  EXPECT_EQ(profile_.metrics["orders"], 6);
  EXPECT_EQ(profile_.metrics["spent"], 210.0);
  EXPECT_EQ(profile_.metrics["last_order"], t);
  EXPECT_EQ(profile_.metrics["favourite_category"], "jazz");
}

TEST_F(EngineTest, DriftingFromActiveToAtRiskFiresTheWinBack) {
  const int64_t t0 = T("2026-01-05T10:00:00Z");
  Ingest(Event("order.placed", t0, {{"amount", 10}}));
  EXPECT_EQ(profile_.lifecycle, "active");
  EventOutcome day90 = engine_.Reevaluate(profile_, t0 + 90 * kDay);
  EXPECT_FALSE(day90.stage_change);
  EventOutcome day91 = engine_.Reevaluate(profile_, t0 + 91 * kDay);
  ASSERT_TRUE(day91.stage_change);
  EXPECT_EQ(day91.lifecycle, "at_risk");
  ASSERT_EQ(Ids(day91.fired), std::vector<std::string>{"win-back"});
  EXPECT_EQ(day91.fired[0].dedupe_key, "win-back|42|2026-04");  // once per month, local time
  auto payload = engine_.Payload(*day91.fired[0].trigger, profile_, t0 + 91 * kDay, true);
  ASSERT_TRUE(payload);
  EXPECT_EQ(payload->message, "王芳,好久不见!优惠码 BACK20 立减20元。");
  EXPECT_EQ(payload->fields, json({{"name", "王芳"}, {"phone", "+8613812345678"}}));
  auto plain = engine_.Payload(*day91.fired[0].trigger, profile_, t0 + 91 * kDay, false);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->message, "好久不见!优惠码 BACK20 立减20元。");
  EXPECT_TRUE(plain->fields.empty());
}

TEST_F(EngineTest, BirthdayTimerIsPerOccurrenceInTheProfilesZone) {
  profile_.fields["birthday"] = "1992-02-29";
  profile_.timezone = "America/New_York";
  auto timers = engine_.AnniversaryTimers(profile_, T("2026-11-22T00:00:00Z"));
  ASSERT_EQ(timers.size(), 1u);
  // 29 Feb -> 28 Feb 2027 (feb28); offset -1d -> 27 Feb, 09:00 EST.
  EXPECT_EQ(FormatRfc3339(timers[0].due_us), "2027-02-27T14:00:00Z");
  book_.Apply(timers);
  auto fired = book_.RunDue(engine_, profile_, timers[0].due_us + 60'000'000);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].dedupe_key, "birthday-greeting|42|2027");
  EXPECT_EQ(FormatRfc3339(book_.due.at("birthday-greeting")), "2028-02-28T14:00:00Z");
  auto payload = engine_.Payload(*fired[0].trigger, profile_, fired[0].at_us, true);
  EXPECT_EQ(payload->message, "亲爱的王芳,明天是您的生日,提前祝您生日快乐!");
}

TEST_F(EngineTest, ABirthdayTimerMadeStaleByAZoneChangeIsReplacedAndStillFires) {
  profile_.fields["birthday"] = "1990-03-10";
  Engine berlin{rules_, "Europe/Berlin"};  // the config's zone when the timer was armed
  auto armed = berlin.AnniversaryTimers(profile_, T("2027-01-01T00:00:00Z"));
  ASSERT_EQ(armed.size(), 1u);
  EXPECT_EQ(FormatRfc3339(armed[0].due_us), "2027-03-09T08:00:00Z");
  // Now the zone is Asia/Shanghai: 09:00 there was 01:00Z, seven hours before the stale timer.
  TimerOutcome stale =
      engine_.OnTimer(profile_, *armed[0].trigger, armed[0].due_us, armed[0].due_us);
  EXPECT_FALSE(stale.fired);
  ASSERT_TRUE(stale.next);
  EXPECT_EQ(FormatRfc3339(*stale.next), "2027-03-09T01:00:00Z");
  TimerOutcome late =
      engine_.OnTimer(profile_, *armed[0].trigger, *stale.next, armed[0].due_us + 1'000'000);
  ASSERT_TRUE(late.fired) << late.reason;
  EXPECT_EQ(late.fired->dedupe_key, "birthday-greeting|42|2027");
  EXPECT_EQ(FormatRfc3339(*late.next), "2028-03-09T01:00:00Z");
}

TEST_F(EngineTest, AScheduleTimerOfAnOldCronIsMovedNotFired) {
  const Trigger* digest = rules_.FindTrigger("weekly-at-risk-vip-digest");
  profile_.lifecycle = "at_risk";
  profile_.tags = {"vip"};
  // Tuesday 10:00 in Shanghai: a run of an earlier "0 10 * * TUE", not of "0 10 * * MON".
  TimerOutcome out =
      engine_.OnTimer(profile_, *digest, T("2026-11-24T02:00:00Z"), T("2026-11-24T02:00:01Z"));
  EXPECT_FALSE(out.fired);
  ASSERT_TRUE(out.next);
  EXPECT_EQ(FormatRfc3339(*out.next), "2026-11-30T02:00:00Z");
}

TEST_F(EngineTest, ATimerMissedByMoreThanGraceDoesNotFire) {
  profile_.fields["birthday"] = "1990-06-15";
  auto timers = engine_.AnniversaryTimers(profile_, T("2026-01-01T00:00:00Z"));
  ASSERT_EQ(timers.size(), 1u);
  TimerOutcome late =
      engine_.OnTimer(profile_, *timers[0].trigger, timers[0].due_us, timers[0].due_us + 2 * kDay);
  EXPECT_FALSE(late.fired);
  EXPECT_NE(late.reason.find("grace"), std::string::npos);
  ASSERT_TRUE(late.next);
  EXPECT_GT(*late.next, timers[0].due_us + 300 * kDay);  // re-armed for next year
  TimerOutcome on_time =
      engine_.OnTimer(profile_, *timers[0].trigger, timers[0].due_us, timers[0].due_us + 3 * kHour);
  EXPECT_TRUE(on_time.fired);
}

TEST_F(EngineTest, ScheduleRunsMondaysAtTenInTheConfigZone) {
  const Trigger* digest = rules_.FindTrigger("weekly-at-risk-vip-digest");
  ASSERT_NE(digest, nullptr);
  EXPECT_EQ(FormatRfc3339(*engine_.NextRun(*digest, T("2026-11-22T10:53:00Z"))),
            "2026-11-23T02:00:00Z");  // Asia/Shanghai
  profile_.lifecycle = "at_risk";
  profile_.tags = {"vip"};
  profile_.fields["email"] = "w@example.cn";
  EXPECT_TRUE(
      engine_.OnTimer(profile_, *digest, T("2026-11-23T02:00:00Z"), T("2026-11-23T02:00:01Z"))
          .fired);
  profile_.tags.clear();
  auto no =
      engine_.OnTimer(profile_, *digest, T("2026-11-23T02:00:00Z"), T("2026-11-23T02:00:01Z"));
  EXPECT_FALSE(no.fired);
  EXPECT_EQ(no.reason, "`has_tag('vip')` is false");
}

// Everything, for tools: every purpose, every field readable.
const ExplainScope kEverything{"", [](std::string_view) { return true; }};

TEST_F(EngineTest, ExplainCoversEveryTriggerWithoutSideEffects) {
  profile_.fields["birthday"] = "1990-06-15";
  const int64_t at = T("2026-11-22T10:00:00Z");
  EventInput cart = Event("cart.updated", at);
  auto why = engine_.Explain(
      profile_, &cart, at, [](const std::string&) { return false; }, kEverything);
  ASSERT_EQ(why.size(), rules_.triggers.size());
  std::map<std::string, Explanation> by_id;
  for (auto& e : why) by_id[e.trigger] = e;
  EXPECT_NE(by_id["cart-abandonment"].reason.find("arms a timer due 2026-11-22T12:00:00Z"),
            std::string::npos);
  EXPECT_FALSE(by_id["vip-thank-you"].fires);
  EXPECT_EQ(by_id["vip-thank-you"].reason, "needs an event of type order.placed");
  EXPECT_NE(by_id["birthday-greeting"].reason.find("not due: next at 2027-06-14T01:00:00Z"),
            std::string::npos);
  EXPECT_TRUE(profile_.metrics.empty());  // nothing changed

  // At the birthday instant the greeting fires — unless its dedupe key was used.
  const int64_t due = T("2027-06-14T01:00:00Z");
  auto at_due = engine_.Explain(
      profile_, nullptr, due, [](const std::string&) { return false; }, kEverything);
  auto used = engine_.Explain(
      profile_, nullptr, due, [](const std::string&) { return true; }, kEverything);
  for (size_t i = 0; i < at_due.size(); ++i) {
    if (at_due[i].trigger == "birthday-greeting") {
      EXPECT_TRUE(at_due[i].fires) << at_due[i].reason;
      EXPECT_FALSE(used[i].fires);
      EXPECT_NE(used[i].reason.find("already fired"), std::string::npos);
    }
  }
}

// A dry run for a caller explains only its purpose's triggers, and a trigger whose decision reads
// a field the caller can't read in clear is not evaluated: "not due: next at <date>" would give
// away the birthday, "fields.X is missing" or "`expr` is false" a yes/no about the value.
TEST_F(EngineTest, ExplainForACallerNamesNoValueItMayNotRead) {
  profile_.fields["birthday"] = "1990-06-15";
  profile_.fields["name"] = "Markername";
  const int64_t at = T("2026-11-22T10:00:00Z");
  auto never = [](const std::string&) { return false; };
  const ExplainScope care_without_birthday{
      "care", [](std::string_view field) { return field != "birthday"; }};
  for (const int64_t when : {at, T("2027-06-14T01:00:00Z")}) {
    auto why = engine_.Explain(profile_, nullptr, when, never, care_without_birthday);
    ASSERT_EQ(why.size(), 3u);  // the care triggers only
    for (const Explanation& e : why) {
      EXPECT_NE(e.trigger, "cart-abandonment");
      EXPECT_NE(e.trigger, "win-back");
      if (e.trigger == "birthday-greeting") {
        EXPECT_FALSE(e.evaluated);
        EXPECT_FALSE(e.fires);
        EXPECT_NE(e.reason.find("not evaluated for this role"), std::string::npos) << e.reason;
        EXPECT_NE(e.reason.find("fields.birthday"), std::string::npos) << e.reason;
      }
      if (e.trigger != "weekly-at-risk-vip-digest") {  // its next Monday is no field's value
        EXPECT_EQ(e.reason.find("06-1"), std::string::npos) << e.reason;
        EXPECT_EQ(e.reason.find("2027"), std::string::npos) << e.reason;
      }
    }
  }
  // The same trigger, for a caller who reads the birthday in clear, says when it is next due.
  const ExplainScope care{"care", [](std::string_view) { return true; }};
  for (const Explanation& e : engine_.Explain(profile_, nullptr, at, never, care)) {
    if (e.trigger == "birthday-greeting") {
      EXPECT_TRUE(e.evaluated);
      EXPECT_NE(e.reason.find("not due: next at 2027-06-14T01:00:00Z"), std::string::npos);
    }
  }
  // A condition over a field is not evaluated when the field is hidden, present or not.
  RuleSet rules = testing::RulesFrom(
                      "[[trigger]]\nid = \"c\"\npurpose = \"care\"\non.event = \"x\"\n"
                      "when = \"fields.city == 'Beijing'\"\ntask = \"t\"\nchannel = \"sms\"\n"
                      "sink = \"care-queue\"\nmessage = \"m\"\n",
                      config_)
                      .value();
  Engine engine(rules, "Asia/Shanghai");
  EventInput x = Event("x", at);
  const ExplainScope no_city{"care", [](std::string_view f) { return f != "city"; }};
  for (const char* city : {"Beijing", "Shanghai", ""}) {
    ProfileFacts p = profile_;
    if (*city) {
      p.fields["city"] = city;
    }
    auto why = engine.Explain(p, &x, at, never, no_city);
    ASSERT_EQ(why.size(), 1u);
    EXPECT_FALSE(why[0].evaluated);
    EXPECT_EQ(why[0].reason,
              "not evaluated for this role: it reads fields.city, which this role does not read "
              "in clear for this purpose");
  }
}

}  // namespace
}  // namespace portrait::rules
