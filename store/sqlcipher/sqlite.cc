#include "store/sqlcipher/sqlite.h"

#include <sodium.h>

#include <filesystem>
#include <utility>

namespace portrait::store::sqlite {

Db::~Db() {
  for (auto& [sql, stmt] : cache_) {
    sqlite3_finalize(stmt);
  }
  if (db_) {
    sqlite3_close_v2(db_);
  }
}

Db::Db(Db&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)),
      cache_(std::move(other.cache_)) {
  other.cache_.clear();
}

sqlite3_stmt* Db::Borrow(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it == cache_.end() || !it->second) {
    return nullptr;
  }
  return std::exchange(it->second, nullptr);
}

void Db::GiveBack(std::string_view sql, sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  sqlite3_stmt*& slot = cache_[std::string(sql)];
  if (slot) {
    sqlite3_finalize(stmt);  // the same SQL was in use twice at once; keep one
  } else {
    slot = stmt;
  }
}

Status Db::LastError(std::string_view what) const {
  int code = db_ ? sqlite3_errcode(db_) : SQLITE_ERROR;
  std::string msg =
      std::string(what) + " (" + path_ + "): " + (db_ ? sqlite3_errmsg(db_) : "no connection");
  switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
      return Status::Conflict(std::move(msg));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(std::move(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(msg));
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
      return Status::IOError(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

Status Db::Exec(std::string_view sql) {
  std::string s(sql);
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return LastError("statement failed");
  }
  return Status::Ok();
}

Result<crypto::SecretBytes> RawKeyLiteral(const crypto::SecretBytes& key) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SecretBytes raw,
                            crypto::SecretBytes::Allocate(kRawKeyLiteralSize + 1));
  char* p = reinterpret_cast<char*>(raw.data());
  p[0] = 'x';
  p[1] = '\'';
  sodium_bin2hex(p + 2, 65, key.data(), key.size());
  p[66] = '\'';
  return raw;
}

Result<Db> Db::Open(const std::string& path, const crypto::SecretBytes& key, bool create,
                    int page_cache_mib) {
  namespace fs = std::filesystem;
  std::error_code ec;
  bool exists = fs::exists(path, ec);
  if (!exists && !create) {
    return Error(Status::NotFound("database " + path +
                                  " does not exist (create a data directory with "
                                  "`portraitctl init`, or fix [daemon] data_dir)"));
  }
  if (exists && create) {
    return Error(Status::Conflict("database " + path + " already exists; refusing to replace it"));
  }
  if (key.size() != 32) {
    return Error(Status::InvalidArgument("database key must be 32 bytes"));
  }
  Db db;
  db.path_ = path;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db.db_, flags, nullptr) != SQLITE_OK) {
    return Error(db.LastError("cannot open database"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SecretBytes raw, RawKeyLiteral(key));
  if (sqlite3_key(db.db_, raw.data(), kRawKeyLiteralSize) != SQLITE_OK) {
    return Error(db.LastError("cannot key database"));
  }
  // SQLCipher 3.x forgets the page size between opens; its 1 KiB default is slow.
  PORTRAIT_RETURN_IF_ERROR(db.Exec("PRAGMA cipher_page_size = 4096;"));
  if (sqlite3_exec(db.db_, "SELECT count(*) FROM sqlite_master;", nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    if ((sqlite3_errcode(db.db_) & 0xff) == SQLITE_NOTADB) {
      return Error(Status::PermissionDenied(
          "database " + path +
          " cannot be opened with this key (wrong key file or passphrase for this data "
          "directory, or not a portrait database)"));
    }
    return Error(db.LastError("cannot read database"));
  }
  PORTRAIT_RETURN_IF_ERROR(
      db.Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;"
              "PRAGMA wal_autocheckpoint = 8192; PRAGMA busy_timeout = 5000;"
              "PRAGMA cache_size = -" +
              std::to_string(page_cache_mib * 1024) + ";"));
  return db;
}

Stmt::Stmt(Db& db, std::string_view sql) : db_(db), sql_(sql), stmt_(db.Borrow(sql)) {
  if (!stmt_ && sqlite3_prepare_v2(db.get(), sql.data(), static_cast<int>(sql.size()), &stmt_,
                                   nullptr) != SQLITE_OK) {
    status_ = db.LastError("cannot prepare statement");
  }
}

Stmt::~Stmt() {
  if (stmt_ && status_.ok()) {
    db_.GiveBack(sql_, stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

Stmt& Stmt::Bind(int index, int64_t v) {
  if (status_.ok() && sqlite3_bind_int64(stmt_, index, v) != SQLITE_OK) {
    status_ = db_.LastError("cannot bind");
  }
  return *this;
}

Stmt& Stmt::Bind(int index, std::string_view text) {
  if (status_.ok() && sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                        SQLITE_TRANSIENT) != SQLITE_OK) {
    status_ = db_.LastError("cannot bind");
  }
  return *this;
}

Stmt& Stmt::BindBlob(int index, std::string_view bytes) {
  if (status_.ok() && sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()),
                                        SQLITE_TRANSIENT) != SQLITE_OK) {
    status_ = db_.LastError("cannot bind");
  }
  return *this;
}

Result<bool> Stmt::Step() {
  PORTRAIT_RETURN_IF_ERROR(status_);
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return Error(db_.LastError("statement failed"));
}

Status Stmt::Run() {
  PORTRAIT_ASSIGN_OR_RETURN(bool row, Step());
  (void)row;
  return Status::Ok();
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Stmt::Text(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

bool Stmt::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

}  // namespace portrait::store::sqlite
