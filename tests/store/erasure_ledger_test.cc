// The erasure ledger (store/erasure_ledger.h) and a backup's manifest (store/backup_manifest.h)
// against hostile files: altered, torn, over-long and foreign lines; manifests that are not
// JSON, miss members, name unknown files or lie about a file. And the SQLCipher store recording
// every destroyed key in its file and keystore table, its id never given again.
#include "store/erasure_ledger.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "store/backup_manifest.h"
#include "store/sqlcipher/backup_files.h"
#include "store/sqlcipher/sqlcipher_store.h"
#include "tests/support/test_support.h"

namespace portrait::store {
namespace {

using testing::ReadFile;
using testing::WriteFile;

crypto::SecretBytes MacKey(char fill) {
  auto master = crypto::SecretBytes::CopyOf(std::string(32, fill)).value();
  return LedgerMacKey(crypto::KeyHierarchy::Create(master).value()).value();
}

class ErasureLedgerFile : public ::testing::Test {
 protected:
  std::string Path() const { return dir_ / kErasureLedgerName; }
  testing::TempDir dir_;
  crypto::SecretBytes key_ = MacKey('k');
};

TEST_F(ErasureLedgerFile, EntriesAppendedReadBackInOrder) {
  EXPECT_EQ(ReadLedgerFile(Path(), key_).error().code(), Status::Code::kNotFound);
  ASSERT_TRUE(AppendLedgerEntry(Path(), {7, 100, 3}, key_).ok());
  ASSERT_TRUE(AppendLedgerEntries(Path(), {{9, 200, 4}, {8, 300, 5}}, key_).ok());
  auto file = ReadLedgerFile(Path(), key_);
  ASSERT_TRUE(file) << file.error().ToString();
  EXPECT_EQ(file->entries, (std::vector<LedgerEntry>{{7, 100, 3}, {9, 200, 4}, {8, 300, 5}}));
  EXPECT_FALSE(file->torn_tail);
  EXPECT_EQ(std::filesystem::status(Path()).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(ErasureLedgerFile, AnAlteredLineOrAnotherKeysLedgerIsRefusedNamingTheLine) {
  ASSERT_TRUE(AppendLedgerEntries(Path(), {{7, 100, 3}, {9, 200, 4}}, key_).ok());
  std::string text = ReadFile(Path());
  const size_t second = text.find('\n') + 1;
  text[second + 3] = '8';  // profile 9 becomes 8; the MAC stays
  WriteFile(Path(), text);
  auto altered = ReadLedgerFile(Path(), key_);
  ASSERT_FALSE(altered);
  EXPECT_EQ(altered.error().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(altered.error().message().find("line 2: its MAC does not verify"), std::string::npos)
      << altered.error().message();

  testing::TempDir other;
  ASSERT_TRUE(AppendLedgerEntry(other / "l", {7, 100, 3}, MacKey('x')).ok());
  EXPECT_FALSE(ReadLedgerFile(other / "l", key_));
}

TEST_F(ErasureLedgerFile, HostileLinesAreRefusedAndATornTailSkipped) {
  const std::string good = FormatLedgerLine({7, 100, 3}, key_);
  for (const std::string& bad :
       {std::string("v2 7 100 3 00\n"), std::string("v1 7 100\n"), std::string("v1 -7 100 3 x\n"),
        std::string("v1 7 100 3 ") + std::string(40, 'a') + "\n",
        std::string("v1 99999999999999999999 1 1 x\n"), std::string(4096, 'v') + "\n",
        std::string("v1 7\0 100 3 x\n", 14)}) {
    WriteFile(Path(), good + bad);
    auto file = ReadLedgerFile(Path(), key_);
    ASSERT_FALSE(file) << bad.substr(0, 40);
    EXPECT_NE(file.error().message().find("line 2"), std::string::npos) << file.error().message();
  }
  WriteFile(Path(), good + good.substr(0, 10));
  auto torn = ReadLedgerFile(Path(), key_);
  ASSERT_TRUE(torn) << torn.error().ToString();
  EXPECT_EQ(torn->entries.size(), 1u);
  EXPECT_TRUE(torn->torn_tail);
}

BackupManifest SomeManifest() {
  BackupManifest m;
  m.portrait_version = "0.1.0";
  m.created_us = 1'780'000'000'000'000;
  m.audit_seq = 42;
  m.portrait_schema = 9;
  m.keystore_schema = 3;
  m.audit_public_key = std::string(64, 'a');
  m.files = {{"portrait.db", 4096, std::string(64, '1')},
             {"keystore.db", 8192, std::string(64, '2')}};
  return m;
}

TEST(Manifest, RoundTripsAndRefusesHostileText) {
  auto parsed = ParseManifest(ManifestJson(SomeManifest()));
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->audit_seq, 42);
  EXPECT_EQ(parsed->files.size(), 2u);
  EXPECT_EQ(parsed->files[1].sha256, std::string(64, '2'));

  const nlohmann::json good = nlohmann::json::parse(ManifestJson(SomeManifest()));
  auto with = [&](const std::string& pointer, const nlohmann::json& value) {
    nlohmann::json j = good;
    j[nlohmann::json::json_pointer(pointer)] = value;
    return j.dump();
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[1,2]", "not a JSON object"},
      {"{\"format\":", "not a JSON object"},
      {with("/format", 2), "format"},
      {with("/audit_seq", -1), "audit_seq"},
      {with("/audit_seq", "1"), "audit_seq"},
      {with("/schema", 9), "schema"},
      {with("/files/0/name", "../../etc/passwd"), "files[0].name"},
      {with("/files/1/name", "portrait.db"), "twice"},
      {with("/files/0/sha256", std::string(64, 'Z')), "files[0].sha256"},
      {with("/files/0/size", 1.5), "size"},
      {with("/files", nlohmann::json::array()), "lacks portrait.db"},
      {std::string(200, '[') + std::string(200, ']'), "not a JSON object"},
  };
  for (const auto& [text, says] : cases) {
    auto bad = ParseManifest(text);
    ASSERT_FALSE(bad) << text.substr(0, 80);
    EXPECT_EQ(bad.error().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(bad.error().message().find(says), std::string::npos) << bad.error().message();
  }
}

TEST(Manifest, FilesAreCheckedBySizeAndDigest) {
  testing::TempDir dir;
  WriteFile(dir / "portrait.db", "abc");
  WriteFile(dir / "keystore.db", "defg");
  BackupManifest m = SomeManifest();
  m.files = {DescribeFile(dir.path(), "portrait.db").value(),
             DescribeFile(dir.path(), "keystore.db").value()};
  EXPECT_EQ(m.files[0].sha256,  // SHA-256("abc")
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ASSERT_TRUE(WriteManifest(dir.path(), m).ok());
  auto read = ReadManifest(dir.path());
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_TRUE(VerifyBackupFiles(dir.path(), *read).ok());
  WriteFile(dir / "keystore.db", "defh");
  EXPECT_EQ(VerifyBackupFiles(dir.path(), *read).code(), Status::Code::kCorruption);
  WriteFile(dir / "keystore.db", "def");
  EXPECT_NE(VerifyBackupFiles(dir.path(), *read).message().find("truncated"), std::string::npos);
  std::filesystem::remove(dir / "keystore.db");
  std::filesystem::create_symlink("/dev/zero", dir / "keystore.db");  // would never end
  EXPECT_NE(VerifyBackupFiles(dir.path(), *read).message().find("not a regular file"),
            std::string::npos);
  WriteFile(dir / "manifest.json", std::string(kMaxManifestBytes + 1, ' '));
  EXPECT_EQ(ReadManifest(dir.path()).error().code(), Status::Code::kInvalidArgument);
  std::filesystem::remove(dir / "manifest.json");
  EXPECT_EQ(ReadManifest(dir.path()).error().code(), Status::Code::kNotFound);
}

TEST(SqlcipherLedger, EveryDestroyedKeyIsInTheFileAndTheKeystoreAndItsIdStaysGiven) {
  testing::TempDir dir;
  auto db_key = crypto::SecretBytes::Random(32).value();
  crypto::SecretBytes mac = MacKey('m');
  SqlcipherOptions options;
  options.data_dir = dir.path();
  options.portrait_key = &db_key;
  options.keystore_key = &db_key;
  options.erasure_ledger = dir / kErasureLedgerName;
  options.ledger_mac_key = &mac;
  options.create = true;
  {
    auto store = OpenSqlcipherStore(options).value();
    ASSERT_TRUE(store->PutDataKey(500, "wrapped").ok());
    ASSERT_TRUE(store->DestroyDataKey(500).ok());
    ASSERT_TRUE(store->DestroyDataKey(500).ok());  // again: nothing more recorded
    ASSERT_TRUE(store->DestroyDataKey(600).ok());  // never had a key: nothing recorded
    EXPECT_EQ(store->ProfileIdHighWater().value(), 500);
  }
  auto file = ReadLedgerFile(dir / kErasureLedgerName, mac).value();
  ASSERT_EQ(file.entries.size(), 1u);
  EXPECT_EQ(file.entries[0].id, 500);
  auto table = ReadDestroyedKeys(dir / kKeystoreDbName, db_key).value();
  ASSERT_EQ(table.size(), 1u);
  EXPECT_EQ(table[0], file.entries[0]);
}

TEST(SqlcipherLedger, AnOnlineCopyIsWholeSettledAndNeverOverwrites) {
  testing::TempDir dir;
  auto key = crypto::SecretBytes::Random(32).value();
  SqlcipherOptions options;
  options.data_dir = dir.path();
  options.portrait_key = &key;
  options.keystore_key = &key;
  options.create = true;
  auto store = OpenSqlcipherStore(options).value();
  for (int i = 1; i <= 50; ++i) {
    ASSERT_TRUE(store->PutDataKey(i, "wrapped").ok());
  }
  ASSERT_TRUE(CopyDatabaseOnline(dir / kKeystoreDbName, dir / "copy.db", key).ok());
  ASSERT_TRUE(store->PutDataKey(51, "wrapped").ok());  // after: not in the copy
  EXPECT_EQ(CheckIntegrity(dir / "copy.db", key).value(), "ok");
  EXPECT_FALSE(std::filesystem::exists(dir / "copy.db-wal"));
  EXPECT_EQ(ReadDatabaseFacts(dir / "copy.db", key, false).value().schema_version, 3);
  EXPECT_EQ(CopyDatabaseOnline(dir / kKeystoreDbName, dir / "copy.db", key).code(),
            Status::Code::kConflict);
}

}  // namespace
}  // namespace portrait::store
