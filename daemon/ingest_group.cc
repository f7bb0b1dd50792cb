#include "daemon/ingest_group.h"

#include "consent/ledger.h"
#include "daemon/timer_rearm.h"
#include "store/task_state.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

}  // namespace

rules::ProfileFacts FactsOf(store::Profile p) {
  rules::ProfileFacts f;
  f.id = p.id;
  f.fields = std::move(p.fields);
  f.metrics = std::move(p.metrics);
  f.tags = std::move(p.tags);
  f.lifecycle = std::move(p.lifecycle);
  f.timezone = std::move(p.timezone);
  return f;
}

std::unique_ptr<Working> OpenProfiles::TakeByKey(const std::string& ext_key) {
  auto it = by_key_.find(ext_key);
  return it == by_key_.end() ? nullptr : Take(it->second);
}

std::unique_ptr<Working> OpenProfiles::Take(store::ProfileId id) {
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

void OpenProfiles::Put(std::unique_ptr<Working> w) {
  const store::ProfileId id = w->open.row.id;
  (void)Take(id);
  by_key_[w->open.row.ext_key] = id;
  lru_.push_front(id);
  entries_[id] = Entry{std::move(w), lru_.begin()};
  while (entries_.size() > kCapacity) {
    (void)Take(lru_.back());
  }
}

bool ReadsObjection(const rules::RuleSet& rules) {
  for (const rules::Segment& s : rules.segments) {
    if (s.marketing) {
      return true;
    }
  }
  for (const rules::Trigger& t : rules.triggers) {
    if (t.profiling) {
      return true;
    }
  }
  return false;
}

bool Objected(const std::vector<consent::ConsentRecord>& ledger, int64_t now_us) {
  for (const consent::Channel channel : config::kChannels) {
    const consent::ConsentRecord* r = consent::RecordInForce(
        ledger, kPersonalisation, consent::ConsentScope::kProcessing, channel, now_us);
    if (r && r->status != consent::ConsentStatus::kGranted) {
      return true;
    }
  }
  return false;
}

IngestGroup::IngestGroup(Ingestor& in, int64_t now_us)
    : in_(in),
      rules_(in.rules_.Get()),
      engine_(rules_->engine),
      derived_(in.make_derived_ ? in.make_derived_(rules_) : nullptr),
      now_(now_us),
      reads_objection_(ReadsObjection(rules_->set)) {
  in_.KeepOpenUnder(rules_);
}

Result<Working*> IngestGroup::BySubject(const std::string& subject) {
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
  const bool is_new = open.is_new;
  Working* w = Add(std::move(open));
  if (is_new) {
    w->dirty = true;
    ArmSchedules(*w);
    ArmLifecycle(*w);
    // A first contact takes its stage before its first event, as a profile created through
    // the API does, so triggers on leaving that stage fire for it too.
    PORTRAIT_RETURN_IF_ERROR(Reevaluate(*w));
  }
  return w;
}

void IngestGroup::Adopt(store::OpenProfile open) {
  if (!by_id_.count(open.row.id)) {
    Add(std::move(open));
  }
}

Result<Working*> IngestGroup::ById(store::ProfileId id) {
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

Status IngestGroup::FindStored(const std::vector<const IngestRequest*>& requests) {
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

bool IngestGroup::Duplicate(const std::string& key) {
  return !event_keys_.insert(key).second || stored_keys_.count(key) > 0;
}

Result<int> IngestGroup::Apply(Working& w, const IncomingEvent& e) {
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

Result<int> IngestGroup::Reevaluate(Working& w) {
  w.facts.derived = derived_.get();
  return ApplyOutcome(w, engine_.Reevaluate(w.facts, now_));
}

void IngestGroup::FillDerived(Working& w) const {
  if (derived_) {
    derived_->Fill(w.facts, now_);
  }
}

Result<int> IngestGroup::ApplyOutcome(Working& w, rules::EventOutcome out) {
  w.dirty = w.dirty || out.metrics != w.facts.metrics || out.lifecycle != w.facts.lifecycle;
  w.facts.metrics = std::move(out.metrics);
  w.facts.lifecycle = std::move(out.lifecycle);
  for (const rules::TimerOp& op : out.timers) {
    SetTimer(w.open.row.id, op.trigger->id,
             op.kind == rules::TimerOp::Kind::kArm ? std::optional(op.due_us) : std::nullopt);
  }
  FollowTransitions(w, out.transitions);
  for (const rules::Firing& f : out.fired) {
    PORTRAIT_RETURN_IF_ERROR(Fire(w, f));
  }
  return static_cast<int>(out.fired.size());
}

void IngestGroup::FollowTransitions(Working& w,
                                    const std::vector<rules::SegmentTransition>& transitions) {
  for (const rules::SegmentTransition& tr : transitions) {
    SetMember(tr.segment, w.open.row.id, tr.enter);
    for (const rules::Trigger& t : rules_->set.triggers) {
      if (t.kind == rules::TriggerKind::kSchedule && t.segment == tr.segment) {
        SetTimer(w.open.row.id, t.id, tr.enter ? engine_.NextRun(t, now_) : std::nullopt);
      }
    }
  }
}

Status IngestGroup::Fire(Working& w, const rules::Firing& f) {
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

json IngestGroup::TaskBody(Working& w, const rules::Trigger& t, const TaskConsent& allowed,
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

void IngestGroup::SetTimer(store::ProfileId id, const std::string& trigger,
                           std::optional<int64_t> due) {
  timers_[{id, trigger}] = due;
}

void IngestGroup::SetMember(const std::string& segment, store::ProfileId id, bool member) {
  members_[{segment, id}] = member;
}

int IngestGroup::ReconcileMembers(Working& w, const std::set<std::string>& indexed) {
  int changed = 0;
  for (const rules::Segment& s : rules_->set.segments) {
    const bool member = InSegment(w.facts, s.name);
    if (member != (indexed.count(s.name) > 0)) {
      SetMember(s.name, w.open.row.id, member);
      ++changed;
    }
  }
  return changed;
}

Result<int> IngestGroup::Rearm(Working& w, bool late_ok,
                               const std::vector<store::TimerRow>* stored) {
  std::vector<store::TimerRow> read;
  if (!stored) {
    PORTRAIT_ASSIGN_OR_RETURN(read, in_.store_.GetTimers(w.open.row.id));
    stored = &read;
  }
  std::vector<TimerChange> changes =
      RearmTimers(engine_, w.facts, *stored, now_, late_ok, /*membership_known=*/true);
  for (TimerChange& c : changes) {
    SetTimer(w.open.row.id, c.trigger, c.due);
  }
  return static_cast<int>(changes.size());
}

void IngestGroup::ArmLifecycle(Working& w) {
  if (NeedsDailyReevaluation(rules_->set)) {
    SetTimer(w.open.row.id, std::string(kLifecycleTimer), now_ + kDayUs);
  }
}

void IngestGroup::ArmSchedules(Working& w) {
  for (const rules::Trigger& t : rules_->set.triggers) {
    if (t.kind == rules::TriggerKind::kSchedule && t.segment.empty()) {
      SetTimer(w.open.row.id, t.id, engine_.NextRun(t, now_));
    }
  }
}

Result<store::CommitResult> IngestGroup::Commit() {
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
  for (const auto& [key, member] : members_) {
    batch_.members.push_back(store::SegmentMember{key.first, key.second, member});
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
    if (keep_open_) {
      in_.open_->Put(std::move(w));
    }
  }
  by_id_.clear();
  by_key_.clear();
  return result;
}

Working* IngestGroup::Add(store::OpenProfile open) {
  auto w = std::make_unique<Working>();
  w->facts = FactsOf(open.profile);
  if (reads_objection_ && !open.is_new) {
    // A failed ledger read leaves the customer out (the objection is the safe side).
    auto ledger = in_.consents_.Ledger(open.row.id);
    w->facts.objected_to_personalisation = !ledger || Objected(*ledger, now_);
  }
  w->open = std::move(open);
  Repair(*w);
  return Add(std::move(w));
}

void IngestGroup::Repair(Working& w) {
  std::vector<std::string> repaired = rules::RepairMetrics(rules_->set.metrics, w.facts.metrics);
  if (repaired.empty()) {
    return;
  }
  w.dirty = true;
  batch_.audit.push_back(store::AuditEntry{now_, "system", "profile.repaired", w.open.row.id, "",
                                           json{{"metrics", repaired}}.dump()});
}

Working* IngestGroup::Add(std::unique_ptr<Working> w) {
  Working* raw = w.get();
  by_key_[raw->open.row.ext_key] = raw;
  by_id_[raw->open.row.id] = std::move(w);
  return raw;
}

}  // namespace portrait::daemon
