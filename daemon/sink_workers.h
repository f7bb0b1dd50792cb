// SinkWorkers: one sink's worker threads and their queue. The dispatcher thread submits
// attempts (tasks it marked `sending`); each worker takes one, checks it once more right before
// the attempt under a SendGate pass for its profile, makes it through the sink (which owns its
// connections), and hands the outcome back. Thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "config/config.h"
#include "daemon/attempt.h"
#include "daemon/send_gate.h"
#include "dispatch/sink.h"

namespace portrait::daemon {

class SinkWorkers {
 public:
  // Attempts queued per worker at most: enough that one claim (one commit) feeds the workers
  // for a while, few enough that a crash leaves little to send twice.
  static constexpr int kQueuedPerWorker = 8;

  // Called on a worker with each outcome; `idle` when no attempt is queued behind it (time to
  // claim more).
  using Done = std::function<void(Attempt, dispatch::Outcome, bool idle)>;
  // Called on a worker right before each attempt, under the profile's pass: the verdict that
  // stops it, or nullopt to make it (possibly with the plain body).
  using Check = std::function<std::optional<SendVerdict>(Attempt&)>;

  // Starts `config.concurrency` workers.
  SinkWorkers(const config::Sink& config, std::unique_ptr<dispatch::Sink> sink, SendGate& gate,
              Check check, Done done);
  ~SinkWorkers();
  SinkWorkers(const SinkWorkers&) = delete;
  SinkWorkers& operator=(const SinkWorkers&) = delete;

  const config::Sink& config() const { return config_; }

  // Attempts it can take now.
  int Room();
  void Submit(Attempt attempt);
  // Lets the attempts under way finish, joins, and returns the queued ones, never started: a
  // sink that is down must not hold a stopping daemon for `timeout` times the queue's length.
  std::vector<Attempt> Stop();

 private:
  void Work();
  // The next attempt, or nullopt once stopping.
  std::optional<Attempt> Take();
  // One attempt, unless the check right before it stops it.
  dispatch::Outcome TryOnce(Attempt& attempt);

  const config::Sink config_;
  const std::unique_ptr<dispatch::Sink> sink_;
  SendGate& gate_;
  const Check check_;
  const Done done_;
  Mutex mu_;
  CondVar wake_;
  std::deque<Attempt> queue_ GUARDED_BY(mu_);
  int busy_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // last: start once the members above exist
};

}  // namespace portrait::daemon
