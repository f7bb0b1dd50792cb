// Sink: where a task goes — a webhook, a JSON-lines file or a command. Deliver() makes one
// attempt and says how it went; the dispatcher decides what happens next (retry, dead). A sink
// is used by its sink's worker threads at once: implementations are thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "base/result.h"
#include "config/config.h"

namespace portrait::dispatch {

// One attempt at one task.
struct Delivery {
  std::string id;      // the task id: the same on every attempt, for receivers to deduplicate
  std::string body;    // the task as a CloudEvents 1.0 JSON object
  int64_t time_s = 0;  // when the attempt is made (unix seconds), for signatures
};

struct Outcome {
  enum class Kind { kDelivered, kRetry, kDead };
  Kind kind = Kind::kRetry;
  std::string reason;  // "HTTP 503", "timed out after 10s" — never a personal value
  // The receiver asked to wait this long (HTTP 429 or 503 with Retry-After).
  std::optional<std::chrono::seconds> retry_after;

  static Outcome Delivered(std::string reason) { return {Kind::kDelivered, std::move(reason), {}}; }
  static Outcome Retry(std::string reason) { return {Kind::kRetry, std::move(reason), {}}; }
  static Outcome Dead(std::string reason) { return {Kind::kDead, std::move(reason), {}}; }
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Outcome Deliver(const Delivery& delivery) = 0;
};

// The sink `config` describes. InvalidArgument (naming the sink and what to do) when it can't be
// used: a webhook whose secret variable is unset or not a whsec_ secret, an unreadable CA file.
Result<std::unique_ptr<Sink>> OpenSink(const config::Sink& config);

}  // namespace portrait::dispatch
