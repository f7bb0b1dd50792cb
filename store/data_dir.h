// A data directory opened for use: the key hierarchy derived from the master key, the blind
// index, and the store over portrait.db and keystore.db. InitDataDir makes a fresh one;
// OpenDataDir opens an existing one and refuses, writing nothing, when the key is missing,
// loose, malformed or wrong.
#pragma once

#include <memory>

#include "base/result.h"
#include "config/config.h"
#include "crypto/blind_index.h"
#include "crypto/key_hierarchy.h"
#include "store/store.h"

namespace portrait::store {

struct DataDir {
  crypto::KeyHierarchy keys;
  crypto::BlindIndex blind;
  std::unique_ptr<Store> store;
};

// The salt of a passphrase-derived master key, beside the databases.
inline constexpr const char* kSaltFileName = "master.salt";

// Opens the data directory named by `config` with the master key it names.
Result<DataDir> OpenDataDir(const config::Config& config);

// Creates the data directory (mode 0700; it may exist only if empty), a fresh master key file
// (mode 0600) or passphrase salt, and both databases. Conflict if any of them exists already.
Result<DataDir> InitDataDir(const config::Config& config);

}  // namespace portrait::store
