// Audit integrity against a real portraitd: the log exported over HTTP verifies
// offline with the public key alone, and an edit anywhere fails naming the record; a chain
// rebuilt with the database key is found by the daemon; a reload that can't be audited doesn't
// take effect; a legal hold is placed and lifted through the API and the CLI, audited.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "config/loader.h"
#include "crypto/audit_signer.h"
#include "store/audit_chain.h"
#include "store/data_dir.h"
#include "store/sqlcipher/sqlite.h"
#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::BinDir;
using testing::Daemon;
using testing::HttpResult;
using testing::RunCommand;

class AuditExport : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon_.Start());
    for (int i = 0; i < 5; ++i) {
      const std::string id = "/v1/profiles/c" + std::to_string(i);
      ASSERT_EQ(daemon_.Admin("PUT", id, R"({"fields":{"name":"N","city":"C"}})").status, 201);
      ASSERT_EQ(daemon_.Admin("GET", id).status, 200);
    }
  }
  std::string Ctl(const std::string& args) {
    return BinDir() + "/portraitctl " + args + " --config " + daemon_.config_path() +
           " --url http://127.0.0.1:" + std::to_string(daemon_.port());
  }
  std::string PublicKey() {
    std::string out;
    EXPECT_EQ(RunCommand(BinDir() + "/portraitctl audit pubkey --config " + daemon_.config_path(),
                         &out),
              0)
        << out;
    return out.substr(0, out.find('\n'));
  }
  // `portraitctl audit verify` on `text`: the exit code, and its output in `out`.
  int Verify(const std::string& text, std::string* out) {
    const std::string path = daemon_.dir() / "edited.jsonl";
    testing::WriteFile(path, text);
    return RunCommand(BinDir() + "/portraitctl audit verify --file " + path + " --pubkey " +
                          PublicKey() + " 2>&1",
                      out);
  }
  // The database with its derived key, as an attacker holding that key would open it.
  Result<store::sqlite::Db> OpenDatabase() {
    auto config = config::LoadConfig(daemon_.config_path());
    if (!config) {
      return Error(config.error());
    }
    PORTRAIT_ASSIGN_OR_RETURN(store::DataDir data, store::OpenDataDir(*config));
    return store::sqlite::Db::Open(config->daemon.data_dir + "/portrait.db",
                                   data.keys.portrait_db_key(), false, 2);
  }

  Daemon daemon_;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    out += l + "\n";
  }
  return out;
}

TEST_F(AuditExport, AnExportFromTheDaemonVerifiesOfflineAndAnEditAnywhereIsNamed) {
  const std::string path = daemon_.dir() / "audit.jsonl";
  std::string out;
  ASSERT_EQ(RunCommand(Ctl("audit export --out " + path) + " 2>&1", &out), 0) << out;
  const std::string text = testing::ReadFile(path);
  const std::vector<std::string> lines = Lines(text);
  ASSERT_GT(lines.size(), 12u);
  out.clear();
  ASSERT_EQ(Verify(text, &out), 0) << out;
  EXPECT_NE(out.find("ok: "), std::string::npos) << out;
  // The export holds its own audit record, under the signed head.
  EXPECT_NE(lines.back().find("audit.export"), std::string::npos) << lines.back();

  const json last = json::parse(lines.back());
  const int64_t head = last["seq"];
  // A record's field (record 3: the line after the header and the checkpoints).
  size_t first_record = 1;
  while (lines[first_record].find("\"kind\":\"record\"") == std::string::npos) {
    ++first_record;
  }
  auto record = lines;
  record[first_record + 2][record[first_record + 2].find("\"actor\":\"") + 9] ^= 0x01;
  out.clear();
  EXPECT_EQ(Verify(Join(record), &out), 1);
  EXPECT_NE(out.find("BROKEN at record 3:"), std::string::npos) << out;
  // The last checkpoint's signature.
  auto checkpoint = lines;
  std::string& c = checkpoint[first_record - 1];
  char& digit = c[c.find("\"signature\":\"") + 13];
  digit = digit == 'a' ? 'b' : 'a';
  out.clear();
  EXPECT_EQ(Verify(Join(checkpoint), &out), 1);
  EXPECT_NE(out.find("BROKEN at record " + std::to_string(head) + ":"), std::string::npos) << out;
  // The header's signed head.
  auto header = lines;
  header[0][header[0].find("\"time_us\":") + 11] ^= 0x01;
  out.clear();
  EXPECT_EQ(Verify(Join(header), &out), 1);
  EXPECT_NE(out.find("BROKEN at record " + std::to_string(head) + ":"), std::string::npos) << out;
  // The last two records cut off.
  auto cut = lines;
  cut.resize(cut.size() - 2);
  out.clear();
  EXPECT_EQ(Verify(Join(cut), &out), 1);
  EXPECT_NE(out.find("BROKEN at record " + std::to_string(head - 1) + ":"), std::string::npos)
      << out;

  // The independent verifier agrees.
  out.clear();
  const std::string script =
      std::string(PORTRAIT_SOURCE_DIR) + "/tests/store/verify_audit_export.py";
  EXPECT_EQ(RunCommand("/usr/bin/python3 " + script + " " + path + " " + PublicKey() + " 2>&1",
                       &out),
            0)
      << out;
}

TEST_F(AuditExport, NeedsAuditRead) {
  const std::string marketer = daemon_.CreateToken("m1", "marketer");
  HttpResult r = daemon_.client().Send(
      "GET", "/v1/audit/export", "",
      {{"Authorization", "Bearer " + marketer}, {"X-Purpose", "marketing"}});
  EXPECT_EQ(r.status, 403) << r.body;
}

