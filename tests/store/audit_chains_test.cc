// Several nodes' audit chains in one PostgreSQL store (docs/DECISIONS.md 168): each node appends
// to and checkpoints its own chain, any node's Verify walks every chain, naming the node of the
// first broken one, and any node's export holds every chain, which the offline verifiers check
// (DECISIONS 174). On the test binary's own server.
#include <gtest/gtest.h>

#include <sstream>

#include "base/clock.h"
#include "crypto/audit_signer.h"
#include "store/audit_chain.h"
#include "store/audit_log.h"
#include "store/postgres/pg.h"
#include "store/postgres/postgres_store.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_support.h"

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

  // Verifies an export offline with the C++ verifier and the independent Python one; returns
  // the C++ result and sets `python` to the script's output.
  AuditVerification VerifyOffline(const std::string& text, std::string& python) {
    std::istringstream in(text);
    auto v = VerifyAuditExport(in, signer_.public_key());
    EXPECT_TRUE(v) << v.error().ToString();
    const std::string path = dir_ / "audit.jsonl";
    portrait::testing::WriteFile(path, text);
    python.clear();
    portrait::testing::RunCommand("/usr/bin/python3 " + std::string(PORTRAIT_SOURCE_DIR) +
                                      "/tests/store/verify_audit_export.py " + path + " " +
                                      crypto::ToHex(signer_.public_key()) + " 2>&1",
                                  &python);
    return v ? *v : AuditVerification{false, 0, 0, 0, "unreadable"};
  }

  static void Append(AuditLog& log, int n) {
    std::vector<AuditEntry> entries;
    for (int i = 0; i < n; ++i) {
      entries.push_back(AuditEntry{1000 + i, "system", "profile.read", 42 + i, "care", "{}"});
    }
    ASSERT_TRUE(log.Append(std::move(entries)).ok());
  }

  portrait::testing::TempDir dir_;
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

TEST_F(AuditChainsTest, AnyNodesExportHoldsEveryChainUnderOneSignedHeader) {
  AuditLog log_a(*a_, signer_, mac_key_, clock_, {/*every=*/10});
  AuditLog log_b(*b_, signer_, mac_key_, clock_, {/*every=*/10});
  Append(log_a, 12);
  Append(log_b, 7);  // node-b's last 7 records: no checkpoint of its own yet
  std::ostringstream exported;
  ASSERT_TRUE(log_a.Export(exported).ok());
  const std::string text = exported.str();
  EXPECT_NE(text.find("\"format\":\"portrait-audit-v3\""), std::string::npos);
  std::string python;
  AuditVerification v = VerifyOffline(text, python);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records, 19);
  EXPECT_EQ(v.checkpoints, 1);  // node-a's at 12; node-b's 7 records are vouched by the header
  EXPECT_NE(python.find("ok 19"), std::string::npos) << python;

  std::vector<std::string> lines;
  std::istringstream split(text);
  for (std::string line; std::getline(split, line);) {
    lines.push_back(line);
  }
  auto join = [](const std::vector<std::string>& kept) {
    std::string out;
    for (const std::string& l : kept) {
      out += l + "\n";
    }
    return out;
  };
  // node-b's chain left out: its signed head names records the file no longer holds.
  std::vector<std::string> without_b;
  for (const std::string& l : lines) {
    if (l.find("\"node\":\"node-b\"") == std::string::npos ||
        l.find("\"kind\":\"header\"") != std::string::npos) {
      without_b.push_back(l);
    }
  }
  ASSERT_EQ(without_b.size(), lines.size() - 7);
  v = VerifyOffline(join(without_b), python);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.problem.find("node node-b: "), std::string::npos) << v.problem;
  EXPECT_EQ(python.find("ok "), std::string::npos) << python;

  // A record of node-b's chain altered in the file: named by node, in both verifiers.
  std::vector<std::string> altered = lines;
  for (std::string& l : altered) {
    if (l.find("\"node\":\"node-b\"") != std::string::npos &&
        l.find("\"seq\":3,") != std::string::npos) {
      l.replace(l.find("profile.read"), 12, "profile.reaD");
    }
  }
  v = VerifyOffline(join(altered), python);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 3);
  EXPECT_NE(v.problem.find("node node-b: "), std::string::npos) << v.problem;
  EXPECT_NE(python.find("node node-b: record 3 altered"), std::string::npos) << python;

  // The header's list of chains edited (node-b dropped from it): its signature fails.
  std::vector<std::string> edited = without_b;
  const size_t at = edited[0].find(",{\"head_hash\"");
  ASSERT_NE(at, std::string::npos) << edited[0];
  edited[0].erase(at, edited[0].find('}', at) - at + 1);
  v = VerifyOffline(join(edited), python);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.problem.find("invalid signature"), std::string::npos) << v.problem;
  EXPECT_NE(python.find("bad signature on the header"), std::string::npos) << python;
}

// Another node's records after its last checkpoint rewritten in the database, hashes
// recomputed (what the database role alone can do; the MAC is what it can't): the export checks
// every chain before its header vouches for it, and refuses, naming the node.
TEST_F(AuditChainsTest, AnExportVouchesForNoChainThatFailsItsMacs) {
  AuditLog log_a(*a_, signer_, mac_key_, clock_, {/*every=*/10});
  AuditLog log_b(*b_, signer_, mac_key_, clock_, {/*every=*/10});
  Append(log_a, 12);
  Append(log_b, 7);  // no checkpoint of node-b's yet
  auto records = b_->ReadAuditOf("node-b", 0, 100).value();
  ASSERT_EQ(records.size(), 7u);
  AuditEntry forged = records[6].entry;
  forged.action = "profile.erase";
  const std::string hash = ChainHash(records[5].hash, 7, forged);
  pg::Connection db = pg::Connection::Open(dbs_.url, &server_->password()).value();
  ASSERT_TRUE(db.Exec("UPDATE audit SET action = 'profile.erase', hash = decode('" +
                      crypto::ToHex(hash) + "', 'hex') WHERE node = 'node-b' AND seq = 7;")
                  .ok());
  EXPECT_FALSE(log_a.Verify().value().ok);
  std::ostringstream exported;
  Status s = log_a.Export(exported);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("node node-b's audit chain does not verify"), std::string::npos)
      << s.message();
  EXPECT_EQ(exported.str(), "") << "nothing written";
}

}  // namespace
}  // namespace portrait::store
