// Store::Counts over plain columns and indexes (GET /v1/stats): nothing sealed is opened.
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
  // index by profile; only for the profiles stored (an erased one keeps its ledger).
  Stmt s(reader->main,
         "SELECT c.purpose, c.scope, "
         "  CASE WHEN c.status = 'granted' AND c.expires_us != 0 AND c.expires_us <= ?1 "
         "    THEN 'expired' ELSE c.status END AS state, count(*) "
         "FROM consents c "
         "WHERE c.time_us <= ?1 AND EXISTS (SELECT 1 FROM profiles p WHERE p.id = c.profile_id) "
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

}  // namespace portrait::store
