// The audit log on a real SQLCipher store: tampering of every kind is found and named, an
// untouched chain of 100,000 records verifies, and an export verifies offline with the public
// key alone — by this code and by an independent Python implementation.
#include "store/audit_log.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "store/audit_chain.h"
#include "store/data_dir.h"
#include "store/sqlcipher/sqlite.h"
#include "tests/support/faulty_store.h"
#include "tests/support/test_support.h"

namespace portrait::store {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void Append(int n) {
    std::vector<AuditEntry> entries;
    for (int i = 0; i < n; ++i) {
      entries.push_back(AuditEntry{1000 + i, "token:t role:admin", "profile.read", 42 + i,
                                   "marketing", R"({"clear":["name"],"masked":["phone"]})"});
    }
    ASSERT_TRUE(log_.Append(std::move(entries)).ok());
  }
  // Runs `sql` on portrait.db through a second connection, as an attacker with the key would.
  void Tamper(const std::string& sql) {
    auto db = sqlite::Db::Open(config_.daemon.data_dir + "/portrait.db",
                               data_.keys.portrait_db_key(), false, 2);
    ASSERT_TRUE(db) << db.error().ToString();
    ASSERT_TRUE(db->Exec(sql).ok());
  }
  AuditVerification Verify() { return log_.Verify().value(); }
  std::string Export() {
    std::ostringstream out;
    EXPECT_TRUE(log_.Export(out).ok());
    return out.str();
  }
  AuditVerification VerifyText(const std::string& text) {
    std::istringstream in(text);
    auto v = VerifyAuditExport(in, signer_.public_key());
    EXPECT_TRUE(v) << v.error().ToString();
    return v ? *v : AuditVerification{};
  }
  static std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      out.push_back(line);
    }
    return out;
  }
  static std::string Join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) {
      out += l + "\n";
    }
    return out;
  }
  // The index of the export line holding record `seq`.
  static size_t LineOf(const std::vector<std::string>& lines, int seq) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].find("\"kind\":\"record\"") != std::string::npos &&
          lines[i].find("\"seq\":" + std::to_string(seq) + ",") != std::string::npos) {
        return i;
      }
    }
    ADD_FAILURE() << "no line for record " << seq;
    return 0;
  }

  testing::TempDir dir_;
  config::Config config_ = testing::WriteTestConfig(dir_);
  DataDir data_ = InitDataDir(config_).value();
  crypto::AuditSigner signer_ = crypto::AuditSigner::Create(data_.keys.audit_seed()).value();
  FakeClock clock_{TimePoint(std::chrono::seconds(1'700'000'000))};
  AuditLog log_{*data_.store, signer_, data_.keys.audit_mac_key(), clock_, {/*every=*/10}};
};

TEST_F(AuditLogTest, AnUntouchedChainOf100000RecordsVerifiesInStoreAndExport) {
  for (int i = 0; i < 100; ++i) {
    Append(1000);
  }
  AuditVerification v = Verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records, 100000);
  EXPECT_GE(v.checkpoints, 100);
  AuditVerification offline = VerifyText(Export());
  EXPECT_TRUE(offline.ok) << offline.problem;
  EXPECT_EQ(offline.records, 100000);
}

TEST_F(AuditLogTest, AlteringARecordInTheDatabaseIsNamed) {
  Append(50);
  ASSERT_TRUE(Verify().ok);
  Tamper(
      "UPDATE audit SET detail = '{\"clear\":[\"name\"],\"masked\":[\"phonf\"]}' WHERE seq = 17;");
  AuditVerification v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 17) << v.problem;
}

