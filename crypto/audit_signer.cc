#include "crypto/audit_signer.h"

#include <sodium.h>

namespace portrait::crypto {

Result<AuditSigner> AuditSigner::Create(const SecretBytes& seed) {
  if (seed.size() != crypto_sign_SEEDBYTES) {
    return Error(Status::InvalidArgument("audit seed must be 32 bytes"));
  }
  AuditSigner s;
  PORTRAIT_ASSIGN_OR_RETURN(s.secret_key_, SecretBytes::Allocate(crypto_sign_SECRETKEYBYTES));
  s.public_key_.assign(crypto_sign_PUBLICKEYBYTES, '\0');
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(s.public_key_.data()),
                           s.secret_key_.data(), seed.data());
  return s;
}

std::string AuditSigner::Sign(std::string_view message) const {
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       secret_key_.data());
  return sig;
}

bool AuditSigner::Verify(std::string_view public_key, std::string_view message,
                         std::string_view signature) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  (void)InitSodium();
  return crypto_sign_verify_detached(
             reinterpret_cast<const unsigned char*>(signature.data()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(),
             reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

std::string ToHex(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  out.pop_back();
  return out;
}

Result<std::string> FromHex(std::string_view hex) {
  std::string out(hex.size() / 2, '\0');
  size_t len = 0;
  if (hex.size() % 2 != 0 ||
      sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), hex.data(),
                     hex.size(), nullptr, &len, nullptr) != 0 ||
      len != out.size()) {
    return Error(Status::InvalidArgument("not a hex string"));
  }
  return out;
}

}  // namespace portrait::crypto
