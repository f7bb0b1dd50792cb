// JobRunner: one thread for long computations over the whole base (a model fit, a score
// refresh), so that they run neither on the writer (whose commits they would hold up) nor on an
// I/O thread (whose connections they would stall). Jobs run one at a time, in the order posted;
// a job answers its HTTP request itself, from this thread, as the writer's callbacks do. A job
// may carry a key (a fit: "model:NAME"): at most one job of a key is queued or running, so the
// queue holds at most one job per model and score (DECISIONS 114). Thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <utility>

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

  // Queues `job`, unless `key` is not empty and a job of the same key is queued or running: then
  // returns false and destroys `job` unrun. After Stop, runs it at once on the calling thread
  // with stopping = true (and returns true).
  bool Post(Job job, std::string key = {});
  // Frees `key` of the job under way before it ends: a job calls it before it answers, so a
  // client that was answered can post the next job of the key at once.
  void Release(const std::string& key);
  // Lets the job under way finish, runs every queued job with stopping = true, joins the thread.
  void Stop();
  // Jobs queued or running.
  size_t pending() const;

 private:
  void Loop();

  mutable Mutex mu_;
  CondVar wake_;
  std::deque<std::pair<std::string, Job>> queue_ GUARDED_BY(mu_);  // (key, job)
  std::set<std::string> keys_ GUARDED_BY(mu_);                     // of the jobs queued or running
  std::string running_key_ GUARDED_BY(mu_);  // of the job under way, until it is released
  size_t running_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace portrait::daemon
