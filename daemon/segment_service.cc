#include "daemon/segment_service.h"

#include <algorithm>
#include <charconv>
#include <limits>

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

SegmentService::Readable SegmentService::Visible(const Caller& caller, const LoadedRules& rules,
                                                 std::string_view name) const {
  const rules::Segment* segment = rules.set.FindSegment(name);
  const rules::DerivedRead read{"segments", segment ? segment->name : "", 0, ""};
  if (!segment || !rules::PurposeMayUse(*caller.purpose, *rules.config, read, rules.set)) {
    return {};
  }
  Readable out{segment, false};
  for (const rules::IndirectRead& i : rules::ReadsThrough(read, rules.set)) {
    const config::Field* f = i.field.empty() ? nullptr : rules.config->FindField(i.field);
    out.reads_sensitive =
        out.reads_sensitive || (f && f->field_class == config::FieldClass::kSensitive);
  }
  return out;
}

Result<SegmentService::Walk> SegmentService::WalkMembers(
    const Caller& caller, const Readable& segment, store::ProfileId after, int64_t want,
    int64_t budget, const std::function<Result<bool>(store::ProfileId)>& admit) {
  Walk w;
  w.last = after;
  while (w.admitted < want && w.examined < budget) {
    // Index ids are cheap; ask for a little more than still wanted, never past the bound.
    const int chunk = static_cast<int>(std::min<int64_t>(
        {kMaxLimit, budget - w.examined, std::max<int64_t>(want - w.admitted, 16)}));
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::ProfileId> ids,
                              store_.SegmentMembers(segment.segment->name, w.last, chunk));
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<ProfileService::LedgerGate> gates,
                              profiles_.Gates(caller, ids));
    for (size_t i = 0; i < ids.size() && w.admitted < want; ++i) {
      w.last = ids[i];
      ++w.examined;
      // A segment is a profiling result: a marketing purpose sees no member who objected to
      // personalisation, whatever segment lists them (GDPR art. 21).
      const ProfileService::LedgerGate& gate = gates[i];
      if (!gate.basis.allowed || (segment.reads_sensitive && !gate.sensitive.allowed) ||
          (caller.purpose->marketing && gate.objected)) {
        continue;
      }
      PORTRAIT_ASSIGN_OR_RETURN(bool admitted, admit(ids[i]));
      w.admitted += admitted ? 1 : 0;
    }
    if (ids.size() < static_cast<size_t>(chunk) && (ids.empty() || w.last == ids.back())) {
      w.end = true;
      break;
    }
  }
  return w;
}

std::string SegmentService::CursorContext(const Caller& caller, const rules::Segment& segment) {
  std::string context = "segments.members";
  for (const std::string* part : {&caller.purpose->name, &segment.name}) {
    context.push_back('\0');
    context += *part;
  }
  return context;
}

Result<store::ProfileId> SegmentService::PositionOf(
    const Caller& caller, const rules::Segment& segment,
    const std::map<std::string, std::string>& query) const {
  auto it = query.find("after");
  if (it == query.end()) {
    return 0;
  }
  auto position = cursors_.Open(CursorContext(caller, segment), it->second);
  if (!position || *position > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Error(Status::Malformed(
        "after: not a cursor this daemon gave for these pages (a next_after of this segment "
        "and purpose, since the daemon started); page again from the first, without after"));
  }
  return static_cast<store::ProfileId>(*position);
}

Result<std::optional<std::string>> SegmentService::ExternalIdOf(store::ProfileId id) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<store::ProfileRow> row, store_.GetProfile(id));
  if (!row) {
    return std::nullopt;  // erased since the page was read
  }
  auto external = vault_.OwnExternalId(*row);
  if (!external && external.error().code() == Status::Code::kNotFound) {
    return std::nullopt;  // its key destroyed meanwhile
  }
  PORTRAIT_RETURN_IF_ERROR(external);
  return std::move(*external);
}

Result<json> SegmentService::List(const Caller& caller) {
  if (!consent::HasPermission(*caller.role, "segments.read")) {
    return Error(RefuseRequest(audit_, clock_, caller, "segments.read"));
  }
  const std::shared_ptr<const LoadedRules> rules = rules_.Get();
  std::vector<Readable> visible;
  for (const rules::Segment& s : rules->set.segments) {
    if (const Readable readable = Visible(caller, *rules, s.name); readable.segment) {
      visible.push_back(readable);
    }
  }
  // One budget for the whole call; each segment may use its share of what is left.
  int64_t budget = kMaxExamined;
  json segments = json::array();
  json counts = json::object();
  for (size_t i = 0; i < visible.size(); ++i) {
    const Readable& readable = visible[i];
    const rules::Segment& s = *readable.segment;
    const int64_t share = budget / static_cast<int64_t>(visible.size() - i);
    PORTRAIT_ASSIGN_OR_RETURN(
        Walk counted, WalkMembers(caller, readable, 0, std::numeric_limits<int64_t>::max(), share,
                                  [](store::ProfileId) -> Result<bool> { return true; }));
    budget -= counted.examined;
    segments.push_back(
        {{"name", s.name}, {"members", counted.admitted}, {"complete", counted.end}});
    counts[s.name] = counted.admitted;
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
  PORTRAIT_ASSIGN_OR_RETURN(int64_t limit, QueryNumber(query, "limit", kDefaultLimit));
  if (limit < 1 || limit > kMaxLimit) {
    return Error(Status::InvalidArgument("limit: expected 1.." + std::to_string(kMaxLimit)));
  }
  const std::shared_ptr<const LoadedRules> rules = rules_.Get();
  const Readable readable = Visible(caller, *rules, name);
  if (!readable.segment) {
    return Error(
        Status::NotFound("no segment of that name for purpose '" + caller.purpose->name + "'"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(store::ProfileId after, PositionOf(caller, *readable.segment, query));
  json members = json::array();
  PORTRAIT_ASSIGN_OR_RETURN(Walk page, WalkMembers(caller, readable, after, limit, kMaxExamined,
                                                   [&](store::ProfileId id) -> Result<bool> {
                                                     PORTRAIT_ASSIGN_OR_RETURN(
                                                         std::optional<std::string> external,
                                                         ExternalIdOf(id));
                                                     if (external) {
                                                       members.push_back(std::move(*external));
                                                     }
                                                     return external.has_value();
                                                   }));
  PORTRAIT_RETURN_IF_ERROR(audit_.Append({store::AuditEntry{
      clock_.NowUs(), caller.Actor(), "segments.members", 0, caller.purpose->name,
      json{{"segment", readable.segment->name}, {"members", members.size()}}.dump()}}));
  return json{{"segment", readable.segment->name},
              {"members", std::move(members)},
              {"next_after", page.end ? json(nullptr)
                                      : json(cursors_.Seal(CursorContext(caller, *readable.segment),
                                                           static_cast<uint64_t>(page.last)))}};
}

}  // namespace portrait::daemon
