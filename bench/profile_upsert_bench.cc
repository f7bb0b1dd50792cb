// Profile operations through the library, beside the raw SQLCipher ceiling measured in the same
// run on the same machine: a plain batched insert of the same rows (one profile row and its
// field rows) with the same key, page size and journal mode. Prints figures; asserts nothing.
//
//   build/bin/profile_upsert_bench [--profiles N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/clock.h"
#include "config/loader.h"
#include "crypto/secret.h"
#include "examples/sample_data.h"
#include "store/data_dir.h"
#include "store/profile_vault.h"
#include "store/sqlcipher/sqlite.h"

namespace {

using namespace portrait;
using Steady = std::chrono::steady_clock;

double Seconds(Steady::time_point since) {
  return std::chrono::duration<double>(Steady::now() - since).count();
}

// Inserts `n` profiles' worth of rows (1 profile + `fields` field rows, random 60-byte blobs)
// in transactions of `per_tx` profiles. Returns rows per second.
double RawCeiling(const std::string& dir, int n, int fields, int per_tx) {
  auto key = crypto::SecretBytes::Random(32).value();
  auto db = store::sqlite::Db::Open(dir + "/raw.db", key, true, 64).value();
  (void)db.Exec(
      "CREATE TABLE p (id INTEGER PRIMARY KEY, k BLOB UNIQUE, v BLOB);"
      "CREATE TABLE f (pid INTEGER, name TEXT, v BLOB, PRIMARY KEY (pid, name)) WITHOUT ROWID;");
  std::string blob(60, 'x');
  auto start = Steady::now();
  store::sqlite::Stmt ins_p(db, "INSERT INTO p VALUES (?, ?, ?);");
  store::sqlite::Stmt ins_f(db, "INSERT INTO f VALUES (?, ?, ?);");
  for (int i = 0; i < n; ++i) {
    if (i % per_tx == 0) {
      (void)db.Exec(i == 0 ? "BEGIN;" : "COMMIT; BEGIN;");
    }

    ins_p.Reset();
    ins_p.Bind(1, int64_t{i} * 7919 + 1).BindBlob(2, std::to_string(i)).BindBlob(3, blob);
    (void)ins_p.Run();
    for (int f = 0; f < fields; ++f) {
      ins_f.Reset();
      ins_f.Bind(1, int64_t{i}).Bind(2, "field" + std::to_string(f)).BindBlob(3, blob);
      (void)ins_f.Run();
    }
  }
  (void)db.Exec("COMMIT;");
  return n * (1.0 + fields) / Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  int n = 5000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--profiles") == 0) {
      n = std::atoi(argv[i + 1]);
    }
  }
  // The shipped example config, in a fresh temporary folder.
  char tmpl[] = "/tmp/portrait-bench-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  std::filesystem::copy_file(PORTRAIT_SOURCE_DIR "/examples/portrait.toml", dir + "/portrait.toml");
  config::Config config = config::LoadConfig(dir + "/portrait.toml").value();
  store::DataDir data = store::InitDataDir(config).value();
  SystemClock clock;
  config::ConfigHolder in_force(std::make_shared<const config::Config>(config));
  store::ProfileVault vault(in_force, *data.store, data.keys, data.blind, clock);
  examples::SampleData sample(1);

  std::vector<examples::SampleCustomer> customers;
  for (int i = 0; i < n; ++i) {
    customers.push_back(sample.Customer(i));
  }
  auto start = Steady::now();
  for (const auto& c : customers) {
    if (!vault.Upsert(c.external_id, c.patch)) {
      std::fprintf(stderr, "upsert failed\n");
      return 1;
    }
  }
  double create = n / Seconds(start);

  start = Steady::now();
  for (int i = 0; i < n; ++i) {
    nlohmann::json patch = {{"fields", {{"city", "Hangzhou"}}}};
    (void)vault.Upsert(customers[i].external_id, patch);
  }
  double update = n / Seconds(start);

  start = Steady::now();
  for (const auto& c : customers) {
    (void)vault.Get(c.external_id);
  }
  double get = n / Seconds(start);

  start = Steady::now();
  for (const auto& c : customers) {
    (void)vault.Find("email", c.patch["fields"]["email"]);
  }
  double find = n / Seconds(start);

  // Erasure: shred the key (keystore commit + WAL truncation), delete the rows (commit + WAL
  // truncation, with secure_delete zeroing what they held).
  const int erased = std::min(n, 1000);
  start = Steady::now();
  for (int i = 0; i < erased; ++i) {
    if (!vault.Erase(customers[i].external_id)) {
      std::fprintf(stderr, "erase failed\n");
      return 1;
    }
  }
  double erase = erased / Seconds(start);

  double raw = RawCeiling(dir, n * 4, 6, 10000);

  std::printf("profile operations through ProfileVault, %d profiles (6 fields, 1-2 tags each)\n",
              n);
  std::printf("  create (new key + 2 durable commits each) %10.0f profiles/s\n", create);
  std::printf("  partial update (1 field, 1 commit each)   %10.0f profiles/s\n", update);
  std::printf("  get (unwrap key + decrypt all fields)     %10.0f profiles/s\n", get);
  std::printf("  find by email (blind index)               %10.0f lookups/s\n", find);
  std::printf("  erase (%4d profiles)                      %10.0f profiles/s\n", erased, erase);
  std::printf("raw SQLCipher ceiling, same key/page size/WAL, 10,000-profile transactions\n");
  std::printf("  plain batched insert                      %10.0f rows/s (%.0f profiles/s)\n", raw,
              raw / 7);
  std::filesystem::remove_all(dir);
  return 0;
}
