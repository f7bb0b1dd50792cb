#include "daemon/dispatcher.h"

#include <sodium.h>

#include <algorithm>
#include <deque>
#include <iterator>

#include "base/time_format.h"
#include "consent/ledger.h"
#include "daemon/task_audit.h"
#include "dispatch/backoff.h"
#include "dispatch/send_policy.h"
#include "rules/calendar.h"
#include "store/erasure_notice.h"

namespace portrait::daemon {
namespace {

using dispatch::Outcome;
using nlohmann::json;

// The tasks claimed per round at most, beyond the sinks' free workers (some are deferred or
// suppressed rather than sent).
constexpr int kClaimSlack = 64;

// Outcomes that wake the dispatcher to record them while the sinks still have work queued.
constexpr size_t kOutcomesPerRound = 64;

// A settled erasure notice keeps no sealed external id.
bool Settles(const store::TaskRow& task, std::string_view state) {
  return task.trigger == store::kErasureNotice && state != "pending" && state != "retrying" &&
         state != "sending";
}

}  // namespace

// What a claimed task's attempt sends: the CloudEvent, and the one without profile fields
// (the trigger's message_plain) for a customer who opts out before the attempt.
struct Dispatcher::Bodies {
  std::string body;
  std::string plain;  // empty: the trigger has none, or `body` is already plain
  bool personalised = true;
  bool sensitive = false;  // the trigger reads or sends a sensitive field
};

struct Dispatcher::Verdict {
  enum class Kind { kSend, kDefer, kSuppress, kCancel, kWait };
  Kind kind = Kind::kWait;
  std::string reason;
  int64_t until_us = 0;  // kDefer: when to look again
  Bodies bodies;         // kSend

  static Verdict Wait(std::string why = "") { return {Kind::kWait, std::move(why), 0, {}}; }
  static Verdict Send(Bodies bodies) { return {Kind::kSend, "", 0, std::move(bodies)}; }
  static Verdict Defer(int64_t until, std::string why) {
    return {Kind::kDefer, std::move(why), until, {}};
  }
  static Verdict Suppress(std::string why) { return {Kind::kSuppress, std::move(why), 0, {}}; }
  static Verdict Cancel(std::string why) { return {Kind::kCancel, std::move(why), 0, {}}; }
};

struct Dispatcher::Attempt {
  store::TaskRow task;       // as marked `sending`
  std::string claimed_from;  // its state before: pending or retrying
  Bodies bodies;
  int64_t time_s = 0;
  // Set when the check right before the attempt stopped it (nothing was sent).
  std::optional<Verdict> refused;
};

// One sink's worker threads and their queue.
class Dispatcher::SinkWorkers {
 public:
  // Attempts queued per worker at most: enough that one claim (one commit) feeds the workers
  // for a while, few enough that a crash leaves little to send twice.
  static constexpr int kQueuedPerWorker = 8;

  // Called with each outcome; `idle` when no attempt is queued behind it (time to claim more).
  using Done = std::function<void(Attempt, Outcome, bool idle)>;
  // Called right before each attempt, under the profile's pass: the verdict that stops it, or
  // nullopt to make it (possibly with the plain body).
  using Check = std::function<std::optional<Verdict>(Attempt&)>;

  SinkWorkers(const config::Sink& config, std::unique_ptr<dispatch::Sink> sink, SendGate& gate,
              Check check, Done done)
      : config_(config),
        sink_(std::move(sink)),
        gate_(gate),
        check_(std::move(check)),
        done_(std::move(done)) {
    for (int i = 0; i < config_.concurrency; ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }
  ~SinkWorkers() { Stop(); }

  const config::Sink& config() const { return config_; }

  // Attempts it can take now.
  int Room() {
    std::lock_guard lock(mu_);
    return config_.concurrency * (1 + kQueuedPerWorker) - busy_ - static_cast<int>(queue_.size());
  }

  void Submit(Attempt attempt) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(attempt));
    }
    wake_.notify_one();
  }

  // Lets the attempts under way finish, joins, and returns the queued ones, never started: a
  // sink that is down must not hold a stopping daemon for `timeout` times the queue's length.
  std::vector<Attempt> Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) {
      if (t.joinable()) {
        t.join();
      }
    }
    std::lock_guard lock(mu_);
    std::vector<Attempt> unstarted(std::make_move_iterator(queue_.begin()),
                                   std::make_move_iterator(queue_.end()));
    queue_.clear();
    return unstarted;
  }

 private:
  void Work() {
    while (true) {
      Attempt attempt;
      {
        std::unique_lock lock(mu_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) {
          return;
        }
        attempt = std::move(queue_.front());
        queue_.pop_front();
        ++busy_;
      }
      Outcome outcome = TryOnce(attempt);
      bool idle = false;
      {
        std::lock_guard lock(mu_);
        --busy_;
        idle = queue_.empty();
      }
      done_(std::move(attempt), std::move(outcome), idle);
    }
  }

  // One attempt, unless the check right before it stops it. The pass keeps an erasure's or a
  // withdrawal's answer waiting until the attempt has ended.
  Outcome TryOnce(Attempt& attempt) {
    SendGate::Pass pass(gate_, attempt.task.profile_id);
    attempt.refused = check_(attempt);
    if (attempt.refused) {
      return Outcome::Retry("not attempted: " + attempt.refused->reason);
    }
    return sink_->Deliver({std::to_string(attempt.task.id), attempt.bodies.body, attempt.time_s});
  }

  const config::Sink config_;
  const std::unique_ptr<dispatch::Sink> sink_;
  SendGate& gate_;
  const Check check_;
  const Done done_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Attempt> queue_;
  int busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

