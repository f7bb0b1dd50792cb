// ProfileVault: profile operations over a Store — validate, encrypt, blind-index, write; read
// and decrypt; find by blind index; erase by crypto-shredding. Every field is sealed with the
// profile's own random data key (associated data: internal id + field name); the key lives
// wrapped in the keystore only. Thread-safe if the Store is; holds no mutable state.
//
// Errors name fields and internal ids, never a personal value (not even the external id).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "config/config.h"
#include "crypto/blind_index.h"
#include "crypto/key_hierarchy.h"
#include "crypto/key_slab.h"
#include "store/audit_log.h"
#include "store/store.h"

namespace portrait::store {

// A decrypted profile.
struct Profile {
  ProfileId id = 0;
  std::string external_id;
  nlohmann::json fields = nlohmann::json::object();  // field name -> canonical value
  std::vector<std::string> tags;                     // sorted
  std::string timezone;                              // empty = the config's default
  std::string lifecycle;
  nlohmann::json metrics = nlohmann::json::object();
  int64_t created_us = 0;
  int64_t updated_us = 0;
  bool legal_hold = false;  // erasure and retention purges suspended
};

// A profile opened for a read-modify-write by the daemon's writer: its stored row, its data key
// and its decrypted contents. Changes to `profile.metrics` and `profile.lifecycle` are stored by
// StateWrite.
// The name an event's data is sealed under (with the profile id, the associated data).
inline constexpr std::string_view kEventDataField = "$event";
// The name a task's payload is sealed under.
inline std::string TaskPayloadName(std::string_view trigger) {
  return "$task/" + std::string(trigger);
}

struct OpenProfile {
  ProfileRow row;
  crypto::SlabKey key;
  Profile profile;
  bool is_new = false;  // not stored yet: StateWrite inserts it
};

struct UpsertResult {
  ProfileId id = 0;
  bool created = false;
};

struct EraseReceipt {
  ProfileId id = 0;
  int64_t erased_at_us = 0;
  int fields = 0;  // how many fields were deleted
  int events = 0;  // how many events were deleted
};

class ProfileVault {
 public:
  // All references must outlive the vault. `audit_log`, if given, checkpoints the audit chain
  // after writes that carried audit entries.
  ProfileVault(const config::ConfigHolder& config, Store& store, const crypto::KeyHierarchy& keys,
               const crypto::BlindIndex& blind, const Clock& clock, AuditLog* audit_log = nullptr)
      : config_(config),
        store_(store),
        keys_(keys),
        blind_(blind),
        clock_(clock),
        audit_log_(audit_log) {}

  // Data keys in use at once (open profiles, reads in flight) at most.
  static constexpr size_t kKeySlots = 1 << 16;

  // Creates or partially updates the profile known to the CRM as `external_id`. `patch` is
  //   {"fields": {name: value | null}, "tags": {"add": [...], "remove": [...]}, "timezone": "…"}
  // with every part optional; null removes a field, fields not named are kept. InvalidArgument
  // (naming the field or key) for an unknown field, a wrong type, a bad tag or time zone;
  // nothing is written then. `audit`, if given, is committed with the write (its profile_id
  // filled in).
  Result<UpsertResult> Upsert(std::string_view external_id, const nlohmann::json& patch,
                              std::optional<AuditEntry> audit = std::nullopt);

  // The decrypted profile; NotFound if there is none.
  Result<Profile> Get(std::string_view external_id);
  Result<Profile> GetById(ProfileId id);

  // Ids of profiles whose blind-indexed `field` equals `value` after normalisation.
  // InvalidArgument if the field is unknown or not blind-indexed, or the value doesn't fit.
  Result<std::vector<ProfileId>> Find(std::string_view field, const nlohmann::json& value);

