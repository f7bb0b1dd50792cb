// Attempt: a task the dispatcher marked `sending`, on its way to its sink's workers, with the
// message it sends and, after the worker's last check, the verdict that stopped it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/send_decision.h"
#include "store/store.h"

namespace portrait::daemon {

// A claimed task on its way to its sink.
struct Attempt {
  // What the attempt sends: the CloudEvent, and the one without profile fields (the trigger's
  // message_plain) for a customer who opts out before the attempt.
  struct Bodies {
    std::string body;
    std::string plain;  // empty: the trigger has none, or `body` is already plain
    bool personalised = true;
    bool sensitive = false;  // the trigger reads or sends a sensitive field
  };

  store::TaskRow task;       // as marked `sending`
  std::string claimed_from;  // its state before: pending or retrying
  Bodies bodies;
  int64_t time_s = 0;
  // Set when the check right before the attempt stopped it (nothing was sent).
  std::optional<SendVerdict> refused;
};

}  // namespace portrait::daemon
