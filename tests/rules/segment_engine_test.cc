// The engine's portrait: rule-driven tags and segments follow the facts after every change;
// on.segment triggers fire exactly once per transition, also when a change is replayed after a
// crash; a customer who objected to personalisation is left out of marketing segments and
// profiling triggers; a schedule trigger naming a segment fires only for its members.
#include <gtest/gtest.h>

#include <set>

#include "rules/engine.h"
#include "tests/rules/rules_fixture.h"

namespace portrait::rules {
namespace {

using nlohmann::json;
using testing::kDay;
using testing::T;

const char* kRules = R"(
[[metric]]
name = "orders"
count = "order.placed"
[[metric]]
name = "spent"
sum = "order.placed:amount"
[[metric]]
name = "last_order"
last = "order.placed"
[[score]]
name = "rfm"
kind = "rfm"
recency = "last_order"
frequency = "orders"
monetary = "spent"
[[model]]
name = "clv"
kind = "bgnbd"
purchases = "order.placed"
amount = "amount"
[[tag]]
path = "value/high"
when = "metrics.spent >= 1000"
[[segment]]
name = "vip"               # declared before the segment it names
when = "has_tag('value') and in_segment('buyer') and fields.city == 'Shanghai'"
[[segment]]
name = "buyer"
when = "metrics.orders >= 1"
[[segment]]
name = "at-risk"
when = "predict.clv.p_alive < 0.3"
[[segment]]
name = "champions"
when = "scores.rfm.group == 'important_value' and scores.rfm.r >= 4"
[[trigger]]
id = "enter-vip"
purpose = "service"
on.segment = { enter = "vip" }
task = "welcome to vip"
channel = "sms"
sink = "care-queue"
message = "hi"
[[trigger]]
id = "exit-vip"
purpose = "service"
on.segment = { exit = "vip" }
task = "sorry to see you go"
channel = "sms"
sink = "care-queue"
message = "hi"
[[trigger]]
id = "winback"
purpose = "marketing"
on.segment = { enter = "at-risk" }
task = "win back"
channel = "sms"
sink = "crm"
message = "hi"
[[trigger]]
id = "predicted-offer"
purpose = "marketing"
on.event = "order.placed"
when = "predict.clv.value_1y > 100"
task = "offer"
channel = "sms"
sink = "crm"
message = "hi"
[[trigger]]
id = "predicted-care"
purpose = "service"
on.event = "order.placed"
when = "predict.clv.value_1y > 100"
task = "care"
channel = "sms"
sink = "care-queue"
message = "hi"
[[trigger]]
id = "buyers-weekly"
purpose = "service"
on.schedule = "0 9 * * MON"
segment = "buyer"
task = "weekly"
channel = "sms"
sink = "care-queue"
message = "hi"
)";

class SegmentEngineTest : public ::testing::Test {
 protected:
  // The example config, with the purposes used here allowed every kind of derived data.
  static config::Config Config() {
    config::Config config = testing::ExampleConfig();
    for (auto& p : config.purposes) {
      if (p.name == "service" || p.name == "marketing") {
        p.derived.entries = {"metrics", "lifecycle", "tags", "segments", "scores", "predictions"};
      }
    }
    return config;
  }
  static RuleSet Rules(const config::Config& config) {
    auto loaded = testing::RulesFrom(kRules, config);
    EXPECT_TRUE(loaded) << loaded.error().message();
    return loaded ? std::move(*loaded) : RuleSet{};
  }

  SegmentEngineTest() {
    profile_.id = 7;
    profile_.fields = {{"city", "Shanghai"}};
  }

  EventInput Order(const std::string& id, double amount, int64_t at) {
    return EventInput{id, "order.placed", at, {{"amount", amount}}};
  }
  // Applies `event` to the profile as the daemon would (keeping what the engine returns) and
  // returns the ids of the triggers that fired and were not duplicates.
  std::vector<std::string> Apply(const EventInput& event) {
    EventOutcome out = engine_.OnEvent(profile_, event, event.time_us);
    profile_.metrics = out.metrics;
    profile_.lifecycle = out.lifecycle;
    return New(out.fired);
  }
  std::vector<std::string> Reevaluate(int64_t now) {
    EventOutcome out = engine_.Reevaluate(profile_, now);
    profile_.metrics = out.metrics;
    return New(out.fired);
  }
  std::vector<std::string> New(const std::vector<Firing>& fired) {
    std::vector<std::string> out;
    for (const Firing& f : fired) {
      if (used_.insert(f.dedupe_key).second) {
        out.push_back(f.trigger->id);
      }
    }
    return out;
  }

