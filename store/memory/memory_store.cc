// The in-memory Store: std::maps behind one mutex. Same contract as the SQLCipher backend
// (tests/store/store_contract_test.cc runs against both), nothing durable. A batch is applied to
// a copy of the state and swapped in, so a failed batch changes nothing (O(state) per commit:
// for tests, not for volume).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "base/mutex.h"
#include "store/audit_chain.h"
#include "store/store.h"

namespace portrait::store {
namespace {

struct FieldValue {
  std::string envelope;
  int64_t updated_us = 0;
};

struct State {
  std::map<ProfileId, ProfileRow> profiles;
  std::map<std::string, ProfileId> by_key;
  std::map<std::string, AliasRow> aliases;  // by digest
  std::map<ProfileId, std::map<std::string, FieldValue>> fields;
  std::set<std::tuple<std::string, std::string, ProfileId>> blind;
  std::map<std::string, EventRow> events;
  std::vector<ConsentRow> consents;
  std::vector<AuditRecord> audit;
  std::vector<TokenRow> tokens;
  std::map<std::pair<ProfileId, std::string>, int64_t> timers;  // -> due
  std::map<int64_t, TaskRow> tasks;
  std::set<std::string> task_dedupe;
  int64_t next_task_id = 1;
  std::map<std::string, std::string> meta;
  int64_t next_consent_id = 1;
  int64_t next_token_id = 1;
};

class MemoryStore final : public Store {
 public:
  Result<CommitResult> Commit(const Batch& batch) override {
    MutexLock lock(mu_);
    State next = state_;
    CommitResult result;
    PORTRAIT_RETURN_IF_ERROR(Apply(batch, next, result));
    state_ = std::move(next);
    return result;
  }

  Result<std::optional<ProfileRow>> GetProfile(ProfileId id) override {
    MutexLock lock(mu_);
    auto it = state_.profiles.find(id);
    return it == state_.profiles.end() ? std::optional<ProfileRow>() : it->second;
  }

  Result<std::optional<ProfileRow>> GetProfileByKey(std::string_view ext_key) override {
    MutexLock lock(mu_);
    auto it = state_.by_key.find(std::string(ext_key));
    if (it != state_.by_key.end()) {
      return state_.profiles.at(it->second);
    }
    auto alias = state_.aliases.find(std::string(ext_key));
    return alias == state_.aliases.end() ? std::optional<ProfileRow>()
                                         : state_.profiles.at(alias->second.profile_id);
  }

  Result<std::vector<AliasRow>> GetAliases(ProfileId id) override {
    MutexLock lock(mu_);
    std::vector<AliasRow> out;
    for (const auto& [key, alias] : state_.aliases) {
      if (alias.profile_id == id) {
        out.push_back(alias);
      }
    }
    return out;
  }

  Result<std::optional<AliasRow>> GetAlias(std::string_view ext_key) override {
    MutexLock lock(mu_);
    auto it = state_.aliases.find(std::string(ext_key));
    return it == state_.aliases.end() ? std::optional<AliasRow>() : it->second;
  }

  Result<std::map<std::string, std::string>> GetFields(ProfileId id) override {
    MutexLock lock(mu_);
    std::map<std::string, std::string> out;
    if (auto it = state_.fields.find(id); it != state_.fields.end()) {
      for (const auto& [name, v] : it->second) {
        out.emplace(name, v.envelope);
      }
    }
    return out;
  }

  Result<std::vector<ProfileId>> LookupBlind(std::string_view field,
                                             std::string_view digest) override {
    MutexLock lock(mu_);
    std::vector<ProfileId> out;
    for (const auto& [f, d, id] : state_.blind) {
      if (f == field && d == digest) {
        out.push_back(id);
      }
    }
    return out;  // the set's order makes ids ascending
  }

  Result<std::vector<EventRow>> GetEvents(ProfileId id) override {
    MutexLock lock(mu_);
    std::vector<EventRow> out;
    for (const auto& [key, e] : state_.events) {
      if (e.profile_id == id) {
        out.push_back(e);
      }
    }
    std::sort(out.begin(), out.end(), [](const EventRow& a, const EventRow& b) {
      return std::tie(a.time_us, a.key) < std::tie(b.time_us, b.key);
    });
    return out;
  }

  Result<int64_t> CountProfiles() override {
    MutexLock lock(mu_);
    return static_cast<int64_t>(state_.profiles.size());
  }

