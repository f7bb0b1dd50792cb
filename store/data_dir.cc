#include "store/data_dir.h"

#include <sys/stat.h>

#include <filesystem>
#include <optional>

#include "crypto/master_key.h"
#include "store/erasure_ledger.h"
#include "store/key_rotation_protocol.h"
#include "store/postgres/postgres_password.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlcipher/sqlcipher_rekey.h"
#include "store/sqlcipher/sqlcipher_store.h"

namespace portrait::store {
namespace {

namespace fs = std::filesystem;

Result<crypto::SecretBytes> MasterKey(const config::Config& config, const std::string& salt_dir,
                                      bool create) {
  const config::KeysConfig& keys = config.keys;
  if (!keys.file.empty()) {
    return create ? crypto::CreateKeyFile(keys.file) : crypto::LoadKeyFile(keys.file);
  }
  return crypto::DeriveFromPassphrase(keys.passphrase_env, salt_dir + "/" + kSaltFileName, create);
}

// The keys a rotation carried, from the keystore at `keystore` (none in a new data directory).
Result<crypto::KeyHierarchy> Keys(const std::string& keystore, const crypto::SecretBytes& master,
                                  bool create) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::KeyHierarchy derived, crypto::KeyHierarchy::Create(master));
  if (create) {
    return derived;
  }
  PORTRAIT_ASSIGN_OR_RETURN(crypto::CarriedKeys carried,
                            ReadCarriedKeys(keystore, derived.keystore_db_key()));
  if (carried.empty()) {
    return derived;
  }
  return crypto::KeyHierarchy::Create(master, carried);
}

Status FinishInterruptedRotation(const config::Config& config, const DataDirLock* held) {
  const RotationPaths paths = RotationPathsFor(config);
  std::error_code ec;
  if (InspectRotation(paths) == RotationState::kNone && !fs::exists(paths.staging, ec)) {
    return Status::Ok();
  }
  std::optional<DataDirLock> own;
  if (!held) {
    Result<DataDirLock> lock =
        DataDirLock::Acquire(config.daemon.data_dir, "portrait (finishing a key rotation)");
    if (!lock) {
      return Status::Unavailable("a key rotation is under way in " + config.daemon.data_dir + " (" +
                                 lock.error().message() +
                                 "); wait for it, or see `portraitctl key status`");
    }
    own.emplace(std::move(*lock));
    held = &*own;
  }
  PORTRAIT_RETURN_IF_ERROR(FinishRotation(paths, *held));
  return Status::Ok();
}

// The PostgreSQL store [store] names (docs/DECISIONS.md 159): the data directory keeps the
// master key (or salt), the lock and the erasure ledger file; the databases hold the rest.
Result<std::unique_ptr<Store>> OpenPostgres(const config::Config& config,
                                            const crypto::KeyHierarchy& keys,
                                            const crypto::SecretBytes& ledger_key, bool create) {
  const config::StoreConfig& s = config.store;
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<crypto::SecretBytes> password,
                            pg::ReadPassword(s.password_env, s.password_file, "[store] password"));
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<crypto::SecretBytes> keystore_password,
                            pg::ReadPassword(s.keystore_password_env, s.keystore_password_file,
                                             "[store] keystore_password"));
  PostgresOptions options;
  options.url = s.url;
  options.keystore_url = s.keystore_url;
  options.password = password ? &*password : nullptr;
  options.keystore_password = keystore_password ? &*keystore_password : nullptr;
  options.audit_mac_key = &keys.audit_mac_key();
  options.erasure_ledger = config.daemon.data_dir + "/" + kErasureLedgerName;
  options.ledger_mac_key = &ledger_key;
  options.create = create;
  if (config.cluster.enabled) {
    options.partitions = config.cluster.partitions;
    options.partitions_fixed = true;
    options.node = config.cluster.node;
  }
  return OpenPostgresStore(options);
}

