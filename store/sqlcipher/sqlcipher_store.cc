#include "store/sqlcipher/sqlcipher_store.h"

#include <algorithm>
#include <chrono>

#include "store/audit_chain.h"
#include "store/erasure_ledger.h"
#include "store/sqlcipher/schema.h"
#include "store/sqlcipher/sqlcipher_store_impl.h"

namespace portrait::store {
namespace {

using sqlite::Db;
using sqlite::Stmt;

Result<std::optional<ProfileRow>> OneProfile(Stmt& s) {
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return std::optional<ProfileRow>();
  }
  return std::optional<ProfileRow>(ReadProfile(s));
}

// The erasure ledger's times: the wall clock (the store has no Clock; they are for people).
int64_t WallClockUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const std::string_view kProfileColumns =
    "id, ext_key, external_id, timezone, lifecycle, tags, metrics, legal_hold, created_us, "
    "updated_us";

ProfileRow ReadProfile(const Stmt& s) {
  ProfileRow r;
  r.id = s.Int(0);
  r.ext_key = s.Text(1);
  r.external_id = s.Text(2);
  r.timezone = s.Text(3);
  r.lifecycle = s.Text(4);
  r.tags = s.Text(5);
  r.metrics = s.Text(6);
  r.legal_hold = s.Int(7) != 0;
  r.created_us = s.Int(8);
  r.updated_us = s.Int(9);
  return r;
}

Status SqlcipherStore::Init() {
  Stmt s(main_, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1;");
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  audit_seq_ = row ? s.Int(0) : 0;
  audit_hash_ = row ? s.Text(1) : GenesisHash();
  return Status::Ok();
}

Result<CommitResult> SqlcipherStore::Commit(const Batch& batch) {
  std::lock_guard lock(mu_);
  Result<CommitResult> committed = InTransaction([&]() -> Result<CommitResult> {
    CommitResult result;
    PORTRAIT_RETURN_IF_ERROR(Apply(batch, result));
    return result;
  });
  if (committed && !batch.erasures.empty()) {
    // secure_delete zeroed the erased rows in the pages just written; the WAL still holds the
    // pages as they were before. Move the WAL into the main file and truncate it, so no copy of
    // the profile's digests or ciphertexts survives in either file. A reader holding an old
    // snapshot can make this partial; the next erasure or checkpoint finishes it. The commit
    // stands either way, so a failure here is not the commit's.
    (void)checkpointer_->Truncate();
  }
  return committed;
}

Status SqlcipherStore::Apply(const Batch& batch, CommitResult& result) {
  ProfileId inserted = 0;
  for (const ProfileWrite& w : batch.profiles) {
    PORTRAIT_RETURN_IF_ERROR(WriteProfile(w));
    inserted = w.is_new ? std::max(inserted, w.row.id) : inserted;
  }
  if (inserted != 0) {
    PORTRAIT_RETURN_IF_ERROR(RaiseProfileIdHighWater(inserted));
  }
  Stmt ins(main_,
           "INSERT OR IGNORE INTO events (key, profile_id, type, time_us, data) "
           "VALUES (?, ?, ?, ?, ?);");
  for (const EventRow& e : batch.events) {
    ins.Reset();
    ins.BindBlob(1, e.key).Bind(2, e.profile_id).Bind(3, e.type).Bind(4, e.time_us);
    ins.BindBlob(5, e.data);
    PORTRAIT_RETURN_IF_ERROR(ins.Run());
    if (sqlite3_changes(main_.get()) == 1) {
      ++result.events_stored;
    } else {
      ++result.duplicates;
    }
  }
  PORTRAIT_RETURN_IF_ERROR(MoveEvents(batch.moved_events));
  PORTRAIT_RETURN_IF_ERROR(WriteOutbox(batch, result));
  PORTRAIT_RETURN_IF_ERROR(WriteAnchorChanges(batch.anchors));
  PORTRAIT_RETURN_IF_ERROR(WriteMembers(batch));
  PORTRAIT_RETURN_IF_ERROR(MoveAliases(batch.moved_aliases));
  for (ProfileId id : batch.erasures) {
    PORTRAIT_RETURN_IF_ERROR(EraseRows(id));
    PORTRAIT_RETURN_IF_ERROR(EraseAnchors(id));
    PORTRAIT_RETURN_IF_ERROR(EraseMembers(id));
    PORTRAIT_RETURN_IF_ERROR(EraseOutbox(id));
    PORTRAIT_RETURN_IF_ERROR(EraseAliases(id));
  }
  PORTRAIT_RETURN_IF_ERROR(WriteAliases(batch.aliases));
  PORTRAIT_RETURN_IF_ERROR(WriteConsents(batch.consents, result));
  PORTRAIT_RETURN_IF_ERROR(WriteTokens(batch));
  PORTRAIT_RETURN_IF_ERROR(WriteModels(batch.models));
  PORTRAIT_RETURN_IF_ERROR(WriteAudit(batch.audit, result));
  return WriteDigests(batch.digests);
}

Status SqlcipherStore::WriteProfile(const ProfileWrite& w) {
  const ProfileRow& r = w.row;
  if (w.is_new) {
    PORTRAIT_RETURN_IF_ERROR(CheckNotAlias(r.ext_key));
  }
  if (w.state_only && !w.is_new) {
    Stmt state(main_, "UPDATE profiles SET metrics = ?, updated_us = ? WHERE id = ?;");
    state.BindBlob(1, r.metrics).Bind(2, r.updated_us).Bind(3, r.id);
    PORTRAIT_RETURN_IF_ERROR(state.Run());
    if (sqlite3_changes(main_.get()) == 0) {
      return Status::NotFound("profile " + std::to_string(r.id) + " does not exist");
    }
    // Apart, and only when it changes: naming an indexed column in SET rewrites its index
    // entry (profiles_by_lifecycle) even when the value stays.
    Stmt stage(main_, "UPDATE profiles SET lifecycle = ?1 WHERE id = ?2 AND lifecycle != ?1;");
    stage.Bind(1, r.lifecycle).Bind(2, r.id);
    return stage.Run();
  }
  Stmt up(main_, w.is_new ? "INSERT INTO profiles (" + std::string(kProfileColumns) +
                                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10);"
                          : "UPDATE profiles SET ext_key = ?2, external_id = ?3, timezone = ?4, "
                            "lifecycle = ?5, tags = ?6, metrics = ?7, legal_hold = ?8, "
                            "created_us = ?9, updated_us = ?10 WHERE id = ?1;");
  up.Bind(1, r.id).BindBlob(2, r.ext_key).BindBlob(3, r.external_id).Bind(4, r.timezone);
  up.Bind(5, r.lifecycle).BindBlob(6, r.tags).BindBlob(7, r.metrics);
  up.Bind(8, int64_t{r.legal_hold}).Bind(9, r.created_us).Bind(10, r.updated_us);
  PORTRAIT_RETURN_IF_ERROR(up.Run());
  if (!w.is_new && sqlite3_changes(main_.get()) == 0) {
    return Status::NotFound("profile " + std::to_string(r.id) + " does not exist");
  }
  Stmt set(main_,
           "INSERT OR REPLACE INTO profile_fields (profile_id, field, value, updated_us) "
           "VALUES (?, ?, ?, ?);");
  for (const auto& [name, envelope] : w.set_fields) {
    set.Reset();
    set.Bind(1, r.id).Bind(2, name).BindBlob(3, envelope).Bind(4, r.updated_us);
    PORTRAIT_RETURN_IF_ERROR(set.Run());
  }
  Stmt del(main_, "DELETE FROM profile_fields WHERE profile_id = ? AND field = ?;");
  for (const auto& name : w.removed_fields) {
    del.Reset();
    del.Bind(1, r.id).Bind(2, name);
    PORTRAIT_RETURN_IF_ERROR(del.Run());
  }
  Stmt drop(main_, "DELETE FROM blind_index WHERE profile_id = ? AND field = ?;");
  Stmt add(main_, "INSERT INTO blind_index (field, digest, profile_id) VALUES (?, ?, ?);");
  for (const auto& [field, digest] : w.blind) {
    drop.Reset();
    drop.Bind(1, r.id).Bind(2, field);
    PORTRAIT_RETURN_IF_ERROR(drop.Run());
    if (digest) {
      add.Reset();
      add.Bind(1, field).BindBlob(2, *digest).Bind(3, r.id);
      PORTRAIT_RETURN_IF_ERROR(add.Run());
    }
  }
  return WriteAnchors(r.id, w.anchors);
}

Status SqlcipherStore::EraseRows(ProfileId id) {
  for (const char* sql :
       {"DELETE FROM profile_fields WHERE profile_id = ?;",
        "DELETE FROM blind_index WHERE profile_id = ?;", "DELETE FROM events WHERE profile_id = ?;",
        "DELETE FROM profiles WHERE id = ?;"}) {
    Stmt s(main_, sql);
    s.Bind(1, id);
    PORTRAIT_RETURN_IF_ERROR(s.Run());
  }
  return Status::Ok();
}

Result<std::optional<ProfileRow>> SqlcipherStore::GetProfile(ProfileId id) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main, "SELECT " + std::string(kProfileColumns) + " FROM profiles WHERE id = ?;");
  s.Bind(1, id);
  return OneProfile(s);
}

