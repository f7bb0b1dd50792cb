#include "daemon/timeline_service.h"

#include "base/time_format.h"
#include "base/url.h"
#include "consent/access_policy.h"
#include "daemon/consent_service.h"
#include "daemon/export_service.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

constexpr int64_t kDefaultLimit = 100;
constexpr int64_t kMaxLimit = 1000;

// The `limit` of `query`, the only parameter taken; InvalidArgument naming what is wrong.
Result<size_t> LimitOf(const std::map<std::string, std::string>& query) {
  for (const auto& [key, value] : query) {
    if (key != "limit") {
      return Error(Status::InvalidArgument("query: unknown parameter '" + key + "' (limit)"));
    }
  }
  auto limit = QueryInt(query, "limit", kDefaultLimit);
  if (!limit || *limit < 1 || *limit > kMaxLimit) {
    return Error(Status::InvalidArgument("limit: an integer from 1 to 1000"));
  }
  return static_cast<size_t>(*limit);
}

}  // namespace

Result<json> TimelineService::Events(const Caller& caller, std::string_view external_id,
                                     const std::map<std::string, std::string>& query) {
  if (!consent::HasPermission(*caller.role, "profiles.read")) {
    return Error(RefuseRequest(audit_, clock_, caller, "profiles.read"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(const size_t limit, LimitOf(query));
  PORTRAIT_ASSIGN_OR_RETURN(store::ProfileId id, vault_.IdOf(external_id));
  json out = {{"internal_id", id}};
  std::string reason;
  if (!caller.purpose->derived.Allows("metrics")) {
    reason = "the purpose's derived list does not allow metrics, which events are counted into";
  } else {
    PORTRAIT_ASSIGN_OR_RETURN(ProfileService::LedgerGate gate, profiles_.Gate(caller, id));
    if (!gate.basis.allowed) {
      reason = gate.basis.reason;
    }
  }
  json events = json::array();
  bool more = false;
  const bool with_data = reason.empty() && SeesEverything(caller);
  if (reason.empty()) {
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::EventRow> rows, store_.GetEvents(id));
    more = rows.size() > limit;
    for (auto e = rows.rbegin(); e != rows.rend() && events.size() < limit; ++e) {
      json event = {{"type", e->type}, {"time", FormatRfc3339(e->time_us)}};
      if (with_data) {
        PORTRAIT_ASSIGN_OR_RETURN(std::string data,
                                  vault_.OpenFor(id, store::kEventDataField, e->data));
        event["data"] = json::parse(data, nullptr, false);
      }
      events.push_back(std::move(event));
    }
  }
  PORTRAIT_RETURN_IF_ERROR(audit_.Append(
      {store::AuditEntry{clock_.NowUs(), caller.Actor(), "profile.events", id, caller.purpose->name,
                         json{{"events", events.size()}, {"data", with_data}}.dump()}}));
  if (!reason.empty()) {
    out["shown"] = false;
    out["reason"] = reason;
    return out;
  }
  out["shown"] = true;
  out["events"] = std::move(events);
  out["more"] = more;
  return out;
}

}  // namespace portrait::daemon
