// AuditLog: the tamper-evident audit trail over a Store. Records are hash-chained by the store
// as they commit (audit_chain.h); AuditLog signs checkpoints of the chain head with Ed25519
// (every `checkpoint_every` records and on demand, e.g. at shutdown), verifies the chain naming
// the first bad record, and exports it as JSON lines that VerifyAuditExport checks offline with
// the public key alone. Thread-safe.
//
// Fail closed: Append returns the store's error, and callers must then fail the operation that
// wanted auditing (a read is not answered unaudited).
#pragma once

#include <istream>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "crypto/audit_signer.h"
#include "store/store.h"

namespace portrait::store {

struct AuditVerification {
  bool ok = true;
  int64_t records = 0;
  int64_t checkpoints = 0;
  int64_t first_bad_seq = 0;  // 0 when ok
  std::string problem;        // what is wrong, naming sequence numbers; empty when ok
};

// Checks a chain fed in order. Give it every checkpoint first, then the records.
class AuditVerifier {
 public:
  explicit AuditVerifier(std::string public_key) : public_key_(std::move(public_key)) {}
  void AddCheckpoint(const AuditCheckpoint& checkpoint);
  void AddRecord(const AuditRecord& record);
  // A line of an export that should have held the next record but can't be read.
  void AddUnreadable(int line);
  AuditVerification Finish();

 private:
  void Fail(int64_t seq, std::string problem);

  std::string public_key_;
  std::map<int64_t, std::string> signed_;  // checkpoint seq -> hash
  AuditVerification result_;
  int64_t last_seq_ = 0;
  int64_t last_checkpoint_passed_ = 0;
  std::string prev_hash_;
};

class AuditLog {
 public:
  AuditLog(Store& store, const crypto::AuditSigner& signer, const Clock& clock,
           int checkpoint_every = 1000);

  // Commits `entries` on their own (reads, refused requests) and checkpoints when due.
  Status Append(std::vector<AuditEntry> entries);
  // Call after committing a Batch that carried audit entries: checkpoints when due.
  Status AfterCommit(const CommitResult& result);
  // Signs the current head now, if it has moved since the last checkpoint.
  Status Checkpoint();

  // Walks the whole chain in the store against the stored, signed checkpoints.
  Result<AuditVerification> Verify();
  // Writes JSON lines: a header (format, public key), every signed checkpoint, every record.
  Status Export(std::ostream& out);

  const std::string& public_key() const { return signer_.public_key(); }

 private:
  Status Sign(int64_t seq, const std::string& hash);

  Store& store_;
  const crypto::AuditSigner& signer_;
  const Clock& clock_;
  const int checkpoint_every_;
  std::mutex mu_;
  int64_t last_checkpoint_ = -1;  // -1: not loaded yet
};

// Verifies an export written by AuditLog::Export with `public_key` (raw 32 bytes) alone.
// InvalidArgument (naming the line) if the file is not an export at all.
Result<AuditVerification> VerifyAuditExport(std::istream& in, std::string_view public_key);

}  // namespace portrait::store
