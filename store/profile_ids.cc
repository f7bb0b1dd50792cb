#include "store/profile_ids.h"

#include <algorithm>
#include <limits>

namespace portrait::store {

Result<ProfileId> ProfileIdAllocator::Next(std::string_view ext_key) {
  if (!store_.ServesKey(ext_key)) {
    return Error(Status::Unavailable("another node holds the partition this profile belongs in"));
  }
  MutexLock lock(mu_);
  if (!loaded_) {
    PORTRAIT_ASSIGN_OR_RETURN(last_, store_.ProfileIdHighWater());
    loaded_ = true;
  }
  if (last_ == std::numeric_limits<ProfileId>::max()) {
    // Only a database whose random ids of old (before increasing ids) reached the top.
    return Error(Status::Internal("no profile id is left above the largest one stored"));
  }
  // On PostgreSQL, the next id in the external id's partition (about `partitions` tries).
  ProfileId id = std::max(last_ + 1, static_cast<ProfileId>(clock_.NowUs()));
  for (int tries = 0; !store_.Places(id, ext_key); ++tries, ++id) {
    if (tries == kMaxTries || id == std::numeric_limits<ProfileId>::max()) {
      return Error(Status::Internal("no profile id is left in the external id's partition"));
    }
  }
  last_ = id;
  return last_;
}

}  // namespace portrait::store
