#include "daemon/dispatcher.h"

#include <sodium.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "base/time_format.h"
#include "daemon/ingest_group.h"
#include "daemon/task_audit.h"
#include "daemon/task_event.h"
#include "dispatch/backoff.h"
#include "store/erasure_notice.h"

namespace portrait::daemon {
namespace {

using dispatch::Outcome;
using nlohmann::json;

// The tasks claimed per round at most, beyond the sinks' free workers (some are deferred or
// suppressed rather than sent).
constexpr int kClaimSlack = 64;

using store::TaskState;

// The stored name of a task state.
std::string_view Name(TaskState s) { return store::TaskStateName(s); }

// Outcomes that wake the dispatcher to record them while the sinks still have work queued.
constexpr size_t kOutcomesPerRound = 64;

// A settled erasure notice keeps no sealed external id.
bool Settles(const store::TaskRow& task, std::string_view state) {
  return task.trigger == store::kErasureNotice && !store::IsUnfinished(state);
}

// For a customer who opted out of personalisation: the plain message instead.
void UsePlain(Attempt::Bodies& bodies) {
  bodies.body = std::exchange(bodies.plain, std::string());
  bodies.personalised = false;
}

}  // namespace

// A verdict on a claimed task, with what it sends (kSend).
struct Dispatcher::Verdict : SendVerdict {
  // Implicit: a verdict that sends nothing converts as it is.
  Verdict(SendVerdict v, Attempt::Bodies b = {})  // NOLINT(google-explicit-constructor)
      : SendVerdict(std::move(v)), bodies(std::move(b)) {}
  Attempt::Bodies bodies;
};

Dispatcher::Dispatcher(DispatcherDeps deps, std::chrono::milliseconds period)
    : d_(deps), period_(period) {
  OpenSinks();
  thread_ = std::thread([this] { Loop(); });
}

void Dispatcher::OpenSinks() {
  for (const config::Sink& sink : d_.config.Get()->sinks) {
    auto opened = dispatch::OpenSink(sink);
    if (!opened) {
      d_.log.error("{}; its tasks wait until it can be opened at a restart",
                   opened.error().message());
      continue;
    }
    auto check = [this](Attempt& a) { return Recheck(a); };
    auto done = [this](Attempt a, Outcome o, bool idle) {
      Finished(std::move(a), std::move(o), idle);
    };
    sinks_.emplace(sink.name, std::make_unique<SinkWorkers>(sink, std::move(*opened), d_.gate,
                                                            std::move(check), std::move(done)));
  }
}

Dispatcher::~Dispatcher() { Stop(); }

Status Dispatcher::RecoverInterrupted(const DispatcherDeps& d,
                                      const std::function<bool(store::ProfileId)>& only) {
  return d.writer.Run([&]() -> Status {
    int recovered = 0;
    store::TaskFilter sending;
    sending.state = Name(TaskState::kSending);
    sending.limit = 1000;
    sending.served_only = only != nullptr;
    while (true) {
      PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::TaskRow> tasks, d.store.ListTasks(sending));
      if (tasks.empty()) {
        break;
      }
      sending.after_id = tasks.back().id;
      const int64_t now = d.clock.NowUs();
      store::Batch batch;
      for (const store::TaskRow& t : tasks) {
        if (only && !only(t.profile_id)) {
          continue;
        }
        const std::string why =
            "the daemon stopped during attempt " + std::to_string(t.attempts) + "; retried";
        batch.task_updates.push_back(
            {t.id, std::string(Name(TaskState::kRetrying)), why, now, t.attempts, now});
        batch.audit.push_back(TaskAudit(t, Name(TaskState::kRetrying), why, now));
      }
      if (!batch.task_updates.empty()) {
        PORTRAIT_RETURN_IF_ERROR(d.audit.Commit(batch));
      }
      recovered += static_cast<int>(batch.task_updates.size());
    }
    if (recovered > 0) {
      d.log.warn("{} tasks were being sent when the daemon stopped; they are retried now",
                 recovered);
    }
    return Status::Ok();
  });
}

void Dispatcher::RecoverTaken() {
  if (d_.cluster == nullptr) {
    return;
  }
  if (auto taken = d_.cluster->TakenSinceLastCall()) {
    if (Status s = RecoverInterrupted(d_, *taken); !s.ok()) {
      d_.log.error("cannot retry the attempts a stopped node left: {}", s.message());
    }
  }
}

