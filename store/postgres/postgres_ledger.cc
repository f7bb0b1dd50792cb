// The PostgreSQL store's consent ledger, audit chain, tokens, retention purges and counts.
#include <algorithm>
#include <unordered_map>

#include "store/audit_chain.h"
#include "store/postgres/postgres_store_impl.h"

namespace portrait::store {
namespace {

using pg::Params;
using pg::Rows;

const std::string kConsentColumns =
    "id, profile_id, purpose, scope, channel, status, time_us, source, notice, evidence, actor, "
    "expires_us";

const std::string kTokenColumns = "id, name, role, digest, created_us, last_used_us, revoked_us";

TokenRow ReadToken(const Rows& r, int i) {
  return TokenRow{r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3),
                  r.Int(i, 4), r.Int(i, 5),  r.Int(i, 6)};
}

}  // namespace

namespace pg {

ConsentRow ReadConsent(const Rows& r, int i, int at) {
  return ConsentRow{r.Int(i, at),      r.Int(i, at + 1),  r.Text(i, at + 2),  r.Text(i, at + 3),
                    r.Text(i, at + 4), r.Text(i, at + 5), r.Int(i, at + 6),   r.Text(i, at + 7),
                    r.Text(i, at + 8), r.Text(i, at + 9), r.Text(i, at + 10), r.Int(i, at + 11)};
}

const std::string& ConsentColumns() { return kConsentColumns; }

}  // namespace pg

Status PostgresStore::WriteConsents(const std::vector<ConsentRow>& rows, CommitResult& result) {
  for (const ConsentRow& c : rows) {
    Params p;
    p.Int(c.profile_id).Text(c.purpose).Text(c.scope).Text(c.channel).Text(c.status);
    p.Int(c.time_us).Text(c.source).Text(c.notice).Bytes(c.evidence).Text(c.actor);
    p.Int(c.expires_us);
    PORTRAIT_ASSIGN_OR_RETURN(
        Rows r, main_.Run("INSERT INTO consents (profile_id, purpose, scope, channel, status, "
                          "time_us, source, notice, evidence, actor, expires_us) VALUES ($1, $2, "
                          "$3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id;",
                          p));
    result.consent_ids.push_back(r.Int(0, 0));
  }
  return Status::Ok();
}

Status PostgresStore::WriteTokens(const Batch& batch) {
  for (const TokenRow& t : batch.new_tokens) {
    Status s =
        main_.Do("INSERT INTO tokens (name, role, digest, created_us) VALUES ($1, $2, $3, $4);",
                 Params().Text(t.name).Text(t.role).Bytes(t.digest).Int(t.created_us));
    if (s.code() == Status::Code::kConflict) {
      return Status::Conflict("an active token named '" + t.name + "' exists; revoke it first");
    }
    PORTRAIT_RETURN_IF_ERROR(s);
  }
  for (const std::string& name : batch.revoked_tokens) {
    PORTRAIT_ASSIGN_OR_RETURN(
        Rows r, main_.Run("UPDATE tokens SET revoked_us = $1 WHERE name = $2 AND revoked_us = 0;",
                          Params().Int(batch.revoked_at_us).Text(name)));
    if (r.Affected() == 0) {
      return Status::NotFound("no active token named '" + name + "'");
    }
  }
  return Status::Ok();
}

Status PostgresStore::WriteAudit(const std::vector<AuditEntry>& entries, CommitResult& result) {
  for (const AuditEntry& e : entries) {
    const int64_t seq = audit_seq_ + 1;
    std::string hash = ChainHash(audit_hash_, seq, e);
    const std::string mac =
        audit_mac_key_.empty() ? std::string() : RecordMac(audit_mac_key_, seq, hash);
    Params p;
    p.Text(node_).Int(seq).Int(e.time_us).Text(e.actor).Text(e.action).Int(e.profile_id);
    p.Text(e.purpose).Text(e.detail).Bytes(hash).Bytes(mac);
    PORTRAIT_RETURN_IF_ERROR(
        main_.Do("INSERT INTO audit (node, seq, time_us, actor, action, profile_id, purpose, "
                 "detail, hash, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);",
                 p));
    audit_seq_ = seq;
    audit_hash_ = std::move(hash);
  }
  result.audit_seq = entries.empty() ? 0 : audit_seq_;
  result.audit_hash = entries.empty() ? "" : audit_hash_;
  return Status::Ok();
}

Result<std::vector<ConsentRow>> PostgresStore::GetConsents(ProfileId id) {
  PORTRAIT_ASSIGN_OR_RETURN(auto ledgers, GetConsentsOf(std::span<const ProfileId>(&id, 1)));
  return std::move(ledgers[0]);
}

