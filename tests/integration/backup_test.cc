// `portraitctl backup create|restore` against a real portraitd: a backup taken while events
// pour in restores to a store that passes integrity_check with every event acknowledged before
// the backup began; a customer erased after the backup stays erased after a restore, from the
// live ledger file even when the live databases are gone; a damaged or half-written backup, or
// an altered ledger line, is refused with the live data untouched.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <regex>
#include <thread>

#include "config/loader.h"
#include "store/data_dir.h"
#include "store/erasure_ledger.h"
#include "store/sqlcipher/backup_files.h"
#include "store/sqlcipher/sqlcipher_store.h"
#include "tests/integration/daemon_harness.h"

namespace portrait::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct CtlRun {
  int code = 0;
  std::string out;
};

class Backups : public ::testing::Test {
 protected:
  void TearDown() override {
    if (daemon_.running()) {
      daemon_.Stop();
    }
  }

  CtlRun Ctl(const std::string& args) const {
    CtlRun run;
    run.code = RunCommand(
        BinDir() + "/portraitctl " + args + " --config " + daemon_.config_path() + " 2>&1",
        &run.out);
    return run;
  }
  std::string Live(const std::string& name = "") const { return daemon_.dir() / ("var/" + name); }
  std::string BackupDir(const std::string& name) const { return daemon_.dir() / name; }

  void PutCustomer(const std::string& id) {
    const std::string body =
        json{{"fields", {{"name", "Customer " + id}, {"email", id + "@example.com"}}}}.dump();
    ASSERT_EQ(daemon_.Admin("PUT", "/v1/profiles/" + id, body).status, 201);
  }
  // `integrity_check` of both live databases, with the keys of the config.
  void ExpectIntegrity() const {
    auto config = config::LoadConfig(daemon_.config_path()).value();
    auto keys = store::DataDirKeys(config, Live()).value();
    EXPECT_EQ(store::CheckIntegrity(Live(store::kPortraitDbName), keys.portrait_db_key()).value(),
              "ok");
    EXPECT_EQ(store::CheckIntegrity(Live(store::kKeystoreDbName), keys.keystore_db_key()).value(),
              "ok");
  }
  // Starts portraitd, puts customers c1 and c2, backs them up into "b1", runs `then` (what the
  // backup will not hold: an erasure, a merge) and stops portraitd.
  void BackUpTwoCustomersThen(const std::function<void()>& then) {
    ASSERT_TRUE(daemon_.Start());
    PutCustomer("c1");
    PutCustomer("c2");
    ASSERT_EQ(Ctl("backup create " + BackupDir("b1")).code, 0);
    then();
    ASSERT_EQ(daemon_.Stop(), 0);
  }
  void Erase(const std::string& id) {
    ASSERT_EQ(daemon_.Admin("DELETE", "/v1/profiles/" + id).status, 200);
  }
  json RestoreJson(const std::string& dir, const std::string& more = "") {
    CtlRun run = Ctl("backup restore " + dir + " --json" + more);
    EXPECT_EQ(run.code, 0) << run.out;
    return json::parse(run.out, nullptr, false);
  }

  Daemon daemon_;
};

// Posts batches of 20 events until stopped, on its own connection; remembers each batch
// acknowledged (202).
class Ingestion {
 public:
  Ingestion(int port, std::string token)
      : token_(std::move(token)), thread_([this, port] { Run(port); }) {}
  ~Ingestion() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  std::vector<json> Acknowledged() {
    std::lock_guard lock(mu_);
    return acked_;
  }
  size_t batches() {
    std::lock_guard lock(mu_);
    return acked_.size();
  }

 private:
  void Run(int port) {
    HttpClient client(port);
    const std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token_},
                                                        {"X-Purpose", "service"}};
    for (int batch = 0; !stop_; ++batch) {
      json events = json::array();
      for (int i = 0; i < 20; ++i) {
        events.push_back({{"id", "b" + std::to_string(batch) + "-" + std::to_string(i)},
                          {"type", "order.placed"},
                          {"subject", "s" + std::to_string((batch * 20 + i) % 37)},
                          {"data", {{"amount", i + 1}}}});
      }
      if (client.Send("POST", "/v1/events", events.dump(), headers).status == 202) {
        std::lock_guard lock(mu_);
        acked_.push_back(std::move(events));
      }
    }
  }

  std::string token_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<json> acked_;
  std::thread thread_;
};

