#include "store/token_registry.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace portrait::store {
namespace {

class TokenRegistryTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  config::Config config_ = testing::WriteTestConfig(dir_);
  DataDir data_ = InitDataDir(config_).value();
  crypto::BlindIndex hasher_ = crypto::BlindIndex::Create(data_.keys.token_key(), 32).value();
  FakeClock clock_{TimePoint(std::chrono::seconds(1'700'000'000))};
  crypto::AuditSigner signer_ = crypto::AuditSigner::Create(data_.keys.audit_seed()).value();
  AuditLog audit_{*data_.store, signer_, data_.keys.audit_mac_key(), clock_, {/*every=*/2}};
  TokenRegistry tokens_{*data_.store, audit_, hasher_, clock_};
};

TEST_F(TokenRegistryTest, CreationsAndRevocationsAreCheckpointedLikeEveryAuditedWrite) {
  ASSERT_TRUE(tokens_.Create("a", "admin", "system"));
  EXPECT_TRUE(data_.store->GetCheckpoints().value().empty());  // one record: not due yet
  ASSERT_TRUE(tokens_.Create("b", "admin", "system"));
  auto checkpoints = data_.store->GetCheckpoints().value();
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ(checkpoints[0].seq, 2);
  ASSERT_TRUE(tokens_.Revoke("a", "system").ok());
  ASSERT_TRUE(tokens_.Revoke("b", "system").ok());
  EXPECT_EQ(data_.store->GetCheckpoints().value().back().seq, 4);
  EXPECT_TRUE(audit_.Verify().value().ok);
}

TEST_F(TokenRegistryTest, CreateTokenWorksOnADataDirectoryNoDaemonHasOpen) {
  auto token = CreateToken(data_, "init", "admin", "system:init", clock_);
  ASSERT_TRUE(token) << token.error().ToString();
  EXPECT_EQ(tokens_.Authenticate(*token).value().name, "init");
  auto records = data_.store->ReadAudit(0, 10).value();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].entry.action, "token.create");
}

TEST_F(TokenRegistryTest, CreateAuthenticateListRevoke) {
  auto token = tokens_.Create("crm-sync", "admin", "system");
  ASSERT_TRUE(token) << token.error().ToString();
  EXPECT_TRUE(token->starts_with("ptk_"));
  EXPECT_EQ(token->size(), 4u + 43u);
  clock_.Advance(std::chrono::seconds(5));
  auto who = tokens_.Authenticate(*token);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->name, "crm-sync");
  EXPECT_EQ(who->role, "admin");

  auto list = tokens_.List().value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_TRUE(list[0].digest.empty());  // never handed out
  EXPECT_EQ(list[0].last_used_us, clock_.NowUs());

  EXPECT_EQ(tokens_.Create("crm-sync", "admin", "system").error().code(), Status::Code::kConflict);
  ASSERT_TRUE(tokens_.Revoke("crm-sync", "system").ok());
  EXPECT_EQ(tokens_.Authenticate(*token).error().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(tokens_.Revoke("crm-sync", "system").code(), Status::Code::kNotFound);
  EXPECT_TRUE(tokens_.Create("crm-sync", "admin", "system"));  // the name is free again

  auto audit = data_.store->ReadAudit(0, 10).value();
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[0].entry.action, "token.create");
  EXPECT_EQ(audit[1].entry.action, "token.revoke");
  for (const auto& r : audit) {
    EXPECT_EQ(r.entry.detail.find("ptk_"), std::string::npos);
  }
}

TEST_F(TokenRegistryTest, WrongOrMalformedTokensAreRefused) {
  std::string token = tokens_.Create("a", "admin", "system").value();
  std::string wrong = token;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(tokens_.Authenticate(wrong).error().code(), Status::Code::kPermissionDenied);
  EXPECT_FALSE(tokens_.Authenticate(""));
  EXPECT_FALSE(tokens_.Authenticate("ptk_"));
  EXPECT_FALSE(tokens_.Create("bad name", "admin", "system"));
}

TEST_F(TokenRegistryTest, TheSecretNeverReachesDisk) {
  std::string token = tokens_.Create("a", "admin", "system").value();
  data_.store.reset();
  for (const auto& file : testing::ListFiles(dir_.path())) {
    EXPECT_EQ(testing::ReadFile(file).find(token.substr(4)), std::string::npos) << file;
  }
}

}  // namespace
}  // namespace portrait::store