  // Erases the profile: destroys its data key first (from then on no copy of its ciphertexts,
  // in any backup of portrait.db, can be read), then deletes its fields, index entries and
  // events; consent records stay, under the pseudonymous internal id, their evidence shredded.
  // NotFound if there is none; Conflict while the profile is under legal hold (`audit`, if
  // given, is then committed as action "profile.erase.refused"). Re-running after a crash
  // finishes the job. `audit`, if given, commits before the data key is destroyed. The
  // deletion's transaction also queues an erasure notice for every sink that received the
  // profile's data (store/erasure_notice.h).
  Result<EraseReceipt> Erase(std::string_view external_id,
                             std::optional<AuditEntry> audit = std::nullopt);

  // Places or lifts a legal hold, which suspends erasure and retention purges; returns the
  // profile's internal id. NotFound if there is no such profile. `audit`, if given, commits
  // with the change.
  Result<ProfileId> SetLegalHold(std::string_view external_id, bool hold,
                                 std::optional<AuditEntry> audit = std::nullopt);

  // Seals `plaintext` with profile `id`'s data key, bound to `name` (e.g. consent evidence),
  // and the inverse. NotFound if the profile has no key (erased).
  Result<std::string> SealFor(ProfileId id, std::string_view name, std::string_view plaintext);
  Result<std::string> OpenFor(ProfileId id, std::string_view name, std::string_view envelope);
  // The external id of `row`'s profile and `envelope` (sealed under `name`) opened, with one
  // unwrap of its data key: what a task's delivery needs. NotFound once erased.
  struct Addressed {
    std::string external_id;
    std::string plaintext;
  };
  Result<Addressed> OpenAddressed(const ProfileRow& row, std::string_view name,
                                  std::string_view envelope);

  // Opens the profile the CRM knows as `external_id`, or makes a bare one (only its external id)
  // when there is none, storing its new data key durably first.
  Result<OpenProfile> OpenOrCreate(std::string_view external_id);
  // Opens an existing profile; NotFound if there is none.
  Result<OpenProfile> Open(ProfileId id);
  // The write that stores `p`'s metrics and lifecycle stage (and, for a new profile, the row);
  // for an existing profile it leaves every other column alone.
  Result<ProfileWrite> StateWrite(const OpenProfile& p, int64_t now_us);
  // The write that stores `merged` as open profile `p`: its fields (sealed with `p`'s key, the
  // blind index following them; fields `p` holds and `merged` lacks are removed), tags, time
  // zone, metrics, lifecycle and creation time; `p`'s external id and legal hold stay. What a
  // merge stores for its target. InvalidArgument naming a field the config no longer declares
  // or a value that no longer fits it.
  Result<ProfileWrite> FullWrite(const OpenProfile& p, const Profile& merged, int64_t now_us);
  // Seals `plaintext` with an open profile's key, bound to `name`.
  Result<std::string> Seal(const OpenProfile& p, std::string_view name,
                           std::string_view plaintext) const;

  // Profile `id`'s data key (NotFound once erased), and a seal with it: for sealing many values
  // of one profile without opening it.
  Result<crypto::SlabKey> KeyOf(ProfileId id) { return DataKey(id); }
  static Result<std::string> SealWith(crypto::KeyView key, ProfileId id, std::string_view name,
                                      std::string_view plaintext);

  // The blind digest that stands for `external_id`.
  std::string ExtKey(std::string_view external_id) const;

  // The internal id for `external_id`, or NotFound.
  Result<ProfileId> IdOf(std::string_view external_id);

 private:
  Result<Profile> Decrypt(const ProfileRow& row);
  Result<Profile> DecryptWith(const ProfileRow& row, crypto::KeyView key);
  Result<crypto::SlabKey> DataKey(ProfileId id);
  Result<crypto::SlabKey> NewDataKey();
  Status BuildWrite(const nlohmann::json& patch, crypto::KeyView key,
                    const std::vector<std::string>& old_tags, ProfileWrite& write);
  Status Commit(const Batch& batch);

  const config::ConfigHolder& config_;
  Store& store_;
  const crypto::KeyHierarchy& keys_;
  const crypto::BlindIndex& blind_;
  const Clock& clock_;
  AuditLog* audit_log_;
  crypto::KeySlab slab_{kKeySlots};
};

}  // namespace portrait::store
