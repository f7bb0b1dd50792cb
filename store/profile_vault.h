// ProfileVault: profile operations over a Store — validate, encrypt, blind-index, write; read
// and decrypt; find by blind index; erase by crypto-shredding. Every field is sealed with the
// profile's own random data key (associated data: internal id + field name); the key lives
// wrapped in the keystore only. Thread-safe if the Store is; holds no mutable state.
//
// Errors name fields and internal ids, never a personal value (not even the external id).
#pragma once

#include <functional>
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
#include "store/field_value.h"
#include "store/profile_ids.h"
#include "store/store.h"

namespace portrait::store {

struct PortraitDigest;  // store/portrait_digest.h

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

// A profile patch checked and normalised (every value in its canonical form); nothing sealed.
struct CheckedPatch {
  std::map<std::string, CheckedValue> set;  // field name -> canonical value
  std::vector<std::string> removed;         // fields set to null
  bool has_tags = false;
  std::vector<std::string> add_tags;
  std::vector<std::string> remove_tags;  // applied after add_tags
  std::optional<std::string> timezone;
};

// Why a patch was refused: the field (or key: "tags", "timezone", "body") and the error, whose
// message names the field and the rule broken, never the value.
struct PatchError {
  std::string field;
  Status status;
};

// Bulk import (store/profile_import.cc). One row: a patch for one external id.
struct ImportRow {
  int64_t line = 0;  // the row's line in the caller's file: errors name it
  std::string external_id;
  nlohmann::json patch;  // as for Upsert
};
struct ImportError {
  int64_t line = 0;
  std::string field;  // "id", a field name, "tags", "timezone", or "row"
  std::string reason;
};
struct PreparedImportRow {
  int64_t line = 0;
  std::string external_id;
  std::string ext_key;
  CheckedPatch patch;
  std::optional<ProfileWrite> fresh;  // sealed for a profile that did not exist when prepared
  std::string wrapped_key;            // fresh's data key, wrapped
  crypto::SlabKey key;                // fresh's data key
  // Set by the caller between the two steps (identity resolution, daemon/import_identity.h):
  // the row's id is new and names the person of this stored profile. CommitImport then writes
  // the row to that profile and makes the id its alias, in the same transaction (were the
  // profile gone by then, the row would make a new one).
  ProfileId merge_into = 0;
};
struct PreparedImport {
  std::vector<PreparedImportRow> rows;
  std::vector<ImportError> errors;  // rows refused while preparing
};
struct ImportCounts {
  int64_t created = 0;
  int64_t updated = 0;
  int64_t unchanged = 0;
  int64_t merged = 0;  // rows written to the profile they matched, their id now its alias
  std::vector<ImportError> errors;
  std::vector<ProfileId> written;  // ids created or updated
  std::vector<ProfileId> touched;  // every id a good row names (unchanged ones too)
  // The profiles created, as committed (row, key and plaintext): what the timer step needs,
  // without unwrapping and decrypting again what was just sealed.
  std::vector<OpenProfile> created_open;
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

  // An external id is 1-256 bytes without control characters (InvalidArgument otherwise).
  static Status CheckExternalId(std::string_view external_id);

  // Checks `patch` (shape, fields, values, tags, time zone) without writing anything.
  tl::expected<CheckedPatch, PatchError> CheckPatch(const nlohmann::json& patch) const;

