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
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/task_state.h"

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
  bool legal_hold = false;  // suspends erasure and retention purges
  int64_t created_us = 0;
  int64_t updated_us = 0;
};

// A durable timer: trigger `trigger` comes due for profile `profile_id` at `due_us`. A profile has
// at most one timer per trigger; setting one replaces the last.
struct TimerRow {
  ProfileId profile_id = 0;
  std::string trigger;
  int64_t due_us = 0;
};

// An anniversary anchor: of a date-typed field's value, what the yearly occurrences of its
// anniversary triggers depend on (rules/calendar.h NextAnniversary), kept plain (inside the
// encrypted database, not sealed with the profile's key) so that re-arming every timer after a
// rule change decrypts no profile (docs/DECISIONS.md 89). Month and day always; the year only
// when it is last year or later at the time of writing (a date ahead has no occurrence before
// it), else 0: a year before that changes no occurrence computed from then on.
struct AnchorDate {
  int year = 0;  // 0: no year (see above)
  int month = 0;
  int day = 0;
  bool operator==(const AnchorDate&) const = default;
};

// Sets (`date`) or drops (nullopt) profile `profile_id`'s anchor for date field `field`.
struct AnchorChange {
  ProfileId profile_id = 0;
  std::string field;
  std::optional<AnchorDate> date;
};

// What re-arming one profile's timers needs, read without opening anything sealed: its time
// zone (the plain column), its anchors and its stored timers.
struct TimerInputs {
  ProfileId profile_id = 0;
  std::string timezone;                       // empty = the config's default
  std::map<std::string, AnchorDate> anchors;  // field -> anchor
  std::vector<TimerRow> timers;               // by trigger
};

// A row of the segment members index (docs/DECISIONS.md 105): profile `profile_id` is a member
// of `segment` (set), or no longer (drop). A plain table inside portrait.db, like the anchors:
// segment names and internal ids, nothing sealed.
struct SegmentMember {
  std::string segment;
  ProfileId profile_id = 0;
  bool member = true;
};

// A write of one profile. `row` replaces the stored row; fields not named are kept.
struct ProfileWrite {
  bool is_new = false;  // insert (Conflict if the id or ext_key is taken), else update
  // An update of lifecycle, metrics and updated_us only (the rest of `row` is ignored): what
  // event ingestion changes, without touching the row's indexed columns.
  bool state_only = false;
  ProfileRow row;
  std::map<std::string, std::string> set_fields;  // field name -> envelope
  std::vector<std::string> removed_fields;
  // Blind-index changes: field name -> new digest, or nullopt to drop the field's entry.
  std::map<std::string, std::optional<std::string>> blind;
  // Anchor changes (field -> new anchor, or nullopt to drop it), applied with the write.
  std::map<std::string, std::optional<AnchorDate>> anchors;
};

struct EventRow {
  std::string key;  // blind digest of the client's event id: duplicates share it
  ProfileId profile_id = 0;
  std::string type;
  int64_t time_us = 0;
  std::string data;  // envelope of the event's data JSON
};

// An alias: the blind digest of another external id that leads to profile `profile_id` — a
// merged profile's old id, or a new id an import matched to an existing profile. Looking a
// profile up by an alias's digest (GetProfileByKey) finds the profile it leads to. A digest is
// either a profile's ext_key or an alias, never both; erasing the profile removes its aliases.
struct AliasRow {
  std::string ext_key;  // blind digest of the other external id
  ProfileId profile_id = 0;
  ProfileId merged_id = 0;  // the profile merged away (its data key to destroy), or 0
  int64_t created_us = 0;
};

// One consent-ledger record. Enumerations are stored by name (see consent/consent_record.h).
// Records are append-only and outlive erasure, under the pseudonymous internal id.
struct ConsentRow {
  int64_t id = 0;  // assigned on commit, ascending
  ProfileId profile_id = 0;
  std::string purpose;
  std::string scope;    // processing, sensitive, transfer
  std::string channel;  // any, sms, email, phone, wechat, push
  std::string status;   // granted, withdrawn, objected
  int64_t time_us = 0;
  std::string source;
  std::string notice;
  std::string evidence;  // envelope sealed with the profile's key (shredded by erasure); or empty
  std::string actor;
  int64_t expires_us = 0;  // 0 = never
  bool operator==(const ConsentRow&) const = default;
};

