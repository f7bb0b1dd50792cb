#include "dispatch/webhook_signature.h"

#include <sodium.h>

namespace portrait::dispatch {

Result<crypto::SecretBytes> ParseWebhookSecret(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (secret.substr(0, kPrefix.size()) != kPrefix) {
    return Error(Status::InvalidArgument("a webhook secret starts with 'whsec_'"));
  }
  const std::string_view b64 = secret.substr(kPrefix.size());
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SecretBytes decoded, crypto::SecretBytes::Allocate(64));
  size_t size = 0;
  if (sodium_base642bin(decoded.data(), decoded.size(), b64.data(), b64.size(), nullptr, &size,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      size < 24) {
    return Error(Status::InvalidArgument(
        "a webhook secret is 'whsec_' and the base64 of 24 to 64 random bytes"));
  }
  return crypto::SecretBytes::CopyOf(decoded.view().substr(0, size));
}

std::string SignWebhook(crypto::KeyView key, std::string_view id, int64_t timestamp,
                        std::string_view body) {
  const std::string stamp = std::to_string(timestamp);
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.data, key.size);
  for (std::string_view part :
       {id, std::string_view("."), std::string_view(stamp), std::string_view("."), body}) {
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const uint8_t*>(part.data()),
                                  part.size());
  }
  uint8_t mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&state, mac);
  char b64[sodium_base64_ENCODED_LEN(sizeof mac, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
  return "v1," + std::string(b64);
}

}  // namespace portrait::dispatch