  config::Config config_ = Config();
  RuleSet rules_ = Rules(config_);
  Engine engine_{rules_, "Asia/Shanghai"};
  ProfileFacts profile_;
  std::set<std::string> used_;  // dedupe keys of tasks already made
  const int64_t t0_ = T("2026-03-01T10:00:00Z");
};

using Ids = std::vector<std::string>;

TEST_F(SegmentEngineTest, TagsAndSegmentsFollowTheFactsInDependencyOrder) {
  ASSERT_EQ(rules_.segments.front().name, "buyer");  // vip names it, so it comes first
  EXPECT_EQ(engine_.Segments(profile_, t0_), Ids{});
  EXPECT_EQ(Apply(Order("o1", 600, t0_)), Ids{});
  EXPECT_EQ(engine_.RuleTags(profile_, t0_), Ids{});
  EXPECT_EQ(engine_.Segments(profile_, t0_), Ids{"buyer"});
  // The second order makes the tag hold, and with it vip — in the same change.
  EXPECT_EQ(Apply(Order("o2", 500, t0_ + kDay)), Ids{"enter-vip"});
  EXPECT_EQ(profile_.metrics["$tags"], json::array({"value/high"}));
  EXPECT_EQ(engine_.Segments(profile_, t0_ + kDay), (Ids{"buyer", "vip"}));
  EXPECT_EQ(profile_.metrics["$segments"]["vip"], 1);
  EXPECT_EQ(profile_.metrics["$segments"]["buyer"], 1);
  // API-set tags stay apart, and has_tag() sees both.
  EXPECT_TRUE(profile_.tags.empty());
  // Scores and predictions computed elsewhere are read as plain values.
  profile_.scores = {{"rfm", {{"r", 5}, {"f", 3}, {"m", 4}, {"group", "important_value"}}}};
  EXPECT_EQ(engine_.Segments(profile_, t0_), (Ids{"buyer", "champions", "vip"}));
  profile_.scores["rfm"]["r"] = 3;
  EXPECT_EQ(engine_.Segments(profile_, t0_), (Ids{"buyer", "vip"}));
}

TEST_F(SegmentEngineTest, EnterAndExitFireExactlyOncePerTransition) {
  EXPECT_EQ(Apply(Order("o1", 1500, t0_)), Ids{"enter-vip"});
  EXPECT_EQ(Apply(Order("o2", 10, t0_ + kDay)), Ids{});  // still a member: nothing
  EXPECT_EQ(Reevaluate(t0_ + 2 * kDay), Ids{});
  profile_.fields["city"] = "Beijing";
  EXPECT_EQ(Reevaluate(t0_ + 3 * kDay), Ids{"exit-vip"});
  EXPECT_EQ(Reevaluate(t0_ + 4 * kDay), Ids{});
  profile_.fields["city"] = "Shanghai";
  // A crash after the change was computed but before it was stored: the daemon computes it
  // again from the same stored facts; the firing has the same dedupe key, so no second task.
  const ProfileFacts before = profile_;
  EventOutcome lost = engine_.Reevaluate(before, t0_ + 5 * kDay);
  ASSERT_EQ(lost.fired.size(), 1u);
  EXPECT_EQ(New(lost.fired), Ids{"enter-vip"});                        // its task was made
  EventOutcome replayed = engine_.Reevaluate(before, t0_ + 6 * kDay);  // later, after restart
  ASSERT_EQ(replayed.fired.size(), 1u);
  EXPECT_EQ(replayed.fired[0].dedupe_key, lost.fired[0].dedupe_key);
  EXPECT_EQ(New(replayed.fired), Ids{});
  profile_.metrics = replayed.metrics;
  EXPECT_EQ(profile_.metrics["$segments"]["vip"], 3);  // entered, left, entered
  // Leaving and entering again are new transitions with new keys.
  profile_.fields["city"] = "Beijing";
  EXPECT_EQ(Reevaluate(t0_ + 7 * kDay), Ids{"exit-vip"});
  profile_.fields["city"] = "Shanghai";
  EXPECT_EQ(Reevaluate(t0_ + 8 * kDay), Ids{"enter-vip"});
  EXPECT_EQ(used_.size(), 5u);
}

TEST_F(SegmentEngineTest, ACorruptTransitionCountFollowsTheCondition) {
  profile_.metrics = {{"$segments", {{"vip", "x"}, {"buyer", -3}}}, {"$tags", 5}};
  EXPECT_EQ(Apply(Order("o1", 1500, t0_)), Ids{"enter-vip"});
  EXPECT_EQ(profile_.metrics["$segments"]["vip"], 1);
  EXPECT_EQ(profile_.metrics["$segments"]["buyer"], 1);
  EXPECT_EQ(profile_.metrics["$tags"], json::array({"value/high"}));
  profile_.metrics = json::array();  // not even an object
  EXPECT_NO_THROW(engine_.Reevaluate(profile_, t0_));
}

TEST_F(SegmentEngineTest, AnObjectorIsLeftOutOfMarketingSegmentsAndProfiling) {
  ASSERT_TRUE(rules_.FindSegment("at-risk")->marketing);  // a marketing trigger uses it
  ASSERT_FALSE(rules_.FindSegment("vip")->marketing);
  ASSERT_TRUE(rules_.FindTrigger("predicted-offer")->profiling);
  ASSERT_FALSE(rules_.FindTrigger("predicted-care")->profiling);  // service: a contract
  profile_.predictions = {{"clv", {{"p_alive", 0.1}, {"purchases_90d", 0.2}, {"value_1y", 150}}}};

  ProfileFacts objector = profile_;
  objector.objected_to_personalisation = true;
  EXPECT_EQ(engine_.Segments(objector, t0_), Ids{});
  EXPECT_EQ(engine_.Segments(profile_, t0_), Ids{"at-risk"});
  EXPECT_EQ(New(engine_.Reevaluate(objector, t0_).fired), Ids{});
  EXPECT_EQ(New(engine_.Reevaluate(profile_, t0_).fired), Ids{"winback"});
  // A prediction-based marketing trigger never fires for the objector; a service one does.
  EventOutcome o = engine_.OnEvent(objector, Order("o1", 10, t0_), t0_);
  EXPECT_EQ(New(o.fired), Ids{"predicted-care"});
  EXPECT_EQ(New(engine_.OnEvent(profile_, Order("o2", 10, t0_), t0_).fired),
            (Ids{"predicted-offer", "predicted-care"}));
  // Objecting later makes the customer leave the marketing segment.
  ProfileFacts member = profile_;
  member.metrics = engine_.Reevaluate(profile_, t0_).metrics;
  member.objected_to_personalisation = true;
  EventOutcome left = engine_.Reevaluate(member, t0_ + kDay);
  ASSERT_EQ(left.transitions.size(), 1u);
  EXPECT_EQ(left.transitions[0].segment, "at-risk");
  EXPECT_FALSE(left.transitions[0].enter);
  // The dry run says why.
  auto explained = engine_.Explain(objector, nullptr, t0_, nullptr, ExplainScope{"marketing", {}});
  ASSERT_FALSE(explained.empty());
  for (const Explanation& e : explained) {
    if (e.trigger == "predicted-offer") {
      EXPECT_FALSE(e.fires);
      EXPECT_NE(e.reason.find("objected to personalisation"), std::string::npos) << e.reason;
    }
  }
}

// A role that can't read fields.city in clear learns nothing from a trigger whose segment reads
// it: the dry run does not evaluate it.
TEST_F(SegmentEngineTest, ADryRunDoesNotEvaluateATriggerOverAFieldReadThroughASegment) {
  ExplainScope scope{"service", [](std::string_view field) { return field != "city"; }};
  auto explained = engine_.Explain(profile_, nullptr, t0_, nullptr, scope);
  int seen = 0;
  for (const Explanation& e : explained) {
    if (e.trigger == "enter-vip" || e.trigger == "exit-vip") {
      ++seen;
      EXPECT_FALSE(e.evaluated) << e.trigger;
      EXPECT_NE(e.reason.find("fields.city"), std::string::npos) << e.reason;
    }
    if (e.trigger == "buyers-weekly") {
      EXPECT_TRUE(e.evaluated);  // buyer reads a metric only
    }
  }
  EXPECT_EQ(seen, 2);
}

TEST_F(SegmentEngineTest, AScheduleNamingASegmentFiresOnlyForItsMembers) {
  const Trigger& weekly = *rules_.FindTrigger("buyers-weekly");
  const int64_t monday = T("2026-03-02T01:00:00Z");  // 09:00 in Shanghai
  ASSERT_EQ(engine_.NextRun(weekly, monday - 1), monday);
  TimerOutcome none = engine_.OnTimer(profile_, weekly, monday, monday);
  EXPECT_FALSE(none.fired);
  EXPECT_EQ(none.reason, "not a member of segment 'buyer'");
  Apply(Order("o1", 5, t0_));
  EXPECT_TRUE(engine_.OnTimer(profile_, weekly, monday, monday).fired);
}

}  // namespace
}  // namespace portrait::rules
