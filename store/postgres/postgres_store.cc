#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <chrono>

#include "store/audit_chain.h"
#include "store/erasure_ledger.h"
#include "store/postgres/pg_schema.h"
#include "store/postgres/postgres_store_impl.h"

namespace portrait::store {
namespace pg {

const std::string kProfileColumns =
    "id, ext_key, external_id, timezone, lifecycle, tags, metrics, legal_hold, created_us, "
    "updated_us";

ProfileRow ReadProfile(const Rows& r, int row, int at) {
  ProfileRow p;
  p.id = r.Int(row, at);
  p.ext_key = r.Text(row, at + 1);
  p.external_id = r.Text(row, at + 2);
  p.timezone = r.Text(row, at + 3);
  p.lifecycle = r.Text(row, at + 4);
  p.tags = r.Text(row, at + 5);
  p.metrics = r.Text(row, at + 6);
  p.legal_hold = r.Bool(row, at + 7);
  p.created_us = r.Int(row, at + 8);
  p.updated_us = r.Int(row, at + 9);
  return p;
}

}  // namespace pg

namespace {

using pg::Params;
using pg::Rows;

Result<std::optional<ProfileRow>> OneProfile(Result<Rows> r) {
  if (!r) {
    return Error(r.error());
  }
  if (r->empty()) {
    return std::optional<ProfileRow>();
  }
  return std::optional<ProfileRow>(pg::ReadProfile(*r, 0));
}

// The erasure ledger's times: the wall clock (the store has no Clock; they are for people).
int64_t WallClockUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status PostgresStore::Init() {
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, main_.Run("SELECT seq, hash FROM audit WHERE node = $1 ORDER BY seq DESC LIMIT 1;",
                        Params().Text(node_)));
  audit_seq_ = r.empty() ? 0 : r.Int(0, 0);
  audit_hash_ = r.empty() ? GenesisHash() : r.Text(0, 1);
  return Status::Ok();
}

Result<CommitResult> PostgresStore::Commit(const Batch& batch) {
  std::lock_guard lock(mu_);
  return InTransaction(main_, [&]() -> Result<CommitResult> {
    CommitResult result;
    PORTRAIT_RETURN_IF_ERROR(Apply(batch, result));
    return result;
  });
}

// In the SQLCipher store's order (store.h Batch says which part comes before which).
Status PostgresStore::Apply(const Batch& batch, CommitResult& result) {
  PORTRAIT_RETURN_IF_ERROR(Fence(batch));
  ProfileId inserted = 0;
  for (const ProfileWrite& w : batch.profiles) {
    PORTRAIT_RETURN_IF_ERROR(WriteProfile(w));
    inserted = w.is_new ? std::max(inserted, w.row.id) : inserted;
  }
  if (inserted != 0) {
    PORTRAIT_RETURN_IF_ERROR(RaiseProfileIdHighWater(inserted));
  }
  PORTRAIT_RETURN_IF_ERROR(WriteEvents(batch.events, result));
  PORTRAIT_RETURN_IF_ERROR(MoveEvents(batch.moved_events));
  PORTRAIT_RETURN_IF_ERROR(WriteOutbox(batch, result));
  PORTRAIT_RETURN_IF_ERROR(WriteAnchorChanges(batch.anchors));
  PORTRAIT_RETURN_IF_ERROR(WriteMembers(batch));
  PORTRAIT_RETURN_IF_ERROR(MoveAliases(batch.moved_aliases));
  for (ProfileId id : batch.erasures) {
    PORTRAIT_RETURN_IF_ERROR(EraseRows(id));
  }
  PORTRAIT_RETURN_IF_ERROR(WriteAliases(batch.aliases));
  PORTRAIT_RETURN_IF_ERROR(WriteConsents(batch.consents, result));
  PORTRAIT_RETURN_IF_ERROR(WriteTokens(batch));
  PORTRAIT_RETURN_IF_ERROR(WriteModels(batch.models));
  return WriteAudit(batch.audit, result);
}

Status PostgresStore::WriteProfile(const ProfileWrite& w) {
  const ProfileRow& r = w.row;
  if (w.state_only && !w.is_new) {
    PORTRAIT_ASSIGN_OR_RETURN(
        Rows state,
        main_.Run("UPDATE profiles SET lifecycle = $1, metrics = $2, updated_us = $3 "
                  "WHERE id = $4;",
                  Params().Text(r.lifecycle).Bytes(r.metrics).Int(r.updated_us).Int(r.id)));
    if (state.Affected() == 0) {
      return Status::NotFound("profile " + std::to_string(r.id) + " does not exist");
    }
    return Status::Ok();
  }
  Params row;
  row.Int(r.id).Int(PartOf(r.id)).Bytes(r.ext_key).Bytes(r.external_id).Text(r.timezone);
  row.Text(r.lifecycle).Bytes(r.tags).Bytes(r.metrics).Bool(r.legal_hold).Int(r.created_us);
  row.Int(r.updated_us);
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows up, main_.Run(w.is_new ? "INSERT INTO profiles (id, part, ext_key, external_id, "
                                    "timezone, lifecycle, tags, metrics, legal_hold, "
                                    "created_us, updated_us) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                                    "$8, $9, $10, $11);"
                                  : "UPDATE profiles SET part = $2, ext_key = $3, "
                                    "external_id = $4, timezone = $5, lifecycle = $6, tags = $7, "
                                    "metrics = $8, legal_hold = $9, created_us = $10, "
                                    "updated_us = $11 WHERE id = $1;",
                         row));
  if (!w.is_new && up.Affected() == 0) {
    return Status::NotFound("profile " + std::to_string(r.id) + " does not exist");
  }
  PORTRAIT_RETURN_IF_ERROR(WriteOwnKey(r, w.is_new));
  for (const auto& [name, envelope] : w.set_fields) {
    PORTRAIT_RETURN_IF_ERROR(
        main_.Do("INSERT INTO profile_fields (profile_id, field, value, updated_us) "
                 "VALUES ($1, $2, $3, $4) ON CONFLICT (profile_id, field) "
                 "DO UPDATE SET value = EXCLUDED.value, updated_us = EXCLUDED.updated_us;",
                 Params().Int(r.id).Text(name).Bytes(envelope).Int(r.updated_us)));
  }
  for (const auto& name : w.removed_fields) {
    PORTRAIT_RETURN_IF_ERROR(
        main_.Do("DELETE FROM profile_fields WHERE profile_id = $1 AND field = $2;",
                 Params().Int(r.id).Text(name)));
  }
  for (const auto& [field, digest] : w.blind) {
    PORTRAIT_RETURN_IF_ERROR(
        main_.Do("DELETE FROM blind_index WHERE profile_id = $1 AND field = $2;",
                 Params().Int(r.id).Text(field)));
    if (digest) {
      PORTRAIT_RETURN_IF_ERROR(
          main_.Do("INSERT INTO blind_index (part, field, digest, profile_id) "
                   "VALUES ($1, $2, $3, $4);",
                   Params().Int(PartOf(*digest)).Text(field).Bytes(*digest).Int(r.id)));
    }
  }
  return WriteAnchors(r.id, w.anchors);
}

