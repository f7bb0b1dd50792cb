// Scheduler: a thread that, every `period` and once at start, has the writer handle the timers
// that are due (Ingestor::FireDueTimers: an index range over due instants, never a pass over
// all profiles). Timers missed while the daemon was down fire at start unless older than their
// trigger's grace. After a rule change it re-arms every profile's timers from their anniversary
// anchors (nothing decrypted), kRearmPerJob profiles per writer job so ingestion goes on in
// between. At start, and before a re-arm, it backfills the anchors when they are incomplete (a
// database written before them, or a config with a new date field): every profile opened once,
// kBackfillPerJob per writer job, due timers swept in between. Once at start and then daily it
// purges what the config's [[retention]] rules say is kept no longer. Stop() waits for the work
// in progress. At start, after a reload and on request it re-evaluates every profile when the
// rules that decide the portrait changed (Ingestor::BeginReevaluation): ranges of
// kReevaluatePerJob profiles checked off the writer (the next while the writer handles the
// last), the profiles a re-evaluation would change handed to the writer in one job per range;
// it resumes a pass a stop cut off, and due timers are swept in between. Before a re-evaluation
// (at start and after a reload) it rebuilds the values kept from events that are not marked
// complete (KeptMarks: a [[metric]] or [[model]] added when its events were already stored):
// every profile opened once, kRebuildPerJob per writer job, due timers swept in between; a
// rebuild that changed a profile is followed by a re-evaluation.
//
// Among several nodes (the store's HeldPartitions, docs/DECISIONS.md 173, 176, 177) the anchors'
// backfill, the re-arm, the rebuild of kept values and the re-evaluation pass only the
// partitions this node holds, in that order, one partition at a time, each marked once passed
// within one tenure (daemon/pass_marks.h; the kept values' "kept/P", daemon/kept_marks.h): at
// every wake, when the partitions held or the targets (the config's date fields, the rules'
// fingerprint, the rules put in force, the re-evaluation's target, which a peer's score refresh
// or fit moves) differ from those of the last complete round, the partitions whose marks miss
// them are passed (scheduler_partitions.cc). First, the kept values' marks of a partition taken
// anew forget what the rules in force here do not keep (KeptMarks::Vet). A partition taken from
// a node that died mid-pass is passed by its new holder.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>
#include <thread>

#include "base/mutex.h"
#include "daemon/activity_log.h"
#include "daemon/ingestor.h"
#include "daemon/telemetry.h"
#include "daemon/writer.h"

namespace portrait::daemon {

class Scheduler {
 public:
  static constexpr int kTimersPerCommit = 1000;
  static constexpr int kRearmPerJob = 5000;
  static constexpr int kBackfillPerJob = 1000;
  static constexpr int kReevaluatePerJob = 2000;
  static constexpr int kRebuildPerJob = 1000;

  static constexpr std::chrono::hours kPurgeEvery{24};
  // Rows a retention round deletes per rule in one writer job: a backlog (750,000 expired
  // events at 1,000,000 customers) must not hold the writer, or the start, for minutes.
  static constexpr int64_t kPurgePerCommit = 5000;

  // All references must outlive the scheduler. With `rearm_first`, every profile's timers are
  // re-armed (RequestRearm) before the first sweep.
  Scheduler(Writer& writer, Ingestor& ingestor, KeptMarks& kept, const RulesHolder& rules,
            const config::ConfigHolder& config, store::Store& store, const Clock& clock,
            Telemetry& telemetry, spdlog::logger& log, bool rearm_first,
            std::chrono::milliseconds period = std::chrono::seconds(1));
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;

  void Stop();
  // Re-arms every profile's timers for the rules now in force, soon, on the scheduler thread
  // (and re-evaluates every profile if the rules deciding the portrait changed).
  void RequestRearm();
  // Checks at once whether the base needs a re-evaluation, and runs it: after a score refresh or
  // a model fit committed a request (AddReevaluationRequest) with its values. The request is
  // durable in the store, so a failed start is retried at the next wake and a restart runs it.
  void RequestReevaluation();

