// The PostgreSQL store's anniversary anchors and the range reads of the re-arm (RearmInputs)
// and the base-wide re-evaluation (PortraitInputsAfter), over every profile or, among several
// nodes, one partition's (RearmInputsIn, PortraitInputsIn; docs/DECISIONS.md 173): a few ordered
// range reads in one snapshot, merged into the range's profiles, never a read per profile.
#include <algorithm>

#include "store/postgres/postgres_store_impl.h"

namespace portrait::store {

namespace {

using pg::Params;
using pg::Rows;

// Calls add(item, row) for each row of `r` (leading with a profile id, ascending) whose id is
// one of `items`' (ascending by id_of(item)).
template <typename Item, typename IdOf, typename Add>
void MergeById(const Rows& r, std::vector<Item>& items, IdOf&& id_of, Add&& add) {
  size_t at = 0;
  for (int i = 0; i < r.size(); ++i) {
    const int64_t id = r.Int(i, 0);
    while (at < items.size() && id_of(items[at]) < id) {
      ++at;
    }
    if (at < items.size() && id_of(items[at]) == id) {
      add(items[at], i);
    }
  }
}

// Reads in one snapshot of `db` (the range reads then see the same commit).
template <typename Fn>
auto InOneSnapshot(pg::Connection& db, Fn&& read) -> decltype(read()) {
  PORTRAIT_RETURN_IF_ERROR(db.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"));
  auto out = read();
  (void)db.Exec(out ? "COMMIT;" : "ROLLBACK;");
  return out;
}

// What a range's other reads cover: the ids from its first profile to its last (a walk over every
// profile, whose range holds no other), or exactly its ids (a walk over one partition, whose ids
// lie spread over the whole id space: a range of them would read every partition's rows).
struct Span {
  std::string where;  // a condition on profile_id
  Params params;
  int next = 0;  // the number of the next parameter
};

Span SpanOf(const std::vector<int64_t>& ids, bool exact) {
  if (exact) {
    return Span{"profile_id = ANY($1)", Params().Ints(ids), 2};
  }
  return Span{"profile_id BETWEEN $1 AND $2", Params().Int(ids.front()).Int(ids.back()), 3};
}

// The profiles of a range: those with ids above $1, the first $2, of partition $3 when `part`.
std::string ProfilesAfter(const std::string& columns, std::optional<int> part) {
  return "SELECT " + columns + " FROM profiles WHERE " + (part ? "part = $3 AND " : "") +
         "id > $1 ORDER BY id LIMIT $2;";
}

Params AfterParams(ProfileId after, int limit, std::optional<int> part) {
  Params p = Params().Int(after).Int(limit);
  if (part) {
    p.Int(*part);
  }
  return p;
}

// Fills the anchors and timers of `items` (ascending by profile id, `inputs(item)` its
// TimerInputs with profile_id set) with two reads of `span`.
template <typename Item, typename Inputs>
Status ReadAnchorsAndTimers(pg::Connection& db, const Span& span, std::vector<Item>& items,
                            Inputs&& inputs) {
  auto id_of = [&](Item& item) { return inputs(item).profile_id; };
  PORTRAIT_ASSIGN_OR_RETURN(Rows anchors,
                            db.Run("SELECT profile_id, field, year, month, day FROM anchors "
                                   "WHERE " +
                                       span.where + " ORDER BY profile_id, field;",
                                   span.params));
  MergeById(anchors, items, id_of, [&](Item& item, int i) {
    inputs(item).anchors[anchors.Text(i, 1)] =
        AnchorDate{static_cast<int>(anchors.Int(i, 2)), static_cast<int>(anchors.Int(i, 3)),
                   static_cast<int>(anchors.Int(i, 4))};
  });
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows timers, db.Run("SELECT profile_id, trigger, due_us FROM timers WHERE " + span.where +
                              " ORDER BY profile_id, trigger;",
                          span.params));
  MergeById(timers, items, id_of, [&](Item& item, int i) {
    inputs(item).timers.push_back(TimerRow{timers.Int(i, 0), timers.Text(i, 1), timers.Int(i, 2)});
  });
  return Status::Ok();
}

}  // namespace

Status PostgresStore::WriteAnchors(
    ProfileId id, const std::map<std::string, std::optional<AnchorDate>>& changes) {
  for (const auto& [field, date] : changes) {
    if (date) {
      PORTRAIT_RETURN_IF_ERROR(main_.Do(
          "INSERT INTO anchors (profile_id, field, year, month, day) VALUES ($1, $2, $3, $4, $5) "
          "ON CONFLICT (profile_id, field) DO UPDATE SET year = EXCLUDED.year, "
          "month = EXCLUDED.month, day = EXCLUDED.day;",
          Params().Int(id).Text(field).Int(date->year).Int(date->month).Int(date->day)));
    } else {
      PORTRAIT_RETURN_IF_ERROR(main_.Do("DELETE FROM anchors WHERE profile_id = $1 AND field = $2;",
                                        Params().Int(id).Text(field)));
    }
  }
  return Status::Ok();
}

Status PostgresStore::WriteAnchorChanges(const std::vector<AnchorChange>& changes) {
  for (const AnchorChange& c : changes) {
    PORTRAIT_ASSIGN_OR_RETURN(
        Rows found, main_.Run("SELECT 1 FROM profiles WHERE id = $1;", Params().Int(c.profile_id)));
    if (found.empty()) {
      return Status::NotFound("profile " + std::to_string(c.profile_id) + " does not exist");
    }
    PORTRAIT_RETURN_IF_ERROR(WriteAnchors(c.profile_id, {{c.field, c.date}}));
  }
  return Status::Ok();
}

Result<std::vector<TimerInputs>> PostgresStore::RearmInputs(ProfileId after, int limit) {
  return RearmRange(after, limit, std::nullopt);
}

Result<std::vector<TimerInputs>> PostgresStore::RearmInputsIn(int part, ProfileId after,
                                                              int limit) {
  return RearmRange(after, limit, part);
}

Result<std::vector<PortraitInputs>> PostgresStore::PortraitInputsAfter(ProfileId after, int limit,
                                                                       const PortraitRead& read) {
  return PortraitRange(after, limit, std::nullopt, read);
}

Result<std::vector<PortraitInputs>> PostgresStore::PortraitInputsIn(int part, ProfileId after,
                                                                    int limit,
                                                                    const PortraitRead& read) {
  return PortraitRange(after, limit, part, read);
}

Result<std::vector<TimerInputs>> PostgresStore::RearmRange(ProfileId after, int limit,
                                                           std::optional<int> part) {
  auto reader = readers_.Acquire();
  pg::Connection& db = reader->main;
  return InOneSnapshot(db, [&]() -> Result<std::vector<TimerInputs>> {
    PORTRAIT_ASSIGN_OR_RETURN(Rows profiles, db.Run(ProfilesAfter("id, timezone", part),
                                                    AfterParams(after, limit, part)));
    std::vector<TimerInputs> out;
    std::vector<int64_t> ids;
    for (int i = 0; i < profiles.size(); ++i) {
      TimerInputs in;
      in.profile_id = profiles.Int(i, 0);
      in.timezone = profiles.Text(i, 1);
      ids.push_back(in.profile_id);
      out.push_back(std::move(in));
    }
    if (!out.empty()) {
      PORTRAIT_RETURN_IF_ERROR(
          ReadAnchorsAndTimers(db, SpanOf(ids, part.has_value()), out,
                               [](TimerInputs& in) -> TimerInputs& { return in; }));
    }
    return out;
  });
}

Result<std::vector<PortraitInputs>> PostgresStore::PortraitRange(ProfileId after, int limit,
                                                                 std::optional<int> part,
                                                                 const PortraitRead& read) {
  const std::vector<std::string>& fields = read.fields;
  const std::string& consent_purpose = read.consent_purpose;
  auto reader = readers_.Acquire();
  pg::Connection& db = reader->main;
  auto id_of = [](const PortraitInputs& in) { return in.row.id; };
  std::vector<int64_t> ids;
  PORTRAIT_ASSIGN_OR_RETURN(
      std::vector<PortraitInputs> out,
      InOneSnapshot(db, [&]() -> Result<std::vector<PortraitInputs>> {
        PORTRAIT_ASSIGN_OR_RETURN(Rows profiles, db.Run(ProfilesAfter(pg::kProfileColumns, part),
                                                        AfterParams(after, limit, part)));
        std::vector<PortraitInputs> out;
        for (int i = 0; i < profiles.size(); ++i) {
          PortraitInputs in;
          in.row = pg::ReadProfile(profiles, i);
          in.timers.profile_id = in.row.id;
          in.timers.timezone = in.row.timezone;
          ids.push_back(in.row.id);
          out.push_back(std::move(in));
        }
        if (out.empty()) {
          return out;
        }
        const Span span = SpanOf(ids, part.has_value());
        const std::string next = "$" + std::to_string(span.next);
        if (read.timers) {
          PORTRAIT_RETURN_IF_ERROR(ReadAnchorsAndTimers(
              db, span, out, [](PortraitInputs& in) -> TimerInputs& { return in.timers; }));
        }
        PORTRAIT_ASSIGN_OR_RETURN(Rows members,
                                  db.Run("SELECT profile_id, segment FROM segment_members WHERE " +
                                             span.where + " ORDER BY profile_id, segment;",
                                         span.params));
        MergeById(members, out, id_of,
                  [&](PortraitInputs& in, int i) { in.segments.push_back(members.Text(i, 1)); });
        if (!fields.empty()) {
          std::vector<std::string_view> names(fields.begin(), fields.end());
          PORTRAIT_ASSIGN_OR_RETURN(
              Rows values,
              db.Run("SELECT profile_id, field, value FROM profile_fields WHERE " + span.where +
                         " AND field = ANY(" + next + "::text[]) ORDER BY profile_id, field;",
                     Params(span.params).Texts(names)));
          MergeById(values, out, id_of, [&](PortraitInputs& in, int i) {
            in.fields.emplace(values.Text(i, 1), values.Text(i, 2));
          });
        }
        if (!consent_purpose.empty()) {
          // ReadConsent's columns, after a leading profile id for the merge.
          PORTRAIT_ASSIGN_OR_RETURN(
              Rows consents, db.Run("SELECT profile_id AS merge_id, " + pg::ConsentColumns() +
                                        " FROM consents WHERE " + span.where +
                                        " AND purpose = " + next + " ORDER BY profile_id, id;",
                                    Params(span.params).Text(consent_purpose)));
          MergeById(consents, out, id_of, [&](PortraitInputs& in, int i) {
            in.consents.push_back(pg::ReadConsent(consents, i, 1));
          });
        }
        return out;
      }));
  if (!out.empty()) {
    const Span span = SpanOf(ids, part.has_value());
    PORTRAIT_ASSIGN_OR_RETURN(
        Rows keys, reader->keystore.Run("SELECT profile_id, wrapped FROM data_keys WHERE " +
                                            span.where + " ORDER BY profile_id;",
                                        span.params));
    MergeById(keys, out, id_of,
              [&](PortraitInputs& in, int i) { in.wrapped_key = keys.Text(i, 1); });
  }
  return out;
}

}  // namespace portrait::store
