// ImportService: bulk import of profiles (POST /v1/import/profiles, docs/API.md). A request
// carries up to kMaxRows rows, each {"line", "id", "fields", "tags", "timezone"}; every row is
// checked alone, with the same field checks, normalisation and access policy as
// PUT /v1/profiles/{id} (ProfileService, ProfileVault::CheckPatch), and a bad row is reported as
// {line, field, reason} — never its value — without stopping the others. The good rows commit in
// one writer job and one transaction, with one audit record "profiles.import" counting created,
// updated, unchanged, merged and failed rows. A row equal to what is stored writes nothing
// (unchanged), so re-sending a batch, also after a crash, changes nothing. Checking, sealing and
// digests run on the calling (I/O) thread; the writer only compares and writes. Thread-safe.
#pragma once

#include <spdlog/logger.h>

#include <map>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "crypto/blind_index.h"
#include "daemon/caller.h"
#include "daemon/cluster_node.h"
#include "daemon/ingestor.h"
#include "daemon/profile_service.h"
#include "daemon/writer.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"

namespace portrait::daemon {

class ImportService {
 public:
  // Rows in one request at most (a larger request is refused whole, 422).
  static constexpr size_t kMaxRows = 5'000;

  // `cluster`: this node among several (else null).
  ImportService(store::ProfileVault& vault, ProfileService& profiles, store::Store& store,
                const crypto::BlindIndex& blind, Writer& writer, Ingestor& ingestor,
                store::AuditLog& audit, const Clock& clock, spdlog::logger& log,
                ClusterNode* cluster = nullptr)
      : vault_(vault),
        profiles_(profiles),
        store_(store),
        blind_(blind),
        writer_(writer),
        ingestor_(ingestor),
        audit_(audit),
        clock_(clock),
        log_(log),
        cluster_(cluster) {}

  // `body`: {"rows": [...], "text": bool, "match": [field, ...]}. With "text": true (a CSV
  // file) a number or bool field's value may be given as text ("42", "true") and is converted
  // before it is checked. With "match" (blind-indexed fields the caller may look profiles up
  // by, as for find: profiles.read and read in clear), a row whose id is new and whose match
  // fields find one stored profile is written to it and its id becomes an alias ("merged");
  // one finding several is reported (daemon/import_identity.h). Needs profiles.write.
  // Returns {"created", "updated", "unchanged", "merged", "failed",
  // "errors": [{"line", "field", "reason"}]}; when a row names a field the caller can't read in
  // clear, unchanged rows count as updated (an "unchanged" would confirm the stored value).
  // Among several nodes a row whose subject's partition another node holds is not imported:
  // its error (field "id") carries "owner": {"node", "address"} — send the row there
  // ("owner": null while the partition passes between nodes: send it again shortly).
  // InvalidArgument for a body that is not such an object (no row is then imported); a store
  // failure fails the whole request.
  Result<nlohmann::json> ImportProfiles(const Caller& caller, const nlohmann::json& body);

 private:
  // The row as an ImportRow, or the reason it is refused.
  tl::expected<store::ImportRow, store::ImportError> ReadRow(const Caller& caller,
                                                             const nlohmann::json& row,
                                                             int64_t index, bool text) const;

  // The rows read one by one: the good ones, the refused ones, and whether a good one names
  // something the caller can't read (then no row is reported unchanged). InvalidArgument for a
  // row without a valid line number (the request is refused whole).
  struct RowsRead {
    std::vector<store::ImportRow> good;
    std::vector<store::ImportError> bad;
    bool hide_unchanged = false;
  };
  Result<RowsRead> ReadRows(const Caller& caller, const nlohmann::json& rows, bool text) const;
  // Among several nodes, moves the rows of other nodes' partitions from `read.good` to
  // `read.bad`; returns each such row's owner by line (null: between holders).
  std::map<int64_t, nlohmann::json> LeaveOtherNodesRows(RowsRead& read);
  // The body's "match" list, checked: empty when absent. PermissionDenied (audited) for a field
  // the caller may not look profiles up by; InvalidArgument naming a field that is not
  // blind-indexed.
  Result<std::vector<std::string>> MatchFields(const Caller& caller,
                                               const nlohmann::json& body) const;

  store::ProfileVault& vault_;
  ProfileService& profiles_;
  store::Store& store_;
  const crypto::BlindIndex& blind_;
  Writer& writer_;
  Ingestor& ingestor_;
  store::AuditLog& audit_;
  const Clock& clock_;
  spdlog::logger& log_;
  ClusterNode* const cluster_;
};

}  // namespace portrait::daemon
