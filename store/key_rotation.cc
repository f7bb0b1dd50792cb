#include "store/key_rotation.h"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "crypto/audit_signer.h"
#include "crypto/master_key.h"
#include "store/audit_log.h"
#include "store/data_dir.h"
#include "store/sqlcipher/sqlcipher_rekey.h"
#include "store/sqlcipher/sqlcipher_store.h"

namespace portrait::store {
namespace {

namespace fs = std::filesystem;

// The old master key's hierarchy, once its audit chain has verified.
struct OldStore {
  crypto::KeyHierarchy keys;
  crypto::AuditSigner signer;
  int64_t audit_records = 0;
};

Result<OldStore> OpenOld(const config::Config& config, const DataDirLock& lock,
                         const Clock& clock) {
  PORTRAIT_ASSIGN_OR_RETURN(DataDir data, OpenDataDir(config, &lock));
  PORTRAIT_ASSIGN_OR_RETURN(crypto::AuditSigner signer,
                            crypto::AuditSigner::Create(data.keys.audit_seed()));
  AuditLog log(*data.store, signer, data.keys.audit_mac_key(), clock);
  PORTRAIT_ASSIGN_OR_RETURN(AuditVerification verified, log.Verify());
  if (!verified.ok) {
    return Error(Status::InvalidArgument(
        "the audit log does not verify (record " + std::to_string(verified.first_bad_seq) + ": " +
        verified.problem +
        "); a rotation would MAC it anew under the new key, so it refuses: investigate first"));
  }
  return OldStore{std::move(data.keys), std::move(signer), verified.records};
}

Result<crypto::SecretBytes> NewMasterKey(const config::Config& config, const RotationPaths& paths,
                                         const RotationOptions& options) {
  if (!config.keys.file.empty()) {
    return crypto::CreateKeyFile(paths.key_next);
  }
  const char* old_passphrase = std::getenv(config.keys.passphrase_env.c_str());
  const char* new_passphrase = std::getenv(options.new_passphrase_env.c_str());
  if (!new_passphrase || std::strlen(new_passphrase) < 12) {
    return Error(Status::InvalidArgument(
        "the master key comes from a passphrase: put the new one (at least 12 characters) in "
        "environment variable " +
        options.new_passphrase_env + " (or name another with --new-passphrase-env)"));
  }
  if (old_passphrase && std::strcmp(old_passphrase, new_passphrase) == 0) {
    return Error(Status::InvalidArgument("the new passphrase in " + options.new_passphrase_env +
                                         " is the old one; choose another"));
  }
  return crypto::DeriveFromPassphrase(options.new_passphrase_env,
                                      paths.staging + "/" + kSaltFileName, /*create=*/true);
}

// The new master key's hierarchy, carrying the old blind-index and token-hashing keys.
Result<crypto::KeyHierarchy> NewKeys(const crypto::SecretBytes& master, const OldStore& old,
                                     crypto::CarriedKeys& carried) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::KeyHierarchy derived, crypto::KeyHierarchy::Create(master));
  PORTRAIT_ASSIGN_OR_RETURN(carried, derived.WrapCarriedFrom(old.keys));
  return crypto::KeyHierarchy::Create(master, carried);
}

// Appends the key.rotate record to the staged portrait.db and signs it with the old key;
// then checks the staged chain as the new key will see it.
Status WriteRotationRecord(const RotationPaths& paths, const crypto::KeyHierarchy& keys,
                           const OldStore& old, const Clock& clock, RotationReport& report) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::AuditSigner signer,
                            crypto::AuditSigner::Create(keys.audit_seed()));
  report.old_public_key = crypto::ToHex(old.signer.public_key());
  report.new_public_key = crypto::ToHex(signer.public_key());
  SqlcipherOptions options;
  options.data_dir = paths.staging;
  options.portrait_key = &keys.portrait_db_key();
  options.keystore_key = &keys.keystore_db_key();
  options.audit_mac_key = &keys.audit_mac_key();
  options.readers = 1;
  PORTRAIT_ASSIGN_OR_RETURN(std::unique_ptr<Store> staged, OpenSqlcipherStore(options));
  AuditLog old_log(*staged, old.signer, keys.audit_mac_key(), clock,
                   AuditCadence{INT_MAX, std::chrono::hours(24 * 365 * 100)});
  Batch batch;
  batch.audit.push_back(AuditEntry{clock.NowUs(), "system", std::string(kKeyRotateAction), 0, "",
                                   nlohmann::json{{"old_public_key", report.old_public_key},
                                                  {"new_public_key", report.new_public_key},
                                                  {"data_keys", report.data_keys},
                                                  {"erasure_notices", report.notices}}
                                       .dump()});
  PORTRAIT_RETURN_IF_ERROR(old_log.Commit(batch));
  PORTRAIT_RETURN_IF_ERROR(old_log.Checkpoint());
  AuditLog new_log(*staged, signer, keys.audit_mac_key(), clock);
  PORTRAIT_ASSIGN_OR_RETURN(AuditVerification verified, new_log.Verify());
  if (!verified.ok) {
    return Status::Internal("the rotated audit log does not verify (record " +
                            std::to_string(verified.first_bad_seq) + ": " + verified.problem +
                            "); not committing");
  }
  return Status::Ok();
}