// The profile's own row in ext_keys: inserted with it (Conflict if the digest is any profile's
// or alias's), moved when an update changes it.
Status PostgresStore::WriteOwnKey(const ProfileRow& r, bool is_new) {
  Status s = is_new
                 ? main_.Do(
                       "INSERT INTO ext_keys (part, ext_key, profile_id, alias, "
                       "created_us) VALUES ($1, $2, $3, false, $4);",
                       Params().Int(PartOf(r.ext_key)).Bytes(r.ext_key).Int(r.id).Int(r.created_us))
                 : main_.Do(
                       "UPDATE ext_keys SET part = $1, ext_key = $2 WHERE profile_id = $3 "
                       "AND NOT alias AND ext_key <> $2;",
                       Params().Int(PartOf(r.ext_key)).Bytes(r.ext_key).Int(r.id));
  if (s.code() == Status::Code::kConflict) {
    return Status::Conflict("the external id is another profile's or an alias of one");
  }
  return s;
}

Status PostgresStore::RaiseProfileIdHighWater(ProfileId id) {
  return main_.Do(
      "INSERT INTO meta (key, value) VALUES ($1, convert_to($2::text, 'UTF8')) "
      "ON CONFLICT (key) DO UPDATE SET value = convert_to(greatest(convert_from(meta.value, "
      "'UTF8')::bigint, $2)::text, 'UTF8');",
      Params().Text(kProfileIdHighKey).Int(id));
}

