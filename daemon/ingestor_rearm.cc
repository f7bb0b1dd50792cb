// Ingestor: re-arming every profile's timers after a change of the rules or the time zone, from
// the anniversary anchors (nothing decrypted), and the one-time backfill of those anchors.
#include <set>

#include "daemon/ingestor.h"
#include "daemon/pass_marks.h"
#include "daemon/timer_rearm.h"
#include "store/anchor_date.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

// The meta key holding the fingerprint of the rules the timers were armed for (and, among several
// nodes, the prefix of each partition's: PassMark).
constexpr std::string_view kArmedRulesKey = "timers.rules_fingerprint";
// The meta key naming the date fields every profile's anchors were made for.
constexpr std::string_view kAnchoredFieldsKey = "anchors.fields";

// The config's date fields, sorted.
std::set<std::string> DateFields(const config::Config& config) {
  std::set<std::string> out;
  for (const config::Field& f : config.fields) {
    if (f.type == config::FieldType::kDate) {
      out.insert(f.name);
    }
  }
  return out;
}

// What kAnchoredFieldsKey holds once every profile has anchors for `fields`.
std::string AnchoredFieldsValue(const std::set<std::string>& fields) {
  std::string out = "v1:";
  for (const std::string& f : fields) {
    out += f + ",";
  }
  return out;
}

}  // namespace

Result<RearmProgress> Ingestor::RearmProfiles(store::ProfileId after, int limit,
                                              std::optional<int> part) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  PORTRAIT_ASSIGN_OR_RETURN(
      std::vector<store::TimerInputs> inputs,
      part ? store_.RearmInputsIn(*part, after, limit) : store_.RearmInputs(after, limit));
  RearmProgress progress;
  if (inputs.empty()) {
    return progress;
  }
  const std::shared_ptr<const LoadedRules> rules = rules_.Get();
  const int64_t now = clock_.NowUs();
  store::Batch batch;
  for (const store::TimerInputs& in : inputs) {
    for (TimerChange& c :
         RearmTimers(rules->engine, AnchoredFacts(in), in.timers, now, /*late_ok=*/true,
                     /*membership_known=*/false)) {
      if (c.due) {
        batch.timers.push_back(store::TimerRow{in.profile_id, std::move(c.trigger), *c.due});
      } else {
        batch.cleared_timers.emplace_back(in.profile_id, std::move(c.trigger));
      }
      ++progress.changed;
    }
  }
  if (progress.changed > 0) {
    PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  }
  progress.last = inputs.back().profile_id;
  return progress;
}

Status Ingestor::BeginRearm() {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  store::Batch batch;
  PORTRAIT_RETURN_IF_ERROR(PassMark(kArmedRulesKey).BeginBaseWide(store_, batch));
  if (!batch.meta.empty()) {
    PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  }
  return Status::Ok();
}

Status Ingestor::MarkRulesArmed(int64_t changed) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  store::Batch batch;
  PassMark(kArmedRulesKey).MarkBaseWide(batch, rules_.Get()->fingerprint);
  batch.audit.push_back(store::AuditEntry{
      clock_.NowUs(), "system", "timers.rearm", 0, "",
      json{{"changed", changed}, {"rules_fingerprint", rules_.Get()->fingerprint}}.dump()});
  PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  return Status::Ok();
}

Result<bool> Ingestor::RulesArmed() {
  return PassMark(kArmedRulesKey).Done(store_, rules_.Get()->fingerprint);
}

std::string Ingestor::ArmingTarget() const { return rules_.Get()->shared_fingerprint; }

Result<std::vector<store::HeldPartition>> Ingestor::UnarmedPartitions(
    const std::string& target, const std::vector<store::HeldPartition>& held) {
  return PassMark(kArmedRulesKey).Pending(store_, rules_.Get()->fingerprint, target, held);
}

Status Ingestor::BeginPartitionRearm() {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  store::Batch batch;
  PORTRAIT_ASSIGN_OR_RETURN(
      bool cleared,
      PassMark(kArmedRulesKey).BeginPartitions(store_, rules_.Get()->fingerprint, batch));
  if (cleared) {
    PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  }
  return Status::Ok();
}

Status Ingestor::MarkPartitionArmed(const store::HeldPartition& p, const std::string& target,
                                    int64_t changed) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  if (!StillHeld(store_.HeldPartitions(), p)) {
    return Status::Unavailable("partition " + std::to_string(p.part) +
                               " changed hands during its re-arm");
  }
  store::Batch batch;
  PORTRAIT_RETURN_IF_ERROR(PassMark(kArmedRulesKey).MarkPartition(store_, batch, p.part, target));
  if (changed > 0) {
    batch.audit.push_back(store::AuditEntry{
        clock_.NowUs(), "system", "timers.rearm", 0, "",
        json{{"changed", changed}, {"partition", p.part}, {"rules_fingerprint", target}}.dump()});
  }
  PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  return Status::Ok();
}