  // Bulk import, step 1, on any thread: checks each row alone (a bad row becomes an
  // ImportError and never stops the others; an external id twice in `rows` is refused at its
  // second line), and for each row whose profile does not exist yet makes its data key and
  // seals it whole, so that step 2 only writes.
  PreparedImport PrepareImport(std::vector<ImportRow> rows);
  // Step 2, on the writer thread: compares each row with what is stored (a row that changes
  // nothing is `unchanged` and writes nothing, not even updated_us; a row with `merge_into`
  // whose id is still new is `merged`: written to that profile like an update, its id added as
  // an alias), stores the new profiles' data keys in one keystore transaction, then every write
  // with `audit` (its detail: the counts) in one transaction. On error nothing of the rows is
  // stored.
  Result<ImportCounts> CommitImport(PreparedImport prepared, AuditEntry audit);

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
  // when there is none and appends its new wrapped data key to `new_keys`, NOT stored: the
  // caller stores the keys (Store::PutDataKeys, one keystore transaction for all of a group's
  // new profiles) before it commits anything sealed with them.
  Result<OpenProfile> OpenOrCreate(std::string_view external_id,
                                   std::vector<std::pair<ProfileId, std::string>>& new_keys);
  // Opens an existing profile; NotFound if there is none.
  Result<OpenProfile> Open(ProfileId id);
  // A profile as the base-wide re-evaluation reads it from one range read
  // (Store::PortraitInputsAfter): its plain columns, tags, metrics and the fields `in` holds,
  // opened with the data key unwrapped from `in.wrapped_key`; the external id stays sealed.
  // NotFound when there is no key (erased meanwhile). With `only_metrics`, the metrics'
  // top-level entries it names alone (OpenMetrics).
  Result<Profile> OpenPortrait(const PortraitInputs& in,
                               const std::vector<std::string>* only_metrics = nullptr);
  // The same but for the fields, which stay sealed in `in`: with the data key that opens them
  // (OpenField) when a condition reads one.
  struct OpenedPortrait {
    Profile profile;  // without fields
    crypto::SlabKey key;
  };
  Result<OpenedPortrait> OpenPortraitButFields(const PortraitInputs& in,
                                               const std::vector<std::string>* only_metrics);
  // The digest `in` holds (read with digest spec `spec`, store/portrait_digest.h), opened with
  // the data key unwrapped from `in.wrapped_key` into `out` (ParseDigest: its parts replaced,
  // their allocations reused): the profile as far as the digest holds it and its members-index
  // rows. NotFound when there is no key (erased meanwhile); Corruption when the digest does not
  // open (its spec or stamp differ from those it was sealed with, say) or is not one.
  Status OpenDigest(const PortraitInputs& in, std::string_view spec, PortraitDigest& out);
  // `text` (DigestText) sealed as profile `id`'s digest of spec `spec` under stamp `stamp`,
  // with its data key `key`: the spec and stamp are authenticated with it.
  static Result<std::string> SealDigest(crypto::KeyView key, ProfileId id, int64_t stamp,
                                        std::string_view spec, std::string_view text);
  // The write that stores `p`'s metrics and lifecycle stage (and, for a new profile, the row);
  // for an existing profile it leaves every other column alone.
  Result<ProfileWrite> StateWrite(const OpenProfile& p, int64_t now_us);
  // The write that stores `merged` as open profile `p`: its fields (sealed with `p`'s key, the
  // blind index following them; fields `p` holds and `merged` lacks are removed), tags, time
  // zone, metrics, lifecycle and creation time; `p`'s external id and legal hold stay. What a
  // merge stores for its target. InvalidArgument naming a field the config no longer declares
  // or a value that no longer fits it.
  Result<ProfileWrite> FullWrite(const OpenProfile& p, const Profile& merged, int64_t now_us);
  // `metrics` sealed with `p`'s key, as a profile row stores them.
  Result<std::string> SealMetrics(const OpenProfile& p, const nlohmann::json& metrics) const;
  // Seals `plaintext` with an open profile's key, bound to `name`.
  Result<std::string> Seal(const OpenProfile& p, std::string_view name,
                           std::string_view plaintext) const;

