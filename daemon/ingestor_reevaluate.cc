// Ingestor: the base-wide re-evaluation after a change of the rules that decide the portrait
// (or on request): the profiles the check found changed (daemon/ingestor_check.cc) re-evaluated
// and their members-index rows and timers brought in line, in writer jobs that record their
// progress (DECISIONS 107, 120).
#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "daemon/ingest_group.h"
#include "daemon/ingestor.h"
#include "daemon/pass_marks.h"
#include "daemon/timer_rearm.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

// The fingerprint of the rules the whole base was last re-evaluated for (and, among several
// nodes, the prefix of each partition's: PassMark).
constexpr std::string_view kEvaluatedKey = "portrait.fingerprint";
// "FINGERPRINT:LAST_ID": how far the pass for FINGERPRINT went.
constexpr std::string_view kPassKey = "portrait.pass";
// The segments the members index holds rows of (a JSON array of names).
constexpr std::string_view kIndexedKey = "segments.indexed";
// The epoch of the rules besides the [[segment]]s, "BASE#RANDOM": BASE their fingerprint
// (BaseFingerprint), RANDOM new whenever BASE changes (Ingestor::NoteRulesInForce).
constexpr std::string_view kEpochKey = "portrait.epoch";
// "EPOCH+N~M|FINGERPRINT": the epoch, the requests and rebuilds (EvaluationSuffix) and the target
// of the last pass that began and completed in it: every profile's portrait besides its segments
// is as those rules make it (docs/DECISIONS.md 178).
constexpr std::string_view kBaseKey = "portrait.base";
// The number of the last request for a pass (a fit or refresh whose values the portrait reads),
// written in the request's own batch: part of what the mark must match (EvaluationTarget).
constexpr std::string_view kRequestKey = "portrait.requested";

// FNV-1a over `text`, in hex: stable across builds and runs.
std::string Fnv1a(std::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h = (h ^ c) * 1099511628211ull;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

// What decides a profile's portrait, as text: every part separated by NULs (no rule text holds
// one); without `segments`, all but the [[segment]]s.
std::string PortraitText(const rules::RuleSet& set, bool segments = true) {
  std::string t = "v1";
  auto add = [&t](std::string_view part) { (t += '\0') += part; };
  for (const rules::LifecycleStage& s : set.lifecycle) add("stage:" + s.stage + "=" + s.source);
  for (const rules::TagRule& r : set.tags) add("tag:" + r.path + "=" + r.source);
  if (segments) {
    for (const rules::Segment& s : set.segments) {
      add("segment:" + s.name + (s.marketing ? "!" : "=") + s.source);
    }
  }
  for (const rules::Score& s : set.scores) {
    add("score:" + s.name + "=" + s.recency + "," + s.frequency + "," + s.monetary);
  }
  for (const rules::Model& m : set.models) {
    add("model:" + m.name + "=" + m.purchases + "," + m.amount + "," +
        std::to_string(static_cast<int>(m.unit)) + "," + std::to_string(m.discount));
  }
  for (const rules::Trigger& tr : set.triggers) {
    if (tr.kind == rules::TriggerKind::kSchedule && !tr.segment.empty()) {
      add("schedule:" + tr.id + "=" + tr.segment);
    }
  }
  return t;
}

// What the epoch (kEpochKey) follows: what decides the portrait besides the [[segment]]s, and
// the default time zone its conditions' days are counted in.
std::string BaseFingerprint(const LoadedRules& rules) {
  return Fnv1a(PortraitText(rules.set, /*segments=*/false) + '\0' +
               "zone:" + rules.config->daemon.timezone);
}

// The segment names kIndexedKey holds (none when it is absent or unreadable).
std::set<std::string> IndexedSegments(const std::optional<std::string>& stored) {
  std::set<std::string> out;
  if (!stored) {
    return out;
  }
  json names = json::parse(*stored, nullptr, /*allow_exceptions=*/false);
  if (names.is_array()) {
    for (const json& n : names) {
      if (n.is_string()) {
        out.insert(n.get<std::string>());
      }
    }
  }
  return out;
}

// The last request's number (0 when none). Corruption naming the key when the stored value is
// not a whole non-negative number: read as 0 it could make the target equal an old mark, and
// the request it stands for would never be answered.
Result<int64_t> LastRequest(store::Store& store) { return MetaCount(store, kRequestKey); }

// What a pass begins with, on one node or among several: the members-index rows of segments the
// rules no longer have dropped, the segments indexed recorded, and for a base never evaluated
// whose rules have nothing to evaluate, the mark. Returns whether a pass is needed.
Result<bool> PrepareReevaluation(store::Store& store, const rules::RuleSet& set,
                                 const std::optional<std::string>& mark, const std::string& target,
                                 store::Batch& batch) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> indexed, store.GetMeta(kIndexedKey));
  json names = json::array();
  std::set<std::string> current;
  for (const rules::Segment& s : set.segments) {
    names.push_back(s.name);
    current.insert(s.name);
  }
  for (const std::string& old : IndexedSegments(indexed)) {
    if (!current.count(old)) {
      batch.dropped_segments.push_back(old);
    }
  }
  batch.meta[std::string(kIndexedKey)] = names.dump();
  if (!mark && set.segments.empty() && set.tags.empty()) {
    PassMark(kEvaluatedKey).MarkBaseWide(batch, target);  // nothing to evaluate
    return false;
  }
  return true;
}

