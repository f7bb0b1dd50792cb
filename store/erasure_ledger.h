// The erasure ledger: every data key the store destroys (an erasure, a merged-away profile, a
// failed write's fresh key) is recorded as (internal id, time, audit sequence) — nothing
// personal — in two places that outlive each other: keystore.db's `destroyed_keys` table (so
// every later backup carries it) and DATA_DIR/erasures.log, a plain file appended and fsynced
// before the key goes, which survives the loss of both databases. `portraitctl backup restore`
// re-applies every entry whose profile a restored backup still holds (docs/DECISIONS.md 132).
//
// The file is one line per destroyed key:
//   v1 <profile id> <time_us> <audit seq> <mac>
// <mac> is 32 hex digits: keyed BLAKE2b-128 of the text before it, under LedgerMacKey — a
// subkey of the blind-index key, which a key rotation carries, so lines stay verifiable after
// any number of rotations. A line is at most kMaxLedgerLine bytes.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "crypto/key_hierarchy.h"
#include "crypto/secret.h"
#include "store/store.h"

namespace portrait::store {

inline constexpr const char* kErasureLedgerName = "erasures.log";
inline constexpr size_t kMaxLedgerLine = 128;

struct LedgerEntry {
  ProfileId id = 0;
  int64_t time_us = 0;
  int64_t audit_seq = 0;  // the audit log's head when the key was destroyed
  friend bool operator==(const LedgerEntry&, const LedgerEntry&) = default;
};

// The ledger file's MAC key, derived from `keys`' blind-index key.
Result<crypto::SecretBytes> LedgerMacKey(const crypto::KeyHierarchy& keys);

// One line of the file for `entry`, with its newline.
std::string FormatLedgerLine(const LedgerEntry& entry, const crypto::SecretBytes& mac_key);

// Appends `entries` to the file at `path` (created with mode 0600, its directory synced then)
// and fsyncs it once. IOError naming the file if any step fails.
Status AppendLedgerEntries(const std::string& path, const std::vector<LedgerEntry>& entries,
                           const crypto::SecretBytes& mac_key);
inline Status AppendLedgerEntry(const std::string& path, const LedgerEntry& entry,
                                const crypto::SecretBytes& mac_key) {
  return AppendLedgerEntries(path, {entry}, mac_key);
}

struct LedgerFile {
  std::vector<LedgerEntry> entries;  // in file order
  // The last line had no newline: an append cut off by a crash before its fsync (the key it
  // names was then never destroyed). Skipped.
  bool torn_tail = false;
};

// Reads and verifies the file at `path`. NotFound if it does not exist; InvalidArgument naming
// the line when a line is malformed, too long, or its MAC does not verify (a ledger that was
// altered, or one written under another data directory's keys).
Result<LedgerFile> ReadLedgerFile(const std::string& path, const crypto::SecretBytes& mac_key);

}  // namespace portrait::store
