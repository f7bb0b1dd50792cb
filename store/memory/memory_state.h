// The in-memory store's state and how a Batch changes it (store/memory/memory_store.cc holds
// the Store around it). The functions change `s` in place and may leave it half-changed when
// they fail: MemoryStore applies a batch to a copy and keeps the copy only on success.
#pragma once

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "store/store.h"

namespace portrait::store::memory {

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
  std::map<std::pair<ProfileId, std::string>, int64_t> timers;      // -> due
  std::map<std::pair<ProfileId, std::string>, AnchorDate> anchors;  // (profile, field)
  std::set<std::pair<std::string, ProfileId>> members;              // (segment, profile)
  std::map<int64_t, TaskRow> tasks;
  std::set<std::string> task_dedupe;
  int64_t next_task_id = 1;
  std::map<std::string, std::string> meta;
  std::map<std::pair<std::string, std::string>, ModelRow> models;  // (kind, name)
  ProfileId profile_id_high = 0;                                   // Store::ProfileIdHighWater
  int64_t next_consent_id = 1;
  int64_t next_token_id = 1;
};

// Applies every part of `batch`, in the order the SQLCipher backend does; fills `result`.
Status ApplyBatch(const Batch& batch, State& s, CommitResult& result);
// Appends `entries` to the hash chain, MAC-less as the memory store keeps them.
void AppendAudit(const std::vector<AuditEntry>& entries, State& s, CommitResult& result);
// Deletes what `rule` selects; returns how many rows went.
int64_t PurgeRows(const PurgeRule& rule, State& s);

}  // namespace portrait::store::memory