void Dispatcher::DropForeignOutcomes(Round& round) {
  if (d_.cluster == nullptr) {
    return;
  }
  std::erase_if(round.outcomes, [&](const std::pair<Attempt, Outcome>& o) {
    if (d_.cluster->Serves(o.first.task.profile_id)) {
      return false;
    }
    d_.log.warn(
        "task {}: its partition passed to another node during the attempt; that node "
        "sends it again",
        o.first.task.id);
    return true;
  });
}

void Dispatcher::Wake() {
  {
    MutexLock lock(mu_);
    woken_ = true;
  }
  wake_.SignalAll();
}

void Dispatcher::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_ && !thread_.joinable()) {
      return;
    }
    stopping_ = true;
  }
  wake_.SignalAll();
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool Dispatcher::Stopping() {
  MutexLock lock(mu_);
  return stopping_;
}

void Dispatcher::Loop() {
  while (!Stopping()) {
    const int64_t now = d_.clock.NowUs();
    RecoverTaken();
    Round round;
    round.outcomes = TakeOutcomes();
    DropForeignOutcomes(round);
    round.verdicts = Claim(now);
    for (Attempt& a : Record(std::move(round), now)) {
      d_.telemetry.sinks.For(a.task.sink).attempts.Add();
      sinks_.at(a.task.sink)->Submit(std::move(a));
    }
    const auto until = std::chrono::steady_clock::now() + period_;
    MutexLock lock(mu_);
    while (!stopping_ && !woken_ && wake_.WaitUntil(mu_, until)) {
    }
    woken_ = false;
  }
  Finish();
}

void Dispatcher::Finish() {
  Round last;
  for (auto& [name, workers] : sinks_) {
    for (Attempt& a : workers->Stop()) {
      last.unstarted.push_back(std::move(a));
    }
  }
  last.outcomes = TakeOutcomes();
  const size_t unstarted = last.unstarted.size();
  Record(std::move(last), d_.clock.NowUs());
  if (unstarted > 0) {
    d_.log.info("{} queued attempts were not started before the stop; they wait, unchanged",
                unstarted);
  }
}

std::vector<std::pair<Attempt, Outcome>> Dispatcher::TakeOutcomes() {
  std::vector<std::pair<Attempt, Outcome>> done;
  MutexLock lock(mu_);
  done.swap(outcomes_);
  return done;
}

std::vector<std::pair<store::TaskRow, Dispatcher::Verdict>> Dispatcher::Claim(int64_t now) {
  Claimed claimed;
  std::vector<std::pair<store::TaskRow, Verdict>> verdicts;
  // Sink by sink: one that is down (its workers busy) never hides another's due tasks.
  for (auto& [name, workers] : sinks_) {
    int room = workers->Room();
    if (room <= 0) {
      continue;
    }
    auto due = d_.store.DueTasks(name, now, room + kClaimSlack);
    if (!due) {
      d_.log.error("could not read the due tasks of sink {}: {}", name, due.error().ToString());
      continue;
    }
    for (store::TaskRow& task : *due) {
      if (room <= 0) {
        break;
      }
      Verdict v = Decide(task, now, claimed);
      if (v.kind == Verdict::Kind::kWait) {
        continue;
      }
      room -= v.kind == Verdict::Kind::kSend;
      verdicts.emplace_back(std::move(task), std::move(v));
    }
  }
  return verdicts;
}

std::vector<Attempt> Dispatcher::Record(Round round, int64_t now) {
  if (round.outcomes.empty() && round.verdicts.empty() && round.unstarted.empty()) {
    return {};
  }
  std::vector<Attempt> to_send;
  std::vector<std::pair<const Attempt*, std::string>> settled;  // attempt, its new state
  Status written = d_.writer.Run([&]() -> Status {
    store::Batch batch;
    PORTRAIT_RETURN_IF_ERROR(AddRound(round, now, batch, settled, to_send));
    if (batch.task_updates.empty()) {
      return Status::Ok();
    }
    PORTRAIT_RETURN_IF_ERROR(d_.audit.Commit(batch));
    return Status::Ok();
  });
  if (!written.ok()) {
    KeepOutcomes(std::move(round), written);
    return {};
  }
  for (const auto& [a, state] : settled) {
    CountSettled(*a, state, now);
  }
  return to_send;
}

