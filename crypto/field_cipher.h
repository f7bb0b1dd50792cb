// FieldCipher: XChaCha20-Poly1305 in a versioned envelope
//   [version:1 = 1][key id:4, little-endian][nonce:24][ciphertext + tag:16]
// The header is authenticated too. The associated data binds a ciphertext to its place (internal
// profile id + field name), so a ciphertext copied to another profile or field fails to open, as
// does any flipped byte. Stateless; all functions are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "crypto/secret.h"

namespace portrait::crypto {

class FieldCipher {
 public:
  static constexpr uint8_t kVersion = 1;
  static constexpr size_t kOverhead = 1 + 4 + 24 + 16;

  // The associated data for `field` of profile `profile_id`.
  static std::string AssociatedData(int64_t profile_id, std::string_view field);

  // Encrypts `plaintext` under `key` (32 bytes) with a random nonce.
  static Result<std::string> Seal(KeyView key, uint32_t key_id, std::string_view ad,
                                  std::string_view plaintext);

  // Decrypts `envelope`; Corruption if it is malformed, of an unknown version, or fails to
  // authenticate under `key` and `ad`.
  static Result<std::string> Open(KeyView key, std::string_view ad, std::string_view envelope);
  // Same, writing the plaintext into guarded memory of `size` bytes, which must be the
  // plaintext's size.
  static Status OpenInto(KeyView key, std::string_view ad, std::string_view envelope, uint8_t* out,
                         size_t size);

  // The key id recorded in `envelope`, or Corruption if it is too short.
  static Result<uint32_t> KeyId(std::string_view envelope);
};

}  // namespace portrait::crypto
