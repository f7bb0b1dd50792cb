#include "daemon/ingestor.h"

#include <list>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "daemon/timer_rearm.h"
#include "store/task_state.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

rules::ProfileFacts FactsOf(const store::Profile& p) {
  rules::ProfileFacts f;
  f.id = p.id;
  f.fields = p.fields;
  f.metrics = p.metrics;
  f.tags = p.tags;
  f.lifecycle = p.lifecycle;
  f.timezone = p.timezone;
  return f;
}

}  // namespace

// A profile held open by a group (and between groups): its stored state and the facts the
// engine reads.
struct Working {
  store::OpenProfile open;
  rules::ProfileFacts facts;
  bool dirty = false;
};

// Profiles kept open between groups, least recently used first out. The writer is the only
// writer of a profile's row, so what it holds stays true — except after an upsert, import,
// merge or key destruction, which call Ingestor::Forget.
class OpenProfiles {
 public:
  static constexpr size_t kCapacity = 10'000;

  std::unique_ptr<Working> TakeByKey(const std::string& ext_key) {
    auto it = by_key_.find(ext_key);
    return it == by_key_.end() ? nullptr : Take(it->second);
  }

  std::unique_ptr<Working> Take(store::ProfileId id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) {
      return nullptr;
    }
    std::unique_ptr<Working> w = std::move(it->second.working);
    lru_.erase(it->second.position);
    by_key_.erase(w->open.row.ext_key);
    entries_.erase(it);
    return w;
  }

  void Put(std::unique_ptr<Working> w) {
    const store::ProfileId id = w->open.row.id;
    (void)Take(id);
    by_key_[w->open.row.ext_key] = id;
    lru_.push_front(id);
    entries_[id] = Entry{std::move(w), lru_.begin()};
    while (entries_.size() > kCapacity) {
      (void)Take(lru_.back());
    }
  }

 private:
  struct Entry {
    std::unique_ptr<Working> working;
    std::list<store::ProfileId>::iterator position;
  };
  std::unordered_map<store::ProfileId, Entry> entries_;
  std::unordered_map<std::string, store::ProfileId> by_key_;
  std::list<store::ProfileId> lru_;  // most recent first
};

// One transaction's working state: the profiles it opened, the timers it set, the batch.
class IngestGroup {
 public:
  IngestGroup(Ingestor& in, int64_t now_us)
      : in_(in),
        rules_(in.rules_.Get()),
        engine_(rules_->engine),
        derived_(in.make_derived_ ? in.make_derived_(rules_) : nullptr),
        now_(now_us) {}

  Result<Working*> BySubject(const std::string& subject) {
    const std::string ext_key = in_.vault_.ExtKey(subject);
    if (auto it = by_key_.find(ext_key); it != by_key_.end()) {
      return it->second;
    }
    if (std::unique_ptr<Working> kept = in_.open_->TakeByKey(ext_key)) {
      return Add(std::move(kept));
    }
    PORTRAIT_ASSIGN_OR_RETURN(store::OpenProfile open, in_.vault_.OpenOrCreate(subject, new_keys_));
    if (open.row.ext_key != ext_key) {
      // The subject is an alias (store/store.h): the profile it leads to may be open already.
      PORTRAIT_ASSIGN_OR_RETURN(Working * target, ById(open.row.id));
      if (target) {
        by_key_[ext_key] = target;
        return target;
      }
    }
    Working* w = Add(std::move(open));
    if (w->open.is_new) {
      w->dirty = true;
      ArmSchedules(*w);
      ArmLifecycle(*w);
      // A first contact takes its stage before its first event, as a profile created through
      // the API does, so triggers on leaving that stage fire for it too.
      PORTRAIT_RETURN_IF_ERROR(Reevaluate(*w));
    }
    return w;
  }

  // Holds `open` (a profile just written, as stored) for this group, so ById needs no unwrap
  // or decryption.
  void Adopt(store::OpenProfile open) {
    if (!by_id_.count(open.row.id)) {
      Add(std::move(open));
    }
  }

