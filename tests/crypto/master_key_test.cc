#include "crypto/master_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "tests/support/test_support.h"

namespace portrait::crypto {
namespace {

using testing::TempDir;
using testing::WriteFile;

TEST(MasterKey, CreatesA32ByteOwnerOnlyFileAndLoadsIt) {
  TempDir dir;
  auto created = CreateKeyFile(dir / "master.key");
  ASSERT_TRUE(created) << created.error().ToString();
  struct stat st {};
  ASSERT_EQ(::stat((dir / "master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto loaded = LoadKeyFile(dir / "master.key");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->view(), created->view());
}

TEST(MasterKey, RefusesToOverwriteAKeyFile) {
  TempDir dir;
  ASSERT_TRUE(CreateKeyFile(dir / "k"));
  std::string before = testing::ReadFile(dir / "k");
  auto again = CreateKeyFile(dir / "k");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Status::Code::kConflict);
  EXPECT_EQ(testing::ReadFile(dir / "k"), before);
}

TEST(MasterKey, RefusesMissingLooseAndMissizedFiles) {
  TempDir dir;
  auto missing = LoadKeyFile(dir / "none");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Status::Code::kNotFound);
  EXPECT_NE(missing.error().message().find("portraitctl init"), std::string::npos);

  WriteFile(dir / "loose", std::string(32, 'k'));
  ::chmod((dir / "loose").c_str(), 0644);
  auto loose = LoadKeyFile(dir / "loose");
  ASSERT_FALSE(loose);
  EXPECT_EQ(loose.error().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(loose.error().message().find("0644"), std::string::npos);
  EXPECT_NE(loose.error().message().find("chmod 600"), std::string::npos);

  WriteFile(dir / "short", std::string(31, 'k'));
  ::chmod((dir / "short").c_str(), 0600);
  auto short_key = LoadKeyFile(dir / "short");
  ASSERT_FALSE(short_key);
  EXPECT_EQ(short_key.error().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(short_key.error().message().find("31 bytes"), std::string::npos);
}

TEST(MasterKey, PassphraseDerivationIsStableForOneSaltAndDiffersAcrossSalts) {
  TempDir dir;
  ::setenv("PORTRAIT_TEST_PASSPHRASE", "correct horse battery staple", 1);
  auto first = DeriveFromPassphrase("PORTRAIT_TEST_PASSPHRASE", dir / "salt", true);
  ASSERT_TRUE(first) << first.error().ToString();
  auto again = DeriveFromPassphrase("PORTRAIT_TEST_PASSPHRASE", dir / "salt", false);
  ASSERT_TRUE(again);
  EXPECT_EQ(first->view(), again->view());
  auto other = DeriveFromPassphrase("PORTRAIT_TEST_PASSPHRASE", dir / "salt2", true);
  ASSERT_TRUE(other);
  EXPECT_NE(first->view(), other->view());

  ::setenv("PORTRAIT_TEST_PASSPHRASE", "short", 1);
  auto weak = DeriveFromPassphrase("PORTRAIT_TEST_PASSPHRASE", dir / "salt", false);
  ASSERT_FALSE(weak);
  EXPECT_NE(weak.error().message().find("PORTRAIT_TEST_PASSPHRASE"), std::string::npos);
  ::unsetenv("PORTRAIT_TEST_PASSPHRASE");
}

}  // namespace
}  // namespace portrait::crypto
