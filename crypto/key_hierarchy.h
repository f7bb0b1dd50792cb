// KeyHierarchy: the subkeys derived from the master key with crypto_kdf, each for one job, so
// that no key is ever used for two purposes:
//   portrait.db SQLCipher key, keystore.db SQLCipher key, the key-encryption key (wraps
//   per-profile data keys), the blind-index key, the audit signing seed (Ed25519), the API-token
//   hashing key, the audit chain's MAC key (so that the database key alone cannot rewrite the
//   audit log).
// Per-profile data keys are random, never derived (a derived key could be derived again after
// erasure), and live wrapped in keystore.db only.
// Carried keys: the blind-index key and the token-hashing key make digests of values the store
// does not keep (event ids, task dedupe keys, aliases, API tokens), so a master-key rotation
// cannot recompute them; it carries the old keys instead, wrapped under the new key-encryption
// key in keystore.db (docs/DECISIONS.md 127). A hierarchy created with carried keys uses them
// in place of the derived ones. Immutable after Create; thread-safe to share.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "base/result.h"
#include "crypto/secret.h"

namespace portrait::crypto {

inline constexpr size_t kDataKeySize = 32;

// The carried keys' names, as stored in keystore.db.
inline constexpr std::string_view kCarriedBlindIndex = "blind_index";
inline constexpr std::string_view kCarriedTokenHash = "token_hash";

// Carried keys as stored: name -> envelope sealed under the key-encryption key.
using CarriedKeys = std::map<std::string, std::string>;

class KeyHierarchy {
 public:
  // Derives every subkey from `master` (32 bytes), then replaces the blind-index and
  // token-hashing keys by the `carried` ones (unwrapped with the derived key-encryption key;
  // Corruption if one can't be, InvalidArgument for an unknown name).
  static Result<KeyHierarchy> Create(const SecretBytes& master, const CarriedKeys& carried = {});

  // The keys a rotation carries over from `previous` (the hierarchy of the old master key),
  // sealed under this hierarchy's key-encryption key: what Create needs as `carried`.
  Result<CarriedKeys> WrapCarriedFrom(const KeyHierarchy& previous) const;

  const SecretBytes& portrait_db_key() const { return portrait_db_; }
  const SecretBytes& keystore_db_key() const { return keystore_db_; }
  const SecretBytes& blind_index_key() const { return blind_index_; }
  const SecretBytes& audit_seed() const { return audit_seed_; }
  const SecretBytes& token_key() const { return token_; }
  const SecretBytes& audit_mac_key() const { return audit_mac_; }

  // What an erasure notice must tell receivers after the profile's data key is gone (its
  // external id), sealed for profile `profile_id` under the notice key: a subkey of the
  // key-encryption key, which outlives every data key. Open: Corruption if altered or another
  // profile's.
  Result<std::string> SealNotice(int64_t profile_id, std::string_view plaintext) const;
  Result<std::string> OpenNotice(int64_t profile_id, std::string_view envelope) const;

  // A fresh random data key for a new profile.
  static Result<SecretBytes> NewDataKey();
  // `data_key` sealed under the key-encryption key, bound to `profile_id`.
  Result<std::string> WrapDataKey(int64_t profile_id, KeyView data_key) const;
  // The inverse; Corruption if `wrapped` was altered or belongs to another profile.
  Result<SecretBytes> UnwrapDataKey(int64_t profile_id, std::string_view wrapped) const;
  // The same, into `out` (kDataKeySize bytes of guarded memory, e.g. a KeySlab slot).
  Status UnwrapDataKeyInto(int64_t profile_id, std::string_view wrapped, uint8_t* out) const;

 private:
  SecretBytes portrait_db_;
  SecretBytes keystore_db_;
  SecretBytes kek_;
  SecretBytes blind_index_;
  SecretBytes audit_seed_;
  SecretBytes token_;
  SecretBytes audit_mac_;
  SecretBytes notice_;
};

}  // namespace portrait::crypto