Result<std::optional<ProfileRow>> SqlcipherStore::GetProfileByKey(std::string_view ext_key) {
  auto reader = readers_.Acquire();
  // The profile's own digest, else the alias's (a digest is never both).
  Stmt s(reader->main, "SELECT " + std::string(kProfileColumns) +
                           " FROM profiles WHERE ext_key = ?1 UNION ALL SELECT " +
                           std::string(kProfileColumns) +
                           " FROM profiles WHERE id = (SELECT profile_id FROM aliases WHERE "
                           "ext_key = ?1) LIMIT 1;");
  s.BindBlob(1, ext_key);
  return OneProfile(s);
}

Result<std::map<std::string, std::string>> SqlcipherStore::GetFields(ProfileId id) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main, "SELECT field, value FROM profile_fields WHERE profile_id = ?;");
  s.Bind(1, id);
  std::map<std::string, std::string> out;
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return out;
    }
    out.emplace(s.Text(0), s.Text(1));
  }
}

Result<std::vector<ProfileId>> SqlcipherStore::LookupBlind(std::string_view field,
                                                           std::string_view digest) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT profile_id FROM blind_index WHERE field = ? AND digest = ? ORDER BY profile_id;");
  s.Bind(1, field).BindBlob(2, digest);
  return sqlite::ReadRows(s, [](const Stmt& r) -> ProfileId { return r.Int(0); });
}

