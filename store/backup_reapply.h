// The erasure-ledger half of a restore (store/backup.h): gathering every ledger the restore
// reads into one list, and re-applying each entry to the restored store.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "crypto/key_hierarchy.h"
#include "store/audit_log.h"
#include "store/erasure_ledger.h"
#include "store/profile_vault.h"
#include "store/store.h"

namespace portrait::store {

// Where a restore's ledgers come from and what became of reading each.
struct LedgerGathering {
  std::vector<LedgerEntry> entries;  // distinct by id, the first read of each kept
  std::vector<std::string> read;     // the ledgers read
  std::vector<std::string> notes;    // the ones that could not be, and why
};

// Reads the erasure ledger(s) at `path` into `into`: an erasures.log file, or a directory's
// erasures.log and keystore.db table (either may be missing; `required` makes a path with
// neither an error). A file line that does not verify is an error (InvalidArgument naming it);
// a keystore.db that does not open is a note, as is a torn last line.
Status GatherLedger(const std::string& path, const crypto::KeyHierarchy& keys,
                    const crypto::SecretBytes& mac_key, bool required, LedgerGathering& into);

// Re-applies, in the restored store, the erasure of every entry whose profile row or data key
// the store still holds — the same crypto-shredding as the API's: an audit record first
// (action "profile.erase", actor "system", detail naming the ledger entry), the key destroyed,
// the rows deleted, erasure notices queued for the sinks that received the profile. A legal
// hold in the backup does not stop it (the live erasure happened after the hold was lifted).
// Returns how many were re-applied.
Result<int64_t> ReapplyErasures(Store& store, ProfileVault& vault, AuditLog& log,
                                const std::vector<LedgerEntry>& entries, int64_t now_us);

}  // namespace portrait::store
