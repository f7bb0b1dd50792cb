#include "daemon/known_subjects.h"

#include <cstring>

namespace portrait::daemon {

KnownSubjects::KnownSubjects() = default;

std::shared_ptr<const KnownSubjects::Entry> KnownSubjects::Find(const std::string& ext_key) {
  MutexLock lock(mu_);
  auto it = entries_.find(ext_key);
  return it == entries_.end() ? nullptr : it->second;
}

uint64_t KnownSubjects::Generation() {
  MutexLock lock(mu_);
  return generation_;
}

void KnownSubjects::Add(const std::string& ext_key, store::ProfileId id, crypto::KeyView key,
                        uint64_t generation) {
  if (key.size != crypto::SlabKey::kSize) {
    return;
  }
  auto slot = slab_.Acquire();
  if (!slot) {
    return;  // every slot in use: not kept, sealed from the store next time
  }
  auto entry = std::make_shared<Entry>();
  entry->id = id;
  entry->key = std::move(*slot);
  std::memcpy(entry->key.data(), key.data, crypto::SlabKey::kSize);
  MutexLock lock(mu_);
  if (generation != generation_) {
    return;  // a profile was forgotten since the lookup: it may have been this one
  }
  if (entries_.size() >= kCapacity && !entries_.count(ext_key)) {
    entries_.erase(entries_.begin());
  }
  entries_[ext_key] = std::move(entry);
}

void KnownSubjects::Forget(store::ProfileId id) {
  MutexLock lock(mu_);
  ++generation_;
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second->id == id ? entries_.erase(it) : std::next(it);
  }
}

void KnownSubjects::ForgetAll() {
  MutexLock lock(mu_);
  ++generation_;
  entries_.clear();
}

size_t KnownSubjects::size() {
  MutexLock lock(mu_);
  return entries_.size();
}

}  // namespace portrait::daemon
