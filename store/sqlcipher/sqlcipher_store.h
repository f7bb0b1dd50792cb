// The SQLCipher backend of Store: DATA_DIR/portrait.db (profiles, fields, blind index, events)
// and DATA_DIR/keystore.db (wrapped data keys), each with its own raw key, 4 KiB cipher pages,
// WAL with synchronous=FULL, temp_store=MEMORY. Calls are serialised by a mutex.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "crypto/secret.h"
#include "store/store.h"

namespace portrait::store {

struct SqlcipherOptions {
  std::string data_dir;
  const crypto::SecretBytes* portrait_key = nullptr;  // 32 bytes, borrowed during Open
  const crypto::SecretBytes* keystore_key = nullptr;  // 32 bytes, borrowed during Open
  // Keys each audit record's MAC (copied); without one, records are written without a MAC.
  const crypto::SecretBytes* audit_mac_key = nullptr;
  // The erasure ledger file (store/erasure_ledger.h) DestroyDataKey appends to before it
  // destroys a key, and its MAC key (copied); no file when empty (keystore.db's table only).
  std::string erasure_ledger;
  const crypto::SecretBytes* ledger_mac_key = nullptr;
  // Create both databases (refusing if either exists) instead of opening existing ones.
  bool create = false;
  int page_cache_mib = 64;
  // Read-only connections (WAL readers) for reads beside the writer, and each one's page cache.
  int readers = 3;
  int reader_cache_mib = 16;
};

// Opens (or creates) the two databases and brings their schemas up to date. Never creates a
// database over an existing one; NotFound when one is missing, PermissionDenied on a wrong key.
Result<std::unique_ptr<Store>> OpenSqlcipherStore(const SqlcipherOptions& options);

inline constexpr const char* kPortraitDbName = "portrait.db";
inline constexpr const char* kKeystoreDbName = "keystore.db";

}  // namespace portrait::store