Result<std::vector<std::vector<ConsentRow>>> PostgresStore::GetConsentsOf(
    std::span<const ProfileId> ids) {
  std::vector<std::vector<ConsentRow>> out(ids.size());
  std::unordered_map<ProfileId, std::vector<size_t>> at;  // an id may be asked for twice
  for (size_t i = 0; i < ids.size(); ++i) {
    at[ids[i]].push_back(i);
  }
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT " + kConsentColumns +
                                   " FROM consents WHERE profile_id = ANY($1::bigint[]) "
                                   "ORDER BY profile_id, id;",
                               Params().Ints({ids.begin(), ids.end()})));
  for (int i = 0; i < r.size(); ++i) {
    ConsentRow row = pg::ReadConsent(r, i);
    for (size_t index : at[row.profile_id]) {
      out[index].push_back(row);
    }
  }
  return out;
}

Result<std::vector<AuditRecord>> PostgresStore::ReadAudit(int64_t after_seq, int limit) {
  return ReadAuditOf(node_, after_seq, limit);
}

Result<std::vector<std::string>> PostgresStore::AuditChains() {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT DISTINCT node FROM audit UNION SELECT $1 ORDER BY 1;",
                               Params().Text(node_)));
  std::vector<std::string> nodes;
  for (int i = 0; i < r.size(); ++i) {
    nodes.push_back(r.Text(i, 0));
  }
  return nodes;
}

Result<std::vector<AuditRecord>> PostgresStore::ReadAuditOf(std::string_view node,
                                                            int64_t after_seq, int limit) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT seq, time_us, actor, action, profile_id, purpose, detail, "
                               "hash, mac FROM audit WHERE node = $1 AND seq > $2 ORDER BY seq "
                               "LIMIT $3;",
                               Params().Text(node).Int(after_seq).Int(limit)));
  std::vector<AuditRecord> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(AuditRecord{r.Int(i, 0),
                              AuditEntry{r.Int(i, 1), r.Text(i, 2), r.Text(i, 3), r.Int(i, 4),
                                         r.Text(i, 5), r.Text(i, 6)},
                              r.Text(i, 7), r.Text(i, 8)});
  }
  return out;
}

Result<std::pair<int64_t, std::string>> PostgresStore::AuditHead() {
  std::lock_guard lock(mu_);
  return std::make_pair(audit_seq_, audit_hash_);
}

Status PostgresStore::PutCheckpoint(const AuditCheckpoint& c) {
  std::lock_guard lock(mu_);
  Params p;
  p.Text(node_).Int(c.seq).Bytes(c.hash).Bytes(c.signature).Int(c.time_us).Int(c.prev_seq);
  return main_.Do(
      "INSERT INTO audit_checkpoints (node, seq, hash, signature, time_us, prev_seq) "
      "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (node, seq) DO UPDATE SET hash = EXCLUDED.hash, "
      "signature = EXCLUDED.signature, time_us = EXCLUDED.time_us, prev_seq = EXCLUDED.prev_seq;",
      p);
}

Result<std::vector<AuditCheckpoint>> PostgresStore::GetCheckpoints() {
  return GetCheckpointsOf(node_);
}

Result<std::vector<AuditCheckpoint>> PostgresStore::GetCheckpointsOf(std::string_view node) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(Rows r,
                            reader->main.Run("SELECT seq, hash, signature, time_us, prev_seq FROM "
                                             "audit_checkpoints WHERE node = $1 ORDER BY seq;",
                                             Params().Text(node)));
  std::vector<AuditCheckpoint> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(
        AuditCheckpoint{r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), r.Int(i, 3), r.Int(i, 4)});
  }
  return out;
}

// Events: the oldest of the type, up to the limit. Fields: the oldest values of each field in
// (updated_us, profile_id) order, the same profiles in the three statements (the blind-index
// entry and anchor first, while the values still say which profiles).
Result<int64_t> PostgresStore::PurgeRows(const PurgeRule& rule) {
  static const std::string kNotHeld =
      " AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.id = profile_id AND p.legal_hold)";
  int64_t purged = 0;
  if (!rule.event_type.empty()) {
    PORTRAIT_ASSIGN_OR_RETURN(
        Rows r, main_.Run("WITH doomed AS (SELECT profile_id, time_us, key, key_part FROM events "
                          "WHERE type = $1 AND time_us < $2" +
                              kNotHeld +
                              " ORDER BY time_us LIMIT $3), "
                              "k AS (DELETE FROM event_keys WHERE (part, key) IN "
                              "(SELECT key_part, key FROM doomed)) "
                              "DELETE FROM events WHERE (profile_id, time_us, key) IN "
                              "(SELECT profile_id, time_us, key FROM doomed);",
                          Params().Text(rule.event_type).Int(rule.before_us).Int(rule.limit)));
    purged += r.Affected();
  }
  const std::string oldest =
      "profile_id IN (SELECT profile_id FROM profile_fields WHERE field = $1 AND updated_us < $2" +
      kNotHeld + " ORDER BY updated_us, profile_id LIMIT $3)";
  for (const std::string& field : rule.fields) {
    const int64_t left = rule.limit - purged;
    if (left <= 0) {
      break;
    }
    for (const char* table : {"blind_index", "anchors", "profile_fields"}) {
      PORTRAIT_ASSIGN_OR_RETURN(
          Rows r,
          main_.Run(std::string("DELETE FROM ") + table + " WHERE field = $1 AND " + oldest + ";",
                    Params().Text(field).Int(rule.before_us).Int(left)));
      if (std::string_view(table) == "profile_fields") {
        purged += r.Affected();
      }
    }
  }
  return purged;
}