 private:
  void Loop();
  void Sweep();
  void RearmAll();
  // Backfills the anchors if they are incomplete (among several nodes, those of the partitions
  // held: BackfillPartitions); false when they still are (stopped, failed).
  bool CompleteAnchors();
  // One backfill pass over every profile, then the mark recording `fields`; false when it
  // stopped or failed.
  bool BackfillAnchors(const std::string& fields);
  // Rebuilds the kept values not marked complete for the rules in force, if any; false when
  // some still are not (stopped, failed). CompleteKept catches what RebuildUnmarked throws.
  bool CompleteKept();
  bool RebuildUnmarked();
  // One rebuild pass of `targets` over every profile while the rules taken at `generation` are in
  // force (else it stops and sets `stale`); false when it stopped or failed.
  bool RebuildKept(const KeptTargets& targets, uint64_t generation, RebuildCounts& counts,
                   bool& stale);
  // Adds what a rebuild job did to `counts`, naming each damaged profile in a log line.
  void CountRebuilt(const Ingestor::RebuildStep& step, RebuildCounts& counts);
  // Sweeps the due timers when a period has passed since `last` (a long pass holds none back).
  void SweepEvery(std::chrono::steady_clock::time_point& last);
  void PurgeExpired();
  // The base-wide re-evaluation, if needed; false when it stopped or failed.
  bool ReevaluateAll();
  // Runs the pass that `start` begins; false when it stopped or failed.
  bool RunReevaluation(const ReevaluationStart& start);
  bool Stopping();

  // Among several nodes (scheduler_partitions.cc): the partitions' passes, when the partitions
  // held or the targets changed since the last complete round; false when one failed or stopped
  // (tried again at the next wake).
  bool PassPartitions();
  // The kept values' marks of the partitions held in a tenure not vetted yet, or of every one
  // held when a peer's reload wrote partitions' marks since the last vetting (`moved`, the
  // value of kKeptMovedKey): KeptMarks::Vet.
  bool VetTakenPartitions(const std::vector<store::HeldPartition>& held, const std::string& moved);
  bool BackfillPartitions();
  bool RearmPartitions(const std::vector<store::HeldPartition>& held);
  // What passing partitions one by one did (PassEach).
  struct PartitionsPassed {
    int64_t changed = 0;
    int passed = 0;
    bool all = true;       // every one was passed and marked
    bool stopped = false;  // Stop() cut it off
  };
  using PartitionStep =
      std::function<Result<RearmProgress>(const store::HeldPartition&, store::ProfileId after)>;
  using PartitionMark = std::function<Status(const store::HeldPartition&, int64_t changed)>;
  // Passes each of `pending` in writer jobs of `step` (the range after `after` of its profiles,
  // from 0 until one returns last 0), then marks it with `mark`; before each job it checks that
  // the partition is still held (else its next holder passes it). `what` names the pass in a
  // failure's log line ("re-arming").
  PartitionsPassed PassEach(const std::vector<store::HeldPartition>& pending, std::string_view what,
                            const PartitionStep& step, const PartitionMark& mark);
  // The rebuild of kept values, per partition held; `marked` is set when one was marked.
  bool RebuildPartitions(const std::vector<store::HeldPartition>& held, bool& marked);
  bool ReevaluatePartitions(const std::vector<store::HeldPartition>& held);
  // One partition's re-evaluation for `fingerprint`; false when it failed or stopped.
  bool ReevaluatePartition(const store::HeldPartition& p, const std::string& fingerprint,
                           ReevaluationProgress& total,
                           std::chrono::steady_clock::time_point& last_sweep);
  // What the partitions' passes were last completed for.
  struct Passed {
    std::vector<store::HeldPartition> held;
    std::string anchored;   // the config's date fields
    std::string armed;      // the re-arm's target
    uint64_t kept = 0;      // the rules put in force (KeptMarks::generation)
    std::string moved;      // kKeptMovedKey: a reload's writes to the partitions' kept marks
    std::string evaluated;  // the re-evaluation's
    bool operator==(const Passed&) const = default;
  };

  Writer& writer_;
  Ingestor& ingestor_;
  KeptMarks& kept_;
  const RulesHolder& rules_;
  const config::ConfigHolder& config_;
  store::Store& store_;
  const Clock& clock_;
  Telemetry& telemetry_;
  spdlog::logger& log_;
  const std::chrono::milliseconds period_;
  Mutex mu_;
  CondVar wake_;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool rearm_ GUARDED_BY(mu_) = false;
  bool reevaluate_ GUARDED_BY(mu_) = true;               // at start: check the fingerprint
  bool rebuild_ GUARDED_BY(mu_) = true;                  // at start: check the kept marks
  bool reevaluation_requested_ GUARDED_BY(mu_) = false;  // wakes the loop, unlike reevaluate_
  std::chrono::steady_clock::time_point next_purge_;     // the epoch: at the first sweep
  const bool several_;                        // among several nodes: the partitions' passes
  std::optional<Passed> passed_;              // the scheduler thread's
  std::vector<store::HeldPartition> vetted_;  // the scheduler thread's: KeptMarks::Vet done,
  std::string vetted_moved_;                  // when kKeptMovedKey held this
  ActivityLog activity_;  // the aggregate info line, once a minute when anything changed
  std::thread thread_;    // last: starts once the members above exist
};

}  // namespace portrait::daemon
