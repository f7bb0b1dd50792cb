#include "daemon/scheduler.h"

#include <utility>

#include "daemon/retention.h"

namespace portrait::daemon {

Scheduler::Scheduler(Writer& writer, Ingestor& ingestor, const config::ConfigHolder& config,
                     store::Store& store, const Clock& clock, Telemetry& telemetry,
                     spdlog::logger& log, bool rearm_first, std::chrono::milliseconds period)
    : writer_(writer),
      ingestor_(ingestor),
      config_(config),
      store_(store),
      clock_(clock),
      telemetry_(telemetry),
      log_(log),
      period_(period),
      rearm_(rearm_first),
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

void Scheduler::Loop() {
  (void)CompleteAnchors();
  while (true) {
    bool rearm = false;
    {
      MutexLock lock(mu_);
      rearm = std::exchange(rearm_, false);
    }
    if (rearm) {
      RearmAll();
    }
    Sweep();
    if (std::chrono::steady_clock::now() >= next_purge_) {
      PurgeExpired();
      next_purge_ = std::chrono::steady_clock::now() + kPurgeEvery;
    }
    const auto until = std::chrono::steady_clock::now() + period_;
    MutexLock lock(mu_);
    while (!stopping_ && !rearm_ && wake_.WaitUntil(mu_, until)) {
    }
    if (stopping_) {
      return;
    }
  }
}

bool Scheduler::CompleteAnchors() {
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
    if (std::chrono::steady_clock::now() - last_sweep >= period_) {
      Sweep();  // a long backfill holds no timer back
      last_sweep = std::chrono::steady_clock::now();
    }
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

void Scheduler::RearmAll() {
  if (!CompleteAnchors()) {
    return;  // the rules stay unarmed: the next start tries again
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

void Scheduler::PurgeExpired() {
  const int64_t now = clock_.NowUs();  // one cut-off for every round
  int64_t purged = 0;
  int rounds = 0;
  for (bool more = true; more; ++rounds) {
    Status s = writer_.Run([&]() -> Status {
      PORTRAIT_ASSIGN_OR_RETURN(RetentionRound round,
                                RunRetention(*config_.Get(), store_, now, kPurgePerCommit));
      if (round.purged > 0) {
        ingestor_.ForgetAll();  // what it holds may include purged fields
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
