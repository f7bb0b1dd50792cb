// RotateMasterKey in process, over real SQLCipher files: the passphrase mode (the new
// passphrase from its own environment variable, or a clear refusal), erasure notices resealed,
// data keys the same key wrapped anew, the blind-index key carried; and the audit verifier
// across signing-key rotations, forged ones included.
#include "store/key_rotation.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "crypto/audit_signer.h"
#include "store/audit_log.h"
#include "store/data_dir.h"
#include "store/erasure_notice.h"
#include "tests/support/test_support.h"

namespace portrait::store {
namespace {

using testing::TempDir;

constexpr const char* kOld = "PORTRAIT_TEST_OLD_PASSPHRASE";
constexpr const char* kNew = "PORTRAIT_TEST_NEW_PASSPHRASE";

std::string PassphraseConfig() {
  std::string text = testing::TestConfigText();
  text.replace(text.find("file = \"var/master.key\""), 23,
               "passphrase_env = \"" + std::string(kOld) + "\"");
  return text;
}

class PassphraseRotation : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv(kOld, "correct horse battery staple", 1);
    ::unsetenv(kNew);
    config_ = testing::WriteTestConfig(dir_, PassphraseConfig());
    DataDir data = InitDataDir(config_).value();
    key_ = crypto::KeyHierarchy::NewDataKey().value();
    ASSERT_TRUE(data.store->PutDataKey(7, data.keys.WrapDataKey(7, key_).value()).ok());
    Batch batch;
    TaskRow notice;
    notice.dedupe = "$erased:7:crm";
    notice.profile_id = 7;
    notice.trigger = std::string(kErasureNotice);
    notice.sink = "crm";
    notice.state = "pending";
    notice.payload = data.keys.SealNotice(7, "crm-7").value();
    batch.tasks.push_back(notice);
    ASSERT_TRUE(data.store->Commit(batch).has_value());
    blind_key_ = std::string(data.keys.blind_index_key().view());
  }
  void TearDown() override {
    ::unsetenv(kOld);
    ::unsetenv(kNew);
  }
  Result<RotationReport> Rotate() {
    RotationOptions options;
    options.new_passphrase_env = kNew;
    options.clock = &clock_;
    return RotateMasterKey(config_, options);
  }