// How many consent records are in force, at one instant, for one purpose, scope and status: a
// profile's record in force for a (purpose, scope, channel) is its latest made at or before the
// instant (ties: the higher id), counted once per channel; a grant past its `expires` counts
// with the status "expired".
struct ConsentCount {
  std::string purpose;
  std::string scope;
  std::string status;
  int64_t records = 0;
  bool operator==(const ConsentCount&) const = default;
};

// Store::Counts.
struct StoreCounts {
  int64_t events = 0;
  std::map<std::string, int64_t> lifecycle;  // stage -> profiles; "" = not evaluated yet
  std::vector<ConsentCount> consents;        // by purpose, scope, status
};

// Store::CountByHour: what was made in one hour.
struct HourCounts {
  int64_t hour_us = 0;   // the hour's start
  int64_t profiles = 0;  // profiles created in it (and still stored)
  int64_t events = 0;    // events whose time falls in it
  int64_t tasks = 0;     // tasks created in it
};

// What a range read for the base-wide re-evaluation returns of each profile besides its row,
// data key and members-index rows (Store::PortraitInputsAfter).
struct PortraitRead {
  std::vector<std::string> fields;  // the fields whose sealed values it returns
  std::string consent_purpose;      // the purpose whose consent records it returns; empty: none
  bool timers = true;               // its anchors and timers (else `timers` has its zone alone)
  // Non-empty: the profile's digest (docs/DECISIONS.md 180) where its spec is this one, in
  // place of its row's columns, fields and members-index rows; the digest's stamp in any case.
  // A store that keeps no digests reads as if it were empty.
  std::string digest_spec;
};

// A profile's digest to store (Batch::digests), written only if the profile's digest stamp is
// still `stamp`: the profile has not changed since the snapshot the digest was made from.
struct DigestWrite {
  ProfileId profile_id = 0;
  int64_t stamp = 0;
  std::string spec;
  std::string value;  // sealed
};

// What the base-wide re-evaluation reads of one profile to tell, off the writer, whether
// re-evaluating it would change anything (Store::PortraitInputsAfter): its row, its wrapped
// data key, the sealed values of the fields asked for, its zone, anchors and timers, the
// segments the members index lists it in and its consent records of one purpose.
struct PortraitInputs {
  ProfileRow row;
  std::string wrapped_key;                    // empty: none (erased meanwhile)
  std::map<std::string, std::string> fields;  // field -> envelope, of those asked for
  TimerInputs timers;
  std::vector<std::string> segments;  // ascending
  std::vector<ConsentRow> consents;   // of the purpose asked for, by id
  // With PortraitRead::digest_spec: the digest's stamp, and its sealed value when its spec is
  // the one asked for. Then `row` holds the id alone, and `fields` and `segments` are empty:
  // the digest holds them.
  int64_t digest_stamp = 0;
  std::string digest;
};

// A partition this node holds among several (docs/DECISIONS.md 173), with its tenure: a number
// that changes whenever the node took the partition anew (after it held it not, or its lease
// lapsed on the node's clock), never while the node held it without a gap. A pass over a
// partition that began and ended in one tenure was made by its holder throughout.
struct HeldPartition {
  int part = 0;
  uint64_t tenure = 0;
  bool operator==(const HeldPartition&) const = default;
};

// One audit record as written; the store assigns its sequence number and chain hash.
struct AuditEntry {
  int64_t time_us = 0;
  std::string actor;         // "token:NAME role:ROLE", or "system"
  std::string action;        // e.g. "profile.read", "consent.record", "request.refused"
  ProfileId profile_id = 0;  // 0 when the record concerns no profile
  std::string purpose;
  std::string detail;  // a compact JSON object: field names, counts, reasons — never a value
};

struct AuditRecord {
  int64_t seq = 0;
  AuditEntry entry;
  std::string hash;  // BLAKE2b-256(previous hash ‖ canonical record), see audit_chain.h
  std::string mac;   // keyed BLAKE2b of seq and hash (audit_chain.h); empty on records written
                     // before the MAC existed, or by a store given no MAC key
};

struct AuditCheckpoint {
  int64_t seq = 0;
  std::string hash;       // the chain hash at `seq`
  std::string signature;  // Ed25519 over CheckpointMessage(*this)
  int64_t time_us = 0;
  int64_t prev_seq = -1;  // the checkpoint before this one (0: none); -1 on a v1 checkpoint
};

