#include "crypto/blind_index.h"

#include <sodium.h>

namespace portrait::crypto {

Result<BlindIndex> BlindIndex::Create(const SecretBytes& key, int width) {
  if (width < 8 || width > 32) {
    return Error(Status::InvalidArgument("blind index width must be 8..32 bytes"));
  }
  BlindIndex b;
  PORTRAIT_ASSIGN_OR_RETURN(b.key_, key.Clone());
  b.width_ = width;
  return b;
}

std::string BlindIndex::Digest(std::string_view field, std::string_view normalized) const {
  crypto_generichash_state state;
  crypto_generichash_init(&state, key_.data(), key_.size(), crypto_generichash_BYTES);
  // Length-prefix the field name so ("ab","c") and ("a","bc") differ.
  const uint8_t len = static_cast<uint8_t>(field.size());
  crypto_generichash_update(&state, &len, 1);
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(field.data()), field.size());
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(normalized.data()),
                            normalized.size());
  uint8_t full[crypto_generichash_BYTES];
  crypto_generichash_final(&state, full, sizeof full);
  sodium_memzero(&state, sizeof state);
  return std::string(reinterpret_cast<const char*>(full), static_cast<size_t>(width_));
}

}  // namespace portrait::crypto