  Result<std::vector<ProfileId>> ProfileIds(ProfileId after, int limit) override {
    MutexLock lock(mu_);
    std::vector<ProfileId> out;
    for (auto it = state_.profiles.upper_bound(after);
         it != state_.profiles.end() && static_cast<int>(out.size()) < limit; ++it) {
      out.push_back(it->first);
    }
    return out;
  }

  Result<std::vector<bool>> StoredEvents(const std::vector<std::string_view>& keys) override {
    MutexLock lock(mu_);
    std::vector<bool> stored;
    stored.reserve(keys.size());
    for (std::string_view key : keys) {
      stored.push_back(state_.events.count(std::string(key)) > 0);
    }
    return stored;
  }

  Result<std::vector<TimerRow>> DueTimers(int64_t until_us, int limit) override {
    MutexLock lock(mu_);
    std::vector<TimerRow> out;
    for (const auto& [key, due] : state_.timers) {
      if (due <= until_us) {
        out.push_back(TimerRow{key.first, key.second, due});
      }
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const TimerRow& a, const TimerRow& b) { return a.due_us < b.due_us; });
    if (static_cast<int>(out.size()) > limit) {
      out.resize(limit);
    }
    return out;
  }

  Result<int64_t> CountDueTimers(int64_t until_us) override {
    MutexLock lock(mu_);
    return static_cast<int64_t>(std::count_if(state_.timers.begin(), state_.timers.end(),
                                              [&](const auto& t) { return t.second <= until_us; }));
  }

  Result<std::vector<TimerRow>> GetTimers(ProfileId id) override {
    MutexLock lock(mu_);
    std::vector<TimerRow> out;
    for (const auto& [key, due] : state_.timers) {
      if (key.first == id) {
        out.push_back(TimerRow{key.first, key.second, due});
      }
    }
    return out;
  }

  Result<std::optional<std::string>> GetMeta(std::string_view key) override {
    MutexLock lock(mu_);
    auto it = state_.meta.find(std::string(key));
    return it == state_.meta.end() ? std::nullopt : std::optional<std::string>(it->second);
  }

  Result<bool> HasTask(std::string_view dedupe) override {
    MutexLock lock(mu_);
    return state_.task_dedupe.count(std::string(dedupe)) > 0;
  }

  Result<std::vector<TaskRow>> GetTasks(ProfileId id) override {
    MutexLock lock(mu_);
    std::vector<TaskRow> out;
    for (const auto& [task_id, t] : state_.tasks) {
      if (t.profile_id == id) {
        out.push_back(t);
      }
    }
    return out;
  }

  Result<std::vector<TaskRow>> DueTasks(std::string_view sink, int64_t until_us,
                                        int limit) override {
    MutexLock lock(mu_);
    std::vector<TaskRow> out;
    for (const auto& [task_id, t] : state_.tasks) {
      if (t.sink == sink && IsWaiting(t.state) && t.due_us <= until_us) {
        out.push_back(t);
      }
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const TaskRow& a, const TaskRow& b) { return a.due_us < b.due_us; });
    out.resize(std::min(out.size(), static_cast<size_t>(limit)));
    return out;
  }

  Result<std::optional<TaskRow>> GetTask(int64_t id) override {
    MutexLock lock(mu_);
    auto it = state_.tasks.find(id);
    return it == state_.tasks.end() ? std::nullopt : std::optional<TaskRow>(it->second);
  }

  Result<std::vector<TaskRow>> ListTasks(const TaskFilter& f) override {
    MutexLock lock(mu_);
    std::vector<TaskRow> out;
    for (auto it = state_.tasks.upper_bound(f.after_id);
         it != state_.tasks.end() && out.size() < static_cast<size_t>(f.limit); ++it) {
      const TaskRow& t = it->second;
      if ((f.state.empty() || t.state == f.state) &&
          (f.trigger.empty() || t.trigger == f.trigger) &&
          (f.profile_id == 0 || t.profile_id == f.profile_id) &&
          (f.purpose.empty() || t.purpose == f.purpose ||
           (f.include_notices && t.purpose.empty())) &&
          t.created_us >= f.since_us) {
        out.push_back(t);
      }
    }
    return out;
  }

  Result<int64_t> CountDelivered(ProfileId id, std::string_view purpose,
                                 int64_t since_us) override {
    MutexLock lock(mu_);
    return std::count_if(state_.tasks.begin(), state_.tasks.end(), [&](const auto& entry) {
      const TaskRow& t = entry.second;
      return t.profile_id == id && t.purpose == purpose &&
             t.state == TaskStateName(TaskState::kDelivered) && t.updated_us >= since_us;
    });
  }

