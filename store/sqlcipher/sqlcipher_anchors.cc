// The SQLCipher backend's anniversary anchors (store.h AnchorDate) and the range reads of the
// re-arm (RearmInputs) and the base-wide re-evaluation (PortraitInputsAfter).
#include <algorithm>

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

namespace {

// Profile ids from first to last: the rows a statement's "BETWEEN ?1 AND ?2" reads.
using Range = std::pair<ProfileId, ProfileId>;
Stmt& BindRange(Stmt& s, Range range) { return s.Bind(1, range.first).Bind(2, range.second); }

// Fills the anchors and timers of `items` (ascending by profile id; `inputs(item)` is its
// TimerInputs, whose profile_id is set) with two range reads on `db`.
template <typename Item, typename Inputs>
Status ReadAnchorsAndTimers(sqlite::Db& db, std::vector<Item>& items, Inputs&& inputs) {
  const Range range{inputs(items.front()).profile_id, inputs(items.back()).profile_id};
  auto id_of = [&](Item& item) { return inputs(item).profile_id; };
  Stmt anchors(db,
               "SELECT profile_id, field, year, month, day FROM anchors "
               "WHERE profile_id BETWEEN ? AND ? ORDER BY profile_id, field;");
  BindRange(anchors, range);
  PORTRAIT_RETURN_IF_ERROR(sqlite::MergeById(anchors, items, id_of, [&](Item& item, const Stmt& r) {
    inputs(item).anchors[r.Text(1)] = AnchorDate{
        static_cast<int>(r.Int(2)), static_cast<int>(r.Int(3)), static_cast<int>(r.Int(4))};
  }));
  Stmt timers(db,
              "SELECT profile_id, trigger, due_us FROM timers "
              "WHERE profile_id BETWEEN ? AND ? ORDER BY profile_id, trigger;");
  BindRange(timers, range);
  return sqlite::MergeById(timers, items, id_of, [&](Item& item, const Stmt& r) {
    inputs(item).timers.push_back(TimerRow{r.Int(0), r.Text(1), r.Int(2)});
  });
}

}  // namespace

Result<std::vector<TimerInputs>> SqlcipherStore::RearmInputs(ProfileId after, int limit) {
  auto reader = readers_.Acquire();
  return sqlite::InOneRead(reader->main, [&]() -> Result<std::vector<TimerInputs>> {
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
    if (!out.empty()) {
      PORTRAIT_RETURN_IF_ERROR(ReadAnchorsAndTimers(
          reader->main, out, [](TimerInputs& in) -> TimerInputs& { return in; }));
    }
    return out;
  });
}

namespace {

// Reads into `items` (ascending by id, each with its row's id set) their rows (unless
// `rows_read`), anchors and timers, members-index rows and the fields `read` asks for, in range
// reads of `db` over the items' ids (`dense`), or in reads of one profile each. The ids of items
// whose row it read and did not find go to `missing`, ascending.
Status ReadWhole(sqlite::Db& db, const std::vector<PortraitInputs*>& items, bool dense,
                 bool rows_read, const PortraitRead& read, std::vector<ProfileId>& missing) {
  if (items.empty()) {
    return Status::Ok();
  }
  auto id_of = [](const PortraitInputs* in) { return in->row.id; };
  Stmt profiles(db, "SELECT " + std::string(kProfileColumns) +
                        " FROM profiles WHERE id BETWEEN ? AND ? ORDER BY id;");
  Stmt members(db,
               "SELECT profile_id, segment FROM segment_members "
               "WHERE profile_id BETWEEN ? AND ? ORDER BY profile_id, segment;");
  // Only the fields asked for leave SQLite: the others' values are never copied. The range of
  // the primary key is walked (`+field` keeps the planner off the by-age index, which would
  // read each field's rows across the whole base).
  const std::vector<std::string>& fields = read.fields;
  std::string names = "?3";
  for (size_t i = 1; i < fields.size(); ++i) {
    names += ", ?" + std::to_string(i + 3);
  }
  Stmt values(db,
              "SELECT profile_id, field, value FROM profile_fields "
              "WHERE profile_id BETWEEN ?1 AND ?2 AND +field IN (" +
                  names + ") ORDER BY profile_id, field;");
  // The reads over `part` (a slice of `items`, ascending) from its first id to its last.
  auto read_part = [&](std::vector<PortraitInputs*> part) -> Status {
    const Range range{part.front()->row.id, part.back()->row.id};
    if (!rows_read) {
      profiles.Reset();
      BindRange(profiles, range);
      std::vector<ProfileId> found;  // ascending
      PORTRAIT_RETURN_IF_ERROR(
          sqlite::MergeById(profiles, part, id_of, [&](PortraitInputs* in, const Stmt& r) {
            in->row = ReadProfile(r);
            found.push_back(in->row.id);
          }));
      for (const PortraitInputs* in : part) {
        if (!std::binary_search(found.begin(), found.end(), in->row.id)) {
          missing.push_back(in->row.id);
        }
      }
    }
    for (PortraitInputs* in : part) {
      in->timers.profile_id = in->row.id;
      in->timers.timezone = in->row.timezone;
    }
    if (read.timers) {
      auto timers_of = [](PortraitInputs* in) -> TimerInputs& { return in->timers; };
      PORTRAIT_RETURN_IF_ERROR(ReadAnchorsAndTimers(db, part, timers_of));
    }
    members.Reset();
    BindRange(members, range);
    PORTRAIT_RETURN_IF_ERROR(sqlite::MergeById(
        members, part, id_of,
        [](PortraitInputs* in, const Stmt& r) { in->segments.push_back(r.Text(1)); }));
    if (fields.empty()) {
      return Status::Ok();
    }
    values.Reset();
    BindRange(values, range);
    for (size_t i = 0; i < fields.size(); ++i) {
      values.Bind(static_cast<int>(i) + 3, fields[i]);
    }
    return sqlite::MergeById(values, part, id_of, [&](PortraitInputs* in, const Stmt& r) {
      in->fields.emplace(r.Text(1), r.Text(2));
    });
  };
  if (dense) {
    return read_part(items);
  }
  for (PortraitInputs* in : items) {
    PORTRAIT_RETURN_IF_ERROR(read_part({in}));
  }
  return Status::Ok();
}

// Reads into `out` (ascending by id) their consent records of `purpose`, in a range read.
Status ReadConsents(sqlite::Db& db, std::vector<PortraitInputs>& out, const std::string& purpose) {
  Stmt consents(db,
                "SELECT profile_id, id, purpose, scope, channel, status, "
                "time_us, source, notice, evidence, actor, expires_us "
                "FROM consents WHERE profile_id BETWEEN ? AND ? "
                "AND purpose = ? ORDER BY profile_id, id;");
  BindRange(consents, {out.front().row.id, out.back().row.id});
  consents.Bind(3, purpose);
  return sqlite::MergeById(
      consents, out, [](const PortraitInputs& in) { return in.row.id; },
      [](PortraitInputs& in, const Stmt& r) {
        in.consents.push_back(ConsentRow{r.Int(1), r.Int(0), r.Text(2), r.Text(3), r.Text(4),
                                         r.Text(5), r.Int(6), r.Text(7), r.Text(8), r.Text(9),
                                         r.Text(10), r.Int(11)});
      });
}

}  // namespace

