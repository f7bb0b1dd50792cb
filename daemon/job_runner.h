// JobRunner: one thread for long computations over the whole base (a model fit, a score
// refresh), so that they run neither on the writer (whose commits they would hold up) nor on an
// I/O thread (whose connections they would stall). Jobs run one at a time, in the order posted;
// a job answers its HTTP request itself, from this thread, as the writer's callbacks do.
// Thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <thread>

#include "base/mutex.h"

namespace portrait::daemon {

class JobRunner {
 public:
  // A job is told whether the runner is stopping (it should then answer "unavailable" and
  // return at once rather than start its work).
  using Job = std::function<void(bool stopping)>;

  JobRunner();
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;

  // Queues `job`. After Stop, runs it at once on the calling thread with stopping = true.
  void Post(Job job);
  // Lets the job under way finish, runs every queued job with stopping = true, joins the thread.
  void Stop();
  // Jobs queued or running.
  size_t pending() const;

 private:
  void Loop();

  mutable Mutex mu_;
  CondVar wake_;
  std::deque<Job> queue_ GUARDED_BY(mu_);
  size_t running_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace portrait::daemon