// Step 1 of the protocol: everything under the new key, staged and fsynced.
Status Stage(const config::Config& config, const RotationPaths& paths, const OldStore& old,
             const RotationOptions& options, RotationReport& report) {
  if (::mkdir(paths.staging.c_str(), 0700) != 0) {
    return Status::IOError("cannot create " + paths.staging + ": " + std::strerror(errno));
  }
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SecretBytes master, NewMasterKey(config, paths, options));
  RotationFaultPoint("key-written");
  crypto::CarriedKeys carried;
  PORTRAIT_ASSIGN_OR_RETURN(crypto::KeyHierarchy keys, NewKeys(master, old, carried));
  const std::string keystore = paths.staging + "/" + kKeystoreDbName;
  const std::string portrait = paths.staging + "/" + kPortraitDbName;
  PORTRAIT_RETURN_IF_ERROR(ExportRekeyed(paths.data_dir + "/" + kKeystoreDbName,
                                         old.keys.keystore_db_key(), keystore,
                                         keys.keystore_db_key()));
  PORTRAIT_RETURN_IF_ERROR(ExportRekeyed(paths.data_dir + "/" + kPortraitDbName,
                                         old.keys.portrait_db_key(), portrait,
                                         keys.portrait_db_key()));
  RotationFaultPoint("databases-copied");
  PORTRAIT_ASSIGN_OR_RETURN(
      report.data_keys, RewrapKeystore(keystore, keys.keystore_db_key(), old.keys, keys, carried));
  RotationFaultPoint("keystore-rewrapped");
  PORTRAIT_ASSIGN_OR_RETURN(report.notices,
                            RekeyPortraitCopy(portrait, keys.portrait_db_key(), old.keys, keys));
  RotationFaultPoint("portrait-rekeyed");
  PORTRAIT_RETURN_IF_ERROR(WriteRotationRecord(paths, keys, old, *options.clock, report));
  RotationFaultPoint("audited");
  PORTRAIT_RETURN_IF_ERROR(SettleDatabase(keystore, keys.keystore_db_key()));
  PORTRAIT_RETURN_IF_ERROR(SettleDatabase(portrait, keys.portrait_db_key()));
  PORTRAIT_RETURN_IF_ERROR(FsyncPath(paths.staging));
  if (!paths.key_next.empty()) {
    std::string key_dir = fs::path(paths.key_next).parent_path().string();
    PORTRAIT_RETURN_IF_ERROR(FsyncPath(key_dir.empty() ? "." : key_dir));
  }
  return FsyncPath(paths.data_dir);
}

}  // namespace

Result<RotationReport> RotateMasterKey(const config::Config& config,
                                       const RotationOptions& options) {
  PORTRAIT_RETURN_IF_ERROR(
      RefuseOnPostgres(config, "portraitctl key rotate (not available on PostgreSQL yet)"));
  Result<DataDirLock> lock = LockDataDir(config, "portraitctl key rotate");
  if (!lock && lock.error().code() == Status::Code::kUnavailable) {
    return Error(Status::Unavailable(lock.error().message() +
                                     "; key rotation is offline: stop portraitd first"));
  }
  if (!lock) {
    return Error(lock.error());
  }
  const RotationPaths paths = RotationPathsFor(config);
  RotationReport report;
  PORTRAIT_ASSIGN_OR_RETURN(report.interrupted, FinishRotation(paths, *lock));
  if (report.interrupted == RotationState::kCommitted) {
    return report;  // the interrupted rotation is done now; the caller asked for one rotation
  }
  PORTRAIT_ASSIGN_OR_RETURN(OldStore old, OpenOld(config, *lock, *options.clock));
  report.audit_records = old.audit_records;
  if (Status staged = Stage(config, paths, old, options, report); !staged.ok()) {
    (void)FinishRotation(paths, *lock);  // rolls back: nothing committed
    return Error(std::move(staged));
  }
  PORTRAIT_RETURN_IF_ERROR(CommitRotation(paths, *lock));
  report.rotated = true;
  return report;
}

}  // namespace portrait::store
