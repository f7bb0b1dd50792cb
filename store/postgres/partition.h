// Partitions of the PostgreSQL store: a fixed number of them (fixed when the schema is made),
// each profile in the one its internal id hashes to, each digest-keyed lookup row (an event's
// key, an external id's or a blind-index digest) in the one its digest hashes to; a new profile's
// id is chosen so that both agree for its external id (docs/DECISIONS.md 170). Rows carry
// their partition, so nodes can later lease partitions and claim a partition's timers and
// tasks, and a PostgreSQL that shards by a key can distribute every table by its leading column.
// Pure functions; the hashes never change (stored rows depend on them).
#pragma once

#include <cstdint>
#include <string_view>

namespace portrait::store::pg {

inline constexpr int kDefaultPartitions = 256;

// The partition of internal profile id `id`, in [0, partitions): splitmix64's finaliser, so ids
// that increase with time spread evenly.
int PartitionOfId(int64_t id, int partitions);
// The partition of a digest (any bytes): FNV-1a 64 then the same finaliser.
int PartitionOfDigest(std::string_view digest, int partitions);

}  // namespace portrait::store::pg
