// BlindIndex: a keyed BLAKE2b digest of a normalised value, truncated to a configured width, so
// equality lookups (find by email, duplicate detection) work without decrypting anything. The
// field name is hashed in, so equal values of different fields don't share digests. Immutable;
// thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "crypto/secret.h"

namespace portrait::crypto {

class BlindIndex {
 public:
  // `width` bytes of digest (8..32); `key` is the hierarchy's blind-index key (copied).
  static Result<BlindIndex> Create(const SecretBytes& key, int width);

  // The digest of `normalized` (already normalised by the caller) for `field`.
  std::string Digest(std::string_view field, std::string_view normalized) const;

 private:
  SecretBytes key_;
  int width_ = 16;
};

}  // namespace portrait::crypto
