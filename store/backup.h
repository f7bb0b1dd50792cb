// Backups: `portraitctl backup create DIR` and `portraitctl backup restore DIR`
// (docs/DECISIONS.md 131-134).
//
// CreateBackup runs beside a running portraitd: portrait.db first, then keystore.db, each
// copied through SQLite's online backup API (one read snapshot each, under the same SQLCipher
// keys: a backup is as safe as the live data and needs the master key to be restored; the key
// file is never copied), a passphrase's salt, then the manifest (store/backup_manifest.h),
// last. Copying portrait.db first means every profile in the copy has its key in the keystore
// copy, unless that key was destroyed between the two copies — an erasure, which restore
// re-applies from the erasure ledger.
//
// RestoreBackup runs offline (it holds the data directory's lock): the manifest and every
// digest verified, the databases copied into DATA_DIR/restore, checked, every erasure of the
// ledgers (store/erasure_ledger.h) re-applied there, then the live databases moved aside to
// DATA_DIR/pre-restore-<time>/ and the restored ones renamed into place. Until that swap the
// live directory is untouched (its ledger file only gains the lines it lacked); any error
// before it leaves the live databases as they were.
#pragma once

#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "config/config.h"
#include "store/backup_manifest.h"

namespace portrait::store {

// Writes a backup of the data directory `config` names into `dir`, which must not exist or be
// empty (Conflict otherwise; it is made with mode 0700). On error, what it wrote into `dir` is
// removed. Returns the manifest written.
Result<BackupManifest> CreateBackup(const config::Config& config, const std::string& dir,
                                    const Clock& clock);

struct RestoreOptions {
  // More erasure ledgers to re-apply, each an erasures.log file or a directory holding a
  // keystore.db and/or erasures.log (a later backup, an old data directory's copy).
  std::vector<std::string> ledgers;
  const Clock* clock = nullptr;  // set by the caller; not owned
};

struct RestoreReport {
  BackupManifest backup;
  int64_t ledger_entries = 0;  // distinct destroyed keys across every ledger read
  int64_t reapplied = 0;       // erasures re-applied: the backup still held the profile or key
  std::vector<std::string> ledgers_read;
  std::vector<std::string> notes;  // what could not be read, and why (never a personal value)
  std::string kept_aside;          // where the replaced databases went; empty when none
};

// Restores the backup in `dir` into the data directory `config` names (made if missing).
// Unavailable while portraitd runs; NotFound without a manifest; InvalidArgument for a
// manifest that does not parse or a ledger line that does not verify; Corruption for a file
// whose size or digest is not the manifest's or a copy that fails its integrity check;
// PermissionDenied when the master key in force does not open the backup (a rotation since it
// was taken: restore under the key it names, then rotate again).
Result<RestoreReport> RestoreBackup(const config::Config& config, const std::string& dir,
                                    const RestoreOptions& options);

}  // namespace portrait::store
