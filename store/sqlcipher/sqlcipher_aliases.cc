// The SQLCipher store's aliases (store.h: AliasRow) and a merge's moves of events and aliases.
#include "store/sqlcipher/sqlcipher_store_impl.h"

namespace portrait::store {

using sqlite::Stmt;

namespace {

AliasRow ReadAlias(const Stmt& s) { return AliasRow{s.Text(0), s.Int(1), s.Int(2), s.Int(3)}; }

}  // namespace

Status SqlcipherStore::CheckNotAlias(std::string_view ext_key) {
  Stmt s(main_, "SELECT 1 FROM aliases WHERE ext_key = ?;");
  s.BindBlob(1, ext_key);
  PORTRAIT_ASSIGN_OR_RETURN(bool taken, s.Step());
  if (taken) {
    return Status::Conflict("the external id is an alias of another profile");
  }
  return Status::Ok();
}

Status SqlcipherStore::MoveEvents(const std::vector<EventRow>& moved) {
  Stmt up(main_, "UPDATE events SET profile_id = ?, data = ? WHERE key = ?;");
  for (const EventRow& e : moved) {
    up.Reset();
    up.Bind(1, e.profile_id).BindBlob(2, e.data).BindBlob(3, e.key);
    PORTRAIT_RETURN_IF_ERROR(up.Run());
    if (sqlite3_changes(main_.get()) == 0) {
      return Status::NotFound("a moved event is not stored");
    }
  }
  return Status::Ok();
}

Status SqlcipherStore::MoveAliases(const std::vector<std::pair<ProfileId, ProfileId>>& moved) {
  Stmt up(main_, "UPDATE aliases SET profile_id = ? WHERE profile_id = ?;");
  for (const auto& [from, to] : moved) {
    up.Reset();
    up.Bind(1, to).Bind(2, from);
    PORTRAIT_RETURN_IF_ERROR(up.Run());
  }
  return Status::Ok();
}

Status SqlcipherStore::WriteAliases(const std::vector<AliasRow>& aliases) {
  Stmt profile_key(main_, "SELECT 1 FROM profiles WHERE ext_key = ?;");
  Stmt existing(main_, "SELECT profile_id FROM aliases WHERE ext_key = ?;");
  Stmt target(main_, "SELECT 1 FROM profiles WHERE id = ?;");
  Stmt ins(main_,
           "INSERT INTO aliases (ext_key, profile_id, merged_id, created_us) VALUES (?, ?, ?, ?);");
  for (const AliasRow& a : aliases) {
    profile_key.Reset();
    profile_key.BindBlob(1, a.ext_key);
    PORTRAIT_ASSIGN_OR_RETURN(bool is_profile, profile_key.Step());
    if (is_profile) {
      return Status::Conflict("an alias's external id is a profile's own");
    }
    existing.Reset();
    existing.BindBlob(1, a.ext_key);
    PORTRAIT_ASSIGN_OR_RETURN(bool is_alias, existing.Step());
    if (is_alias) {
      if (existing.Int(0) == a.profile_id) {
        continue;
      }
      return Status::Conflict("the external id is an alias of another profile");
    }
    target.Reset();
    target.Bind(1, a.profile_id);
    PORTRAIT_ASSIGN_OR_RETURN(bool exists, target.Step());
    if (!exists) {
      return Status::NotFound("profile " + std::to_string(a.profile_id) + " does not exist");
    }
    ins.Reset();
    ins.BindBlob(1, a.ext_key).Bind(2, a.profile_id).Bind(3, a.merged_id).Bind(4, a.created_us);
    PORTRAIT_RETURN_IF_ERROR(ins.Run());
  }
  return Status::Ok();
}

Status SqlcipherStore::EraseAliases(ProfileId id) {
  Stmt s(main_, "DELETE FROM aliases WHERE profile_id = ?;");
  s.Bind(1, id);
  return s.Run();
}

Result<std::vector<AliasRow>> SqlcipherStore::GetAliases(ProfileId id) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT ext_key, profile_id, merged_id, created_us FROM aliases WHERE profile_id = ? "
         "ORDER BY ext_key;");
  s.Bind(1, id);
  return sqlite::ReadRows(s, ReadAlias);
}

Result<std::optional<AliasRow>> SqlcipherStore::GetAlias(std::string_view ext_key) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT ext_key, profile_id, merged_id, created_us FROM aliases WHERE ext_key = ?;");
  s.BindBlob(1, ext_key);
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? std::optional<AliasRow>(ReadAlias(s)) : std::nullopt;
}

Result<std::vector<ProfileId>> SqlcipherStore::GetMergedIds() {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT DISTINCT merged_id FROM aliases WHERE merged_id != 0 ORDER BY merged_id;");
  return sqlite::ReadRows(s, [](const Stmt& row) { return ProfileId{row.Int(0)}; });
}

}  // namespace portrait::store