// Issue 12: with the database key alone, deleting the checkpoints and recomputing the unkeyed
// chain went unnoticed.
TEST_F(AuditExport, AChainRebuiltWithTheDatabaseKeyIsFoundByTheDaemon) {
  ASSERT_EQ(daemon_.Stop(), 0);
  {
    auto db = OpenDatabase();
    ASSERT_TRUE(db) << db.error().ToString();
    std::vector<store::AuditRecord> records;
    {
      store::sqlite::Stmt s(*db,
                            "SELECT seq, time_us, actor, action, profile_id, purpose, detail "
                            "FROM audit ORDER BY seq;");
      while (s.Step().value_or(false)) {
        records.push_back(store::AuditRecord{
            s.Int(0), store::AuditEntry{s.Int(1), s.Text(2), s.Text(3), s.Int(4), s.Text(5),
                                        s.Text(6)}, "", ""});
      }
    }
    ASSERT_GT(records.size(), 6u);
    records[5].entry.action = "profile.erase";  // record 6: an erasure that never was
    std::string prev = store::GenesisHash();
    std::string sql = "DELETE FROM audit_checkpoints;";
    for (auto& r : records) {
      r.hash = store::ChainHash(prev, r.seq, r.entry);
      prev = r.hash;
      sql += "UPDATE audit SET action = '" + r.entry.action + "', hash = x'" +
             crypto::ToHex(r.hash) + "' WHERE seq = " + std::to_string(r.seq) + ";";
    }
    ASSERT_TRUE(db->Exec(sql).ok());
  }
  ASSERT_TRUE(daemon_.Start());
  HttpResult v = daemon_.Admin("GET", "/v1/audit/verify");
  ASSERT_EQ(v.status, 200) << v.body;
  EXPECT_EQ(v.json()["ok"], false) << v.body;
  EXPECT_EQ(v.json()["first_bad_seq"], 6) << v.body;
}

// Issue 12: the reload swapped the config before its audit record was written.
TEST_F(AuditExport, AReloadThatCannotBeAuditedDoesNotTakeEffect) {
  const std::string new_role = R"({"name": "ops-bot", "role": "reporter"})";
  {
    std::ofstream config(daemon_.config_path(), std::ios::app);
    config << "\n[[role]]\nname = \"reporter\"\npurposes = [\"service\"]\ncan = [\"audit.read\"]\n";
  }
  auto db = OpenDatabase();
  ASSERT_TRUE(db) << db.error().ToString();
  ASSERT_TRUE(db->Exec("BEGIN IMMEDIATE;").ok());  // every write waits, then fails
  daemon_.Signal(SIGHUP);
  const bool refused = daemon_.WaitForLog("reload refused", 30);
  ASSERT_TRUE(db->Exec("ROLLBACK;").ok());
  ASSERT_TRUE(refused) << daemon_.Log();
  EXPECT_NE(daemon_.Log().find("cannot audit the reload"), std::string::npos) << daemon_.Log();
  HttpResult created = daemon_.Admin("POST", "/v1/tokens", new_role);
  EXPECT_EQ(created.status, 422) << "the new config took effect unaudited: " << created.body;
  // Once the log can be written, the same reload goes through, audited.
  daemon_.Signal(SIGHUP);
  ASSERT_TRUE(daemon_.WaitForLog("config and rules reloaded")) << daemon_.Log();
  EXPECT_EQ(daemon_.Admin("POST", "/v1/tokens", new_role).status, 201);
}

TEST_F(AuditExport, ALegalHoldIsPlacedAndLiftedThroughTheApiAndTheCliAudited) {
  const std::string marketer = daemon_.CreateToken("m1", "marketer");
  HttpResult denied = daemon_.client().Send(
      "PUT", "/v1/profiles/c1/hold", R"({"reason":"case 17"})",
      {{"Authorization", "Bearer " + marketer}, {"X-Purpose", "marketing"}});
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_EQ(daemon_.Admin("PUT", "/v1/profiles/nobody/hold", "{}").status, 404);

  HttpResult placed = daemon_.Admin("PUT", "/v1/profiles/c1/hold", R"({"reason":"case 17"})");
  ASSERT_EQ(placed.status, 200) << placed.body;
  EXPECT_EQ(placed.json()["legal_hold"], true);
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c1/export").json()["legal_hold"], true);
  HttpResult erase = daemon_.Admin("DELETE", "/v1/profiles/c1");
  EXPECT_EQ(erase.status, 409) << erase.body;

  const json audit = daemon_.Admin("GET", "/v1/audit?limit=10000").json()["records"];
  std::map<std::string, json> by_action;
  for (const json& r : audit) {
    by_action[r["action"]] = r;
  }
  ASSERT_TRUE(by_action.count("legal_hold.place")) << audit.dump();
  EXPECT_EQ(by_action["legal_hold.place"]["detail"]["reason"], "case 17");
  ASSERT_TRUE(by_action.count("profile.erase.refused")) << audit.dump();
  EXPECT_EQ(by_action["profile.erase.refused"]["profile_id"],
            by_action["legal_hold.place"]["profile_id"]);

  std::string out;
  ASSERT_EQ(RunCommand(Ctl("profiles unhold c1 --purpose service") + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("legal hold lifted"), std::string::npos) << out;
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c1/export").json()["legal_hold"], false);
  out.clear();
  ASSERT_EQ(RunCommand(Ctl("profiles hold c2 --reason 'case 18' --purpose service") + " 2>&1", &out),
            0)
      << out;
  EXPECT_EQ(daemon_.Admin("DELETE", "/v1/profiles/c2").status, 409);
  EXPECT_EQ(daemon_.Admin("DELETE", "/v1/profiles/c1").status, 200);
}

}  // namespace
}  // namespace portrait
