// The audit log's hash chain, in one place so that the store that writes it and every verifier
// (online, offline, another implementation) agree byte for byte:
//   canonical(record) = the JSON object {action, actor, detail, profile, purpose, seq, time_us}
//                       with keys in that (sorted) order, no spaces; detail is a JSON string
//   hash(record)      = BLAKE2b-256(previous hash ‖ canonical(record)); the first record's
//                       previous hash is 32 zero bytes
//   mac(record)       = BLAKE2b-256 keyed with the audit MAC key (derived from the master key)
//                       over "portrait-audit-mac-v1\n<seq>\n" ‖ hash(record): the store writes
//                       it beside each record, the daemon checks it. Whoever holds only the
//                       database key can recompute the hashes but not the MACs.
//   checkpoint v2     = Ed25519 signature over
//                       "portrait-audit-checkpoint-v2\n<seq>\n<hex hash>\n<prev seq>\n<time_us>",
//                       prev seq being the checkpoint before it (0 for the first), so that
//                       deleting a checkpoint breaks the next one's link
//   checkpoint v1     = (written before the MAC; still verified) Ed25519 signature over
//                       "portrait-audit-checkpoint-v1\n<seq>\n<hex hash>"
//   export header     = Ed25519 signature over
//                       "portrait-audit-export-v2\n<head seq>\n<hex head hash>\n<time_us>", so
//                       that cutting an export's last records and checkpoints is found
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crypto/secret.h"
#include "store/store.h"

namespace portrait::store {

inline constexpr size_t kAuditHashSize = 32;

std::string CanonicalAuditRecord(int64_t seq, const AuditEntry& entry);
std::string ChainHash(std::string_view previous_hash, int64_t seq, const AuditEntry& entry);
std::string GenesisHash();  // 32 zero bytes
std::string RecordMac(crypto::KeyView key, int64_t seq, std::string_view hash);
// What a checkpoint's signature covers, by its version (prev_seq < 0: v1).
std::string CheckpointMessage(const AuditCheckpoint& checkpoint);
// The detail of a retention purge's audit record: `detail` (a JSON object; anything else counts
// as an empty one) with "purged": `purged` set. Every backend's Store::Purge writes it.
std::string PurgeDetail(std::string_view detail, int64_t purged);
std::string ExportHeaderMessage(int64_t head_seq, std::string_view head_hash, int64_t time_us);

// Where one node's chain ends in an export of several chains (format v3).
struct ChainHead {
  std::string node;
  int64_t seq = 0;
  std::string hash;  // raw bytes
};
// What a v3 export's header signs: its time and every chain's head, in the order given (each
// node JSON-quoted, so no name can pass for another's line).
std::string ExportChainsMessage(int64_t time_us, const std::vector<ChainHead>& heads);

}  // namespace portrait::store