// The detail of a pass's portrait.reevaluate audit record: counts and the target, no value.
json ReevaluationDetail(const ReevaluationProgress& totals, const std::string& fingerprint) {
  return json{{"checked", totals.checked}, {"profiles", totals.profiles},
              {"tasks", totals.tasks},     {"index_changes", totals.index_changes},
              {"damaged", totals.damaged}, {"rules_fingerprint", fingerprint}};
}

}  // namespace

Status AddReevaluationRequest(store::Store& store, store::Batch& batch) {
  PORTRAIT_ASSIGN_OR_RETURN(int64_t last, LastRequest(store));
  batch.meta[std::string(kRequestKey)] = std::to_string(last + 1);
  return Status::Ok();
}

std::string Ingestor::PortraitFingerprint() const { return Fnv1a(PortraitText(rules_.Get()->set)); }

Result<std::string> Ingestor::EvaluationSuffix() {
  PORTRAIT_ASSIGN_OR_RETURN(int64_t request, LastRequest(store_));
  PORTRAIT_ASSIGN_OR_RETURN(int64_t rebuilds, MetaCount(store_, kRebuildsKey));
  std::string suffix;
  if (request > 0) {
    suffix += "+" + std::to_string(request);
  }
  if (rebuilds > 0) {
    suffix += "~" + std::to_string(rebuilds);  // kept values rebuilt since (KeptMarks)
  }
  return suffix;
}

Result<std::string> Ingestor::EvaluationTarget(const rules::RuleSet& set) {
  PORTRAIT_ASSIGN_OR_RETURN(std::string suffix, EvaluationSuffix());
  return Fnv1a(PortraitText(set)) + suffix;
}

Status Ingestor::NoteRulesInForce(const LoadedRules& next) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  const std::string base = BaseFingerprint(next);
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> epoch, store_.GetMeta(kEpochKey));
  if (epoch && epoch->starts_with(base + "#")) {
    return Status::Ok();
  }
  std::random_device random;
  store::Batch batch;
  batch.meta[std::string(kEpochKey)] =
      base + "#" + std::to_string(random()) + "." + std::to_string(random());
  PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  return Status::Ok();
}

Result<bool> Ingestor::PortraitEvaluated() {
  PORTRAIT_ASSIGN_OR_RETURN(std::string target, EvaluationTarget(rules_.Get()->set));
  return PassMark(kEvaluatedKey).Done(store_, target);
}

