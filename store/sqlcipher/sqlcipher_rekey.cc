#include "store/sqlcipher/sqlcipher_rekey.h"

#include <sodium.h>

#include <filesystem>

#include "store/audit_chain.h"
#include "store/key_rotation_protocol.h"
#include "store/sqlcipher/sqlite.h"
#include "store/store.h"

namespace portrait::store {
namespace {

using sqlite::Db;
using sqlite::Stmt;

// Runs `body` in one IMMEDIATE transaction of `db`, rolled back on any error.
template <typename Fn>
auto InTransaction(Db& db, Fn&& body) -> decltype(body()) {
  PORTRAIT_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE;"));
  auto result = body();
  if (!result) {
    (void)db.Exec("ROLLBACK;");
    return result;
  }
  PORTRAIT_RETURN_IF_ERROR(db.Exec("COMMIT;"));
  return result;
}

Status Attach(Db& db, const std::string& path, const char* raw_key);

// ATTACHes `path` to `db` as "rekeyed" under `key` (raw), with portrait's cipher page size.
Status AttachRekeyed(Db& db, const std::string& path, const crypto::SecretBytes& key) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SecretBytes raw, sqlite::RawKeyLiteral(key));
  const char* p = reinterpret_cast<const char*>(raw.data());
  // ATTACH reads the file with the default cipher page size, 1 KiB in SQLCipher 3.x; every
  // portrait database has 4 KiB pages. The default is the process's: put it back after.
  PORTRAIT_RETURN_IF_ERROR(db.Exec("PRAGMA cipher_default_page_size = 4096;"));
  Status attached = Attach(db, path, p);
  PORTRAIT_RETURN_IF_ERROR(db.Exec("PRAGMA cipher_default_page_size = 1024;"));
  return attached;
}

Status Attach(Db& db, const std::string& path, const char* raw_key) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db.get(), "ATTACH DATABASE ?1 AS rekeyed KEY ?2;", -1, &stmt, nullptr) !=
      SQLITE_OK) {
    return db.LastError("cannot prepare ATTACH");
  }
  sqlite3_bind_text(stmt, 1, path.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 2, raw_key, sqlite::kRawKeyLiteralSize, SQLITE_STATIC);
  const int rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return rc == SQLITE_DONE ? Status::Ok() : db.LastError("cannot attach " + path);
}