Result<std::vector<EventRow>> SqlcipherStore::GetEvents(ProfileId id) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT key, type, time_us, data FROM events WHERE profile_id = ? ORDER BY time_us, key;");
  s.Bind(1, id);
  return sqlite::ReadRows(s, [id](const Stmt& r) {
    return EventRow{r.Text(0), id, r.Text(1), r.Int(2), r.Text(3)};
  });
}

Result<int64_t> SqlcipherStore::CountProfiles() {
  auto reader = readers_.Acquire();
  Stmt s(reader->main, "SELECT count(*) FROM profiles;");
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

Result<std::vector<ProfileId>> SqlcipherStore::ProfileIds(ProfileId after, int limit) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main, "SELECT id FROM profiles WHERE id > ? ORDER BY id LIMIT ?;");
  s.Bind(1, after).Bind(2, int64_t{limit});
  return sqlite::ReadRows(s, [](const Stmt& r) -> ProfileId { return r.Int(0); });
}

Result<std::vector<ProfileRow>> SqlcipherStore::ProfileRows(ProfileId after, int limit) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main, "SELECT " + std::string(kProfileColumns) +
                           " FROM profiles WHERE id > ? ORDER BY id LIMIT ?;");
  s.Bind(1, after).Bind(2, int64_t{limit});
  return sqlite::ReadRows(s, ReadProfile);
}

