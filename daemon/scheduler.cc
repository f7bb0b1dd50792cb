#include "daemon/scheduler.h"

#include <typeinfo>
#include <utility>

#include "daemon/check_pipeline.h"
#include "daemon/retention.h"

namespace portrait::daemon {

Scheduler::Scheduler(Writer& writer, Ingestor& ingestor, KeptMarks& kept, const RulesHolder& rules,
                     const config::ConfigHolder& config, store::Store& store, const Clock& clock,
                     Telemetry& telemetry, spdlog::logger& log, bool rearm_first,
                     std::chrono::milliseconds period)
    : writer_(writer),
      ingestor_(ingestor),
      kept_(kept),
      rules_(rules),
      config_(config),
      store_(store),
      clock_(clock),
      telemetry_(telemetry),
      log_(log),
      period_(period),
      rearm_(rearm_first),
      several_(store.HeldPartitions().has_value()),
      activity_(telemetry, log, std::chrono::seconds(60)),
      thread_([this] { Loop(); }) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.SignalAll();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Scheduler::RequestRearm() {
  {
    MutexLock lock(mu_);
    rearm_ = true;
  }
  wake_.SignalAll();
}

void Scheduler::RequestReevaluation() {
  {
    MutexLock lock(mu_);
    reevaluation_requested_ = true;
  }
  wake_.SignalAll();
}

bool Scheduler::Stopping() {
  MutexLock lock(mu_);
  return stopping_;
}

void Scheduler::Loop() {
  const auto start = std::chrono::steady_clock::now();
  bool started = false;  // the start's passes are done (logged once)
  (void)CompleteAnchors();
  while (true) {
    bool rearm = false;
    bool reevaluate = false;
    bool rebuild = false;
    {
      MutexLock lock(mu_);
      rearm = std::exchange(rearm_, false);
      rebuild = std::exchange(rebuild_, false) || rearm;
      const bool requested = std::exchange(reevaluation_requested_, false);
      reevaluate = std::exchange(reevaluate_, false) || rearm || requested;
    }
    if (rearm && !several_) {
      RearmAll();
    }
    // Among several nodes the rebuild goes per partition held (PassPartitions).
    if (rebuild && !several_ && !CompleteKept() && !Stopping()) {
      MutexLock lock(mu_);
      rebuild_ = true;  // tried again at the next wake
    }
    if (several_) {
      // Every wake: the partitions held, or the targets, may have changed (a peer died, a peer's
      // refresh asked for a pass); a no-op when neither did.
      if (!PassPartitions() && !Stopping()) {
        passed_.reset();
      }
    } else if (reevaluate && !ReevaluateAll() && !Stopping()) {
      MutexLock lock(mu_);
      reevaluate_ = true;  // tried again at the next wake
    }
    if (!started && !Stopping()) {
      {
        MutexLock lock(mu_);
        started = !rearm_ && !rebuild_ && !reevaluate_ && (!several_ || passed_.has_value());
      }
      if (started) {
        const std::chrono::duration<double, std::milli> took =
            std::chrono::steady_clock::now() - start;
        log_.info(
            "the start's passes are done: the re-arm, the rebuild and the re-evaluation, each "
            "as needed; a failure is logged apart ({} ms)",
            static_cast<int64_t>(took.count()));
      }
    }
    Sweep();
    activity_.Tick(std::chrono::steady_clock::now());
    if (std::chrono::steady_clock::now() >= next_purge_) {
      PurgeExpired();
      next_purge_ = std::chrono::steady_clock::now() + kPurgeEvery;
    }
    const auto until = std::chrono::steady_clock::now() + period_;
    MutexLock lock(mu_);
    while (!stopping_ && !rearm_ && !reevaluation_requested_ && wake_.WaitUntil(mu_, until)) {
    }
    if (stopping_) {
      return;
    }
  }
}

bool Scheduler::CompleteAnchors() {
  if (several_) {
    return BackfillPartitions();
  }
  // A reload during a pass can change the date fields: the pass then records the ones it began
  // with, the mark differs from the config, and another pass runs.
  for (int pass = 0;; ++pass) {
    Result<bool> complete = ingestor_.AnchorsComplete();
    if (complete && *complete) {
      return true;
    }
    if (!complete && pass > 0) {
      log_.error("could not read the anchors' mark: {}", complete.error().ToString());
      return false;
    }
    if (!BackfillAnchors(ingestor_.AnchoredFieldsNow())) {
      return false;
    }
  }
}

bool Scheduler::BackfillAnchors(const std::string& fields) {
  if (Status s = writer_.Run([&] { return ingestor_.BeginBackfill(fields); }); !s.ok()) {
    log_.error("could not begin the anchors' backfill: {}", s.ToString());
    return false;
  }
  const auto start = std::chrono::steady_clock::now();
  auto last_sweep = start;
  RearmProgress progress;
  while (true) {
    Status s = writer_.Run([&]() -> Status {
      PORTRAIT_ASSIGN_OR_RETURN(RearmProgress step,
                                ingestor_.BackfillAnchors(progress.last, kBackfillPerJob));
      progress.changed += step.changed;
      progress.last = step.last;
      return Status::Ok();
    });
    if (!s.ok()) {
      if (s.code() != Status::Code::kUnavailable) {
        log_.error("backfilling anchors failed after profile {}: {}", progress.last, s.ToString());
      }
      return false;
    }
    if (progress.last == 0) {
      break;
    }
    {
      MutexLock lock(mu_);
      if (stopping_) {
        return false;
      }
    }
    SweepEvery(last_sweep);
  }
  if (Status s =
          writer_.Run([&] { return ingestor_.MarkAnchorsComplete(progress.changed, fields); });
      !s.ok()) {
    log_.error("could not record the backfilled anchors: {}", s.ToString());
    return false;
  }
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
  if (progress.changed > 0) {
    log_.info("anniversary anchors backfilled: {} changed ({} ms)", progress.changed,
              static_cast<int64_t>(took.count()));
  }
  return true;
}

void Scheduler::SweepEvery(std::chrono::steady_clock::time_point& last) {
  if (std::chrono::steady_clock::now() - last >= period_) {
    Sweep();
    last = std::chrono::steady_clock::now();
  }
}

bool Scheduler::CompleteKept() {
  try {
    return RebuildUnmarked();
  } catch (const std::exception& e) {  // off the writer, nothing guards it: out of memory, say
    log_.error("the rebuild of values kept from events stopped: {}; it is tried again",
               typeid(e).name());
    return false;
  }
}

bool Scheduler::RebuildUnmarked() {
  // A reload during a pass puts other rules in force: the pass stops at its next job, unmarked,
  // and the values those rules leave unmarked are rebuilt.
  while (true) {
    const uint64_t generation = kept_.generation();
    Result<KeptTargets> targets = kept_.Incomplete(rules_.Get()->set);
    if (!targets) {
      log_.error("could not read the kept values' marks: {}", targets.error().ToString());
      return false;
    }
    if (targets->empty()) {
      return true;
    }
    const auto start = std::chrono::steady_clock::now();
    RebuildCounts counts;
    bool stale = false;
    if (!RebuildKept(*targets, generation, counts, stale)) {
      return false;
    }
    if (stale) {
      continue;
    }
    Result<bool> marked = false;
    if (Status s = writer_.Run([&]() -> Status {
          marked = kept_.MarkRebuilt(*targets, generation, counts,
                                     targets->ReadByPortrait(rules_.Get()->set), clock_.NowUs());
          return marked ? Status::Ok() : marked.error();
        });
        !s.ok()) {
      log_.error("could not record the rebuilt values: {}", s.ToString());
      return false;
    }
    if (*marked) {
      const std::chrono::duration<double, std::milli> took =
          std::chrono::steady_clock::now() - start;
      log_.info(
          "values kept from events rebuilt: {} metrics, {} models, {} profiles read, {} "
          "changed, {} damaged profiles and {} events left out ({} ms)",
          targets->metrics.size(), targets->models.size(), counts.profiles, counts.changed,
          counts.unreadable_profiles, counts.unreadable_events, static_cast<int64_t>(took.count()));
      MutexLock lock(mu_);
      reevaluate_ = true;  // the rebuilt values may move tags, stages and segments
    }
  }
}

bool Scheduler::RebuildKept(const KeptTargets& targets, uint64_t generation, RebuildCounts& counts,
                            bool& stale) {
  auto last_sweep = std::chrono::steady_clock::now();
  store::ProfileId after = 0;
  while (true) {
    Status s = writer_.Run([&]() -> Status {
      // On the writer, where rules come into force (KeptMarks::Replace): no job of a pass runs
      // under rules other than those it began with.
      if (kept_.generation() != generation) {
        stale = true;
        return Status::Ok();
      }
      PORTRAIT_ASSIGN_OR_RETURN(Ingestor::RebuildStep step,
                                ingestor_.RebuildKept(targets, after, kRebuildPerJob));
      CountRebuilt(step, counts);
      after = step.last;
      return Status::Ok();
    });
    if (!s.ok()) {
      if (s.code() != Status::Code::kUnavailable) {
        log_.error("rebuilding values kept from events failed after profile {}: {}", after,
                   s.ToString());
      }
      return false;
    }
    if (stale || after == 0) {
      return true;
    }
    if (Stopping()) {
      return false;
    }
    SweepEvery(last_sweep);
  }
}

void Scheduler::CountRebuilt(const Ingestor::RebuildStep& step, RebuildCounts& counts) {
  counts.profiles += step.counts.profiles;
  counts.changed += step.counts.changed;
  counts.unreadable_profiles += step.counts.unreadable_profiles;
  counts.unreadable_events += step.counts.unreadable_events;
  for (store::ProfileId id : step.damaged) {
    log_.warn(
        "profile {} is damaged: its values kept from events were rebuilt without what did not "
        "open (or not at all)",
        id);
  }
}

void Scheduler::RearmAll() {
  if (!CompleteAnchors()) {
    return;  // the rules stay unarmed: the next start tries again
  }
  if (Status s = writer_.Run([&] { return ingestor_.BeginRearm(); }); !s.ok()) {
    log_.error("could not begin the re-arm: {}", s.ToString());
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  RearmProgress progress;
  while (true) {
    Status s = writer_.Run([&]() -> Status {
      PORTRAIT_ASSIGN_OR_RETURN(RearmProgress step,
                                ingestor_.RearmProfiles(progress.last, kRearmPerJob));
      progress.changed += step.changed;
      progress.last = step.last;
      return Status::Ok();
    });
    if (!s.ok()) {
      if (s.code() != Status::Code::kUnavailable) {
        log_.error("re-arming timers failed after profile {}: {}", progress.last, s.ToString());
      }
      return;
    }
    if (progress.last == 0) {
      break;
    }
    MutexLock lock(mu_);
    if (stopping_) {
      return;
    }
  }
  if (Status s = writer_.Run([&] { return ingestor_.MarkRulesArmed(progress.changed); }); !s.ok()) {
    log_.error("could not record the re-armed rules: {}", s.ToString());
  }
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
  log_.info("timers re-armed for the rules and time zone in force: {} changed ({} ms)",
            progress.changed, static_cast<int64_t>(took.count()));
}

bool Scheduler::ReevaluateAll() {
  ReevaluationStart start;
  Status s = writer_.Run([&]() -> Status {
    PORTRAIT_ASSIGN_OR_RETURN(start, ingestor_.BeginReevaluation());
    return Status::Ok();
  });
  if (!s.ok()) {
    if (s.code() != Status::Code::kUnavailable) {
      log_.error("could not begin the re-evaluation: {}", s.ToString());
    }
    return false;
  }
  try {
    return !start.needed || RunReevaluation(start);
  } catch (const std::exception& e) {  // off the writer, nothing guards it: out of memory, say
    log_.error("the re-evaluation stopped: {}; it is tried again", typeid(e).name());
    return false;
  }
}

bool Scheduler::RunReevaluation(const ReevaluationStart& start) {
  const auto began = std::chrono::steady_clock::now();
  auto last_sweep = began;
  ReevaluationProgress total;
  total.last = start.after;
  // Two ranges are read and checked while the writer re-evaluates what the one before them
  // found changed.
  CheckPipeline checks(
      [this, &start](store::ProfileId after) {
        return ingestor_.ReadForCheck(after, kReevaluatePerJob, std::nullopt, start.scope);
      },
      [this](const CheckInputs& read) { return ingestor_.Check(read); }, total.last);
  constexpr int kMarkEvery = 25;
  int unmarked = 0;  // ranges checked since the progress was last recorded
  while (true) {
    Result<ReevaluationCheck> checked = checks.Next();
    Status s = checked ? Status::Ok() : checked.error();
    const ReevaluationCheck check = checked ? std::move(*checked) : ReevaluationCheck{};
    // The progress is recorded with the ranges that changed something or made digests, and at
    // least every kMarkEvery ranges: a retry after a failure, or a restart, re-checks no more
    // than that.
    if (s.ok() && check.last != 0 &&
        (!check.changed.empty() || !check.digests.empty() || ++unmarked >= kMarkEvery)) {
      unmarked = 0;
      s = writer_.Run([&]() -> Status {
        PORTRAIT_ASSIGN_OR_RETURN(ReevaluationProgress step,
                                  ingestor_.ReevaluateProfiles(check, start.pass));
        total.profiles += step.profiles;
        total.tasks += step.tasks;
        total.index_changes += step.index_changes;
        total.damaged += step.damaged;
        return Status::Ok();
      });
    }
    if (!s.ok()) {
      if (s.code() != Status::Code::kUnavailable) {
        log_.error("re-evaluation failed after profile {}: {}", total.last, s.ToString());
      }
      return false;
    }
    total.checked += check.checked;
    total.last = check.last;
    if (total.last == 0) {
      break;
    }
    if (Stopping()) {
      return false;
    }
    SweepEvery(last_sweep);
  }
  if (Status s = writer_.Run([&] { return ingestor_.MarkReevaluated(start, total); }); !s.ok()) {
    log_.error("could not record the re-evaluation: {}", s.ToString());
    return false;
  }
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - began;
  log_.info(
      "profiles re-evaluated for the rules in force: {} profiles checked{}, {} re-evaluated, {} "
      "tasks, {} index rows changed, {} damaged profiles left out ({} ms)",
      total.checked,
      start.scope == rules::PassScope::kSegments ? " (their segments alone: only they changed)"
                                                 : "",
      total.profiles, total.tasks, total.index_changes, total.damaged,
      static_cast<int64_t>(took.count()));
  return true;
}

void Scheduler::PurgeExpired() {
  const int64_t now = clock_.NowUs();  // one cut-off for every round
  int64_t purged = 0;
  int rounds = 0;
  for (bool more = true; more; ++rounds) {
    Status s = writer_.Run([&]() -> Status {
      PORTRAIT_ASSIGN_OR_RETURN(RetentionRound round,
                                RunRetention(*config_.Get(), store_, now, kPurgePerCommit));
      if (round.purged > 0) {
        // What it holds may include purged fields. (A purged field that changes a segment or
        // a tag shows at the profile's daily re-evaluation.)
        ingestor_.ForgetAll();
      }
      purged += round.purged;
      more = round.more;
      return Status::Ok();
    });
    if (!s.ok()) {
      if (s.code() != Status::Code::kUnavailable) {
        log_.error("retention purge failed (retried in {} h): {}", kPurgeEvery.count(),
                   s.ToString());
      }
      return;
    }
    MutexLock lock(mu_);
    if (stopping_) {
      break;
    }
  }
  if (purged > 0) {
    log_.info("retention: purged {} events and field values in {} rounds", purged, rounds);
  }
}

void Scheduler::Sweep() {
  while (true) {
    TimerSweep sweep;
    Status s = writer_.Run([&]() -> Status {
      PORTRAIT_ASSIGN_OR_RETURN(sweep, ingestor_.FireDueTimers(kTimersPerCommit));
      return Status::Ok();
    });
    if (!s.ok()) {
      if (s.code() != Status::Code::kUnavailable) {
        log_.error("timer sweep failed: {}", s.ToString());
      }
      return;
    }
    telemetry_.timers_fired.Add(sweep.timers);
    if (sweep.timers > 0) {
      log_.info("timers: {} due, {} fired a task", sweep.timers, sweep.fired);
    }
    if (sweep.timers < kTimersPerCommit) {
      return;
    }
    MutexLock lock(mu_);
    if (stopping_) {
      return;
    }
  }
}

}  // namespace portrait::daemon
