// CheckPipeline: the base-wide re-evaluation's check of range after range (Ingestor::ReadForCheck
// and Ingestor::Check, docs/DECISIONS.md 120), two ranges at a time on threads of their own:
// range k+1 is read as soon as range k's read gave its last profile (where k+1 starts), and
// checked while range k's check finishes. Both cores stay busy whichever of reading and checking
// costs more, and each range's inputs are freed on its own thread. The checks come out in range
// order. Not thread-safe: one caller.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <optional>

#include "daemon/ingestor.h"

namespace portrait::daemon {

class CheckPipeline {
 public:
  using Read = std::function<Result<CheckInputs>(store::ProfileId after)>;
  using Check = std::function<ReevaluationCheck(const CheckInputs& read)>;

  // Starts reading the first range, of profiles after `after`. May throw (no thread, no memory).
  CheckPipeline(Read read, Check check, store::ProfileId after);
  CheckPipeline(const CheckPipeline&) = delete;
  CheckPipeline& operator=(const CheckPipeline&) = delete;
  // Waits for the ranges still running, which read and check nothing more.
  ~CheckPipeline();

  // The next range's check, in order (its `last` is 0 when no profile was left), or its read's
  // error; starts the range after the following one. May throw (no thread, no memory).
  Result<ReevaluationCheck> Next();

 private:
  // Where a range's successor starts: its last profile; nullopt when none was left or its read
  // failed (the successor then checks nothing).
  using Start = std::shared_future<std::optional<store::ProfileId>>;
  struct Range {
    Start read;  // ready once the range is read
    std::future<Result<ReevaluationCheck>> checked;
  };
  Range Launch(Start after);

  // Declared before the ranges: their threads use these until the ranges are destroyed.
  const Read read_;
  const Check check_;
  std::atomic<bool> cancelled_{false};
  Range current_;
  Range following_;
};

}  // namespace portrait::daemon
