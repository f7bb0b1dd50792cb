// The PostgreSQL store's aliases (rows of ext_keys with alias = true), a merge's moves of events
// and aliases, the segment members index and the fitted parameters.
#include "store/postgres/postgres_store_impl.h"

namespace portrait::store {
namespace {

using pg::Params;
using pg::Rows;

Result<std::vector<AliasRow>> ReadAliases(Result<Rows> r) {
  if (!r) {
    return Error(r.error());
  }
  std::vector<AliasRow> out;
  for (int i = 0; i < r->size(); ++i) {
    out.push_back(AliasRow{r->Text(i, 0), r->Int(i, 1), r->Int(i, 2), r->Int(i, 3)});
  }
  return out;
}

Result<std::vector<ModelRow>> ReadModels(Result<Rows> r) {
  if (!r) {
    return Error(r.error());
  }
  std::vector<ModelRow> out;
  for (int i = 0; i < r->size(); ++i) {
    out.push_back(
        ModelRow{r->Text(i, 0), r->Text(i, 1), r->Int(i, 2), r->Text(i, 3), r->Int(i, 4)});
  }
  return out;
}

}  // namespace

// Each event's key row first (its old profile, through a self-join, says which events row).
Status PostgresStore::MoveEvents(const std::vector<EventRow>& moved) {
  for (const EventRow& e : moved) {
    PORTRAIT_ASSIGN_OR_RETURN(
        Rows from, main_.Run("UPDATE event_keys k SET profile_id = $1 FROM event_keys old "
                             "WHERE k.part = $2 AND k.key = $3 AND old.part = k.part "
                             "AND old.key = k.key RETURNING old.profile_id;",
                             Params().Int(e.profile_id).Int(PartOf(e.key)).Bytes(e.key)));
    if (from.empty()) {
      return Status::NotFound("a moved event is not stored");
    }
    PORTRAIT_RETURN_IF_ERROR(
        main_.Do("UPDATE events SET profile_id = $1, data = $2 WHERE profile_id = $3 AND key = $4;",
                 Params().Int(e.profile_id).Bytes(e.data).Int(from.Int(0, 0)).Bytes(e.key)));
  }
  return Status::Ok();
}

Status PostgresStore::MoveAliases(const std::vector<std::pair<ProfileId, ProfileId>>& moved) {
  for (const auto& [from, to] : moved) {
    PORTRAIT_RETURN_IF_ERROR(
        main_.Do("UPDATE ext_keys SET profile_id = $1 WHERE profile_id = $2 AND alias;",
                 Params().Int(to).Int(from)));
  }
  return Status::Ok();
}

// Among several nodes, an alias lies in its profile's partition (DECISIONS 170): its events are
// sent to the holder of its digest's partition, which must be the profile's writer.
Status PostgresStore::WriteAliases(const std::vector<AliasRow>& aliases) {
  for (const AliasRow& a : aliases) {
    if (!MayAlias(a.ext_key, a.profile_id)) {
      return Status::Conflict(
          "among several nodes, an external id becomes an alias only of a profile in its own "
          "partition");
    }
    PORTRAIT_ASSIGN_OR_RETURN(
        Rows taken, main_.Run("SELECT profile_id, alias FROM ext_keys WHERE part = $1 AND "
                              "ext_key = $2;",
                              Params().Int(PartOf(a.ext_key)).Bytes(a.ext_key)));
    if (!taken.empty()) {
      if (!taken.Bool(0, 1)) {
        return Status::Conflict("an alias's external id is a profile's own");
      }
      if (taken.Int(0, 0) == a.profile_id) {
        continue;
      }
      return Status::Conflict("the external id is an alias of another profile");
    }
    PORTRAIT_ASSIGN_OR_RETURN(Rows target, main_.Run("SELECT 1 FROM profiles WHERE id = $1;",
                                                     Params().Int(a.profile_id)));
    if (target.empty()) {
      return Status::NotFound("profile " + std::to_string(a.profile_id) + " does not exist");
    }
    PORTRAIT_RETURN_IF_ERROR(
        main_.Do("INSERT INTO ext_keys (part, ext_key, profile_id, alias, merged_id, created_us) "
                 "VALUES ($1, $2, $3, true, $4, $5);",
                 Params()
                     .Int(PartOf(a.ext_key))
                     .Bytes(a.ext_key)
                     .Int(a.profile_id)
                     .Int(a.merged_id)
                     .Int(a.created_us)));
  }
  return Status::Ok();
}

Result<std::vector<AliasRow>> PostgresStore::GetAliases(ProfileId id) {
  auto reader = readers_.Acquire();
  return ReadAliases(reader->main.Run(
      "SELECT ext_key, profile_id, merged_id, created_us FROM ext_keys WHERE profile_id = $1 "
      "AND alias ORDER BY ext_key;",
      Params().Int(id)));
}

Result<std::optional<AliasRow>> PostgresStore::GetAlias(std::string_view ext_key) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      std::vector<AliasRow> rows,
      ReadAliases(reader->main.Run("SELECT ext_key, profile_id, merged_id, created_us FROM "
                                   "ext_keys WHERE part = $1 AND ext_key = $2 AND alias;",
                                   Params().Int(PartOf(ext_key)).Bytes(ext_key))));
  return rows.empty() ? std::nullopt : std::optional<AliasRow>(std::move(rows.front()));
}

