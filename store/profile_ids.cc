#include "store/profile_ids.h"

#include <algorithm>
#include <limits>

namespace portrait::store {

Result<ProfileId> ProfileIdAllocator::Next() {
  MutexLock lock(mu_);
  if (!loaded_) {
    PORTRAIT_ASSIGN_OR_RETURN(last_, store_.ProfileIdHighWater());
    loaded_ = true;
  }
  if (last_ == std::numeric_limits<ProfileId>::max()) {
    // Only a database whose random ids of old (before increasing ids) reached the top.
    return Error(Status::Internal("no profile id is left above the largest one stored"));
  }
  // On a store shared by several nodes, the next id of a partition this node holds (about
  // partitions / held tries); one that holds none says so rather than search forever.
  ProfileId id = std::max(last_ + 1, static_cast<ProfileId>(clock_.NowUs()));
  for (int tries = 0; !store_.Serves(id); ++tries, ++id) {
    if (tries == kMaxTries || id == std::numeric_limits<ProfileId>::max()) {
      return Error(Status::Unavailable("this node holds no partition to make a profile in"));
    }
  }
  last_ = id;
  return last_;
}

}  // namespace portrait::store
