// What lands on disk: real SQLCipher files, no plaintext anywhere in the data directory, keys
// that must match, and erasure that holds for backups taken before it.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>

#include "crypto/master_key.h"
#include "store/profile_vault.h"
#include "store/sqlcipher/schema.h"
#include "store/sqlcipher/sqlcipher_store.h"
#include "store/sqlcipher/sqlite.h"
#include "tests/support/test_support.h"

namespace portrait::store {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ReadFile;

std::string Hex(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  out.pop_back();
  return out;
}

// Every file in `dir` with its content, to prove that nothing was written.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& f : testing::ListFiles(dir)) {
    out[f] = ReadFile(f);
  }
  return out;
}

// The plaintext of every page of a SQLCipher 3 file (4 KiB pages, AES-256-CBC with the raw
// key, a 48-byte reserve holding the IV and HMAC; page 1 starts with a 16-byte clear salt), and
// of every page frame in its WAL: what the file holds, free pages and cells included.
std::string DecryptPage(std::string_view page, bool first, const crypto::SecretBytes& key) {
  constexpr size_t kPage = 4096;
  constexpr size_t kReserve = 48;
  const size_t from = first ? 16 : 0;
  const auto* iv = reinterpret_cast<const unsigned char*>(page.data() + kPage - kReserve);
  std::string out(kPage, '\0');
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, key.data(), iv);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  int n = 0;
  EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &n,
                    reinterpret_cast<const unsigned char*>(page.data() + from),
                    static_cast<int>(kPage - kReserve - from));
  EVP_CIPHER_CTX_free(ctx);
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string DecryptedPages(const std::string& db_path, const crypto::SecretBytes& key) {
  std::string out;
  const std::string db = ReadFile(db_path);
  for (size_t at = 0; at + 4096 <= db.size(); at += 4096) {
    out += DecryptPage(std::string_view(db).substr(at, 4096), at == 0, key);
  }
  const std::string wal = fs::exists(db_path + "-wal") ? ReadFile(db_path + "-wal") : "";
  for (size_t at = 32; at + 24 + 4096 <= wal.size(); at += 24 + 4096) {
    const auto* h = reinterpret_cast<const unsigned char*>(wal.data() + at);
    const uint32_t page_no = (h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3];
    out += DecryptPage(std::string_view(wal).substr(at + 24, 4096), page_no == 1, key);
  }
  return out;
}

