// `portraitctl key rotate` against a real data directory a real portraitd wrote: afterwards the
// old key opens nothing and the new one everything; every field, event, consent and email
// lookup is as before; tokens still work; the audit chain verifies online and offline across
// the rotation with either public key. Offline only: refused while portraitd runs, and
// portraitd refuses to start while a rotation holds the data directory.
#include <sys/stat.h>

#include <fstream>

#include "crypto/audit_signer.h"
#include "store/data_dir_lock.h"
#include "tests/integration/key_rotation_fixture.h"

namespace portrait::testing {
namespace {

using nlohmann::json;

TEST_F(KeyRotation, TheNewKeyOpensEverythingAndTheOldNothing) {
  const std::string old_key = KeyBytes();
  const std::string old_public = AuditPublicKeyOf(old_key);
  std::string out;
  ASSERT_EQ(Ctl("key rotate --json", &out), 0) << out;
  const json report = json::parse(out);
  EXPECT_EQ(report["rotated"], true);
  EXPECT_EQ(report["data_keys"], kCustomers - 1);  // k0's key was destroyed by its erasure
  EXPECT_EQ(report["old_public_key"], old_public);

  const std::string new_key = KeyBytes();
  ASSERT_EQ(new_key.size(), 32u);
  EXPECT_NE(new_key, old_key);
  struct stat st {};
  ASSERT_EQ(::stat(KeyFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(report["new_public_key"], AuditPublicKeyOf(new_key));
  EXPECT_FALSE(DatabasesOpenWith(old_key));
  EXPECT_TRUE(DatabasesOpenWith(new_key));
  EXPECT_EQ(Status()["state"], "none");
  // Nothing of the rotation is left beside the data.
  for (const std::string& file : ListFiles(daemon_.dir() / "var")) {
    EXPECT_EQ(file.find("rotation"), std::string::npos) << file;
    EXPECT_EQ(file.find(".next"), std::string::npos) << file;
  }

  ASSERT_TRUE(daemon_.Start());  // the admin token from before still works: carried token key
  EXPECT_EQ(Snapshot(), before_);
  // Event ids' digests are carried too: a repeat from before the rotation is still a repeat.
  HttpResult repeat = daemon_.Admin("POST", "/v1/events",
                                    R"([{"id":"k3-o1","type":"order.placed","subject":"k3"}])");
  EXPECT_EQ(repeat.json(), json({{"accepted", 0}, {"duplicates", 1}})) << repeat.body;
  HttpResult verify = daemon_.Admin("GET", "/v1/audit/verify");
  EXPECT_EQ(verify.json()["ok"], true) << verify.body;
  HttpResult audit = daemon_.Admin("GET", "/v1/audit?after=0&limit=1000");
  EXPECT_NE(audit.body.find("key.rotate"), std::string::npos);
  EXPECT_EQ(audit.body.find(crypto::ToHex(new_key)), std::string::npos);  // never key material
  EXPECT_EQ(audit.body.find(crypto::ToHex(old_key)), std::string::npos);

  out.clear();
  ASSERT_EQ(Ctl("audit pubkey", &out), 0);
  EXPECT_EQ(out, report["new_public_key"].get<std::string>() + "\n");
  HttpResult exported = daemon_.Admin("GET", "/v1/audit/export");
  ASSERT_EQ(exported.status, 200);
  const std::string file = daemon_.dir() / "audit.jsonl";
  WriteFile(file, exported.body);
  for (const std::string& key : {old_public, report["new_public_key"].get<std::string>()}) {
    EXPECT_EQ(VerifyExport(file, key, &out), 0) << out;
  }
  const std::string stranger = AuditPublicKeyOf(std::string(32, '\x07'));
  EXPECT_EQ(VerifyExport(file, stranger, &out), 1) << out;
}

TEST_F(KeyRotation, TwoRotationsInARowKeepEverything) {
  const std::string first = KeyBytes();
  std::string out;
  ASSERT_EQ(Ctl("key rotate", &out), 0) << out;
  EXPECT_NE(out.find("rotated the master key"), std::string::npos) << out;
  const std::string second = KeyBytes();
  ASSERT_EQ(Ctl("key rotate", &out), 0) << out;
  const std::string third = KeyBytes();
  EXPECT_FALSE(DatabasesOpenWith(first));
  EXPECT_FALSE(DatabasesOpenWith(second));
  EXPECT_TRUE(DatabasesOpenWith(third));
  ASSERT_TRUE(daemon_.Start());
  EXPECT_EQ(Snapshot(), before_);
  EXPECT_EQ(daemon_.Admin("GET", "/v1/audit/verify").json()["ok"], true);
  const std::string file = daemon_.dir() / "audit.jsonl";
  WriteFile(file, daemon_.Admin("GET", "/v1/audit/export").body);
  EXPECT_EQ(VerifyExport(file, AuditPublicKeyOf(first), &out), 0) << out;
}

TEST_F(KeyRotation, RefusedWhilePortraitdRunsAndPortraitdRefusedWhileARotationRuns) {
  const std::string old_key = KeyBytes();
  ASSERT_TRUE(daemon_.Start());
  std::string out;
  EXPECT_EQ(Ctl("key rotate", &out), 1);
  EXPECT_NE(out.find("in use by portraitd (pid"), std::string::npos) << out;
  EXPECT_NE(out.find("stop portraitd first"), std::string::npos) << out;
  EXPECT_EQ(KeyBytes(), old_key);
  ASSERT_EQ(Ctl("key status", &out), 0);
  EXPECT_NE(out.find("in use by portraitd"), std::string::npos) << out;
  ASSERT_EQ(daemon_.Stop(), 0);

  {
    auto lock = store::DataDirLock::Acquire(daemon_.dir() / "var", "portraitctl key rotate");
    ASSERT_TRUE(lock.has_value());
    // Were it to start, `timeout` would end it after 20 s, with status 124.
    EXPECT_EQ(RunCommand("timeout 20 " + BinDir() + "/portraitd --listen 127.0.0.1:0 --config " +
                             daemon_.config_path() + " 2>&1",
                         &out),
              1)
        << out;
    EXPECT_NE(out.find("in use by portraitctl key rotate (pid"), std::string::npos) << out;
  }
  ASSERT_TRUE(daemon_.Start());
  EXPECT_EQ(Snapshot(), before_);
}

TEST_F(KeyRotation, UsageErrorsExitTwo) {
  std::string out;
  EXPECT_EQ(Ctl("key", &out), 2);
  EXPECT_EQ(Ctl("key rotate --frobnicate", &out), 2);
  EXPECT_EQ(Ctl("key rotate --help", &out), 0);
  EXPECT_NE(out.find("portraitctl key rotate"), std::string::npos) << out;
  EXPECT_EQ(Ctl("key status --help", &out), 0);
}

}  // namespace
}  // namespace portrait::testing