TEST_F(AuditLogTest, DeletingSwappingAndTruncatingInTheDatabaseAreNamed) {
  Append(50);
  Tamper("UPDATE audit SET profile_id = 7 WHERE seq = 40;");
  EXPECT_EQ(Verify().first_bad_seq, 40);
  Tamper("UPDATE audit SET profile_id = 42 + 40 - 1 WHERE seq = 40;");  // restore
  ASSERT_TRUE(Verify().ok) << Verify().problem;

  // Swap the contents (with their hashes) of records 30 and 31.
  Tamper(
      "UPDATE audit SET seq = -30 WHERE seq = 30; UPDATE audit SET seq = 30 WHERE seq = 31;"
      "UPDATE audit SET seq = 31 WHERE seq = -30;");
  EXPECT_EQ(Verify().first_bad_seq, 30) << Verify().problem;
  Tamper(
      "UPDATE audit SET seq = -30 WHERE seq = 30; UPDATE audit SET seq = 30 WHERE seq = 31;"
      "UPDATE audit SET seq = 31 WHERE seq = -30;");
  ASSERT_TRUE(Verify().ok);

  Tamper("DELETE FROM audit WHERE seq = 23;");
  AuditVerification deleted = Verify();
  EXPECT_EQ(deleted.first_bad_seq, 23) << deleted.problem;
}

TEST_F(AuditLogTest, TruncatingTheTailIsFoundAgainstTheLastSignedCheckpoint) {
  Append(50);
  Tamper("DELETE FROM audit WHERE seq > 44;");
  AuditVerification v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 45) << v.problem;
}

TEST_F(AuditLogTest, RebuildingTheChainAfterAnEditIsCaughtByTheSignedCheckpoint) {
  for (int i = 0; i < 10; ++i) {
    Append(5);  // checkpoints at 10, 20, 30, 40, 50
  }
  ASSERT_EQ(data_.store->GetCheckpoints().value().size(), 5u);
  // Alter record 33 and recompute every later hash, as an attacker without the signing key can.
  auto records = data_.store->ReadAudit(0, 100).value();
  records[32].entry.action = "profile.write";
  std::string prev = records[31].hash;
  std::string sql;
  for (size_t i = 32; i < records.size(); ++i) {
    records[i].hash = ChainHash(prev, records[i].seq, records[i].entry);
    prev = records[i].hash;
    sql += "UPDATE audit SET action = '" + records[i].entry.action + "', hash = x'" +
           crypto::ToHex(records[i].hash) + "' WHERE seq = " + std::to_string(records[i].seq) + ";";
  }
  Tamper(sql);
  AuditVerification v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 33) << v.problem;  // its MAC no longer matches
}

// Issue 12: whoever held the database key could delete the checkpoints and recompute the
// (unkeyed) chain, and the log verified. The records' MACs need the master key.
TEST_F(AuditLogTest, DeletingCheckpointsAndRebuildingTheChainWithTheDatabaseKeyIsFound) {
  for (int i = 0; i < 5; ++i) {
    Append(5);  // checkpoints at 10 and 20
  }
  ASSERT_EQ(data_.store->GetCheckpoints().value().size(), 2u);
  auto records = data_.store->ReadAudit(0, 100).value();
  records[4].entry.action = "profile.write";  // record 5
  std::string prev = GenesisHash();
  std::string sql = "DELETE FROM audit_checkpoints;";
  for (auto& r : records) {
    r.hash = ChainHash(prev, r.seq, r.entry);
    prev = r.hash;
    sql += "UPDATE audit SET action = '" + r.entry.action + "', hash = x'" + crypto::ToHex(r.hash) +
           "' WHERE seq = " + std::to_string(r.seq) + ";";
  }
  Tamper(sql);
  AuditVerification v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 5) << v.problem;
  EXPECT_NE(v.problem.find("MAC"), std::string::npos) << v.problem;
  // Dropping the MACs as well (as on records written before them) doesn't help: no signed
  // checkpoint covers those records any more.
  Tamper("UPDATE audit SET mac = x'';");
  AuditVerification unmacked = Verify();
  EXPECT_FALSE(unmacked.ok);
  EXPECT_EQ(unmacked.first_bad_seq, 1) << unmacked.problem;
}