  // The open profile `id`, or nullptr when it no longer exists.
  Result<Working*> ById(store::ProfileId id) {
    if (auto it = by_id_.find(id); it != by_id_.end()) {
      return it->second.get();
    }
    if (std::unique_ptr<Working> kept = in_.open_->Take(id)) {
      return Add(std::move(kept));
    }
    auto open = in_.vault_.Open(id);
    if (!open) {
      if (open.error().code() == Status::Code::kNotFound) {
        return nullptr;
      }
      return Error(open.error());
    }
    return Add(std::move(*open));
  }

  // Reads which of the requests' events are stored already, in one call.
  Status FindStored(const std::vector<const IngestRequest*>& requests) {
    std::vector<std::string_view> keys;
    for (const IngestRequest* r : requests) {
      for (const IncomingEvent& e : r->events) {
        keys.push_back(e.key);
      }
    }
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<bool> stored, in_.store_.StoredEvents(keys));
    for (size_t i = 0; i < keys.size() && i < stored.size(); ++i) {
      if (stored[i]) {
        stored_keys_.emplace(keys[i]);
      }
    }
    return Status::Ok();
  }

  // Whether an event with this key was stored before or earlier in this group (FindStored
  // first).
  bool Duplicate(const std::string& key) {
    return !event_keys_.insert(key).second || stored_keys_.count(key) > 0;
  }

  Result<int> Apply(Working& w, const IncomingEvent& e) {
    rules::EventInput input{e.id, e.type, e.time_us, e.data};
    store::EventRow row;
    row.key = e.key;
    row.profile_id = w.open.row.id;
    row.type = e.type;
    row.time_us = e.time_us;
    if (e.sealed_for == w.open.row.id) {
      row.data = e.sealed_data;
    } else {
      PORTRAIT_ASSIGN_OR_RETURN(row.data,
                                in_.vault_.Seal(w.open, store::kEventDataField, e.data.dump()));
    }
    batch_.events.push_back(std::move(row));
    w.facts.derived = derived_.get();
    return ApplyOutcome(w, engine_.OnEvent(w.facts, input, now_));
  }

  // Re-evaluates the lifecycle stage (time-driven stages move without events).
  Result<int> Reevaluate(Working& w) {
    w.facts.derived = derived_.get();
    return ApplyOutcome(w, engine_.Reevaluate(w.facts, now_));
  }

  // Stores what the engine decided: metrics, stage, timers, tasks. Returns the tasks fired.
  Result<int> ApplyOutcome(Working& w, rules::EventOutcome out) {
    w.dirty = w.dirty || out.metrics != w.facts.metrics || out.lifecycle != w.facts.lifecycle;
    w.facts.metrics = std::move(out.metrics);
    w.facts.lifecycle = std::move(out.lifecycle);
    for (const rules::TimerOp& op : out.timers) {
      SetTimer(w.open.row.id, op.trigger->id,
               op.kind == rules::TimerOp::Kind::kArm ? std::optional(op.due_us) : std::nullopt);
    }
    for (const rules::Firing& f : out.fired) {
      PORTRAIT_RETURN_IF_ERROR(Fire(w, f));
    }
    return static_cast<int>(out.fired.size());
  }

  Status Fire(Working& w, const rules::Firing& f) {
    const rules::Trigger& t = *f.trigger;
    const config::Purpose* purpose = rules_->config->FindPurpose(t.purpose);
    if (!purpose) {
      return Status::Internal("trigger " + t.id + " names an unknown purpose");
    }
    store::TaskRow task;
    task.dedupe = in_.blind_.Digest("$task", f.dedupe_key);
    task.profile_id = w.open.row.id;
    task.trigger = t.id;
    task.purpose = t.purpose;
    task.channel = t.channel;
    task.sink = t.sink;
    task.due_us = f.at_us;
    task.created_us = task.updated_us = now_;
    PORTRAIT_ASSIGN_OR_RETURN(consent::Channel channel, consent::ParseChannel(t.channel));
    PORTRAIT_ASSIGN_OR_RETURN(auto ledger, in_.consents_.Ledger(w.open.row.id));
    const TaskConsent allowed = CheckTaskConsent(*purpose, rules_->config->FindSink(t.sink),
                                                 t.sensitive, channel, ledger, now_);
    task.consent_id = allowed.record_id;
    const json body = TaskBody(w, t, allowed, task);
    PORTRAIT_ASSIGN_OR_RETURN(task.payload,
                              in_.vault_.Seal(w.open, store::TaskPayloadName(t.id), body.dump()));
    batch_.tasks.push_back(std::move(task));
    return Status::Ok();
  }

  // The sealed payload of a task of trigger `t`, and the task's state: what the customer's
  // ledger allows. An opted-out customer's task carries the trigger's message_plain and no
  // fields, or is suppressed when there is none; a personalised task also carries the plain
  // message ("plain"), for the dispatcher to send if the customer opts out before the attempt.
  json TaskBody(Working& w, const rules::Trigger& t, const TaskConsent& allowed,
                store::TaskRow& task) {
    std::optional<rules::TaskPayload> payload;
    std::optional<rules::TaskPayload> plain;
    if (allowed.allowed) {
      payload = engine_.Payload(t, w.facts, now_, allowed.personalise);
      if (allowed.personalise) {
        plain = engine_.Payload(t, w.facts, now_, /*personalise=*/false);
      }
    }
    task.state =
        store::TaskStateName(payload ? store::TaskState::kPending : store::TaskState::kSuppressed);
    task.reason = !allowed.allowed ? allowed.reason
                  : payload        ? ""
                            : "the customer opted out of personalisation and the trigger has no "
                              "message_plain";
    json body = {{"task", t.task},
                 {"message", payload ? payload->message : ""},
                 {"fields", payload ? payload->fields : json::object()},
                 {"personalised", !payload || payload->personalised},
                 {"sensitive", t.sensitive}};
    if (plain) {
      body["plain"] = plain->message;
    }
    return body;
  }

  // Sets (or, with nullopt, clears) a timer; the last call for a (profile, trigger) wins.
  void SetTimer(store::ProfileId id, const std::string& trigger, std::optional<int64_t> due) {
    timers_[{id, trigger}] = due;
  }

  // Brings `w`'s timers in line with the rules and zones in force after a write of it
  // (daemon/timer_rearm.h). Returns how many timers it changed.
  Result<int> Rearm(Working& w, bool late_ok) {
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::TimerRow> stored,
                              in_.store_.GetTimers(w.open.row.id));
    std::vector<TimerChange> changes = RearmTimers(engine_, w.facts, stored, now_, late_ok);
    for (TimerChange& c : changes) {
      SetTimer(w.open.row.id, c.trigger, c.due);
    }
    return static_cast<int>(changes.size());
  }

  // The daily lifecycle re-evaluation, a day from now, when the rules have stages.
  void ArmLifecycle(Working& w) {
    if (!rules_->set.lifecycle.empty()) {
      SetTimer(w.open.row.id, std::string(kLifecycleTimer), now_ + kDayUs);
    }
  }

  void ArmSchedules(Working& w) {
    for (const rules::Trigger& t : rules_->set.triggers) {
      if (t.kind == rules::TriggerKind::kSchedule) {
        SetTimer(w.open.row.id, t.id, engine_.NextRun(t, now_));
      }
    }
  }

  const LoadedRules& rules() const { return *rules_; }
  const rules::Engine& engine() const { return engine_; }
  // Brings the facts' scores and predictions up to now (before a timer's decision).
  void FillDerived(Working& w) const {
    if (derived_) {
      derived_->Fill(w.facts, now_);
    }
  }
  store::Batch& batch() { return batch_; }

  // Seals every changed profile's state into the batch, with the timers; commits it.
  Result<store::CommitResult> Commit() {
    for (auto& [id, w] : by_id_) {
      if (!w->dirty) {
        continue;
      }
      w->open.profile.metrics = w->facts.metrics;
      w->open.profile.lifecycle = w->facts.lifecycle;
      PORTRAIT_ASSIGN_OR_RETURN(store::ProfileWrite write, in_.vault_.StateWrite(w->open, now_));
      batch_.profiles.push_back(std::move(write));
    }
    for (const auto& [key, due] : timers_) {
      if (due) {
        batch_.timers.push_back(store::TimerRow{key.first, key.second, *due});
      } else {
        batch_.cleared_timers.push_back(key);
      }
    }
    // New profiles' keys, all in one keystore transaction, durable before any ciphertext made
    // with them (an orphan key, should the commit below fail, is never used: ids are never
    // given twice, store/profile_ids.h).
    if (!new_keys_.empty()) {
      PORTRAIT_RETURN_IF_ERROR(in_.store_.PutDataKeys(new_keys_));
    }
    PORTRAIT_ASSIGN_OR_RETURN(store::CommitResult result, in_.audit_.Commit(batch_));
    // Stored: what this group holds is now the truth, worth keeping for the next groups.
    for (auto& [id, w] : by_id_) {
      w->open.is_new = false;
      w->dirty = false;
      in_.open_->Put(std::move(w));
    }
    by_id_.clear();
    by_key_.clear();
    return result;
  }

 private:
  Working* Add(store::OpenProfile open) {
    auto w = std::make_unique<Working>();
    w->facts = FactsOf(open.profile);
    w->open = std::move(open);
    Repair(*w);
    return Add(std::move(w));
  }

  // Stored metrics are not trusted blindly: a value of the wrong type (which no event can read
  // back) is reset, the reset audited and stored with this group.
  void Repair(Working& w) {
    std::vector<std::string> repaired = rules::RepairMetrics(rules_->set.metrics, w.facts.metrics);
    if (repaired.empty()) {
      return;
    }
    w.dirty = true;
    batch_.audit.push_back(store::AuditEntry{now_, "system", "profile.repaired", w.open.row.id, "",
                                             json{{"metrics", repaired}}.dump()});
  }

  Working* Add(std::unique_ptr<Working> w) {
    Working* raw = w.get();
    by_key_[raw->open.row.ext_key] = raw;
    by_id_[raw->open.row.id] = std::move(w);
    return raw;
  }

  Ingestor& in_;
  std::shared_ptr<const LoadedRules> rules_;
  const rules::Engine& engine_;
  const std::shared_ptr<const rules::DerivedValues> derived_;
  const int64_t now_;
  std::map<store::ProfileId, std::unique_ptr<Working>> by_id_;
  std::map<std::string, Working*> by_key_;
  std::unordered_set<std::string> event_keys_;
  std::unordered_set<std::string> stored_keys_;                     // of FindStored
  std::vector<std::pair<store::ProfileId, std::string>> new_keys_;  // wrapped, of new profiles
  std::map<std::pair<store::ProfileId, std::string>, std::optional<int64_t>> timers_;
  store::Batch batch_;
};

