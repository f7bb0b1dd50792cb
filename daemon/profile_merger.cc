#include "daemon/profile_merger.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "consent/ledger.h"
#include "crypto/field_cipher.h"
#include "daemon/consent_service.h"
#include "daemon/profile_events.h"
#include "store/task_state.h"

namespace portrait::daemon {
namespace {

using crypto::FieldCipher;
using nlohmann::json;

bool SourceWins(const store::OpenProfile& target, const store::OpenProfile& source,
                MergePrefer prefer) {
  switch (prefer) {
    case MergePrefer::kTarget:
      return false;
    case MergePrefer::kSource:
      return true;
    case MergePrefer::kNewer:
      return source.row.updated_us > target.row.updated_us;
  }
  return false;
}

store::Profile MergeContents(const store::OpenProfile& target, const store::OpenProfile& source,
                             MergePrefer prefer, MergeCounts& counts) {
  const bool source_wins = SourceWins(target, source, prefer);
  store::Profile merged = target.profile;
  for (const auto& [name, value] : source.profile.fields.items()) {
    if (!merged.fields.contains(name) || source_wins) {
      merged.fields[name] = value;
      ++counts.fields_from_source;
    }
  }
  std::set<std::string> tags(merged.tags.begin(), merged.tags.end());
  tags.insert(source.profile.tags.begin(), source.profile.tags.end());
  merged.tags.assign(tags.begin(), tags.end());
  if (!source.profile.timezone.empty() && (source_wins || merged.timezone.empty())) {
    merged.timezone = source.profile.timezone;
  }
  merged.created_us = std::min(target.profile.created_us, source.profile.created_us);
  return merged;
}

// Moves the source's events (re-sealed) and recomputes the metrics and the purchase books over
// both sides' events.
Result<json> MoveEvents(const MergeInputs& in, const store::OpenProfile& target,
                        const store::OpenProfile& source, MergePlan& plan) {
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<PlainEvent> events, OpenEvents(in.store, target, {}));
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<PlainEvent> moved, OpenEvents(in.store, source, {}));
  for (const PlainEvent& e : moved) {
    store::EventRow row{e.key, target.row.id, e.type, e.time_us, ""};
    PORTRAIT_ASSIGN_OR_RETURN(row.data,
                              in.vault.Seal(target, store::kEventDataField, e.data.dump()));
    plan.batch.moved_events.push_back(std::move(row));
  }
  plan.counts.events_moved = static_cast<int>(moved.size());
  const auto middle = events.insert(events.end(), std::make_move_iterator(moved.begin()),
                                    std::make_move_iterator(moved.end()));
  std::inplace_merge(events.begin(), middle, events.end(),
                     [](const PlainEvent& a, const PlainEvent& b) {
                       return std::tie(a.time_us, a.key) < std::tie(b.time_us, b.key);
                     });
  json metrics = json::object();
  ApplyKept(in.metrics, in.models, events, metrics);
  return metrics;
}

int Restrictiveness(consent::ConsentStatus s) {
  switch (s) {
    case consent::ConsentStatus::kObjected:
      return 2;
    case consent::ConsentStatus::kWithdrawn:
      return 1;
    case consent::ConsentStatus::kGranted:
      return 0;
  }
  return 0;
}

using ConsentKey = std::tuple<std::string, consent::ConsentScope, consent::Channel>;

// The more restrictive of the two sides' current records for each purpose/scope/channel.
std::map<ConsentKey, consent::ConsentRecord> MostRestrictive(
    const std::vector<consent::ConsentRecord>& a, const std::vector<consent::ConsentRecord>& b,
    int64_t now_us) {
  std::map<ConsentKey, consent::ConsentRecord> out;
  for (const auto* ledger : {&a, &b}) {
    for (const consent::ConsentRecord& r : consent::CurrentState(*ledger, now_us)) {
      auto [it, added] = out.try_emplace(ConsentKey{r.purpose, r.scope, r.channel}, r);
      if (!added && Restrictiveness(r.status) > Restrictiveness(it->second.status)) {
        it->second = r;
      }
    }
  }
  return out;
}

