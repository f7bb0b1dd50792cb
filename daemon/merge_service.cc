#include "daemon/merge_service.h"

#include "consent/access_policy.h"
#include "daemon/consent_service.h"

namespace portrait::daemon {

using nlohmann::json;

namespace {

json Answer(store::ProfileId target, store::ProfileId source, const std::string& prefer,
            const MergeCounts& c) {
  return json{{"internal_id", target},
              {"merged_internal_id", source},
              {"prefer", prefer},
              {"events_moved", c.events_moved},
              {"consents_copied", c.consents_copied},
              {"consents_restricted", c.consents_restricted},
              {"tasks_cancelled", c.tasks_cancelled},
              {"aliases", c.aliases},
              {"data_key", "destroyed"}};
}

}  // namespace

Result<MergeService::Request> MergeService::ParseBody(const json& body) {
  if (!body.is_object()) {
    return Error(Status::InvalidArgument("the merge body must be a JSON object"));
  }
  Request r;
  for (const auto& [key, value] : body.items()) {
    if (key != "from" && key != "prefer") {
      return Error(Status::InvalidArgument("unknown key '" + key + "' (expected from, prefer)"));
    }
    if (!value.is_string()) {
      return Error(Status::InvalidArgument(key + ": expected a string"));
    }
  }
  if (!body.contains("from")) {
    return Error(Status::InvalidArgument("from: required (the external id to merge)"));
  }
  r.from = body["from"].get<std::string>();
  if (r.from.empty() || r.from.size() > 256) {
    return Error(Status::InvalidArgument("from: expected 1-256 bytes"));
  }
  if (body.contains("prefer")) {
    r.prefer = body["prefer"].get<std::string>();
  }
  PORTRAIT_RETURN_IF_ERROR(ParseMergePrefer(r.prefer));
  return r;
}

Result<bool> MergeService::Require(const Caller& caller) {
  for (std::string_view permission : kMergePermissions) {
    if (!consent::HasPermission(*caller.role, permission)) {
      return Error(RefuseRequest(audit_, clock_, caller, permission));
    }
  }
  return true;
}

store::AuditEntry MergeService::Entry(const Caller& caller, std::string action, store::ProfileId id,
                                      const json& detail) const {
  return store::AuditEntry{clock_.NowUs(),       caller.Actor(), std::move(action), id,
                           caller.purpose->name, detail.dump()};
}

Status MergeService::RefuseHeld(const Caller& caller, store::ProfileId target,
                                store::ProfileId source) {
  (void)audit_.Append({Entry(caller, "profile.merge.refused", target,
                             {{"from", source}, {"reason", "legal_hold"}})});
  return Status::Conflict("profile " + std::to_string(target) + " or " + std::to_string(source) +
                          " is under legal hold; lift the hold before merging");
}

Result<MergeOutcome> MergeService::Finish(const Caller& caller, const store::AliasRow& alias) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> key, store_.GetDataKey(alias.merged_id));
  if (key) {
    PORTRAIT_RETURN_IF_ERROR(
        audit_.Append({Entry(caller, "profile.merge", alias.profile_id,
                             {{"from", alias.merged_id}, {"finished", true}})}));
    PORTRAIT_RETURN_IF_ERROR(vault_.DestroyKey(alias.merged_id));
    log_.info("merge of profile {} into {} finished: data key destroyed", alias.merged_id,
              alias.profile_id);
  }
  return MergeOutcome{json{{"internal_id", alias.profile_id},
                           {"merged_internal_id", alias.merged_id},
                           {"already_merged", true},
                           {"data_key", "destroyed"}},
                      alias.profile_id, alias.merged_id};
}