Result<std::vector<PortraitInputs>> SqlcipherStore::PortraitInputsAfter(ProfileId after, int limit,
                                                                        const PortraitRead& read) {
  auto reader = readers_.Acquire();
  sqlite::Db& db = reader->main;
  PORTRAIT_ASSIGN_OR_RETURN(
      std::vector<PortraitInputs> out,
      sqlite::InOneRead(db, [&]() -> Result<std::vector<PortraitInputs>> {
        // The range from the digests (a row a profile), or from the profiles' rows.
        const bool digests = !read.digest_spec.empty();
        Stmt first(db, digests ? "SELECT profile_id, stamp, spec = ?3, value FROM digests "
                                 "WHERE profile_id > ?1 ORDER BY profile_id LIMIT ?2;"
                               : "SELECT " + std::string(kProfileColumns) +
                                     " FROM profiles WHERE id > ?1 ORDER BY id LIMIT ?2;");
        first.Bind(1, after).Bind(2, int64_t{limit});
        if (digests) {
          first.Bind(3, read.digest_spec);
        }
        PORTRAIT_ASSIGN_OR_RETURN(std::vector<PortraitInputs> out,
                                  sqlite::ReadRows(first, [&](const Stmt& r) {
                                    PortraitInputs in;
                                    if (!digests) {
                                      in.row = ReadProfile(r);
                                      return in;
                                    }
                                    in.row.id = r.Int(0);
                                    in.digest_stamp = r.Int(1);
                                    if (r.Int(2) != 0) {
                                      in.digest = r.Text(3);
                                    }
                                    return in;
                                  }));
        std::vector<PortraitInputs*> whole;  // those without a digest
        for (PortraitInputs& in : out) {
          if (in.digest.empty()) {
            whole.push_back(&in);
          }
        }
        // Few: one read each; else range reads over the whole range.
        std::vector<ProfileId> missing;  // none while every profile has its digest row
        PORTRAIT_RETURN_IF_ERROR(
            ReadWhole(db, whole, whole.size() * 8 >= out.size(), !digests, read, missing));
        std::erase_if(out, [&](const PortraitInputs& in) {
          return std::binary_search(missing.begin(), missing.end(), in.row.id);
        });
        if (!out.empty() && !read.consent_purpose.empty()) {
          PORTRAIT_RETURN_IF_ERROR(ReadConsents(db, out, read.consent_purpose));
        }
        return out;
      }));
  if (!out.empty()) {
    Stmt keys(reader->keystore,
              "SELECT profile_id, wrapped FROM data_keys "
              "WHERE profile_id BETWEEN ? AND ? ORDER BY profile_id;");
    BindRange(keys, {out.front().row.id, out.back().row.id});
    PORTRAIT_RETURN_IF_ERROR(sqlite::MergeById(
        keys, out, [](const PortraitInputs& in) { return in.row.id; },
        [](PortraitInputs& in, const Stmt& r) { in.wrapped_key = r.Text(1); }));
  }
  return out;
}

}  // namespace portrait::store