Dispatcher::Dispatcher(DispatcherDeps deps, std::chrono::milliseconds period)
    : d_(deps), period_(period) {
  for (const config::Sink& sink : d_.config.Get()->sinks) {
    auto opened = dispatch::OpenSink(sink);
    if (!opened) {
      d_.log.error("{}; its tasks wait until it can be opened at a restart",
                   opened.error().message());
      continue;
    }
    sinks_.emplace(sink.name,
                   std::make_unique<SinkWorkers>(
                       sink, std::move(*opened), d_.gate, [this](Attempt& a) { return Recheck(a); },
                       [this](Attempt a, Outcome o, bool idle) {
                         Finished(std::move(a), std::move(o), idle);
                       }));
  }
  thread_ = std::thread([this] { Loop(); });
}

Dispatcher::~Dispatcher() { Stop(); }

Status Dispatcher::RecoverInterrupted(const DispatcherDeps& d) {
  return d.writer.Run([&]() -> Status {
    int recovered = 0;
    while (true) {
      store::TaskFilter sending;
      sending.state = "sending";
      sending.limit = 1000;
      PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::TaskRow> tasks, d.store.ListTasks(sending));
      if (tasks.empty()) {
        break;
      }
      const int64_t now = d.clock.NowUs();
      store::Batch batch;
      for (const store::TaskRow& t : tasks) {
        const std::string why =
            "the daemon stopped during attempt " + std::to_string(t.attempts) + "; retried";
        batch.task_updates.push_back({t.id, "retrying", why, now, t.attempts, now});
        batch.audit.push_back(TaskAudit(t, "retrying", why, now));
      }
      PORTRAIT_ASSIGN_OR_RETURN(store::CommitResult result, d.store.Commit(batch));
      PORTRAIT_RETURN_IF_ERROR(d.audit.AfterCommit(result));
      recovered += static_cast<int>(tasks.size());
    }
    if (recovered > 0) {
      d.log.warn("{} tasks were being sent when the daemon stopped; they are retried now",
                 recovered);
    }
    return Status::Ok();
  });
}

void Dispatcher::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

void Dispatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) {
      return;
    }
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Dispatcher::Loop() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        break;
      }
    }
    const int64_t now = d_.clock.NowUs();
    Round round;
    round.outcomes = TakeOutcomes();
    round.verdicts = Claim(now);
    for (Attempt& a : Record(std::move(round), now)) {
      d_.telemetry.sinks.For(a.task.sink).attempts.Add();
      sinks_.at(a.task.sink)->Submit(std::move(a));
    }
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, period_, [this] { return stopping_ || woken_; });
    woken_ = false;
  }
  // Let the attempts under way finish; record how they went, and put back those not started.
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

std::vector<std::pair<Dispatcher::Attempt, Outcome>> Dispatcher::TakeOutcomes() {
  std::vector<std::pair<Attempt, Outcome>> done;
  std::lock_guard lock(mu_);
  done.swap(outcomes_);
  return done;
}

