// Loading the portrait's rules: [[tag]], [[segment]], [[score]], [[model]], on.segment triggers;
// each error at its file:line:col; segment cycles; the purpose checks through segments and
// rule-driven tags; which segments and triggers count as marketing profiling.
#include <gtest/gtest.h>

#include <algorithm>

#include "rules/reads.h"
#include "rules/rule_set.h"
#include "tests/rules/rules_fixture.h"

namespace portrait::rules {
namespace {

using testing::RulesFrom;

// Lines 1-9.
const std::string kMetrics =
    "[[metric]]\nname = \"orders\"\ncount = \"order.placed\"\n"
    "[[metric]]\nname = \"spent\"\nsum = \"order.placed:amount\"\n"
    "[[metric]]\nname = \"last_order\"\nlast = \"order.placed\"\n";

// Lines 10-16 (score) and 17-24 (model).
const std::string kScoreAndModel =
    "[[score]]\nname = \"rfm\"\nkind = \"rfm\"\nrecency = \"last_order\"\n"
    "frequency = \"orders\"\nmonetary = \"spent\"\nrefresh = \"0 3 * * *\"\n"
    "[[model]]\nname = \"clv\"\nkind = \"bgnbd\"\npurchases = \"order.placed\"\n"
    "amount = \"amount\"\nunit = \"week\"\ndiscount = 0.1\nrefresh = \"0 4 * * SUN\"\n";

class PortraitRulesTest : public ::testing::Test {
 protected:
  std::string ErrorOf(const std::string& text) {
    auto r = RulesFrom(text, config_);
    EXPECT_FALSE(r) << text;
    return r ? "" : r.error().message();
  }
  void ExpectAt(const std::string& text, int line, int col, const std::string& says) {
    const std::string error = ErrorOf(text);
    const std::string where =
        "rules.toml:" + std::to_string(line) + ":" + std::to_string(col) + ": ";
    EXPECT_NE(error.find(where), std::string::npos) << "want " << where << " in:\n" << error;
    EXPECT_NE(error.find(says), std::string::npos) << "want '" << says << "' in:\n" << error;
  }
  RuleSet Load(const std::string& text) {
    auto r = RulesFrom(text, config_);
    EXPECT_TRUE(r) << r.error().message();
    return r ? std::move(*r) : RuleSet{};
  }
  void SetDerived(const std::string& purpose, std::vector<std::string> entries) {
    for (auto& p : config_.purposes) {
      if (p.name == purpose) {
        p.derived.entries = std::move(entries);
      }
    }
  }
  // A trigger of `purpose` (its sink fits it) starting at line `line`... appended by callers.
  static std::string Trigger(const std::string& purpose, const std::string& on,
                             const std::string& extra = "", const std::string& id = "t") {
    return "[[trigger]]\nid = \"" + id + "\"\npurpose = \"" + purpose + "\"\n" + on +
           "\ntask = \"x\"\nchannel = \"sms\"\nsink = \"" +
           (purpose == "marketing" ? "crm" : "care-queue") + "\"\nmessage = \"hi\"\n" + extra;
  }

