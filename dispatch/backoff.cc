#include "dispatch/backoff.h"

#include <algorithm>

namespace portrait::dispatch {

std::chrono::milliseconds RetryDelay(const config::Sink& sink, int attempts, double unit,
                                     std::optional<std::chrono::seconds> retry_after) {
  using std::chrono::milliseconds;
  const milliseconds cap = sink.backoff_max;
  milliseconds ceiling = sink.backoff;
  for (int i = 1; i < attempts && ceiling < cap; ++i) {
    ceiling *= 2;
  }
  ceiling = std::min(ceiling, cap);
  const auto half = ceiling / 2;
  milliseconds wait = half + milliseconds(static_cast<int64_t>(unit * half.count()));
  if (retry_after) {
    wait = std::max<milliseconds>(wait, *retry_after);
  }
  return wait;
}

}  // namespace portrait::dispatch