Status Dispatcher::AddRound(const Round& round, int64_t now, store::Batch& batch,
                            std::vector<std::pair<const Attempt*, std::string>>& settled,
                            std::vector<Attempt>& to_send) {
  for (const auto& [a, outcome] : round.outcomes) {
    PORTRAIT_ASSIGN_OR_RETURN(std::string state, AddOutcome(a, outcome, now, batch));
    settled.emplace_back(&a, std::move(state));
  }
  for (const auto& [task, v] : round.verdicts) {
    PORTRAIT_RETURN_IF_ERROR(AddVerdict(task, v, now, batch, to_send));
  }
  for (const Attempt& a : round.unstarted) {
    PORTRAIT_RETURN_IF_ERROR(AddUnstarted(a, now, batch));
  }
  return Status::Ok();
}

void Dispatcher::KeepOutcomes(Round round, const Status& written) {
  // The outcomes wait for the next round (at a stop they stay `sending`, and the next start
  // retries them: at-least-once); what was due is claimed again.
  if (written.code() != Status::Code::kUnavailable) {
    d_.log.error("could not record {} outcomes and {} verdicts: {}", round.outcomes.size(),
                 round.verdicts.size(), written.ToString());
  }
  MutexLock lock(mu_);
  std::move(round.outcomes.begin(), round.outcomes.end(), std::back_inserter(outcomes_));
}

Status Dispatcher::AddVerdict(const store::TaskRow& task, const Verdict& v, int64_t now,
                              store::Batch& batch, std::vector<Attempt>& to_send) {
  // Still as claimed? A cancel, a consent withdrawal or an erasure may have come first.
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<store::TaskRow> current, d_.store.GetTask(task.id));
  if (!current || current->state != task.state || current->attempts != task.attempts) {
    return Status::Ok();
  }
  std::string action;
  const store::TaskUpdate u = VerdictUpdate(task, v, now, action);
  batch.task_updates.push_back(u);
  batch.audit.push_back(TaskAudit(task, action, u.reason, now));
  if (v.kind == Verdict::Kind::kSend) {
    Attempt a{task, task.state, v.bodies, now / 1'000'000, std::nullopt};
    a.task.state = u.state;
    a.task.attempts = u.attempts;
    to_send.push_back(std::move(a));
  }
  return Status::Ok();
}

store::TaskUpdate Dispatcher::VerdictUpdate(const store::TaskRow& task, const SendVerdict& v,
                                            int64_t now, std::string& action) {
  store::TaskUpdate u{task.id, task.state, v.reason, task.due_us, task.attempts, now};
  switch (v.kind) {
    case SendVerdict::Kind::kSend:
      u.state = action = Name(TaskState::kSending);
      u.attempts = task.attempts + 1;
      u.reason = "attempt " + std::to_string(u.attempts);
      break;
    case SendVerdict::Kind::kDefer:
      action = "deferred";
      u.due_us = v.until_us;
      break;
    case SendVerdict::Kind::kSuppress:
      u.state = action = Name(TaskState::kSuppressed);
      break;
    default:
      u.state = action = Name(TaskState::kCancelled);
      break;
  }
  u.clear_payload = Settles(task, u.state);
  return u;
}

Status Dispatcher::AddUnstarted(const Attempt& a, int64_t now, store::Batch& batch) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<store::TaskRow> current, d_.store.GetTask(a.task.id));
  if (!current || current->state != Name(TaskState::kSending)) {
    return Status::Ok();
  }
  const std::string why = "not attempted: the daemon stopped first";
  batch.task_updates.push_back(
      {a.task.id, a.claimed_from, why, a.task.due_us, a.task.attempts - 1, now});
  batch.audit.push_back(TaskAudit(a.task, a.claimed_from, why, now));
  return Status::Ok();
}

Dispatcher::Verdict Dispatcher::Decide(const store::TaskRow& task, int64_t now, Claimed& claimed) {
  if (task.trigger == store::kErasureNotice) {
    return DecideNotice(task, now);
  }
  auto row = d_.store.GetProfile(task.profile_id);
  if (!row) {
    return SendVerdict::Wait();
  }
  if (!*row) {
    return SendVerdict::Cancel("the profile was erased");
  }
  const std::shared_ptr<const config::Config> config = d_.config.Get();
  const config::Purpose* purpose = config->FindPurpose(task.purpose);
  Attempt::Bodies bodies;
  if (!purpose) {
    return CheckConsent(FactsOf(task, purpose, bodies, nullptr), now);  // suppressed
  }
  if (std::optional<SendVerdict> refused = OpenBodies(task, **row, now, bodies)) {
    return *refused;
  }
  auto ledger = d_.consents.Ledger(task.profile_id);
  if (ledger) {
    if (std::optional<SendVerdict> refused = ObjectionRefuses(task, *purpose, *ledger, now)) {
      return *refused;
    }
  }
  const std::string zone = (*row)->timezone.empty() ? config->daemon.timezone : (*row)->timezone;
  const SendVerdict verdict =
      DecideSend(FactsOf(task, purpose, bodies, ledger ? &*ledger : nullptr),
                 {zone, CountTowardsCap(task, *purpose, zone, now, claimed)}, now);
  if (verdict.kind != SendVerdict::Kind::kSend) {
    return verdict;
  }
  if (verdict.plain) {
    UsePlain(bodies);
  }
  ++claimed[{task.profile_id, task.purpose}];
  return Verdict(verdict, std::move(bodies));
}