// An API token, stored only as a keyed hash of its secret.
struct TokenRow {
  int64_t id = 0;  // assigned on commit
  std::string name;
  std::string role;
  std::string digest;
  int64_t created_us = 0;
  int64_t last_used_us = 0;
  int64_t revoked_us = 0;  // 0 = active
};

// A task in the outbox, written in the transaction that fired its trigger.
struct TaskRow {
  int64_t id = 0;      // assigned on commit, ascending
  std::string dedupe;  // keyed digest of the firing's dedupe key: a repeat is not stored again
  ProfileId profile_id = 0;
  std::string trigger;
  std::string purpose;
  std::string channel;
  std::string sink;
  std::string state;   // a TaskState's name (store/task_state.h), as stored
  std::string reason;  // why it is in that state (never a value)
  int64_t due_us = 0;
  int64_t attempts = 0;
  int64_t consent_id = 0;  // the consent record that authorised it; 0 for other bases
  std::string payload;     // envelope sealed with the profile's key: message and fields
  int64_t created_us = 0;
  int64_t updated_us = 0;
};

// The trigger of an erasure notice (GDPR art. 19): a task, made in the erasure's transaction for
// every sink a task of the profile was attempted on, that tells the sink the profile was erased.
// Its payload is the external id sealed with KeyHierarchy::SealNotice (the profile's data key
// is gone); its purpose and channel are empty. Erasing the profile leaves it; the dispatcher
// empties its payload once it is settled.
inline constexpr std::string_view kErasureNotice = "$profile.erased";

// A task's new state, when it is next due and how many attempts it has had.
struct TaskUpdate {
  int64_t id = 0;
  std::string state;  // a TaskState's name; the change must be one CanMove allows
  std::string reason;
  int64_t due_us = 0;
  int64_t attempts = 0;
  int64_t updated_us = 0;
  bool clear_payload = false;  // empties the sealed payload (a settled erasure notice)
};

// Which tasks GET /v1/tasks lists: each set filter must match. In id order, after `after_id`.
struct TaskFilter {
  std::string state;  // a TaskState's name, or empty
  std::string trigger;
  ProfileId profile_id = 0;
  std::string purpose;          // only this purpose's tasks (empty: every purpose's)
  bool include_notices = true;  // with `purpose` set: erasure notices (no purpose) as well
  int64_t since_us = 0;         // created at or after
  int64_t after_id = 0;
  int limit = 100;
  bool served_only = false;  // only tasks of profiles this node serves (see Store::Serves)
};

// A model's or score's fitted parameters (docs/DECISIONS.md 100-101): base-wide figures, never
// a profile's value. `kind` is "bgnbd" (a [[model]]) or "rfm" (a [[score]]); (kind, name) names
// it; each fit or refresh stores the next version.
struct ModelRow {
  std::string kind;
  std::string name;
  int64_t version = 0;    // ≥ 1, increasing per (kind, name)
  std::string params;     // JSON object
  int64_t fitted_us = 0;  // when the fit or refresh ran
};

// A place in EventsOfType's order, (time_us, key): the events after it come next.
struct EventCursor {
  int64_t time_us = INT64_MIN;
  std::string key;
};

