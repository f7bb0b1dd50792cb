#include "store/postgres/pg.h"

#include <endian.h>

#include <cstring>

namespace portrait::store::pg {
namespace {

// Type OIDs of PostgreSQL's built-in types (src/include/catalog/pg_type.dat).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kByteaArrayOid = 1001;
constexpr Oid kTextArrayOid = 1009;
constexpr Oid kInt8ArrayOid = 1016;

void PutInt32(std::string& out, uint32_t v) {
  const uint32_t be = htobe32(v);
  out.append(reinterpret_cast<const char*>(&be), sizeof be);
}

std::string Int8Bytes(int64_t v) {
  const uint64_t be = htobe64(static_cast<uint64_t>(v));
  return std::string(reinterpret_cast<const char*>(&be), sizeof be);
}

std::string_view Field(const PGresult* result, int field) {
  const char* v = PQresultErrorField(result, field);
  return v ? std::string_view(v) : std::string_view();
}

}  // namespace

Params& Params::Add(Oid type, std::string value) {
  types_.push_back(type);
  values_.push_back(std::move(value));
  return *this;
}

Params& Params::Int(int64_t v) { return Add(kInt8Oid, Int8Bytes(v)); }

Params& Params::Bool(bool v) { return Add(kBoolOid, std::string(1, v ? '\1' : '\0')); }
Params& Params::Text(std::string_view v) { return Add(kTextOid, std::string(v)); }
Params& Params::Bytes(std::string_view v) { return Add(kByteaOid, std::string(v)); }

// PostgreSQL's binary array: dimensions, a null flag, the element type, the length and lower
// bound of the one dimension, then each element as its length and bytes.
Params& Params::Array(Oid array_type, Oid element_type, const std::vector<std::string_view>& v) {
  std::string out;
  PutInt32(out, 1);
  PutInt32(out, 0);
  PutInt32(out, element_type);
  PutInt32(out, static_cast<uint32_t>(v.size()));
  PutInt32(out, 1);
  for (std::string_view e : v) {
    PutInt32(out, static_cast<uint32_t>(e.size()));
    out.append(e);
  }
  return Add(array_type, std::move(out));
}

Params& Params::Ints(const std::vector<int64_t>& v) {
  std::vector<std::string> bytes;
  bytes.reserve(v.size());
  for (int64_t i : v) {
    bytes.push_back(Int8Bytes(i));
  }
  return Array(kInt8ArrayOid, kInt8Oid, std::vector<std::string_view>(bytes.begin(), bytes.end()));
}

Params& Params::Texts(const std::vector<std::string_view>& v) {
  return Array(kTextArrayOid, kTextOid, v);
}

Params& Params::BytesArray(const std::vector<std::string_view>& v) {
  return Array(kByteaArrayOid, kByteaOid, v);
}

int64_t Rows::Int(int row, int col) const {
  const char* v = PQgetvalue(result_.get(), row, col);
  switch (PQgetlength(result_.get(), row, col)) {
    case 8: {
      uint64_t be;
      std::memcpy(&be, v, 8);
      return static_cast<int64_t>(be64toh(be));
    }
    case 4: {
      uint32_t be;
      std::memcpy(&be, v, 4);
      return static_cast<int32_t>(be32toh(be));
    }
    case 2: {
      uint16_t be;
      std::memcpy(&be, v, 2);
      return static_cast<int16_t>(be16toh(be));
    }
    default:
      return 0;
  }
}

bool Rows::Bool(int row, int col) const {
  return PQgetlength(result_.get(), row, col) == 1 && PQgetvalue(result_.get(), row, col)[0] != 0;
}

std::string Rows::Text(int row, int col) const {
  return std::string(PQgetvalue(result_.get(), row, col),
                     static_cast<size_t>(PQgetlength(result_.get(), row, col)));
}

int64_t Rows::Affected() const {
  const char* n = PQcmdTuples(result_.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

Status ErrorOf(const PGresult* result, const PGconn* conn) {
  const std::string_view state = result ? Field(result, PG_DIAG_SQLSTATE) : std::string_view();
  std::string message(result ? Field(result, PG_DIAG_MESSAGE_PRIMARY) : std::string_view());
  if (message.empty()) {
    // No result or no primary message: libpq's own (connection-level) text, first line only.
    const char* m = conn ? PQerrorMessage(conn) : "";
    message = std::string(m, std::strcspn(m, "\n"));
  }
  message = "PostgreSQL: " + message + (state.empty() ? "" : " (" + std::string(state) + ")");
  const std::string_view cls = state.substr(0, 2);
  if (cls == "23") {
    return Status::Conflict(std::move(message));
  }
  if (cls == "22") {
    return Status::InvalidArgument(std::move(message));
  }
  if (cls == "28") {
    return Status::PermissionDenied(std::move(message));
  }
  if (cls == "08" || cls == "57" || cls == "40" || state.empty()) {
    return Status::Unavailable(std::move(message));
  }
  return Status::IOError(std::move(message));
}

Result<Connection> Connection::Open(const std::string& url, const crypto::SecretBytes* password) {
  crypto::SecretBytes pw;  // NUL-terminated, in guarded memory
  if (password) {
    PORTRAIT_ASSIGN_OR_RETURN(pw, crypto::SecretBytes::Allocate(password->size() + 1));
    std::memcpy(pw.data(), password->data(), password->size());
    pw.data()[password->size()] = 0;
  }
  const char* keys[] = {"dbname", "password", "client_encoding", nullptr};
  const char* values[] = {
      url.c_str(), password ? reinterpret_cast<const char*>(pw.data()) : nullptr, "UTF8", nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  Connection conn(raw);
  if (raw == nullptr) {
    return Error(Status::Unavailable("PostgreSQL: out of memory opening a connection"));
  }
  if (PQstatus(raw) != CONNECTION_OK) {
    Status s = ErrorOf(nullptr, raw);
    const std::string text = s.message();
    // libpq reports a refused login only in its message.
    if (text.find("password authentication failed") != std::string::npos ||
        text.find("no password supplied") != std::string::npos ||
        text.find("no pg_hba.conf entry") != std::string::npos ||
        text.find("permission denied for database") != std::string::npos) {
      return Error(Status::PermissionDenied(text));
    }
    return Error(s);
  }
  // Nothing a notice says is for portrait's log (and a notice may quote a value).
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  return conn;
}

void Connection::ResetIfBroken() {
  if (!in_transaction_ && PQstatus(conn_.get()) == CONNECTION_BAD) {
    PQreset(conn_.get());
    statements_.clear();  // prepared statements die with their session
  }
}

Status Connection::Exec(std::string_view sql) {
  ResetIfBroken();
  Rows r(PQexec(conn_.get(), std::string(sql).c_str()));
  const ExecStatusType st = PQresultStatus(r.result_.get());
  const bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  // In a transaction once BEGIN took; out of it after COMMIT or ROLLBACK, taken or not.
  if (sql.starts_with("BEGIN")) {
    in_transaction_ = ok;
  } else if (sql.starts_with("COMMIT") || sql.starts_with("ROLLBACK")) {
    in_transaction_ = false;
  }
  return ok ? Status::Ok() : ErrorOf(r.result_.get(), conn_.get());
}

Result<std::string> Connection::Prepared(const std::string& sql, const Params& params) {
  auto found = statements_.find(sql);
  if (found != statements_.end()) {
    return found->second;
  }
  std::string name = "p" + std::to_string(statements_.size());
  Rows r(PQprepare(conn_.get(), name.c_str(), sql.c_str(), params.size(), params.types().data()));
  if (PQresultStatus(r.result_.get()) != PGRES_COMMAND_OK) {
    return Error(ErrorOf(r.result_.get(), conn_.get()));
  }
  statements_.emplace(sql, name);
  return name;
}

Result<Rows> Connection::Run(const std::string& sql, const Params& params) {
  ResetIfBroken();
  PORTRAIT_ASSIGN_OR_RETURN(std::string name, Prepared(sql, params));
  std::vector<const char*> values;
  std::vector<int> lengths;
  const std::vector<int> formats(params.values_.size(), 1);
  for (const std::string& v : params.values_) {
    values.push_back(v.data());
    lengths.push_back(static_cast<int>(v.size()));
  }
  Rows r(PQexecPrepared(conn_.get(), name.c_str(), params.size(), values.data(), lengths.data(),
                        formats.data(), /*resultFormat=*/1));
  const ExecStatusType st = PQresultStatus(r.result_.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return Error(ErrorOf(r.result_.get(), conn_.get()));
  }
  return r;
}

Status Connection::Do(const std::string& sql, const Params& params) {
  Result<Rows> r = Run(sql, params);
  return r ? Status::Ok() : r.error();
}

}  // namespace portrait::store::pg
