// RotateMasterKey: `portraitctl key rotate`, offline (it holds the data directory's lock, so
// portraitd must be stopped). A new master key (a fresh key file, or a new passphrase and
// salt); both databases copied under their new keys; every wrapped data key rewrapped under the
// new key-encryption key; erasure notices resealed; every audit record's MAC recomputed; the
// blind-index and token-hashing keys carried over (crypto::CarriedKeys: the digests they made
// can't be recomputed); a key.rotate audit record naming the old and new audit public keys,
// vouched for by a checkpoint of the old key. The files change in the crash-safe order of
// key_rotation_protocol.h. Field values and data keys never change: a data key is the same
// key wrapped anew.
#pragma once

#include <string>

#include "base/clock.h"
#include "base/result.h"
#include "config/config.h"
#include "store/key_rotation_protocol.h"

namespace portrait::store {

struct RotationOptions {
  // With a passphrase-derived master key: the environment variable holding the new one.
  std::string new_passphrase_env = "PORTRAIT_NEW_PASSPHRASE";
  // Set by the caller; not owned.
  const Clock* clock = nullptr;
};

struct RotationReport {
  // What an interrupted rotation was found in and finished before anything else: rolled
  // back (kUncommitted, then a new rotation ran) or forward (kCommitted: nothing more done).
  RotationState interrupted = RotationState::kNone;
  bool rotated = false;
  int64_t data_keys = 0;       // rewrapped
  int64_t notices = 0;         // erasure notices resealed
  int64_t audit_records = 0;   // verified before, and MACed anew
  std::string old_public_key;  // the audit signing keys (hex)
  std::string new_public_key;
};

// Unavailable when the data directory is in use (portraitd running); FailedPrecondition-like
// errors (InvalidArgument) when the audit chain does not verify or the new passphrase is
// missing. On any error before the commit, nothing of the data directory has changed.
Result<RotationReport> RotateMasterKey(const config::Config& config,
                                       const RotationOptions& options);

}  // namespace portrait::store