// Writes applied together, atomically: all or none. Audit entries commit with the change they
// record, so a change is never stored unaudited.
struct Batch {
  std::vector<ProfileWrite> profiles;
  std::vector<EventRow> events;
  // Deletes the profile, its fields, index entries, anchors, events, timers, unfinished tasks
  // and the aliases leading to it.
  std::vector<ProfileId> erasures;
  std::vector<ConsentRow> consents;
  std::vector<TokenRow> new_tokens;         // Conflict if an active token has the name
  std::vector<std::string> revoked_tokens;  // by name; NotFound if no active token has it
  int64_t revoked_at_us = 0;
  std::vector<TimerRow> timers;                                   // set (replace)
  std::vector<std::pair<ProfileId, std::string>> cleared_timers;  // (profile, trigger)
  // A task whose dedupe digest exists is skipped; a state that names none fails the batch.
  std::vector<TaskRow> tasks;
  // Applied in order. A task that no longer exists is skipped; a change of state the
  // lifecycle forbids (CheckMove) fails the batch.
  std::vector<TaskUpdate> task_updates;
  std::map<std::string, std::string> meta;  // daemon bookkeeping (never personal): set
  // Among several nodes, partitions the batch writes no row of but whose lease must still hold
  // at the commit: a partition's marks (docs/DECISIONS.md 176). Ignored by a store of one node.
  std::vector<int> fenced_parts;
  // Anchor changes beside the profile writes (the one-time backfill of existing profiles),
  // applied after them and before the erasures; NotFound if the profile does not exist.
  std::vector<AnchorChange> anchors;
  // Segments whose every members-index row goes (segments the rules no longer have), applied
  // before `members`.
  std::vector<std::string> dropped_segments;
  // Members-index changes, applied after the profile writes and before the erasures (which
  // delete every row of the profile erased). A set row of a profile that does not exist is not
  // written.
  std::vector<SegmentMember> members;
  // Stored events moved to another profile, matched by `key`: each takes this row's profile_id
  // and data (re-sealed for it); type and time are kept. NotFound if no event has the key.
  std::vector<EventRow> moved_events;
  // (from, to): every alias leading to `from` leads to `to`. Applied before the erasures.
  std::vector<std::pair<ProfileId, ProfileId>> moved_aliases;
  // Applied after the erasures. Conflict if the digest is a profile's ext_key or an alias of
  // another profile; an alias already leading to the same profile is kept as it is. NotFound
  // if the profile does not exist.
  std::vector<AliasRow> aliases;
  // Replaces the stored row of its (kind, name); Conflict unless its version is greater than
  // the stored one's.
  std::vector<ModelRow> models;
  std::vector<AuditEntry> audit;
  // Applied last, each only while its profile's stamp is the one it names (a profile written
  // since, in this batch or before, keeps none). Ignored by a store that keeps no digests.
  std::vector<DigestWrite> digests;
};

struct CommitResult {
  int events_stored = 0;
  int duplicates = 0;                // events whose key was already stored; not stored again
  std::vector<int64_t> consent_ids;  // of batch.consents, in order
  int tasks_created = 0;             // of batch.tasks; the rest were repeats
  int64_t audit_seq = 0;             // sequence number of the last audit record, 0 if none
  std::string audit_hash;            // its chain hash
};

// A retention purge: events of `event_type`, or the fields named in `fields`, last written
// before `before_us`, of profiles not under legal hold.
// What a retention rule deletes: events of `event_type`, or values of `fields`, older than
// `before_us` (profiles under legal hold excepted), at most `limit` rows in one call — so a
// purge of a large backlog is many short transactions, not one that holds the writer.
struct PurgeRule {
  std::string event_type;
  std::vector<std::string> fields;
  int64_t before_us = 0;
  int64_t limit = 10'000;
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies `batch` in one durable transaction. Conflict if a new profile's id or ext_key (a
  // profile's or an alias's) is already taken; NotFound if an updated profile does not exist;
  // nothing is written then.
  virtual Result<CommitResult> Commit(const Batch& batch) = 0;

