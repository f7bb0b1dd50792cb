#include "daemon/rules_test_service.h"

#include "base/time_format.h"
#include "consent/access_policy.h"
#include "daemon/cloud_event.h"
#include "daemon/request_limits.h"

namespace portrait::daemon {

using nlohmann::json;

Result<json> RulesTestService::Test(const Caller& caller, std::string_view body_text) {
  if (!consent::HasPermission(*caller.role, "rules.test")) {
    return Error(RefuseRequest(audit_, clock_, caller, "rules.test"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(json body, ParseJsonBody(body_text));
  if (!body.is_object() || !body.contains("profile") || !body["profile"].is_string()) {
    return Error(Status::InvalidArgument("profile: required, the profile's external id"));
  }
  int64_t at = clock_.NowUs();
  if (body.contains("at")) {
    auto parsed = ParseRfc3339(body["at"].is_string() ? body["at"].get<std::string>() : "");
    if (!parsed) {
      return Error(Status::InvalidArgument("at: expected an RFC 3339 time"));
    }
    at = *parsed;
  }
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<rules::EventInput> event, EventOf(body, at));
  PORTRAIT_ASSIGN_OR_RETURN(store::Profile profile, vault_.Get(body["profile"].get<std::string>()));
  PORTRAIT_ASSIGN_OR_RETURN(json triggers, Explain(caller, profile, event ? &*event : nullptr, at));
  PORTRAIT_RETURN_IF_ERROR(audit_.Append(
      {store::AuditEntry{clock_.NowUs(), caller.Actor(), "rules.test", profile.id,
                         caller.purpose->name, json{{"triggers", triggers.size()}}.dump()}}));
  return json{{"internal_id", profile.id}, {"at", FormatRfc3339(at)}, {"triggers", triggers}};
}

Result<std::optional<rules::EventInput>> RulesTestService::EventOf(const json& body,
                                                                   int64_t at_us) {
  if (!body.contains("event")) {
    return std::optional<rules::EventInput>();
  }
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<IncomingEvent> parsed,
                            ParseCloudEvents(body["event"], at_us, blind_));
  if (parsed.size() != 1) {
    return Error(Status::InvalidArgument("event: expected one CloudEvent"));
  }
  return rules::EventInput{parsed[0].id, parsed[0].type, parsed[0].time_us, parsed[0].data};
}

Result<json> RulesTestService::Explain(const Caller& caller, const store::Profile& profile,
                                       const rules::EventInput* event, int64_t at_us) {
  rules::ProfileFacts facts{profile.id,   profile.fields,    profile.metrics,
                            profile.tags, profile.lifecycle, profile.timezone};
  auto loaded = rules_.Get();
  const std::shared_ptr<const rules::DerivedValues> derived =
      make_derived_ ? make_derived_(loaded) : nullptr;
  facts.derived = derived.get();  // the scores and predictions at `at_us`
  // Only the caller's purpose's triggers, and none evaluated over a field it can't read in clear.
  const rules::ExplainScope scope{caller.purpose->name, [&](std::string_view field) {
                                    return consent::FieldAccess(*caller.role, *caller.purpose,
                                                                field) == consent::Access::kClear;
                                  }};
  std::vector<rules::Explanation> explained = loaded->engine.Explain(
      facts, event, at_us,
      [&](const std::string& key) {
        auto used = store_.HasTask(blind_.Digest("$task", key));
        return used && *used;
      },
      scope);
  json out = json::array();
  for (rules::Explanation& e : explained) {
    const rules::Trigger* t = loaded->set.FindTrigger(e.trigger);
    auto channel = consent::ParseChannel(t ? t->channel : "");
    if (e.fires && channel) {
      PORTRAIT_ASSIGN_OR_RETURN(consent::BasisDecision basis,
                                consents_.Basis(profile.id, *caller.purpose, *channel, at_us));
      if (!basis.allowed) {
        e.fires = false;
        e.reason = "would be suppressed: " + basis.reason;
      }
    }
    out.push_back({{"trigger", e.trigger},
                   {"fires", e.evaluated ? json(e.fires) : json(nullptr)},
                   {"reason", e.reason}});
  }
  return out;
}

}  // namespace portrait::daemon
