// FaultyStore: a Store that forwards to a real one and fails on command, for fault-injection
// tests (leveldb's FaultInjectionTestEnv in miniature).
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>

#include "store/store.h"

namespace portrait::testing {

class FaultyStore final : public store::Store {
 public:
  explicit FaultyStore(store::Store& real) : real_(real) {}

  // While set, every commit carrying audit records fails with IOError and writes nothing.
  std::atomic<bool> fail_audit_writes{false};

  // While above zero, a commit that records a task as delivered fails with IOError, writes
  // nothing, and counts it down.
  std::atomic<int> fail_delivered_records{0};

  // While set, PutCheckpoint fails with IOError and writes nothing.
  std::atomic<bool> fail_checkpoints{false};

  // While above zero, ListTasks fails with IOError and counts it down.
  std::atomic<int> fail_list_tasks{0};

  // While above zero, a commit that writes members-index rows fails with IOError, writes
  // nothing, and counts it down.
  std::atomic<int> fail_member_writes{0};

  // While not negative: that many more GetProfileByKey calls are answered, and each after them
  // fails with IOError (until set back to -1).
  std::atomic<int> profile_by_key_answers{-1};

  // When set, called before each EventsOfType is answered (e.g. to erase a profile between the
  // pages a fit reads).
  std::function<void()> before_events_of_type;