  // The profile row, or nullopt when there is none.
  virtual Result<std::optional<ProfileRow>> GetProfile(ProfileId id) = 0;
  // The profile whose ext_key is `ext_key`, or the one the alias with that digest leads to.
  virtual Result<std::optional<ProfileRow>> GetProfileByKey(std::string_view ext_key) = 0;
  // The aliases leading to profile `id`, by digest.
  virtual Result<std::vector<AliasRow>> GetAliases(ProfileId id) = 0;
  // The alias with this digest, or nullopt (also when the digest is a profile's own ext_key).
  virtual Result<std::optional<AliasRow>> GetAlias(std::string_view ext_key) = 0;
  // The profiles merged away into others (every alias's non-zero merged_id), ascending: the
  // data keys a merge must still destroy are among them.
  virtual Result<std::vector<ProfileId>> GetMergedIds() = 0;
  // Every stored field of a profile: name -> envelope (empty when the profile has none).
  virtual Result<std::map<std::string, std::string>> GetFields(ProfileId id) = 0;
  // Ids of profiles whose `field` has blind digest `digest`, ascending.
  virtual Result<std::vector<ProfileId>> LookupBlind(std::string_view field,
                                                     std::string_view digest) = 0;
  // A profile's events, oldest first.
  virtual Result<std::vector<EventRow>> GetEvents(ProfileId id) = 0;
  // Up to `limit` events of `type` whose time is at or before `until_us`, after `after` in
  // (time_us, key) order (an index range: a model fit pages through them with the last row's
  // time and key).
  virtual Result<std::vector<EventRow>> EventsOfType(std::string_view type, int64_t until_us,
                                                     const EventCursor& after, int limit) = 0;
  // The latest time of a stored event of `type`, nullopt when there is none (one index seek: a
  // fit asks whether any purchase lies after its `until`).
  virtual Result<std::optional<int64_t>> LatestEventTime(std::string_view type) = 0;
  virtual Result<int64_t> CountProfiles() = 0;
  // Counts over plain columns and indexes, nothing sealed opened (GET /v1/stats): the events,
  // the profiles by lifecycle stage, and the consent records in force at `now_us` of the stored
  // profiles by purpose, scope and status.
  virtual Result<StoreCounts> Counts(int64_t now_us) = 0;
  // The `hours` hours from `from_us` on, in order, each with its counts over plain columns
  // (GET /v1/stats/activity): profiles by creation time, events by their time, tasks by
  // creation time; an hour with nothing made is listed with zeros. A scan of those columns.
  virtual Result<std::vector<HourCounts>> CountByHour(int64_t from_us, int hours) = 0;
  // Up to `limit` profile ids greater than `after`, ascending (to walk every profile in pages).
  virtual Result<std::vector<ProfileId>> ProfileIds(ProfileId after, int limit) = 0;
  // Up to `limit` profile rows with ids greater than `after`, ascending (a range read: an RFM
  // refresh walks every profile's sealed metrics with it).
  virtual Result<std::vector<ProfileRow>> ProfileRows(ProfileId after, int limit) = 0;
  // The largest profile id ever inserted, erased profiles' included (a commit inserting a
  // profile raises it in the same transaction), or given a data key; 0 if none. New ids are
  // allocated above it, so an erased profile's id, which its consent and audit records keep, is
  // never given again.
  virtual Result<ProfileId> ProfileIdHighWater() = 0;
  // Whether this node writes profile `id` now: always on a store of one node; on a PostgreSQL
  // store shared by several (docs/DECISIONS.md 162-167), whether it holds the lease of the id's
  // partition. New profiles get ids in their external id's partition (Places); due timers and tasks
  // (DueTimers, CountDueTimers, DueTasks) are only those of profiles it serves. Thread-safe.
  virtual bool Serves(ProfileId id) const {
    (void)id;
    return true;
  }
  // Where a new profile goes (docs/DECISIONS.md 170). Whether a new profile whose external id's
  // digest is `ext_key` may take internal id `id`: any id on a store without partitions; on
  // PostgreSQL only an id in `ext_key`'s own partition, so a subject's owner among several
  // nodes follows from its external id alone, stored or not. Pure; thread-safe.
  virtual bool Places(ProfileId id, std::string_view ext_key) const {
    (void)id;
    (void)ext_key;
    return true;
  }
  // Whether this node makes and writes the profile of the subject whose external id's digest is
  // `ext_key`: always on a store of one node; among several, whether it holds that digest's
  // partition (which a new profile's id is placed in, and an alias's profile lies in).
  // Thread-safe.
  virtual bool ServesKey(std::string_view ext_key) const {
    (void)ext_key;
    return true;
  }
  // Whether the external id whose digest is `ext_key` may become an alias of profile `profile`:
  // always on a store of one node; among several, only within one partition, so an alias's
  // owner follows from its external id too (a merge or an import's identity match across
  // partitions is refused). Pure; thread-safe.
  virtual bool MayAlias(std::string_view ext_key, ProfileId profile) const {
    (void)ext_key;
    (void)profile;
    return true;
  }
  // Which of these event keys are stored: one flag per key, in order (the writer's duplicate
  // check, once per group). The SQLCipher store reads on its write connection, whose pages are
  // decrypted already: call it from the writer thread, between commits.
  virtual Result<std::vector<bool>> StoredEvents(const std::vector<std::string_view>& keys) = 0;

