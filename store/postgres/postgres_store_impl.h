// Private to the PostgreSQL backend: the Store implementation, its methods in
// postgres_store.cc (profiles, events, keys), postgres_writes.cc (the rest of a batch),
// postgres_outbox.cc (timers, tasks), postgres_ledger.cc (consents, audit, tokens, retention,
// counts) and postgres_ranges.cc (anchors, segments, models, aliases and the range reads).
// Commit, the other writes and the audit head take mu_ (the writing connections); reads lease
// a reading connection pair from the pool.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "base/mutex.h"
#include "store/lease_pool.h"
#include "store/postgres/lease_keeper.h"
#include "store/postgres/pg.h"
#include "store/postgres/postgres_store.h"

namespace portrait::store {

namespace pg {

// A reading connection to each database.
struct ReadPair {
  Connection main;
  Connection keystore;
};

using ReadPool = LeasePool<ReadPair>;

// The profiles table's columns as ReadProfile reads them, in order, from column `at`.
extern const std::string kProfileColumns;
ProfileRow ReadProfile(const Rows& r, int row, int at = 0);
// The consents table's columns as ReadConsent reads them, in order, from column `at`.
const std::string& ConsentColumns();
ConsentRow ReadConsent(const Rows& r, int row, int at = 0);

}  // namespace pg

class PostgresStore final : public Store {
 public:
  PostgresStore(pg::Connection main, pg::Connection keystore, int partitions, std::string node,
                crypto::SecretBytes audit_mac_key)
      : main_(std::move(main)),
        keystore_(std::move(keystore)),
        partitions_(partitions),
        node_(std::move(node)),
        audit_mac_key_(std::move(audit_mac_key)) {}

  void RecordErasuresIn(std::string path, crypto::SecretBytes mac_key) {
    ledger_path_ = std::move(path);
    ledger_key_ = std::move(mac_key);
  }
  void AddReader(std::unique_ptr<pg::ReadPair> pair) { readers_.Add(std::move(pair)); }
  // From now on, serve only the partitions `leases` holds (postgres_cluster.cc).
  void ServeOnly(std::shared_ptr<LeaseKeeper> leases) { leases_ = std::move(leases); }
  bool Serves(ProfileId id) const override;
  bool Places(ProfileId id, std::string_view ext_key) const override {
    return PartOf(id) == PartOf(ext_key);
  }
  bool ServesKey(std::string_view ext_key) const override;
  bool MayAlias(std::string_view ext_key, ProfileId profile) const override {
    return !leases_ || PartOf(ext_key) == PartOf(profile);
  }
  // The external ids (own and aliases) whose digest lies in another partition than their
  // profile: those made before placement (DECISIONS 170) or aliased across partitions by a
  // single node (postgres_cluster.cc).
  Result<int64_t> CountMisplacedKeys();
  // Loads this node's audit chain head; call once before use.
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
  std::optional<std::vector<HeldPartition>> HeldPartitions() const override;
  int PartitionCount() const override { return partitions_; }
  Result<std::vector<TimerInputs>> RearmInputsIn(int part, ProfileId after, int limit) override;
  Result<std::vector<PortraitInputs>> PortraitInputsIn(int part, ProfileId after, int limit,
                                                       const PortraitRead& read) override;
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
  std::string AuditNode() const override { return node_; }
  Result<std::vector<std::string>> AuditChains() override;
  Result<std::vector<AuditRecord>> ReadAuditOf(std::string_view node, int64_t after_seq,
                                               int limit) override;
  Result<std::vector<AuditCheckpoint>> GetCheckpointsOf(std::string_view node) override;
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
  // Runs `apply` in a transaction of `db`; rolls back (and restores the audit head) if it fails.
  template <typename Fn>
  auto InTransaction(pg::Connection& db, Fn&& apply) -> decltype(apply());

  int64_t PartOf(ProfileId id) const { return pg::PartitionOfId(id, partitions_); }
  int64_t PartOf(std::string_view digest) const {
    return pg::PartitionOfDigest(digest, partitions_);
  }

  // The range reads of every profile, or of partition `part`'s (postgres_ranges.cc).
  Result<std::vector<TimerInputs>> RearmRange(ProfileId after, int limit, std::optional<int> part);
  Result<std::vector<PortraitInputs>> PortraitRange(ProfileId after, int limit,
                                                    std::optional<int> part,
                                                    const PortraitRead& read);

  Status Apply(const Batch& batch, CommitResult& result);
  Status WriteProfile(const ProfileWrite& w);
  Status WriteOwnKey(const ProfileRow& row, bool is_new);
  Status RaiseProfileIdHighWater(ProfileId id);
  static constexpr std::string_view kProfileIdHighKey = "profile_id_high";
  Status WriteEvents(const std::vector<EventRow>& events, CommitResult& result);
  Status EraseRows(ProfileId id);
  Status WriteConsents(const std::vector<ConsentRow>& rows, CommitResult& result);
  Status WriteTokens(const Batch& batch);
  Status WriteOutbox(const Batch& batch, CommitResult& result);
  Status UpdateTasks(const std::vector<TaskUpdate>& updates);
  Status WriteAnchors(ProfileId id,
                      const std::map<std::string, std::optional<AnchorDate>>& changes);
  Status WriteAnchorChanges(const std::vector<AnchorChange>& changes);
  Status WriteMembers(const Batch& batch);
  Status MoveEvents(const std::vector<EventRow>& moved);
  Status MoveAliases(const std::vector<std::pair<ProfileId, ProfileId>>& moved);
  Status WriteAliases(const std::vector<AliasRow>& aliases);
  Status WriteAudit(const std::vector<AuditEntry>& entries, CommitResult& result);
  Status WriteModels(const std::vector<ModelRow>& models);
  Result<int64_t> PurgeRows(const PurgeRule& rule);
  // The partitions a batch writes rows of, and the check that this node holds each unexpired,
  // their lease rows locked FOR SHARE to the commit (DECISIONS 165); Ok without leases.
  Status Fence(const Batch& batch);
  // Whether reads of due timers and tasks are limited, and to which partitions.
  std::pair<bool, std::vector<int64_t>> ServedParts() const;

  std::mutex mu_;  // the writing connections and the audit head
  pg::ReadPool readers_;
  pg::Connection main_;
  pg::Connection keystore_;
  const int partitions_;
  std::shared_ptr<LeaseKeeper> leases_;  // null: one node, every partition
  const std::string node_;
  const crypto::SecretBytes audit_mac_key_;
  int64_t audit_seq_ = 0;  // this node's chain head, advanced only by committed transactions
  std::string audit_hash_;
  std::string ledger_path_;  // the erasure ledger file; empty: none
  crypto::SecretBytes ledger_key_;
};

template <typename Fn>
auto PostgresStore::InTransaction(pg::Connection& db, Fn&& apply) -> decltype(apply()) {
  const int64_t seq = audit_seq_;
  const std::string hash = audit_hash_;
  PORTRAIT_RETURN_IF_ERROR(db.Exec("BEGIN;"));
  auto result = apply();
  Status done = result ? db.Exec("COMMIT;") : Status::Ok();
  if (!result || !done.ok()) {
    (void)db.Exec("ROLLBACK;");
    audit_seq_ = seq;
    audit_hash_ = hash;
    if (!done.ok()) {
      return Error(done);
    }
  }
  return result;
}

}  // namespace portrait::store
