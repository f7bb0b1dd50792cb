// The fixture of the Store contract suites (store_contract_test.cc, anchor_contract_test.cc):
// one typed suite per file, run against the memory, SQLCipher and PostgreSQL backends.
#pragma once

#include <gtest/gtest.h>

#include "crypto/secret.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlcipher/sqlcipher_store.h"
#include "store/store.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_support.h"

namespace portrait::store {

struct MemoryBackend {
  static std::unique_ptr<Store> Make(const testing::TempDir&) { return NewMemoryStore(); }
};

struct SqlcipherBackend {
  static std::unique_ptr<Store> Make(const testing::TempDir& dir) {
    static crypto::SecretBytes main_key = crypto::SecretBytes::Random(32).value();
    static crypto::SecretBytes keystore_key = crypto::SecretBytes::Random(32).value();
    SqlcipherOptions options;
    options.data_dir = dir.path();
    options.portrait_key = &main_key;
    options.keystore_key = &keystore_key;
    options.create = true;
    auto store = OpenSqlcipherStore(options);
    EXPECT_TRUE(store) << store.error().ToString();
    return std::move(*store);
  }
};

// The test binary's PostgreSQL server (tests/support/postgres_server.h), a fresh schema in each
// database per test.
struct PostgresBackend {
  static std::unique_ptr<Store> Make(const testing::TempDir&) {
    testing::PostgresServer* server = testing::PostgresServer::Shared();
    if (!server) {
      return NewMemoryStore();  // the test has failed already; let it end without a crash
    }
    const testing::PostgresServer::Databases dbs = server->Fresh();
    PostgresOptions options;
    options.url = dbs.url;
    options.keystore_url = dbs.keystore_url;
    options.password = &server->password();
    options.keystore_password = &server->keystore_password();
    options.create = true;
    options.readers = 1;  // each connection costs a backend's start
    auto store = OpenPostgresStore(options);
    EXPECT_TRUE(store) << store.error().ToString();
    return store ? std::move(*store) : NewMemoryStore();
  }
};

template <typename Backend>
class StoreContract : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::unique_ptr<Store> store_ = Backend::Make(dir_);

  static ProfileWrite NewProfile(ProfileId id, std::string ext_key) {
    ProfileWrite w;
    w.is_new = true;
    w.row.id = id;
    w.row.ext_key = std::move(ext_key);
    w.row.external_id = "sealed-ext-" + std::to_string(id);
    w.row.created_us = w.row.updated_us = 1000;
    return w;
  }
  Status Write(ProfileWrite w) {
    Batch b;
    b.profiles.push_back(std::move(w));
    auto r = store_->Commit(b);
    return r ? Status::Ok() : r.error();
  }
  static EventRow Event(std::string key, ProfileId id, int64_t t) {
    return EventRow{std::move(key), id, "order.placed", t, "sealed-data"};
  }
};

using Backends = ::testing::Types<MemoryBackend, SqlcipherBackend, PostgresBackend>;

}  // namespace portrait::store
