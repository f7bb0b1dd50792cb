#include "daemon/export_service.h"

#include <gtest/gtest.h>

#include "tests/daemon/outbox_fixture.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

class ExportServiceTest : public OutboxFixture {
 protected:
  // c1 with an order event, a marketing task whose message reads the name and a care task whose
  // message reads a metric.
  void SetUp() override {
    id_ = Profile("c1", {{"name", "Ann"},
                         {"phone", "+8613812345678"},
                         {"email", "ann@example.com"},
                         {"gender", "female"}});
    store::Batch batch;
    batch.events.push_back(
        {"event-1", id_, "order.placed", Now(),
         vault_.SealFor(id_, store::kEventDataField, R"({"total":42})").value()});
    ASSERT_TRUE(store_.Commit(batch));
    AddTask(id_, "win-back", "marketing", "delivered",
            {{"message", "Ann, come back"},
             {"fields", {{"name", "Ann"}, {"phone", "+8613812345678"}}}});
    AddTask(id_, "vip-thank-you", "care", "pending",
            {{"message", "Ann spent 420"},
             {"fields", {{"name", "Ann"}, {"email", "ann@example.com"}}}});
  }
  store::ProfileId id_ = 0;
};

TEST_F(ExportServiceTest, ACallerWhoSeesEverythingGetsEventDataAndPayloadsWhole) {
  auto exported = exports_.Export(As("admin", "service"), "c1");
  ASSERT_TRUE(exported) << exported.error().ToString();
  const json& e = *exported;
  EXPECT_EQ(e["id"], "c1");
  EXPECT_EQ(e["internal_id"], id_);
  EXPECT_EQ(e["fields"]["email"], "ann@example.com");
  EXPECT_EQ(e["fields"]["gender"], "female");
  ASSERT_EQ(e["events"].size(), 1u);
  EXPECT_EQ(e["events"][0]["data"]["total"], 42);
  ASSERT_EQ(e["tasks"].size(), 2u);
  EXPECT_EQ(e["tasks"][0]["state"], "delivered");
  EXPECT_EQ(e["tasks"][1]["payload"]["message"], "Ann spent 420");
  EXPECT_EQ(e["tasks"][0]["payload"]["message"], "Ann, come back");
  EXPECT_EQ(e["tasks"][0]["payload"]["fields"]["phone"], "+8613812345678");
  EXPECT_TRUE(e["consents"].contains("current"));

  auto last = Audit().back().entry;
  EXPECT_EQ(last.action, "profile.export");
  EXPECT_EQ(last.profile_id, id_);
  EXPECT_EQ(json::parse(last.detail), (json{{"events", 1}, {"tasks", 2}}));
  EXPECT_EQ(last.detail.find("Ann"), std::string::npos);
}

TEST_F(ExportServiceTest, ANarrowerPurposeGetsItsViewOnly) {
  auto exported = exports_.Export(As("admin", "marketing"), "c1");
  ASSERT_TRUE(exported) << exported.error().ToString();
  const json& e = *exported;
  EXPECT_EQ(e["fields"]["name"], "Ann");
  EXPECT_FALSE(e["fields"].contains("gender"));  // not marketing's field
  EXPECT_EQ(e.dump().find("female"), std::string::npos);
  EXPECT_EQ(e.dump().find("ann@example.com"), std::string::npos);  // masked for marketing
  EXPECT_TRUE(e["metrics"].empty());                               // marketing: lifecycle only
  ASSERT_EQ(e["events"].size(), 1u);
  EXPECT_FALSE(e["events"][0].contains("data"));
  ASSERT_EQ(e["tasks"].size(), 2u);
  EXPECT_EQ(e["tasks"][0]["payload"]["message"], "Ann, come back");  // reads the name only
  EXPECT_EQ(e["tasks"][0]["payload"]["fields"]["name"], "Ann");
  EXPECT_FALSE(e["tasks"][1]["payload"].contains("message"));  // reads a metric
  EXPECT_EQ(e["tasks"][1]["payload"]["fields"]["name"], "Ann");
}

TEST_F(ExportServiceTest, NeedsExportAndAKnownProfile) {
  auto refused = exports_.Export(As("marketer", "marketing"), "c1");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(Audit().back().entry.action, "request.refused");
  EXPECT_EQ(exports_.Export(As("admin", "service"), "nobody").error().code(),
            Status::Code::kNotFound);
}

}  // namespace
}  // namespace portrait::daemon