TEST_F(AuditLogTest, DeletingACheckpointBreaksTheNextOnesSignedLink) {
  for (int i = 0; i < 7; ++i) {
    Append(5);  // checkpoints at 10, 20, 30
  }
  Tamper("DELETE FROM audit_checkpoints WHERE seq = 20;");
  AuditVerification v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 20) << v.problem;
  EXPECT_NE(v.problem.find("missing"), std::string::npos) << v.problem;
}

TEST_F(AuditLogTest, RecordsWithoutAMacVerifyOnlyUnderASignedCheckpoint) {
  // As after an upgrade: the records written before the MAC existed carry none.
  Append(10);  // a checkpoint at 10
  Append(2);
  Tamper("UPDATE audit SET mac = x'' WHERE seq <= 10;");
  EXPECT_TRUE(Verify().ok) << Verify().problem;
  Tamper("UPDATE audit SET mac = x'' WHERE seq = 11;");
  AuditVerification v = Verify();
  EXPECT_EQ(v.first_bad_seq, 11) << v.problem;
}

TEST_F(AuditLogTest, TheHeadIsSignedAfterTheIntervalEvenBelowTheCount) {
  AuditLog log{*data_.store,
               signer_,
               data_.keys.audit_mac_key(),
               clock_,
               {/*every=*/1000, std::chrono::seconds(60)}};
  ASSERT_TRUE(log.Append({AuditEntry{1, "system", "test", 0, "", "{}"}}).ok());
  EXPECT_TRUE(data_.store->GetCheckpoints().value().empty());
  clock_.Advance(std::chrono::seconds(61));
  ASSERT_TRUE(log.Append({AuditEntry{2, "system", "test", 0, "", "{}"}}).ok());
  auto checkpoints = data_.store->GetCheckpoints().value();
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ(checkpoints[0].seq, 2);
}

TEST_F(AuditLogTest, ACheckpointThatFailsAfterItsCommitIsRetriedNotReportedAsTheCommits) {
  testing::FaultyStore faulty(*data_.store);
  AuditLog log{faulty, signer_, data_.keys.audit_mac_key(), clock_, {/*every=*/1}};
  faulty.fail_checkpoints = true;
  Batch batch;
  batch.audit.push_back(AuditEntry{1, "system", "test", 0, "", "{}"});
  // The batch is stored: a caller told otherwise would undo it (an import destroys the keys of
  // the profiles it just created).
  ASSERT_TRUE(log.Commit(batch));
  EXPECT_EQ(data_.store->AuditHead().value().first, 1);
  EXPECT_TRUE(data_.store->GetCheckpoints().value().empty());
  faulty.fail_checkpoints = false;
  ASSERT_TRUE(log.Commit(batch));
  auto checkpoints = data_.store->GetCheckpoints().value();
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ(checkpoints[0].seq, 2);
  EXPECT_TRUE(Verify().ok) << Verify().problem;
}

TEST_F(AuditLogTest, EveryByteOfAnExportIsProtected) {
  Append(10);  // checkpoints at 10 and (the export's) 12
  Append(2);
  const auto lines = Lines(Export());
  ASSERT_TRUE(VerifyText(Join(lines)).ok);
  for (size_t at = 0; at < lines.size(); ++at) {
    for (size_t byte = 0; byte < lines[at].size(); ++byte) {
      auto altered = lines;
      altered[at][byte] ^= 0x01;
      std::istringstream in(Join(altered));
      auto v = VerifyAuditExport(in, signer_.public_key());
      ASSERT_TRUE(!v || !v->ok) << "line " << at + 1 << " byte " << byte << ": " << altered[at];
    }
  }
  // Named: a checkpoint's signature, the header's signed head.
  auto checkpoint = lines;
  char& digit = checkpoint[1][checkpoint[1].find("\"signature\":\"") + 13];
  digit = digit == 'a' ? 'b' : 'a';
  EXPECT_EQ(VerifyText(Join(checkpoint)).first_bad_seq, 10);
  auto header = lines;
  header[0].replace(header[0].find("\"time_us\":") + 10, 1, "9");
  AuditVerification v = VerifyText(Join(header));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 12) << v.problem;
}