// One statement for the group: the first row of each key not stored yet is stored (its key in
// event_keys, for the duplicate check across profiles), the rest are duplicates.
Status PostgresStore::WriteEvents(const std::vector<EventRow>& events, CommitResult& result) {
  if (events.empty()) {
    return Status::Ok();
  }
  std::vector<std::string_view> keys, types, data;
  std::vector<int64_t> key_parts, profiles, times;
  for (const EventRow& e : events) {
    keys.push_back(e.key);
    key_parts.push_back(PartOf(e.key));
    profiles.push_back(e.profile_id);
    types.push_back(e.type);
    times.push_back(e.time_us);
    data.push_back(e.data);
  }
  Params p;
  p.BytesArray(keys).Ints(key_parts).Ints(profiles).Texts(types).Ints(times).BytesArray(data);
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, main_.Run("WITH input AS (SELECT * FROM unnest($1::bytea[], $2::bigint[], "
                        "$3::bigint[], $4::text[], $5::bigint[], $6::bytea[]) WITH ORDINALITY "
                        "AS t(key, key_part, profile_id, type, time_us, data, ord)), "
                        "firsts AS (SELECT DISTINCT ON (key) * FROM input ORDER BY key, ord), "
                        "new AS (INSERT INTO event_keys (part, key, profile_id) "
                        "SELECT key_part, key, profile_id FROM firsts ON CONFLICT DO NOTHING "
                        "RETURNING key) "
                        "INSERT INTO events (profile_id, time_us, key, key_part, type, data) "
                        "SELECT f.profile_id, f.time_us, f.key, f.key_part, f.type, f.data "
                        "FROM firsts f JOIN new USING (key);",
                        p));
  result.events_stored += static_cast<int>(r.Affected());
  result.duplicates += static_cast<int>(events.size() - r.Affected());
  return Status::Ok();
}

// Every row of the profile in one statement (the CTEs see one snapshot; event_keys' rows are
// found through the events they index). Unfinished tasks go; finished ones and the erasure's
// own notices stay.
Status PostgresStore::EraseRows(ProfileId id) {
  static const std::string kErase =
      "WITH f AS (DELETE FROM profile_fields WHERE profile_id = $1), "
      "b AS (DELETE FROM blind_index WHERE profile_id = $1), "
      "k AS (DELETE FROM event_keys WHERE (part, key) IN "
      "  (SELECT key_part, key FROM events WHERE profile_id = $1)), "
      "e AS (DELETE FROM events WHERE profile_id = $1), "
      "a AS (DELETE FROM anchors WHERE profile_id = $1), "
      "m AS (DELETE FROM segment_members WHERE profile_id = $1), "
      "t AS (DELETE FROM timers WHERE profile_id = $1), "
      "q AS (DELETE FROM tasks WHERE profile_id = $1 AND state = ANY($2::text[]) "
      "  AND trigger <> $3), "
      "x AS (DELETE FROM ext_keys WHERE profile_id = $1) "
      "DELETE FROM profiles WHERE id = $1;";
  std::vector<std::string_view> unfinished;
  for (TaskState s : kTaskStates) {
    if (IsUnfinished(s)) {
      unfinished.push_back(TaskStateName(s));
    }
  }
  return main_.Do(kErase, Params().Int(id).Texts(unfinished).Text(kErasureNotice));
}

Result<std::optional<ProfileRow>> PostgresStore::GetProfile(ProfileId id) {
  auto reader = readers_.Acquire();
  return OneProfile(reader->main.Run(
      "SELECT " + pg::kProfileColumns + " FROM profiles WHERE id = $1;", Params().Int(id)));
}

Result<std::optional<ProfileRow>> PostgresStore::GetProfileByKey(std::string_view ext_key) {
  auto reader = readers_.Acquire();
  return OneProfile(reader->main.Run(
      "SELECT " + pg::kProfileColumns +
          " FROM profiles WHERE id = (SELECT profile_id FROM ext_keys WHERE part = $1 "
          "AND ext_key = $2);",
      Params().Int(PartOf(ext_key)).Bytes(ext_key)));
}

Result<std::map<std::string, std::string>> PostgresStore::GetFields(ProfileId id) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT field, value FROM profile_fields WHERE profile_id = $1;",
                               Params().Int(id)));
  std::map<std::string, std::string> out;
  for (int i = 0; i < r.size(); ++i) {
    out.emplace(r.Text(i, 0), r.Text(i, 1));
  }
  return out;
}

namespace {

Result<std::vector<ProfileId>> Ids(Result<Rows> r) {
  if (!r) {
    return Error(r.error());
  }
  std::vector<ProfileId> out;
  for (int i = 0; i < r->size(); ++i) {
    out.push_back(r->Int(i, 0));
  }
  return out;
}

}  // namespace

Result<std::vector<ProfileId>> PostgresStore::LookupBlind(std::string_view field,
                                                          std::string_view digest) {
  auto reader = readers_.Acquire();
  return Ids(reader->main.Run(
      "SELECT profile_id FROM blind_index WHERE part = $1 AND field = $2 AND digest = $3 "
      "ORDER BY profile_id;",
      Params().Int(PartOf(digest)).Text(field).Bytes(digest)));
}

