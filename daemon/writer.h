// Writer: the one thread that writes profiles. Event requests queue up and commit in groups —
// one transaction and one fsync for every request that arrived while the previous group was
// committing (group commit) — and each request's callback runs only after its group is durable.
// Other writes (profile upserts, erasures, timer sweeps) run on the same thread alone, between
// groups, so no two writes of a profile ever interleave. Thread-safe.
#pragma once

#include <deque>
#include <optional>
#include <functional>
#include <thread>
#include <variant>

#include "base/mutex.h"
#include "daemon/ingestor.h"
#include "daemon/telemetry.h"

namespace portrait::daemon {

class Writer {
 public:
  using Done = std::function<void(Result<IngestCounts>)>;

  // Events in one group at most; a larger backlog commits in several.
  static constexpr size_t kMaxGroupEvents = 20'000;

  Writer(Ingestor& ingestor, Telemetry& telemetry);
  ~Writer();
  Writer(const Writer&) = delete;

  // Finishes every queued job, then stops the thread; later submissions get Unavailable.
  void Stop();

  // Queues a request; `done` runs on the writer thread once its events are durable, or failed.
  void Submit(IngestRequest request, Done done);

  // `hook` runs on the writer thread after each group commit that created tasks (to wake the
  // dispatcher). Set it before the first Submit.
  void OnTasksCreated(std::function<void()> hook) { tasks_created_ = std::move(hook); }

  // Runs `job` on the writer thread, alone, and returns its status once it has finished.
  Status Run(std::function<Status()> job);

 private:
  struct Pending {
    IngestRequest request;
    Done done;
  };
  struct Exclusive {
    std::function<Status()> job;
    std::function<void(Status)> done;
  };
  using Job = std::variant<Pending, Exclusive>;

  void Loop();
  // The next group of event requests, or the next exclusive job; nothing once stopped and idle.
  bool Take(std::vector<Pending>& group, std::optional<Exclusive>& exclusive);
  void CommitGroup(std::vector<Pending>& group);

  Ingestor& ingestor_;
  Telemetry& telemetry_;
  std::function<void()> tasks_created_;
  Mutex mu_;
  CondVar wake_;
  std::deque<Job> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace portrait::daemon
