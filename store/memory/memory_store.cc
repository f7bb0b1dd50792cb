// The in-memory Store: std::maps behind one mutex. Same contract as the SQLCipher backend
// (tests/store/store_contract_test.cc runs against both), nothing durable. A batch is applied to
// a copy of the state and swapped in, so a failed batch changes nothing (O(state) per commit:
// for tests, not for volume).
#include <algorithm>
#include <set>
#include <tuple>

#include "base/mutex.h"
#include "store/audit_chain.h"
#include "store/memory/memory_state.h"

namespace portrait::store {
namespace {

class MemoryStore final : public Store {
 public:
  Result<CommitResult> Commit(const Batch& batch) override {
    MutexLock lock(mu_);
    memory::State next = state_;
    CommitResult result;
    PORTRAIT_RETURN_IF_ERROR(memory::ApplyBatch(batch, next, result));
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

  Result<std::vector<ProfileId>> GetMergedIds() override {
    MutexLock lock(mu_);
    std::set<ProfileId> out;
    for (const auto& [key, alias] : state_.aliases) {
      if (alias.merged_id != 0) {
        out.insert(alias.merged_id);
      }
    }
    return std::vector<ProfileId>(out.begin(), out.end());
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

  Result<std::vector<EventRow>> EventsOfType(std::string_view type, int64_t until_us,
                                             const EventCursor& after, int limit) override {
    MutexLock lock(mu_);
    std::vector<EventRow> out;
    for (const auto& [key, e] : state_.events) {
      if (e.type == type && e.time_us <= until_us &&
          std::tie(e.time_us, e.key) > std::tie(after.time_us, after.key)) {
        out.push_back(e);
      }
    }
    std::sort(out.begin(), out.end(), [](const EventRow& a, const EventRow& b) {
      return std::tie(a.time_us, a.key) < std::tie(b.time_us, b.key);
    });
    out.resize(std::min(out.size(), static_cast<size_t>(std::max(limit, 0))));
    return out;
  }

  Result<std::optional<int64_t>> LatestEventTime(std::string_view type) override {
    MutexLock lock(mu_);
    std::optional<int64_t> latest;
    for (const auto& [key, e] : state_.events) {
      if (e.type == type && (!latest || e.time_us > *latest)) {
        latest = e.time_us;
      }
    }
    return latest;
  }

  Result<std::vector<ProfileRow>> ProfileRows(ProfileId after, int limit) override {
    MutexLock lock(mu_);
    std::vector<ProfileRow> out;
    for (auto it = state_.profiles.upper_bound(after);
         it != state_.profiles.end() && static_cast<int>(out.size()) < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  Result<std::optional<ModelRow>> GetModel(std::string_view kind, std::string_view name) override {
    MutexLock lock(mu_);
    auto it = state_.models.find({std::string(kind), std::string(name)});
    return it == state_.models.end() ? std::optional<ModelRow>() : it->second;
  }

  Result<std::vector<ModelRow>> ListModels() override {
    MutexLock lock(mu_);
    std::vector<ModelRow> out;
    for (const auto& [key, m] : state_.models) {
      out.push_back(m);
    }
    return out;
  }

  Result<int64_t> CountProfiles() override {
    MutexLock lock(mu_);
    return static_cast<int64_t>(state_.profiles.size());
  }

  Result<StoreCounts> Counts(int64_t now_us) override {
    MutexLock lock(mu_);
    StoreCounts out;
    out.events = static_cast<int64_t>(state_.events.size());
    for (const auto& [id, p] : state_.profiles) {
      ++out.lifecycle[p.lifecycle];
    }
    // The latest record of each (profile, purpose, scope, channel) made by now.
    std::map<std::tuple<ProfileId, std::string, std::string, std::string>, const ConsentRow*>
        latest;
    for (const ConsentRow& c : state_.consents) {
      if (c.time_us > now_us || !state_.profiles.contains(c.profile_id)) {
        continue;
      }
      const ConsentRow*& kept = latest[{c.profile_id, c.purpose, c.scope, c.channel}];
      if (!kept || c.time_us > kept->time_us || (c.time_us == kept->time_us && c.id > kept->id)) {
        kept = &c;
      }
    }
    std::map<std::tuple<std::string, std::string, std::string>, int64_t> counts;
    for (const auto& [key, c] : latest) {
      const bool expired = c->status == "granted" && c->expires_us != 0 && c->expires_us <= now_us;
      ++counts[{c->purpose, c->scope, expired ? "expired" : c->status}];
    }
    for (const auto& [key, n] : counts) {
      out.consents.push_back(ConsentCount{std::get<0>(key), std::get<1>(key), std::get<2>(key), n});
    }
    return out;
  }

  Result<std::vector<HourCounts>> CountByHour(int64_t from_us, int hours) override {
    constexpr int64_t kHourUs = int64_t{3600} * 1'000'000;
    std::vector<HourCounts> out(static_cast<size_t>(std::max(hours, 0)));
    for (size_t i = 0; i < out.size(); ++i) {
      out[i].hour_us = from_us + static_cast<int64_t>(i) * kHourUs;
    }
    auto bucket = [&](int64_t time_us) -> HourCounts* {
      if (time_us < from_us) {
        return nullptr;
      }
      const int64_t hour = (time_us - from_us) / kHourUs;
      return hour < static_cast<int64_t>(out.size()) ? &out[static_cast<size_t>(hour)] : nullptr;
    };
    MutexLock lock(mu_);
    for (const auto& [id, p] : state_.profiles) {
      if (HourCounts* h = bucket(p.created_us)) {
        ++h->profiles;
      }
    }
    for (const auto& [key, e] : state_.events) {
      if (HourCounts* h = bucket(e.time_us)) {
        ++h->events;
      }
    }
    for (const auto& [task_id, t] : state_.tasks) {
      if (HourCounts* h = bucket(t.created_us)) {
        ++h->tasks;
      }
    }
    return out;
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

  Result<ProfileId> ProfileIdHighWater() override {
    MutexLock lock(mu_);
    return std::max(state_.profile_id_high, keys_.empty() ? 0 : keys_.rbegin()->first);
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

  Result<std::vector<TimerInputs>> RearmInputs(ProfileId after, int limit) override {
    MutexLock lock(mu_);
    std::vector<TimerInputs> out;
    for (auto it = state_.profiles.upper_bound(after);
         it != state_.profiles.end() && static_cast<int>(out.size()) < limit; ++it) {
      out.push_back(TimerInputsOf(it->second));
    }
    return out;
  }

  Result<std::vector<PortraitInputs>> PortraitInputsAfter(ProfileId after, int limit,
                                                          const PortraitRead& read) override {
    MutexLock lock(mu_);
    std::vector<PortraitInputs> out;
    for (auto it = state_.profiles.upper_bound(after);
         it != state_.profiles.end() && static_cast<int>(out.size()) < limit; ++it) {
      PortraitInputs in;
      in.row = it->second;
      in.timers = TimerInputsOf(it->second);
      if (!read.timers) {
        in.timers.anchors.clear();
        in.timers.timers.clear();
      }
      if (auto key = keys_.find(in.row.id); key != keys_.end()) {
        in.wrapped_key = key->second;
      }
      if (auto values = state_.fields.find(in.row.id); values != state_.fields.end()) {
        for (const std::string& name : read.fields) {
          if (auto v = values->second.find(name); v != values->second.end()) {
            in.fields.emplace(name, v->second.envelope);
          }
        }
      }
      for (const auto& [segment, id] : state_.members) {
        if (id == in.row.id) {
          in.segments.push_back(segment);
        }
      }
      for (const ConsentRow& c : state_.consents) {
        if (c.profile_id == in.row.id && !read.consent_purpose.empty() &&
            c.purpose == read.consent_purpose) {
          in.consents.push_back(c);
        }
      }
      out.push_back(std::move(in));
    }
    return out;
  }

  Result<std::optional<std::string>> GetMeta(std::string_view key) override {
    MutexLock lock(mu_);
    auto it = state_.meta.find(std::string(key));
    return it == state_.meta.end() ? std::nullopt : std::optional<std::string>(it->second);
  }

  Result<int64_t> CountSegmentMembers(std::string_view segment) override {
    MutexLock lock(mu_);
    const std::string name(segment);
    auto first = state_.members.lower_bound({name, INT64_MIN});
    auto last = state_.members.upper_bound({name, INT64_MAX});
    return static_cast<int64_t>(std::distance(first, last));
  }

  Result<std::vector<ProfileId>> SegmentMembers(std::string_view segment, ProfileId after,
                                                int limit) override {
    MutexLock lock(mu_);
    std::vector<ProfileId> out;
    const std::string name(segment);
    for (auto it = state_.members.upper_bound({name, after});
         it != state_.members.end() && it->first == name && static_cast<int>(out.size()) < limit;
         ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  Result<std::vector<std::pair<ProfileId, std::string>>> MembershipsBetween(
      ProfileId first, ProfileId last) override {
    MutexLock lock(mu_);
    std::vector<std::pair<ProfileId, std::string>> out;
    for (const auto& [segment, id] : state_.members) {
      if (id >= first && id <= last) {
        out.emplace_back(id, segment);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
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

  Result<std::vector<std::vector<ConsentRow>>> GetConsentsOf(
      std::span<const ProfileId> ids) override {
    std::vector<std::vector<ConsentRow>> out;
    for (ProfileId id : ids) {
      PORTRAIT_ASSIGN_OR_RETURN(out.emplace_back(), GetConsents(id));
    }
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
    memory::State next = state_;
    int64_t purged = memory::PurgeRows(rule, next);
    audit.detail = PurgeDetail(audit.detail, purged);
    CommitResult ignored;
    memory::AppendAudit({audit}, next, ignored);
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

  Result<std::vector<std::pair<ProfileId, std::string>>> DataKeysBetween(ProfileId first,
                                                                         ProfileId last) override {
    MutexLock lock(mu_);
    std::vector<std::pair<ProfileId, std::string>> out;
    for (auto it = keys_.lower_bound(first); it != keys_.end() && it->first <= last; ++it) {
      out.emplace_back(it->first, it->second);
    }
    return out;
  }

  Status DestroyDataKey(ProfileId id) override {
    MutexLock lock(mu_);
    keys_.erase(id);
    return Status::Ok();
  }

 private:
  // Profile `row`'s zone, anchors and timers.
  TimerInputs TimerInputsOf(const ProfileRow& row) REQUIRES(mu_) {
    TimerInputs in;
    in.profile_id = row.id;
    in.timezone = row.timezone;
    for (auto a = state_.anchors.lower_bound({row.id, ""});
         a != state_.anchors.end() && a->first.first == row.id; ++a) {
      in.anchors[a->first.second] = a->second;
    }
    for (auto t = state_.timers.lower_bound({row.id, ""});
         t != state_.timers.end() && t->first.first == row.id; ++t) {
      in.timers.push_back(TimerRow{row.id, t->first.second, t->second});
    }
    return in;
  }

  Mutex mu_;
  memory::State state_ GUARDED_BY(mu_);
  std::map<int64_t, AuditCheckpoint> checkpoints_ GUARDED_BY(mu_);
  std::map<ProfileId, std::string> keys_ GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace portrait::store
