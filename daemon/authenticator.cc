#include "daemon/authenticator.h"

#include <algorithm>

namespace portrait::daemon {

bool Authenticator::Limited(const std::string& address) {
  const int64_t now = clock_.NowUs();
  MutexLock lock(mu_);
  auto it = failures_.find(address);
  if (it == failures_.end()) {
    return false;
  }
  if (now - it->second.window_start_us > kWindowUs) {
    failures_.erase(it);
    return false;
  }
  return it->second.count >= kMaxFailures;
}

Result<store::TokenRow> Authenticator::Check(std::string_view token, const std::string& address) {
  const int64_t now = clock_.NowUs();
  const std::string digest = hasher_.Digest("$cache", token);
  {
    MutexLock lock(mu_);
    if (auto it = cache_.find(digest); it != cache_.end() && it->second.until_us > now) {
      return it->second.row;
    }
  }
  auto row = tokens_.Authenticate(token);
  MutexLock lock(mu_);
  if (!row) {
    CountFailure(address, now);
    return row;
  }
  if (cache_.size() > 10'000) {
    cache_.clear();
  }
  cache_[digest] = Cached{*row, now + kCacheUs};
  return row;
}

void Authenticator::RecordFailure(const std::string& address) {
  const int64_t now = clock_.NowUs();
  MutexLock lock(mu_);
  CountFailure(address, now);
}

void Authenticator::CountFailure(const std::string& address, int64_t now_us) {
  if (failures_.size() >= kMaxAddresses && !failures_.contains(address)) {
    std::erase_if(failures_, [&](const auto& entry) {
      return now_us - entry.second.window_start_us > kWindowUs;
    });
  }
  if (failures_.size() >= kMaxAddresses && !failures_.contains(address)) {
    auto oldest = std::min_element(failures_.begin(), failures_.end(), [](auto& a, auto& b) {
      return a.second.window_start_us < b.second.window_start_us;
    });
    failures_.erase(oldest);
  }
  Failures& f = failures_[address];
  if (now_us - f.window_start_us > kWindowUs) {
    f = Failures{now_us, 0};
  }
  ++f.count;
}

size_t Authenticator::tracked_addresses() {
  MutexLock lock(mu_);
  return failures_.size();
}

void Authenticator::Invalidate() {
  MutexLock lock(mu_);
  cache_.clear();
}

}  // namespace portrait::daemon