Result<Ingestor::PartitionReevaluation> Ingestor::BeginPartitionReevaluation(
    const std::vector<store::HeldPartition>& held) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  const std::shared_ptr<const LoadedRules> rules = rules_.Get();
  PartitionReevaluation begun;
  PORTRAIT_ASSIGN_OR_RETURN(begun.fingerprint, EvaluationTarget(rules->set));
  const PassMark mark(kEvaluatedKey);
  PORTRAIT_ASSIGN_OR_RETURN(begun.pending,
                            mark.Pending(store_, begun.fingerprint, begun.fingerprint, held));
  if (begun.pending.empty()) {
    return begun;
  }
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> stored, store_.GetMeta(kEvaluatedKey));
  store::Batch batch;
  PORTRAIT_ASSIGN_OR_RETURN(
      bool needed, PrepareReevaluation(store_, rules->set, stored, begun.fingerprint, batch));
  if (!needed) {
    begun.pending.clear();
  } else {
    PORTRAIT_ASSIGN_OR_RETURN(bool cleared, mark.BeginPartitions(store_, begun.fingerprint, batch));
    if (cleared) {
      batch.meta[std::string(kPassKey)] = "";  // a base-wide pass's progress: void now
    }
  }
  PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  return begun;
}

Status Ingestor::MarkPartitionReevaluated(const store::HeldPartition& p,
                                          const std::string& fingerprint,
                                          const ReevaluationProgress& totals) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  if (!StillHeld(store_.HeldPartitions(), p)) {
    return Status::Unavailable("partition " + std::to_string(p.part) +
                               " changed hands during its re-evaluation");
  }
  store::Batch batch;
  PORTRAIT_RETURN_IF_ERROR(
      PassMark(kEvaluatedKey).MarkPartition(store_, batch, p.part, fingerprint));
  if (totals.profiles > 0 || totals.damaged > 0) {
    json detail = ReevaluationDetail(totals, fingerprint);
    detail["partition"] = p.part;
    batch.audit.push_back(
        store::AuditEntry{clock_.NowUs(), "system", "portrait.reevaluate", 0, "", detail.dump()});
  }
  PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  return Status::Ok();
}

Result<ReevaluationStart> Ingestor::BeginReevaluation() {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  const std::shared_ptr<const LoadedRules> rules = rules_.Get();
  ReevaluationStart start;
  PORTRAIT_ASSIGN_OR_RETURN(start.fingerprint, EvaluationTarget(rules->set));
  start.pass = start.fingerprint;
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> mark, store_.GetMeta(kEvaluatedKey));
  if (mark && *mark == start.fingerprint) {
    return start;
  }
  // Only the segments changed since a pass completed in this epoch, begun for these rules
  // besides the segments: every profile's portrait but its segments is as they make it.
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> epoch, store_.GetMeta(kEpochKey));
  if (epoch && epoch->starts_with(BaseFingerprint(*rules) + "#")) {
    PORTRAIT_ASSIGN_OR_RETURN(std::string suffix, EvaluationSuffix());
    PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> base, store_.GetMeta(kBaseKey));
    start.base = *epoch + suffix;
    // The pass that recorded the base is the last that completed: no other (an older portraitd's,
    // which knows no epoch) marked the base evaluated since.
    if (mark && base == start.base + "|" + *mark) {
      start.scope = rules::PassScope::kSegments;
      start.pass += "/segments";
    }
    start.pass += "@" + *epoch;  // a pass cut off in another epoch is not resumed
  }
  store::Batch batch;
  PORTRAIT_ASSIGN_OR_RETURN(
      start.needed, PrepareReevaluation(store_, rules->set, mark, start.fingerprint, batch));
  if (start.needed) {
    PORTRAIT_RETURN_IF_ERROR(PassMark(kEvaluatedKey).BeginBaseWide(store_, batch));
    PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> pass, store_.GetMeta(kPassKey));
    const std::string prefix = start.pass + ":";
    if (pass && pass->starts_with(prefix)) {
      start.after = std::strtoll(pass->c_str() + prefix.size(), nullptr, 10);
    }
  }
  PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  return start;
}

