// Private to the SQLCipher backend: the Store implementation class, whose methods are defined
// in sqlcipher_store.cc (profiles, events, keys) and sqlcipher_ledger.cc (consents, audit,
// tokens, retention) and sqlcipher_outbox.cc (timers, tasks). Every call takes mu_; Commit holds it
// across its transaction.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "base/mutex.h"
#include "store/lease_pool.h"
#include "store/sqlcipher/checkpointer.h"
#include "store/sqlcipher/sqlite.h"
#include "store/store.h"

namespace portrait::store {

// A pair of read-only connections (a WAL reader of each database). Reads run on these, beside
// the writer's open transaction, seeing what was last committed.
struct ReadConnection {
  sqlite::Db main;
  sqlite::Db keystore;
};
using ReaderPool = LeasePool<ReadConnection>;

// The profiles table's columns as ReadProfile reads them, in order.
extern const std::string_view kProfileColumns;
ProfileRow ReadProfile(const sqlite::Stmt& s);

class SqlcipherStore final : public Store {
 public:
  // `audit_mac_key` (may be empty: records are then written without a MAC) keys audit_chain's
  // RecordMac.
  SqlcipherStore(sqlite::Db main, sqlite::Db keystore, crypto::SecretBytes audit_mac_key)
      : main_(std::move(main)),
        keystore_(std::move(keystore)),
        audit_mac_key_(std::move(audit_mac_key)) {}

  // Records every destroyed key in the file at `path` too, lines MACed with `mac_key`.
  void RecordErasuresIn(std::string path, crypto::SecretBytes mac_key) {
    ledger_path_ = std::move(path);
    ledger_key_ = std::move(mac_key);
  }
  void AddReader(std::unique_ptr<ReadConnection> reader) { readers_.Add(std::move(reader)); }
  // Checkpoints the write connection's WAL on a thread of its own from now on (see
  // checkpointer.h); `own` is a connection to portrait.db for it.
  void CheckpointInBackground(sqlite::Db own, int wal_pages) {
    checkpointer_ = std::make_unique<sqlite::Checkpointer>(main_, std::move(own), wal_pages);
  }

  // Loads the audit chain's head; call once before use.
  Status Init();

  Result<CommitResult> Commit(const Batch& batch) override;
  Result<std::optional<ProfileRow>> GetProfile(ProfileId id) override;
  Result<std::optional<ProfileRow>> GetProfileByKey(std::string_view ext_key) override;
  Result<std::vector<AliasRow>> GetAliases(ProfileId id) override;
  Result<std::optional<AliasRow>> GetAlias(std::string_view ext_key) override;
  Result<std::vector<ProfileId>> GetMergedIds() override;
  Result<std::map<std::string, std::string>> GetFields(ProfileId id) override;
  Result<std::vector<ProfileId>> LookupBlind(std::string_view field,
                                             std::string_view digest) override;
  Result<std::vector<EventRow>> GetEvents(ProfileId id) override;
  Result<int64_t> CountProfiles() override;
  Result<StoreCounts> Counts(int64_t now_us) override;
  Result<std::vector<HourCounts>> CountByHour(int64_t from_us, int hours) override;
  Result<std::vector<ProfileId>> ProfileIds(ProfileId after, int limit) override;
  Result<std::vector<ProfileRow>> ProfileRows(ProfileId after, int limit) override;
  Result<std::vector<EventRow>> EventsOfType(std::string_view type, int64_t until_us,
                                             const EventCursor& after, int limit) override;
  Result<std::optional<int64_t>> LatestEventTime(std::string_view type) override;
  Result<std::optional<ModelRow>> GetModel(std::string_view kind, std::string_view name) override;
  Result<std::vector<ModelRow>> ListModels() override;
  Result<ProfileId> ProfileIdHighWater() override;
  Result<std::vector<bool>> StoredEvents(const std::vector<std::string_view>& keys) override;
  Result<std::vector<TimerRow>> DueTimers(int64_t until_us, int limit) override;
  Result<int64_t> CountDueTimers(int64_t until_us) override;
  Result<std::vector<TimerRow>> GetTimers(ProfileId id) override;
  Result<std::vector<TimerInputs>> RearmInputs(ProfileId after, int limit) override;
  Result<std::vector<PortraitInputs>> PortraitInputsAfter(ProfileId after, int limit,
                                                          const PortraitRead& read) override;
  bool KeepsDigests() const override { return true; }
  Result<std::optional<std::string>> GetMeta(std::string_view key) override;
  Result<int64_t> CountSegmentMembers(std::string_view segment) override;
  Result<std::vector<ProfileId>> SegmentMembers(std::string_view segment, ProfileId after,
                                                int limit) override;
  Result<std::vector<std::pair<ProfileId, std::string>>> MembershipsBetween(
      ProfileId first, ProfileId last) override;
  Result<bool> HasTask(std::string_view dedupe) override;
  Result<std::vector<TaskRow>> GetTasks(ProfileId id) override;
  Result<std::map<std::string, int64_t>> CountTasksByState() override;
  Result<std::vector<TaskRow>> DueTasks(std::string_view sink, int64_t until_us,
                                        int limit) override;
  Result<std::optional<TaskRow>> GetTask(int64_t id) override;
  Result<std::vector<TaskRow>> ListTasks(const TaskFilter& filter) override;
  Result<int64_t> CountDelivered(ProfileId id, std::string_view purpose, int64_t since_us) override;
  Result<std::vector<ConsentRow>> GetConsents(ProfileId id) override;
  Result<std::vector<std::vector<ConsentRow>>> GetConsentsOf(
      std::span<const ProfileId> ids) override;
  Result<std::vector<AuditRecord>> ReadAudit(int64_t after_seq, int limit) override;
  Result<std::pair<int64_t, std::string>> AuditHead() override;
  Status PutCheckpoint(const AuditCheckpoint& checkpoint) override;
  Result<std::vector<AuditCheckpoint>> GetCheckpoints() override;
  Result<int64_t> Purge(const PurgeRule& rule, AuditEntry audit) override;
  Result<std::optional<TokenRow>> FindToken(std::string_view digest) override;
  Result<std::vector<TokenRow>> ListTokens() override;
  Status TouchToken(int64_t id, int64_t time_us) override;
  Status PutDataKey(ProfileId id, std::string_view wrapped) override;
  Status PutDataKeys(const std::vector<std::pair<ProfileId, std::string>>& wrapped) override;
  Result<std::optional<std::string>> GetDataKey(ProfileId id) override;
  Result<std::vector<std::pair<ProfileId, std::string>>> DataKeysBetween(ProfileId first,
                                                                         ProfileId last) override;
  Status DestroyDataKey(ProfileId id) override;

