// ProfileIdAllocator: internal ids for new profiles, increasing with the time they are made:
// the clock's microseconds, or one more than the last id when that is larger. Increasing ids
// put each new profile's rows at the end of the tables and indexes keyed by profile (the
// profile row, its fields, its blind-index and timer entries, its data key) instead of at a
// random page of each, which is what a write costs most (SQLCipher encrypts every page a
// transaction dirties). An id never falls to or below the store's high-water mark
// (Store::ProfileIdHighWater), so an id is never given twice, an erased profile's included,
// even if the clock steps back across a restart. On PostgreSQL the id is also placed in its
// external id's partition (Store::Places, docs/DECISIONS.md 170), so ids skip ahead by about
// the partition count. An id tells when its profile was made, not how many there are.
// Thread-safe.
#pragma once

#include "base/clock.h"
#include "base/mutex.h"
#include "base/result.h"
#include "store/store.h"

namespace portrait::store {

class ProfileIdAllocator {
 public:
  // `store` and `clock` must outlive the allocator.
  ProfileIdAllocator(Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // A new id for the profile whose external id's digest is `ext_key`: larger than every id this
  // allocator or the store gave before, and one the store places that profile at
  // (Store::Places: on PostgreSQL, in the digest's partition, about `partitions` tries of a
  // hash each). The first call reads the store's high-water mark (an error then is the store's);
  // Unavailable when this node does not serve the digest (Store::ServesKey: another node of
  // several holds its partition).
  Result<ProfileId> Next(std::string_view ext_key);

 private:
  static constexpr int kMaxTries = 1 << 20;
  Store& store_;
  const Clock& clock_;
  Mutex mu_;
  bool loaded_ GUARDED_BY(mu_) = false;
  ProfileId last_ GUARDED_BY(mu_) = 0;
};

}  // namespace portrait::store
