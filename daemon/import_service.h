// ImportService: bulk import of profiles (POST /v1/import/profiles, docs/API.md). A request
// carries up to kMaxRows rows, each {"line", "id", "fields", "tags", "timezone"}; every row is
// checked alone, with the same field checks, normalisation and access policy as
// PUT /v1/profiles/{id} (ProfileService, ProfileVault::CheckPatch), and a bad row is reported as
// {line, field, reason} — never its value — without stopping the others. The good rows commit in
// one writer job and one transaction, with one audit record "profiles.import" counting created,
// updated, unchanged and failed rows. A row equal to what is stored writes nothing (unchanged),
// so re-sending a batch, also after a crash, changes nothing. Checking, sealing and digests run
// on the calling (I/O) thread; the writer only compares and writes. Thread-safe.
#pragma once

#include <spdlog/logger.h>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "daemon/caller.h"
#include "daemon/ingestor.h"
#include "daemon/writer.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"

namespace portrait::daemon {

class ImportService {
 public:
  // Rows in one request at most (a larger request is refused whole, 422).
  static constexpr size_t kMaxRows = 5'000;

  ImportService(store::ProfileVault& vault, Writer& writer, Ingestor& ingestor,
                store::AuditLog& audit, const Clock& clock, spdlog::logger& log)
      : vault_(vault),
        writer_(writer),
        ingestor_(ingestor),
        audit_(audit),
        clock_(clock),
        log_(log) {}

  // `body`: {"rows": [...], "text": bool}. With "text": true (a CSV file) a number or bool
  // field's value may be given as text ("42", "true") and is converted before it is checked.
  // Needs profiles.write. Returns {"created", "updated", "unchanged", "failed",
  // "errors": [{"line", "field", "reason"}]}; when a row names a field the caller can't read in
  // clear, unchanged rows count as updated (an "unchanged" would confirm the stored value).
  // InvalidArgument for a body that is not such an object (no row is then imported); a store
  // failure fails the whole request.
  Result<nlohmann::json> ImportProfiles(const Caller& caller, const nlohmann::json& body);

 private:
  // The row as an ImportRow, or the reason it is refused.
  tl::expected<store::ImportRow, store::ImportError> ReadRow(const Caller& caller,
                                                             const nlohmann::json& row,
                                                             int64_t index, bool text) const;

  store::ProfileVault& vault_;
  Writer& writer_;
  Ingestor& ingestor_;
  store::AuditLog& audit_;
  const Clock& clock_;
  spdlog::logger& log_;
};

}  // namespace portrait::daemon
