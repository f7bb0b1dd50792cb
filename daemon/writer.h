// Writer: the one thread that writes profiles. Event requests queue up and commit in groups —
// one transaction and one fsync for every request that arrived while the previous group was
// committing (group commit) — and each request's callback runs only after its group is durable.
// Other writes (profile upserts, erasures, timer sweeps) run on the same thread alone, between
// groups, so no two writes of a profile ever interleave. The audit records of reads queue up
// beside them and commit together, all that are waiting in one transaction and one fsync,
// before the next event group (a read waits for one shared fsync, not one of its own).
// Thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <thread>
#include <variant>

#include "base/mutex.h"
#include "daemon/ingestor.h"
#include "daemon/telemetry.h"
#include "store/audit_log.h"

namespace portrait::daemon {

class Writer {
 public:
  using Done = std::function<void(Result<IngestCounts>)>;
  using AuditDone = std::function<void(Status)>;

  // Events in one group at most; a larger backlog commits in several.
  static constexpr size_t kMaxGroupEvents = 20'000;

  // Audit records submitted alone commit in groups of at most this many.
  static constexpr size_t kMaxGroupAudits = 10'000;

  // `audit` commits the records of SubmitAudit.
  Writer(Ingestor& ingestor, store::AuditLog& audit, Telemetry& telemetry);
  ~Writer();
  Writer(const Writer&) = delete;

  // Finishes every queued job, then stops the thread; later submissions get Unavailable.
  void Stop();

  // Queues a request; `done` runs on the writer thread once its events are durable, or failed.
  void Submit(IngestRequest request, Done done);

  // Queues audit records (of a read); `done` runs on the writer thread once they are durable,
  // with the commit's status. Records queued meanwhile share the transaction.
  void SubmitAudit(std::vector<store::AuditEntry> entries, AuditDone done);

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
  struct AuditOnly {
    std::vector<store::AuditEntry> entries;
    AuditDone done;
  };
  using Job = std::variant<Pending, Exclusive>;

  void Loop();
  enum class Taken { kWork, kIdle, kStopped };
  // The audit records waiting (up to kMaxGroupAudits), and the next group of event requests or
  // the next exclusive job: kWork. kIdle when the queue stayed empty for kIdleBeforeTrim after
  // work not yet trimmed after; kStopped once stopped and idle.
  Taken Take(std::vector<AuditOnly>& audits, std::vector<Pending>& group,
             std::optional<Exclusive>& exclusive);
  void CommitGroup(std::vector<Pending>& group);
  void CommitAudits(std::vector<AuditOnly>& audits);
  // Hands the memory the allocator holds free back to the system (malloc_trim): the writer's
  // work (JSON facts, batches) frees as much as it allocates, and glibc kept about half of a
  // loaded daemon's resident memory free in the writer's arena (docs/PERFORMANCE.md). Called
  // once the queue has stayed empty a moment after work, and every kTrimEvery under steady
  // work — not each time the queue runs dry: a trim is not cheap (every free page given
  // back, then faulted in again), and a base-wide pass runs the queue dry between its
  // jobs (DECISIONS 149).
  void ReturnFreeMemory();

  static constexpr std::chrono::seconds kTrimEvery{10};
  static constexpr std::chrono::seconds kIdleBeforeTrim{2};
  std::chrono::steady_clock::time_point last_trim_;  // the writer thread's only
  bool worked_since_trim_ = false;                   // the writer thread's only

  Ingestor& ingestor_;
  store::AuditLog& audit_;
  Telemetry& telemetry_;
  std::function<void()> tasks_created_;
  Mutex mu_;
  CondVar wake_;
  std::deque<Job> queue_ GUARDED_BY(mu_);
  std::deque<AuditOnly> audits_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace portrait::daemon
