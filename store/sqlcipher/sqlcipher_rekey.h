// The database work of a master-key rotation (store/key_rotation.h), on closed databases:
// each database copied into a new file under its new key by sqlcipher_export (never PRAGMA
// rekey, which SQLCipher 3.4.1 does badly), then the copies rewritten where the old master
// key's subkeys show: wrapped data keys, carried keys, erasure notices, audit MACs. Every
// function takes the files' paths and keys and opens its own connections; none is
// thread-safe against another process using the same files (hold the DataDirLock).
#pragma once

#include <string>

#include "base/result.h"
#include "crypto/key_hierarchy.h"
#include "crypto/secret.h"

namespace portrait::store {

// Copies the database at `from` (key `from_key`) into a new file `to` under `to_key`: every
// table, index, AUTOINCREMENT counter and the schema version. Conflict if `to` exists. The
// copy is left in rollback-journal mode, fsynced.
Status ExportRekeyed(const std::string& from, const crypto::SecretBytes& from_key,
                     const std::string& to, const crypto::SecretBytes& to_key);

// In the keystore copy at `path` (key `db_key`), in one transaction: every wrapped data key
// opened with `old_keys` and wrapped again with `new_keys`, and the carried keys replaced by
// `carried`. Returns how many data keys were rewrapped. Corruption naming the profile id if
// one can't be unwrapped (then nothing is written).
Result<int64_t> RewrapKeystore(const std::string& path, const crypto::SecretBytes& db_key,
                               const crypto::KeyHierarchy& old_keys,
                               const crypto::KeyHierarchy& new_keys,
                               const crypto::CarriedKeys& carried);

// In the portrait.db copy at `path` (key `db_key`), in one transaction: every erasure
// notice's payload sealed again under `new_keys`' notice key, and every audit record's MAC
// recomputed under `new_keys`' audit MAC key (records without a MAC stay without). Returns
// how many notices were resealed. Corruption naming the task if one can't be opened.
Result<int64_t> RekeyPortraitCopy(const std::string& path, const crypto::SecretBytes& db_key,
                                  const crypto::KeyHierarchy& old_keys,
                                  const crypto::KeyHierarchy& new_keys);

// The carried keys stored in the keystore at `path` (none before the first rotation).
Result<crypto::CarriedKeys> ReadCarriedKeys(const std::string& path,
                                            const crypto::SecretBytes& db_key);

// Leaves the database at `path` whole in its one file: WAL checkpointed and removed
// (rollback-journal mode; portraitd turns WAL on again at open), then fsyncs it.
Status SettleDatabase(const std::string& path, const crypto::SecretBytes& db_key);

}  // namespace portrait::store