  config::Config config_ = testing::ExampleConfig();
};

TEST_F(PortraitRulesTest, EveryKindLoads) {
  SetDerived("service", {"metrics", "lifecycle", "tags", "segments", "scores", "predictions"});
  RuleSet rules =
      Load(kMetrics + kScoreAndModel +
           "[[tag]]\npath = \"value/high\"\nwhen = \"metrics.spent >= 1000\"\n"
           "[[segment]]\nname = \"vip\"\n"
           "when = \"has_tag('value/high') and lifecycle == 'active' and "
           "scores.rfm.group == 'important_value' and predict.clv.p_alive > 0.5\"\n" +
           Trigger("service", "on.segment = { enter = \"vip\" }") +
           Trigger("service", "on.schedule = \"0 9 * * MON\"", "segment = \"vip\"", "weekly"));
  ASSERT_EQ(rules.scores.size(), 1u);
  EXPECT_EQ(rules.scores[0].recency, "last_order");
  EXPECT_EQ(rules.scores[0].frequency, "orders");
  EXPECT_EQ(rules.scores[0].monetary, "spent");
  ASSERT_TRUE(rules.scores[0].refresh.has_value());
  EXPECT_TRUE(rules.scores[0].refresh->hours.test(3));
  ASSERT_EQ(rules.models.size(), 1u);
  EXPECT_EQ(rules.models[0].purchases, "order.placed");
  EXPECT_EQ(rules.models[0].amount, "amount");
  EXPECT_EQ(rules.models[0].unit, ModelUnit::kWeek);
  EXPECT_DOUBLE_EQ(rules.models[0].discount, 0.1);
  EXPECT_TRUE(rules.models[0].refresh->days_of_week.test(0));
  ASSERT_EQ(rules.tags.size(), 1u);
  EXPECT_EQ(rules.tags[0].path, "value/high");
  ASSERT_NE(rules.FindSegment("vip"), nullptr);
  EXPECT_FALSE(rules.FindSegment("vip")->marketing);  // service is a contract
  const rules::Trigger* t = rules.FindTrigger("t");
  EXPECT_EQ(t->kind, TriggerKind::kSegment);
  EXPECT_EQ(t->segment, "vip");
  EXPECT_TRUE(t->enter);
  EXPECT_FALSE(t->profiling);
  const rules::Trigger* weekly = rules.FindTrigger("weekly");
  EXPECT_EQ(weekly->kind, TriggerKind::kSchedule);
  EXPECT_EQ(weekly->segment, "vip");
  // Exit, and the defaults of a model (week, 10%) and of a score without refresh.
  RuleSet exit =
      Load(kMetrics +
           "[[score]]\nname = \"s\"\nkind = \"rfm\"\nrecency = \"last_order\"\n"
           "frequency = \"orders\"\nmonetary = \"spent\"\n"
           "[[model]]\nname = \"m\"\nkind = \"bgnbd\"\npurchases = \"p\"\namount = \"a.b\"\n"
           "unit = \"day\"\ndiscount = 0\n"
           "[[segment]]\nname = \"churn-risk\"\nwhen = \"predict.m.p_alive < 0.2\"\n" +
           Trigger("service", "on.segment = { exit = \"churn-risk\" }"));
  EXPECT_FALSE(exit.scores[0].refresh.has_value());
  EXPECT_EQ(exit.models[0].unit, ModelUnit::kDay);
  EXPECT_DOUBLE_EQ(exit.models[0].discount, 0);
  EXPECT_FALSE(exit.FindTrigger("t")->enter);
}

TEST_F(PortraitRulesTest, ScoreErrors) {
  const std::string score =
      "[[score]]\nname = \"rfm\"\nkind = \"rfm\"\nrecency = \"last_order\"\n"
      "frequency = \"orders\"\nmonetary = \"spent\"\n";  // lines 10-15
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = kMetrics + score;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  ExpectAt(with("kind = \"rfm\"", "kind = \"abc\""), 12, 8, "unknown kind 'abc'");
  ExpectAt(with("recency = \"last_order\"", "recency = \"orders\""), 13, 11,
           "metric 'orders' is not a `last = \"EVENT_TYPE\"` (a time) metric");
  ExpectAt("[[metric]]\nname = \"last_amount\"\nlast = \"order.placed:amount\"\n" + kMetrics +
               std::string(score).replace(score.find("\"last_order\""), 12, "\"last_amount\""),
           16, 11, "metric 'last_amount' is not a `last = \"EVENT_TYPE\"` (a time) metric");
  ExpectAt(with("frequency = \"orders\"", "frequency = \"spent\""), 14, 13, "not a `count` metric");
  ExpectAt(with("monetary = \"spent\"", "monetary = \"nope\""), 15, 12,
           "unknown metric 'nope': need a `sum` metric");
  ExpectAt(kMetrics + score + "refresh = \"0 25 * * *\"\n", 16, 11, "bad hour field");
  ExpectAt(kMetrics + score + "colour = 1\n", 16, 1, "unknown key 'colour'");
  ExpectAt(kMetrics + score + score, 17, 8, "duplicate score name");
  ExpectAt(with("name = \"rfm\"", "name = \"r.f\""), 11, 8, "expected 1-64 letters");
  ExpectAt(with("monetary = \"spent\"\n", ""), 10, 1, "monetary");
}

TEST_F(PortraitRulesTest, ModelErrors) {
  const std::string model =
      "[[model]]\nname = \"clv\"\nkind = \"bgnbd\"\npurchases = \"order.placed\"\n"
      "amount = \"amount\"\n";  // lines 1-5
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = model;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  ExpectAt(with("\"bgnbd\"", "\"pareto\""), 3, 8, "unknown kind 'pareto' (expected \"bgnbd\")");
  ExpectAt(model + "unit = \"month\"\n", 6, 8, "'month' is not one of: day, week");
  ExpectAt(model + "discount = -0.1\n", 6, 12, "out of range 0..10");
  ExpectAt(model + "discount = nan\n", 6, 12, "out of range");
  ExpectAt(model + "discount = \"10%\"\n", 6, 12, "expected a number");
  ExpectAt(model + "refresh = \"0 4 * * FUN\"\n", 6, 11, "day-of-week");
  ExpectAt(with("amount = \"amount\"", "amount = \"a..b\""), 5, 10, "a key of the event's data");
  ExpectAt(with("purchases = \"order.placed\"", "purchases = \"\""), 4, 13, "an event type");
  ExpectAt(model + model, 7, 8, "duplicate model name");
  ExpectAt(model + "horizon = 39\n", 6, 1, "unknown key 'horizon'");
}

// A [[retention]] rule that deletes the model's purchase events is refused at the model's
// `purchases`, naming the rule's place: the purchase book would keep the dated purchases past
// it (DECISIONS 115). Retention of another event type is fine.
TEST_F(PortraitRulesTest, AModelOverEventsThatRetentionDeletesIsRefused) {
  const std::string model =
      "[[model]]\nname = \"clv\"\nkind = \"bgnbd\"\npurchases = \"order.placed\"\n"
      "amount = \"amount\"\n";
  config::Retention orders{.event_type = "order.placed", .retain = std::chrono::hours(24 * 365)};
  orders.pos = {"portrait.toml", 40, 1};
  config::Retention carts{.event_type = "cart.updated", .retain = std::chrono::hours(24 * 90)};
  config_.retention = {carts};
  EXPECT_EQ(Load(model).models.size(), 1u);
  config_.retention = {carts, orders};
  ExpectAt(model, 4, 13, "deleted by the [[retention]] rule at portrait.toml:40:1");
  // What to do about it, for a configuration an earlier release accepted.
  ExpectAt(model, 4, 13, "remove that [[retention]] rule or this [[model]]");
}

TEST_F(PortraitRulesTest, TagErrors) {
  for (const char* bad : {"a b", "a/b/c/d", "a//b", "", "x/\\u0001"}) {
    ExpectAt(kMetrics + "[[tag]]\npath = \"" + bad + "\"\nwhen = \"metrics.orders > 1\"\n", 11, 8,
             "a tag is 1-3 levels");
  }
  const std::string tag = "[[tag]]\npath = \"value/high\"\nwhen = \"metrics.spent >= 1000\"\n";
  ExpectAt(kMetrics + tag + tag, 14, 8, "duplicate tag path");
  // A tag is computed before the lifecycle stage and the segments, from no other tag.
  ExpectAt(kMetrics + "[[tag]]\npath = \"a\"\nwhen = \"metrics.orders > 1 and lifecycle == 'x'\"\n",
           12, 32, "a [[tag]] may not read lifecycle");
  ExpectAt(kMetrics + "[[tag]]\npath = \"a\"\nwhen = \"has_tag('b')\"\n", 12, 9,
           "may not read tags");
  ExpectAt(kMetrics + "[[segment]]\nname = \"s\"\nwhen = \"true\"\n" +
               "[[tag]]\npath = \"a\"\nwhen = \"in_segment('s')\"\n",
           15, 9, "may not read segments");
  ExpectAt(
      "[[segment]]\nname = \"s\"\nwhen = \"true\"\n"
      "[[lifecycle]]\nstage = \"a\"\nwhen = \"in_segment('s')\"\n",
      6, 9, "a lifecycle stage may not read segments");
}

TEST_F(PortraitRulesTest, SegmentAndExpressionErrors) {
  ExpectAt("[[segment]]\nname = \"a b\"\nwhen = \"true\"\n", 2, 8, "expected 1-64 letters");
  ExpectAt(
      "[[segment]]\nname = \"a\"\nwhen = \"true\"\n[[segment]]\nname = \"a\"\nwhen = \"true\"\n", 5,
      8, "duplicate segment name");
  ExpectAt("[[segment]]\nname = \"a\"\nwhen = \"in_segment('b')\"\n", 3, 20, "unknown segment 'b'");
  ExpectAt("[[segment]]\nname = \"a\"\nwhen = \"in_segment(fields.city)\"\n", 3, 20,
           "in_segment() takes a segment's name in quotes");
  ExpectAt("[[segment]]\nname = \"a\"\nwhen = \"true\"\ncolour = 1\n", 4, 1,
           "unknown key 'colour'");
  ExpectAt("[[segment]]\nname = \"a\"\n", 1, 1, "when");
  ExpectAt(kMetrics + kScoreAndModel + "[[segment]]\nname = \"a\"\nwhen = \"scores.nope.r > 3\"\n",
           27, 9, "unknown score 'nope'");
  ExpectAt(kMetrics + kScoreAndModel + "[[segment]]\nname = \"a\"\nwhen = \"scores.rfm.x > 3\"\n",
           27, 9, "unknown output of score 'rfm' (r, f, m, group)");
  ExpectAt(kMetrics + kScoreAndModel + "[[segment]]\nname = \"a\"\nwhen = \"predict.clv > 3\"\n",
           27, 9, "unknown output of model 'clv'");
  ExpectAt(kMetrics + kScoreAndModel +
               "[[segment]]\nname = \"a\"\nwhen = \"predict.clv.p_alive == 'x'\"\n",
           27, 29, "can't combine a number and a string");
  ExpectAt(
      kMetrics + kScoreAndModel + "[[segment]]\nname = \"a\"\nwhen = \"scores.rfm.group > 3\"\n",
      27, 26, "can't combine a string and a number");
  ExpectAt("[[segment]]\nname = \"a\"\nwhen = \"predict.clv.p_alive > 1\"\n", 3, 9,
           "unknown model 'clv'");
}

TEST_F(PortraitRulesTest, SegmentTriggerErrors) {
  const std::string seg = "[[segment]]\nname = \"vip\"\nwhen = \"true\"\n";  // lines 1-3
  ExpectAt(seg + Trigger("service", "on.segment = { enter = \"gold\" }"), 7, 24,
           "unknown segment 'gold'");
  ExpectAt(seg + Trigger("service", "on.segment = { enter = \"vip\", exit = \"vip\" }"), 7, 14,
           "set exactly one of enter, exit");
  ExpectAt(seg + Trigger("service", "on.segment = { stay = \"vip\" }"), 7, 14,
           "unknown key 'stay'");
  ExpectAt(seg + Trigger("service", "on.event = \"x\"", "segment = \"vip\"\n"), 12, 11,
           "only on.schedule triggers take 'segment'");
  ExpectAt(seg + Trigger("service", "on.schedule = \"0 9 * * *\"", "segment = \"gold\"\n"), 12, 11,
           "unknown segment 'gold'");
}

TEST_F(PortraitRulesTest, SegmentCyclesAreRefusedWithTheirChain) {
  ExpectAt("[[segment]]\nname = \"a\"\nwhen = \"in_segment('a')\"\n", 1, 1,
           "segments depend on each other in a cycle: 'a' -> 'a'");
  const std::string three =
      "[[segment]]\nname = \"a\"\nwhen = \"in_segment('b')\"\n"
      "[[segment]]\nname = \"b\"\nwhen = \"in_segment('c') or true\"\n"
      "[[segment]]\nname = \"c\"\nwhen = \"not in_segment('a')\"\n"
      "[[segment]]\nname = \"d\"\nwhen = \"in_segment('a')\"\n";  // behind the cycle
  const std::string error = ErrorOf(three);
  EXPECT_NE(error.find("rules.toml:1:1: segments depend on each other in a cycle: 'a' -> 'b' -> "
                       "'c' -> 'a'"),
            std::string::npos)
      << error;
  EXPECT_EQ(error.find("cycle", error.find("cycle") + 1), std::string::npos) << "once: " << error;
  // Without the cycle, a segment comes after those it names, whatever the file order.
  RuleSet ok = Load(
      "[[segment]]\nname = \"a\"\nwhen = \"in_segment('b') and in_segment('c')\"\n"
      "[[segment]]\nname = \"b\"\nwhen = \"in_segment('c')\"\n"
      "[[segment]]\nname = \"c\"\nwhen = \"true\"\n");
  ASSERT_EQ(ok.segments.size(), 3u);
  EXPECT_EQ(ok.segments[0].name, "c");
  EXPECT_EQ(ok.segments[1].name, "b");
  EXPECT_EQ(ok.segments[2].name, "a");
}

// A hostile rule file: a long chain of segments loads (in order) and a long cycle is reported,
// both without recursion as deep as the chain.
TEST_F(PortraitRulesTest, LongChainsOfSegments) {
  constexpr int kLength = 2000;
  std::string chain;
  for (int i = 0; i < kLength; ++i) {  // s0 names s1, ..., the last names nothing
    chain += "[[segment]]\nname = \"s" + std::to_string(i) + "\"\nwhen = \"" +
             (i + 1 < kLength ? "in_segment('s" + std::to_string(i + 1) + "')" : "true") + "\"\n";
  }
  SetDerived("service", {"segments"});
  RuleSet rules = Load(chain + Trigger("service", "on.segment = { enter = \"s0\" }"));
  ASSERT_EQ(rules.segments.size(), static_cast<size_t>(kLength));
  EXPECT_EQ(rules.segments.front().name, "s" + std::to_string(kLength - 1));
  EXPECT_EQ(rules.segments.back().name, "s0");
  // The last one names the first: one cycle of them all, reported once.
  std::string cycle = chain;
  cycle.replace(cycle.rfind("\"true\""), 6, "\"in_segment('s0')\"");
  const std::string error = ErrorOf(cycle);
  EXPECT_NE(error.find("rules.toml:1:1: segments depend on each other in a cycle: 's0' -> 's1'"),
            std::string::npos)
      << error.substr(0, 200);
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 0);
}

// A segment's reads are checked where it is used, against the user's purpose.
TEST_F(PortraitRulesTest, ASegmentUsesOnlyWhatItsUsersPurposeMay) {
  const std::string vip =
      kMetrics + "[[segment]]\nname = \"vip\"\nwhen = \"metrics.spent >= 1000\"\n";  // 10-12
  // Marketing may use the lifecycle only: the segment itself, and the metric behind it.
  const std::string on_enter = vip + Trigger("marketing", "on.segment = { enter = \"vip\" }");
  ExpectAt(on_enter, 16, 1, "reads segments.vip, which purpose 'marketing' may not use");
  ExpectAt(on_enter, 16, 1,
           "reads metrics.spent (through segment 'vip'), which purpose 'marketing' may not use; "
           "add \"metrics.spent\"");
  SetDerived("marketing", {"lifecycle", "segments.vip"});
  const std::string error = ErrorOf(on_enter);
  EXPECT_EQ(error.find("segments.vip"), std::string::npos) << error;
  EXPECT_NE(error.find("metrics.spent (through segment 'vip')"), std::string::npos) << error;
  SetDerived("marketing", {"lifecycle", "segments", "metrics.spent"});
  Load(on_enter);
  // The same in `when`, at the in_segment() call, and for a schedule's sweep, at its key.
  SetDerived("marketing", {"lifecycle", "segments"});
  ExpectAt(vip + Trigger("marketing", "on.event = \"x\"", "when = \"in_segment('vip')\"\n"), 21, 9,
           "reads metrics.spent (through segment 'vip')");
  ExpectAt(vip + Trigger("marketing", "on.schedule = \"0 9 * * *\"", "segment = \"vip\"\n"), 21, 11,
           "reads metrics.spent (through segment 'vip')");
}

TEST_F(PortraitRulesTest, ASegmentOverAFieldTheUsersPurposeCannotReadIsRefused) {
  SetDerived("marketing", {"lifecycle", "segments"});
  const std::string seg =
      "[[segment]]\nname = \"born90s\"\nwhen = \"fields.birthday >= 1990-01-01\"\n"
      "[[segment]]\nname = \"mailable\"\nwhen = \"fields.email != ''\"\n";
  ExpectAt(seg + Trigger("marketing", "on.segment = { enter = \"born90s\" }"), 10, 1,
           "field 'birthday' (through segment 'born90s') is not among purpose 'marketing' fields");
  ExpectAt(seg + Trigger("marketing", "on.segment = { enter = \"mailable\" }"), 10, 1,
           "field 'email' (through segment 'mailable') is only visible masked");
  // Care reads birthday in clear; a service trigger reading a sensitive field through a segment
  // needs the sensitive consent like a direct read.
  SetDerived("care", {"segments"});
  Load(seg + Trigger("care", "on.segment = { enter = \"born90s\" }"));
  SetDerived("service", {"segments"});  // a contract: not marketing
  RuleSet sensitive =
      Load("[[segment]]\nname = \"allergic\"\nwhen = \"fields.health_note != ''\"\n" +
           Trigger("service", "on.segment = { enter = \"allergic\" }"));
  EXPECT_TRUE(sensitive.FindTrigger("t")->sensitive);
}

// A rule-driven tag used through has_tag() carries what its condition reads, also nested.
TEST_F(PortraitRulesTest, ATagOverAMetricLeaksNothingThroughHasTag) {
  const std::string tags = kMetrics +
                           "[[tag]]\npath = \"value/high\"\nwhen = \"metrics.spent >= 1000\"\n"
                           "[[tag]]\npath = \"loyal\"\nwhen = \"metrics.orders >= 10\"\n";  // 10-15
  SetDerived("care", {"lifecycle", "tags.value"});
  ExpectAt(tags + Trigger("care", "on.event = \"x\"", "when = \"has_tag('value')\"\n"), 24, 9,
           "reads metrics.spent (through tag 'value/high'), which purpose 'care' may not use");
  // has_tag('value/low') sees no rule tag, so nothing behind one.
  Load(tags + Trigger("care", "on.event = \"x\"", "when = \"has_tag('value/low')\"\n"));
  // Nested: a trigger -> segment 'outer' -> segment 'inner' -> tag 'value/high' -> metric.
  SetDerived("care", {"lifecycle", "tags", "segments"});
  const std::string nested = tags +
                             "[[segment]]\nname = \"outer\"\nwhen = \"in_segment('inner')\"\n"
                             "[[segment]]\nname = \"inner\"\nwhen = \"has_tag('value')\"\n";
  ExpectAt(nested + Trigger("care", "on.segment = { enter = \"outer\" }"), 25, 1,
           "reads metrics.spent (through segment 'outer' -> segment 'inner' -> tag "
           "'value/high')");
  const std::string error = ErrorOf(nested + Trigger("care", "on.segment = { enter = \"outer\" }"));
  EXPECT_EQ(error.find("metrics.orders"), std::string::npos) << "not seen by has_tag('value')";
  // `tags` sees every tag.
  ExpectAt(tags + Trigger("care", "on.event = \"x\"", "when = \"'loyal' in tags\"\n"), 24, 20,
           "reads metrics.orders (through tag 'loyal')");
  SetDerived("care", {"tags", "segments", "metrics.spent"});
  Load(nested + Trigger("care", "on.segment = { enter = \"outer\" }"));
}

// A lifecycle stage decides on what its condition reads: a trigger reading the stage (or
// firing on it) reads that too — fields, rule tags, predictions — but not the metrics, which a
// purpose may use the stage without.
TEST_F(PortraitRulesTest, WhatAStageReadsIsReadByItsUsers) {
  SetDerived("care", {"lifecycle"});  // the stage, nothing behind it
  const std::string stages =
      kMetrics + kScoreAndModel +                                               // 1-24
      "[[tag]]\npath = \"health/risk\"\nwhen = \"fields.health_note != ''\"\n"  // 25-27
      "[[lifecycle]]\nstage = \"care\"\nwhen = \"has_tag('health/risk')\"\n"    // 28-30
      "[[lifecycle]]\nstage = \"active\"\nwhen = \"metrics.orders >= 1\"\n";    // 31-33
  ExpectAt(stages + Trigger("care", "on.lifecycle = { to = \"care\" }"), 37, 1,
           "field 'health_note' (through lifecycle stage 'care' -> tag 'health/risk')");
  ExpectAt(stages + Trigger("care", "on.event = \"x\"", "when = \"lifecycle == 'care'\"\n"), 42, 9,
           "(through lifecycle stage 'care' -> tag 'health/risk')");
  // Without the sensitive tag, the stages read only metrics: the stage alone is enough.
  const std::string plain = kMetrics + kScoreAndModel +
                            "[[lifecycle]]\nstage = \"active\"\nwhen = \"metrics.orders >= 1\"\n";
  Load(plain + Trigger("care", "on.lifecycle = { to = \"active\" }"));
  // A marketing trigger on a stage a prediction decides profiles the customer.
  SetDerived("marketing", {"lifecycle", "predictions"});
  RuleSet rules =
      Load(kMetrics + kScoreAndModel +
           "[[lifecycle]]\nstage = \"at_risk\"\nwhen = \"predict.clv.p_alive < 0.2\"\n" +
           Trigger("marketing", "on.event = \"x\"", "when = \"lifecycle == 'at_risk'\"\n"));
  EXPECT_TRUE(rules.FindTrigger("t")->profiling);
}

TEST_F(PortraitRulesTest, ScoresAndPredictionsAreDerivedDataOfTheirOwn) {
  SetDerived("service", {"metrics", "lifecycle", "scores.rfm"});
  const std::string base = kMetrics + kScoreAndModel;  // 24 lines
  Load(base + Trigger("service", "on.event = \"x\"", "when = \"scores.rfm.r >= 4\"\n"));
  ExpectAt(base + Trigger("service", "on.event = \"x\"", "when = \"predict.clv.p_alive < 0.3\"\n"),
           33, 9, "reads predictions.clv, which purpose 'service' may not use");
}

// Marketing purposes (basis not a contract, by default) profile when they read segments, scores
// or predictions; the segments they use are marketing segments.
TEST_F(PortraitRulesTest, MarketingUsesAreMarked) {
  SetDerived("marketing", {"lifecycle", "segments", "predictions", "metrics"});
  SetDerived("service", {"segments", "predictions", "metrics"});
  const std::string base = kMetrics + kScoreAndModel +
                           "[[segment]]\nname = \"inner\"\nwhen = \"predict.clv.p_alive < 0.3\"\n"
                           "[[segment]]\nname = \"outer\"\nwhen = \"in_segment('inner')\"\n"
                           "[[segment]]\nname = \"other\"\nwhen = \"metrics.orders > 3\"\n";
  RuleSet rules = Load(base + Trigger("marketing", "on.segment = { enter = \"outer\" }") +
                       Trigger("marketing", "on.event = \"x\"", "", "plain") +
                       Trigger("marketing", "on.event = \"x\"",
                               "when = \"predict.clv.value_1y > 100\"\n", "predicted") +
                       Trigger("service", "on.segment = { enter = \"other\" }", "", "s"));
  EXPECT_TRUE(rules.FindSegment("outer")->marketing);
  EXPECT_TRUE(rules.FindSegment("inner")->marketing);  // through outer
  EXPECT_FALSE(rules.FindSegment("other")->marketing);
  EXPECT_TRUE(rules.FindTrigger("t")->profiling);
  EXPECT_FALSE(rules.FindTrigger("plain")->profiling);
  EXPECT_TRUE(rules.FindTrigger("predicted")->profiling);
  EXPECT_FALSE(rules.FindTrigger("s")->profiling);  // service is a contract
}

// The CDNOW example (examples/cdnow/): RFM tiers as tags, the lifetime-value model, a VIP
// segment that marketing uses (so objectors are left out of it) and a win-back segment for care.
TEST(CdnowExample, LoadsWithItsTiersModelAndSegments) {
  auto config =
      config::LoadConfig(std::string(PORTRAIT_SOURCE_DIR) + "/examples/cdnow/portrait.toml");
  ASSERT_TRUE(config) << config.error().ToString();
  auto files = config::ReadRuleFiles(*config);
  ASSERT_TRUE(files) << files.error().ToString();
  auto rules = ParseRules(*files, *config);
  ASSERT_TRUE(rules) << rules.error().ToString();
  ASSERT_EQ(rules->scores.size(), 1u);
  ASSERT_EQ(rules->models.size(), 1u);
  EXPECT_EQ(rules->tags.size(), 4u);
  ASSERT_EQ(rules->segments.size(), 2u);
  for (const Segment& s : rules->segments) {
    EXPECT_EQ(s.marketing, s.name == "vip") << s.name;
  }
  ASSERT_NE(rules->FindTrigger("vip-offer"), nullptr);
  EXPECT_TRUE(rules->FindTrigger("vip-offer")->profiling);
  ASSERT_NE(rules->FindTrigger("winback-call"), nullptr);
  EXPECT_FALSE(rules->FindTrigger("winback-call")->profiling);  // care is not marketing
}

// A fit or refresh asks for the base-wide pass only when a stage, a [[tag]] or a [[segment]]
// reads what it changed; a trigger's condition alone does not (the pass evaluates it only at a
// transition).
TEST_F(PortraitRulesTest, ThePortraitReadsOnlyTheScoresAndPredictionsItsConditionsName) {
  const std::string trigger =
      "[[trigger]]\nid = \"t\"\npurpose = \"service\"\non.event = \"order.placed\"\n"
      "when = \"predict.clv.p_alive < 0.5 and scores.rfm.r > 2\"\ntask = \"x\"\n"
      "channel = \"email\"\nsink = \"care-queue\"\nmessage = \"m\"\n";
  SetDerived("service", {"metrics", "lifecycle", "tags", "segments", "scores", "predictions"});
  const RuleSet none = Load(kMetrics + kScoreAndModel + trigger);
  EXPECT_FALSE(PortraitReads(none, "predictions", "clv"));
  EXPECT_FALSE(PortraitReads(none, "scores", "rfm"));
  EXPECT_FALSE(ReadsDerivedValues(none, PassScope::kPortrait));

  const RuleSet segment = Load(kMetrics + kScoreAndModel +
                               "[[segment]]\nname = \"lapsing\"\n"
                               "when = \"predict.clv.p_alive < 0.3\"\n");
  EXPECT_TRUE(PortraitReads(segment, "predictions", "clv"));
  EXPECT_FALSE(PortraitReads(segment, "scores", "rfm"));
  EXPECT_FALSE(PortraitReads(segment, "predictions", "other"));
  EXPECT_TRUE(ReadsDerivedValues(segment, PassScope::kSegments));

  const RuleSet tag = Load(kMetrics + kScoreAndModel +
                           "[[tag]]\npath = \"value/champion\"\n"
                           "when = \"scores.rfm.group == 'champions'\"\n");
  EXPECT_TRUE(PortraitReads(tag, "scores", "rfm"));
  EXPECT_FALSE(PortraitReads(tag, "predictions", "clv"));
  EXPECT_TRUE(ReadsDerivedValues(tag, PassScope::kPortrait));
  // A pass over the segments alone does not compute what only a tag reads.
  EXPECT_FALSE(ReadsDerivedValues(tag, PassScope::kSegments));
  EXPECT_FALSE(PortraitReads(tag, "scores", "rfm", PassScope::kSegments));

  const RuleSet stage = Load(kMetrics + kScoreAndModel +
                             "[[lifecycle]]\nstage = \"lapsing\"\n"
                             "when = \"predict.clv.p_alive < 0.2\"\n");
  EXPECT_TRUE(PortraitReads(stage, "predictions", "clv"));
}

// The base-wide re-evaluation's check opens only the metrics the portrait reads: those its
// stages, [[tag]]s and [[segment]]s name, the inputs of the scores they read, the books of the
// models whose predictions they read, and the tags' and segments' bookkeeping — never a metric,
// score input or book only a trigger or nothing reads.
TEST_F(PortraitRulesTest, ThePortraitMetricsAreThoseItsConditionsScoresAndModelsRead) {
  const std::string visits = "[[metric]]\nname = \"visits\"\ncount = \"page.viewed\"\n";
  SetDerived("service", {"metrics", "lifecycle", "tags", "segments", "scores", "predictions"});
  const RuleSet plain = Load(kMetrics + visits +
                             "[[tag]]\npath = \"buyer\"\nwhen = \"metrics.orders > 0\"\n"
                             "[[segment]]\nname = \"big\"\nwhen = \"metrics.spent > 100\"\n");
  EXPECT_EQ(PortraitMetrics(plain),
            (std::vector<std::string>{"$segments", "$tags", "orders", "spent"}));

  const RuleSet valued = Load(kMetrics + visits + kScoreAndModel +
                              "[[lifecycle]]\nstage = \"active\"\n"
                              "when = \"days_since(metrics.last_order) < 30\"\n");
  EXPECT_EQ(PortraitMetrics(valued),
            (std::vector<std::string>{"$segments", "$tags", "last_order"}));

  const RuleSet scored = Load(kMetrics + visits + kScoreAndModel +
                              "[[segment]]\nname = \"champions\"\n"
                              "when = \"scores.rfm.group == 'champions'\"\n");
  EXPECT_EQ(PortraitMetrics(scored),
            (std::vector<std::string>{"$segments", "$tags", "last_order", "orders", "spent"}));

  const RuleSet predicted = Load(kMetrics + visits + kScoreAndModel +
                                 "[[tag]]\npath = \"lapsing\"\n"
                                 "when = \"predict.clv.p_alive < 0.3\"\n");
  EXPECT_EQ(PortraitMetrics(predicted),
            (std::vector<std::string>{"$purchases", "$segments", "$tags"}));
}

// The engine computes only the scores some condition reads, a trigger's included.
TEST_F(PortraitRulesTest, TheScoresReadAreThoseSomeConditionNames) {
  SetDerived("service", {"metrics", "lifecycle", "tags", "segments", "scores", "predictions"});
  EXPECT_EQ(ScoresRead(Load(kMetrics + kScoreAndModel)), std::set<std::string>{});
  const std::string trigger =
      "[[trigger]]\nid = \"t\"\npurpose = \"service\"\non.event = \"order.placed\"\n"
      "when = \"scores.rfm.r > 2\"\ntask = \"x\"\n"
      "channel = \"email\"\nsink = \"care-queue\"\nmessage = \"m\"\n";
  EXPECT_EQ(ScoresRead(Load(kMetrics + kScoreAndModel + trigger)), std::set<std::string>{"rfm"});
}

}  // namespace
}  // namespace portrait::rules
