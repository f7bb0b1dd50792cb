// Store::Counts and CountByHour over plain columns and indexes (GET /v1/stats and
// /v1/stats/activity): nothing sealed is opened.
#include <algorithm>

#include "store/sqlcipher/sqlcipher_store_impl.h"

namespace portrait::store {

using sqlite::Stmt;

Result<StoreCounts> SqlcipherStore::Counts(int64_t now_us) {
  auto reader = readers_.Acquire();
  StoreCounts out;
  {
    Stmt s(reader->main, "SELECT count(*) FROM events;");
    PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
    out.events = row ? s.Int(0) : 0;
  }
  {
    Stmt s(reader->main, "SELECT lifecycle, count(*) FROM profiles GROUP BY lifecycle;");
    PORTRAIT_ASSIGN_OR_RETURN(auto rows, sqlite::ReadRows(s, [](const Stmt& r) {
                                return std::make_pair(r.Text(0), r.Int(1));
                              }));
    out.lifecycle.insert(rows.begin(), rows.end());
  }
  // Each (profile, purpose, scope, channel)'s latest record made by now, over the ledger's
  // index by profile; only for the profiles stored (an erased one keeps its ledger), their ids
  // read from an index (`+id`: not the rowid, which would walk the table's own pages, sealed
  // values and all), not a profile row looked up per record.
  Stmt s(reader->main,
         "SELECT c.purpose, c.scope, "
         "  CASE WHEN c.status = 'granted' AND c.expires_us != 0 AND c.expires_us <= ?1 "
         "    THEN 'expired' ELSE c.status END AS state, count(*) "
         "FROM consents c "
         "WHERE c.time_us <= ?1 AND c.profile_id IN (SELECT +id FROM profiles) "
         "  AND NOT EXISTS (SELECT 1 FROM consents d WHERE d.profile_id = c.profile_id "
         "    AND d.purpose = c.purpose AND d.scope = c.scope AND d.channel = c.channel "
         "    AND d.time_us <= ?1 AND (d.time_us > c.time_us OR (d.time_us = c.time_us "
         "    AND d.id > c.id))) "
         "GROUP BY c.purpose, c.scope, state ORDER BY c.purpose, c.scope, state;");
  s.Bind(1, now_us);
  PORTRAIT_ASSIGN_OR_RETURN(out.consents, sqlite::ReadRows(s, [](const Stmt& r) {
                              return ConsentCount{r.Text(0), r.Text(1), r.Text(2), r.Int(3)};
                            }));
  return out;
}

Result<std::vector<HourCounts>> SqlcipherStore::CountByHour(int64_t from_us, int hours) {
  constexpr int64_t kHourUs = int64_t{3600} * 1'000'000;
  std::vector<HourCounts> out(static_cast<size_t>(std::max(hours, 0)));
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].hour_us = from_us + static_cast<int64_t>(i) * kHourUs;
  }
  const int64_t until_us = from_us + static_cast<int64_t>(out.size()) * kHourUs;
  auto reader = readers_.Acquire();
  struct Column {
    const char* sql;
    int64_t HourCounts::*count;
  };
  static constexpr Column kColumns[] = {
      {"SELECT (created_us - ?1) / 3600000000, count(*) FROM profiles "
       "WHERE created_us >= ?1 AND created_us < ?2 GROUP BY 1;",
       &HourCounts::profiles},
      // The event types, one index probe each (a loose scan of events_by_type), then each
      // type's time range in the same index: no event row is read.
      {"WITH RECURSIVE types(type) AS (SELECT min(type) FROM events UNION ALL "
       "  SELECT (SELECT min(type) FROM events WHERE type > types.type) FROM types "
       "  WHERE types.type IS NOT NULL) "
       "SELECT (e.time_us - ?1) / 3600000000, count(*) FROM types JOIN events e "
       "ON e.type = types.type AND e.time_us >= ?1 AND e.time_us < ?2 GROUP BY 1;",
       &HourCounts::events},
      {"SELECT (created_us - ?1) / 3600000000, count(*) FROM tasks "
       "WHERE created_us >= ?1 AND created_us < ?2 GROUP BY 1;",
       &HourCounts::tasks},
  };
  for (const Column& column : kColumns) {
    Stmt s(reader->main, column.sql);
    s.Bind(1, from_us).Bind(2, until_us);
    PORTRAIT_ASSIGN_OR_RETURN(auto rows, sqlite::ReadRows(s, [](const Stmt& r) {
                                return std::make_pair(r.Int(0), r.Int(1));
                              }));
    for (const auto& [hour, n] : rows) {
      if (hour >= 0 && hour < static_cast<int64_t>(out.size())) {
        out[static_cast<size_t>(hour)].*column.count = n;
      }
    }
  }
  return out;
}

}  // namespace portrait::store