// A header turned into v1 (which had no signed head) would switch the head check off; an
// upper-case hex digit would decode to the same bytes. Both are refused.
TEST_F(AuditLogTest, NeitherADowngradedHeaderNorARespelledHashVerifies) {
  Append(3);
  const auto lines = Lines(Export());
  ASSERT_TRUE(VerifyText(Join(lines)).ok);
  auto downgraded = lines;
  const size_t v2 = downgraded[0].find("portrait-audit-v2");
  ASSERT_NE(v2, std::string::npos);
  downgraded[0].replace(v2, 17, "portrait-audit-v1");
  std::istringstream in(Join(downgraded));
  auto v = VerifyAuditExport(in, signer_.public_key());
  EXPECT_TRUE(!v || !v->ok);
  auto upper = lines;
  const size_t hash = upper.back().find("\"hash\":\"") + 8;
  for (size_t i = hash; i < upper.back().size() && upper.back()[i] != '"'; ++i) {
    upper.back()[i] = static_cast<char>(std::toupper(upper.back()[i]));
  }
  EXPECT_FALSE(VerifyText(Join(upper)).ok);
}

// Cutting the last records together with the checkpoints that vouch for them leaves a
// consistent-looking prefix; the export's signed head still names the true end.
TEST_F(AuditLogTest, CuttingAnExportsTailWithItsCheckpointsIsFound) {
  for (int i = 0; i < 5; ++i) {
    Append(5);  // checkpoints at 10, 20 and (the export's) 25
  }
  auto lines = Lines(Export());
  std::vector<std::string> cut;
  for (const auto& l : lines) {
    const bool late_checkpoint = l.find("\"kind\":\"checkpoint\"") != std::string::npos &&
                                 l.find("\"seq\":10,") == std::string::npos;
    if (!late_checkpoint) {
      cut.push_back(l);
    }
  }
  cut.resize(cut.size() - 15);  // records 11..25
  AuditVerification v = VerifyText(Join(cut));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 11) << v.problem;
}

TEST_F(AuditLogTest, EveryByteOfAnExportedRecordIsProtected) {
  Append(60);
  const auto lines = Lines(Export());
  for (int seq : {1, 17, 60}) {
    const size_t at = LineOf(lines, seq);
    for (size_t byte = 0; byte < lines[at].size(); ++byte) {
      auto altered = lines;
      altered[at][byte] ^= 0x01;
      AuditVerification v = VerifyText(Join(altered));
      ASSERT_FALSE(v.ok) << "record " << seq << " byte " << byte << ": " << altered[at];
      ASSERT_EQ(v.first_bad_seq, seq) << v.problem;
    }
  }
}

TEST_F(AuditLogTest, DeletingSwappingAndTruncatingAnExportAreNamed) {
  Append(60);
  const auto lines = Lines(Export());
  ASSERT_TRUE(VerifyText(Join(lines)).ok);

  auto deleted = lines;
  deleted.erase(deleted.begin() + static_cast<long>(LineOf(lines, 23)));
  EXPECT_EQ(VerifyText(Join(deleted)).first_bad_seq, 23);

  auto swapped = lines;
  std::swap(swapped[LineOf(lines, 30)], swapped[LineOf(lines, 31)]);
  EXPECT_EQ(VerifyText(Join(swapped)).first_bad_seq, 30);

  auto truncated = lines;
  truncated.resize(LineOf(lines, 55));  // records 55..60 cut off
  AuditVerification v = VerifyText(Join(truncated));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 55) << v.problem;
}

TEST_F(AuditLogTest, AnExportVerifiesOnlyWithTheRightPublicKey) {
  Append(20);
  std::istringstream in(Export());
  auto other = crypto::AuditSigner::Create(crypto::SecretBytes::Random(32).value()).value();
  auto v = VerifyAuditExport(in, other.public_key());
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->ok);
  EXPECT_NE(v->problem.find("another public key"), std::string::npos) << v->problem;
  std::istringstream junk("not an export\n");
  EXPECT_FALSE(VerifyAuditExport(junk, signer_.public_key()));
}

