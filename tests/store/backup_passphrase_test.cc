// CreateBackup and RestoreBackup in process, with a passphrase-derived master key: the salt
// goes with the backup (it is no secret; the passphrase is not in it), so a data directory lost
// whole restores from the backup and the passphrase alone; a wrong passphrase is refused and
// nothing is restored.
#include <gtest/gtest.h>

#include <filesystem>

#include "store/backup.h"
#include "store/data_dir.h"
#include "store/sqlcipher/sqlcipher_store.h"
#include "tests/support/test_support.h"

namespace portrait::store {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPassphraseEnv = "PORTRAIT_TEST_BACKUP_PASSPHRASE";

class PassphraseBackup : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv(kPassphraseEnv, "correct horse battery staple", 1);
    std::string text = testing::TestConfigText();
    text.replace(text.find("file = \"var/master.key\""), 23,
                 "passphrase_env = \"" + std::string(kPassphraseEnv) + "\"");
    config_ = testing::WriteTestConfig(dir_, text);
    DataDir data = InitDataDir(config_).value();
    auto key = crypto::KeyHierarchy::NewDataKey().value();
    ASSERT_TRUE(data.store->PutDataKey(7, data.keys.WrapDataKey(7, key).value()).ok());
    ASSERT_TRUE(data.store->PutDataKey(8, data.keys.WrapDataKey(8, key).value()).ok());
  }
  void TearDown() override { ::unsetenv(kPassphraseEnv); }

  testing::TempDir dir_;
  config::Config config_;
  FakeClock clock_{TimePoint(std::chrono::seconds(1'780'000'000))};
};

TEST_F(PassphraseBackup, TheSaltTravelsWithTheBackupAndTheLedgerWithTheDataDirectory) {
  const std::string backup = dir_ / "b1";
  auto manifest = CreateBackup(config_, backup, clock_);
  ASSERT_TRUE(manifest) << manifest.error().ToString();
  ASSERT_EQ(manifest->files.size(), 3u);
  EXPECT_EQ(manifest->files[2].name, kSaltFileName);
  EXPECT_TRUE(fs::exists(backup + "/" + kSaltFileName));
  {  // key 8 destroyed after the backup: in the live ledger file only
    DataDir data = OpenDataDir(config_).value();
    ASSERT_TRUE(data.store->DestroyDataKey(8).ok());
  }
  for (const std::string& name : testing::ListFiles(config_.daemon.data_dir)) {
    if (name.find("erasures.log") == std::string::npos) {
      fs::remove(name);  // the databases and the salt lost
    }
  }

  ::setenv(kPassphraseEnv, "not the passphrase at all", 1);
  RestoreOptions options;
  options.clock = &clock_;
  auto wrong = RestoreBackup(config_, backup, options);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Status::Code::kPermissionDenied) << wrong.error().ToString();
  EXPECT_NE(wrong.error().message().find(manifest->audit_public_key), std::string::npos);
  EXPECT_FALSE(fs::exists(config_.daemon.data_dir + "/" + kPortraitDbName));

  ::setenv(kPassphraseEnv, "correct horse battery staple", 1);
  auto report = RestoreBackup(config_, backup, options);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->reapplied, 1);
  EXPECT_EQ(report->kept_aside, "");
  DataDir data = OpenDataDir(config_).value();  // the salt restored with the databases
  EXPECT_TRUE(data.store->GetDataKey(7).value().has_value());
  EXPECT_FALSE(data.store->GetDataKey(8).value().has_value());
  EXPECT_EQ(data.store->ProfileIdHighWater().value(), 8);
}

}  // namespace
}  // namespace portrait::store
