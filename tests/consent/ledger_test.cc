#include "consent/ledger.h"

#include <gtest/gtest.h>

namespace portrait::consent {
namespace {

config::Purpose Purpose(config::LawfulBasis basis) {
  config::Purpose p;
  p.name = "marketing";
  p.basis = basis;
  return p;
}

class Ledger {
 public:
  Ledger& Add(ConsentStatus status, int64_t t, Channel channel = Channel::kAny, int64_t expires = 0,
              ConsentScope scope = ConsentScope::kProcessing) {
    ConsentRecord r;
    r.id = static_cast<int64_t>(records.size()) + 1;
    r.purpose = "marketing";
    r.scope = scope;
    r.channel = channel;
    r.status = status;
    r.time_us = t;
    r.expires_us = expires;
    records.push_back(r);
    return *this;
  }
  bool Allowed(config::LawfulBasis basis, Channel channel, int64_t now) const {
    return CheckLawfulBasis(Purpose(basis), channel, records, now).allowed;
  }
  std::vector<ConsentRecord> records;
};

constexpr auto kConsent = config::LawfulBasis::kConsent;
constexpr auto kInterest = config::LawfulBasis::kLegitimateInterest;
constexpr auto kContract = config::LawfulBasis::kContract;

TEST(Ledger, GrantWithdrawGrantGivesTheRightStateAtEveryStep) {
  Ledger l;
  EXPECT_FALSE(l.Allowed(kConsent, Channel::kSms, 100));
  l.Add(ConsentStatus::kGranted, 10);
  EXPECT_TRUE(l.Allowed(kConsent, Channel::kSms, 100));
  l.Add(ConsentStatus::kWithdrawn, 20);
  EXPECT_FALSE(l.Allowed(kConsent, Channel::kSms, 100));
  l.Add(ConsentStatus::kGranted, 30);
  EXPECT_TRUE(l.Allowed(kConsent, Channel::kSms, 100));
  // As of earlier instants the earlier states hold: the ledger is a history.
  EXPECT_TRUE(l.Allowed(kConsent, Channel::kSms, 15));
  EXPECT_FALSE(l.Allowed(kConsent, Channel::kSms, 25));
  EXPECT_FALSE(l.Allowed(kConsent, Channel::kSms, 5));
  auto d = CheckLawfulBasis(Purpose(kConsent), Channel::kSms, l.records, 100);
  EXPECT_EQ(d.record_id, 3);
  EXPECT_NE(d.reason.find("record 3"), std::string::npos);
}

TEST(Ledger, AnExpiredConsentIsNotConsent) {
  Ledger l;
  l.Add(ConsentStatus::kGranted, 10, Channel::kAny, /*expires=*/50);
  EXPECT_TRUE(l.Allowed(kConsent, Channel::kEmail, 49));
  EXPECT_FALSE(l.Allowed(kConsent, Channel::kEmail, 50));
  auto d = CheckLawfulBasis(Purpose(kConsent), Channel::kEmail, l.records, 60);
  EXPECT_NE(d.reason.find("expired"), std::string::npos);
}

TEST(Ledger, ObjectionBlocksLegitimateInterestButWithdrawalDoesNot) {
  Ledger l;
  EXPECT_TRUE(l.Allowed(kInterest, Channel::kSms, 100));  // no record needed
  l.Add(ConsentStatus::kWithdrawn, 10);
  EXPECT_TRUE(l.Allowed(kInterest, Channel::kSms, 100));
  l.Add(ConsentStatus::kObjected, 20);
  EXPECT_FALSE(l.Allowed(kInterest, Channel::kSms, 100));
  EXPECT_FALSE(l.Allowed(kContract, Channel::kSms, 100));
  EXPECT_TRUE(l.Allowed(kInterest, Channel::kSms, 15));
}

TEST(Ledger, AChannelRecordOutranksAny) {
  Ledger l;
  l.Add(ConsentStatus::kGranted, 10, Channel::kAny);
  l.Add(ConsentStatus::kWithdrawn, 20, Channel::kSms);
  EXPECT_FALSE(l.Allowed(kConsent, Channel::kSms, 100));
  EXPECT_TRUE(l.Allowed(kConsent, Channel::kEmail, 100));
  l.Add(ConsentStatus::kGranted, 30, Channel::kAny);  // a later general grant: sms still out
  EXPECT_FALSE(l.Allowed(kConsent, Channel::kSms, 100));
}

TEST(Ledger, ALaterWithdrawalForAnyAppliesToEveryChannel) {
  Ledger l;
  l.Add(ConsentStatus::kGranted, 10, Channel::kSms);
  EXPECT_TRUE(l.Allowed(kConsent, Channel::kSms, 100));
  l.Add(ConsentStatus::kWithdrawn, 20, Channel::kAny);
  EXPECT_FALSE(l.Allowed(kConsent, Channel::kSms, 100));
  l.Add(ConsentStatus::kGranted, 30, Channel::kSms);  // re-granted for sms alone
  EXPECT_TRUE(l.Allowed(kConsent, Channel::kSms, 100));
  EXPECT_FALSE(l.Allowed(kConsent, Channel::kEmail, 100));
}

TEST(Ledger, SeparateConsentsAreSeparate) {
  Ledger l;
  l.Add(ConsentStatus::kGranted, 10);
  EXPECT_FALSE(
      CheckSeparateConsent(ConsentScope::kSensitive, "marketing", Channel::kSms, l.records, 100)
          .allowed);
  l.Add(ConsentStatus::kGranted, 20, Channel::kAny, 0, ConsentScope::kSensitive);
  EXPECT_TRUE(
      CheckSeparateConsent(ConsentScope::kSensitive, "marketing", Channel::kSms, l.records, 100)
          .allowed);
  EXPECT_FALSE(
      CheckSeparateConsent(ConsentScope::kTransfer, "marketing", Channel::kSms, l.records, 100)
          .allowed);
  // A sensitive grant is not processing consent for another purpose either.
  EXPECT_FALSE(CheckSeparateConsent(ConsentScope::kSensitive, "care", Channel::kSms, l.records, 100)
                   .allowed);
}

TEST(Ledger, CurrentStateKeepsTheLatestPerPurposeScopeAndChannel) {
  Ledger l;
  l.Add(ConsentStatus::kGranted, 10, Channel::kSms);
  l.Add(ConsentStatus::kWithdrawn, 20, Channel::kSms);
  l.Add(ConsentStatus::kGranted, 15, Channel::kEmail);
  auto current = CurrentState(l.records, 100);
  ASSERT_EQ(current.size(), 2u);
  for (const auto& r : current) {
    EXPECT_EQ(r.status,
              r.channel == Channel::kSms ? ConsentStatus::kWithdrawn : ConsentStatus::kGranted);
  }
}

TEST(ConsentNames, ParseAndNameRoundTrip) {
  EXPECT_EQ(ChannelName(ParseChannel("wechat").value()), "wechat");
  EXPECT_EQ(StatusName(ParseStatus("objected").value()), "objected");
  EXPECT_EQ(ScopeName(ParseScope("transfer").value()), "transfer");
  auto bad = ParseChannel("fax");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("sms"), std::string::npos);
}

}  // namespace
}  // namespace portrait::consent
