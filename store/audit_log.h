// AuditLog: the tamper-evident audit trail over a Store. Records are hash-chained and MACed by
// the store as they commit (audit_chain.h); AuditLog signs checkpoints of the chain head with
// Ed25519 (every `every` records or `interval`, whichever comes first, and on demand: at
// shutdown, before an export), verifies the chain naming the first bad record, and exports it
// as JSON lines that VerifyAuditExport checks offline with the public key alone. Thread-safe.
//
// What each check catches:
//   - the MAC (keyed from the master key) on every record: a record altered, inserted or
//     deleted and the chain recomputed by someone holding only the database key;
//   - each checkpoint's signed link to the one before: a checkpoint deleted;
//   - the export's signed header (head seq and hash): records or checkpoints cut off the end
//     of an export.
// Records written before the MAC existed carry none; they are trusted as far as a signed
// checkpoint covers them. A rollback of the whole database to an earlier state (records and
// checkpoints cut together) is seen only against an export or checkpoint kept elsewhere.
//
// Fail closed: Append returns the store's error, and callers must then fail the operation that
// wanted auditing (a read is not answered unaudited).
#pragma once

#include <chrono>
#include <istream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "base/result.h"
#include "crypto/audit_signer.h"
#include "crypto/secret.h"
#include "store/store.h"

namespace portrait::store {

struct AuditVerification {
  bool ok = true;
  int64_t records = 0;
  int64_t checkpoints = 0;
  int64_t first_bad_seq = 0;  // 0 when ok
  std::string problem;        // what is wrong, naming sequence numbers; empty when ok
};

// The action of the record a master-key rotation writes; its detail names the signing key
// before and after: {"old_public_key": hex, "new_public_key": hex, ...}.
inline constexpr std::string_view kKeyRotateAction = "key.rotate";

// Checks a chain fed in order. Give it every checkpoint first (ascending), then the records.
// With a MAC key (online) every record's MAC is checked too; without one (offline) the chain
// is trusted as far as signed checkpoints and an export's signed head vouch for it.
//
// Key rotations: each key.rotate record at seq R ends the old signing key's span; checkpoints
// up to R are checked with the old key it names, later ones with the new, and a checkpoint at
// R itself (signed by the old key) must vouch for the record. So trust passes both ways: from
// the newest key back through the hash chain to the old keys the records name, and from an
// old key forward through the rotation record it signed. `trusted_key` may be any key the
// chain names; the chain must end on `ExpectFinalKey` when given. Since a checkpoint's key
// depends on the records after it, give every record to NoteRotation first (a pass that
// trusts nothing: each noted rotation must then be met, identical, by AddRecord).
class AuditVerifier {
 public:
  explicit AuditVerifier(std::string trusted_key, crypto::KeyView mac_key = {})
      : trusted_key_(std::move(trusted_key)), mac_key_(mac_key) {}
  void NoteRotation(const AuditRecord& record);
  void AddCheckpoint(const AuditCheckpoint& checkpoint);
  void AddRecord(const AuditRecord& record);
  // A line of an export that should have held the next record but can't be read.
  void AddUnreadable(int line);
  // The chain must end at `seq` with `hash` (an export's signed head).
  void ExpectHead(int64_t seq, std::string hash);
  // The key in force at the end of the chain must be `public_key` (the export header's, the
  // daemon's).
  void ExpectFinalKey(std::string public_key) { final_key_ = std::move(public_key); }
  // Fails naming `seq`, unless already failed.
  void Fail(int64_t seq, std::string problem);
  AuditVerification Finish();
  // Whether NoteRotation met a key rotation.
  bool names_rotations() const { return !rotations_.empty(); }

 private:
  struct Rotation {
    int64_t seq = 0;
    std::string old_key;
    std::string new_key;
  };
  static std::optional<Rotation> ParseRotation(const AuditRecord& r);
  bool CheckMac(const AuditRecord& r);
  void CheckRotation(const AuditRecord& r);
  const std::string& KeyAt(int64_t seq) const;  // the signing key of a checkpoint at `seq`
  const std::string& FinalKey() const;

