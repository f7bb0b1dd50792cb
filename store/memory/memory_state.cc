#include "store/memory/memory_state.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "store/audit_chain.h"

namespace portrait::store::memory {
namespace {

// New tasks (a repeated dedupe digest is skipped) and task updates, in order.
Status WriteTasks(const Batch& batch, State& s, CommitResult& result) {
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

void WriteAnchor(ProfileId id, const std::string& field, const std::optional<AnchorDate>& date,
                 State& s) {
  if (date) {
    s.anchors[{id, field}] = *date;
  } else {
    s.anchors.erase({id, field});
  }
}

Status WriteProfile(const ProfileWrite& w, State& s) {
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
  s.profile_id_high = std::max(s.profile_id_high, r.id);
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
  for (const auto& [field, date] : w.anchors) {
    WriteAnchor(r.id, field, date, s);
  }
  return Status::Ok();
}

Status WriteAliases(const std::vector<AliasRow>& aliases, State& s) {
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

void WriteMembers(const Batch& batch, State& s) {
  for (const std::string& segment : batch.dropped_segments) {
    std::erase_if(s.members, [&](const auto& entry) { return entry.first == segment; });
  }
  for (const SegmentMember& m : batch.members) {
    if (!m.member) {
      s.members.erase({m.segment, m.profile_id});
    } else if (s.profiles.count(m.profile_id) > 0) {
      s.members.emplace(m.segment, m.profile_id);
    }
  }
}

void EraseRows(ProfileId id, State& s) {
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
  std::erase_if(s.anchors, [&](const auto& entry) { return entry.first.first == id; });
  std::erase_if(s.members, [&](const auto& entry) { return entry.second == id; });
  std::erase_if(s.tasks, [&](const auto& entry) {
    const TaskRow& t = entry.second;
    return t.profile_id == id && t.trigger != kErasureNotice && IsUnfinished(t.state);
  });
}

Status WriteTokens(const Batch& batch, State& s) {
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

}  // namespace

void AppendAudit(const std::vector<AuditEntry>& entries, State& s, CommitResult& result) {
  for (const AuditEntry& e : entries) {
    int64_t seq = s.audit.empty() ? 1 : s.audit.back().seq + 1;
    std::string prev = s.audit.empty() ? GenesisHash() : s.audit.back().hash;
    s.audit.push_back(AuditRecord{seq, e, ChainHash(prev, seq, e), ""});
    result.audit_seq = seq;
    result.audit_hash = s.audit.back().hash;
  }
}

int64_t PurgeRows(const PurgeRule& rule, State& s) {
  auto held = [&](ProfileId id) {
    auto it = s.profiles.find(id);
    return it != s.profiles.end() && it->second.legal_hold;
  };
  // Oldest first, as the SQLCipher store: (time, key) of each event, (updated, id) of each value.
  int64_t purged = 0;
  if (!rule.event_type.empty()) {
    std::vector<std::pair<int64_t, std::string>> expired;
    for (const auto& [key, e] : s.events) {
      if (e.type == rule.event_type && e.time_us < rule.before_us && !held(e.profile_id)) {
        expired.emplace_back(e.time_us, key);
      }
    }
    std::sort(expired.begin(), expired.end());
    for (size_t i = 0; i < expired.size() && purged < rule.limit; ++i, ++purged) {
      s.events.erase(expired[i].second);
    }
  }
  for (const std::string& name : rule.fields) {
    std::vector<std::pair<int64_t, ProfileId>> expired;
    for (const auto& [id, fields] : s.fields) {
      auto it = fields.find(name);
      if (!held(id) && it != fields.end() && it->second.updated_us < rule.before_us) {
        expired.emplace_back(it->second.updated_us, id);
      }
    }
    std::sort(expired.begin(), expired.end());
    for (size_t i = 0; i < expired.size() && purged < rule.limit; ++i, ++purged) {
      const ProfileId id = expired[i].second;
      s.fields[id].erase(name);
      s.anchors.erase({id, name});
      std::erase_if(s.blind, [&](const auto& entry) {
        return std::get<0>(entry) == name && std::get<2>(entry) == id;
      });
    }
  }
  return purged;
}

Status ApplyBatch(const Batch& batch, State& s, CommitResult& result) {
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
  for (const AnchorChange& c : batch.anchors) {
    if (s.profiles.count(c.profile_id) == 0) {
      return Status::NotFound("profile " + std::to_string(c.profile_id) + " does not exist");
    }
    WriteAnchor(c.profile_id, c.field, c.date, s);
  }
  WriteMembers(batch, s);
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
  for (const ModelRow& m : batch.models) {
    ModelRow& stored = s.models[{m.kind, m.name}];
    if (stored.version != 0 && m.version <= stored.version) {
      return Status::Conflict(m.kind + " '" + m.name + "' has version " +
                              std::to_string(stored.version) + " already");
    }
    stored = m;
  }
  AppendAudit(batch.audit, s, result);
  return Status::Ok();
}

}  // namespace portrait::store::memory