  // Timers due at or before `until_us`, earliest first, at most `limit` (an index range).
  virtual Result<std::vector<TimerRow>> DueTimers(int64_t until_us, int limit) = 0;
  virtual Result<int64_t> CountDueTimers(int64_t until_us) = 0;
  virtual Result<std::vector<TimerRow>> GetTimers(ProfileId id) = 0;
  // For up to `limit` profiles with ids greater than `after`, ascending: each one's time zone,
  // anchors and timers — what a re-arm needs, in ordered range reads (no read per profile),
  // nothing sealed opened.
  virtual Result<std::vector<TimerInputs>> RearmInputs(ProfileId after, int limit) = 0;
  // For up to `limit` profiles with ids greater than `after`, ascending: what PortraitInputs
  // holds, as far as `read` asks, in ordered range reads of one snapshot (the data keys, of the
  // keystore, read after it), nothing sealed opened.
  virtual Result<std::vector<PortraitInputs>> PortraitInputsAfter(ProfileId after, int limit,
                                                                  const PortraitRead& read) = 0;
  // Whether the store keeps the profiles' digests (PortraitRead::digest_spec, Batch::digests):
  // SQLCipher does; the others read and write as if every digest were empty.
  virtual bool KeepsDigests() const { return false; }
  // Among several nodes (docs/DECISIONS.md 173): the partitions this node holds now, ascending,
  // each with its tenure; nullopt on a store of one node (SQLCipher, memory, PostgreSQL without
  // [cluster]), whose passes walk every profile. Thread-safe.
  virtual std::optional<std::vector<HeldPartition>> HeldPartitions() const { return std::nullopt; }
  // The partition count of a store with partitions (PostgreSQL, docs/DECISIONS.md 157); 0 for
  // one without (SQLCipher, memory).
  virtual int PartitionCount() const { return 0; }
  // RearmInputs and PortraitInputsAfter limited to the profiles of partition `part`, ascending
  // (a walk of that partition's index range; the other reads name the range's ids): a pass
  // among several nodes covers only what its node holds. InvalidArgument on a store without
  // partitions.
  virtual Result<std::vector<TimerInputs>> RearmInputsIn(int part, ProfileId after, int limit) {
    (void)part;
    (void)after;
    (void)limit;
    return Error(Status::InvalidArgument("this store has no partitions"));
  }
  virtual Result<std::vector<PortraitInputs>> PortraitInputsIn(int part, ProfileId after, int limit,
                                                               const PortraitRead& read) {
    (void)part;
    (void)after;
    (void)limit;
    (void)read;
    return Error(Status::InvalidArgument("this store has no partitions"));
  }
  // A daemon bookkeeping value (e.g. the fingerprint of the rules the timers were armed for).
  virtual Result<std::optional<std::string>> GetMeta(std::string_view key) = 0;

  // How many profiles the members index lists in `segment`.
  virtual Result<int64_t> CountSegmentMembers(std::string_view segment) = 0;
  // Up to `limit` members of `segment` with ids greater than `after`, ascending (an index
  // range).
  virtual Result<std::vector<ProfileId>> SegmentMembers(std::string_view segment, ProfileId after,
                                                        int limit) = 0;
  // The members-index rows of the profiles with ids in [first, last]: (profile, segment), by
  // profile then segment.
  virtual Result<std::vector<std::pair<ProfileId, std::string>>> MembershipsBetween(
      ProfileId first, ProfileId last) = 0;
  // The stored parameters of (kind, name), or nullopt when never fitted.
  virtual Result<std::optional<ModelRow>> GetModel(std::string_view kind,
                                                   std::string_view name) = 0;
  // Every stored model and score, by kind and name.
  virtual Result<std::vector<ModelRow>> ListModels() = 0;

  // Whether a task with this dedupe digest exists.
  virtual Result<bool> HasTask(std::string_view dedupe) = 0;
  // A profile's tasks, in id order.
  virtual Result<std::vector<TaskRow>> GetTasks(ProfileId id) = 0;
  // Tasks for `sink`, pending or retrying, due at or before `until_us`, earliest first, at most
  // `limit` (an index range).
  virtual Result<std::vector<TaskRow>> DueTasks(std::string_view sink, int64_t until_us,
                                                int limit) = 0;
  virtual Result<std::optional<TaskRow>> GetTask(int64_t id) = 0;
  virtual Result<std::vector<TaskRow>> ListTasks(const TaskFilter& filter) = 0;
  // How many of the profile's tasks for `purpose` were delivered at or after `since_us`.
  virtual Result<int64_t> CountDelivered(ProfileId id, std::string_view purpose,
                                         int64_t since_us) = 0;
  // State name -> number of tasks in it.
  virtual Result<std::map<std::string, int64_t>> CountTasksByState() = 0;