TEST_F(Backups, ABackupTakenDuringIngestionRestoresEveryAcknowledgedEvent) {
  ASSERT_TRUE(daemon_.Start());
  Ingestion ingestion(daemon_.port(), daemon_.admin_token());
  ASSERT_TRUE(Eventually([&] { return ingestion.batches() >= 5; }));
  const std::vector<json> before = ingestion.Acknowledged();  // all acknowledged before create
  const CtlRun created = Ctl("backup create " + BackupDir("b1") + " --json");
  ASSERT_EQ(created.code, 0) << created.out;
  const size_t at_end = ingestion.batches();
  ASSERT_TRUE(Eventually([&] { return ingestion.batches() >= at_end + 3; }));  // went on
  ingestion.Stop();
  const json manifest = json::parse(ReadFile(BackupDir("b1/manifest.json")));
  EXPECT_EQ(manifest["format"], 1);
  EXPECT_GT(manifest["audit_seq"].get<int64_t>(), 0);
  EXPECT_EQ(manifest["files"].size(), 2u);
  EXPECT_FALSE(fs::exists(BackupDir("b1/master.key")));  // the key never goes with the data
  ASSERT_EQ(daemon_.Stop(), 0);

  const json report = RestoreJson(BackupDir("b1"));
  EXPECT_EQ(report["erasures_reapplied"], 0) << report;
  EXPECT_EQ(report["backup_audit_seq"], manifest["audit_seq"]);
  ExpectIntegrity();
  ASSERT_TRUE(daemon_.Start());
  // Every event acknowledged before the backup began is there: posted again, each is a repeat.
  int64_t duplicates = 0;
  for (const json& batch : before) {
    HttpResult again = daemon_.Admin("POST", "/v1/events", batch.dump());
    ASSERT_EQ(again.status, 202) << again.body;
    EXPECT_EQ(again.json()["accepted"], 0) << again.body;
    duplicates += again.json()["duplicates"].get<int64_t>();
  }
  EXPECT_EQ(duplicates, static_cast<int64_t>(before.size() * 20));
  HttpResult verify = daemon_.Admin("GET", "/v1/audit/verify");
  EXPECT_EQ(verify.json()["ok"], true) << verify.body;
}

TEST_F(Backups, ACustomerErasedAfterTheBackupStaysErased) {
  BackUpTwoCustomersThen([&] { Erase("c1"); });
  ASSERT_FALSE(HasFatalFailure());
  const std::string ledger = ReadFile(Live(store::kErasureLedgerName));
  // One line, of numbers and a MAC: nothing personal.
  EXPECT_TRUE(std::regex_match(ledger, std::regex("v1 [0-9]+ [0-9]+ [0-9]+ [0-9a-f]{32}\n")))
      << ledger;

  const CtlRun restored = Ctl("backup restore " + BackupDir("b1"));
  ASSERT_EQ(restored.code, 0) << restored.out;
  EXPECT_NE(restored.out.find("re-applied 1 erasure "), std::string::npos) << restored.out;
  EXPECT_NE(restored.out.find("pre-restore-"), std::string::npos) << restored.out;
  ExpectIntegrity();
  ASSERT_TRUE(daemon_.Start());
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c1").status, 404);
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c2").status, 200);
  HttpResult audit = daemon_.Admin("GET", "/v1/audit?after=0&limit=1000");
  EXPECT_NE(audit.body.find("backup.restore"), std::string::npos);
  EXPECT_NE(audit.body.find("reapplied"), std::string::npos);
  HttpResult verify = daemon_.Admin("GET", "/v1/audit/verify");
  EXPECT_EQ(verify.json()["ok"], true) << verify.body;
  // A second restore of the same backup re-applies it again, from the ledger file.
  ASSERT_EQ(daemon_.Stop(), 0);
  EXPECT_EQ(RestoreJson(BackupDir("b1"))["erasures_reapplied"], 1);
}