Result<std::vector<EventRow>> PostgresStore::GetEvents(ProfileId id) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(Rows r, reader->main.Run("SELECT key, type, time_us, data FROM events "
                                                     "WHERE profile_id = $1 ORDER BY time_us, key;",
                                                     Params().Int(id)));
  std::vector<EventRow> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(EventRow{r.Text(i, 0), id, r.Text(i, 1), r.Int(i, 2), r.Text(i, 3)});
  }
  return out;
}

Result<int64_t> PostgresStore::CountProfiles() {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(Rows r, reader->main.Run("SELECT count(*) FROM profiles;"));
  return r.Int(0, 0);
}

Result<std::vector<ProfileId>> PostgresStore::ProfileIds(ProfileId after, int limit) {
  auto reader = readers_.Acquire();
  return Ids(reader->main.Run("SELECT id FROM profiles WHERE id > $1 ORDER BY id LIMIT $2;",
                              Params().Int(after).Int(limit)));
}

Result<std::vector<ProfileRow>> PostgresStore::ProfileRows(ProfileId after, int limit) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT " + pg::kProfileColumns +
                                   " FROM profiles WHERE id > $1 ORDER BY id LIMIT $2;",
                               Params().Int(after).Int(limit)));
  std::vector<ProfileRow> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(pg::ReadProfile(r, i));
  }
  return out;
}

Result<ProfileId> PostgresStore::ProfileIdHighWater() {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows main,
      reader->main.Run("SELECT greatest(coalesce((SELECT convert_from(value, 'UTF8')::bigint "
                       "FROM meta WHERE key = $1), 0), coalesce((SELECT max(id) FROM profiles), "
                       "0));",
                       Params().Text(kProfileIdHighKey)));
  // A key is stored before its profile's commit, and a destroyed key's id stays given.
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows keys,
      reader->keystore.Run("SELECT greatest(coalesce((SELECT max(profile_id) FROM data_keys), 0), "
                           "coalesce((SELECT max(profile_id) FROM destroyed_keys), 0));"));
  return std::max(main.Int(0, 0), keys.Int(0, 0));
}

Result<std::vector<bool>> PostgresStore::StoredEvents(const std::vector<std::string_view>& keys) {
  std::vector<bool> stored(keys.size(), false);
  if (keys.empty()) {
    return stored;
  }
  std::vector<int64_t> parts;
  for (std::string_view key : keys) {
    parts.push_back(PartOf(key));
  }
  // One probe of event_keys' primary key per key: a LATERAL subquery with LIMIT is not pulled up
  // into a join, so the plan the prepared statement keeps is a nested loop over the keys, not a
  // hash join over the whole table planned while it was small (docs/DECISIONS.md 171).
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT k.i FROM unnest($1::bytea[], $2::bigint[]) WITH ORDINALITY "
                               "AS k(key, part, i), LATERAL (SELECT 1 FROM event_keys e "
                               "WHERE e.part = k.part AND e.key = k.key LIMIT 1) e;",
                               Params().BytesArray(keys).Ints(parts)));
  for (int i = 0; i < r.size(); ++i) {
    const int64_t at = r.Int(i, 0) - 1;
    if (at >= 0 && at < static_cast<int64_t>(stored.size())) {
      stored[static_cast<size_t>(at)] = true;
    }
  }
  return stored;
}

Status PostgresStore::PutDataKey(ProfileId id, std::string_view wrapped) {
  std::lock_guard lock(mu_);
  return keystore_.Do("INSERT INTO data_keys (profile_id, wrapped) VALUES ($1, $2);",
                      Params().Int(id).Bytes(wrapped));
}

// One statement: all or none (a taken id, or one twice, is a unique violation: Conflict).
Status PostgresStore::PutDataKeys(const std::vector<std::pair<ProfileId, std::string>>& wrapped) {
  if (wrapped.empty()) {
    return Status::Ok();
  }
  std::vector<int64_t> ids;
  std::vector<std::string_view> keys;
  for (const auto& [id, key] : wrapped) {
    ids.push_back(id);
    keys.push_back(key);
  }
  std::lock_guard lock(mu_);
  return keystore_.Do(
      "INSERT INTO data_keys (profile_id, wrapped) SELECT * FROM unnest($1::bigint[], "
      "$2::bytea[]);",
      Params().Ints(ids).BytesArray(keys));
}

Result<std::optional<std::string>> PostgresStore::GetDataKey(ProfileId id) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->keystore.Run("SELECT wrapped FROM data_keys WHERE profile_id = $1;",
                                   Params().Int(id)));
  return r.empty() ? std::nullopt : std::optional<std::string>(r.Text(0, 0));
}

