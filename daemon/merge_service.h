// MergeService: POST /v1/profiles/{id}/merge — merges profile `from` into profile `id` as a
// caller may ("one person, one profile"; what moves and how: daemon/profile_merger.h).
//
// Needs profiles.write, erase and consents.write: a merge rewrites the target, destroys the
// source's data key as an erasure does, and writes the source's consents to the target's ledger.
// Refusals: 403 without any of them (audited as
// request.refused); 422 for a malformed body or a profile merged with itself (also through an
// alias of it); 404 when either profile does not exist, without saying which; 409 while either
// is under legal hold (audited as profile.merge.refused).
//
// Order of the writes, so that a crash leaves no readable half-merge: (1) one transaction in
// portrait.db moves everything to the target (re-sealed with the target's key), erases the
// source's rows, makes the source's external id an alias of the target and appends the
// profile.merge audit record; (2) then the source's data key is destroyed in keystore.db. A
// crash between (1) and (2) leaves the merge complete and the source's key orphaned: repeating
// the same request finds `from` as an alias left by this merge, destroys the key and answers
// 200 with "already_merged": true; the daemon also finishes every such merge when it starts
// (FinishInterrupted), and erasing the target destroys the keys of its merged-away profiles.
//
// The answer names internal ids and counts of events, consent records, tasks and aliases; never
// a field name, a field count or a value (a role learns nothing about fields it may not read).
// Runs on the writer thread (Writer::Run); the caller then has the ingestor forget both
// profiles and re-evaluate the target, and drains the source's sends.
#pragma once

#include <spdlog/logger.h>

#include <array>
#include <nlohmann/json.hpp>
#include <string_view>

#include "base/clock.h"
#include "daemon/caller.h"
#include "daemon/profile_merger.h"
#include "daemon/rules_holder.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"

namespace portrait::daemon {

// A merge moves one profile's fields, events and consents into another and erases the first:
// the caller needs every one of these permissions.
inline constexpr std::array<std::string_view, 3> kMergePermissions = {"profiles.write", "erase",
                                                                      "consents.write"};

struct MergeOutcome {
  nlohmann::json answer;
  store::ProfileId target = 0;
  store::ProfileId source = 0;
};

class MergeService {
 public:
  // All references must outlive the service.
  MergeService(store::Store& store, store::ProfileVault& vault, store::AuditLog& audit,
               const RulesHolder& rules, const Clock& clock, spdlog::logger& log)
      : store_(store), vault_(vault), audit_(audit), rules_(rules), clock_(clock), log_(log) {}

  // `body` is {"from": "EXTERNAL_ID", "prefer"?: "newer" | "target" | "source"}.
  Result<MergeOutcome> Merge(const Caller& caller, std::string_view target_id,
                             const nlohmann::json& body);

  // Destroys the data key of every profile merged away whose merge was cut off before it did
  // (a crash between the two writes), each audited as a finished profile.merge. Run at start,
  // on the writer thread.
  Status FinishInterrupted();

 private:
  struct Request {
    std::string from;
    std::string prefer = "newer";
  };
  static Result<Request> ParseBody(const nlohmann::json& body);
  Result<bool> Require(const Caller& caller);
  // Finishes a merge a crash interrupted between its commit and the key's destruction.
  Result<MergeOutcome> Finish(const Caller& caller, const store::AliasRow& alias);
  Status RefuseHeld(const Caller& caller, store::ProfileId target, store::ProfileId source);
  store::AuditEntry Entry(const Caller& caller, std::string action, store::ProfileId id,
                          const nlohmann::json& detail) const;

  store::Store& store_;
  store::ProfileVault& vault_;
  store::AuditLog& audit_;
  const RulesHolder& rules_;
  const Clock& clock_;
  spdlog::logger& log_;
};

}  // namespace portrait::daemon
