#include "crypto/field_cipher.h"

#include <sodium.h>

#include <cstring>

namespace portrait::crypto {
namespace {

constexpr size_t kHeader = 1 + 4 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
static_assert(FieldCipher::kOverhead == kHeader + crypto_aead_xchacha20poly1305_ietf_ABYTES);

const uint8_t* Bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// Checks the envelope's shape and returns its ciphertext length.
Result<size_t> CheckEnvelope(std::string_view envelope) {
  if (envelope.size() < FieldCipher::kOverhead) {
    return Error(Status::Corruption("ciphertext envelope is truncated"));
  }
  if (static_cast<uint8_t>(envelope[0]) != FieldCipher::kVersion) {
    return Error(Status::Corruption("ciphertext envelope has unknown version " +
                                    std::to_string(static_cast<uint8_t>(envelope[0]))));
  }
  return envelope.size() - kHeader;
}

// The AEAD's associated data: the envelope's version and key id, then the caller's `ad`, so the
// header can't be altered either.
std::string FullAd(std::string_view envelope, std::string_view ad) {
  std::string full(envelope.substr(0, 5));
  full.append(ad);
  return full;
}

Status Decrypt(KeyView key, std::string_view ad, std::string_view envelope, uint8_t* out) {
  if (key.size != crypto_aead_xchacha20poly1305_ietf_KEYBYTES) {
    return Status::InvalidArgument("field key must be 32 bytes");
  }
  PORTRAIT_ASSIGN_OR_RETURN(size_t clen, CheckEnvelope(envelope));
  const std::string full_ad = FullAd(envelope, ad);
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &plen, nullptr, Bytes(envelope) + kHeader,
                                                 clen, Bytes(full_ad), full_ad.size(),
                                                 Bytes(envelope) + 5, key.data) != 0) {
    return Status::Corruption(
        "ciphertext failed to authenticate (wrong key, wrong place, or altered)");
  }
  return Status::Ok();
}

}  // namespace

std::string FieldCipher::AssociatedData(int64_t profile_id, std::string_view field) {
  std::string ad(8, '\0');
  uint64_t id = static_cast<uint64_t>(profile_id);
  for (int i = 0; i < 8; ++i) {
    ad[i] = static_cast<char>(id >> (8 * i));
  }
  ad.append(field);
  return ad;
}

Result<std::string> FieldCipher::Seal(KeyView key, uint32_t key_id, std::string_view ad,
                                      std::string_view plaintext) {
  if (key.size != crypto_aead_xchacha20poly1305_ietf_KEYBYTES) {
    return Error(Status::InvalidArgument("field key must be 32 bytes"));
  }
  std::string out(kOverhead + plaintext.size(), '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  p[0] = kVersion;
  for (int i = 0; i < 4; ++i) {
    p[1 + i] = static_cast<uint8_t>(key_id >> (8 * i));
  }
  randombytes_buf(p + 5, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  const std::string full_ad = FullAd(out, ad);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(p + kHeader, &clen, Bytes(plaintext), plaintext.size(),
                                             Bytes(full_ad), full_ad.size(), nullptr, p + 5,
                                             key.data);
  return out;
}

Result<std::string> FieldCipher::Open(KeyView key, std::string_view ad, std::string_view envelope) {
  PORTRAIT_ASSIGN_OR_RETURN(size_t clen, CheckEnvelope(envelope));
  std::string out(clen - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  PORTRAIT_RETURN_IF_ERROR(Decrypt(key, ad, envelope, reinterpret_cast<uint8_t*>(out.data())));
  return out;
}

Status FieldCipher::OpenInto(KeyView key, std::string_view ad, std::string_view envelope,
                             uint8_t* out, size_t size) {
  PORTRAIT_ASSIGN_OR_RETURN(size_t clen, CheckEnvelope(envelope));
  if (clen - crypto_aead_xchacha20poly1305_ietf_ABYTES != size) {
    return Status::Corruption("wrapped key has the wrong length");
  }
  return Decrypt(key, ad, envelope, out);
}

Result<uint32_t> FieldCipher::KeyId(std::string_view envelope) {
  PORTRAIT_RETURN_IF_ERROR(CheckEnvelope(envelope));
  uint32_t id = 0;
  for (int i = 0; i < 4; ++i) {
    id |= static_cast<uint32_t>(static_cast<uint8_t>(envelope[1 + i])) << (8 * i);
  }
  return id;
}

}  // namespace portrait::crypto