class DataDirFiles : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  config::Config config_ = testing::WriteTestConfig(dir_);
  config::ConfigHolder in_force_{std::make_shared<const config::Config>(config_)};
  FakeClock clock_{TimePoint(std::chrono::seconds(1'700'000'000))};
};

TEST_F(DataDirFiles, PortraitDbIsRealSqlcipher) {
  {
    DataDir data = InitDataDir(config_).value();
    ProfileVault vault(in_force_, *data.store, data.keys, data.blind, clock_);
    ASSERT_TRUE(vault.Upsert("c1", json::parse(R"({"fields": {"name": "x"}})")));
  }
  const std::string db = config_.daemon.data_dir + "/portrait.db";
  EXPECT_NE(ReadFile(db).substr(0, 16), std::string("SQLite format 3\0", 16));

  std::string out;
  int rc = testing::RunCommand("sqlcipher " + db + " 'SELECT count(*) FROM profiles;' 2>&1", &out);
  EXPECT_TRUE(rc != 0 || out.find("not a database") != std::string::npos) << out;
  EXPECT_EQ(out.find("\n1\n"), std::string::npos);

  auto master = crypto::LoadKeyFile(config_.keys.file).value();
  auto keys = crypto::KeyHierarchy::Create(master).value();
  std::string script = "PRAGMA key = \"x'" + Hex(keys.portrait_db_key().view()) +
                       "'\";\nPRAGMA cipher_page_size = 4096;\nSELECT count(*) FROM profiles;\n";
  testing::WriteFile(dir_ / "script.sql", script);
  out.clear();
  rc = testing::RunCommand("sqlcipher " + db + " < " + (dir_ / "script.sql") + " 2>&1", &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("1"), std::string::npos) << out;
  EXPECT_EQ(out.find("Error"), std::string::npos) << out;
}

TEST_F(DataDirFiles, NoMarkerValueAppearsInAnyFile) {
  std::vector<std::string> markers;
  DataDir data = InitDataDir(config_).value();
  ProfileVault vault(in_force_, *data.store, data.keys, data.blind, clock_);
  for (int i = 0; i < 40; ++i) {
    std::string n = std::to_string(1000 + i);
    std::string ext = "EXTMARKER" + n;
    std::string name = "NAMEMARKER" + n;
    std::string city = "CITYMARKER" + n;
    std::string email = "mailmarker" + n + "@example.com";
    markers.insert(markers.end(), {ext, name, city, email});
    json patch = {{"fields", {{"name", name}, {"city", city}, {"email", email}}},
                  {"tags", {{"add", {"TAGMARKER" + n}}}}};
    markers.push_back("TAGMARKER" + n);
    ASSERT_TRUE(vault.Upsert(ext, patch));
  }
  ASSERT_GE(markers.size(), 100u);
  auto scan = [&](const char* when) {
    for (const auto& file : testing::ListFiles(dir_.path())) {
      if (file.ends_with("portrait.toml")) {
        continue;
      }
      std::string bytes = ReadFile(file);
      for (const auto& m : markers) {
        ASSERT_EQ(bytes.find(m), std::string::npos) << m << " found in " << file << " " << when;
      }
    }
  };
  ASSERT_TRUE(fs::exists(config_.daemon.data_dir + "/portrait.db-wal"));
  scan("while open (with WAL)");
  data.store.reset();
  scan("after close");
}

TEST_F(DataDirFiles, ABackupTakenBeforeEraseNoLongerYieldsTheProfile) {
  const std::string backup = dir_ / "backup";
  ProfileId erased = 0;
  ProfileId kept = 0;
  {
    DataDir data = InitDataDir(config_).value();
    ProfileVault vault(in_force_, *data.store, data.keys, data.blind, clock_);
    erased = vault.Upsert("gone", json::parse(R"({"fields": {"name": "G"}})")).value().id;
    kept = vault.Upsert("kept", json::parse(R"({"fields": {"name": "K"}})")).value().id;
  }
  fs::create_directories(backup);
  for (const auto& f : testing::ListFiles(config_.daemon.data_dir)) {
    if (f.find("portrait.db") != std::string::npos) {
      fs::copy_file(f, backup + "/" + fs::path(f).filename().string());
    }
  }
  {
    DataDir data = OpenDataDir(config_).value();
    ProfileVault vault(in_force_, *data.store, data.keys, data.blind, clock_);
    ASSERT_TRUE(vault.Erase("gone"));
  }
  // Restore the old portrait.db beside the current keystore, as an attacker with the backup
  // and today's keys would.
  for (const auto& f : testing::ListFiles(backup)) {
    fs::copy_file(f, config_.daemon.data_dir + "/" + fs::path(f).filename().string(),
                  fs::copy_options::overwrite_existing);
  }
  fs::remove(config_.daemon.data_dir + "/portrait.db-shm");
  DataDir restored = OpenDataDir(config_).value();
  ProfileVault vault(in_force_, *restored.store, restored.keys, restored.blind, clock_);
  ASSERT_TRUE(restored.store->GetProfile(erased).value()) << "the backup still holds the rows";
  EXPECT_FALSE(restored.store->GetFields(erased).value().empty());
  auto gone = vault.GetById(erased);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), Status::Code::kNotFound);  // no data key: noise
  EXPECT_EQ(vault.GetById(kept).value().fields["name"], "K");
}

// Issue 12: portrait.db had no secure_delete, so an erased profile's keyed digests (external
// id, blind index, event ids) stayed in free pages and in the WAL.
TEST_F(DataDirFiles, ErasureLeavesNoDigestOfTheProfileInAnyPage) {
  DataDir data = InitDataDir(config_).value();
  ProfileVault vault(in_force_, *data.store, data.keys, data.blind, clock_);
  for (int i = 0; i < 30; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_TRUE(vault.Upsert("keep" + n, {{"fields", {{"email", "k" + n + "@example.com"}}}}));
  }
  const ProfileId id =
      vault.Upsert("gone", {{"fields", {{"email", "gone@example.com"}, {"phone", "13800138000"}}}})
          .value()
          .id;
  Batch events;
  events.events.push_back({std::string(16, '\x5a'), id, "order.placed", 1, "x"});
  ASSERT_TRUE(data.store->Commit(events));
  std::vector<std::string> digests = {vault.ExtKey("gone"), std::string(16, '\x5a')};
  {
    auto db = sqlite::Db::Open(config_.daemon.data_dir + "/portrait.db",
                               data.keys.portrait_db_key(), false, 2);
    ASSERT_TRUE(db);
    sqlite::Stmt s(*db, "SELECT digest FROM blind_index WHERE profile_id = ?;");
    s.Bind(1, id);
    while (s.Step().value_or(false)) {
      digests.push_back(s.Text(0));
    }
  }
  ASSERT_EQ(digests.size(), 4u);  // external id, event id, email, phone
  const std::string path = config_.daemon.data_dir + "/portrait.db";
  const std::string before = DecryptedPages(path, data.keys.portrait_db_key());
  for (const auto& d : digests) {
    ASSERT_NE(before.find(d), std::string::npos) << "the scan must see live rows";
  }
  ASSERT_TRUE(vault.Erase("gone"));
  const std::string after = DecryptedPages(path, data.keys.portrait_db_key());
  for (size_t i = 0; i < digests.size(); ++i) {
    EXPECT_EQ(after.find(digests[i]), std::string::npos) << "digest " << i << " left behind";
  }
  EXPECT_NE(after.find(vault.ExtKey("keep7")), std::string::npos);
}