Result<int64_t> PostgresStore::Purge(const PurgeRule& rule, AuditEntry audit) {
  std::lock_guard lock(mu_);
  return InTransaction(main_, [&]() -> Result<int64_t> {
    PORTRAIT_ASSIGN_OR_RETURN(int64_t purged, PurgeRows(rule));
    audit.detail = PurgeDetail(audit.detail, purged);
    CommitResult ignored;
    PORTRAIT_RETURN_IF_ERROR(WriteAudit({audit}, ignored));
    return purged;
  });
}

Result<std::optional<TokenRow>> PostgresStore::FindToken(std::string_view digest) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT " + kTokenColumns + " FROM tokens WHERE digest = $1;",
                               Params().Bytes(digest)));
  return r.empty() ? std::nullopt : std::optional<TokenRow>(ReadToken(r, 0));
}

Result<std::vector<TokenRow>> PostgresStore::ListTokens() {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT " + kTokenColumns + " FROM tokens ORDER BY id;"));
  std::vector<TokenRow> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(ReadToken(r, i));
  }
  return out;
}

Status PostgresStore::TouchToken(int64_t id, int64_t time_us) {
  std::lock_guard lock(mu_);
  return main_.Do("UPDATE tokens SET last_used_us = $1 WHERE id = $2;",
                  Params().Int(time_us).Int(id));
}

Result<StoreCounts> PostgresStore::Counts(int64_t now_us) {
  auto reader = readers_.Acquire();
  StoreCounts out;
  PORTRAIT_ASSIGN_OR_RETURN(Rows events, reader->main.Run("SELECT count(*) FROM events;"));
  out.events = events.Int(0, 0);
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows stages,
      reader->main.Run("SELECT lifecycle, count(*) FROM profiles GROUP BY lifecycle;"));
  for (int i = 0; i < stages.size(); ++i) {
    out.lifecycle.emplace(stages.Text(i, 0), stages.Int(i, 1));
  }
  // Each (profile, purpose, scope, channel)'s latest record made by now (ties: the higher id),
  // only for the profiles stored (an erased one keeps its ledger).
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r,
      reader->main.Run(
          "SELECT purpose, scope, state, count(*) FROM ("
          "  SELECT DISTINCT ON (c.profile_id, c.purpose, c.scope, c.channel) c.purpose, c.scope, "
          "    CASE WHEN c.status = 'granted' AND c.expires_us <> 0 AND c.expires_us <= $1 "
          "      THEN 'expired' ELSE c.status END AS state "
          "  FROM consents c JOIN profiles p ON p.id = c.profile_id WHERE c.time_us <= $1 "
          "  ORDER BY c.profile_id, c.purpose, c.scope, c.channel, c.time_us DESC, c.id DESC"
          ") latest GROUP BY purpose, scope, state "
          "ORDER BY purpose COLLATE \"C\", scope COLLATE \"C\", state COLLATE \"C\";",
          Params().Int(now_us)));
  for (int i = 0; i < r.size(); ++i) {
    out.consents.push_back(ConsentCount{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Int(i, 3)});
  }
  return out;
}

Result<std::vector<HourCounts>> PostgresStore::CountByHour(int64_t from_us, int hours) {
  constexpr int64_t kHourUs = int64_t{3600} * 1'000'000;
  std::vector<HourCounts> out(static_cast<size_t>(std::max(hours, 0)));
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].hour_us = from_us + static_cast<int64_t>(i) * kHourUs;
  }
  const int64_t until_us = from_us + static_cast<int64_t>(out.size()) * kHourUs;
  struct Column {
    const char* sql;
    int64_t HourCounts::*count;
  };
  static constexpr Column kColumns[] = {
      {"SELECT (created_us - $1) / 3600000000, count(*) FROM profiles "
       "WHERE created_us >= $1 AND created_us < $2 GROUP BY 1;",
       &HourCounts::profiles},
      {"SELECT (time_us - $1) / 3600000000, count(*) FROM events "
       "WHERE time_us >= $1 AND time_us < $2 GROUP BY 1;",
       &HourCounts::events},
      {"SELECT (created_us - $1) / 3600000000, count(*) FROM tasks "
       "WHERE created_us >= $1 AND created_us < $2 GROUP BY 1;",
       &HourCounts::tasks},
  };
  auto reader = readers_.Acquire();
  for (const Column& column : kColumns) {
    PORTRAIT_ASSIGN_OR_RETURN(Rows rows,
                              reader->main.Run(column.sql, Params().Int(from_us).Int(until_us)));
    for (int i = 0; i < rows.size(); ++i) {
      const int64_t hour = rows.Int(i, 0);
      if (hour >= 0 && hour < static_cast<int64_t>(out.size())) {
        out[static_cast<size_t>(hour)].*column.count = rows.Int(i, 1);
      }
    }
  }
  return out;
}

}  // namespace portrait::store
