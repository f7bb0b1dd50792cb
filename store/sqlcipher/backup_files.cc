#include "store/sqlcipher/backup_files.h"

#include "store/sqlcipher/sqlcipher_rekey.h"
#include "store/sqlcipher/sqlite.h"

namespace portrait::store {
namespace {

using sqlite::Db;
using sqlite::Stmt;

Result<bool> HasTable(Db& db, std::string_view table) {
  Stmt s(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?;");
  s.Bind(1, table);
  return s.Step();
}

Result<int64_t> OneInt(Db& db, std::string_view sql) {
  Stmt s(db, sql);
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

}  // namespace

Status CopyDatabaseOnline(const std::string& from, const std::string& to,
                          const crypto::SecretBytes& key) {
  {
    PORTRAIT_ASSIGN_OR_RETURN(Db source, Db::Open(from, key, /*create=*/false, 4));
    PORTRAIT_ASSIGN_OR_RETURN(Db copy, Db::Open(to, key, /*create=*/true, 4));
    sqlite3_backup* backup = sqlite3_backup_init(copy.get(), "main", source.get(), "main");
    if (!backup) {
      return copy.LastError("cannot start the backup of " + from);
    }
    // One step of every page: one read transaction on the source, so one snapshot, however
    // many commits portraitd makes meanwhile (they go to the WAL past the snapshot).
    int rc = SQLITE_OK;
    for (int tries = 0; tries < 500; ++tries) {  // a writer's lock for 10 s at most
      rc = sqlite3_backup_step(backup, -1);
      if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
        break;
      }
      sqlite3_sleep(20);
    }
    const int finished = sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE || finished != SQLITE_OK) {
      return copy.LastError("the backup of " + from + " failed");
    }
  }
  return SettleDatabase(to, key);
}

Result<DatabaseFacts> ReadDatabaseFacts(const std::string& path, const crypto::SecretBytes& key,
                                        bool with_audit) {
  PORTRAIT_ASSIGN_OR_RETURN(Db db, Db::Open(path, key, /*create=*/false, 1));
  DatabaseFacts facts;
  PORTRAIT_ASSIGN_OR_RETURN(facts.schema_version, OneInt(db, "PRAGMA user_version;"));
  if (with_audit) {
    PORTRAIT_ASSIGN_OR_RETURN(bool audited, HasTable(db, "audit"));
    if (audited) {
      PORTRAIT_ASSIGN_OR_RETURN(facts.audit_seq,
                                OneInt(db, "SELECT coalesce(max(seq), 0) FROM audit;"));
    }
  }
  return facts;
}

Result<std::string> CheckIntegrity(const std::string& path, const crypto::SecretBytes& key) {
  PORTRAIT_ASSIGN_OR_RETURN(Db db, Db::Open(path, key, /*create=*/false, 4));
  Stmt s(db, "PRAGMA integrity_check(10);");
  std::string out;
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return out;
    }
    out += (out.empty() ? "" : "; ") + s.Text(0);
  }
}

Result<std::vector<LedgerEntry>> ReadDestroyedKeys(const std::string& path,
                                                   const crypto::SecretBytes& key) {
  PORTRAIT_ASSIGN_OR_RETURN(Db db, Db::Open(path, key, /*create=*/false, 4));
  PORTRAIT_ASSIGN_OR_RETURN(bool has, HasTable(db, "destroyed_keys"));
  if (!has) {
    return std::vector<LedgerEntry>();
  }
  Stmt s(db, "SELECT profile_id, time_us, audit_seq FROM destroyed_keys ORDER BY profile_id;");
  return sqlite::ReadRows(s, [](const Stmt& r) {
    return LedgerEntry{r.Int(0), r.Int(1), r.Int(2)};
  });
}

Status RecordDestroyedKeys(const std::string& path, const crypto::SecretBytes& key,
                           const std::vector<LedgerEntry>& entries) {
  PORTRAIT_ASSIGN_OR_RETURN(Db db, Db::Open(path, key, /*create=*/false, 4));
  PORTRAIT_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE;"));
  Status done;
  for (const LedgerEntry& e : entries) {
    Stmt s(db,
           "INSERT OR IGNORE INTO destroyed_keys (profile_id, time_us, audit_seq) "
           "VALUES (?, ?, ?);");
    s.Bind(1, e.id).Bind(2, e.time_us).Bind(3, e.audit_seq);
    done = s.Run();
    if (!done.ok()) {
      break;
    }
  }
  done = done.ok() ? db.Exec("COMMIT;") : done;
  if (!done.ok()) {
    (void)db.Exec("ROLLBACK;");
  }
  return done;
}

}  // namespace portrait::store
