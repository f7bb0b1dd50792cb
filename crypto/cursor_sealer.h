// CursorSealer: opaque paging cursors. A cursor is a position (an unsigned 64-bit number) sealed
// with XChaCha20-Poly1305 under a key drawn at random when the sealer is made, with a fresh
// random nonce per cursor and a context (e.g. purpose and segment name) as associated data:
// sealing one position twice gives two unrelated strings, so comparing cursors tells nothing
// about the positions, and a cursor opens only with the context it was sealed for. The key lives
// only in this process (guarded memory): cursors die with it. Immutable after Create;
// thread-safe to share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "crypto/secret.h"

namespace portrait::crypto {

class CursorSealer {
 public:
  // A sealer with a fresh random key; Internal if guarded memory cannot be had.
  static Result<CursorSealer> Create();

  // The cursor of `position` for `context`: kCursorChars characters of base64url (no padding).
  std::string Seal(std::string_view context, uint64_t position) const;
  // The position sealed in `cursor` for `context`; InvalidArgument (no detail, never the text)
  // when it is not one this sealer made for `context`: forged, altered, of another context or
  // of another process.
  Result<uint64_t> Open(std::string_view context, std::string_view cursor) const;

  static constexpr size_t kCursorChars = 64;  // 24 nonce + 8 position + 16 tag bytes

 private:
  explicit CursorSealer(SecretBytes key) : key_(std::move(key)) {}
  SecretBytes key_;
};

}  // namespace portrait::crypto
