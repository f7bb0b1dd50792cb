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
#include "store/data_dir_lock.h"
#include "store/store.h"

namespace portrait::store {

struct DataDir {
  crypto::KeyHierarchy keys;
  crypto::BlindIndex blind;
  std::unique_ptr<Store> store;
};

// The salt of a passphrase-derived master key, beside the databases.
inline constexpr const char* kSaltFileName = "master.salt";

// Opens the data directory named by `config` with the master key it names, and the keys a
// rotation carried (crypto::CarriedKeys). A key rotation that a crash interrupted is finished
// first (key_rotation_protocol.h), under `lock` when the caller holds the data directory's
// lock, else under one taken for the while (Unavailable if another process holds it).
Result<DataDir> OpenDataDir(const config::Config& config, const DataDirLock* lock = nullptr);

// The key hierarchy of the master key `config` names, with the keys a rotation carried as the
// keystore.db in `dir` holds them (a passphrase's salt read from `dir` too): the data
// directory's keys when `dir` is it, a backup's when `dir` is one. Nothing opened for writing.
Result<crypto::KeyHierarchy> DataDirKeys(const config::Config& config, const std::string& dir);

// Takes the lock of the data directory `config` names, for `who` ("portraitd"): NotFound if
// there is no data directory, Unavailable naming the holder if another process holds it.
Result<DataDirLock> LockDataDir(const config::Config& config, std::string_view who);

// InvalidArgument, saying `what` ("portraitctl backup create and restore (back up both databases
// with PostgreSQL's tools)") works on the SQLCipher files, when `config` keeps its profiles on
// PostgreSQL: backups, restores and key rotation are SQLCipher's (docs/DECISIONS.md 160).
Status RefuseOnPostgres(const config::Config& config, std::string_view what);

// Creates the data directory (mode 0700; it may exist only if empty), a fresh master key file
// (mode 0600) or passphrase salt, and both databases. Conflict if any of them exists already.
Result<DataDir> InitDataDir(const config::Config& config);

}  // namespace portrait::store
