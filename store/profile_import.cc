// ProfileVault's bulk import: PrepareImport (any thread) and CommitImport (the writer).
#include <set>
#include <unordered_map>

#include "store/profile_vault.h"

namespace portrait::store {

using nlohmann::json;

namespace {

// The stored profile row `r` writes to: its id's, else the one identity resolution matched it to
// (`merging` then true; the row's id becomes that profile's alias).
Result<std::optional<ProfileRow>> ImportTarget(Store& store, const PreparedImportRow& r,
                                               bool& merging) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<ProfileRow> own, store.GetProfileByKey(r.ext_key));
  merging = !own && r.merge_into != 0;
  return merging ? store.GetProfile(r.merge_into) : own;
}

std::string CountsDetail(const ImportCounts& counts) {
  return json{{"created", counts.created},
              {"updated", counts.updated},
              {"unchanged", counts.unchanged},
              {"merged", counts.merged},
              {"failed", counts.errors.size()}}
      .dump();
}

// The request's record (its counts, no profile) and one record per profile written or given an
// alias, so each profile's history shows the import that changed it or the id that now reaches
// it (`{"alias_added":true}`; the alias itself is personal and not named).
void AuditEachWritten(const AuditEntry& request, const std::vector<ProfileId>& written,
                      Batch& batch) {
  batch.audit.push_back(request);
  std::set<ProfileId> ids(written.begin(), written.end());
  std::set<ProfileId> aliased;  // profiles a row's id became an alias of
  for (const AliasRow& alias : batch.aliases) {
    aliased.insert(alias.profile_id);
  }
  ids.insert(aliased.begin(), aliased.end());
  for (ProfileId id : ids) {
    AuditEntry entry = request;
    entry.action = "profile.import";
    entry.profile_id = id;
    entry.detail = aliased.count(id) ? R"({"alias_added":true})" : "{}";
    batch.audit.push_back(std::move(entry));
  }
}

}  // namespace

PreparedImport ProfileVault::PrepareImport(std::vector<ImportRow> rows) {
  PreparedImport out;
  out.rows.reserve(rows.size());
  std::unordered_map<std::string, int64_t> first_line;  // ext_key -> line
  const int64_t now = clock_.NowUs();
  auto refuse = [&](int64_t line, std::string field, const Status& s) {
    out.errors.push_back(ImportError{line, std::move(field), s.message()});
  };
  for (ImportRow& r : rows) {
    if (Status id = CheckExternalId(r.external_id); !id.ok()) {
      refuse(r.line, "id", id);
      continue;
    }
    auto checked = CheckPatch(r.patch);
    if (!checked) {
      refuse(r.line, checked.error().field, checked.error().status);
      continue;
    }
    PreparedImportRow p;
    p.line = r.line;
    p.external_id = std::move(r.external_id);
    p.patch = std::move(*checked);
    p.ext_key = ExtKey(p.external_id);
    auto [first, is_first] = first_line.emplace(p.ext_key, r.line);
    if (!is_first) {
      refuse(r.line, "id",
             Status::InvalidArgument("id repeated in this request at line " +
                                     std::to_string(first->second)));
      continue;
    }
    auto existing = store_.GetProfileByKey(p.ext_key);
    if (existing && !*existing) {  // new so far: sealed here, off the writer thread
      p.fresh.emplace();
      if (Status sealed =
              SealNew(p.external_id, p.ext_key, p.patch, now, *p.fresh, p.wrapped_key, p.key);
          !sealed.ok()) {
        p.fresh.reset();  // the writer tries again
      }
    }
    out.rows.push_back(std::move(p));
  }
  return out;
}

OpenProfile ProfileVault::OpenCreated(const ProfileRow& stored, PreparedImportRow& row) {
  OpenProfile open;
  open.row = stored;
  open.key = std::move(row.key);
  open.profile = Unsealed(stored);
  Profile& p = open.profile;
  p.external_id = row.external_id;
  for (const auto& [name, checked] : row.patch.set) {
    p.fields[name] = checked.value;
  }
  std::set<std::string> tags(row.patch.add_tags.begin(), row.patch.add_tags.end());
  for (const std::string& t : row.patch.remove_tags) {
    tags.erase(t);
  }
  p.tags.assign(tags.begin(), tags.end());
  return open;
}

Result<ImportCounts> ProfileVault::CommitImport(PreparedImport prepared, AuditEntry audit) {
  const int64_t now = clock_.NowUs();
  ImportCounts counts;
  counts.errors = std::move(prepared.errors);
  Batch batch;
  std::vector<std::pair<ProfileId, std::string>> new_keys;
  std::set<ProfileId> updated;  // two rows of one profile (an id and its alias) would race
  for (PreparedImportRow& r : prepared.rows) {
    bool merging = false;
    PORTRAIT_ASSIGN_OR_RETURN(std::optional<ProfileRow> existing, ImportTarget(store_, r, merging));
    if (existing && !updated.insert(existing->id).second) {
      counts.errors.push_back(
          {r.line, "id", "names the same profile as an earlier row (one id is an alias)"});
      continue;
    }
    if (existing) {  // stored before, or since the row was prepared, or the row's match
      ProfileWrite update;
      auto unchanged = Unchanged(*existing, r.patch, now, update);
      if (!unchanged && unchanged.error().code() == Status::Code::kNotFound) {
        // Its key is gone: an erasure stopped before it tidied up. One row, not the request.
        counts.errors.push_back({r.line, "id", "the profile is being erased; erase it again"});
        continue;
      }
      PORTRAIT_RETURN_IF_ERROR(unchanged);
      counts.touched.push_back(existing->id);
      if (merging) {
        batch.aliases.push_back(AliasRow{r.ext_key, existing->id, 0, now});
      }
      ++(merging ? counts.merged : *unchanged ? counts.unchanged : counts.updated);
      if (!*unchanged) {
        counts.written.push_back(existing->id);
        batch.profiles.push_back(std::move(update));
      }
      continue;
    }
    if (!r.fresh) {  // erased since it was prepared, or its sealing failed there
      r.fresh.emplace();
      PORTRAIT_RETURN_IF_ERROR(
          SealNew(r.external_id, r.ext_key, r.patch, now, *r.fresh, r.wrapped_key, r.key));
    }
    const ProfileId id = r.fresh->row.id;
    counts.created_open.push_back(OpenCreated(r.fresh->row, r));
    new_keys.emplace_back(id, std::move(r.wrapped_key));
    ++counts.created;
    counts.written.push_back(id);
    counts.touched.push_back(id);
    batch.profiles.push_back(std::move(*r.fresh));
  }
  audit.detail = CountsDetail(counts);
  AuditEachWritten(audit, counts.written, batch);
  // The keys are durable before any ciphertext made with them (one keystore transaction); a
  // crash in between leaves only orphan wrapped keys, never an unreadable profile.
  PORTRAIT_RETURN_IF_ERROR(store_.PutDataKeys(new_keys));
  if (Status committed = Commit(batch); !committed.ok()) {
    for (const auto& [id, wrapped] : new_keys) {
      (void)DestroyKey(id);
    }
    return Error(committed);
  }
  return counts;
}

}  // namespace portrait::store
