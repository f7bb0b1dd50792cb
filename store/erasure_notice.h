// Erasure notices (GDPR art. 19): when a profile is erased, every sink that received its data is
// told, so that the receiver can erase too. A notice is a task of trigger kErasureNotice for the
// sink, written in the erasure's transaction; it names the profile by its external id, sealed
// with the notice key (KeyHierarchy::SealNotice), since the profile's own key is destroyed.
#pragma once

#include <string>
#include <string_view>

#include "crypto/key_hierarchy.h"
#include "store/store.h"

namespace portrait::store {

// Adds to `batch` a notice, due at `now_us`, for every sink on which a task of profile `id` was
// attempted at least once (delivered, possibly received before a failure, or `sending`: it may
// have left, its outcome not yet recorded — or be queued, never to start; telling a sink that
// was about to receive the data costs less than missing one that did). Reads the
// profile's tasks; call before the erasure's transaction commits.
Status AddErasureNotices(Store& store, const crypto::KeyHierarchy& keys, ProfileId id,
                         std::string_view external_id, int64_t now_us, Batch& batch);

// The external id a notice names; Corruption if its payload was altered or emptied.
Result<std::string> OpenErasureNotice(const crypto::KeyHierarchy& keys, const TaskRow& notice);

}  // namespace portrait::store
