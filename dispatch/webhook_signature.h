// Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>" with the secret's bytes (the base64 after "whsec_"),
// sent as "webhook-signature: v1,<base64 of the MAC>". Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "crypto/secret.h"

namespace portrait::dispatch {

// The secret's key bytes, in guarded memory. InvalidArgument unless `secret` is "whsec_" and
// base64 of 24 to 64 bytes.
Result<crypto::SecretBytes> ParseWebhookSecret(std::string_view secret);

// "v1,<base64 HMAC-SHA256>" of the message `id`, `timestamp`, `body`.
std::string SignWebhook(crypto::KeyView key, std::string_view id, int64_t timestamp,
                        std::string_view body);

}  // namespace portrait::dispatch
