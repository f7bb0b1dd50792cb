// The database work of `portraitctl backup` (store/backup.h), on database files by path, each
// function opening its own connections: the online copy of a live database through SQLite's
// backup API, the facts a manifest records, the integrity check, and the erasure ledger's
// table in a keystore.db (store/erasure_ledger.h).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "crypto/secret.h"
#include "store/erasure_ledger.h"

namespace portrait::store {

// Copies the database at `from` (key `key`) into a new file `to` under the same key, through
// sqlite3_backup_step(-1): every page of one read snapshot of `from`, while other connections
// (portraitd's writer) keep committing to its WAL. The copy is left whole in its one file
// (rollback journal) and fsynced. Conflict if `to` exists.
Status CopyDatabaseOnline(const std::string& from, const std::string& to,
                          const crypto::SecretBytes& key);

// A database's schema version (PRAGMA user_version) and, for portrait.db, the audit log's head
// (0 with no audit table or no record).
struct DatabaseFacts {
  int64_t schema_version = 0;
  int64_t audit_seq = 0;
};
Result<DatabaseFacts> ReadDatabaseFacts(const std::string& path, const crypto::SecretBytes& key,
                                        bool with_audit);

// PRAGMA integrity_check: "ok", or its first findings.
Result<std::string> CheckIntegrity(const std::string& path, const crypto::SecretBytes& key);

// The erasure ledger's entries in the keystore.db at `path`, by profile id (none when the
// keystore predates the table).
Result<std::vector<LedgerEntry>> ReadDestroyedKeys(const std::string& path,
                                                   const crypto::SecretBytes& key);

// Adds `entries` to the ledger table of the keystore.db at `path` (an id already there keeps
// its row), in one transaction.
Status RecordDestroyedKeys(const std::string& path, const crypto::SecretBytes& key,
                           const std::vector<LedgerEntry>& entries);

}  // namespace portrait::store