class KeyRefusal : public DataDirFiles {
 protected:
  void SetUp() override {
    DataDir data = InitDataDir(config_).value();
    ProfileVault vault(in_force_, *data.store, data.keys, data.blind, clock_);
    ASSERT_TRUE(vault.Upsert("c1", json::parse(R"({"fields": {"name": "x"}})")));
  }
  void ExpectRefused(Status::Code code, const std::string& says) {
    auto before = Snapshot(dir_.path());
    auto opened = OpenDataDir(config_);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code(), code) << opened.error().ToString();
    EXPECT_NE(opened.error().message().find(says), std::string::npos) << opened.error().message();
    EXPECT_EQ(Snapshot(dir_.path()), before) << "refusing must write nothing";
  }
};

TEST_F(KeyRefusal, WrongKeyFile) {
  fs::remove(config_.keys.file);
  ASSERT_TRUE(crypto::CreateKeyFile(config_.keys.file));
  ExpectRefused(Status::Code::kPermissionDenied, "cannot be opened with this key");
}

TEST_F(KeyRefusal, MissingKeyFile) {
  fs::remove(config_.keys.file);
  ExpectRefused(Status::Code::kNotFound, "does not exist");
}

TEST_F(KeyRefusal, KeyFileOfMode0644) {
  ::chmod(config_.keys.file.c_str(), 0644);
  ExpectRefused(Status::Code::kPermissionDenied, "mode 0644");
}

TEST_F(KeyRefusal, KeyFileOf31Bytes) {
  std::string key = ReadFile(config_.keys.file);
  testing::WriteFile(config_.keys.file, key.substr(0, 31));
  ExpectRefused(Status::Code::kInvalidArgument, "31 bytes");
}

TEST_F(KeyRefusal, MissingDatabaseIsNeverRecreated) {
  fs::remove(config_.daemon.data_dir + "/portrait.db");
  fs::remove(config_.daemon.data_dir + "/portrait.db-wal");
  fs::remove(config_.daemon.data_dir + "/portrait.db-shm");
  ExpectRefused(Status::Code::kNotFound, "portrait.db does not exist");
}

TEST_F(KeyRefusal, InitRefusesAnExistingDataDirectory) {
  auto before = Snapshot(dir_.path());
  auto again = InitDataDir(config_);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Status::Code::kConflict);
  EXPECT_EQ(Snapshot(dir_.path()), before);
}

TEST(SqlcipherSchema, UpgradingAVersion2DatabaseKeepsEveryEvent) {
  testing::TempDir dir;
  auto main_key = crypto::SecretBytes::Random(32).value();
  auto keystore_key = crypto::SecretBytes::Random(32).value();
  {
    auto db = sqlite::Db::Open(dir / "portrait.db", main_key, /*create=*/true, 4).value();
    const auto& all = sqlite::PortraitSchema();
    std::vector<std::string_view> version2(all.begin(), all.begin() + 2);
    ASSERT_TRUE(sqlite::Migrate(db, version2).ok());
    ASSERT_TRUE(db.Exec("INSERT INTO events VALUES (x'01', 7, 'order.placed', 50, x'aa');"
                        "INSERT INTO events VALUES (x'02', 7, 'cart.updated', 30, x'bb');")
                    .ok());
    auto keystore = sqlite::Db::Open(dir / "keystore.db", keystore_key, true, 4).value();
    ASSERT_TRUE(sqlite::Migrate(keystore, sqlite::KeystoreSchema()).ok());
  }
  SqlcipherOptions options;
  options.data_dir = dir.path();
  options.portrait_key = &main_key;
  options.keystore_key = &keystore_key;
  auto store = OpenSqlcipherStore(options);
  ASSERT_TRUE(store) << store.error().ToString();
  auto events = (*store)->GetEvents(7).value();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "cart.updated");
  EXPECT_EQ(events[1].data, "\xaa");
  EXPECT_EQ((*store)->StoredEvents({"\x02"}).value(), std::vector<bool>{true});
  // A repeated key is still a duplicate after the upgrade.
  Batch again;
  again.events = {EventRow{"\x01", 7, "order.placed", 60, "cc"}};
  EXPECT_EQ((*store)->Commit(again)->duplicates, 1);
}

}  // namespace
}  // namespace portrait::store