  Result<std::map<std::string, int64_t>> CountTasksByState() override {
    MutexLock lock(mu_);
    std::map<std::string, int64_t> out;
    for (const auto& [task_id, t] : state_.tasks) {
      ++out[t.state];
    }
    return out;
  }

  Result<std::vector<ConsentRow>> GetConsents(ProfileId id) override {
    MutexLock lock(mu_);
    std::vector<ConsentRow> out;
    std::copy_if(state_.consents.begin(), state_.consents.end(), std::back_inserter(out),
                 [&](const ConsentRow& c) { return c.profile_id == id; });
    return out;
  }

  Result<std::vector<AuditRecord>> ReadAudit(int64_t after_seq, int limit) override {
    MutexLock lock(mu_);
    std::vector<AuditRecord> out;
    for (const AuditRecord& r : state_.audit) {
      if (r.seq > after_seq && static_cast<int>(out.size()) < limit) {
        out.push_back(r);
      }
    }
    return out;
  }

  Result<std::pair<int64_t, std::string>> AuditHead() override {
    MutexLock lock(mu_);
    if (state_.audit.empty()) {
      return std::make_pair(int64_t{0}, GenesisHash());
    }
    return std::make_pair(state_.audit.back().seq, state_.audit.back().hash);
  }

  Status PutCheckpoint(const AuditCheckpoint& checkpoint) override {
    MutexLock lock(mu_);
    checkpoints_[checkpoint.seq] = checkpoint;
    return Status::Ok();
  }

  Result<std::vector<AuditCheckpoint>> GetCheckpoints() override {
    MutexLock lock(mu_);
    std::vector<AuditCheckpoint> out;
    for (const auto& [seq, c] : checkpoints_) {
      out.push_back(c);
    }
    return out;
  }

  Result<int64_t> Purge(const PurgeRule& rule, AuditEntry audit) override {
    MutexLock lock(mu_);
    State next = state_;
    int64_t purged = PurgeRows(rule, next);
    nlohmann::json detail = nlohmann::json::parse(audit.detail, nullptr, false);
    if (!detail.is_object()) {
      detail = nlohmann::json::object();
    }
    detail["purged"] = purged;
    audit.detail = detail.dump();
    CommitResult ignored;
    AppendAudit({audit}, next, ignored);
    state_ = std::move(next);
    return purged;
  }

  Result<std::optional<TokenRow>> FindToken(std::string_view digest) override {
    MutexLock lock(mu_);
    for (const TokenRow& t : state_.tokens) {
      if (t.digest == digest) {
        return std::optional<TokenRow>(t);
      }
    }
    return std::optional<TokenRow>();
  }

  Result<std::vector<TokenRow>> ListTokens() override {
    MutexLock lock(mu_);
    return state_.tokens;
  }

  Status TouchToken(int64_t id, int64_t time_us) override {
    MutexLock lock(mu_);
    for (TokenRow& t : state_.tokens) {
      if (t.id == id) {
        t.last_used_us = time_us;
      }
    }
    return Status::Ok();
  }

  Status PutDataKey(ProfileId id, std::string_view wrapped) override {
    return PutDataKeys({{id, std::string(wrapped)}});
  }

  Status PutDataKeys(const std::vector<std::pair<ProfileId, std::string>>& wrapped) override {
    MutexLock lock(mu_);
    std::set<ProfileId> ids;
    for (const auto& [id, key] : wrapped) {
      if (keys_.count(id) || !ids.insert(id).second) {
        return Status::Conflict("a data key already exists for profile " + std::to_string(id));
      }
    }
    for (const auto& [id, key] : wrapped) {
      keys_.emplace(id, key);
    }
    return Status::Ok();
  }

  Result<std::optional<std::string>> GetDataKey(ProfileId id) override {
    MutexLock lock(mu_);
    auto it = keys_.find(id);
    return it == keys_.end() ? std::optional<std::string>() : it->second;
  }

  Status DestroyDataKey(ProfileId id) override {
    MutexLock lock(mu_);
    keys_.erase(id);
    return Status::Ok();
  }