TEST_F(Backups, TheLedgerFileAloneKeepsAnErasureWhenTheLiveDatabasesAreGone) {
  BackUpTwoCustomersThen([&] { Erase("c1"); });
  ASSERT_FALSE(HasFatalFailure());
  for (const std::string& file : ListFiles(Live())) {
    if (file.find(".db") != std::string::npos) {
      fs::remove(Live(fs::path(file).filename().string()));
    }
  }
  ASSERT_FALSE(fs::exists(Live(store::kPortraitDbName)));
  // Run as root for a data directory of another user (a service's), the files restored are
  // that user's.
  const bool as_root = ::geteuid() == 0;
  if (as_root) {
    ASSERT_EQ(::chown(Live().c_str(), 65534, 65534), 0);
  }

  const json report = RestoreJson(BackupDir("b1"));
  EXPECT_EQ(report["erasures_reapplied"], 1) << report;
  EXPECT_EQ(report["kept_aside"], "");
  for (const char* name :
       {store::kPortraitDbName, store::kKeystoreDbName, store::kErasureLedgerName}) {
    struct stat st {};
    ASSERT_EQ(::stat(Live(name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_uid, as_root ? 65534u : ::geteuid()) << name;
  }
  ASSERT_TRUE(daemon_.Start());
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c1").status, 404);
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c2").status, 200);
}

TEST_F(Backups, ALaterBackupNamedWithLedgerCarriesItsErasures) {
  BackUpTwoCustomersThen([&] {
    Erase("c2");
    ASSERT_EQ(Ctl("backup create " + BackupDir("b2")).code, 0);
  });
  ASSERT_FALSE(HasFatalFailure());
  // The whole data directory is lost, key aside; b2 holds the erasure in its keystore.
  const std::string key = ReadFile(Live("master.key"));
  fs::remove_all(Live());
  fs::create_directories(Live());
  WriteFile(Live("master.key"), key);
  fs::permissions(Live("master.key"), fs::perms::owner_read | fs::perms::owner_write);
  const json report = RestoreJson(BackupDir("b1"), " --ledger " + BackupDir("b2"));
  EXPECT_EQ(report["erasures_reapplied"], 1) << report;
  // The new live ledger file holds it from now on.
  EXPECT_TRUE(fs::exists(Live(store::kErasureLedgerName)));
  WriteFile(Live("admin.token"), daemon_.admin_token());
  ASSERT_TRUE(daemon_.Start());
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c2").status, 404);
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c1").status, 200);
}

TEST_F(Backups, ADamagedOrHalfWrittenBackupIsRefusedAndTheLiveDataUntouched) {
  ASSERT_TRUE(daemon_.Start());
  PutCustomer("c1");
  ASSERT_EQ(Ctl("backup create " + BackupDir("good")).code, 0);
  CtlRun busy = Ctl("backup restore " + BackupDir("good"));
  EXPECT_EQ(busy.code, 1);
  EXPECT_NE(busy.out.find("stop portraitd first"), std::string::npos) << busy.out;
  CtlRun not_empty = Ctl("backup create " + BackupDir("good"));
  EXPECT_EQ(not_empty.code, 1);
  EXPECT_NE(not_empty.out.find("not empty"), std::string::npos) << not_empty.out;
  ASSERT_EQ(daemon_.Stop(), 0);
  const std::string live_before = ReadFile(Live(store::kPortraitDbName));

  struct Damage {
    std::string name;
    std::function<void(const std::string&)> apply;
    std::string says;
  };
  const std::vector<Damage> damages = {
      {"no-manifest", [](const std::string& d) { fs::remove(d + "/manifest.json"); },
       "half-written"},
      {"not-json", [](const std::string& d) { WriteFile(d + "/manifest.json", "{\"format\": 1,"); },
       "not a JSON object"},
      {"wrong-type",
       [](const std::string& d) {
         json m = json::parse(ReadFile(d + "/manifest.json"));
         m["audit_seq"] = "many";
         WriteFile(d + "/manifest.json", m.dump());
       },
       "audit_seq"},
      {"truncated",
       [](const std::string& d) {
         fs::resize_file(d + "/keystore.db", fs::file_size(d + "/keystore.db") / 2);
       },
       "truncated"},
      {"flipped",
       [](const std::string& d) {
         std::string bytes = ReadFile(d + "/portrait.db");
         bytes[bytes.size() / 2] ^= 0x40;
         WriteFile(d + "/portrait.db", bytes);
       },
       "SHA-256"},
  };
  for (const Damage& damage : damages) {
    const std::string dir = BackupDir(damage.name);
    fs::copy(BackupDir("good"), dir);
    damage.apply(dir);
    CtlRun run = Ctl("backup restore " + dir);
    EXPECT_EQ(run.code, 1) << damage.name << ": " << run.out;
    EXPECT_NE(run.out.find(damage.says), std::string::npos) << damage.name << ": " << run.out;
    EXPECT_EQ(ReadFile(Live(store::kPortraitDbName)), live_before) << damage.name;
    EXPECT_FALSE(fs::exists(Live("restore"))) << damage.name;
  }
  for (const std::string& file : ListFiles(Live())) {
    EXPECT_EQ(file.find("pre-restore"), std::string::npos) << file;
  }
  ASSERT_TRUE(daemon_.Start());
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c1").status, 200);
}

TEST_F(Backups, AnAlteredLedgerLineIsRefused) {
  BackUpTwoCustomersThen([&] { Erase("c1"); });
  ASSERT_FALSE(HasFatalFailure());
  std::string ledger = ReadFile(Live(store::kErasureLedgerName));
  ASSERT_EQ(ledger.substr(0, 3), "v1 ");
  ledger[3] = ledger[3] == '1' ? '2' : '1';  // another profile's id, the MAC left as it was
  WriteFile(Live(store::kErasureLedgerName), ledger);
  const std::string live_before = ReadFile(Live(store::kPortraitDbName));
  CtlRun run = Ctl("backup restore " + BackupDir("b1"));
  EXPECT_EQ(run.code, 1) << run.out;
  EXPECT_NE(run.out.find("line 1: its MAC does not verify"), std::string::npos) << run.out;
  EXPECT_EQ(ReadFile(Live(store::kPortraitDbName)), live_before);
}

TEST_F(Backups, AProfileMergedAwayAfterTheBackupDoesNotComeBack) {
  BackUpTwoCustomersThen([&] {
    HttpResult merged = daemon_.Admin("POST", "/v1/profiles/c1/merge", R"({"from": "c2"})");
    ASSERT_EQ(merged.status, 200) << merged.body;
  });
  ASSERT_FALSE(HasFatalFailure());
  // The source's key was destroyed by the merge: the backup's copy of it goes too (the person
  // lives on in the target, as the backup had it).
  EXPECT_EQ(RestoreJson(BackupDir("b1"))["erasures_reapplied"], 1);
  ASSERT_TRUE(daemon_.Start());
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c2").status, 404);
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c1").status, 200);
}

TEST_F(Backups, ABackupFromBeforeAKeyRotationNeedsTheOldKey) {
  BackUpTwoCustomersThen([&] { Erase("c1"); });
  ASSERT_FALSE(HasFatalFailure());
  const std::string old_key = ReadFile(Live("master.key"));
  const json manifest = json::parse(ReadFile(BackupDir("b1/manifest.json")));
  CtlRun rotated = Ctl("key rotate");
  ASSERT_EQ(rotated.code, 0) << rotated.out;
  const std::string live_before = ReadFile(Live(store::kPortraitDbName));

  CtlRun refused = Ctl("backup restore " + BackupDir("b1"));
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_NE(refused.out.find("does not open this backup"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find(manifest["audit_public_key"].get<std::string>()), std::string::npos)
      << refused.out;
  EXPECT_EQ(ReadFile(Live(store::kPortraitDbName)), live_before);
  EXPECT_FALSE(fs::exists(Live("restore")));

  // Under the old key, as the message says: the erasure made before the rotation is re-applied
  // from the ledger file, whose MAC key the rotation carried; the live keystore, under the new
  // key, can't be read, and the report says so.
  WriteFile(Live("master.key"), old_key);
  const json report = RestoreJson(BackupDir("b1"));
  EXPECT_EQ(report["erasures_reapplied"], 1) << report;
  EXPECT_EQ(report["notes"].size(), 1u) << report;
  ASSERT_TRUE(daemon_.Start());
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c1").status, 404);
  EXPECT_EQ(daemon_.Admin("GET", "/v1/profiles/c2").status, 200);
}

}  // namespace
}  // namespace portrait::testing
