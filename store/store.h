// Store: persistence of profiles, blind-index entries, events and wrapped data keys, behind an
// interface that speaks of those things rather than SQL, so a server database could implement it
// later. Everything personal arrives already encrypted (envelopes from crypto/FieldCipher); a
// Store never sees a key or a clear value. Implementations are thread-safe.
//
// Two places: the main store (profiles, fields, blind index, events) and the keystore (wrapped
// per-profile data keys). They are separate so that a backup of the main store never holds a
// key; destroying a profile's wrapped key makes every copy of its ciphertexts unreadable.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace portrait::store {

using ProfileId = int64_t;

struct ProfileRow {
  ProfileId id = 0;
  std::string ext_key;      // blind digest of the external id: the lookup key
  std::string external_id;  // envelope
  std::string timezone;     // IANA name; empty = the config's default
  std::string lifecycle;    // stage name; empty = not evaluated yet
  std::string tags;         // envelope of a JSON array; empty = no tags
  std::string metrics;      // envelope of a JSON object; empty = no metrics
  int64_t created_us = 0;
  int64_t updated_us = 0;
};

// A write of one profile. `row` replaces the stored row; fields not named are kept.
struct ProfileWrite {
  bool is_new = false;  // insert (Conflict if the id or ext_key is taken), else update
  ProfileRow row;
  std::map<std::string, std::string> set_fields;  // field name -> envelope
  std::vector<std::string> removed_fields;
  // Blind-index changes: field name -> new digest, or nullopt to drop the field's entry.
  std::map<std::string, std::optional<std::string>> blind;
};

struct EventRow {
  std::string key;  // blind digest of the client's event id: duplicates share it
  ProfileId profile_id = 0;
  std::string type;
  int64_t time_us = 0;
  std::string data;  // envelope of the event's data JSON
};

// Writes applied together, atomically: all or none.
struct Batch {
  std::vector<ProfileWrite> profiles;
  std::vector<EventRow> events;
  std::vector<ProfileId> erasures;  // delete the profile, its fields, index entries and events
};

struct CommitResult {
  int events_stored = 0;
  int duplicates = 0;  // events whose key was already stored; not stored again
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies `batch` in one durable transaction. Conflict if a new profile's id or ext_key is
  // already taken; NotFound if an updated profile does not exist; nothing is written then.
  virtual Result<CommitResult> Commit(const Batch& batch) = 0;

  // The profile row, or nullopt when there is none.
  virtual Result<std::optional<ProfileRow>> GetProfile(ProfileId id) = 0;
  virtual Result<std::optional<ProfileRow>> GetProfileByKey(std::string_view ext_key) = 0;
  // Every stored field of a profile: name -> envelope (empty when the profile has none).
  virtual Result<std::map<std::string, std::string>> GetFields(ProfileId id) = 0;
  // Ids of profiles whose `field` has blind digest `digest`, ascending.
  virtual Result<std::vector<ProfileId>> LookupBlind(std::string_view field,
                                                     std::string_view digest) = 0;
  // A profile's events, oldest first.
  virtual Result<std::vector<EventRow>> GetEvents(ProfileId id) = 0;
  virtual Result<int64_t> CountProfiles() = 0;

  // Keystore. PutDataKey durably stores a wrapped key (Conflict if one exists for `id`);
  // GetDataKey returns nullopt when there is none (never created, or destroyed);
  // DestroyDataKey durably removes it, leaving no copy in the keystore's files.
  virtual Status PutDataKey(ProfileId id, std::string_view wrapped) = 0;
  virtual Result<std::optional<std::string>> GetDataKey(ProfileId id) = 0;
  virtual Status DestroyDataKey(ProfileId id) = 0;
};

// A store held in memory, for fast tests. Same contract, nothing durable.
std::unique_ptr<Store> NewMemoryStore();

}  // namespace portrait::store