 private:
  // Runs `apply` in a transaction; rolls back (and restores the audit head) if it fails.
  template <typename Fn>
  auto InTransaction(Fn&& apply) -> decltype(apply());

  Status Apply(const Batch& batch, CommitResult& result);
  Status WriteProfile(const ProfileWrite& w);
  // Raises the meta row ProfileIdHighWater reads to `id` (never lowers it).
  Status RaiseProfileIdHighWater(ProfileId id);
  static constexpr std::string_view kProfileIdHighKey = "profile_id_high";
  Status EraseRows(ProfileId id);
  Status WriteConsents(const std::vector<ConsentRow>& rows, CommitResult& result);
  Status WriteTokens(const Batch& batch);
  Status WriteOutbox(const Batch& batch, CommitResult& result);
  Status EraseOutbox(ProfileId id);
  // sqlcipher_anchors.cc: a profile's anchor changes, the batch's, an erasure's.
  Status WriteAnchors(ProfileId id,
                      const std::map<std::string, std::optional<AnchorDate>>& changes);
  Status WriteAnchorChanges(const std::vector<AnchorChange>& changes);
  Status EraseAnchors(ProfileId id);
  // sqlcipher_segments.cc: the members index.
  Status WriteMembers(const Batch& batch);
  Status WriteDigests(const std::vector<DigestWrite>& digests);
  Status EraseMembers(ProfileId id);
  // sqlcipher_aliases.cc: the merge's moves and the aliases (Batch's order).
  Status MoveEvents(const std::vector<EventRow>& moved);
  Status MoveAliases(const std::vector<std::pair<ProfileId, ProfileId>>& moved);
  Status WriteAliases(const std::vector<AliasRow>& aliases);
  Status EraseAliases(ProfileId id);
  Status CheckNotAlias(std::string_view ext_key);
  Status WriteAudit(const std::vector<AuditEntry>& entries, CommitResult& result);
  // sqlcipher_models.cc: the batch's fitted parameters.
  Status WriteModels(const std::vector<ModelRow>& models);
  Result<int64_t> PurgeRows(const PurgeRule& rule);

  std::mutex mu_;  // the write connections
  ReaderPool readers_;
  sqlite::Db main_;
  sqlite::Db keystore_;
  const crypto::SecretBytes audit_mac_key_;
  int64_t audit_seq_ = 0;  // the chain head, advanced only by committed transactions
  std::string audit_hash_;
  std::string ledger_path_;  // the erasure ledger file; empty: none
  crypto::SecretBytes ledger_key_;
  std::unique_ptr<sqlite::Checkpointer> checkpointer_;  // last: stops before main_ closes
};

template <typename Fn>
auto SqlcipherStore::InTransaction(Fn&& apply) -> decltype(apply()) {
  const int64_t seq = audit_seq_;
  const std::string hash = audit_hash_;
  PORTRAIT_RETURN_IF_ERROR(main_.Exec("BEGIN IMMEDIATE;"));
  auto result = apply();
  Status done = result ? main_.Exec("COMMIT;") : Status::Ok();
  if (!result || !done.ok()) {
    (void)main_.Exec("ROLLBACK;");
    audit_seq_ = seq;
    audit_hash_ = hash;
    if (!done.ok()) {
      return Error(done);
    }
  }
  return result;
}

}  // namespace portrait::store
