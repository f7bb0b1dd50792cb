#include "daemon/rules_test_service.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/daemon/outbox_fixture.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

class RulesTestServiceTest : public OutboxFixture {
 protected:
  std::set<std::string> Triggers(const json& tested) {
    std::set<std::string> names;
    for (const json& t : tested["triggers"]) {
      names.insert(t["trigger"].get<std::string>());
    }
    return names;
  }
};

TEST_F(RulesTestServiceTest, ExplainsOnlyTheCallersPurposesTriggers) {
  const store::ProfileId id = Profile("c1", {{"name", "Ann"}});
  auto marketing = rules_test_.Test(As("marketer", "marketing"), R"({"profile": "c1"})");
  ASSERT_TRUE(marketing) << marketing.error().ToString();
  EXPECT_EQ(Triggers(*marketing), (std::set<std::string>{"cart-abandonment", "win-back"}));
  EXPECT_EQ((*marketing)["internal_id"], id);
  EXPECT_EQ((*marketing)["at"], At(Now()));
  auto last = Audit().back().entry;
  EXPECT_EQ(last.action, "rules.test");
  EXPECT_EQ(last.purpose, "marketing");
  EXPECT_EQ(last.profile_id, id);
  EXPECT_EQ(json::parse(last.detail)["triggers"], 2);

  auto care = rules_test_.Test(As("admin", "care"), R"({"profile": "c1"})");
  ASSERT_TRUE(care) << care.error().ToString();
  EXPECT_EQ(Triggers(*care), (std::set<std::string>{"birthday-greeting", "vip-thank-you",
                                                    "weekly-at-risk-vip-digest"}));
}

TEST_F(RulesTestServiceTest, TakesItsTimeAndEventFromTheBody) {
  Profile("c1", {{"name", "Ann"}});
  Caller admin = As("admin", "care");
  auto at = rules_test_.Test(admin, R"({"profile": "c1", "at": "2030-01-02T03:04:05Z"})");
  ASSERT_TRUE(at) << at.error().ToString();
  EXPECT_EQ((*at)["at"], "2030-01-02T03:04:05Z");
  auto with_event = rules_test_.Test(
      admin, R"({"profile": "c1", "event": {"specversion": "1.0", "id": "e1", "source": "shop",
                 "type": "order.placed", "subject": "c1", "data": {"total": 1}}})");
  ASSERT_TRUE(with_event) << with_event.error().ToString();
  for (const auto& [body, key] : std::vector<std::pair<std::string, std::string>>{
           {R"({})", "profile:"},
           {R"({"profile": 7})", "profile:"},
           {R"({"profile": "c1", "at": "soon"})", "at:"}}) {
    auto bad = rules_test_.Test(admin, body);
    ASSERT_FALSE(bad) << body;
    EXPECT_EQ(bad.error().code(), Status::Code::kInvalidArgument) << body;
    EXPECT_EQ(bad.error().message().rfind(key, 0), 0u) << bad.error().message();
  }
  EXPECT_EQ(rules_test_.Test(admin, R"({"profile": "c1", "event": [1, 2]})").error().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(rules_test_.Test(admin, R"({"profile": "nobody"})").error().code(),
            Status::Code::kNotFound);
  EXPECT_EQ(rules_test_.Test(admin, "{").error().code(), Status::Code::kMalformed);
}

TEST_F(RulesTestServiceTest, RefusesACallerWithoutRulesTestBeforeReadingTheBody) {
  auto refused = rules_test_.Test(As("care_agent", "care"), "{");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Status::Code::kPermissionDenied);
  auto last = Audit().back().entry;
  EXPECT_EQ(last.action, "request.refused");
  EXPECT_NE(last.detail.find("rules.test"), std::string::npos);
}

}  // namespace
}  // namespace portrait::daemon
