// The audit log's hash chain, in one place so that the store that writes it and every verifier
// (online, offline, another implementation) agree byte for byte:
//   canonical(record) = the JSON object {action, actor, detail, profile, purpose, seq, time_us}
//                       with keys in that (sorted) order, no spaces; detail is a JSON string
//   hash(record)      = BLAKE2b-256(previous hash ‖ canonical(record)); the first record's
//                       previous hash is 32 zero bytes
//   checkpoint        = Ed25519 signature over "portrait-audit-checkpoint-v1\n<seq>\n<hex hash>"
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "store/store.h"

namespace portrait::store {

inline constexpr size_t kAuditHashSize = 32;

std::string CanonicalAuditRecord(int64_t seq, const AuditEntry& entry);
std::string ChainHash(std::string_view previous_hash, int64_t seq, const AuditEntry& entry);
std::string GenesisHash();  // 32 zero bytes
std::string CheckpointMessage(int64_t seq, std::string_view hash);

}  // namespace portrait::store
