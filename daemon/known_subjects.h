// KnownSubjects: the internal id and data key of event subjects seen lately, so that the I/O
// threads seal an event's data without reading the store (two lookups per subject in
// SQLCipher, each decrypting pages the writer's last commit made stale, cost more than the
// sealing itself). Bounded (kCapacity subjects, an arbitrary one dropped when full). The keys
// live in guarded memory of their own (crypto::KeySlab) and are wiped when dropped.
//
// A stale entry can never store wrong data: the writer checks that an event was sealed for
// the profile its subject leads to now, and seals it again otherwise (Ingestor). What the
// cache must not do is keep an erased profile's key alive: Forget(id) drops every entry of a
// profile (as Ingestor::Forget, for every key the vault destroys and after an upsert, import
// or merge), and an entry looked
// up in the store before a Forget is never added after it (Generation/Add). A profile's data
// key never changes while it exists, so an entry is true until its profile is forgotten.
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "base/mutex.h"
#include "crypto/key_slab.h"
#include "store/store.h"

namespace portrait::daemon {

class KnownSubjects {
 public:
  struct Entry {
    store::ProfileId id = 0;
    crypto::SlabKey key;
  };

  static constexpr size_t kCapacity = 16'384;

  KnownSubjects();
  KnownSubjects(const KnownSubjects&) = delete;

  // The entry of the subject with this external-id digest, or nullptr. The entry stays valid
  // (its key unwiped) while the pointer is held, even if it is dropped meanwhile.
  std::shared_ptr<const Entry> Find(const std::string& ext_key);

  // Read before looking a subject up in the store; pass it to Add.
  uint64_t Generation();

  // Keeps a copy of `key` as profile `id`'s, unless a Forget ran since `generation` was read
  // (the lookup may predate an erasure) or no guarded slot is free.
  void Add(const std::string& ext_key, store::ProfileId id, crypto::KeyView key,
           uint64_t generation);

  // Drops every entry of profile `id` (all its subjects: its own and its aliases').
  void Forget(store::ProfileId id);
  void ForgetAll();

  size_t size();

 private:
  // Slots for the entries kept plus those in use by lookups after being dropped.
  crypto::KeySlab slab_{kCapacity + 256};  // first: outlives every entry
  Mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Entry>> entries_ GUARDED_BY(mu_);
  uint64_t generation_ GUARDED_BY(mu_) = 0;
};

}  // namespace portrait::daemon
