// Loading rule files: the examples load; every class of error names file:line:col; the policy
// check rejects triggers that read or send what their purpose may not use.
#include "rules/rule_set.h"

#include <gtest/gtest.h>

#include <regex>

#include "tests/rules/rules_fixture.h"

namespace portrait::rules {
namespace {

using testing::RulesFrom;

class RuleSetTest : public ::testing::Test {
 protected:
  // The error of loading `text`, which must fail.
  std::string ErrorOf(const std::string& text) {
    auto r = RulesFrom(text, config_);
    EXPECT_FALSE(r) << text;
    return r ? "" : r.error().message();
  }
  // Expects an error at `line`:`col` of rules.toml that says `says`.
  void ExpectAt(const std::string& text, int line, int col, const std::string& says) {
    std::string error = ErrorOf(text);
    std::string where = "rules.toml:" + std::to_string(line) + ":" + std::to_string(col) + ": ";
    EXPECT_NE(error.find(where), std::string::npos) << "want " << where << " in:\n" << error;
    EXPECT_NE(error.find(says), std::string::npos) << "want '" << says << "' in:\n" << error;
  }

  config::Config config_ = testing::ExampleConfig();
  const std::string trigger_ =
      "[[trigger]]\nid = \"t\"\npurpose = \"care\"\non.event = \"order.placed\"\n"
      "task = \"x\"\nchannel = \"sms\"\nsink = \"care-queue\"\nmessage = \"hi\"\n";
};

TEST_F(RuleSetTest, TheExamplesLoad) {
  RuleSet rules = testing::ExampleRules(config_);
  EXPECT_EQ(rules.metrics.size(), 4u);
  EXPECT_EQ(rules.lifecycle.size(), 4u);
  EXPECT_EQ(rules.triggers.size(), 5u);
  const Trigger* cart = rules.FindTrigger("cart-abandonment");
  ASSERT_NE(cart, nullptr);
  EXPECT_EQ(cart->kind, TriggerKind::kAbsence);
  EXPECT_EQ(cart->within_us, 2 * testing::kHour);
  const Trigger* birthday = rules.FindTrigger("birthday-greeting");
  EXPECT_EQ(birthday->anniversary.offset_days, -1);
  EXPECT_EQ(birthday->anniversary.at_minutes, 9 * 60);
  EXPECT_EQ(birthday->once, Once::kPerYear);
}

TEST_F(RuleSetTest, SyntaxErrorsCarryPositions) {
  std::string error = ErrorOf("[[trigger]\nid = 1\n");
  EXPECT_TRUE(std::regex_search(error, std::regex(R"(rules\.toml:1:\d+: )"))) << error;
}

TEST_F(RuleSetTest, UnknownKeysAndWrongTypes) {
  ExpectAt(trigger_ + "chanel = \"sms\"\n", 9, 1, "unknown key 'chanel'");
  ExpectAt(trigger_ + "once = 3\n", 9, 8, "expected a string, got an integer");
  ExpectAt("[[metric]]\nname = \"m\"\ncount = \"order.placed\"\ncolour = 1\n", 4, 1,
           "unknown key 'colour'");
}

TEST_F(RuleSetTest, ATriggerSendsOnOneNamedChannel) {
  // channel = "..." is line 6; the value starts at column 11.
  auto with_channel = [&](const std::string& channel) {
    std::string text = trigger_;
    text.replace(text.find("\"sms\""), 5, "\"" + channel + "\"");
    return text;
  };
  for (std::string bad : {"fax", "any", "SMS"}) {
    ExpectAt(with_channel(bad), 6, 11,
             "key 'channel': expected one of sms, email, phone, wechat, push");
  }
  for (std::string good : {"sms", "email", "phone", "wechat", "push"}) {
    auto rules = RulesFrom(with_channel(good), config_);
    ASSERT_TRUE(rules) << good << ": " << rules.error().message();
    EXPECT_EQ(rules->FindTrigger("t")->channel, good);
  }
}

TEST_F(RuleSetTest, ExpressionErrorsPointIntoTheString) {
  // when = "fields.city > 3": the quote is at column 8, the '>' 12 bytes into the string.
  ExpectAt(trigger_ + "when = \"fields.city > 3\"\n", 9, 21, "can't combine a string and a number");
  ExpectAt(trigger_ + "when = \"fields.nmae == 'x'\"\n", 9, 9, "unknown field 'nmae'");
  ExpectAt(trigger_ + "when = \"metrics.nope > 1\"\n", 9, 9, "unknown metric 'nope'");
  ExpectAt("[[lifecycle]]\nstage = \"a\"\nwhen = \"event.type == 'x'\"\n", 3, 9,
           "only available to on.event");
}

TEST_F(RuleSetTest, TriggerShapeErrors) {
  ExpectAt(
      "[[trigger]]\nid = \"t\"\npurpose = \"care\"\non.event = \"a\"\non.schedule = \"* * * * *\"\n"
      "task = \"x\"\nchannel = \"sms\"\nsink = \"care-queue\"\nmessage = \"hi\"\n",
      4, 1, "exactly one of on.event");
  ExpectAt(trigger_ + "fields = [\"name\"]\nonce = \"per_week\"\n", 10, 8, "not one of");
  std::string bad_cron = trigger_;
  bad_cron.replace(bad_cron.find("on.event = \"order.placed\""), 25,
                   "on.schedule = \"0 25 * * *\"");
  ExpectAt(bad_cron, 4, 15, "bad hour field");
  std::string bad_field = trigger_;
  bad_field.replace(bad_field.find("on.event = \"order.placed\""), 25, "on.anniversary = \"name\"");
  ExpectAt(bad_field, 4, 18, "not a date field");
  ExpectAt(trigger_ + "grace = \"soon\"\n", 9, 9, "not a duration");
  std::string bad_sink = trigger_;
  bad_sink.replace(bad_sink.find("\"care-queue\""), 12, "\"pager\"");
  ExpectAt(bad_sink, 7, 8, "unknown sink 'pager'");
  std::string bad_purpose = trigger_;
  bad_purpose.replace(bad_purpose.find("\"care\""), 6, "\"sales\"");
  ExpectAt(bad_purpose, 3, 11, "unknown purpose 'sales'");
}

TEST_F(RuleSetTest, TemplateErrors) {
  std::string t = trigger_;
  t.replace(t.find("message = \"hi\""), 14, "message = \"hi {{fields.nmae}}\"");
  ExpectAt(t, 8, 17, "unknown field 'nmae'");
  t = trigger_;
  t.replace(t.find("message = \"hi\""), 14, "message = \"hi {{vars.coupon}}\"");
  ExpectAt(t, 8, 17, "unknown variable 'coupon'");
  ExpectAt(trigger_ + "message_plain = \"hi {{fields.name}}\"\n", 9, 17, "only {{vars.X}}");
  // A placeholder is one name: an expression would read what its access check never sees
  // (a field of another purpose behind an allowed metric, a prediction).
  for (const char* smuggled : {"metrics.orders + fields.email", "fields.name or fields.email",
                               "metrics.orders+predict.clv.value_1y"}) {
    t = trigger_;
    t.replace(t.find("message = \"hi\""), 14, std::string("message = \"hi {{") + smuggled + "}}\"");
    ExpectAt(t, 8, 17, "a placeholder is one name");
  }
}

TEST_F(RuleSetTest, PolicyRejectsAMarketingTriggerThatSendsAMaskedField) {
  const std::string marketing =
      "[[trigger]]\nid = \"m\"\npurpose = \"marketing\"\non.event = \"order.placed\"\n"
      "task = \"x\"\nchannel = \"sms\"\nsink = \"crm\"\nmessage = \"hi\"\n";
  ExpectAt(marketing + "fields = [\"name\", \"email\"]\n", 9, 19,
           "field 'email' is only visible masked to purpose 'marketing'");
  ExpectAt(marketing + "when = \"fields.email != ''\"\n", 9, 9, "field 'email'");
  std::string in_message = marketing;
  in_message.replace(in_message.find("message = \"hi\""), 14, "message = \"{{fields.email}}\"");
  ExpectAt(in_message, 8, 14, "only visible masked");
  ExpectAt(marketing + "fields = [\"birthday\"]\n", 9, 11,
           "field 'birthday' is not among purpose 'marketing' fields");
  // A purpose that declares sensitive = true may send a sensitive field.
  std::string service = trigger_;
  service.replace(service.find("\"care\""), 6, "\"service\"");
  auto ok = RulesFrom(service + "fields = [\"health_note\"]\n", config_);
  EXPECT_TRUE(ok) << ok.error().ToString();
}

// Metrics, tags and the lifecycle are derived personal data: a trigger may read only those its
// purpose declares in `derived` (marketing declares only "lifecycle"; care "tags.vip").
TEST_F(RuleSetTest, PolicyRejectsATriggerThatReadsDerivedDataItsPurposeMayNotUse) {
  const std::string marketing =
      "[[metric]]\nname = \"orders\"\ncount = \"order.placed\"\n"
      "[[trigger]]\nid = \"m\"\npurpose = \"marketing\"\non.event = \"order.placed\"\n"
      "task = \"x\"\nchannel = \"sms\"\nsink = \"crm\"\nmessage = \"hi\"\n";
  ExpectAt(marketing + "when = \"metrics.orders > 1\"\n", 12, 9,
           "reads metrics.orders, which purpose 'marketing' may not use");
  ExpectAt(marketing + "when = \"lifecycle == 'x' or has_tag('vip/gold')\"\n", 12, 29,
           "reads tags.vip, which purpose 'marketing' may not use");
  ExpectAt(marketing + "when = \"'vip' in tags\"\n", 12, 18, "reads tags,");
  std::string in_message = marketing;
  in_message.replace(in_message.find("message = \"hi\""), 14, "message = \"{{metrics.orders}}\"");
  ExpectAt(in_message, 11, 14, "reads metrics.orders");
  // Care may use tags under vip and every metric, but no other tag.
  std::string care = trigger_;
  EXPECT_TRUE(RulesFrom(care + "when = \"has_tag('vip') and lifecycle != 'x'\"\n", config_));
  ExpectAt(care + "when = \"has_tag('interest')\"\n", 9, 9, "reads tags.interest");
  // A lifecycle trigger reads the stage.
  for (auto& p : config_.purposes) {
    if (p.name == "care") {
      p.derived.entries = {"metrics"};
    }
  }
  std::string lifecycle = "[[lifecycle]]\nstage = \"a\"\nwhen = \"true\"\n" + trigger_;
  lifecycle.replace(lifecycle.find("on.event = \"order.placed\""), 25, "on.lifecycle.to = \"a\"");
  const std::string error = ErrorOf(lifecycle);
  EXPECT_NE(error.find("rules.toml:7:"), std::string::npos) << error;
  EXPECT_NE(error.find("reads lifecycle, which purpose 'care' may not use"), std::string::npos)
      << error;
}

}  // namespace
}  // namespace portrait::rules