std::vector<std::pair<store::TaskRow, Dispatcher::Verdict>> Dispatcher::Claim(int64_t now) {
  std::map<std::pair<store::ProfileId, std::string>, int> claimed;
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

std::vector<Dispatcher::Attempt> Dispatcher::Record(Round round, int64_t now) {
  if (round.outcomes.empty() && round.verdicts.empty() && round.unstarted.empty()) {
    return {};
  }
  std::vector<Attempt> to_send;
  std::vector<std::pair<const Attempt*, std::string>> settled;  // attempt, its new state
  Status written = d_.writer.Run([&]() -> Status {
    store::Batch batch;
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
    if (batch.task_updates.empty()) {
      return Status::Ok();
    }
    PORTRAIT_ASSIGN_OR_RETURN(store::CommitResult result, d_.store.Commit(batch));
    return d_.audit.AfterCommit(result);
  });
  if (!written.ok()) {
    // The outcomes wait for the next round (at a stop they stay `sending`, and the next start
    // retries them: at-least-once); what was due is claimed again.
    if (written.code() != Status::Code::kUnavailable) {
      d_.log.error("could not record {} outcomes and {} verdicts: {}", round.outcomes.size(),
                   round.verdicts.size(), written.ToString());
    }
    std::lock_guard lock(mu_);
    std::move(round.outcomes.begin(), round.outcomes.end(), std::back_inserter(outcomes_));
    return {};
  }
  for (const auto& [a, state] : settled) {
    CountSettled(*a, state, now);
  }
  return to_send;
}

Status Dispatcher::AddVerdict(const store::TaskRow& task, const Verdict& v, int64_t now,
                              store::Batch& batch, std::vector<Attempt>& to_send) {
  // Still as claimed? A cancel, a consent withdrawal or an erasure may have come first.
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<store::TaskRow> current, d_.store.GetTask(task.id));
  if (!current || current->state != task.state || current->attempts != task.attempts) {
    return Status::Ok();
  }
  store::TaskUpdate u{task.id, task.state, v.reason, task.due_us, task.attempts, now};
  std::string action;
  switch (v.kind) {
    case Verdict::Kind::kSend:
      u.state = action = "sending";
      u.attempts = task.attempts + 1;
      u.reason = "attempt " + std::to_string(u.attempts);
      break;
    case Verdict::Kind::kDefer:
      action = "deferred";
      u.due_us = v.until_us;
      break;
    case Verdict::Kind::kSuppress:
      u.state = action = "suppressed";
      break;
    default:
      u.state = action = "cancelled";
      break;
  }
  u.clear_payload = Settles(task, u.state);
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

Status Dispatcher::AddUnstarted(const Attempt& a, int64_t now, store::Batch& batch) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<store::TaskRow> current, d_.store.GetTask(a.task.id));
  if (!current || current->state != "sending") {
    return Status::Ok();
  }
  const std::string why = "not attempted: the daemon stopped first";
  batch.task_updates.push_back(
      {a.task.id, a.claimed_from, why, a.task.due_us, a.task.attempts - 1, now});
  batch.audit.push_back(TaskAudit(a.task, a.claimed_from, why, now));
  return Status::Ok();
}

Dispatcher::Verdict Dispatcher::Decide(
    const store::TaskRow& task, int64_t now,
    std::map<std::pair<store::ProfileId, std::string>, int>& claimed) {
  if (task.trigger == store::kErasureNotice) {
    return DecideNotice(task, now);
  }
  auto row = d_.store.GetProfile(task.profile_id);
  if (!row) {
    return Verdict::Wait();
  }
  if (!*row) {
    return Verdict::Cancel("the profile was erased");
  }
  const std::shared_ptr<const config::Config> config = d_.config.Get();
  const config::Purpose* purpose = config->FindPurpose(task.purpose);
  if (!purpose) {
    return Verdict::Suppress("purpose '" + task.purpose + "' is no longer in the configuration");
  }
  auto opened = d_.vault.OpenAddressed(**row, store::TaskPayloadName(task.trigger), task.payload);
  if (!opened) {
    switch (opened.error().code()) {
      case Status::Code::kNotFound:
        return Verdict::Cancel("the profile was erased");
      case Status::Code::kCorruption:
        return Verdict::Cancel("its sealed payload does not open (corrupt)");
      default:
        return Verdict::Wait();
    }
  }
  const json payload = json::parse(opened->plaintext, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object()) {
    return Verdict::Cancel("its payload is not a JSON object (corrupt)");
  }
  Bodies bodies = Render(task, opened->external_id, payload, now);
  std::optional<Verdict> refused = CheckConsent(task, *purpose, bodies, now);
  if (!refused) {
    refused = Pace(task, *purpose, **row, *config, now, claimed);
  }
  if (refused) {
    return *refused;
  }
  ++claimed[{task.profile_id, task.purpose}];
  return Verdict::Send(std::move(bodies));
}

