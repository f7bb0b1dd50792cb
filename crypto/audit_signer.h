// AuditSigner: Ed25519 signatures over audit checkpoints, from the hierarchy's audit seed. The
// secret key stays in guarded memory; the public key (32 bytes) is what auditors verify with,
// offline. Immutable after Create; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "crypto/secret.h"

namespace portrait::crypto {

class AuditSigner {
 public:
  // The key pair derived from a 32-byte seed.
  static Result<AuditSigner> Create(const SecretBytes& seed);

  // The 64-byte detached signature of `message`.
  std::string Sign(std::string_view message) const;
  // The raw 32-byte public key.
  const std::string& public_key() const { return public_key_; }

  // Whether `signature` is a valid signature of `message` by `public_key` (raw bytes).
  static bool Verify(std::string_view public_key, std::string_view message,
                     std::string_view signature);

 private:
  SecretBytes secret_key_;
  std::string public_key_;
};

// Lower-case hex of `bytes`, and its inverse (InvalidArgument on bad input).
std::string ToHex(std::string_view bytes);
Result<std::string> FromHex(std::string_view hex);

}  // namespace portrait::crypto