Ingestor::Ingestor(store::Store& store, store::ProfileVault& vault, ConsentService& consents,
                   store::AuditLog& audit, const RulesHolder& rules,
                   const crypto::BlindIndex& blind, const Clock& clock)
    : store_(store),
      vault_(vault),
      consents_(consents),
      audit_(audit),
      rules_(rules),
      blind_(blind),
      clock_(clock),
      open_(std::make_unique<OpenProfiles>()),
      known_(std::make_unique<KnownSubjects>()) {}

Ingestor::~Ingestor() = default;

void Ingestor::SealKnownSubjects(std::vector<IncomingEvent>& events) const {
  std::map<std::string, std::shared_ptr<const KnownSubjects::Entry>> known;
  for (IncomingEvent& e : events) {
    auto [it, added] = known.try_emplace(e.subject);
    if (added) {
      it->second = Known(e.subject);
    }
    if (!it->second) {
      continue;  // a new subject, or the lookup failed: the writer seals it
    }
    const KnownSubjects::Entry& k = *it->second;
    if (auto sealed =
            store::ProfileVault::SealWith(k.key, k.id, store::kEventDataField, e.data.dump())) {
      e.sealed_for = k.id;
      e.sealed_data = std::move(*sealed);
    }
  }
}

std::shared_ptr<const KnownSubjects::Entry> Ingestor::Known(const std::string& subject) const {
  const std::string ext_key = vault_.ExtKey(subject);
  if (auto entry = known_->Find(ext_key)) {
    return entry;
  }
  const uint64_t generation = known_->Generation();
  auto row = store_.GetProfileByKey(ext_key);
  if (!row || !*row) {
    return nullptr;
  }
  auto key = vault_.KeyOf((*row)->id);
  if (!key) {
    return nullptr;
  }
  known_->Add(ext_key, (*row)->id, *key, generation);
  auto entry = std::make_shared<KnownSubjects::Entry>();
  entry->id = (*row)->id;
  entry->key = std::move(*key);
  return entry;
}