Dispatcher::Verdict Dispatcher::DecideNotice(const store::TaskRow& task, int64_t now) const {
  auto subject = store::OpenErasureNotice(d_.keys, task);
  if (!subject) {
    return Verdict::Cancel("its sealed subject does not open (corrupt)");
  }
  Bodies bodies;
  bodies.personalised = false;
  bodies.body = json{{"specversion", "1.0"},
                     {"id", std::to_string(task.id)},
                     {"source", "portrait"},
                     {"type", "profile.erased"},
                     {"subject", *subject},
                     {"time", FormatRfc3339(now)},
                     {"datacontenttype", "application/json"},
                     {"data", {{"subject", *subject}}}}
                    .dump();
  return Verdict::Send(std::move(bodies));
}

std::optional<Dispatcher::Verdict> Dispatcher::CheckConsent(const store::TaskRow& task,
                                                            const config::Purpose& purpose,
                                                            Bodies& bodies, int64_t now) {
  auto channel = consent::ParseChannel(task.channel);
  if (!channel) {
    return Verdict::Suppress("unknown channel '" + task.channel + "'");
  }
  auto ledger = d_.consents.Ledger(task.profile_id);
  if (!ledger) {
    return Verdict::Wait("its consent ledger could not be read");
  }
  const TaskConsent allowed = CheckTaskConsent(purpose, &sinks_.at(task.sink)->config(),
                                               bodies.sensitive, *channel, *ledger, now);
  if (!allowed.allowed) {
    return Verdict::Suppress(allowed.reason);
  }
  if (!allowed.personalise && bodies.personalised) {
    if (bodies.plain.empty()) {
      return Verdict::Suppress(
          "the customer opted out of personalisation and the trigger has no message_plain");
    }
    bodies.body = std::move(bodies.plain);
    bodies.plain.clear();
    bodies.personalised = false;
  }
  return std::nullopt;
}