Dispatcher::Verdict Dispatcher::DecideNotice(const store::TaskRow& task, int64_t now) const {
  auto subject = store::OpenErasureNotice(d_.keys, task);
  if (!subject) {
    return SendVerdict::Cancel("its sealed subject does not open (corrupt)");
  }
  Attempt::Bodies bodies;
  bodies.personalised = false;
  bodies.body = RenderErasureNotice(task, *subject, now);
  return Verdict(SendVerdict::Send(), std::move(bodies));
}

std::optional<SendVerdict> Dispatcher::OpenBodies(const store::TaskRow& task,
                                                  const store::ProfileRow& row, int64_t now,
                                                  Attempt::Bodies& bodies) {
  auto opened = d_.vault.OpenAddressed(row, store::TaskPayloadName(task.trigger), task.payload);
  if (!opened) {
    switch (opened.error().code()) {
      case Status::Code::kNotFound:
        return SendVerdict::Cancel("the profile was erased");
      case Status::Code::kCorruption:
        return SendVerdict::Cancel("its sealed payload does not open (corrupt)");
      default:
        return SendVerdict::Wait();
    }
  }
  const json payload = json::parse(opened->plaintext, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object()) {
    return SendVerdict::Cancel("its payload is not a JSON object (corrupt)");
  }
  bodies = RenderTaskBodies(task, opened->external_id, payload, now);
  return std::nullopt;
}

std::optional<SendVerdict> Dispatcher::ObjectionRefuses(
    const store::TaskRow& task, const config::Purpose& purpose,
    const std::vector<consent::ConsentRecord>& ledger, int64_t now) const {
  const std::shared_ptr<const LoadedRules> rules = d_.rules.Get();
  const rules::Trigger* trigger = rules->set.FindTrigger(task.trigger);
  const bool profiling = trigger ? trigger->profiling : purpose.marketing;
  if (!profiling || !Objected(ledger, now)) {
    return std::nullopt;
  }
  return SendVerdict::Cancel(
      "the customer objected to personalisation, and this trigger profiles them");
}

ConsentFacts Dispatcher::FactsOf(const store::TaskRow& task, const config::Purpose* purpose,
                                 const Attempt::Bodies& bodies,
                                 const std::vector<consent::ConsentRecord>* ledger) const {
  return ConsentFacts{task.purpose,
                      purpose,
                      &sinks_.at(task.sink)->config(),
                      task.channel,
                      bodies.sensitive,
                      bodies.personalised,
                      !bodies.plain.empty(),
                      ledger};
}

Result<int64_t> Dispatcher::CountTowardsCap(const store::TaskRow& task,
                                            const config::Purpose& purpose, std::string_view zone,
                                            int64_t now, Claimed& claimed) {
  const std::optional<int64_t> since = CapWindowStartIn(purpose, zone, now);
  if (!since) {
    return 0;  // no cap; or the zone is unknown, and Pace waits
  }
  auto counted = daemon::CountTowardsCap(d_.store, task.profile_id, task.purpose, *since);
  if (!counted) {
    d_.log.error("task {} waits: could not count the tasks of profile {} against its cap: {}",
                 task.id, task.profile_id, counted.error().ToString());
    return counted;
  }
  return *counted + claimed[{task.profile_id, task.purpose}];
}

