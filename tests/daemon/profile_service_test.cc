#include "daemon/profile_service.h"

#include <gtest/gtest.h>

#include "daemon/retention.h"
#include "tests/daemon/service_fixture.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

class ProfileServiceTest : public ServiceFixture {
 protected:
  std::vector<store::AuditRecord> Audit() { return data_.store->ReadAudit(0, 100000).value(); }
};

TEST_F(ProfileServiceTest, AReadFailsClosedWhenItsAuditRecordCannotBeWritten) {
  Caller admin = As("admin", "service");
  ASSERT_TRUE(profiles_.Write(admin, "c1", {{"fields", {{"name", "Secretname"}}}}));
  ASSERT_TRUE(profiles_.Read(admin, "c1"));
  const size_t audited = Audit().size();

  store_.fail_audit_writes = true;
  auto read = profiles_.Read(admin, "c1");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), Status::Code::kUnavailable);
  EXPECT_EQ(read.error().message().find("Secretname"), std::string::npos);
  auto write = profiles_.Write(admin, "c1", {{"fields", {{"name", "Changed"}}}});
  ASSERT_FALSE(write);
  auto consent = consents_.Record(admin, "c1", {{"purpose", "marketing"}, {"status", "granted"}});
  ASSERT_FALSE(consent);
  EXPECT_FALSE(profiles_.Erase(admin, "c1"));
  store_.fail_audit_writes = false;

  EXPECT_EQ(Audit().size(), audited);
  EXPECT_EQ(vault_.Get("c1").value().fields["name"], "Secretname");  // nothing half-written
  EXPECT_TRUE(consents_.Ledger(vault_.IdOf("c1").value()).value().empty());
}

