// RestoreBackup (store/backup.h).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "base/time_format.h"
#include "crypto/audit_signer.h"
#include "store/backup.h"
#include "store/backup_reapply.h"
#include "store/data_dir.h"
#include "store/key_rotation_protocol.h"
#include "store/sqlcipher/backup_files.h"
#include "store/sqlcipher/sqlcipher_rekey.h"
#include "store/sqlcipher/sqlcipher_store.h"

namespace portrait::store {
namespace {

namespace fs = std::filesystem;

constexpr const char* kStagingName = "restore";
constexpr const char* kDatabases[] = {kPortraitDbName, kKeystoreDbName};

Result<DataDirLock> LockForRestore(const config::Config& config) {
  const std::string& live = config.daemon.data_dir;
  std::error_code ec;
  if (!fs::exists(live, ec)) {
    fs::create_directories(live, ec);
    if (ec || ::chmod(live.c_str(), 0700) != 0) {
      return Error(Status::IOError("cannot create data directory " + live + ": " + ec.message()));
    }
  }
  Result<DataDirLock> lock = LockDataDir(config, "portraitctl backup restore");
  if (!lock && lock.error().code() == Status::Code::kUnavailable) {
    return Error(Status::Unavailable(lock.error().message() +
                                     "; restoring is offline: stop portraitd first"));
  }
  return lock;
}

// The backup's files copied into DATA_DIR/restore (a passphrase's salt from the data directory
// when the backup has none).
Status Stage(const config::Config& config, const std::string& dir, const BackupManifest& m,
             const std::string& staging) {
  std::error_code ec;
  fs::remove_all(staging, ec);  // a restore a crash cut off before its swap
  if (!fs::create_directory(staging, ec) || ::chmod(staging.c_str(), 0700) != 0) {
    return Status::IOError("cannot create " + staging + ": " + ec.message());
  }
  bool has_salt = false;
  for (const BackupFile& f : m.files) {
    fs::copy_file(dir + "/" + f.name, staging + "/" + f.name, ec);
    if (ec) {
      return Status::IOError("cannot copy " + f.name + " into " + staging + ": " + ec.message());
    }
    PORTRAIT_RETURN_IF_ERROR(FsyncPath(staging + "/" + f.name));
    has_salt = has_salt || f.name == kSaltFileName;
  }
  const std::string live_salt = config.daemon.data_dir + "/" + kSaltFileName;
  if (config.keys.file.empty() && !has_salt && fs::exists(live_salt, ec)) {
    fs::copy_file(live_salt, staging + "/" + kSaltFileName, ec);
  }
  // The staged files, not the backup's, are verified again: what is restored is what was read.
  PORTRAIT_RETURN_IF_ERROR(VerifyBackupFiles(staging, m));
  return FsyncPath(staging);
}

// The key hierarchy that opens the staged copy: the one in force, if the backup was taken
// under it.
Result<crypto::KeyHierarchy> StagedKeys(const config::Config& config, const std::string& staging,
                                        const BackupManifest& m) {
  const std::string which =
      "the backup was taken under the master key whose audit public key "
      "is " +
      m.audit_public_key;
  Result<crypto::KeyHierarchy> keys = DataDirKeys(config, staging);
  if (!keys && keys.error().code() == Status::Code::kPermissionDenied) {
    return Error(Status::PermissionDenied(
        "the master key in force does not open this backup: " + which +
        " (a key rotation since?). Point [keys] at that key (or its passphrase), restore, then "
        "`portraitctl key rotate`"));
  }
  if (!keys) {
    return Error(keys.error());
  }
  PORTRAIT_ASSIGN_OR_RETURN(crypto::AuditSigner signer,
                            crypto::AuditSigner::Create(keys->audit_seed()));
  if (crypto::ToHex(signer.public_key()) != m.audit_public_key) {
    return Error(Status::PermissionDenied("the master key in force is not the backup's: " + which));
  }
  for (const char* name : kDatabases) {
    const crypto::SecretBytes& key =
        name == kPortraitDbName ? keys->portrait_db_key() : keys->keystore_db_key();
    PORTRAIT_ASSIGN_OR_RETURN(std::string integrity, CheckIntegrity(staging + "/" + name, key));
    if (integrity != "ok") {
      return Error(Status::Corruption("the backup's " + std::string(name) +
                                      " fails its integrity check: " + integrity));
    }
  }
  return keys;
}

// Every ledger: the live directory's (file, and keystore.db table if it opens), the ones the
// operator named, and the backup's own table.
Result<LedgerGathering> Gather(const config::Config& config, const std::string& dir,
                               const std::string& staging, const crypto::KeyHierarchy& keys,
                               const crypto::SecretBytes& mac, const RestoreOptions& options) {
  LedgerGathering g;
  PORTRAIT_RETURN_IF_ERROR(GatherLedger(config.daemon.data_dir, keys, mac, false, g));
  for (const std::string& path : options.ledgers) {
    PORTRAIT_RETURN_IF_ERROR(GatherLedger(path, keys, mac, true, g));
  }
  PORTRAIT_RETURN_IF_ERROR(GatherLedger(staging, keys, mac, true, g));
  std::replace(g.read.begin(), g.read.end(), staging + "/" + kKeystoreDbName,
               dir + "/" + kKeystoreDbName);  // named as the operator knows it
  return g;
}

// In the staged store: the ledger recorded whole, every erasure re-applied, the restore
// audited; then both databases settled into their files.
Result<int64_t> ApplyLedger(const config::Config& config, const std::string& staging,
                            const crypto::KeyHierarchy& keys, const LedgerGathering& g,
                            const BackupManifest& m, const Clock& clock) {
  int64_t reapplied = 0;
  {
    SqlcipherOptions options;
    options.data_dir = staging;
    options.portrait_key = &keys.portrait_db_key();
    options.keystore_key = &keys.keystore_db_key();
    options.audit_mac_key = &keys.audit_mac_key();
    options.readers = 1;
    PORTRAIT_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenSqlcipherStore(options));
    PORTRAIT_RETURN_IF_ERROR(
        RecordDestroyedKeys(staging + "/" + kKeystoreDbName, keys.keystore_db_key(), g.entries));
    PORTRAIT_ASSIGN_OR_RETURN(crypto::AuditSigner signer,
                              crypto::AuditSigner::Create(keys.audit_seed()));
    PORTRAIT_ASSIGN_OR_RETURN(
        crypto::BlindIndex blind,
        crypto::BlindIndex::Create(keys.blind_index_key(), config.keys.blind_index_bytes));
    AuditLog log(*store, signer, keys.audit_mac_key(), clock);
    config::ConfigHolder holder(std::make_shared<const config::Config>(config));
    ProfileVault vault(holder, *store, keys, blind, clock, &log);
    PORTRAIT_ASSIGN_OR_RETURN(reapplied,
                              ReapplyErasures(*store, vault, log, g.entries, clock.NowUs()));
    PORTRAIT_RETURN_IF_ERROR(
        log.Append({AuditEntry{clock.NowUs(), "system", "backup.restore", 0, "",
                               nlohmann::json{{"backup_created_at", FormatRfc3339(m.created_us)},
                                              {"backup_audit_seq", m.audit_seq},
                                              {"ledger_entries", g.entries.size()},
                                              {"erasures_reapplied", reapplied}}
                                   .dump()}}));
    PORTRAIT_RETURN_IF_ERROR(log.Checkpoint());
  }
  PORTRAIT_RETURN_IF_ERROR(SettleDatabase(staging + "/" + kPortraitDbName, keys.portrait_db_key()));
  PORTRAIT_RETURN_IF_ERROR(SettleDatabase(staging + "/" + kKeystoreDbName, keys.keystore_db_key()));
  return reapplied;
}

// The live ledger file gains every entry it lacks, so it stays the whole ledger.
Status CompleteLiveLedger(const std::string& live, const LedgerGathering& g,
                          const crypto::SecretBytes& mac) {
  const std::string path = live + "/" + kErasureLedgerName;
  std::set<ProfileId> present;
  Result<LedgerFile> file = ReadLedgerFile(path, mac);
  if (file) {
    for (const LedgerEntry& e : file->entries) {
      present.insert(e.id);
    }
  } else if (file.error().code() != Status::Code::kNotFound) {
    return file.error();
  }
  std::vector<LedgerEntry> missing;
  std::copy_if(g.entries.begin(), g.entries.end(), std::back_inserter(missing),
               [&](const LedgerEntry& e) { return !present.count(e.id); });
  return missing.empty() ? Status::Ok() : AppendLedgerEntries(path, missing, mac);
}

// A new DATA_DIR/pre-restore-<UTC time>[-n].
Result<std::string> AsideDir(const std::string& live, int64_t now_us) {
  std::string stamp = FormatRfc3339(now_us).substr(0, 19);
  stamp.erase(
      std::remove_if(stamp.begin(), stamp.end(), [](char c) { return c == '-' || c == ':'; }),
      stamp.end());
  for (int n = 1; n < 100; ++n) {
    const std::string dir =
        live + "/pre-restore-" + stamp + "Z" + (n > 1 ? "-" + std::to_string(n) : "");
    if (::mkdir(dir.c_str(), 0700) == 0) {
      return dir;
    }
  }
  return Error(Status::IOError("cannot create a pre-restore directory in " + live));
}

// Whether the staged copy brings a passphrase salt the data directory lacks or holds another of.
bool SaltChanges(const std::string& live, const std::string& staging) {
  Result<BackupFile> staged = DescribeFile(staging, kSaltFileName);
  Result<BackupFile> current = DescribeFile(live, kSaltFileName);
  return staged && (!current || current->sha256 != staged->sha256);
}

// The live databases (and a salt the backup replaces) moved aside, if any, the staged ones
// renamed into place.
Status Swap(const std::string& live, const std::string& staging, int64_t now_us,
            std::string& aside) {
  std::vector<std::string> names(std::begin(kDatabases), std::end(kDatabases));
  if (SaltChanges(live, staging)) {
    names.push_back(kSaltFileName);
  }
  std::error_code ec;
  for (const std::string& name : names) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      const std::string from = live + "/" + name + suffix;
      if (!fs::exists(from, ec)) {
        continue;
      }
      if (aside.empty()) {
        PORTRAIT_ASSIGN_OR_RETURN(aside, AsideDir(live, now_us));
      }
      fs::rename(from, aside + "/" + name + suffix, ec);
      if (ec) {
        return Status::IOError("cannot move " + from + " aside: " + ec.message());
      }
    }
  }
  if (!aside.empty()) {
    PORTRAIT_RETURN_IF_ERROR(FsyncPath(aside));
  }
  for (const std::string& name : names) {
    fs::rename(staging + "/" + name, live + "/" + name, ec);
    if (ec) {
      return Status::IOError("cannot move the restored " + name + " into place: " + ec.message() +
                             " (run the restore again)");
    }
  }
  PORTRAIT_RETURN_IF_ERROR(FsyncPath(live));
  fs::remove_all(staging, ec);
  return Status::Ok();
}

