// SegmentService: the segment members index (store.h SegmentMember) as a caller may read it.
// A caller sees only the segments of the rules in force that its purpose may use: its `derived`
// list names `segments` or `segments.NAME`, and everything the segment's condition reads
// (fields, metrics, tags, other segments, scores, predictions, transitively) is allowed to the
// purpose (rules/reads.h PurposeMayUse) — so no count or member list answers a question about
// data the purpose may not use. Any other segment, existing or not, is NotFound with the same
// message. Every call needs `segments.read` (a refusal is audited) and is audited
// (segments.list, segments.members: segment names and counts, never an id). Thread-safe; for
// the I/O threads.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "daemon/caller.h"
#include "daemon/rules_holder.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"

namespace portrait::daemon {

class SegmentService {
 public:
  static constexpr int kDefaultLimit = 100;
  static constexpr int kMaxLimit = 1000;

  SegmentService(store::Store& store, store::ProfileVault& vault, store::AuditLog& audit,
                 const RulesHolder& rules, const Clock& clock)
      : store_(store), vault_(vault), audit_(audit), rules_(rules), clock_(clock) {}

  // {"segments": [{"name", "members"}]}: the segments the caller may see, in the rules' order,
  // each with its number of members.
  Result<nlohmann::json> List(const Caller& caller);

  // {"segment", "members": [external ids], "next_after": the internal id to pass as `after` for
  // the next page, or null on the last}: members of segment `name` with internal ids above
  // `after`, ascending, at most `limit`. `query`: after (an internal id, default 0), limit
  // (1..kMaxLimit, default kDefaultLimit); InvalidArgument naming a bad or unknown parameter.
  Result<nlohmann::json> Members(const Caller& caller, std::string_view name,
                                 const std::map<std::string, std::string>& query);

 private:
  // The segment, when the caller's purpose may see it; else nullptr.
  const rules::Segment* Visible(const Caller& caller, const LoadedRules& rules,
                                std::string_view name) const;

  store::Store& store_;
  store::ProfileVault& vault_;
  store::AuditLog& audit_;
  const RulesHolder& rules_;
  const Clock& clock_;
};

}  // namespace portrait::daemon
