// SegmentService: the segment members index (store.h SegmentMember) as a caller may read it.
// A caller sees only the segments of the rules in force that its purpose may use: its `derived`
// list names `segments` or `segments.NAME`, and everything the segment's condition reads
// (fields, metrics, tags, other segments, scores, predictions, transitively) is allowed to the
// purpose (rules/reads.h PurposeMayUse) — so no count or member list answers a question about
// data the purpose may not use. Any other segment, existing or not, is NotFound with the same
// message. A member is answered (listed, counted) only when the caller's purpose may process
// the customer now, as a profile read decides it (ProfileService::Gate): its lawful basis
// holds, and, when the segment's condition reaches a sensitive field, the separate sensitive
// consent too (docs/DECISIONS.md 110). Each call examines at most kMaxExamined index rows, for
// all its segments together. A page's cursor is opaque (crypto/cursor_sealer.h: sealed for the
// purpose and the segment, a fresh nonce each time), never the internal id where the walk stopped,
// which would tell, compared with a neighbour's, whether a customer is in the index. Every call
// needs `segments.read` (a refusal is audited) and is audited (segments.list, segments.members:
// segment names and counts, never an id). Thread-safe; for the I/O threads.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "crypto/cursor_sealer.h"
#include "daemon/caller.h"
#include "daemon/profile_service.h"
#include "daemon/rules_holder.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"

namespace portrait::daemon {

class SegmentService {
 public:
  static constexpr int kDefaultLimit = 100;
  static constexpr int kMaxLimit = 1000;
  // Index rows one page, or one segment's count, examines at most (a bound on the ledger reads
  // of one request).
  static constexpr int64_t kMaxExamined = 10 * kMaxLimit;

  SegmentService(store::Store& store, store::ProfileVault& vault, ProfileService& profiles,
                 store::AuditLog& audit, const RulesHolder& rules, const Clock& clock,
                 crypto::CursorSealer cursors)
      : store_(store),
        vault_(vault),
        profiles_(profiles),
        audit_(audit),
        rules_(rules),
        clock_(clock),
        cursors_(std::move(cursors)) {}

  // {"segments": [{"name", "members", "complete"}]}: the segments the caller may see, in the
  // rules' order, each with the number of its members the purpose may process, counted over
  // its first index rows. One budget of kMaxExamined rows serves the whole call: each segment
  // may use what is left divided by the segments still to count (so a short index leaves its
  // rest to the next); `complete` is false when the index holds more rows than the segment
  // examined (then `members` is a lower bound, and the member pages give the rest).
  Result<nlohmann::json> List(const Caller& caller);

  // {"segment", "members": [external ids], "next_after": the opaque cursor to pass as `after`
  // for the next page, or null on the last}: members of segment `name` the purpose may
  // process, by ascending internal id from where the cursor `after` left off (the first when
  // absent), at most `limit`. A page is short (even empty) with a `next_after` when
  // kMaxExamined index rows were examined first; its position always lies beyond `after`'s.
  // `query`: after, limit (1..kMaxLimit, default kDefaultLimit); InvalidArgument naming a bad
  // or unknown parameter; Malformed naming `after` when it is not a cursor this service gave
  // for this purpose and segment (forged, altered, another's, or from before a restart).
  Result<nlohmann::json> Members(const Caller& caller, std::string_view name,
                                 const std::map<std::string, std::string>& query);

 private:
  // A segment the caller's purpose may see, and whether its condition reaches a sensitive field
  // (each member then needs the separate sensitive consent too).
  struct Readable {
    const rules::Segment* segment = nullptr;
    bool reads_sensitive = false;
  };
  // The segment, when the caller's purpose may see it; else a Readable without one.
  Readable Visible(const Caller& caller, const LoadedRules& rules, std::string_view name) const;

  // The segment's index rows above `after`, ascending, until `want` members the caller's
  // purpose may process now were admitted, the index ends, or `budget` rows were examined. Each
  // member the purpose may process (its ledger gate, read a chunk of rows at once) is passed to
  // `admit`, which may still leave it out (false).
  struct Walk {
    int64_t admitted = 0;
    int64_t examined = 0;
    store::ProfileId last = 0;  // the last row examined (`after` when none)
    bool end = false;           // no row is left above `last`
  };
  Result<Walk> WalkMembers(const Caller& caller, const Readable& segment, store::ProfileId after,
                           int64_t want, int64_t budget,
                           const std::function<Result<bool>(store::ProfileId)>& admit);

  // The position cursor `after` of `query` holds for the caller's purpose and `segment` (0:
  // none).
  Result<store::ProfileId> PositionOf(const Caller& caller, const rules::Segment& segment,
                                      const std::map<std::string, std::string>& query) const;
  // What a cursor is sealed for: the purpose and the segment.
  static std::string CursorContext(const Caller& caller, const rules::Segment& segment);

  // The external id of member `id`, or nullopt when it was erased since the page was read.
  Result<std::optional<std::string>> ExternalIdOf(store::ProfileId id);

  store::Store& store_;
  store::ProfileVault& vault_;
  ProfileService& profiles_;
  store::AuditLog& audit_;
  const RulesHolder& rules_;
  const Clock& clock_;
  const crypto::CursorSealer cursors_;
};

}  // namespace portrait::daemon
