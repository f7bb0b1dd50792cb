// The master key: 32 bytes from a key file, or derived from a passphrase with Argon2id. Every
// other key is derived from it (key_hierarchy.h). Functions here touch the file system only.
#pragma once

#include <string>

#include "base/result.h"
#include "crypto/secret.h"

namespace portrait::crypto {

inline constexpr size_t kMasterKeySize = 32;

// Reads a key file: it must exist, be a regular file of exactly 32 bytes, and be readable by
// its owner only (mode 0600 or 0400). NotFound / PermissionDenied / InvalidArgument otherwise,
// each saying what to do.
Result<SecretBytes> LoadKeyFile(const std::string& path);

// Writes 32 fresh random bytes to `path` with mode 0600. Refuses (Conflict) if it exists.
Result<SecretBytes> CreateKeyFile(const std::string& path);

// Derives the master key from the passphrase in environment variable `env_name` and the 16-byte
// salt stored at `salt_path` (Argon2id, moderate limits). When `create_salt`, writes a fresh salt
// (refusing to overwrite one); otherwise the salt file must exist.
Result<SecretBytes> DeriveFromPassphrase(const std::string& env_name, const std::string& salt_path,
                                         bool create_salt);

}  // namespace portrait::crypto