  // The consent ledger of a profile, in id order.
  virtual Result<std::vector<ConsentRow>> GetConsents(ProfileId id) = 0;
  // The ledgers of profiles `ids`, each as GetConsents gives it, in the order of `ids` (empty
  // for a profile without records), read at once: a walk over many profiles (a segment's
  // members) pays one read, not one per profile.
  virtual Result<std::vector<std::vector<ConsentRow>>> GetConsentsOf(
      std::span<const ProfileId> ids) = 0;

  // Audit records with seq > `after_seq`, ascending, at most `limit`.
  virtual Result<std::vector<AuditRecord>> ReadAudit(int64_t after_seq, int limit) = 0;
  // The last audit record's sequence number and hash; {0, 32 zero bytes} when there is none.
  virtual Result<std::pair<int64_t, std::string>> AuditHead() = 0;
  virtual Status PutCheckpoint(const AuditCheckpoint& checkpoint) = 0;
  virtual Result<std::vector<AuditCheckpoint>> GetCheckpoints() = 0;
  // Several nodes on one store write one chain each (docs/DECISIONS.md 168): the node of the
  // chain this store appends to ("" on a store of one node), the nodes of every chain in the
  // store (ascending), and ReadAudit and GetCheckpoints of any of them; a chain the store does
  // not hold reads empty. A store of one node has only its own chain.
  virtual std::string AuditNode() const { return std::string(); }
  virtual Result<std::vector<std::string>> AuditChains() {
    return std::vector<std::string>{AuditNode()};
  }
  virtual Result<std::vector<AuditRecord>> ReadAuditOf(std::string_view node, int64_t after_seq,
                                                       int limit) {
    return node == AuditNode() ? ReadAudit(after_seq, limit)
                               : Result<std::vector<AuditRecord>>(std::vector<AuditRecord>());
  }
  virtual Result<std::vector<AuditCheckpoint>> GetCheckpointsOf(std::string_view node) {
    return node == AuditNode()
               ? GetCheckpoints()
               : Result<std::vector<AuditCheckpoint>>(std::vector<AuditCheckpoint>());
  }

  // Deletes what `rule` selects, at most `rule.limit` rows, oldest first (a purged field's
  // blind-index entry and anchor with it) and, in the same transaction, appends `audit` with
  // "purged": n added to its detail. Returns n; n == limit means there may be more.
  virtual Result<int64_t> Purge(const PurgeRule& rule, AuditEntry audit) = 0;

  // The active or revoked token with this digest, or nullopt.
  virtual Result<std::optional<TokenRow>> FindToken(std::string_view digest) = 0;
  virtual Result<std::vector<TokenRow>> ListTokens() = 0;
  // Records a use; not audited (the request it authorised is).
  virtual Status TouchToken(int64_t id, int64_t time_us) = 0;

  // Keystore. PutDataKey durably stores a wrapped key (Conflict if one exists for `id`);
  // GetDataKey returns nullopt when there is none (never created, or destroyed);
  // DestroyDataKey durably removes it, leaving no copy in the keystore's files.
  virtual Status PutDataKey(ProfileId id, std::string_view wrapped) = 0;
  // Stores many wrapped keys in one durable keystore transaction: all or none (Conflict, and
  // nothing stored, if any id already has a key or appears twice).
  virtual Status PutDataKeys(const std::vector<std::pair<ProfileId, std::string>>& wrapped) = 0;
  virtual Result<std::optional<std::string>> GetDataKey(ProfileId id) = 0;
  // The wrapped keys of the profiles with ids in [first, last], by id (a range read: a pass
  // over every profile reads its keys with it, not one lookup a profile).
  virtual Result<std::vector<std::pair<ProfileId, std::string>>> DataKeysBetween(
      ProfileId first, ProfileId last) = 0;
  virtual Status DestroyDataKey(ProfileId id) = 0;
};

// A store held in memory, for fast tests. Same contract, nothing durable.
std::unique_ptr<Store> NewMemoryStore();

}  // namespace portrait::store
