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
  last_ = std::max(last_ + 1, static_cast<ProfileId>(clock_.NowUs()));
  return last_;
}

}  // namespace portrait::store