Status MergeService::FinishInterrupted() {
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::ProfileId> merged, store_.GetMergedIds());
  for (store::ProfileId id : merged) {
    PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> key, store_.GetDataKey(id));
    if (!key) {
      continue;
    }
    PORTRAIT_RETURN_IF_ERROR(audit_.Append({store::AuditEntry{
        clock_.NowUs(), "system", "profile.merge", id, "", R"({"finished":true})"}}));
    PORTRAIT_RETURN_IF_ERROR(vault_.DestroyKey(id));
    log_.info("the merge of profile {} was cut off; finished: data key destroyed", id);
  }
  return Status::Ok();
}

Result<MergeOutcome> MergeService::Merge(const Caller& caller, std::string_view target_id,
                                         const json& body) {
  PORTRAIT_RETURN_IF_ERROR(Require(caller));
  PORTRAIT_ASSIGN_OR_RETURN(Request request, ParseBody(body));
  PORTRAIT_ASSIGN_OR_RETURN(auto target, store_.GetProfileByKey(vault_.ExtKey(target_id)));
  PORTRAIT_ASSIGN_OR_RETURN(auto source, store_.GetProfileByKey(vault_.ExtKey(request.from)));
  if (!target || !source) {
    return Error(Status::NotFound("one or both of the profiles do not exist"));
  }
  if (target->id == source->id) {
    PORTRAIT_ASSIGN_OR_RETURN(auto alias, store_.GetAlias(vault_.ExtKey(request.from)));
    if (alias && alias->merged_id != 0) {
      return Finish(caller, *alias);
    }
    return Error(Status::InvalidArgument("from: a profile cannot be merged with itself"));
  }
  // Among several nodes, the source's external ids (its own and its aliases, all in its
  // partition) become aliases only of a profile of that partition (DECISIONS 170).
  if (!store_.MayAlias(source->ext_key, target->id)) {
    return Error(Status::Conflict(
        "among several nodes, profiles merge only within one partition; these two lie in "
        "different ones"));
  }
  if (target->legal_hold || source->legal_hold) {
    return Error(RefuseHeld(caller, target->id, source->id));
  }
  PORTRAIT_ASSIGN_OR_RETURN(store::OpenProfile into, vault_.Open(target->id));
  PORTRAIT_ASSIGN_OR_RETURN(store::OpenProfile from, vault_.Open(source->id));
  const std::shared_ptr<const LoadedRules> rules = rules_.Get();
  const MergeInputs inputs{store_,         vault_,        rules->set.metrics, rules->set.models,
                           caller.Actor(), clock_.NowUs()};
  PORTRAIT_ASSIGN_OR_RETURN(MergePrefer prefer, ParseMergePrefer(request.prefer));
  PORTRAIT_ASSIGN_OR_RETURN(MergePlan plan, PlanMerge(inputs, into, from, prefer));
  const MergeCounts& c = plan.counts;
  plan.batch.audit.push_back(Entry(caller, "profile.merge", into.row.id,
                                   {{"from", from.row.id},
                                    {"prefer", request.prefer},
                                    {"fields_from_source", c.fields_from_source},
                                    {"events_moved", c.events_moved},
                                    {"consents_copied", c.consents_copied},
                                    {"consents_restricted", c.consents_restricted},
                                    {"tasks_cancelled", c.tasks_cancelled},
                                    {"aliases", c.aliases}}));
  PORTRAIT_RETURN_IF_ERROR(audit_.Commit(plan.batch));
  // Only now: until the commit, the source was whole and readable with its own key.
  if (Status shredded = vault_.DestroyKey(from.row.id); !shredded.ok()) {
    log_.error("profile {} merged into {}, its data key not destroyed yet: {}", from.row.id,
               into.row.id, shredded.ToString());
    return Error(Status::Unavailable(
        "the profiles were merged, but the merged profile's data key could not be destroyed "
        "yet; repeat the request to finish"));
  }
  log_.debug("profile {} merged into {} by token {}: {} events moved, data key destroyed",
             from.row.id, into.row.id, caller.token, c.events_moved);
  return MergeOutcome{Answer(into.row.id, from.row.id, request.prefer, c), into.row.id,
                      from.row.id};
}

}  // namespace portrait::daemon