Result<std::vector<ProfileId>> PostgresStore::GetMergedIds() {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT DISTINCT merged_id FROM ext_keys WHERE alias AND "
                               "merged_id <> 0 ORDER BY merged_id;"));
  std::vector<ProfileId> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(r.Int(i, 0));
  }
  return out;
}

Status PostgresStore::WriteMembers(const Batch& batch) {
  for (const std::string& segment : batch.dropped_segments) {
    PORTRAIT_RETURN_IF_ERROR(
        main_.Do("DELETE FROM segment_members WHERE segment = $1;", Params().Text(segment)));
  }
  for (const SegmentMember& m : batch.members) {
    PORTRAIT_RETURN_IF_ERROR(main_.Do(
        m.member ? "INSERT INTO segment_members (profile_id, segment) SELECT $1, $2 "
                   "WHERE EXISTS (SELECT 1 FROM profiles WHERE id = $1) ON CONFLICT DO NOTHING;"
                 : "DELETE FROM segment_members WHERE profile_id = $1 AND segment = $2;",
        Params().Int(m.profile_id).Text(m.segment)));
  }
  return Status::Ok();
}

Result<int64_t> PostgresStore::CountSegmentMembers(std::string_view segment) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT count(*) FROM segment_members WHERE segment = $1;",
                               Params().Text(segment)));
  return r.Int(0, 0);
}

Result<std::vector<ProfileId>> PostgresStore::SegmentMembers(std::string_view segment,
                                                             ProfileId after, int limit) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT profile_id FROM segment_members WHERE segment = $1 AND "
                               "profile_id > $2 ORDER BY profile_id LIMIT $3;",
                               Params().Text(segment).Int(after).Int(limit)));
  std::vector<ProfileId> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(r.Int(i, 0));
  }
  return out;
}

Result<std::vector<std::pair<ProfileId, std::string>>> PostgresStore::MembershipsBetween(
    ProfileId first, ProfileId last) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT profile_id, segment FROM segment_members WHERE profile_id "
                               "BETWEEN $1 AND $2 ORDER BY profile_id, segment;",
                               Params().Int(first).Int(last)));
  std::vector<std::pair<ProfileId, std::string>> out;
  for (int i = 0; i < r.size(); ++i) {
    out.emplace_back(r.Int(i, 0), r.Text(i, 1));
  }
  return out;
}

Status PostgresStore::WriteModels(const std::vector<ModelRow>& models) {
  for (const ModelRow& m : models) {
    PORTRAIT_ASSIGN_OR_RETURN(Rows stored,
                              main_.Run("SELECT version FROM models WHERE kind = $1 AND name = $2;",
                                        Params().Text(m.kind).Text(m.name)));
    if (!stored.empty() && m.version <= stored.Int(0, 0)) {
      return Status::Conflict(m.kind + " '" + m.name + "' has version " +
                              std::to_string(stored.Int(0, 0)) + " already");
    }
    PORTRAIT_RETURN_IF_ERROR(main_.Do(
        "INSERT INTO models (kind, name, version, params, fitted_us) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (kind, name) DO UPDATE SET version = EXCLUDED.version, "
        "params = EXCLUDED.params, fitted_us = EXCLUDED.fitted_us;",
        Params().Text(m.kind).Text(m.name).Int(m.version).Text(m.params).Int(m.fitted_us)));
  }
  return Status::Ok();
}

Result<std::optional<ModelRow>> PostgresStore::GetModel(std::string_view kind,
                                                        std::string_view name) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      std::vector<ModelRow> rows,
      ReadModels(reader->main.Run("SELECT kind, name, version, params, fitted_us FROM models "
                                  "WHERE kind = $1 AND name = $2;",
                                  Params().Text(kind).Text(name))));
  return rows.empty() ? std::nullopt : std::optional<ModelRow>(std::move(rows.front()));
}

Result<std::vector<ModelRow>> PostgresStore::ListModels() {
  auto reader = readers_.Acquire();
  return ReadModels(reader->main.Run(
      "SELECT kind, name, version, params, fitted_us FROM models ORDER BY kind, name;"));
}

Result<std::vector<EventRow>> PostgresStore::EventsOfType(std::string_view type, int64_t until_us,
                                                          const EventCursor& after, int limit) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r,
      reader->main.Run(
          "SELECT key, profile_id, type, time_us, data FROM events "
          "WHERE type = $1 AND time_us <= $2 AND (time_us, key) > ($3, $4) "
          "ORDER BY time_us, key LIMIT $5;",
          Params().Text(type).Int(until_us).Int(after.time_us).Bytes(after.key).Int(limit)));
  std::vector<EventRow> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(EventRow{r.Text(i, 0), r.Int(i, 1), r.Text(i, 2), r.Int(i, 3), r.Text(i, 4)});
  }
  return out;
}

Result<std::optional<int64_t>> PostgresStore::LatestEventTime(std::string_view type) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT time_us FROM events WHERE type = $1 ORDER BY time_us DESC "
                               "LIMIT 1;",
                               Params().Text(type)));
  return r.empty() ? std::nullopt : std::optional<int64_t>(r.Int(0, 0));
}

}  // namespace portrait::store
