#include "daemon/segment_service.h"

#include <charconv>

#include "consent/access_policy.h"
#include "daemon/consent_service.h"
#include "rules/reads.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

// The non-negative integer of query parameter `name`, or `fallback` when absent.
Result<int64_t> QueryNumber(const std::map<std::string, std::string>& query,
                            const std::string& name, int64_t fallback) {
  auto it = query.find(name);
  if (it == query.end()) {
    return fallback;
  }
  const std::string& text = it->second;
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 0) {
    return Error(Status::InvalidArgument(name + ": expected a non-negative integer"));
  }
  return value;
}

}  // namespace

const rules::Segment* SegmentService::Visible(const Caller& caller, const LoadedRules& rules,
                                              std::string_view name) const {
  const rules::Segment* segment = rules.set.FindSegment(name);
  if (!segment ||
      !rules::PurposeMayUse(*caller.purpose, *rules.config,
                            rules::DerivedRead{"segments", segment->name, 0, ""}, rules.set)) {
    return nullptr;
  }
  return segment;
}

Result<json> SegmentService::List(const Caller& caller) {
  if (!consent::HasPermission(*caller.role, "segments.read")) {
    return Error(RefuseRequest(audit_, clock_, caller, "segments.read"));
  }
  const std::shared_ptr<const LoadedRules> rules = rules_.Get();
  json segments = json::array();
  json counts = json::object();
  for (const rules::Segment& s : rules->set.segments) {
    if (!Visible(caller, *rules, s.name)) {
      continue;
    }
    PORTRAIT_ASSIGN_OR_RETURN(int64_t members, store_.CountSegmentMembers(s.name));
    segments.push_back({{"name", s.name}, {"members", members}});
    counts[s.name] = members;
  }
  PORTRAIT_RETURN_IF_ERROR(
      audit_.Append({store::AuditEntry{clock_.NowUs(), caller.Actor(), "segments.list", 0,
                                       caller.purpose->name, json{{"segments", counts}}.dump()}}));
  return json{{"segments", std::move(segments)}};
}

Result<json> SegmentService::Members(const Caller& caller, std::string_view name,
                                     const std::map<std::string, std::string>& query) {
  if (!consent::HasPermission(*caller.role, "segments.read")) {
    return Error(RefuseRequest(audit_, clock_, caller, "segments.read"));
  }
  for (const auto& [key, value] : query) {
    if (key != "after" && key != "limit") {
      return Error(
          Status::InvalidArgument("unknown query parameter '" + key + "'; expected after, limit"));
    }
  }
  PORTRAIT_ASSIGN_OR_RETURN(int64_t after, QueryNumber(query, "after", 0));
  PORTRAIT_ASSIGN_OR_RETURN(int64_t limit, QueryNumber(query, "limit", kDefaultLimit));
  if (limit < 1 || limit > kMaxLimit) {
    return Error(Status::InvalidArgument("limit: expected 1.." + std::to_string(kMaxLimit)));
  }
  const std::shared_ptr<const LoadedRules> rules = rules_.Get();
  const rules::Segment* segment = Visible(caller, *rules, name);
  if (!segment) {
    return Error(
        Status::NotFound("no segment of that name for purpose '" + caller.purpose->name + "'"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::ProfileId> ids,
                            store_.SegmentMembers(segment->name, after, static_cast<int>(limit)));
  json members = json::array();
  for (store::ProfileId id : ids) {
    PORTRAIT_ASSIGN_OR_RETURN(std::optional<store::ProfileRow> row, store_.GetProfile(id));
    if (!row) {
      continue;  // erased since the page was read
    }
    auto external = vault_.OwnExternalId(*row);
    if (!external && external.error().code() == Status::Code::kNotFound) {
      continue;  // its key destroyed meanwhile
    }
    PORTRAIT_RETURN_IF_ERROR(external);
    members.push_back(std::move(*external));
  }
  const bool full = ids.size() == static_cast<size_t>(limit);
  PORTRAIT_RETURN_IF_ERROR(audit_.Append({store::AuditEntry{
      clock_.NowUs(), caller.Actor(), "segments.members", 0, caller.purpose->name,
      json{{"segment", segment->name}, {"members", members.size()}}.dump()}}));
  return json{{"segment", segment->name},
              {"members", std::move(members)},
              {"next_after", full ? json(ids.back()) : json(nullptr)}};
}

}  // namespace portrait::daemon
