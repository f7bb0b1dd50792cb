// A PostgreSQL server of a test binary's own: initdb into a fresh directory under $TMPDIR, a
// free port on 127.0.0.1 (and its Unix socket in that directory), fsync off, password logins
// only. Two roles own a database each, as in production: `portrait` (the main database) and
// `portrait_keys` (the keystore), neither able to connect to the other's. Started on first use,
// once per binary; stopped and removed at exit (and told to quit if the binary dies first).
// Run as root (CI), the server runs as the `postgres` system user: initdb refuses root.
//
// ctest runs each test case in a process of its own, so there one server serves the whole run:
// the `postgres_start` fixture (`test_postgres start FILE`) starts it detached and writes what a
// test needs to reach it into FILE, `$PORTRAIT_BIN_DIR/test-postgres.state`; a test binary that
// finds that file uses that server (a fresh schema per test as always), and `postgres_stop`
// stops it. A stale file (its server gone) is ignored.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "crypto/secret.h"

namespace portrait::store::pg {
class Connection;
}

namespace portrait::testing {

class PostgresServer {
 public:
  // The binary's server, started on first call. A server that cannot start fails the calling
  // test (gtest's ADD_FAILURE) and the call returns nullptr.
  static PostgresServer* Shared();

  // Connection URLs of a fresh, empty schema in each database (one per test: a schema is made
  // in milliseconds, a server in seconds).
  struct Databases {
    std::string url;           // the main database, role portrait
    std::string keystore_url;  // the keystore, role portrait_keys
  };
  Databases Fresh();

  const crypto::SecretBytes& password() const { return password_; }
  const crypto::SecretBytes& keystore_password() const { return keystore_password_; }
  int port() const { return port_; }
  // The URL of database `db` as the superuser (whose password is superuser_password()).
  std::string AdminUrl(const std::string& db) const;
  const crypto::SecretBytes& superuser_password() const { return superuser_password_; }
  // The postmaster's pid (0 for a server this process only attached to).
  int pid() const { return pid_; }

  ~PostgresServer();

  // A server of the caller's own outside any test (a benchmark), stopped and removed with the
  // returned object. `durable` keeps PostgreSQL's defaults for fsync, synchronous_commit and
  // full_page_writes (on, as in production), which the tests' server turns off; `settings`
  // ("name=value") are passed on as more -c options. nullptr and `why` on failure.
  static std::unique_ptr<PostgresServer> StartOwn(bool durable,
                                                  const std::vector<std::string>& settings,
                                                  std::string& why);

  // The fixture's two halves: start a server that outlives this process and describe it in
  // `state_file`; stop the server `state_file` describes and remove both. False (and `why`)
  // on failure.
  static bool StartDetached(const std::string& state_file, std::string& why);
  static bool StopDetached(const std::string& state_file, std::string& why);

 private:
  PostgresServer() = default;
  bool Start(bool detached, std::string& why);
  // Reaches the server `state_file` describes; false if there is none or it does not answer.
  bool Attach(const std::string& state_file);
  bool OpenAdminConnections(std::string& why);

  std::string dir_;
  int port_ = 0;
  int pid_ = 0;
  int next_schema_ = 0;
  bool owned_ = false;                 // stopped and removed by the destructor
  bool durable_ = false;               // fsync and its kin left on
  std::vector<std::string> settings_;  // more -c options
  // The superuser's connections to each database, for Fresh (a connection costs a backend).
  std::unique_ptr<store::pg::Connection> admin_main_;
  std::unique_ptr<store::pg::Connection> admin_keys_;
  crypto::SecretBytes superuser_password_;
  crypto::SecretBytes password_;
  crypto::SecretBytes keystore_password_;
};

}  // namespace portrait::testing
