#include "daemon/import_identity.h"

#include <unordered_map>

namespace portrait::daemon {

namespace {

// The match fields `row` sets, joined by commas: what a report names.
std::string FieldsOf(const store::PreparedImportRow& row,
                     const std::vector<std::string>& match_fields) {
  std::string names;
  for (const std::string& name : match_fields) {
    if (row.patch.set.contains(name)) {
      names += (names.empty() ? "" : ",") + name;
    }
  }
  return names;
}

}  // namespace

Status ResolveIdentities(const IdentityMatcher& matcher, store::Store& store,
                         const std::vector<std::string>& match_fields,
                         const IdentityMatcher::Visible& visible, store::PreparedImport& prepared) {
  std::unordered_map<std::string, int64_t> claimed;  // match key -> the line that named it
  std::vector<store::PreparedImportRow> kept;
  kept.reserve(prepared.rows.size());
  auto refuse = [&](const store::PreparedImportRow& row, std::string reason) {
    prepared.errors.push_back({row.line, FieldsOf(row, match_fields), std::move(reason)});
  };
  for (store::PreparedImportRow& row : prepared.rows) {
    const std::vector<std::string> keys = matcher.MatchKeys(row.patch, match_fields);
    PORTRAIT_ASSIGN_OR_RETURN(std::optional<store::ProfileRow> known,
                              store.GetProfileByKey(row.ext_key));
    if (!known) {
      const int64_t earlier = [&] {
        for (const std::string& key : keys) {
          if (auto it = claimed.find(key); it != claimed.end()) {
            return it->second;
          }
        }
        return int64_t{0};
      }();
      if (earlier != 0) {
        refuse(row,
               "matches the same person as line " + std::to_string(earlier) + " of this request");
        continue;
      }
      PORTRAIT_ASSIGN_OR_RETURN(IdentityMatch match,
                                matcher.MatchChecked(row.patch, match_fields, visible));
      if (match.kind == MatchKind::kAmbiguous) {
        refuse(row, "matches more than one profile");
        continue;
      }
      if (match.kind == MatchKind::kOne && !store.MayAlias(row.ext_key, match.profile_id)) {
        refuse(row,
               "matches a profile of another partition, which this id can't become an alias "
               "of among several nodes");
        continue;
      }
      if (match.kind == MatchKind::kOne) {
        row.merge_into = match.profile_id;
        row.fresh.reset();  // its data key was never stored: nothing to clean up
      }
    }
    for (const std::string& key : keys) {
      claimed.emplace(key, row.line);
    }
    kept.push_back(std::move(row));
  }
  prepared.rows = std::move(kept);
  return Status::Ok();
}

}  // namespace portrait::daemon