void Ingestor::Forget(store::ProfileId id) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  (void)open_->Take(id);
  known_->Forget(id);
}

void Ingestor::ForgetAll() {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  open_ = std::make_unique<OpenProfiles>();
  known_->ForgetAll();
}

Result<std::vector<IngestCounts>> Ingestor::ApplyEvents(
    const std::vector<const IngestRequest*>& requests) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  const int64_t now = clock_.NowUs();
  IngestGroup group(*this, now);
  std::vector<IngestCounts> counts(requests.size());
  PORTRAIT_RETURN_IF_ERROR(group.FindStored(requests));
  for (size_t i = 0; i < requests.size(); ++i) {
    for (const IncomingEvent& e : requests[i]->events) {
      if (group.Duplicate(e.key)) {
        ++counts[i].duplicates;
        continue;
      }
      PORTRAIT_ASSIGN_OR_RETURN(Working * w, group.BySubject(e.subject));
      PORTRAIT_ASSIGN_OR_RETURN(int fired, group.Apply(*w, e));
      ++counts[i].accepted;
      counts[i].tasks += fired;
    }
    group.batch().audit.push_back(store::AuditEntry{now, requests[i]->actor, "events.ingest", 0,
                                                    requests[i]->purpose,
                                                    json{{"accepted", counts[i].accepted},
                                                         {"duplicates", counts[i].duplicates},
                                                         {"tasks", counts[i].tasks}}
                                                        .dump()});
  }
  PORTRAIT_RETURN_IF_ERROR(group.Commit());
  return counts;
}

