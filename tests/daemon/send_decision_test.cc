// The send decision, branch by branch: consents read from the in-memory store, the cap's count
// from it (and from a FaultyStore over it for a failed read), time from a FakeClock.
#include "daemon/send_decision.h"

#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/time_format.h"
#include "daemon/consent_service.h"
#include "tests/support/faulty_store.h"

namespace portrait::daemon {
namespace {

using Kind = SendVerdict::Kind;

int64_t At(const std::string& rfc3339) { return ParseRfc3339(rfc3339).value(); }

config::Purpose MakePurpose(std::string name, config::LawfulBasis basis) {
  config::Purpose p;
  p.name = std::move(name);
  p.basis = basis;
  return p;
}

config::Sink MakeSink(std::string name, bool third_party) {
  config::Sink s;
  s.name = std::move(name);
  s.third_party = third_party;
  return s;
}

class SendDecisionTest : public ::testing::Test {
 protected:
  // Records a consent of the profile, given an hour before now.
  void Record(std::string purpose, std::string scope, std::string status) {
    store::Batch batch;
    batch.consents.push_back({0, kProfile, std::move(purpose), std::move(scope), "any",
                              std::move(status), Now() - 3'600'000'000LL, "test", "", "", "test",
                              0});
    ASSERT_TRUE(store_->Commit(batch));
  }

  // The profile's ledger as the dispatcher reads it.
  std::vector<consent::ConsentRecord> Ledger() {
    std::vector<consent::ConsentRecord> ledger;
    const std::vector<store::ConsentRow> rows = store_->GetConsents(kProfile).value();
    for (const store::ConsentRow& row : rows) {
      ledger.push_back(ToRecord(row));
    }
    return ledger;
  }

  // A task of `purpose` in `state`, last updated at `updated_us`.
  void AddTask(std::string purpose, std::string state, int64_t updated_us) {
    store::TaskRow t;
    t.dedupe = "task-" + std::to_string(next_dedupe_++);
    t.profile_id = kProfile;
    t.trigger = "t";
    t.purpose = std::move(purpose);
    t.channel = "email";
    t.sink = "crm";
    t.state = std::move(state);
    t.created_us = t.updated_us = updated_us;
    store::Batch batch;
    batch.tasks.push_back(std::move(t));
    ASSERT_TRUE(store_->Commit(batch));
  }

  // The consent verdict for a task of `purpose` to `sink`, on the ledger as stored now.
  SendVerdict Consent(const config::Purpose& purpose, const config::Sink& sink,
                      bool sensitive = false) {
    ledger_ = Ledger();
    ConsentFacts facts{purpose.name, &purpose, &sink, "email", sensitive, true, false, &ledger_};
    return CheckConsent(facts, Now());
  }

  int64_t Now() const { return clock_.NowUs(); }