// A v3 header (several nodes' chains) listing none is not an export, whoever signed it: with
// nothing to check, any header would pass. Nor is a header whose format is not text, and a
// number that is not whole is not read as one.
TEST_F(AuditLogTest, MalformedExportsAreRefusedNotRoundedOrThrown) {
  Append(35);
  ASSERT_TRUE(log_.Checkpoint().ok());
  const std::string exported = Export();
  ASSERT_TRUE(VerifyText(exported).ok);
  AuditVerification v =
      VerifyText(R"({"kind":"header","format":"portrait-audit-v3","public_key":"","chains":[],)"
                 R"("time_us":0,"signature":""})"
                 "\n");
  EXPECT_FALSE(v.ok);
  auto other =
      crypto::AuditSigner::Create(crypto::SecretBytes::CopyOf(std::string(32, 'x')).value())
          .value();
  const nlohmann::json forged{{"kind", "header"},
                              {"format", "portrait-audit-v3"},
                              {"public_key", crypto::ToHex(other.public_key())},
                              {"chains", nlohmann::json::array()},
                              {"time_us", 0},
                              {"signature", crypto::ToHex(other.Sign(ExportChainsMessage(0, {})))}};
  v = VerifyText(forged.dump() + "\n");
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.problem.find("lists no chain"), std::string::npos) << v.problem;
  auto lines = Lines(exported);
  lines[0] = forged.dump();
  EXPECT_FALSE(VerifyText(Join(lines)).ok);

  // A node name made to move a terminal's cursor is named quoted, never as it is.
  const nlohmann::json twice{{"node", "\x1b[2J"}, {"head_seq", 1}, {"head_hash", "00"}};
  nlohmann::json doubled = forged;
  doubled["chains"] = {twice, twice};
  v = VerifyText(doubled.dump() + "\n");
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.problem.find("\\u001b[2J"), std::string::npos) << v.problem;
  EXPECT_EQ(v.problem.find('\x1b'), std::string::npos);

  std::istringstream odd(R"({"kind":"header","format":5})"
                         "\n");
  auto read = VerifyAuditExport(odd, signer_.public_key());
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), Status::Code::kInvalidArgument);

  // Record 3's seq written as 3.0 and its profile with a fraction: unreadable, not rounded.
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\"seq\":3,", "\"seq\":3.0,"}, {"\"profile\":", "\"profile\":0.5e1,\"x\":"}}) {
    auto edited = Lines(exported);
    const size_t at = LineOf(edited, 3);
    const size_t where = edited[at].find(from);
    ASSERT_NE(where, std::string::npos) << edited[at];
    edited[at].replace(where, from.size(), to);
    v = VerifyText(Join(edited));
    EXPECT_FALSE(v.ok) << to;
    EXPECT_EQ(v.first_bad_seq, 3) << v.problem;
  }
}

TEST_F(AuditLogTest, ASecondImplementationAgrees) {
  Append(35);
  ASSERT_TRUE(log_.Checkpoint().ok());  // as at shutdown: the head is signed
  const std::string path = dir_ / "audit.jsonl";
  testing::WriteFile(path, Export());
  const std::string script =
      std::string(PORTRAIT_SOURCE_DIR) + "/tests/store/verify_audit_export.py";
  std::string out;
  int rc = testing::RunCommand("/usr/bin/python3 " + script + " " + path + " " +
                                   crypto::ToHex(signer_.public_key()) + " 2>&1",
                               &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("ok 35"), std::string::npos) << out;

  auto lines = Lines(Export());
  lines[LineOf(lines, 12)].replace(lines[LineOf(lines, 12)].find("profile.read"), 12,
                                   "profile.reaD");
  testing::WriteFile(path, Join(lines));
  out.clear();
  rc = testing::RunCommand("/usr/bin/python3 " + script + " " + path + " " +
                               crypto::ToHex(signer_.public_key()) + " 2>&1",
                           &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("record 12 altered"), std::string::npos) << out;
}

}  // namespace
}  // namespace portrait::store
