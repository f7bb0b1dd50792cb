// The in-memory Store: std::maps behind one mutex. Same contract as the SQLCipher backend
// (tests/store/store_contract_test.cc runs against both), nothing durable.
#include <algorithm>
#include <mutex>
#include <set>
#include <tuple>

#include "store/store.h"

namespace portrait::store {
namespace {

class MemoryStore final : public Store {
 public:
  Result<CommitResult> Commit(const Batch& batch) override {
    std::lock_guard lock(mu_);
    // Check conflicts first so a failed batch writes nothing.
    for (const ProfileWrite& w : batch.profiles) {
      auto it = by_key_.find(w.row.ext_key);
      if (it != by_key_.end() && it->second != w.row.id) {
        return Error(Status::Conflict("ext_key of profile " + std::to_string(w.row.id) +
                                      " belongs to profile " + std::to_string(it->second)));
      }
      bool exists = profiles_.contains(w.row.id);
      if (w.is_new && exists) {
        return Error(Status::Conflict("profile " + std::to_string(w.row.id) + " already exists"));
      }
      if (!w.is_new && !exists) {
        return Error(Status::NotFound("profile " + std::to_string(w.row.id) + " does not exist"));
      }
    }
    for (const ProfileWrite& w : batch.profiles) {
      WriteProfile(w);
    }
    CommitResult result;
    for (const EventRow& e : batch.events) {
      if (events_.emplace(e.key, e).second) {
        ++result.events_stored;
      } else {
        ++result.duplicates;
      }
    }
    for (ProfileId id : batch.erasures) {
      EraseRows(id);
    }
    return result;
  }

  Result<std::optional<ProfileRow>> GetProfile(ProfileId id) override {
    std::lock_guard lock(mu_);
    auto it = profiles_.find(id);
    return it == profiles_.end() ? std::optional<ProfileRow>() : it->second;
  }

  Result<std::optional<ProfileRow>> GetProfileByKey(std::string_view ext_key) override {
    std::lock_guard lock(mu_);
    auto it = by_key_.find(std::string(ext_key));
    return it == by_key_.end() ? std::optional<ProfileRow>() : profiles_.at(it->second);
  }

  Result<std::map<std::string, std::string>> GetFields(ProfileId id) override {
    std::lock_guard lock(mu_);
    auto it = fields_.find(id);
    return it == fields_.end() ? std::map<std::string, std::string>() : it->second;
  }

  Result<std::vector<ProfileId>> LookupBlind(std::string_view field,
                                             std::string_view digest) override {
    std::lock_guard lock(mu_);
    std::vector<ProfileId> out;
    for (const auto& [f, d, id] : blind_) {
      if (f == field && d == digest) {
        out.push_back(id);
      }
    }
    return out;  // the set's order makes ids ascending
  }

  Result<std::vector<EventRow>> GetEvents(ProfileId id) override {
    std::lock_guard lock(mu_);
    std::vector<EventRow> out;
    for (const auto& [key, e] : events_) {
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
    std::lock_guard lock(mu_);
    return static_cast<int64_t>(profiles_.size());
  }

  Status PutDataKey(ProfileId id, std::string_view wrapped) override {
    std::lock_guard lock(mu_);
    if (!keys_.emplace(id, std::string(wrapped)).second) {
      return Status::Conflict("a data key already exists for profile " + std::to_string(id));
    }
    return Status::Ok();
  }

  Result<std::optional<std::string>> GetDataKey(ProfileId id) override {
    std::lock_guard lock(mu_);
    auto it = keys_.find(id);
    return it == keys_.end() ? std::optional<std::string>() : it->second;
  }

  Status DestroyDataKey(ProfileId id) override {
    std::lock_guard lock(mu_);
    keys_.erase(id);
    return Status::Ok();
  }

 private:
  void WriteProfile(const ProfileWrite& w) {
    if (auto old = profiles_.find(w.row.id); old != profiles_.end()) {
      by_key_.erase(old->second.ext_key);
    }
    profiles_[w.row.id] = w.row;
    by_key_[w.row.ext_key] = w.row.id;
    auto& fields = fields_[w.row.id];
    for (const auto& [name, envelope] : w.set_fields) {
      fields[name] = envelope;
    }
    for (const auto& name : w.removed_fields) {
      fields.erase(name);
    }
    for (const auto& [field, digest] : w.blind) {
      std::erase_if(blind_, [&](const auto& entry) {
        return std::get<0>(entry) == field && std::get<2>(entry) == w.row.id;
      });
      if (digest) {
        blind_.emplace(field, *digest, w.row.id);
      }
    }
  }

  void EraseRows(ProfileId id) {
    auto it = profiles_.find(id);
    if (it != profiles_.end()) {
      by_key_.erase(it->second.ext_key);
      profiles_.erase(it);
    }
    fields_.erase(id);
    std::erase_if(blind_, [&](const auto& entry) { return std::get<2>(entry) == id; });
    std::erase_if(events_, [&](const auto& entry) { return entry.second.profile_id == id; });
  }

  std::mutex mu_;
  std::map<ProfileId, ProfileRow> profiles_;
  std::map<std::string, ProfileId> by_key_;
  std::map<ProfileId, std::map<std::string, std::string>> fields_;
  std::set<std::tuple<std::string, std::string, ProfileId>> blind_;
  std::map<std::string, EventRow> events_;
  std::map<ProfileId, std::string> keys_;
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace portrait::store