  Result<store::CommitResult> Commit(const store::Batch& batch) override {
    if (fail_audit_writes && !batch.audit.empty()) {
      return Error(Status::IOError("injected: audit write failed"));
    }
    const bool records_delivered =
        std::any_of(batch.task_updates.begin(), batch.task_updates.end(),
                    [](const store::TaskUpdate& u) { return u.state == "delivered"; });
    if (records_delivered && fail_delivered_records.load() > 0) {
      --fail_delivered_records;
      return Error(Status::IOError("injected: recording a delivery failed"));
    }
    if (!batch.members.empty() && fail_member_writes.load() > 0) {
      --fail_member_writes;
      return Error(Status::IOError("injected: writing members-index rows failed"));
    }
    return real_.Commit(batch);
  }
  Result<std::optional<store::ProfileRow>> GetProfile(store::ProfileId id) override {
    return real_.GetProfile(id);
  }
  Result<std::optional<store::ProfileRow>> GetProfileByKey(std::string_view k) override {
    const int left = profile_by_key_answers.load();
    if (left == 0) {
      return Error(Status::IOError("injected: looking a profile up by its key failed"));
    }
    if (left > 0) {
      --profile_by_key_answers;
    }
    return real_.GetProfileByKey(k);
  }
  Result<std::vector<store::AliasRow>> GetAliases(store::ProfileId id) override {
    return real_.GetAliases(id);
  }
  Result<std::optional<store::AliasRow>> GetAlias(std::string_view k) override {
    return real_.GetAlias(k);
  }
  Result<std::vector<store::ProfileId>> GetMergedIds() override { return real_.GetMergedIds(); }
  Result<std::map<std::string, std::string>> GetFields(store::ProfileId id) override {
    return real_.GetFields(id);
  }
  Result<std::vector<store::ProfileId>> LookupBlind(std::string_view f,
                                                    std::string_view d) override {
    return real_.LookupBlind(f, d);
  }
  Result<std::vector<store::EventRow>> GetEvents(store::ProfileId id) override {
    return real_.GetEvents(id);
  }
  Result<int64_t> CountProfiles() override { return real_.CountProfiles(); }
  Result<store::StoreCounts> Counts(int64_t now_us) override { return real_.Counts(now_us); }
  Result<std::vector<store::HourCounts>> CountByHour(int64_t from_us, int hours) override {
    return real_.CountByHour(from_us, hours);
  }
  Result<std::vector<bool>> StoredEvents(const std::vector<std::string_view>& keys) override {
    return real_.StoredEvents(keys);
  }
  Result<std::vector<store::ProfileId>> ProfileIds(store::ProfileId after, int limit) override {
    return real_.ProfileIds(after, limit);
  }
  Result<std::vector<store::ProfileRow>> ProfileRows(store::ProfileId after, int limit) override {
    return real_.ProfileRows(after, limit);
  }
  Result<std::vector<store::EventRow>> EventsOfType(std::string_view type, int64_t until_us,
                                                    const store::EventCursor& after,
                                                    int limit) override {
    if (before_events_of_type) {
      before_events_of_type();
    }
    return real_.EventsOfType(type, until_us, after, limit);
  }
  Result<std::optional<int64_t>> LatestEventTime(std::string_view type) override {
    return real_.LatestEventTime(type);
  }
  Result<std::optional<store::ModelRow>> GetModel(std::string_view kind,
                                                  std::string_view name) override {
    return real_.GetModel(kind, name);
  }
  Result<std::vector<store::ModelRow>> ListModels() override { return real_.ListModels(); }
  Result<store::ProfileId> ProfileIdHighWater() override { return real_.ProfileIdHighWater(); }
  Result<std::vector<store::TimerRow>> DueTimers(int64_t until, int limit) override {
    return real_.DueTimers(until, limit);
  }
  Result<int64_t> CountDueTimers(int64_t until) override { return real_.CountDueTimers(until); }
  Result<std::vector<store::TimerRow>> GetTimers(store::ProfileId id) override {
    return real_.GetTimers(id);
  }
  Result<std::vector<store::TimerInputs>> RearmInputs(store::ProfileId after, int limit) override {
    return real_.RearmInputs(after, limit);
  }
  Result<std::vector<store::PortraitInputs>> PortraitInputsAfter(
      store::ProfileId after, int limit, const store::PortraitRead& read) override {
    return real_.PortraitInputsAfter(after, limit, read);
  }
  bool KeepsDigests() const override { return real_.KeepsDigests(); }
  Result<int64_t> CountSegmentMembers(std::string_view segment) override {
    return real_.CountSegmentMembers(segment);
  }
  Result<std::vector<store::ProfileId>> SegmentMembers(std::string_view segment,
                                                       store::ProfileId after, int limit) override {
    return real_.SegmentMembers(segment, after, limit);
  }
  Result<std::vector<std::pair<store::ProfileId, std::string>>> MembershipsBetween(
      store::ProfileId first, store::ProfileId last) override {
    return real_.MembershipsBetween(first, last);
  }
  Result<bool> HasTask(std::string_view d) override { return real_.HasTask(d); }
  Result<std::optional<std::string>> GetMeta(std::string_view k) override {
    return real_.GetMeta(k);
  }
  Result<std::vector<store::TaskRow>> GetTasks(store::ProfileId id) override {
    return real_.GetTasks(id);
  }
  Result<std::vector<store::TaskRow>> DueTasks(std::string_view sink, int64_t until,
                                               int limit) override {
    return real_.DueTasks(sink, until, limit);
  }
  Result<std::optional<store::TaskRow>> GetTask(int64_t id) override { return real_.GetTask(id); }
  Result<std::vector<store::TaskRow>> ListTasks(const store::TaskFilter& f) override {
    if (fail_list_tasks.load() > 0) {
      --fail_list_tasks;
      return Error(Status::IOError("injected: listing tasks failed"));
    }
    return real_.ListTasks(f);
  }
  Result<int64_t> CountDelivered(store::ProfileId id, std::string_view purpose,
                                 int64_t since) override {
    return real_.CountDelivered(id, purpose, since);
  }
  Result<std::map<std::string, int64_t>> CountTasksByState() override {
    return real_.CountTasksByState();
  }
  Result<std::vector<store::ConsentRow>> GetConsents(store::ProfileId id) override {
    return real_.GetConsents(id);
  }
  Result<std::vector<std::vector<store::ConsentRow>>> GetConsentsOf(
      std::span<const store::ProfileId> ids) override {
    return real_.GetConsentsOf(ids);
  }
  Result<std::vector<store::AuditRecord>> ReadAudit(int64_t after, int limit) override {
    return real_.ReadAudit(after, limit);
  }
  Result<std::pair<int64_t, std::string>> AuditHead() override { return real_.AuditHead(); }
  Status PutCheckpoint(const store::AuditCheckpoint& c) override {
    if (fail_checkpoints) {
      return Status::IOError("injected: checkpoint write failed");
    }
    return real_.PutCheckpoint(c);
  }
  Result<std::vector<store::AuditCheckpoint>> GetCheckpoints() override {
    return real_.GetCheckpoints();
  }
  Result<int64_t> Purge(const store::PurgeRule& rule, store::AuditEntry audit) override {
    if (fail_audit_writes) {
      return Error(Status::IOError("injected: audit write failed"));
    }
    return real_.Purge(rule, std::move(audit));
  }
  Result<std::optional<store::TokenRow>> FindToken(std::string_view d) override {
    return real_.FindToken(d);
  }
  Result<std::vector<store::TokenRow>> ListTokens() override { return real_.ListTokens(); }
  Status TouchToken(int64_t id, int64_t t) override { return real_.TouchToken(id, t); }
  Status PutDataKey(store::ProfileId id, std::string_view w) override {
    return real_.PutDataKey(id, w);
  }
  Status PutDataKeys(
      const std::vector<std::pair<store::ProfileId, std::string>>& wrapped) override {
    return real_.PutDataKeys(wrapped);
  }
  Result<std::optional<std::string>> GetDataKey(store::ProfileId id) override {
    return real_.GetDataKey(id);
  }
  Result<std::vector<std::pair<store::ProfileId, std::string>>> DataKeysBetween(
      store::ProfileId first, store::ProfileId last) override {
    return real_.DataKeysBetween(first, last);
  }
  Status DestroyDataKey(store::ProfileId id) override { return real_.DestroyDataKey(id); }

 private:
  store::Store& real_;
};

}  // namespace portrait::testing