std::optional<Dispatcher::Verdict> Dispatcher::Pace(
    const store::TaskRow& task, const config::Purpose& purpose, const store::ProfileRow& row,
    const config::Config& config, int64_t now,
    std::map<std::pair<store::ProfileId, std::string>, int>& claimed) {
  const std::string zone_name = row.timezone.empty() ? config.daemon.timezone : row.timezone;
  const date::time_zone* zone = rules::FindZone(zone_name);
  if (!zone) {
    return Verdict::Wait();  // the profile's zone was checked on write; tzdata changed?
  }
  if (auto end = dispatch::QuietHoursEnd(purpose.quiet_hours, zone, now)) {
    return Verdict::Defer(*end, "quiet hours " + purpose.quiet_hours + " in " + zone_name +
                                    "; due again " + FormatRfc3339(*end));
  }
  if (!purpose.cap) {
    return std::nullopt;
  }
  auto delivered = d_.store.CountDelivered(task.profile_id, purpose.name,
                                           dispatch::CapWindowStart(*purpose.cap, zone, now));
  if (!delivered) {
    return Verdict::Wait();
  }
  // Tasks of this profile and purpose on their way count too.
  int64_t sending = 0;
  store::TaskFilter on_the_way;
  on_the_way.profile_id = task.profile_id;
  on_the_way.state = "sending";
  if (auto rows = d_.store.ListTasks(on_the_way)) {
    for (const store::TaskRow& t : *rows) {
      sending += t.purpose == task.purpose;
    }
  }
  const int64_t count = *delivered + sending + claimed[{task.profile_id, task.purpose}];
  if (count < purpose.cap->max) {
    return std::nullopt;
  }
  const std::string over = "over the cap of " + std::to_string(purpose.cap->max) + " per " +
                           std::to_string(purpose.cap->per.count() / 86'400) + "d";
  if (purpose.cap->defer) {
    const int64_t next = dispatch::NextLocalMidnight(zone, now);
    return Verdict::Defer(next, over + "; due again " + FormatRfc3339(next));
  }
  return Verdict::Suppress(over);
}

std::optional<Dispatcher::Verdict> Dispatcher::Recheck(Attempt& a) {
  // One indexed read: an erasure deletes the profile's waiting tasks, a cancel or a withdrawal
  // moves them out of `sending`.
  auto current = d_.store.GetTask(a.task.id);
  if (!current) {
    return Verdict::Wait("the task could not be read before the attempt");
  }
  if (!*current || (*current)->state != "sending" || (*current)->attempts != a.task.attempts) {
    return Verdict::Cancel("the task changed or its profile was erased before the attempt");
  }
  if (a.task.trigger == store::kErasureNotice) {
    return std::nullopt;  // tells of the erasure itself: no profile, no consent to check
  }
  const std::shared_ptr<const config::Config> config = d_.config.Get();
  const config::Purpose* purpose = config->FindPurpose(a.task.purpose);
  if (!purpose) {
    return Verdict::Suppress("purpose '" + a.task.purpose + "' is no longer in the configuration");
  }
  return CheckConsent(a.task, *purpose, a.bodies, d_.clock.NowUs());
}

Dispatcher::Bodies Dispatcher::Render(const store::TaskRow& task, const std::string& external_id,
                                      const json& payload, int64_t now) {
  // Read defensively: a stored payload of an unexpected shape must not throw.
  auto text = [&](const char* key) {
    auto it = payload.find(key);
    return it != payload.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto flag = [&](const char* key, bool absent) {
    auto it = payload.find(key);
    return it == payload.end() ? absent : it->is_boolean() && it->get<bool>();
  };
  Bodies out;
  out.personalised = flag("personalised", true);
  out.sensitive = flag("sensitive", false);
  auto fields = payload.find("fields");
  out.body =
      RenderEvent(task, external_id, text("task"), text("message"),
                  fields != payload.end() && fields->is_object() ? *fields : json::object(), now);
  if (out.personalised && payload.contains("plain")) {
    out.plain = RenderEvent(task, external_id, text("task"), text("plain"), json::object(), now);
  }
  return out;
}

std::string Dispatcher::RenderEvent(const store::TaskRow& task, const std::string& external_id,
                                    const std::string& task_name, const std::string& message,
                                    const json& fields, int64_t now) {
  json data = {{"task", task_name},       {"trigger", task.trigger},     {"purpose", task.purpose},
               {"channel", task.channel}, {"profile", external_id},      {"message", message},
               {"fields", fields},        {"attempt", task.attempts + 1}};
  return json{{"specversion", "1.0"},
              {"id", std::to_string(task.id)},
              {"source", "portrait"},
              {"type", "portrait.task"},
              {"subject", external_id},
              {"time", FormatRfc3339(now)},
              {"datacontenttype", "application/json"},
              {"data", std::move(data)}}
      .dump();
}

void Dispatcher::Finished(Attempt attempt, Outcome outcome, bool idle) {
  {
    std::lock_guard lock(mu_);
    outcomes_.emplace_back(std::move(attempt), std::move(outcome));
    // Outcomes are recorded in rounds of many (a commit each): when a sink ran out of work,
    // or enough of them wait.
    if (!idle && outcomes_.size() < kOutcomesPerRound) {
      return;
    }
    woken_ = true;
  }
  wake_.notify_all();
}

Result<std::string> Dispatcher::AddOutcome(const Attempt& a, const Outcome& outcome, int64_t now,
                                           store::Batch& batch) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<store::TaskRow> current, d_.store.GetTask(a.task.id));
  if (!current || current->state != "sending") {
    return std::string();  // erased meanwhile
  }
  if (a.refused) {
    return AddRefused(a, *a.refused, now, batch);
  }
  const config::Sink& sink = sinks_.at(a.task.sink)->config();
  store::TaskUpdate u{a.task.id, "", outcome.reason, a.task.due_us, a.task.attempts, now};
  if (outcome.kind == Outcome::Kind::kDelivered) {
    u.state = "delivered";
  } else if (outcome.kind == Outcome::Kind::kDead || a.task.attempts >= sink.max_attempts) {
    u.state = "dead";
    if (outcome.kind == Outcome::Kind::kRetry) {
      u.reason =
          "gave up after " + std::to_string(a.task.attempts) + " attempts; last: " + outcome.reason;
    }
  } else {
    u.state = "retrying";
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

std::string Dispatcher::AddRefused(const Attempt& a, const Verdict& v, int64_t now,
                                   store::Batch& batch) {
  // Not attempted: the attempt does not count. A check that could not be made puts the task
  // back, due again after a period.
  store::TaskUpdate u{a.task.id, a.claimed_from, v.reason, a.task.due_us, a.task.attempts - 1, now};
  if (v.kind == Verdict::Kind::kSuppress) {
    u.state = "suppressed";
  } else if (v.kind == Verdict::Kind::kCancel) {
    u.state = "cancelled";
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
  if (state == "delivered") {
    m.delivered.Add();
    m.delivery_seconds.Observe(static_cast<double>(now - a.task.created_us) / 1e6);
  } else if (state == "dead") {
    m.dead.Add();
  } else {
    return;
  }
  m.attempts_per_task.Observe(static_cast<double>(a.task.attempts));
}

}  // namespace portrait::daemon