Result<DataDir> Open(const config::Config& config, bool create) {
  const std::string& dir = config.daemon.data_dir;
  const bool postgres = config.store.kind == config::StoreKind::kPostgres;
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SecretBytes master, MasterKey(config, dir, create));
  // A key rotation, which alone carries keys, is refused on PostgreSQL: none to read there.
  PORTRAIT_ASSIGN_OR_RETURN(crypto::KeyHierarchy keys,
                            Keys(dir + "/" + kKeystoreDbName, master, create || postgres));
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SecretBytes ledger_key, LedgerMacKey(keys));
  PORTRAIT_ASSIGN_OR_RETURN(
      crypto::BlindIndex blind,
      crypto::BlindIndex::Create(keys.blind_index_key(), config.keys.blind_index_bytes));
  if (postgres) {
    PORTRAIT_ASSIGN_OR_RETURN(std::unique_ptr<Store> store,
                              OpenPostgres(config, keys, ledger_key, create));
    return DataDir{std::move(keys), std::move(blind), std::move(store)};
  }
  SqlcipherOptions options;
  options.data_dir = config.daemon.data_dir;
  options.portrait_key = &keys.portrait_db_key();
  options.keystore_key = &keys.keystore_db_key();
  options.audit_mac_key = &keys.audit_mac_key();
  options.erasure_ledger = dir + "/" + kErasureLedgerName;
  options.ledger_mac_key = &ledger_key;
  options.create = create;
  options.page_cache_mib = config.daemon.page_cache_mib;
  PORTRAIT_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenSqlcipherStore(options));
  return DataDir{std::move(keys), std::move(blind), std::move(store)};
}

}  // namespace

Result<crypto::KeyHierarchy> DataDirKeys(const config::Config& config, const std::string& dir) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SecretBytes master, MasterKey(config, dir, /*create=*/false));
  return Keys(dir + "/" + kKeystoreDbName, master, /*create=*/false);
}

Result<DataDir> OpenDataDir(const config::Config& config, const DataDirLock* lock) {
  std::error_code ec;
  if (!fs::is_directory(config.daemon.data_dir, ec)) {
    return Error(Status::NotFound("data directory " + config.daemon.data_dir +
                                  " does not exist (create it with `portraitctl init`)"));
  }
  PORTRAIT_RETURN_IF_ERROR(FinishInterruptedRotation(config, lock));
  return Open(config, /*create=*/false);
}

Status RefuseOnPostgres(const config::Config& config, std::string_view what) {
  if (config.store.kind != config::StoreKind::kPostgres) {
    return Status::Ok();
  }
  return Status::InvalidArgument(std::string(what) +
                                 " work on the SQLCipher files, and [store] kind = \"postgres\"");
}

Result<DataDirLock> LockDataDir(const config::Config& config, std::string_view who) {
  std::error_code ec;
  if (!fs::is_directory(config.daemon.data_dir, ec)) {
    return Error(Status::NotFound("data directory " + config.daemon.data_dir +
                                  " does not exist (create it with `portraitctl init`)"));
  }
  return DataDirLock::Acquire(config.daemon.data_dir, who);
}

Result<DataDir> InitDataDir(const config::Config& config) {
  const std::string& dir = config.daemon.data_dir;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return Error(Status::Conflict("data directory " + dir +
                                  " already exists and is not empty; refusing to overwrite it"));
  }
  if (!config.keys.file.empty() && fs::exists(config.keys.file, ec)) {
    return Error(Status::Conflict("key file " + config.keys.file +
                                  " already exists; refusing to overwrite it"));
  }
  fs::create_directories(dir, ec);
  if (ec || ::chmod(dir.c_str(), 0700) != 0) {
    return Error(Status::IOError("cannot create data directory " + dir + ": " + ec.message()));
  }
  if (!config.keys.file.empty()) {
    fs::create_directories(fs::path(config.keys.file).parent_path(), ec);
  }
  return Open(config, /*create=*/true);
}

}  // namespace portrait::store
