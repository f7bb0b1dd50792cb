// Thin RAII wrappers over the SQLCipher C API: a connection and a prepared statement. Errors
// become Status values naming the database file, never a bound value. Not thread-safe: one
// thread uses a Db (and its statements) at a time.
//
// A Db keeps the statements it prepared: a Stmt borrows the cached one for its SQL text (or
// prepares it) and hands it back, reset, when it goes — preparing costs more than running most
// of portrait's statements.
#pragma once

#ifndef SQLITE_HAS_CODEC
#define SQLITE_HAS_CODEC 1
#endif
#include <sqlcipher/sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "crypto/secret.h"

namespace portrait::store::sqlite {

class Db {
 public:
  Db() = default;
  ~Db();
  Db(Db&& other) noexcept;
  Db& operator=(Db&&) = delete;
  Db(const Db&) = delete;

  // Opens `path` (creating it only when `create`), keys it with the raw 32-byte `key`, sets the
  // page size and pragmas of every open, and checks the key by reading the schema.
  // NotFound if the file is missing and !create; PermissionDenied for a wrong key.
  static Result<Db> Open(const std::string& path, const crypto::SecretBytes& key, bool create,
                         int page_cache_mib);

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  Status LastError(std::string_view what) const;  // Status from the connection's last error
  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  friend class Stmt;
  sqlite3_stmt* Borrow(std::string_view sql);
  void GiveBack(std::string_view sql, sqlite3_stmt* stmt);

  sqlite3* db_ = nullptr;
  std::string path_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;  // SQL text -> idle statement
};

class Stmt {
 public:
  Stmt(Db& db, std::string_view sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;

  Status status() const { return status_; }
  Stmt& Bind(int index, int64_t v);
  Stmt& Bind(int index, std::string_view text);       // TEXT
  Stmt& BindBlob(int index, std::string_view bytes);  // BLOB
  // Steps once: true when a row is ready, false when done; an error Status otherwise.
  Result<bool> Step();
  // Steps to completion, expecting no rows.
  Status Run();
  void Reset();

  int64_t Int(int col) const;
  std::string Text(int col) const;  // TEXT or BLOB bytes
  bool IsNull(int col) const;

 private:
  Db& db_;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
  Status status_;
};

// Steps `s` to its end and returns `row(s)` for each row, in order.
template <typename Fn>
auto ReadRows(Stmt& s, Fn&& row) -> Result<std::vector<decltype(row(s))>> {
  std::vector<decltype(row(s))> out;
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(bool more, s.Step());
    if (!more) {
      return out;
    }
    out.push_back(row(s));
  }
}

// Runs `read` in one read transaction of `db`: its statements see the same commit, and the
// file's shared lock is taken once, not once per statement.
// A connection whose transaction would not end is not given back inside it: it is rolled back.
template <typename Fn>
auto InOneRead(Db& db, Fn&& read) -> decltype(read()) {
  PORTRAIT_RETURN_IF_ERROR(db.Exec("BEGIN;"));
  auto out = read();
  if (Status done = db.Exec("COMMIT;"); !done.ok()) {
    (void)db.Exec("ROLLBACK;");
    if (out) {
      return Error(done);
    }
  }
  return out;
}

// SQLCipher's raw-key literal for a 32-byte `key`: "x'<64 hex digits>'" (67 bytes, no NUL at
// the end counted), built in guarded memory — a raw key, never a passphrase.
Result<crypto::SecretBytes> RawKeyLiteral(const crypto::SecretBytes& key);
inline constexpr int kRawKeyLiteralSize = 67;

// Steps `s`, whose rows lead with an id in ascending order, and calls add(item, s) for each row
// whose id is that of one of `items` (ascending by id_of(item)): merges a range read into the
// range's items without a read per item.
template <typename Item, typename IdOf, typename Add>
Status MergeById(Stmt& s, std::vector<Item>& items, IdOf&& id_of, Add&& add) {
  size_t at = 0;
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return Status::Ok();
    }
    const int64_t id = s.Int(0);
    while (at < items.size() && id_of(items[at]) < id) {
      ++at;
    }
    if (at < items.size() && id_of(items[at]) == id) {
      add(items[at], s);
    }
  }
}

}  // namespace portrait::store::sqlite