Result<int64_t> UserVersion(Db& db) {
  Stmt s(db, "PRAGMA main.user_version;");
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

Result<bool> HasTable(Db& db, std::string_view table) {
  Stmt s(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?;");
  s.Bind(1, table);
  return s.Step();
}

Status CopyInto(Db& db) {
  PORTRAIT_ASSIGN_OR_RETURN(int64_t version, UserVersion(db));
  PORTRAIT_RETURN_IF_ERROR(db.Exec("SELECT sqlcipher_export('rekeyed');"));
  PORTRAIT_ASSIGN_OR_RETURN(bool counters, HasTable(db, "sqlite_sequence"));
  if (counters) {  // AUTOINCREMENT ids must never be given twice, in the copy either
    PORTRAIT_RETURN_IF_ERROR(
        db.Exec("DELETE FROM rekeyed.sqlite_sequence;"
                "INSERT INTO rekeyed.sqlite_sequence SELECT * FROM main.sqlite_sequence;"));
  }
  PORTRAIT_RETURN_IF_ERROR(
      db.Exec("PRAGMA rekeyed.user_version = " + std::to_string(version) + ";"));
  return Status::Ok();
}

}  // namespace

Status ExportRekeyed(const std::string& from, const crypto::SecretBytes& from_key,
                     const std::string& to, const crypto::SecretBytes& to_key) {
  std::error_code ec;
  if (std::filesystem::exists(to, ec)) {
    return Status::Conflict(to + " already exists; refusing to replace it");
  }
  {
    // Made empty here: ATTACH opens with the source's flags, which never create a file.
    PORTRAIT_ASSIGN_OR_RETURN(Db created, Db::Open(to, to_key, /*create=*/true, 1));
  }
  {
    PORTRAIT_ASSIGN_OR_RETURN(Db db, Db::Open(from, from_key, /*create=*/false, 16));
    PORTRAIT_RETURN_IF_ERROR(AttachRekeyed(db, to, to_key));
    Status copied = CopyInto(db);
    (void)db.Exec("DETACH DATABASE rekeyed;");
    PORTRAIT_RETURN_IF_ERROR(copied.WithContext("copying " + from + " under its new key"));
  }
  return FsyncPath(to);
}

Result<int64_t> RewrapKeystore(const std::string& path, const crypto::SecretBytes& db_key,
                               const crypto::KeyHierarchy& old_keys,
                               const crypto::KeyHierarchy& new_keys,
                               const crypto::CarriedKeys& carried) {
  PORTRAIT_ASSIGN_OR_RETURN(Db db, Db::Open(path, db_key, /*create=*/false, 16));
  return InTransaction(db, [&]() -> Result<int64_t> {
    int64_t count = 0;
    for (ProfileId after = -1;;) {
      Stmt page(db,
                "SELECT profile_id, wrapped FROM data_keys WHERE profile_id > ? "
                "ORDER BY profile_id LIMIT 10000;");
      page.Bind(1, after);
      std::vector<std::pair<ProfileId, std::string>> rewrapped;
      while (true) {
        PORTRAIT_ASSIGN_OR_RETURN(bool row, page.Step());
        if (!row) {
          break;
        }
        const ProfileId id = page.Int(0);
        Result<crypto::SecretBytes> key = old_keys.UnwrapDataKey(id, page.Text(1));
        if (!key) {
          return Error(Status::Corruption("the data key of profile " + std::to_string(id) +
                                          " can't be unwrapped with the old master key"));
        }
        PORTRAIT_ASSIGN_OR_RETURN(std::string wrapped, new_keys.WrapDataKey(id, *key));
        rewrapped.emplace_back(id, std::move(wrapped));
      }
      if (rewrapped.empty()) {
        break;
      }
      Stmt update(db, "UPDATE data_keys SET wrapped = ? WHERE profile_id = ?;");
      for (const auto& [id, wrapped] : rewrapped) {
        update.Reset();
        update.BindBlob(1, wrapped).Bind(2, id);
        PORTRAIT_RETURN_IF_ERROR(update.Run());
      }
      count += static_cast<int64_t>(rewrapped.size());
      after = rewrapped.back().first;
    }
    PORTRAIT_RETURN_IF_ERROR(db.Exec("DELETE FROM carried_keys;"));
    Stmt put(db, "INSERT INTO carried_keys (name, wrapped) VALUES (?, ?);");
    for (const auto& [name, wrapped] : carried) {
      put.Reset();
      put.Bind(1, name).BindBlob(2, wrapped);
      PORTRAIT_RETURN_IF_ERROR(put.Run());
    }
    return count;
  });
}

namespace {

Result<int64_t> ResealNotices(Db& db, const crypto::KeyHierarchy& old_keys,
                              const crypto::KeyHierarchy& new_keys) {
  Stmt read(db, "SELECT id, profile_id, payload FROM tasks WHERE trigger = ? AND payload != x'';");
  read.Bind(1, kErasureNotice);
  std::vector<std::pair<int64_t, std::string>> resealed;
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(bool row, read.Step());
    if (!row) {
      break;
    }
    Result<std::string> plain = old_keys.OpenNotice(read.Int(1), read.Text(2));
    if (!plain) {
      return Error(Status::Corruption("the erasure notice of task " + std::to_string(read.Int(0)) +
                                      " can't be opened with the old master key"));
    }
    PORTRAIT_ASSIGN_OR_RETURN(std::string sealed, new_keys.SealNotice(read.Int(1), *plain));
    sodium_memzero(plain->data(), plain->size());
    resealed.emplace_back(read.Int(0), std::move(sealed));
  }
  Stmt update(db, "UPDATE tasks SET payload = ? WHERE id = ?;");
  for (const auto& [id, payload] : resealed) {
    update.Reset();
    update.BindBlob(1, payload).Bind(2, id);
    PORTRAIT_RETURN_IF_ERROR(update.Run());
  }
  return static_cast<int64_t>(resealed.size());
}

Status RemacAudit(Db& db, const crypto::KeyHierarchy& new_keys) {
  for (int64_t after = 0;;) {
    Stmt page(db,
              "SELECT seq, hash FROM audit WHERE seq > ? AND mac != x'' ORDER BY seq LIMIT 10000;");
    page.Bind(1, after);
    std::vector<std::pair<int64_t, std::string>> macs;
    while (true) {
      PORTRAIT_ASSIGN_OR_RETURN(bool row, page.Step());
      if (!row) {
        break;
      }
      macs.emplace_back(page.Int(0),
                        RecordMac(new_keys.audit_mac_key(), page.Int(0), page.Text(1)));
    }
    if (macs.empty()) {
      return Status::Ok();
    }
    Stmt update(db, "UPDATE audit SET mac = ? WHERE seq = ?;");
    for (const auto& [seq, mac] : macs) {
      update.Reset();
      update.BindBlob(1, mac).Bind(2, seq);
      PORTRAIT_RETURN_IF_ERROR(update.Run());
    }
    after = macs.back().first;
  }
}

}  // namespace

Result<int64_t> RekeyPortraitCopy(const std::string& path, const crypto::SecretBytes& db_key,
                                  const crypto::KeyHierarchy& old_keys,
                                  const crypto::KeyHierarchy& new_keys) {
  PORTRAIT_ASSIGN_OR_RETURN(Db db, Db::Open(path, db_key, /*create=*/false, 16));
  return InTransaction(db, [&]() -> Result<int64_t> {
    PORTRAIT_ASSIGN_OR_RETURN(int64_t notices, ResealNotices(db, old_keys, new_keys));
    PORTRAIT_RETURN_IF_ERROR(RemacAudit(db, new_keys));
    return notices;
  });
}

Result<crypto::CarriedKeys> ReadCarriedKeys(const std::string& path,
                                            const crypto::SecretBytes& db_key) {
  PORTRAIT_ASSIGN_OR_RETURN(Db db, Db::Open(path, db_key, /*create=*/false, 1));
  crypto::CarriedKeys out;
  PORTRAIT_ASSIGN_OR_RETURN(bool exists, HasTable(db, "carried_keys"));
  if (!exists) {
    return out;  // a keystore from before rotations existed
  }
  Stmt s(db, "SELECT name, wrapped FROM carried_keys;");
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return out;
    }
    out[s.Text(0)] = s.Text(1);
  }
}

Status SettleDatabase(const std::string& path, const crypto::SecretBytes& db_key) {
  {
    PORTRAIT_ASSIGN_OR_RETURN(Db db, Db::Open(path, db_key, /*create=*/false, 1));
    PORTRAIT_RETURN_IF_ERROR(
        db.Exec("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;"));
  }
  std::error_code ec;
  if (std::filesystem::exists(path + "-wal", ec)) {
    return Status::Internal(path + "-wal survived closing its database; not committing");
  }
  return FsyncPath(path);
}

}  // namespace portrait::store
