// Scheduler: the anchors' backfill, the re-arm, the rebuild of kept values and the re-evaluation
// among several nodes, over the partitions this node holds, one at a time, each marked once
// passed within one tenure (docs/DECISIONS.md 173, 176, 177).
#include <algorithm>
#include <typeinfo>

#include "daemon/pass_marks.h"
#include "daemon/scheduler.h"

namespace portrait::daemon {

bool Scheduler::PassPartitions() {
  std::optional<std::vector<store::HeldPartition>> held = store_.HeldPartitions();
  if (!held) {
    return true;
  }
  Result<std::string> evaluated = ingestor_.EvaluationTarget(rules_.Get()->set);
  if (!evaluated) {
    log_.error("could not read the re-evaluation's target: {}", evaluated.error().ToString());
    return false;
  }
  Result<std::optional<std::string>> moved = store_.GetMeta(kKeptMovedKey);
  if (!moved) {
    log_.error("could not read the kept values' marks: {}", moved.error().ToString());
    return false;
  }
  Passed now{*held,
             ingestor_.AnchoredFieldsNow(),
             ingestor_.ArmingTarget(),
             kept_.generation(),
             moved->value_or(""),
             *evaluated};
  if (passed_ && *passed_ == now) {
    return true;
  }
  if (!VetTakenPartitions(*held, now.moved) || !CompleteAnchors() || Stopping() ||
      !RearmPartitions(*held) || Stopping()) {
    return false;
  }
  bool rebuilt_all = false;
  bool marked = false;
  try {
    rebuilt_all = RebuildPartitions(*held, marked);
  } catch (const std::exception& e) {  // off the writer, nothing guards it: out of memory, say
    log_.error("the rebuild of values kept from events stopped: {}; it is tried again",
               typeid(e).name());
  }
  if (Stopping()) {
    return false;
  }
  // A rebuild that failed is tried again at the next wake; the re-evaluation goes on meanwhile.
  if (marked) {  // a rebuild the portrait reads moves the re-evaluation's target
    evaluated = ingestor_.EvaluationTarget(rules_.Get()->set);
    if (!evaluated) {
      log_.error("could not read the re-evaluation's target: {}", evaluated.error().ToString());
      return false;
    }
    now.evaluated = *evaluated;
  }
  bool evaluated_all = false;
  try {
    evaluated_all = ReevaluatePartitions(*held);
  } catch (const std::exception& e) {  // off the writer, nothing guards it: out of memory, say
    log_.error("the re-evaluation stopped: {}; it is tried again", typeid(e).name());
  }
  if (!evaluated_all || !rebuilt_all) {
    return false;
  }
  passed_ = std::move(now);
  return true;
}

bool Scheduler::VetTakenPartitions(const std::vector<store::HeldPartition>& held,
                                   const std::string& moved) {
  std::vector<int> taken;
  for (const store::HeldPartition& p : held) {
    if (moved != vetted_moved_ || std::find(vetted_.begin(), vetted_.end(), p) == vetted_.end()) {
      taken.push_back(p.part);
    }
  }
  if (!taken.empty()) {
    // On the writer, where rules come into force: the marks follow the rules in force.
    if (Status s = writer_.Run([&] { return kept_.Vet(rules_.Get()->set, taken); }); !s.ok()) {
      log_.error("could not check the kept values' marks of the partitions taken: {}",
                 s.ToString());
      return false;
    }
  }
  vetted_ = held;
  vetted_moved_ = moved;
  return true;
}

bool Scheduler::BackfillPartitions() {
  std::optional<std::vector<store::HeldPartition>> held = store_.HeldPartitions();
  if (!held) {
    return true;
  }
  const std::string fields = ingestor_.AnchoredFieldsNow();
  Result<std::vector<store::HeldPartition>> pending = ingestor_.UnanchoredPartitions(fields, *held);
  if (!pending) {
    log_.error("could not read the partitions' anchors marks: {}", pending.error().ToString());
    return false;
  }
  if (pending->empty()) {
    return true;
  }
  if (Status s = writer_.Run([&] { return ingestor_.BeginBackfill(fields); }); !s.ok()) {
    log_.error("could not begin the anchors' backfill: {}", s.ToString());
    return false;
  }
  const auto start = std::chrono::steady_clock::now();
  const PartitionsPassed done = PassEach(
      *pending, "backfilling the anchors of",
      [&](const store::HeldPartition& p, store::ProfileId after) {
        return ingestor_.BackfillAnchors(after, kBackfillPerJob, p.part);
      },
      [&](const store::HeldPartition& p, int64_t changed) {
        return ingestor_.MarkPartitionAnchored(p, fields, changed);
      });
  if (done.stopped) {
    return false;
  }
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
  log_.info("anniversary anchors backfilled in {} of {} partitions: {} changed ({} ms)",
            done.passed, pending->size(), done.changed, static_cast<int64_t>(took.count()));
  // A reload meanwhile may have changed the date fields: the marks name the ones it began with.
  Result<bool> complete = ingestor_.AnchorsComplete();
  return done.all && complete && *complete;
}

bool Scheduler::RearmPartitions(const std::vector<store::HeldPartition>& held) {
  const std::string target = ingestor_.ArmingTarget();
  Result<std::vector<store::HeldPartition>> pending = ingestor_.UnarmedPartitions(target, held);
  if (!pending) {
    log_.error("could not read the partitions' re-arm marks: {}", pending.error().ToString());
    return false;
  }
  if (pending->empty()) {
    return true;
  }
  if (!CompleteAnchors()) {
    return false;  // the re-arm reads the anchors
  }
  if (Status s = writer_.Run([&] { return ingestor_.BeginPartitionRearm(); }); !s.ok()) {
    log_.error("could not begin the re-arm: {}", s.ToString());
    return false;
  }
  const auto start = std::chrono::steady_clock::now();
  const PartitionsPassed done = PassEach(
      *pending, "re-arming",
      [&](const store::HeldPartition& p, store::ProfileId after) {
        return ingestor_.RearmProfiles(after, kRearmPerJob, p.part);
      },
      [&](const store::HeldPartition& p, int64_t changed) {
        return ingestor_.MarkPartitionArmed(p, target, changed);
      });
  if (done.stopped) {
    return false;
  }
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
  log_.info(
      "timers re-armed for the rules and time zone in force in {} of {} partitions: {} changed "
      "({} ms)",
      done.passed, pending->size(), done.changed, static_cast<int64_t>(took.count()));
  return done.all;
}

Scheduler::PartitionsPassed Scheduler::PassEach(const std::vector<store::HeldPartition>& pending,
                                                std::string_view what, const PartitionStep& step,
                                                const PartitionMark& mark) {
  PartitionsPassed done;
  auto last_sweep = std::chrono::steady_clock::now();
  for (const store::HeldPartition& p : pending) {
    RearmProgress progress;
    Status s;
    do {
      if (Stopping()) {
        done.stopped = true;
        return done;
      }
      if (!StillHeld(store_.HeldPartitions(), p)) {
        s = Status::Unavailable("given up");  // its next holder passes it
        break;
      }
      s = writer_.Run([&]() -> Status {
        PORTRAIT_ASSIGN_OR_RETURN(RearmProgress next, step(p, progress.last));
        progress.changed += next.changed;
        progress.last = next.last;
        return Status::Ok();
      });
      SweepEvery(last_sweep);
    } while (s.ok() && progress.last != 0);
    if (s.ok()) {
      s = writer_.Run([&] { return mark(p, progress.changed); });
    }
    if (!s.ok()) {
      done.all = false;
      if (s.code() != Status::Code::kUnavailable) {
        log_.error("{} partition {} failed after profile {}: {}", what, p.part, progress.last,
                   s.ToString());
      }
      continue;
    }
    done.changed += progress.changed;
    ++done.passed;
  }
  return done;
}

bool Scheduler::RebuildPartitions(const std::vector<store::HeldPartition>& held, bool& marked) {
  // Taken before the rules: a reload in between is seen by the first job (as RebuildUnmarked).
  const uint64_t generation = kept_.generation();
  const std::shared_ptr<const LoadedRules> rules = rules_.Get();
  const auto start = std::chrono::steady_clock::now();
  auto last_sweep = start;
  RebuildCounts total;
  size_t pending = 0;
  int passed = 0;
  bool all = true;
  for (const store::HeldPartition& p : held) {
    Result<KeptTargets> targets = kept_.Incomplete(rules->set, p.part);
    if (!targets) {
      log_.error("could not read the kept values' marks: {}", targets.error().ToString());
      return false;
    }
    if (targets->empty()) {
      continue;
    }
    ++pending;
    RebuildCounts counts;
    store::ProfileId after = 0;
    bool stale = false;
    Status s;
    do {
      if (Stopping()) {
        return false;
      }
      if (!StillHeld(store_.HeldPartitions(), p)) {
        s = Status::Unavailable("given up");  // its next holder rebuilds it
        break;
      }
      s = writer_.Run([&]() -> Status {
        // On the writer, where rules come into force (KeptMarks::Replace): no job of a pass
        // runs under rules other than those it began with.
        if (kept_.generation() != generation) {
          stale = true;
          return Status::Ok();
        }
        PORTRAIT_ASSIGN_OR_RETURN(Ingestor::RebuildStep step,
                                  ingestor_.RebuildKept(*targets, after, kRebuildPerJob, p.part));
        CountRebuilt(step, counts);
        after = step.last;
        return Status::Ok();
      });
      SweepEvery(last_sweep);
    } while (s.ok() && !stale && after != 0);
    if (stale) {
      return false;  // other rules are in force: the next wake rebuilds for them
    }
    Result<bool> done = false;
    if (s.ok()) {
      s = writer_.Run([&]() -> Status {
        done = kept_.MarkRebuiltIn(p, *targets, generation, counts,
                                   targets->ReadByPortrait(rules->set), clock_.NowUs());
        return done ? Status::Ok() : done.error();
      });
    }
    if (!s.ok()) {
      all = false;
      if (s.code() != Status::Code::kUnavailable) {
        log_.error("rebuilding the kept values of partition {} failed after profile {}: {}", p.part,
                   after, s.ToString());
      }
      continue;
    }
    if (!*done) {
      return false;  // other rules came into force meanwhile
    }
    marked = true;
    ++passed;
    total.profiles += counts.profiles;
    total.changed += counts.changed;
    total.unreadable_profiles += counts.unreadable_profiles;
    total.unreadable_events += counts.unreadable_events;
  }
  if (pending > 0) {
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    log_.info(
        "values kept from events rebuilt in {} of {} partitions: {} profiles read, {} changed, "
        "{} damaged profiles and {} events left out ({} ms)",
        passed, pending, total.profiles, total.changed, total.unreadable_profiles,
        total.unreadable_events, static_cast<int64_t>(took.count()));
  }
  return all;
}

bool Scheduler::ReevaluatePartitions(const std::vector<store::HeldPartition>& held) {
  Ingestor::PartitionReevaluation begun;
  Status s = writer_.Run([&]() -> Status {
    PORTRAIT_ASSIGN_OR_RETURN(begun, ingestor_.BeginPartitionReevaluation(held));
    return Status::Ok();
  });
  if (!s.ok()) {
    if (s.code() != Status::Code::kUnavailable) {
      log_.error("could not begin the re-evaluation: {}", s.ToString());
    }
    return false;
  }
  if (begun.pending.empty()) {
    return true;
  }
  const auto began = std::chrono::steady_clock::now();
  auto last_sweep = began;
  ReevaluationProgress total;
  int passed = 0;
  bool all = true;
  for (const store::HeldPartition& p : begun.pending) {
    if (Stopping()) {
      return false;
    }
    if (ReevaluatePartition(p, begun.fingerprint, total, last_sweep)) {
      ++passed;
    } else {
      all = false;
    }
  }
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - began;
  log_.info(
      "profiles re-evaluated for the rules in force in {} of {} partitions: {} profiles "
      "checked, {} re-evaluated, {} tasks, {} index rows changed, {} damaged profiles left out "
      "({} ms)",
      passed, begun.pending.size(), total.checked, total.profiles, total.tasks, total.index_changes,
      total.damaged, static_cast<int64_t>(took.count()));
  return all;
}

bool Scheduler::ReevaluatePartition(const store::HeldPartition& p, const std::string& fingerprint,
                                    ReevaluationProgress& total,
                                    std::chrono::steady_clock::time_point& last_sweep) {
  ReevaluationProgress part;
  Status s;
  while (true) {
    if (Stopping()) {
      return false;
    }
    if (!StillHeld(store_.HeldPartitions(), p)) {
      return false;  // given up or lost: its next holder passes it
    }
    Result<CheckInputs> read = ingestor_.ReadForCheck(part.last, kReevaluatePerJob, p.part);
    if (!read) {
      s = read.error();
      break;
    }
    const ReevaluationCheck check = ingestor_.Check(*read);
    if (check.last == 0) {
      break;
    }
    if (!check.changed.empty()) {
      s = writer_.Run([&]() -> Status {
        PORTRAIT_ASSIGN_OR_RETURN(ReevaluationProgress step,
                                  ingestor_.ReevaluateProfiles(check, fingerprint, p.part));
        part.profiles += step.profiles;
        part.tasks += step.tasks;
        part.index_changes += step.index_changes;
        part.damaged += step.damaged;
        return Status::Ok();
      });
      if (!s.ok()) {
        break;
      }
    }
    part.checked += check.checked;
    part.last = check.last;
    SweepEvery(last_sweep);
  }
  if (s.ok()) {
    s = writer_.Run([&] { return ingestor_.MarkPartitionReevaluated(p, fingerprint, part); });
  }
  if (!s.ok()) {
    if (s.code() != Status::Code::kUnavailable) {
      log_.error("re-evaluating partition {} failed after profile {}: {}", p.part, part.last,
                 s.ToString());
    }
    return false;
  }
  total.checked += part.checked;
  total.profiles += part.profiles;
  total.tasks += part.tasks;
  total.index_changes += part.index_changes;
  total.damaged += part.damaged;
  return true;
}

}  // namespace portrait::daemon
