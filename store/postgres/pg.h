// A thin RAII layer over libpq for the PostgreSQL store: a connection with a cache of prepared
// statements, parameters sent in binary with their types (lengths carried, so no value is cut
// at a NUL byte), and results read in binary. Errors are Status values named by SQLSTATE and
// PostgreSQL's primary message only — never its DETAIL, which can quote a key's value. A
// Connection is used by one thread at a time (its owner serialises calls).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "crypto/secret.h"

namespace portrait::store::pg {

// The parameters of one statement, $1, $2, … in the order they are added.
class Params {
 public:
  Params& Int(int64_t v);
  Params& Bool(bool v);
  Params& Text(std::string_view v);
  Params& Bytes(std::string_view v);
  // One-dimensional arrays (bigint[], text[], bytea[]), for a statement over many rows at once
  // (unnest), so a group of rows is one round trip.
  Params& Ints(const std::vector<int64_t>& v);
  Params& Texts(const std::vector<std::string_view>& v);
  Params& BytesArray(const std::vector<std::string_view>& v);

  int size() const { return static_cast<int>(types_.size()); }
  const std::vector<Oid>& types() const { return types_; }

 private:
  friend class Connection;
  Params& Add(Oid type, std::string value);
  Params& Array(Oid array_type, Oid element_type, const std::vector<std::string_view>& v);
  std::vector<Oid> types_;
  std::vector<std::string> values_;
};

// A statement's result rows (binary format). Column readers take the row and column index.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  bool empty() const { return size() == 0; }
  int64_t Int(int row, int col) const;  // int2, int4 or int8 (0 for NULL)
  bool Bool(int row, int col) const;
  std::string Text(int row, int col) const;  // text or bytea, as stored
  // Rows affected by an INSERT, UPDATE or DELETE.
  int64_t Affected() const;

 private:
  friend class Connection;
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

class Connection {
 public:
  // Connects to `url` (a libpq connection URI or key=value string; TLS through its sslmode and
  // sslrootcert) with `password` (borrowed; null: libpq's own sources, e.g. a .pgpass file).
  // Unavailable when the server can't be reached, PermissionDenied when it refuses the login.
  static Result<Connection> Open(const std::string& url, const crypto::SecretBytes* password);

  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;

  // Runs `sql` (one or more statements, no parameters); for BEGIN, COMMIT, DDL.
  Status Exec(std::string_view sql);
  // Runs `sql` as a prepared statement (prepared on first use on this connection).
  Result<Rows> Run(const std::string& sql, const Params& params = Params());
  // Run, for a statement whose rows are not read.
  Status Do(const std::string& sql, const Params& params = Params());

 private:
  explicit Connection(PGconn* conn) : conn_(conn, &PQfinish) {}
  // A connection the server dropped (a restart, a failover) is opened again before the next
  // statement outside a transaction (BEGIN … COMMIT or ROLLBACK through Exec): one that broke
  // within a transaction fails every statement until the caller's ROLLBACK.
  void ResetIfBroken();
  Result<std::string> Prepared(const std::string& sql, const Params& params);

  std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
  std::unordered_map<std::string, std::string> statements_;  // sql -> prepared name
  bool in_transaction_ = false;
};

// The Status for a failed result: SQLSTATE class 23 (a constraint) is Conflict, 22 (bad data,
// e.g. a NUL byte in text) InvalidArgument, 08 and 57 (connection, shutdown) Unavailable, 28
// (authorisation) PermissionDenied, the rest IOError.
Status ErrorOf(const PGresult* result, const PGconn* conn);

}  // namespace portrait::store::pg