Result<TimerSweep> Ingestor::FireDueTimers(int limit) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  const int64_t now = clock_.NowUs();
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::TimerRow> due, store_.DueTimers(now, limit));
  TimerSweep sweep;
  if (due.empty()) {
    return sweep;
  }
  IngestGroup group(*this, now);
  for (const store::TimerRow& timer : due) {
    ++sweep.timers;
    PORTRAIT_ASSIGN_OR_RETURN(Working * w, group.ById(timer.profile_id));
    if (w && timer.trigger == kLifecycleTimer) {
      PORTRAIT_ASSIGN_OR_RETURN(int fired, group.Reevaluate(*w));
      sweep.fired += fired;
      group.ArmLifecycle(*w);
      continue;
    }
    const rules::Trigger* trigger = group.rules().set.FindTrigger(timer.trigger);
    if (!trigger || !w) {  // the trigger was removed, or the profile erased
      group.SetTimer(timer.profile_id, timer.trigger, std::nullopt);
      continue;
    }
    group.FillDerived(*w);
    rules::TimerOutcome out = group.engine().OnTimer(w->facts, *trigger, timer.due_us, now);
    group.SetTimer(timer.profile_id, timer.trigger, out.next);
    if (out.fired) {
      PORTRAIT_RETURN_IF_ERROR(group.Fire(*w, *out.fired));
      ++sweep.fired;
    }
  }
  group.batch().audit.push_back(
      store::AuditEntry{now, "system", "timers.fire", 0, "",
                        json{{"timers", sweep.timers}, {"fired", sweep.fired}}.dump()});
  PORTRAIT_RETURN_IF_ERROR(group.Commit());
  return sweep;
}

Status Ingestor::AfterProfileWrite(store::ProfileId id) { return AfterProfileWrites({id}); }

Status Ingestor::AfterProfileWrites(const std::vector<store::ProfileId>& ids,
                                    std::vector<store::OpenProfile> written) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  IngestGroup group(*this, clock_.NowUs());
  for (store::OpenProfile& open : written) {
    group.Adopt(std::move(open));
  }
  for (store::ProfileId id : ids) {
    PORTRAIT_ASSIGN_OR_RETURN(Working * w, group.ById(id));
    if (!w) {
      continue;
    }
    PORTRAIT_RETURN_IF_ERROR(group.Reevaluate(*w));
    PORTRAIT_RETURN_IF_ERROR(group.Rearm(*w, /*late_ok=*/false));
  }
  PORTRAIT_RETURN_IF_ERROR(group.Commit());
  return Status::Ok();
}

}  // namespace portrait::daemon
