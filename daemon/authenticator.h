// Authenticator: bearer token -> token row, with the two things an HTTP front needs on top of
// TokenRegistry: a short-lived cache (a token check must not wait behind the writer's commit on
// every request; revocation through this daemon clears it at once) and a limit on failed
// attempts per client address (after kMaxFailures in a window, further requests from the address
// are refused with 429 until the window ends). Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "base/clock.h"
#include "base/mutex.h"
#include "store/token_registry.h"

namespace portrait::daemon {

class Authenticator {
 public:
  static constexpr int kMaxFailures = 10;
  static constexpr int64_t kWindowUs = 60'000'000;
  static constexpr int64_t kCacheUs = 2'000'000;
  static constexpr size_t kMaxAddresses = 4096;

  Authenticator(store::TokenRegistry& tokens, const crypto::BlindIndex& hasher, const Clock& clock)
      : tokens_(tokens), hasher_(hasher), clock_(clock) {}

  // Whether `address` has failed kMaxFailures times in the current window.
  bool Limited(const std::string& address);
  // Addresses with failures being counted (at most kMaxAddresses).
  size_t tracked_addresses();
  // The active token `token`; PermissionDenied (and a failure counted against `address`)
  // otherwise.
  Result<store::TokenRow> Check(std::string_view token, const std::string& address);
  // Counts a failed authentication against `address` (a request without a bearer token).
  void RecordFailure(const std::string& address);
  // Forgets cached tokens (after a revocation).
  void Invalidate();

 private:
  void CountFailure(const std::string& address, int64_t now_us) REQUIRES(mu_);

  struct Cached {
    store::TokenRow row;
    int64_t until_us = 0;
  };
  struct Failures {
    int64_t window_start_us = 0;
    int count = 0;
  };

  store::TokenRegistry& tokens_;
  const crypto::BlindIndex& hasher_;
  const Clock& clock_;
  Mutex mu_;
  std::map<std::string, Cached> cache_ GUARDED_BY(mu_);  // by the token's digest, never the token
  std::map<std::string, Failures> failures_ GUARDED_BY(mu_);
};

}  // namespace portrait::daemon