TEST_F(ProfileServiceTest, RefusalsAreAuditedAndNameThePermission) {
  Caller admin = As("admin", "service");
  ASSERT_TRUE(profiles_.Write(admin, "c1", {{"fields", {{"name", "A"}}}}));
  Caller marketer = As("marketer", "marketing");
  auto erase = profiles_.Erase(marketer, "c1");
  ASSERT_FALSE(erase);
  EXPECT_EQ(erase.error().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(erase.error().message().find("'erase'"), std::string::npos);
  auto last = Audit().back();
  EXPECT_EQ(last.entry.action, "request.refused");
  EXPECT_EQ(last.entry.actor, "token:marketer-token role:marketer");
  EXPECT_NE(last.entry.detail.find("erase"), std::string::npos);

  Caller care = As("care_agent", "care");
  auto hidden = profiles_.Write(care, "c1", {{"fields", {{"gender", "male"}}}});
  ASSERT_FALSE(hidden);
  EXPECT_NE(hidden.error().message().find("'gender'"), std::string::npos);
}

// A lookup by a field the caller sees only masked would confirm the hidden value one guess at a
// time (a marketer who sees 138******78 tries the missing digits).
TEST_F(ProfileServiceTest, FindOnlyByAFieldTheCallerReadsInClear) {
  Caller admin = As("admin", "service");
  ASSERT_TRUE(profiles_.Write(admin, "c1", {{"fields", {{"phone", "+8613812345678"}}}}));
  Caller marketer = As("marketer", "marketing");
  for (const char* field : {"phone", "email", "no_such_field"}) {
    auto found = profiles_.Find(marketer, field, "+8613812345678");
    ASSERT_FALSE(found) << field;
    EXPECT_EQ(found.error().code(), Status::Code::kPermissionDenied) << field;
    EXPECT_EQ(found.error().message().find("13812345678"), std::string::npos);
    auto last = Audit().back();
    EXPECT_EQ(last.entry.action, "request.refused");
    EXPECT_NE(last.entry.detail.find("find_by"), std::string::npos) << last.entry.detail;
  }
  auto by_masked_email = profiles_.Find(As("care_agent", "care"), "email", "x@example.com");
  ASSERT_FALSE(by_masked_email);  // care agents see email masked
  EXPECT_EQ(by_masked_email.error().code(), Status::Code::kPermissionDenied);
  EXPECT_TRUE(profiles_.Find(As("care_agent", "care"), "phone", "+8613812345678"));
}

TEST_F(ProfileServiceTest, EveryLookupIsAuditedWithFieldAndMatchCountPerProfile) {
  Caller admin = As("admin", "service");
  ASSERT_TRUE(profiles_.Write(admin, "c1", {{"fields", {{"email", "same@example.com"}}}}));
  const store::ProfileId id = vault_.IdOf("c1").value();
  auto found = profiles_.Find(admin, "email", "same@example.com");
  ASSERT_TRUE(found);
  EXPECT_EQ((*found)["ids"], json::array({"c1"}));
  auto last = Audit().back();
  EXPECT_EQ(last.entry.action, "profile.find");
  EXPECT_EQ(last.entry.profile_id, id);
  EXPECT_EQ(json::parse(last.entry.detail),
            json({{"field", "email"}, {"matches", 1}, {"shown", 1}}));
  ASSERT_TRUE(profiles_.Find(admin, "email", "other@example.com"));
  last = Audit().back();
  EXPECT_EQ(last.entry.profile_id, 0);
  EXPECT_EQ(json::parse(last.entry.detail),
            json({{"field", "email"}, {"matches", 0}, {"shown", 0}}));
  EXPECT_EQ(last.entry.detail.find("other"), std::string::npos);
}

// Metrics, tags and the lifecycle stage are personal data derived from the customer's
// behaviour: a read shows only what the purpose declares in `derived`.
TEST_F(ProfileServiceTest, AReadShowsOnlyTheDerivedDataThePurposeDeclares) {
  Caller admin = As("admin", "service");
  ASSERT_TRUE(profiles_.Write(admin, "c1", {{"tags", {{"add", {"vip", "interest/sports"}}}}}));
  store::OpenProfile open = vault_.Open(vault_.IdOf("c1").value()).value();
  open.profile.metrics = {{"orders", 7}, {"spent", 123.5}};
  open.profile.lifecycle = "active";
  store::Batch batch;
  batch.profiles.push_back(vault_.StateWrite(open, Now()).value());
  ASSERT_TRUE(store_.Commit(batch));
  ASSERT_TRUE(consents_.Record(admin, "c1", {{"purpose", "marketing"}, {"status", "granted"}}));

  json service = profiles_.Read(admin, "c1").value();  // metrics, lifecycle, tags
  EXPECT_EQ(service["metrics"], json({{"orders", 7}, {"spent", 123.5}}));
  EXPECT_EQ(service["tags"], json::array({"interest/sports", "vip"}));
  EXPECT_EQ(service["lifecycle"], "active");
  json care = profiles_.Read(As("care_agent", "care"), "c1").value();  // tags.vip only
  EXPECT_EQ(care["tags"], json::array({"vip"}));
  EXPECT_EQ(care["metrics"]["orders"], 7);
  json marketing = profiles_.Read(As("marketer", "marketing"), "c1").value();  // lifecycle only
  EXPECT_EQ(marketing["metrics"], json::object());
  EXPECT_EQ(marketing["tags"], json::array());
  EXPECT_EQ(marketing["lifecycle"], "active");
  const std::string text = marketing.dump();
  EXPECT_EQ(text.find("123.5"), std::string::npos);
  EXPECT_EQ(text.find("vip"), std::string::npos);

  // Without the lawful basis nothing derived is shown either.
  ASSERT_TRUE(consents_.Record(admin, "c1", {{"purpose", "marketing"}, {"status", "withdrawn"}}));
  marketing = profiles_.Read(As("marketer", "marketing"), "c1").value();
  EXPECT_EQ(marketing["lifecycle"], nullptr);
}

TEST_F(ProfileServiceTest, NoPersonalValueReachesAuditLogsOrErrors) {
  const std::vector<std::string> markers = {"EXTMARK77",  "NAMEMARK77", "CITYMARK77",
                                            "mailmark77", "EVIDMARK77", "HEALTHMARK77",
                                            "13712345678"};
  std::vector<std::string> errors;
  auto keep = [&](auto result) {
    if (!result) {
      errors.push_back(result.error().ToString());
    }
  };
  Caller admin = As("admin", "service");
  Caller marketer = As("marketer", "marketing");
  keep(profiles_.Write(admin, "EXTMARK77",
                       {{"fields",
                         {{"name", "NAMEMARK77"},
                          {"city", "CITYMARK77"},
                          {"email", "mailmark77@example.com"},
                          {"phone", "13712345678"},
                          {"health_note", "HEALTHMARK77"}}}}));
  keep(consents_.Record(
      admin, "EXTMARK77",
      {{"purpose", "marketing"}, {"status", "granted"}, {"evidence", "EVIDMARK77 signed form"}}));
  keep(profiles_.Read(marketer, "EXTMARK77"));
  keep(profiles_.Read(admin, "EXTMARK77"));
  keep(profiles_.Find(admin, "email", "MAILMARK77@example.com"));
  keep(consents_.Show(admin, "EXTMARK77"));
  // Bad input carrying markers: the errors must name the field, not echo the value.
  keep(profiles_.Write(admin, "EXTMARK77", {{"fields", {{"birthday", "NAMEMARK77"}}}}));
  keep(profiles_.Write(admin, "EXTMARK77", {{"fields", {{"phone", "CITYMARK77"}}}}));
  keep(profiles_.Write(admin, "EXTMARK77", {{"fields", {{"email", "mailmark77"}}}}));
  keep(profiles_.Read(admin, "EXTMARK77-missing"));
  keep(consents_.Record(admin, "EXTMARK77", {{"purpose", "EVIDMARK77"}, {"status", "granted"}}));
  keep(profiles_.Erase(marketer, "EXTMARK77"));
  keep(profiles_.Erase(admin, "EXTMARK77"));
  ASSERT_GE(errors.size(), 6u);

  std::string everything = log_text_.str();
  for (const auto& r : Audit()) {
    everything += r.entry.actor + r.entry.action + r.entry.purpose + r.entry.detail + "\n";
  }
  for (const auto& e : errors) {
    everything += e + "\n";
  }
  EXPECT_GE(Audit().size(), 8u);
  for (const auto& m : markers) {
    EXPECT_EQ(everything.find(m), std::string::npos) << m << " leaked into:\n" << everything;
  }
}

TEST_F(ProfileServiceTest, ErasureKeepsConsentProofButShredsItsEvidence) {
  Caller admin = As("admin", "service");
  ASSERT_TRUE(profiles_.Write(admin, "c1", {{"fields", {{"name", "A"}}}}));
  ASSERT_TRUE(consents_.Record(admin, "c1",
                               {{"purpose", "marketing"},
                                {"status", "granted"},
                                {"notice", "2026-03"},
                                {"evidence", "form 88"}}));
  auto shown = consents_.Show(admin, "c1").value();
  EXPECT_EQ(shown["history"][0]["evidence"], "form 88");
  EXPECT_EQ(shown["current"][0]["status"], "granted");
  const store::ProfileId id = vault_.IdOf("c1").value();

  ASSERT_TRUE(profiles_.SetLegalHold(admin, "c1", true));
  auto held = profiles_.Erase(admin, "c1");
  ASSERT_FALSE(held);
  EXPECT_EQ(held.error().code(), Status::Code::kConflict);
  ASSERT_TRUE(profiles_.SetLegalHold(admin, "c1", false));

  auto receipt = profiles_.Erase(admin, "c1");
  ASSERT_TRUE(receipt) << receipt.error().ToString();
  EXPECT_EQ((*receipt)["internal_id"], id);
  EXPECT_EQ((*receipt)["data_key"], "destroyed");
  auto ledger = data_.store->GetConsents(id).value();
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_EQ(ledger[0].status, "granted");
  EXPECT_EQ(ledger[0].notice, "2026-03");
  EXPECT_FALSE(vault_.OpenFor(id, "$consent_evidence", ledger[0].evidence));
  EXPECT_EQ(Audit().back().entry.action, "profile.erase");
  EXPECT_EQ(Audit().back().entry.profile_id, id);
}

TEST_F(ProfileServiceTest, RetentionPurgesOldDataExceptUnderLegalHold) {
  Caller admin = As("admin", "service");
  for (const char* id : {"held", "free"}) {
    ASSERT_TRUE(
        profiles_.Write(admin, id, {{"fields", {{"name", "N"}, {"health_note", "allergic"}}}}));
  }
  ASSERT_TRUE(profiles_.SetLegalHold(admin, "held", true));
  const store::ProfileId held = vault_.IdOf("held").value();
  const store::ProfileId free = vault_.IdOf("free").value();
  store::Batch events;
  for (store::ProfileId id : {held, free}) {
    events.events.push_back({"cart-" + std::to_string(id), id, "cart.updated", Now(), "x"});
    events.events.push_back({"order-" + std::to_string(id), id, "order.placed", Now(), "x"});
  }
  ASSERT_TRUE(data_.store->Commit(events));

  EXPECT_EQ(RunRetention(config_, store_, Now(), 1000).value().purged, 0);
  clock_.Advance(std::chrono::hours(24 * 366));
  EXPECT_EQ(RunRetention(config_, store_, Now(), 1000).value().purged, 2);  // free's cart + health
  EXPECT_FALSE(vault_.Get("free").value().fields.contains("health_note"));
  EXPECT_TRUE(vault_.Get("free").value().fields.contains("name"));  // personal: no rule
  EXPECT_EQ(data_.store->GetEvents(free).value().size(), 1u);       // the order stays
  EXPECT_TRUE(vault_.Get("held").value().fields.contains("health_note"));
  EXPECT_EQ(data_.store->GetEvents(held).value().size(), 2u);
  bool found = false;
  for (const auto& r : Audit()) {
    if (r.entry.action == "retention.purge" &&
        r.entry.detail.find("\"purged\":1") != std::string::npos) {
      found = true;
      EXPECT_EQ(r.entry.actor, "system");
    }
  }
  EXPECT_TRUE(found);
  EXPECT_TRUE(audit_.Verify().value().ok);
}

// A backlog is purged in rounds of at most `limit` rows per rule; `more` says whether to run
// another (the scheduler does, each round one writer job).
TEST_F(ProfileServiceTest, RetentionRunsInRoundsOfItsLimit) {
  Caller admin = As("admin", "service");
  ASSERT_TRUE(profiles_.Write(admin, "c", {{"fields", {{"name", "N"}}}}));
  const store::ProfileId id = vault_.IdOf("c").value();
  store::Batch events;
  for (int i = 0; i < 3; ++i) {
    events.events.push_back({"cart-" + std::to_string(i), id, "cart.updated", Now() + i, "x"});
  }
  ASSERT_TRUE(data_.store->Commit(events));
  clock_.Advance(std::chrono::hours(24 * 100));
  std::vector<std::pair<int64_t, bool>> rounds;
  for (int i = 0; i < 4; ++i) {
    const RetentionRound r = RunRetention(config_, store_, Now(), 2).value();
    rounds.emplace_back(r.purged, r.more);
  }
  EXPECT_EQ(rounds,
            (std::vector<std::pair<int64_t, bool>>{{2, true}, {1, false}, {0, false}, {0, false}}));
  EXPECT_TRUE(data_.store->GetEvents(id).value().empty());
}

}  // namespace
}  // namespace portrait::daemon