  std::string trusted_key_;
  crypto::KeyView mac_key_;
  std::optional<std::string> final_key_;
  std::vector<Rotation> rotations_;        // noted, in seq order
  size_t rotations_met_ = 0;               // how many of them AddRecord has checked
  std::map<int64_t, std::string> signed_;  // checkpoint seq -> hash
  AuditVerification result_;
  int64_t last_seq_ = 0;
  int64_t last_checkpoint_passed_ = 0;
  int64_t last_checkpoint_added_ = 0;
  std::string prev_hash_;
  std::optional<std::pair<int64_t, std::string>> head_;
};

// How often the head is signed: after `every` records, or at the first commit `interval` after
// the last checkpoint; the daemon also calls Checkpoint() every `interval`.
struct AuditCadence {
  int every = 1000;
  std::chrono::microseconds interval = std::chrono::seconds(60);
};

class AuditLog {
 public:
  // `mac_key` (borrowed; must outlive the log) is the key the store MACs records with.
  AuditLog(Store& store, const crypto::AuditSigner& signer, crypto::KeyView mac_key,
           const Clock& clock, AuditCadence cadence = {});

  // Commits `batch` (the change with the audit entries that record it) in one transaction,
  // then checkpoints when due. Every write that carries audit entries goes through here. An
  // error means nothing was committed: a due checkpoint that fails after the commit is not
  // the commit's failure: it stays due and is retried by the next commit and by Checkpoint().
  Result<CommitResult> Commit(const Batch& batch);
  // Commits `entries` on their own (reads, refused requests) and checkpoints when due.
  Status Append(std::vector<AuditEntry> entries);
  // Signs the current head now, if it has moved since the last checkpoint.
  Status Checkpoint();

  // Walks the whole chain in the store against its MACs and the stored, signed checkpoints;
  // on a store several nodes share, every node's chain (each with its own checkpoints), the
  // first broken one named in `problem`.
  Result<AuditVerification> Verify();
  // Signs the head, then writes JSON lines: a signed header (format, public key, head), every
  // signed checkpoint up to the head, every record up to the head. A store holding several
  // nodes' chains is exported whole (format v3): each chain verified first (Corruption naming
  // the node of a broken one, nothing written), the header signing each chain's head, and every
  // checkpoint and record line naming its node.
  Status Export(std::ostream& out);

  const std::string& public_key() const { return signer_.public_key(); }

 private:
  // Checkpoints when a commit that ended at `result.audit_seq` makes one due.
  Status AfterCommit(const CommitResult& result);
  // What VerifyChain read of a chain: its checkpoints and records as they were checked.
  struct VerifiedChain {
    std::vector<AuditCheckpoint> checkpoints;
    std::vector<AuditRecord> records;
  };
  // Checks one node's chain with the MACs; keeps what it checked in `kept` when given.
  Result<AuditVerification> VerifyChain(const std::string& node, VerifiedChain* kept = nullptr);
  Status ExportChains(const std::vector<std::string>& chains, std::ostream& out);
  Status LoadLocked() REQUIRES(mu_);
  Status SignLocked(int64_t seq, const std::string& hash) REQUIRES(mu_);

  Store& store_;
  const crypto::AuditSigner& signer_;
  const crypto::KeyView mac_key_;
  const Clock& clock_;
  const AuditCadence cadence_;
  Mutex mu_;
  int64_t last_checkpoint_ GUARDED_BY(mu_) = -1;  // -1: not loaded yet
  int64_t last_checkpoint_us_ GUARDED_BY(mu_) = 0;
};

// Verifies an export written by AuditLog::Export with `public_key` (raw 32 bytes) alone.
// InvalidArgument (naming the line) if the file is not an export at all.
Result<AuditVerification> VerifyAuditExport(std::istream& in, std::string_view public_key);

}  // namespace portrait::store