Result<bool> Ingestor::AnchorsComplete(std::optional<int> part) {
  const std::string fields = AnchoredFieldsNow();
  const PassMark mark(kAnchoredFieldsKey);
  std::optional<std::vector<store::HeldPartition>> held = store_.HeldPartitions();
  if (!held) {
    return mark.Done(store_, fields);
  }
  if (part) {
    held = std::vector<store::HeldPartition>{{*part, 0}};  // the marks name no tenure
  }
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::HeldPartition> pending,
                            mark.Pending(store_, fields, fields, *held));
  return pending.empty();
}

Result<RearmProgress> Ingestor::BackfillAnchors(store::ProfileId after, int limit,
                                                std::optional<int> part) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  PORTRAIT_ASSIGN_OR_RETURN(
      std::vector<store::TimerInputs> inputs,
      part ? store_.RearmInputsIn(*part, after, limit) : store_.RearmInputs(after, limit));
  RearmProgress progress;
  if (inputs.empty()) {
    return progress;
  }
  const std::set<std::string> dates = DateFields(*rules_.Get()->config);
  const int64_t now = clock_.NowUs();
  store::Batch batch;
  for (const store::TimerInputs& in : inputs) {
    auto open = vault_.Open(in.profile_id);
    if (!open && open.error().code() == Status::Code::kNotFound) {
      continue;  // erased meanwhile (its key gone first)
    }
    if (!open) {
      return Error(open.error());
    }
    const nlohmann::json& fields = open->profile.fields;
    std::map<std::string, std::optional<store::AnchorDate>> wanted;
    for (const auto& [field, anchor] : in.anchors) {
      wanted[field] = std::nullopt;  // unless the field is still a date and holds one
    }
    for (const std::string& field : dates) {
      auto it = fields.find(field);
      wanted[field] = it != fields.end() && it->is_string()
                          ? store::AnchorOf(it->get_ref<const std::string&>(), now)
                          : std::nullopt;
    }
    for (auto& [field, date] : wanted) {
      auto stored = in.anchors.find(field);
      if (date == (stored == in.anchors.end() ? std::nullopt : std::optional(stored->second))) {
        continue;
      }
      batch.anchors.push_back(store::AnchorChange{in.profile_id, field, date});
      ++progress.changed;
    }
  }
  if (progress.changed > 0) {
    PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  }
  progress.last = inputs.back().profile_id;
  return progress;
}

std::string Ingestor::AnchoredFieldsNow() const {
  return AnchoredFieldsValue(DateFields(*rules_.Get()->config));
}

Status Ingestor::BeginBackfill(const std::string& fields) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  const PassMark mark(kAnchoredFieldsKey);
  store::Batch batch;
  if (store_.HeldPartitions()) {
    PORTRAIT_RETURN_IF_ERROR(mark.BeginPartitions(store_, fields, batch));
  } else {
    PORTRAIT_RETURN_IF_ERROR(mark.BeginBaseWide(store_, batch));
  }
  if (!batch.meta.empty()) {
    PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  }
  return Status::Ok();
}

Result<std::vector<store::HeldPartition>> Ingestor::UnanchoredPartitions(
    const std::string& fields, const std::vector<store::HeldPartition>& held) {
  return PassMark(kAnchoredFieldsKey).Pending(store_, fields, fields, held);
}

Status Ingestor::MarkPartitionAnchored(const store::HeldPartition& p, const std::string& fields,
                                       int64_t changed) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  if (!StillHeld(store_.HeldPartitions(), p)) {
    return Status::Unavailable("partition " + std::to_string(p.part) +
                               " changed hands during its anchors' backfill");
  }
  store::Batch batch;
  PORTRAIT_RETURN_IF_ERROR(
      PassMark(kAnchoredFieldsKey).MarkPartition(store_, batch, p.part, fields));
  batch.fenced_parts.push_back(p.part);  // the lease must hold at the commit
  if (changed > 0) {
    batch.audit.push_back(
        store::AuditEntry{clock_.NowUs(), "system", "anchors.backfill", 0, "",
                          json{{"changed", changed}, {"partition", p.part}}.dump()});
  }
  PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  return Status::Ok();
}

Status Ingestor::MarkAnchorsComplete(int64_t changed, const std::string& fields) {
  PORTRAIT_DCHECK_ON_THREAD(writer_thread_);
  store::Batch batch;
  batch.meta[std::string(kAnchoredFieldsKey)] = fields;
  if (changed > 0) {
    batch.audit.push_back(store::AuditEntry{clock_.NowUs(), "system", "anchors.backfill", 0, "",
                                            json{{"changed", changed}}.dump()});
  }
  PORTRAIT_RETURN_IF_ERROR(audit_.Commit(batch));
  return Status::Ok();
}

}  // namespace portrait::daemon
