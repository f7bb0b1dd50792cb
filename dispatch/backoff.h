// When a failed task is tried again: exponential backoff with jitter. The n-th retry waits a
// random time in [b/2, b), b = backoff * 2^(n-1) capped at backoff_max — "equal jitter": as
// spread out as full jitter at scale, yet each wait is longer than the one before, so a receiver
// that is down gets room to recover. A receiver's Retry-After is honoured when longer.
#pragma once

#include <chrono>
#include <optional>

#include "config/config.h"

namespace portrait::dispatch {

// The wait before the next attempt, after `attempts` failed ones (1 or more). `unit` is a
// uniform random number in [0, 1).
std::chrono::milliseconds RetryDelay(const config::Sink& sink, int attempts, double unit,
                                     std::optional<std::chrono::seconds> retry_after);

}  // namespace portrait::dispatch