 private:
  static Status Apply(const Batch& batch, State& s, CommitResult& result) {
    for (const ProfileWrite& w : batch.profiles) {
      PORTRAIT_RETURN_IF_ERROR(WriteProfile(w, s));
    }
    for (const EventRow& e : batch.events) {
      if (s.events.emplace(e.key, e).second) {
        ++result.events_stored;
      } else {
        ++result.duplicates;
      }
    }
    for (const EventRow& e : batch.moved_events) {
      auto it = s.events.find(e.key);
      if (it == s.events.end()) {
        return Status::NotFound("a moved event is not stored");
      }
      std::tie(it->second.profile_id, it->second.data) = std::tie(e.profile_id, e.data);
    }
    for (const TimerRow& t : batch.timers) {
      s.timers[{t.profile_id, t.trigger}] = t.due_us;
    }
    for (const auto& key : batch.cleared_timers) {
      s.timers.erase(key);
    }
    PORTRAIT_RETURN_IF_ERROR(WriteTasks(batch, s, result));
    for (const auto& [key, value] : batch.meta) {
      s.meta[key] = value;
    }
    for (const auto& [from, to] : batch.moved_aliases) {
      for (auto& [key, alias] : s.aliases) {
        alias.profile_id = alias.profile_id == from ? to : alias.profile_id;
      }
    }
    for (ProfileId id : batch.erasures) {
      EraseRows(id, s);
    }
    PORTRAIT_RETURN_IF_ERROR(WriteAliases(batch.aliases, s));
    for (ConsentRow c : batch.consents) {
      c.id = s.next_consent_id++;
      result.consent_ids.push_back(c.id);
      s.consents.push_back(std::move(c));
    }
    PORTRAIT_RETURN_IF_ERROR(WriteTokens(batch, s));
    AppendAudit(batch.audit, s, result);
    return Status::Ok();
  }

  // New tasks (a repeated dedupe digest is skipped) and task updates, in order.
  static Status WriteTasks(const Batch& batch, State& s, CommitResult& result) {
    for (TaskRow t : batch.tasks) {
      PORTRAIT_RETURN_IF_ERROR(CheckNewState(t.state));
      if (s.task_dedupe.insert(t.dedupe).second) {
        t.id = s.next_task_id++;
        s.tasks.emplace(t.id, std::move(t));
        ++result.tasks_created;
      }
    }
    for (const TaskUpdate& u : batch.task_updates) {
      if (auto it = s.tasks.find(u.id); it != s.tasks.end()) {
        TaskRow& t = it->second;
        PORTRAIT_RETURN_IF_ERROR(CheckMove(u.id, t.state, u.state));
        std::tie(t.state, t.reason, t.due_us, t.attempts, t.updated_us) =
            std::tie(u.state, u.reason, u.due_us, u.attempts, u.updated_us);
        if (u.clear_payload) {
          t.payload.clear();
        }
      }
    }
    return Status::Ok();
  }

  static Status WriteProfile(const ProfileWrite& w, State& s) {
    if (w.state_only && !w.is_new) {
      auto it = s.profiles.find(w.row.id);
      if (it == s.profiles.end()) {
        return Status::NotFound("profile " + std::to_string(w.row.id) + " does not exist");
      }
      it->second.lifecycle = w.row.lifecycle;
      it->second.metrics = w.row.metrics;
      it->second.updated_us = w.row.updated_us;
      return Status::Ok();
    }
    const ProfileRow& r = w.row;
    auto key_owner = s.by_key.find(r.ext_key);
    auto existing = s.profiles.find(r.id);
    if (key_owner != s.by_key.end() && key_owner->second != r.id) {
      return Status::Conflict("ext_key of profile " + std::to_string(r.id) +
                              " belongs to another profile");
    }
    if (w.is_new && s.aliases.count(r.ext_key) > 0) {
      return Status::Conflict("the external id is an alias of another profile");
    }
    if (w.is_new && existing != s.profiles.end()) {
      return Status::Conflict("profile " + std::to_string(r.id) + " already exists");
    }
    if (!w.is_new && existing == s.profiles.end()) {
      return Status::NotFound("profile " + std::to_string(r.id) + " does not exist");
    }
    if (existing != s.profiles.end()) {
      s.by_key.erase(existing->second.ext_key);
    }
    s.profiles[r.id] = r;
    s.by_key[r.ext_key] = r.id;
    auto& fields = s.fields[r.id];
    for (const auto& [name, envelope] : w.set_fields) {
      fields[name] = FieldValue{envelope, r.updated_us};
    }
    for (const auto& name : w.removed_fields) {
      fields.erase(name);
    }
    for (const auto& [field, digest] : w.blind) {
      std::erase_if(s.blind, [&, &field = field](const auto& entry) {      // clang 14: no
        return std::get<0>(entry) == field && std::get<2>(entry) == r.id;  // binding captures
      });
      if (digest) {
        s.blind.emplace(field, *digest, r.id);
      }
    }
    return Status::Ok();
  }

