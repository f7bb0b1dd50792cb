#include "store/profile_ids.h"

#include <algorithm>

namespace portrait::store {

Result<ProfileId> ProfileIdAllocator::Next() {
  MutexLock lock(mu_);
  if (!loaded_) {
    PORTRAIT_ASSIGN_OR_RETURN(last_, store_.ProfileIdHighWater());
    loaded_ = true;
  }
  last_ = std::max(last_ + 1, static_cast<ProfileId>(clock_.NowUs()));
  return last_;
}

}  // namespace portrait::store