Result<std::vector<std::pair<ProfileId, std::string>>> PostgresStore::DataKeysBetween(
    ProfileId first, ProfileId last) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->keystore.Run("SELECT profile_id, wrapped FROM data_keys WHERE profile_id "
                                   "BETWEEN $1 AND $2 ORDER BY profile_id;",
                                   Params().Int(first).Int(last)));
  std::vector<std::pair<ProfileId, std::string>> out;
  for (int i = 0; i < r.size(); ++i) {
    out.emplace_back(r.Int(i, 0), r.Text(i, 1));
  }
  return out;
}

// The ledger line first (a key is never gone without it), then the key's row and the ledger
// row in one keystore transaction. PostgreSQL keeps the deleted row's bytes until VACUUM
// reuses the space, and its WAL, replicas and backups keep them for their own retention
// (docs/DECISIONS.md 158).
Status PostgresStore::DestroyDataKey(ProfileId id) {
  std::lock_guard lock(mu_);
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows has, keystore_.Run("SELECT 1 FROM data_keys WHERE profile_id = $1;", Params().Int(id)));
  if (has.empty()) {
    return Status::Ok();
  }
  const LedgerEntry entry{id, WallClockUs(), audit_seq_};
  if (!ledger_path_.empty()) {
    PORTRAIT_RETURN_IF_ERROR(AppendLedgerEntry(ledger_path_, entry, ledger_key_));
  }
  PORTRAIT_RETURN_IF_ERROR(keystore_.Exec("BEGIN;"));
  Status done = keystore_.Do("DELETE FROM data_keys WHERE profile_id = $1;", Params().Int(id));
  done = done.ok() ? keystore_.Do(
                         "INSERT INTO destroyed_keys (profile_id, time_us, audit_seq) "
                         "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING;",
                         Params().Int(id).Int(entry.time_us).Int(entry.audit_seq))
                   : done;
  done = done.ok() ? keystore_.Exec("COMMIT;") : done;
  if (!done.ok()) {
    (void)keystore_.Exec("ROLLBACK;");
  }
  return done;
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options) {
  if (options.url.empty() || options.keystore_url.empty()) {
    return Error(Status::InvalidArgument("both database URLs are required"));
  }
  if (options.partitions < 1 || options.partitions > 65536) {
    return Error(Status::InvalidArgument("partitions must be between 1 and 65536"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(pg::Connection keystore,
                            pg::Connection::Open(options.keystore_url, options.keystore_password));
  PORTRAIT_ASSIGN_OR_RETURN(pg::Connection main,
                            pg::Connection::Open(options.url, options.password));
  PORTRAIT_RETURN_IF_ERROR(
      pg::Migrate(keystore, pg::KeystoreSchema(), options.create, options.partitions));
  PORTRAIT_ASSIGN_OR_RETURN(
      int partitions, pg::Migrate(main, pg::MainSchema(), options.create, options.partitions));
  if (options.partitions_fixed && partitions != options.partitions) {
    return Error(Status::InvalidArgument(
        "[cluster] partitions is " + std::to_string(options.partitions) +
        " but the schema was made with " + std::to_string(partitions) + "; it is fixed at init"));
  }
  crypto::SecretBytes mac_key;
  if (options.audit_mac_key) {
    PORTRAIT_ASSIGN_OR_RETURN(mac_key, options.audit_mac_key->Clone());
  }
  auto store = std::make_unique<PostgresStore>(std::move(main), std::move(keystore), partitions,
                                               options.node, std::move(mac_key));
  for (int i = 0; i < std::max(1, options.readers); ++i) {
    PORTRAIT_ASSIGN_OR_RETURN(pg::Connection reader_main,
                              pg::Connection::Open(options.url, options.password));
    PORTRAIT_ASSIGN_OR_RETURN(
        pg::Connection reader_keystore,
        pg::Connection::Open(options.keystore_url, options.keystore_password));
    store->AddReader(std::make_unique<pg::ReadPair>(
        pg::ReadPair{std::move(reader_main), std::move(reader_keystore)}));
  }
  if (!options.erasure_ledger.empty()) {
    if (!options.ledger_mac_key) {
      return Error(Status::InvalidArgument("an erasure ledger file needs its MAC key"));
    }
    PORTRAIT_ASSIGN_OR_RETURN(crypto::SecretBytes ledger_key, options.ledger_mac_key->Clone());
    store->RecordErasuresIn(options.erasure_ledger, std::move(ledger_key));
  }
  PORTRAIT_RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace portrait::store