Result<ReevaluationProgress> Ingestor::ReevaluateProfiles(const ReevaluationCheck& check,
                                                          const std::string& pass,
                                                          std::optional<int> part) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  ReevaluationProgress progress;
  progress.last = check.last;
  progress.checked = check.checked;
  // Their members-index rows and timers as they are now: in range reads when much of the range
  // changed (a new segment, say), else per profile. A partition's ids lie spread over the whole
  // id space, so its range is read as the check read it (PortraitInputsIn, its segments and
  // timers).
  const bool dense =
      !check.changed.empty() && check.changed.size() * 4 >= static_cast<size_t>(check.checked);
  std::map<store::ProfileId, std::set<std::string>> indexed;
  std::map<store::ProfileId, std::vector<store::TimerRow>> timers;
  if (dense && part) {
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::PortraitInputs> inputs,
                              store_.PortraitInputsIn(*part, check.changed.front() - 1,
                                                      static_cast<int>(check.checked), {}));
    for (store::PortraitInputs& in : inputs) {
      indexed[in.row.id].insert(in.segments.begin(), in.segments.end());
      timers[in.row.id] = std::move(in.timers.timers);
    }
  } else if (dense) {
    const store::ProfileId first = check.changed.front();
    const store::ProfileId last = check.changed.back();
    PORTRAIT_ASSIGN_OR_RETURN(auto rows, store_.MembershipsBetween(first, last));
    for (auto& [id, segment] : rows) {
      indexed[id].insert(std::move(segment));
    }
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::TimerInputs> inputs,
                              store_.RearmInputs(first - 1, static_cast<int>(check.checked)));
    for (store::TimerInputs& in : inputs) {
      timers[in.profile_id] = std::move(in.timers);
    }
  }
  IngestGroup group(*this, clock_.NowUs());
  group.KeepNothingOpen();
  for (const store::ProfileId id : check.changed) {
    if (!dense) {
      PORTRAIT_ASSIGN_OR_RETURN(auto rows, store_.MembershipsBetween(id, id));
      for (auto& [profile, segment] : rows) {
        indexed[id].insert(std::move(segment));
      }
    }
    Result<Working*> found = group.ById(id);
    if (!found && found.error().code() == Status::Code::kCorruption) {
      ++progress.damaged;  // left as it is: one damaged profile must not stop the pass
      continue;
    }
    PORTRAIT_ASSIGN_OR_RETURN(Working * w, std::move(found));
    if (!w) {
      continue;  // erased meanwhile
    }
    PORTRAIT_ASSIGN_OR_RETURN(int fired, group.Reevaluate(*w));
    progress.tasks += fired;
    progress.index_changes += group.ReconcileMembers(*w, indexed[id]);
    auto stored = timers.find(id);
    PORTRAIT_RETURN_IF_ERROR(
        group.Rearm(*w, /*late_ok=*/false, stored == timers.end() ? nullptr : &stored->second));
    ++progress.profiles;
  }
  if (!part) {
    group.batch().meta[std::string(kPassKey)] = pass + ":" + std::to_string(progress.last);
  }
  group.batch().digests = check.digests;  // stored last: those written meanwhile keep none
  PORTRAIT_RETURN_IF_ERROR(group.Commit());
  return progress;
}

Status Ingestor::MarkReevaluated(const ReevaluationStart& start,
                                 const ReevaluationProgress& totals) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  store::Batch batch;
  PassMark(kEvaluatedKey).MarkBaseWide(batch, start.fingerprint);
  batch.meta[std::string(kPassKey)] = "";
  if (!start.base.empty()) {
    batch.meta[std::string(kBaseKey)] = start.base + "|" + start.fingerprint;
  }
  json detail = ReevaluationDetail(totals, start.fingerprint);
  detail["segments_only"] = start.scope == rules::PassScope::kSegments;
  batch.audit.push_back(
      store::AuditEntry{clock_.NowUs(), "system", "portrait.reevaluate", 0, "", detail.dump()});
  PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  return Status::Ok();
}

}  // namespace portrait::daemon