// Copies the source's ledger under the target, then restores the most restrictive state.
Status MergeConsents(const MergeInputs& in, const store::OpenProfile& target,
                     const store::OpenProfile& source, MergePlan& plan) {
  PORTRAIT_ASSIGN_OR_RETURN(auto target_rows, in.store.GetConsents(target.row.id));
  PORTRAIT_ASSIGN_OR_RETURN(auto source_rows, in.store.GetConsents(source.row.id));
  std::vector<consent::ConsentRecord> target_ledger, source_ledger, merged;
  int64_t next_id = 0;
  for (const store::ConsentRow& row : target_rows) {
    target_ledger.push_back(ToRecord(row));
    next_id = std::max(next_id, row.id);
  }
  merged = target_ledger;
  const std::string from_ad = FieldCipher::AssociatedData(source.row.id, kConsentEvidenceField);
  for (store::ConsentRow row : source_rows) {
    source_ledger.push_back(ToRecord(row));
    if (!row.evidence.empty()) {
      PORTRAIT_ASSIGN_OR_RETURN(std::string evidence,
                                FieldCipher::Open(source.key, from_ad, row.evidence));
      PORTRAIT_ASSIGN_OR_RETURN(row.evidence,
                                in.vault.Seal(target, kConsentEvidenceField, evidence));
    }
    row.profile_id = target.row.id;
    merged.push_back(ToRecord(row));
    merged.back().id = ++next_id;  // the store assigns the copies ids after every stored one
    row.id = 0;
    plan.batch.consents.push_back(std::move(row));
  }
  plan.counts.consents_copied = static_cast<int>(source_rows.size());
  for (const auto& [key, strictest] : MostRestrictive(target_ledger, source_ledger, in.now_us)) {
    const auto& [purpose, scope, channel] = key;
    const consent::ConsentRecord* in_force =
        consent::RecordInForce(merged, purpose, scope, channel, in.now_us);
    if (in_force && Restrictiveness(in_force->status) >= Restrictiveness(strictest.status)) {
      continue;
    }
    store::ConsentRow row;
    row.profile_id = target.row.id;
    row.purpose = purpose;
    row.scope = std::string(consent::ScopeName(scope));
    row.channel = std::string(consent::ChannelName(channel));
    row.status = std::string(consent::StatusName(strictest.status));
    row.time_us = in.now_us;
    row.source = "merge";
    row.notice = strictest.notice;
    row.actor = in.actor;
    plan.batch.consents.push_back(std::move(row));
    ++plan.counts.consents_restricted;
  }
  return Status::Ok();
}

Status CancelTasks(const MergeInputs& in, const store::OpenProfile& source, MergePlan& plan) {
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::TaskRow> tasks, in.store.GetTasks(source.row.id));
  for (const store::TaskRow& t : tasks) {
    if (t.trigger == store::kErasureNotice || !store::IsUnfinished(t.state)) {
      continue;
    }
    plan.batch.task_updates.push_back(store::TaskUpdate{t.id, "cancelled", "profile merged",
                                                        t.due_us, t.attempts, in.now_us, true});
    ++plan.counts.tasks_cancelled;
  }
  return Status::Ok();
}

}  // namespace

Result<MergePrefer> ParseMergePrefer(std::string_view name) {
  if (name == "newer") {
    return MergePrefer::kNewer;
  }
  if (name == "target") {
    return MergePrefer::kTarget;
  }
  if (name == "source") {
    return MergePrefer::kSource;
  }
  return Error(Status::InvalidArgument("prefer: expected newer, target or source"));
}

Result<MergePlan> PlanMerge(const MergeInputs& in, const store::OpenProfile& target,
                            const store::OpenProfile& source, MergePrefer prefer) {
  MergePlan plan;
  store::Profile merged = MergeContents(target, source, prefer, plan.counts);
  PORTRAIT_ASSIGN_OR_RETURN(merged.metrics, MoveEvents(in, target, source, plan));
  // The target's segment transitions go on being numbered from where they were (rules/engine.h:
  // a number used again would make a new transition's dedupe key an old one's); the target is
  // re-evaluated after the merge, its members-index rows following. The source's rows go with
  // its erasure.
  if (auto it = target.profile.metrics.find("$segments"); it != target.profile.metrics.end()) {
    merged.metrics["$segments"] = *it;
  }
  PORTRAIT_ASSIGN_OR_RETURN(store::ProfileWrite write,
                            in.vault.FullWrite(target, merged, in.now_us));
  plan.batch.profiles.push_back(std::move(write));
  PORTRAIT_RETURN_IF_ERROR(MergeConsents(in, target, source, plan));
  PORTRAIT_RETURN_IF_ERROR(CancelTasks(in, source, plan));
  // The sinks that received the source's data hold it under the source's id, which is gone:
  // they are told it was erased (its data lives on under the target's id).
  PORTRAIT_RETURN_IF_ERROR(in.vault.QueueErasureNotices(source.row.id, source.profile.external_id,
                                                        in.now_us, plan.batch));
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::AliasRow> aliases,
                            in.store.GetAliases(source.row.id));
  plan.batch.moved_aliases.emplace_back(source.row.id, target.row.id);
  plan.batch.erasures.push_back(source.row.id);
  plan.batch.aliases.push_back(
      store::AliasRow{source.row.ext_key, target.row.id, source.row.id, in.now_us});
  plan.counts.aliases = static_cast<int>(aliases.size()) + 1;
  return plan;
}

}  // namespace portrait::daemon