  static Status WriteAliases(const std::vector<AliasRow>& aliases, State& s) {
    for (const AliasRow& a : aliases) {
      if (s.by_key.count(a.ext_key) > 0) {
        return Status::Conflict("an alias's external id is a profile's own");
      }
      auto it = s.aliases.find(a.ext_key);
      if (it != s.aliases.end() && it->second.profile_id != a.profile_id) {
        return Status::Conflict("the external id is an alias of another profile");
      }
      if (s.profiles.count(a.profile_id) == 0) {
        return Status::NotFound("profile " + std::to_string(a.profile_id) + " does not exist");
      }
      s.aliases.emplace(a.ext_key, a);
    }
    return Status::Ok();
  }

  static void EraseRows(ProfileId id, State& s) {
    std::erase_if(s.aliases, [&](const auto& entry) { return entry.second.profile_id == id; });
    auto it = s.profiles.find(id);
    if (it != s.profiles.end()) {
      s.by_key.erase(it->second.ext_key);
      s.profiles.erase(it);
    }
    s.fields.erase(id);
    std::erase_if(s.blind, [&](const auto& entry) { return std::get<2>(entry) == id; });
    std::erase_if(s.events, [&](const auto& entry) { return entry.second.profile_id == id; });
    std::erase_if(s.timers, [&](const auto& entry) { return entry.first.first == id; });
    std::erase_if(s.tasks, [&](const auto& entry) {
      const TaskRow& t = entry.second;
      return t.profile_id == id && t.trigger != kErasureNotice && IsUnfinished(t.state);
    });
  }

  static Status WriteTokens(const Batch& batch, State& s) {
    auto active = [&](const std::string& name) {
      return std::find_if(s.tokens.begin(), s.tokens.end(),
                          [&](const TokenRow& t) { return t.name == name && t.revoked_us == 0; });
    };
    for (TokenRow t : batch.new_tokens) {
      if (active(t.name) != s.tokens.end()) {
        return Status::Conflict("an active token named '" + t.name + "' exists; revoke it first");
      }
      t.id = s.next_token_id++;
      s.tokens.push_back(std::move(t));
    }
    for (const std::string& name : batch.revoked_tokens) {
      auto it = active(name);
      if (it == s.tokens.end()) {
        return Status::NotFound("no active token named '" + name + "'");
      }
      it->revoked_us = batch.revoked_at_us;
    }
    return Status::Ok();
  }

  static void AppendAudit(const std::vector<AuditEntry>& entries, State& s, CommitResult& result) {
    for (const AuditEntry& e : entries) {
      int64_t seq = s.audit.empty() ? 1 : s.audit.back().seq + 1;
      std::string prev = s.audit.empty() ? GenesisHash() : s.audit.back().hash;
      s.audit.push_back(AuditRecord{seq, e, ChainHash(prev, seq, e), ""});
      result.audit_seq = seq;
      result.audit_hash = s.audit.back().hash;
    }
  }

  static int64_t PurgeRows(const PurgeRule& rule, State& s) {
    auto held = [&](ProfileId id) {
      auto it = s.profiles.find(id);
      return it != s.profiles.end() && it->second.legal_hold;
    };
    int64_t purged = 0;
    if (!rule.event_type.empty()) {
      purged += static_cast<int64_t>(std::erase_if(s.events, [&](const auto& entry) {
        const EventRow& e = entry.second;
        return e.type == rule.event_type && e.time_us < rule.before_us && !held(e.profile_id);
      }));
    }
    for (auto& [id, fields] : s.fields) {
      if (held(id)) {
        continue;
      }
      for (const std::string& name : rule.fields) {
        auto it = fields.find(name);
        if (it != fields.end() && it->second.updated_us < rule.before_us) {
          fields.erase(it);
          std::erase_if(s.blind, [&, id = id](const auto& entry) {          // clang 14: no binding
            return std::get<0>(entry) == name && std::get<2>(entry) == id;  // captures
          });
          ++purged;
        }
      }
    }
    return purged;
  }

  Mutex mu_;
  State state_ GUARDED_BY(mu_);
  std::map<int64_t, AuditCheckpoint> checkpoints_ GUARDED_BY(mu_);
  std::map<ProfileId, std::string> keys_ GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace portrait::store