  TempDir dir_;
  config::Config config_;
  crypto::SecretBytes key_;
  std::string blind_key_;
  FakeClock clock_{TimePoint(std::chrono::seconds(1'800'000'000))};
};

TEST_F(PassphraseRotation, RefusesWithoutANewPassphraseOrWithTheOldOne) {
  auto missing = Rotate();
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find(kNew), std::string::npos) << missing.error().message();
  ::setenv(kNew, "correct horse battery staple", 1);
  auto same = Rotate();
  ASSERT_FALSE(same.has_value());
  EXPECT_NE(same.error().message().find("is the old one"), std::string::npos);
  // Nothing changed, nothing left behind.
  EXPECT_EQ(InspectRotation(RotationPathsFor(config_)), RotationState::kNone);
  EXPECT_TRUE(OpenDataDir(config_).has_value());
}

// Profile 7 read by a segments-only read asking for digests of spec "spec".
PortraitInputs DigestRead(Store& store) {
  PortraitRead read;
  read.digest_spec = "spec";
  auto r = store.PortraitInputsAfter(6, 1, read);
  EXPECT_TRUE(r && r->size() == 1);
  return r && r->size() == 1 ? r->front() : PortraitInputs{};
}

TEST_F(PassphraseRotation, TheNewPassphraseOpensEverythingAndTheOldNothing) {
  {  // a profile with a digest: the copied database keeps both, and the triggers that empty it
    DataDir data = OpenDataDir(config_).value();
    Batch batch;
    ProfileWrite w;
    w.is_new = true;
    w.row.id = 7;
    w.row.ext_key = "k7";
    w.row.external_id = "sealed";
    batch.profiles.push_back(w);
    ASSERT_TRUE(data.store->Commit(batch));
    Batch digest;
    digest.digests.push_back(DigestWrite{7, DigestRead(*data.store).digest_stamp, "spec", "d"});
    ASSERT_TRUE(data.store->Commit(digest));
  }
  ::setenv(kNew, "a whole new passphrase", 1);
  auto report = Rotate();
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->data_keys, 1);
  EXPECT_EQ(report->notices, 1);

  auto with_old = OpenDataDir(config_);
  ASSERT_FALSE(with_old.has_value());
  EXPECT_EQ(with_old.error().code(), Status::Code::kPermissionDenied);

  ::setenv(kOld, "a whole new passphrase", 1);  // the operator changes the daemon's variable
  DataDir data = OpenDataDir(config_).value();
  auto wrapped = data.store->GetDataKey(7).value();
  ASSERT_TRUE(wrapped.has_value());
  EXPECT_EQ(data.keys.UnwrapDataKey(7, *wrapped).value().view(), key_.view());
  auto tasks = data.store->GetTasks(7).value();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(OpenErasureNotice(data.keys, tasks[0]).value(), "crm-7");
  EXPECT_EQ(data.keys.blind_index_key().view(), blind_key_);  // carried
  auto signer = crypto::AuditSigner::Create(data.keys.audit_seed()).value();
  EXPECT_EQ(crypto::ToHex(signer.public_key()), report->new_public_key);
  AuditLog log(*data.store, signer, data.keys.audit_mac_key(), clock_);
  auto verified = log.Verify().value();
  EXPECT_TRUE(verified.ok) << verified.problem;
  EXPECT_EQ(DigestRead(*data.store).digest, "d");
  Batch write;
  ProfileWrite field;
  field.row = data.store->GetProfile(7).value().value();
  field.set_fields["city"] = "sealed-city";
  write.profiles.push_back(field);
  ASSERT_TRUE(data.store->Commit(write));
  EXPECT_EQ(DigestRead(*data.store).digest, "");
}

// The audit verifier across rotations, offline: a chain signed by key A, rotated to B by a
// record A vouches for, then signed by B.
class AuditAcrossRotation : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = crypto::SecretBytes::Random(32).value();
    auto b = crypto::SecretBytes::Random(32).value();
    a_ = crypto::AuditSigner::Create(a).value();
    b_ = crypto::AuditSigner::Create(b).value();
  }
  // Writes `before` records under A, the rotation record `detail` (signed by A unless
  // `unsigned_rotation`), 5 records under B, and returns B's export.
  std::string Export(const std::string& detail, bool unsigned_rotation = false) {
    AuditLog old_log(*data_.store, a_, data_.keys.audit_mac_key(), clock_, {3});
    for (int i = 0; i < 7; ++i) {
      EXPECT_TRUE(old_log.Append({AuditEntry{i, "system", "test.a", 0, "", "{}"}}).ok());
    }
    EXPECT_TRUE(data_.store->Commit([&] {
      Batch batch;
      batch.audit.push_back(AuditEntry{8, "system", std::string(kKeyRotateAction), 0, "", detail});
      return batch;
    }()));
    if (!unsigned_rotation) {
      EXPECT_TRUE(old_log.Checkpoint().ok());
    }
    AuditLog new_log(*data_.store, b_, data_.keys.audit_mac_key(), clock_, {3});
    for (int i = 0; i < 5; ++i) {
      EXPECT_TRUE(new_log.Append({AuditEntry{10 + i, "system", "test.b", 0, "", "{}"}}).ok());
    }
    std::ostringstream out;
    EXPECT_TRUE(new_log.Export(out).ok());
    online_ = new_log.Verify().value();
    return out.str();
  }
  std::string Detail(const std::string& from, const std::string& to) {
    return "{\"new_public_key\":\"" + crypto::ToHex(to) + "\",\"old_public_key\":\"" +
           crypto::ToHex(from) + "\"}";
  }
  AuditVerification Offline(const std::string& text, const std::string& key) {
    std::istringstream in(text);
    return VerifyAuditExport(in, key).value();
  }

  TempDir dir_;
  DataDir data_ = InitDataDir(testing::WriteTestConfig(dir_)).value();
  FakeClock clock_{TimePoint(std::chrono::seconds(1'800'000'000))};
  crypto::AuditSigner a_;
  crypto::AuditSigner b_;
  AuditVerification online_;
};

TEST_F(AuditAcrossRotation, VerifiesWithEitherKeyOnlineAndOffline) {
  const std::string text = Export(Detail(a_.public_key(), b_.public_key()));
  EXPECT_TRUE(online_.ok) << online_.problem;
  for (const std::string* key : {&a_.public_key(), &b_.public_key()}) {
    AuditVerification v = Offline(text, *key);
    EXPECT_TRUE(v.ok) << v.problem;
    EXPECT_EQ(v.records, 13);
  }
  auto stranger = crypto::AuditSigner::Create(crypto::SecretBytes::Random(32).value()).value();
  EXPECT_FALSE(Offline(text, stranger.public_key()).ok);

  // The second, independent verifier agrees.
  const std::string path = dir_ / "audit.jsonl";
  testing::WriteFile(path, text);
  const std::string script =
      std::string(PORTRAIT_SOURCE_DIR) + "/tests/store/verify_audit_export.py";
  for (const auto& [key, rc] : {std::pair{&a_.public_key(), 0}, std::pair{&b_.public_key(), 0},
                                std::pair{&stranger.public_key(), 1}}) {
    std::string out;
    EXPECT_EQ(
        testing::RunCommand(
            "/usr/bin/python3 " + script + " " + path + " " + crypto::ToHex(*key) + " 2>&1", &out),
        rc)
        << out;
  }
}

TEST_F(AuditAcrossRotation, ARotationTheOldKeyDidNotSignFails) {
  const std::string text = Export(Detail(a_.public_key(), b_.public_key()), true);
  EXPECT_FALSE(online_.ok);
  AuditVerification v = Offline(text, a_.public_key());
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 8) << v.problem;
}

TEST_F(AuditAcrossRotation, ARotationNamingAnotherOldKeyOrNoKeysFails) {
  auto other = crypto::AuditSigner::Create(crypto::SecretBytes::Random(32).value()).value();
  AuditVerification forged =
      Offline(Export(Detail(other.public_key(), b_.public_key())), b_.public_key());
  EXPECT_FALSE(forged.ok);
  EXPECT_FALSE(online_.ok);
}

TEST_F(AuditAcrossRotation, ARotationRecordWithoutKeysFails) {
  AuditVerification v = Offline(Export("{\"old_public_key\":\"zz\"}"), b_.public_key());
  EXPECT_FALSE(v.ok);
  EXPECT_FALSE(online_.ok);
}

}  // namespace
}  // namespace portrait::store