Status SqlcipherStore::RaiseProfileIdHighWater(ProfileId id) {
  Stmt s(main_,
         "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, max(?2, coalesce((SELECT "
         "CAST(value AS INTEGER) FROM meta WHERE key = ?1), 0)));");
  s.Bind(1, kProfileIdHighKey).Bind(2, id);
  return s.Run();
}

Result<ProfileId> SqlcipherStore::ProfileIdHighWater() {
  auto reader = readers_.Acquire();
  // A database written before the mark existed has only its rows to go by.
  Stmt s(reader->main,
         "SELECT max(coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?), 0), "
         "coalesce((SELECT max(id) FROM profiles), 0));");
  s.Bind(1, kProfileIdHighKey);
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  const ProfileId in_main = row ? s.Int(0) : 0;
  // A key is stored before its profile's commit; one whose commit failed or was cut off holds
  // its id too (an insert of that id's key again would fail).
  // A destroyed key's id stays given: the erasure ledger names it, and a restore re-applies it.
  Stmt keys(reader->keystore,
            "SELECT max(coalesce((SELECT max(profile_id) FROM data_keys), 0), "
            "coalesce((SELECT max(profile_id) FROM destroyed_keys), 0));");
  PORTRAIT_ASSIGN_OR_RETURN(bool key_row, keys.Step());
  return std::max(in_main, key_row ? keys.Int(0) : 0);
}

Status SqlcipherStore::PutDataKey(ProfileId id, std::string_view wrapped) {
  std::lock_guard lock(mu_);
  Stmt s(keystore_, "INSERT INTO data_keys (profile_id, wrapped) VALUES (?, ?);");
  s.Bind(1, id).BindBlob(2, wrapped);
  return s.Run();
}

Status SqlcipherStore::PutDataKeys(const std::vector<std::pair<ProfileId, std::string>>& wrapped) {
  std::lock_guard lock(mu_);
  PORTRAIT_RETURN_IF_ERROR(keystore_.Exec("BEGIN IMMEDIATE;"));
  Status inserted = Status::Ok();
  for (const auto& [id, key] : wrapped) {
    Stmt s(keystore_, "INSERT INTO data_keys (profile_id, wrapped) VALUES (?, ?);");
    s.Bind(1, id).BindBlob(2, key);
    inserted = s.Run();
    if (!inserted.ok()) {
      break;
    }
  }
  if (!inserted.ok()) {
    (void)keystore_.Exec("ROLLBACK;");
    return inserted;
  }
  return keystore_.Exec("COMMIT;");
}

Result<std::optional<std::string>> SqlcipherStore::GetDataKey(ProfileId id) {
  auto reader = readers_.Acquire();
  Stmt s(reader->keystore, "SELECT wrapped FROM data_keys WHERE profile_id = ?;");
  s.Bind(1, id);
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(s.Text(0));
}

Result<std::vector<std::pair<ProfileId, std::string>>> SqlcipherStore::DataKeysBetween(
    ProfileId first, ProfileId last) {
  auto reader = readers_.Acquire();
  Stmt s(reader->keystore,
         "SELECT profile_id, wrapped FROM data_keys WHERE profile_id BETWEEN ? AND ? "
         "ORDER BY profile_id;");
  s.Bind(1, first).Bind(2, last);
  return sqlite::ReadRows(s, [](const Stmt& r) {
    return std::pair<ProfileId, std::string>{r.Int(0), r.Text(1)};
  });
}