  // Profile `id`'s data key (NotFound once erased), and a seal with it: for sealing many values
  // of one profile without opening it.
  Result<crypto::SlabKey> KeyOf(ProfileId id) { return DataKey(id); }
  // The same from its wrapped form, read already (Store::DataKeysBetween).
  Result<crypto::SlabKey> Unwrap(ProfileId id, std::string_view wrapped);
  static Result<std::string> SealWith(crypto::KeyView key, ProfileId id, std::string_view name,
                                      std::string_view plaintext);
  static Result<std::string> OpenWith(crypto::KeyView key, ProfileId id, std::string_view name,
                                      std::string_view envelope);
  // Field `name`'s canonical value from its envelope; Corruption if it does not hold JSON.
  static Result<nlohmann::json> OpenField(crypto::KeyView key, ProfileId id, std::string_view name,
                                          std::string_view envelope);
  // `row`'s metrics opened with its data key `key` (an empty object when it has none); what a
  // score refresh reads of every profile.
  // With `only`, the metrics' top-level entries it names alone (the others are read past, no
  // object or array of theirs built: a base-wide scan needs a few of them).
  static Result<nlohmann::json> OpenMetrics(crypto::KeyView key, const ProfileRow& row,
                                            const std::vector<std::string>* only = nullptr);

  // The blind digest that stands for `external_id`.
  std::string ExtKey(std::string_view external_id) const;

  // Adds to `batch` a profile.erased notice, naming `external_id`, for every sink a task of
  // profile `id` was attempted on (store/erasure_notice.h); used by Erase and by a merge, which
  // erases the merged-away profile.
  Status QueueErasureNotices(ProfileId id, std::string_view external_id, int64_t now_us,
                             Batch& batch);

  // The internal id for `external_id`, or NotFound.
  Result<ProfileId> IdOf(std::string_view external_id);
  // The profile's own external id (never an alias), or the error opening it (NotFound once
  // erased).
  Result<std::string> OwnExternalId(const ProfileRow& row);

  // Destroys profile `id`'s wrapped data key (Store::DestroyDataKey), then, whatever the
  // outcome, tells the listener: every key destruction (erasure, merge, a failed write's new
  // key) goes through here, so a copy of the key kept in memory can be dropped in one place.
  Status DestroyKey(ProfileId id);
  // Called with the id of every key DestroyKey destroys, on the thread that destroys it (the
  // writer's). Set once, before the vault is shared.
  void OnKeyDestroyed(std::function<void(ProfileId)> listener) {
    on_key_destroyed_ = std::move(listener);
  }

 private:
  Result<Profile> Decrypt(const ProfileRow& row);
  Result<Profile> DecryptWith(const ProfileRow& row, crypto::KeyView key);
  // The row's plain columns as a Profile; nothing sealed opened.
  static Profile Unsealed(const ProfileRow& row);
  // Destroys the data keys of the profiles merged into `id` that a merge left (cut off before
  // it destroyed them).
  Status DestroyMergedKeys(ProfileId id);
  Result<crypto::SlabKey> DataKey(ProfileId id);
  Result<crypto::SlabKey> NewDataKey();
  Status SealPatch(const CheckedPatch& patch, crypto::KeyView key,
                   const std::vector<std::string>& old_tags, ProfileWrite& write) const;
  // A new profile's row, key and sealed patch (not stored).
  Status SealNew(std::string_view external_id, const std::string& ext_key,
                 const CheckedPatch& patch, int64_t now_us, ProfileWrite& write,
                 std::string& wrapped_key, crypto::SlabKey& key);
  // The created profile `row` was sealed for (its key moved out of `row`), opened.
  static OpenProfile OpenCreated(const ProfileRow& stored, PreparedImportRow& row);
  // Whether applying `patch` to stored profile `row` would change nothing; if it would, the
  // update is built into `write`.
  Result<bool> Unchanged(const ProfileRow& row, const CheckedPatch& patch, int64_t now_us,
                         ProfileWrite& write);
  Result<std::vector<std::string>> TagsOf(const ProfileRow& row, crypto::KeyView key);
  Status Commit(const Batch& batch);

  const config::ConfigHolder& config_;
  Store& store_;
  const crypto::KeyHierarchy& keys_;
  const crypto::BlindIndex& blind_;
  const Clock& clock_;
  AuditLog* audit_log_;
  std::function<void(ProfileId)> on_key_destroyed_;
  ProfileIdAllocator ids_{store_, clock_};
  crypto::KeySlab slab_{kKeySlots};
};

}  // namespace portrait::store
