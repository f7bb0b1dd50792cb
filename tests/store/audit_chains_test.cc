// Several nodes' audit chains in one PostgreSQL store (docs/DECISIONS.md 168): each node appends
// to and checkpoints its own chain, and any node's Verify walks every chain, naming the node of
// the first broken one. On the test binary's own server.
#include <gtest/gtest.h>

#include "base/clock.h"
#include "crypto/audit_signer.h"
#include "store/audit_log.h"
#include "store/postgres/pg.h"
#include "store/postgres/postgres_store.h"
#include "tests/support/postgres_server.h"

namespace portrait::store {
namespace {

using testing::PostgresServer;

class AuditChainsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = PostgresServer::Shared();
    ASSERT_NE(server_, nullptr);
    dbs_ = server_->Fresh();
    a_ = Open("node-a", true);
    b_ = Open("node-b", false);
    ASSERT_TRUE(a_ && b_);
  }

  std::unique_ptr<Store> Open(const std::string& node, bool create) {
    PostgresOptions o;
    o.url = dbs_.url;
    o.keystore_url = dbs_.keystore_url;
    o.password = &server_->password();
    o.keystore_password = &server_->keystore_password();
    o.audit_mac_key = &mac_key_;
    o.create = create;
    o.readers = 1;
    o.node = node;
    auto store = OpenPostgresStore(o);
    EXPECT_TRUE(store) << store.error().ToString();
    return store ? std::move(*store) : nullptr;
  }

  static void Append(AuditLog& log, int n) {
    std::vector<AuditEntry> entries;
    for (int i = 0; i < n; ++i) {
      entries.push_back(AuditEntry{1000 + i, "system", "profile.read", 42 + i, "care", "{}"});
    }
    ASSERT_TRUE(log.Append(std::move(entries)).ok());
  }

  PostgresServer* server_ = nullptr;
  PostgresServer::Databases dbs_;
  crypto::SecretBytes mac_key_ = crypto::SecretBytes::CopyOf(std::string(32, 'm')).value();
  crypto::SecretBytes seed_ = crypto::SecretBytes::CopyOf(std::string(32, 's')).value();
  crypto::AuditSigner signer_ = crypto::AuditSigner::Create(seed_).value();
  FakeClock clock_{TimePoint(std::chrono::seconds(1'700'000'000))};
  std::unique_ptr<Store> a_;
  std::unique_ptr<Store> b_;
};

TEST_F(AuditChainsTest, EachNodeWritesItsOwnChainAndAnyNodeVerifiesThemAll) {
  AuditLog log_a(*a_, signer_, mac_key_, clock_, {/*every=*/10});
  AuditLog log_b(*b_, signer_, mac_key_, clock_, {/*every=*/10});
  Append(log_a, 25);
  Append(log_b, 15);
  Append(log_a, 5);
  ASSERT_TRUE(log_a.Checkpoint().ok());
  ASSERT_TRUE(log_b.Checkpoint().ok());
  EXPECT_EQ(a_->AuditHead().value().first, 30);  // each chain numbers its own records
  EXPECT_EQ(b_->AuditHead().value().first, 15);
  EXPECT_EQ(a_->AuditChains().value(), (std::vector<std::string>{"node-a", "node-b"}));
  for (AuditLog* log : {&log_a, &log_b}) {
    AuditVerification v = log->Verify().value();
    EXPECT_TRUE(v.ok) << v.problem;
    EXPECT_EQ(v.records, 45);
    EXPECT_EQ(v.checkpoints, 3);  // node-a signed at 25 and 30, node-b at 15
  }

  // A record of node-b's chain altered: node-a's verify names it.
  pg::Connection db = pg::Connection::Open(dbs_.url, &server_->password()).value();
  ASSERT_TRUE(
      db.Exec("UPDATE audit SET purpose = 'marketing' WHERE node = 'node-b' AND seq = 7;").ok());
  AuditVerification v = log_a.Verify().value();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 7);
  EXPECT_NE(v.problem.find("node node-b: "), std::string::npos) << v.problem;
}

}  // namespace
}  // namespace portrait::store