  static constexpr store::ProfileId kProfile = 7;
  std::unique_ptr<store::Store> store_ = store::NewMemoryStore();
  FakeClock clock_{TimePoint(std::chrono::seconds(1'800'000'000))};
  std::vector<consent::ConsentRecord> ledger_;
  int next_dedupe_ = 0;
  config::Sink crm_ = MakeSink("crm", /*third_party=*/false);
  config::Purpose marketing_ = MakePurpose("marketing", config::LawfulBasis::kConsent);
  config::Purpose care_ = MakePurpose("care", config::LawfulBasis::kLegitimateInterest);
};

TEST_F(SendDecisionTest, ALawfulBasisMissingOrWithdrawnSuppresses) {
  EXPECT_EQ(Consent(marketing_, crm_).kind, Kind::kSuppress);  // consent basis, no record
  EXPECT_EQ(Consent(care_, crm_).kind, Kind::kSend);           // legitimate interest
  Record("marketing", "processing", "granted");
  EXPECT_EQ(Consent(marketing_, crm_).kind, Kind::kSend);
  clock_.Advance(std::chrono::seconds(1));
  Record("marketing", "processing", "withdrawn");
  const SendVerdict withdrawn = Consent(marketing_, crm_);
  EXPECT_EQ(withdrawn.kind, Kind::kSuppress);
  EXPECT_FALSE(withdrawn.reason.empty());
  Record("care", "processing", "objected");
  EXPECT_EQ(Consent(care_, crm_).kind, Kind::kSuppress);
}

TEST_F(SendDecisionTest, ASensitiveTriggerNeedsTheSeparateSensitiveConsent) {
  config::Purpose service = MakePurpose("service", config::LawfulBasis::kContract);
  service.sensitive = true;
  EXPECT_EQ(Consent(service, crm_, /*sensitive=*/false).kind, Kind::kSend);
  const SendVerdict refused = Consent(service, crm_, /*sensitive=*/true);
  EXPECT_EQ(refused.kind, Kind::kSuppress);
  EXPECT_NE(refused.reason.find("sensitive"), std::string::npos) << refused.reason;
  Record("service", "sensitive", "granted");
  EXPECT_EQ(Consent(service, crm_, /*sensitive=*/true).kind, Kind::kSend);
}

TEST_F(SendDecisionTest, AThirdPartySinkNeedsATransferConsent) {
  const config::Sink partner = MakeSink("partner", /*third_party=*/true);
  const SendVerdict refused = Consent(care_, partner);
  EXPECT_EQ(refused.kind, Kind::kSuppress);
  EXPECT_NE(refused.reason.find("third party"), std::string::npos) << refused.reason;
  EXPECT_EQ(Consent(care_, crm_).kind, Kind::kSend);  // not a third party: no transfer needed
  Record("care", "transfer", "granted");
  EXPECT_EQ(Consent(care_, partner).kind, Kind::kSend);
}

TEST_F(SendDecisionTest, APersonalisationOptOutSendsThePlainMessageOrNothing) {
  Record("personalisation", "processing", "objected");
  ledger_ = Ledger();
  ConsentFacts facts{"care", &care_, &crm_, "email", false, /*personalised=*/true,
                     /*has_plain=*/true, &ledger_};
  SendVerdict v = CheckConsent(facts, Now());
  EXPECT_EQ(v.kind, Kind::kSend);
  EXPECT_TRUE(v.plain);

  facts.has_plain = false;
  v = CheckConsent(facts, Now());
  EXPECT_EQ(v.kind, Kind::kSuppress);
  EXPECT_NE(v.reason.find("message_plain"), std::string::npos) << v.reason;

  facts.personalised = false;  // already plain (e.g. switched at the claim)
  v = CheckConsent(facts, Now());
  EXPECT_EQ(v.kind, Kind::kSend);
  EXPECT_FALSE(v.plain);
}

TEST_F(SendDecisionTest, NoPurposeAnUnknownChannelOrAnUnreadLedgerNeverSends) {
  ledger_ = Ledger();
  ConsentFacts facts{"gone", nullptr, &crm_, "email", false, true, false, &ledger_};
  EXPECT_EQ(CheckConsent(facts, Now()).kind, Kind::kSuppress);
  facts.purpose = &care_;
  facts.channel = "pigeon";
  EXPECT_EQ(CheckConsent(facts, Now()).kind, Kind::kSuppress);
  facts.channel = "email";
  facts.ledger = nullptr;
  EXPECT_EQ(CheckConsent(facts, Now()).kind, Kind::kWait);
}

TEST_F(SendDecisionTest, QuietHoursAcrossMidnightInTheProfilesZone) {
  marketing_.quiet_hours = "21:00-08:00";
  clock_.Set(TimePoint(std::chrono::microseconds(At("2026-06-10T14:00:00Z"))));  // 22:00 there
  SendVerdict v = Pace(marketing_, {"Asia/Shanghai", 0}, Now());
  EXPECT_EQ(v.kind, Kind::kDefer);
  EXPECT_EQ(v.until_us, At("2026-06-11T00:00:00Z"));  // 08:00 the next morning
  EXPECT_EQ(Pace(marketing_, {"Europe/London", 0}, Now()).kind, Kind::kSend);  // 15:00 there
  clock_.Set(TimePoint(std::chrono::microseconds(At("2026-06-11T00:00:00Z"))));  // 08:00
  EXPECT_EQ(Pace(marketing_, {"Asia/Shanghai", 0}, Now()).kind, Kind::kSend);
  EXPECT_EQ(Pace(marketing_, {"Nowhere/Atlantis", 0}, Now()).kind, Kind::kWait);
}

TEST_F(SendDecisionTest, TheCapCountsDeliveriesInItsWindowAndTasksOnTheirWay) {
  marketing_.cap = config::FrequencyCap{2, std::chrono::hours(24 * 7)};
  const int64_t since = CapWindowStartIn(marketing_, "Europe/London", Now()).value();
  AddTask("marketing", "delivered", since - 1);  // before the window: not counted
  AddTask("marketing", "delivered", since);
  AddTask("care", "sending", Now());  // another purpose
  Result<int64_t> count = CountTowardsCap(*store_, kProfile, "marketing", since);
  ASSERT_TRUE(count) << count.error().ToString();
  EXPECT_EQ(*count, 1);
  EXPECT_EQ(Pace(marketing_, {"Europe/London", *count}, Now()).kind, Kind::kSend);

  AddTask("marketing", "sending", Now());
  count = CountTowardsCap(*store_, kProfile, "marketing", since);
  EXPECT_EQ(count.value(), 2);
  SendVerdict v = Pace(marketing_, {"Europe/London", count}, Now());
  EXPECT_EQ(v.kind, Kind::kSuppress);
  EXPECT_NE(v.reason.find("cap"), std::string::npos) << v.reason;

  marketing_.cap->defer = true;
  v = Pace(marketing_, {"Europe/London", count}, Now());
  EXPECT_EQ(v.kind, Kind::kDefer);
  EXPECT_GT(v.until_us, Now());
  EXPECT_LE(v.until_us, Now() + 86'400'000'000LL);  // the next local midnight
}

TEST_F(SendDecisionTest, AFailedStoreReadInTheCapCheckWaitsNeverCountsZero) {
  marketing_.cap = config::FrequencyCap{2, std::chrono::hours(24 * 7)};
  testing::FaultyStore faulty(*store_);
  faulty.fail_list_tasks = 1;
  const Result<int64_t> count = CountTowardsCap(faulty, kProfile, "marketing", 0);
  EXPECT_FALSE(count);
  EXPECT_EQ(Pace(marketing_, {"Europe/London", count}, Now()).kind, Kind::kWait);

  Record("marketing", "processing", "granted");
  ledger_ = Ledger();
  ConsentFacts facts{"marketing", &marketing_, &crm_, "email", false, true, false, &ledger_};
  EXPECT_EQ(DecideSend(facts, {"Europe/London", count}, Now()).kind, Kind::kWait);
  EXPECT_EQ(DecideSend(facts, {"Europe/London", 0}, Now()).kind, Kind::kSend);
}

}  // namespace
}  // namespace portrait::daemon
