// The SQLCipher backend's anniversary anchors (store.h AnchorDate) and the re-arm's range reads.
#include "store/sqlcipher/sqlcipher_store_impl.h"

namespace portrait::store {

using sqlite::Stmt;

Status SqlcipherStore::WriteAnchors(
    ProfileId id, const std::map<std::string, std::optional<AnchorDate>>& changes) {
  if (changes.empty()) {
    return Status::Ok();
  }
  Stmt set(main_,
           "INSERT OR REPLACE INTO anchors (profile_id, field, year, month, day) "
           "VALUES (?, ?, ?, ?, ?);");
  Stmt drop(main_, "DELETE FROM anchors WHERE profile_id = ? AND field = ?;");
  for (const auto& [field, date] : changes) {
    Stmt& s = date ? set : drop;
    s.Reset();
    s.Bind(1, id).Bind(2, field);
    if (date) {
      s.Bind(3, int64_t{date->year}).Bind(4, int64_t{date->month}).Bind(5, int64_t{date->day});
    }
    PORTRAIT_RETURN_IF_ERROR(s.Run());
  }
  return Status::Ok();
}

Status SqlcipherStore::WriteAnchorChanges(const std::vector<AnchorChange>& changes) {
  Stmt exists(main_, "SELECT 1 FROM profiles WHERE id = ?;");
  for (const AnchorChange& c : changes) {
    exists.Reset();
    exists.Bind(1, c.profile_id);
    PORTRAIT_ASSIGN_OR_RETURN(bool found, exists.Step());
    if (!found) {
      return Status::NotFound("profile " + std::to_string(c.profile_id) + " does not exist");
    }
    PORTRAIT_RETURN_IF_ERROR(WriteAnchors(c.profile_id, {{c.field, c.date}}));
  }
  return Status::Ok();
}

Status SqlcipherStore::EraseAnchors(ProfileId id) {
  Stmt s(main_, "DELETE FROM anchors WHERE profile_id = ?;");
  s.Bind(1, id);
  return s.Run();
}

Result<std::vector<TimerInputs>> SqlcipherStore::RearmInputs(ProfileId after, int limit) {
  ReadConnection::Lease reader = readers_.Acquire();
  // One read transaction: the three range reads see the same commit.
  PORTRAIT_RETURN_IF_ERROR(reader->main.Exec("BEGIN;"));
  auto read = [&]() -> Result<std::vector<TimerInputs>> {
    Stmt profiles(reader->main,
                  "SELECT id, timezone FROM profiles WHERE id > ? ORDER BY id LIMIT ?;");
    profiles.Bind(1, after).Bind(2, int64_t{limit});
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<TimerInputs> out,
                              sqlite::ReadRows(profiles, [](const Stmt& r) {
                                TimerInputs in;
                                in.profile_id = r.Int(0);
                                in.timezone = r.Text(1);
                                return in;
                              }));
    if (out.empty()) {
      return out;
    }
    // Rows of profiles in the range, in profile order; `at` walks `out` alongside.
    auto merge = [&](Stmt& s, auto&& add) -> Status {
      s.Bind(1, out.front().profile_id).Bind(2, out.back().profile_id);
      size_t at = 0;
      while (true) {
        PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) {
          return Status::Ok();
        }
        while (at < out.size() && out[at].profile_id < s.Int(0)) {
          ++at;
        }
        if (at < out.size() && out[at].profile_id == s.Int(0)) {
          add(out[at], s);
        }
      }
    };
    Stmt anchors(reader->main,
                 "SELECT profile_id, field, year, month, day FROM anchors "
                 "WHERE profile_id BETWEEN ? AND ? ORDER BY profile_id, field;");
    PORTRAIT_RETURN_IF_ERROR(merge(anchors, [](TimerInputs& in, const Stmt& r) {
      in.anchors[r.Text(1)] = AnchorDate{static_cast<int>(r.Int(2)), static_cast<int>(r.Int(3)),
                                         static_cast<int>(r.Int(4))};
    }));
    Stmt timers(reader->main,
                "SELECT profile_id, trigger, due_us FROM timers "
                "WHERE profile_id BETWEEN ? AND ? ORDER BY profile_id, trigger;");
    PORTRAIT_RETURN_IF_ERROR(merge(timers, [](TimerInputs& in, const Stmt& r) {
      in.timers.push_back(TimerRow{r.Int(0), r.Text(1), r.Int(2)});
    }));
    return out;
  };
  Result<std::vector<TimerInputs>> out = read();
  (void)reader->main.Exec("COMMIT;");
  return out;
}

}  // namespace portrait::store