std::optional<SendVerdict> Dispatcher::Recheck(Attempt& a) {
  // One indexed read: an erasure deletes the profile's waiting tasks, a cancel or a withdrawal
  // moves them out of `sending`.
  auto current = d_.store.GetTask(a.task.id);
  if (!current) {
    return SendVerdict::Wait("the task could not be read before the attempt");
  }
  if (!*current || (*current)->state != Name(TaskState::kSending) ||
      (*current)->attempts != a.task.attempts) {
    return SendVerdict::Cancel("the task changed or its profile was erased before the attempt");
  }
  if (a.task.trigger == store::kErasureNotice) {
    return std::nullopt;  // tells of the erasure itself: no profile, no consent to check
  }
  const std::shared_ptr<const config::Config> config = d_.config.Get();
  auto ledger = d_.consents.Ledger(a.task.profile_id);
  const config::Purpose* purpose = config->FindPurpose(a.task.purpose);
  if (ledger && purpose) {
    if (std::optional<SendVerdict> refused =
            ObjectionRefuses(a.task, *purpose, *ledger, d_.clock.NowUs())) {
      return refused;
    }
  }
  const SendVerdict verdict = CheckConsent(
      FactsOf(a.task, purpose, a.bodies, ledger ? &*ledger : nullptr), d_.clock.NowUs());
  if (verdict.kind != SendVerdict::Kind::kSend) {
    return verdict;
  }
  if (verdict.plain) {
    UsePlain(a.bodies);
  }
  return std::nullopt;
}

void Dispatcher::Finished(Attempt attempt, Outcome outcome, bool idle) {
  {
    MutexLock lock(mu_);
    outcomes_.emplace_back(std::move(attempt), std::move(outcome));
    // Outcomes are recorded in rounds of many (a commit each): when a sink ran out of work,
    // or enough of them wait.
    if (!idle && outcomes_.size() < kOutcomesPerRound) {
      return;
    }
    woken_ = true;
  }
  wake_.SignalAll();
}

Result<std::string> Dispatcher::AddOutcome(const Attempt& a, const Outcome& outcome, int64_t now,
                                           store::Batch& batch) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<store::TaskRow> current, d_.store.GetTask(a.task.id));
  if (!current || current->state != Name(TaskState::kSending)) {
    return std::string();  // erased meanwhile
  }
  if (a.refused) {
    return AddRefused(a, *a.refused, now, batch);
  }
  const config::Sink& sink = sinks_.at(a.task.sink)->config();
  store::TaskUpdate u{a.task.id, "", outcome.reason, a.task.due_us, a.task.attempts, now};
  if (outcome.kind == Outcome::Kind::kDelivered) {
    u.state = Name(TaskState::kDelivered);
  } else if (outcome.kind == Outcome::Kind::kDead || a.task.attempts >= sink.max_attempts) {
    u.state = Name(TaskState::kDead);
    if (outcome.kind == Outcome::Kind::kRetry) {
      u.reason =
          "gave up after " + std::to_string(a.task.attempts) + " attempts; last: " + outcome.reason;
    }
  } else {
    u.state = Name(TaskState::kRetrying);
    const double unit = randombytes_uniform(1'000'000) / 1e6;
    const auto wait =
        dispatch::RetryDelay(sink, static_cast<int>(a.task.attempts), unit, outcome.retry_after);
    u.due_us = now + std::chrono::duration_cast<std::chrono::microseconds>(wait).count();
    u.reason = outcome.reason + "; next attempt " + FormatRfc3339(u.due_us);
  }
  u.clear_payload = Settles(a.task, u.state);
  batch.task_updates.push_back(u);
  batch.audit.push_back(TaskAudit(a.task, u.state, u.reason, now));
  return u.state;
}

std::string Dispatcher::AddRefused(const Attempt& a, const SendVerdict& v, int64_t now,
                                   store::Batch& batch) {
  // Not attempted: the attempt does not count. A check that could not be made puts the task
  // back, due again after a period.
  store::TaskUpdate u{a.task.id, a.claimed_from, v.reason, a.task.due_us, a.task.attempts - 1, now};
  if (v.kind == Verdict::Kind::kSuppress) {
    u.state = Name(TaskState::kSuppressed);
  } else if (v.kind == Verdict::Kind::kCancel) {
    u.state = Name(TaskState::kCancelled);
  } else {
    u.due_us = now + std::chrono::duration_cast<std::chrono::microseconds>(period_).count();
  }
  u.clear_payload = Settles(a.task, u.state);
  batch.task_updates.push_back(u);
  batch.audit.push_back(TaskAudit(a.task, u.state, u.reason, now));
  return u.state;
}

void Dispatcher::CountSettled(const Attempt& a, std::string_view state, int64_t now) {
  SinkTelemetry& m = d_.telemetry.sinks.For(a.task.sink);
  if (state == Name(TaskState::kDelivered)) {
    m.delivered.Add();
    m.delivery_seconds.Observe(static_cast<double>(now - a.task.created_us) / 1e6);
  } else if (state == Name(TaskState::kDead)) {
    m.dead.Add();
  } else {
    return;
  }
  m.attempts_per_task.Observe(static_cast<double>(a.task.attempts));
}

}  // namespace portrait::daemon
