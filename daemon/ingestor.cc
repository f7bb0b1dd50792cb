#include "daemon/ingestor.h"

#include <map>

#include "daemon/ingest_group.h"
#include "daemon/timer_rearm.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

}  // namespace

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

void Ingestor::KeepOpenUnder(const std::shared_ptr<const LoadedRules>& rules) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  if (open_under_ != rules) {
    open_ = std::make_unique<OpenProfiles>();
    open_under_ = rules;
  }
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
    Result<Working*> found = group.ById(timer.profile_id);
    if (!found && found.error().code() == Status::Code::kCorruption) {
      // A damaged profile can't be evaluated: its timer goes, and the sweep goes on (else it
      // would stop at this timer, the earliest due, every time).
      group.SetTimer(timer.profile_id, timer.trigger, std::nullopt);
      ++sweep.damaged;
      continue;
    }
    PORTRAIT_ASSIGN_OR_RETURN(Working * w, std::move(found));
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
    // A segment's schedule keeps a timer only while the profile is a member.
    const bool member = trigger->segment.empty() || InSegment(w->facts, trigger->segment);
    group.SetTimer(timer.profile_id, timer.trigger, member ? out.next : std::nullopt);
    if (out.fired) {
      PORTRAIT_RETURN_IF_ERROR(group.Fire(*w, *out.fired));
      ++sweep.fired;
    }
  }
  group.batch().audit.push_back(store::AuditEntry{
      now, "system", "timers.fire", 0, "",
      json{{"timers", sweep.timers}, {"fired", sweep.fired}, {"damaged", sweep.damaged}}.dump()});
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

Status Ingestor::AfterConsentRecord(store::ProfileId id) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  Forget(id);  // what is kept of it was read before the record
  if (!ReadsObjection(rules_.Get()->set)) {
    return Status::Ok();
  }
  return AfterProfileWrite(id);
}

}  // namespace portrait::daemon