struct Prepared {
  LedgerGathering ledger;
  int64_t reapplied = 0;
};

// Everything but the swap: staged, checked, the ledgers gathered and re-applied in the staged
// copy, the live ledger file completed.
Result<Prepared> Prepare(const config::Config& config, const std::string& dir,
                         const std::string& staging, const RestoreOptions& options,
                         const BackupManifest& m) {
  PORTRAIT_RETURN_IF_ERROR(Stage(config, dir, m, staging));
  PORTRAIT_ASSIGN_OR_RETURN(crypto::KeyHierarchy keys, StagedKeys(config, staging, m));
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SecretBytes mac, LedgerMacKey(keys));
  Prepared p;
  PORTRAIT_ASSIGN_OR_RETURN(p.ledger, Gather(config, dir, staging, keys, mac, options));
  PORTRAIT_ASSIGN_OR_RETURN(p.reapplied,
                            ApplyLedger(config, staging, keys, p.ledger, m, *options.clock));
  PORTRAIT_RETURN_IF_ERROR(CompleteLiveLedger(config.daemon.data_dir, p.ledger, mac));
  return p;
}

// Run as root (sudo, beside a service running as its own user), the files a restore wrote
// take the data directory's owner, or portraitd could not open them.
Status MatchOwner(const std::string& live) {
  struct stat dir {};
  if (::geteuid() != 0 || ::stat(live.c_str(), &dir) != 0 || dir.st_uid == 0) {
    return Status::Ok();
  }
  std::error_code ec;
  for (const char* name :
       {kPortraitDbName, kKeystoreDbName, kErasureLedgerName, kSaltFileName, kLockFileName}) {
    const std::string path = live + "/" + name;
    if (fs::exists(path, ec) && ::chown(path.c_str(), dir.st_uid, dir.st_gid) != 0) {
      return Status::IOError("cannot give " + path + " the data directory's owner");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<RestoreReport> RestoreBackup(const config::Config& config, const std::string& dir,
                                    const RestoreOptions& options) {
  PORTRAIT_RETURN_IF_ERROR(RefuseOnPostgres(
      config,
      "portraitctl backup create and restore (on PostgreSQL, restore both databases with "
      "its own tools; re-applying the erasures made since is not automated there yet)"));
  const Clock& clock = *options.clock;
  const std::string& live = config.daemon.data_dir;
  PORTRAIT_ASSIGN_OR_RETURN(DataDirLock lock, LockForRestore(config));
  if (InspectRotation(RotationPathsFor(config)) != RotationState::kNone) {
    return Error(Status::Unavailable("a key rotation was interrupted in " + live +
                                     "; finish it first (`portraitctl key status` says how)"));
  }
  RestoreReport report;
  PORTRAIT_ASSIGN_OR_RETURN(report.backup, ReadManifest(dir));
  PORTRAIT_RETURN_IF_ERROR(VerifyBackupFiles(dir, report.backup));
  const std::string staging = live + "/" + kStagingName;
  Result<Prepared> prepared = Prepare(config, dir, staging, options, report.backup);
  if (!prepared) {
    std::error_code ec;
    fs::remove_all(staging, ec);  // nothing live was touched
    return Error(prepared.error());
  }
  report.reapplied = prepared->reapplied;
  report.ledger_entries = static_cast<int64_t>(prepared->ledger.entries.size());
  report.ledgers_read = prepared->ledger.read;
  report.notes = prepared->ledger.notes;
  PORTRAIT_RETURN_IF_ERROR(Swap(live, staging, clock.NowUs(), report.kept_aside));
  PORTRAIT_RETURN_IF_ERROR(MatchOwner(live));
  return report;
}

}  // namespace portrait::store