Status SqlcipherStore::DestroyDataKey(ProfileId id) {
  std::lock_guard lock(mu_);
  bool present = false;
  {
    Stmt has(keystore_, "SELECT 1 FROM data_keys WHERE profile_id = ?;");
    has.Bind(1, id);
    PORTRAIT_ASSIGN_OR_RETURN(present, has.Step());
  }
  if (present) {
    // The ledger first: a key is never gone without its line (a line whose key survived a
    // crash names an erasure that was under way, which restoring finishes).
    const LedgerEntry entry{id, WallClockUs(), audit_seq_};
    if (!ledger_path_.empty()) {
      PORTRAIT_RETURN_IF_ERROR(AppendLedgerEntry(ledger_path_, entry, ledger_key_));
    }
    PORTRAIT_RETURN_IF_ERROR(keystore_.Exec("BEGIN IMMEDIATE;"));
    Stmt del(keystore_, "DELETE FROM data_keys WHERE profile_id = ?;");
    del.Bind(1, id);
    Stmt ledger(keystore_,
                "INSERT OR IGNORE INTO destroyed_keys (profile_id, time_us, audit_seq) "
                "VALUES (?, ?, ?);");
    ledger.Bind(1, id).Bind(2, entry.time_us).Bind(3, entry.audit_seq);
    Status done = del.Run();
    done = done.ok() ? ledger.Run() : done;
    done = done.ok() ? keystore_.Exec("COMMIT;") : done;
    if (!done.ok()) {
      (void)keystore_.Exec("ROLLBACK;");
      return done;
    }
  }
  // secure_delete zeroed the freed cells; move the WAL's copies into the main file and truncate
  // the WAL, so no old page holding the wrapped key survives in either file.
  return keystore_.Exec("PRAGMA wal_checkpoint(TRUNCATE);");
}

Result<std::unique_ptr<Store>> OpenSqlcipherStore(const SqlcipherOptions& options) {
  if (!options.portrait_key || !options.keystore_key) {
    return Error(Status::InvalidArgument("both database keys are required"));
  }
  const std::string main_path = options.data_dir + "/" + kPortraitDbName;
  const std::string keystore_path = options.data_dir + "/" + kKeystoreDbName;
  PORTRAIT_ASSIGN_OR_RETURN(Db keystore,
                            Db::Open(keystore_path, *options.keystore_key, options.create, 4));
  PORTRAIT_ASSIGN_OR_RETURN(
      Db main, Db::Open(main_path, *options.portrait_key, options.create, options.page_cache_mib));
  // Deleted rows are zeroed, not left in free pages: erasure must not leave a profile's digests
  // (external id, blind index) or sealed values behind in either file.
  PORTRAIT_RETURN_IF_ERROR(keystore.Exec("PRAGMA secure_delete = ON;"));
  PORTRAIT_RETURN_IF_ERROR(main.Exec("PRAGMA secure_delete = ON;"));
  PORTRAIT_RETURN_IF_ERROR(sqlite::Migrate(keystore, sqlite::KeystoreSchema()));
  PORTRAIT_RETURN_IF_ERROR(sqlite::Migrate(main, sqlite::PortraitSchema()));
  crypto::SecretBytes mac_key;
  if (options.audit_mac_key) {
    PORTRAIT_ASSIGN_OR_RETURN(mac_key, options.audit_mac_key->Clone());
  }
  auto store =
      std::make_unique<SqlcipherStore>(std::move(main), std::move(keystore), std::move(mac_key));
  for (int i = 0; i < std::max(1, options.readers); ++i) {
    PORTRAIT_ASSIGN_OR_RETURN(Db reader_main, Db::Open(main_path, *options.portrait_key, false,
                                                       options.reader_cache_mib));
    PORTRAIT_ASSIGN_OR_RETURN(Db reader_keystore,
                              Db::Open(keystore_path, *options.keystore_key, false, 4));
    store->AddReader(std::make_unique<ReadConnection>(
        ReadConnection{std::move(reader_main), std::move(reader_keystore)}));
  }
  // The writer's commits never wait for a checkpoint: one runs beside them once the WAL holds
  // 8,192 pages (32 MiB), the automatic checkpoint's old mark.
  PORTRAIT_ASSIGN_OR_RETURN(Db checkpoints, Db::Open(main_path, *options.portrait_key, false, 4));
  store->CheckpointInBackground(std::move(checkpoints), 8192);
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
