// The SQLCipher store's consent ledger, audit log, tokens and retention purges.
#include "store/audit_chain.h"
#include "store/sqlcipher/sqlcipher_store_impl.h"

namespace portrait::store {

using sqlite::Stmt;

Status SqlcipherStore::WriteConsents(const std::vector<ConsentRow>& rows, CommitResult& result) {
  Stmt ins(main_,
           "INSERT INTO consents (profile_id, purpose, scope, channel, status, time_us, source, "
           "notice, evidence, actor, expires_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);");
  for (const ConsentRow& c : rows) {
    ins.Reset();
    ins.Bind(1, c.profile_id).Bind(2, c.purpose).Bind(3, c.scope).Bind(4, c.channel);
    ins.Bind(5, c.status).Bind(6, c.time_us).Bind(7, c.source).Bind(8, c.notice);
    ins.BindBlob(9, c.evidence).Bind(10, c.actor).Bind(11, c.expires_us);
    PORTRAIT_RETURN_IF_ERROR(ins.Run());
    result.consent_ids.push_back(sqlite3_last_insert_rowid(main_.get()));
  }
  return Status::Ok();
}

Status SqlcipherStore::WriteTokens(const Batch& batch) {
  Stmt ins(main_,
           "INSERT INTO tokens (name, role, digest, created_us, last_used_us, revoked_us) "
           "VALUES (?, ?, ?, ?, 0, 0);");
  for (const TokenRow& t : batch.new_tokens) {
    ins.Reset();
    ins.Bind(1, t.name).Bind(2, t.role).BindBlob(3, t.digest).Bind(4, t.created_us);
    Status s = ins.Run();
    if (s.code() == Status::Code::kConflict) {
      return Status::Conflict("an active token named '" + t.name + "' exists; revoke it first");
    }
    PORTRAIT_RETURN_IF_ERROR(s);
  }
  Stmt revoke(main_, "UPDATE tokens SET revoked_us = ? WHERE name = ? AND revoked_us = 0;");
  for (const std::string& name : batch.revoked_tokens) {
    revoke.Reset();
    revoke.Bind(1, batch.revoked_at_us).Bind(2, name);
    PORTRAIT_RETURN_IF_ERROR(revoke.Run());
    if (sqlite3_changes(main_.get()) == 0) {
      return Status::NotFound("no active token named '" + name + "'");
    }
  }
  return Status::Ok();
}

Status SqlcipherStore::WriteAudit(const std::vector<AuditEntry>& entries, CommitResult& result) {
  Stmt ins(
      main_,
      "INSERT INTO audit (seq, time_us, actor, action, profile_id, purpose, detail, hash, mac) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);");
  for (const AuditEntry& e : entries) {
    const int64_t seq = audit_seq_ + 1;
    std::string hash = ChainHash(audit_hash_, seq, e);
    ins.Reset();
    ins.Bind(1, seq).Bind(2, e.time_us).Bind(3, e.actor).Bind(4, e.action).Bind(5, e.profile_id);
    ins.Bind(6, e.purpose).Bind(7, e.detail).BindBlob(8, hash);
    ins.BindBlob(9, audit_mac_key_.empty() ? std::string() : RecordMac(audit_mac_key_, seq, hash));
    PORTRAIT_RETURN_IF_ERROR(ins.Run());
    audit_seq_ = seq;
    audit_hash_ = std::move(hash);
  }
  result.audit_seq = entries.empty() ? 0 : audit_seq_;
  result.audit_hash = entries.empty() ? "" : audit_hash_;
  return Status::Ok();
}

Result<std::vector<ConsentRow>> SqlcipherStore::GetConsents(ProfileId id) {
  PORTRAIT_ASSIGN_OR_RETURN(auto ledgers, GetConsentsOf(std::span<const ProfileId>(&id, 1)));
  return std::move(ledgers[0]);
}

Result<std::vector<std::vector<ConsentRow>>> SqlcipherStore::GetConsentsOf(
    std::span<const ProfileId> ids) {
  auto reader = readers_.Acquire();
  return sqlite::InOneRead(reader->main, [&]() -> Result<std::vector<std::vector<ConsentRow>>> {
    Stmt s(reader->main,
           "SELECT id, purpose, scope, channel, status, time_us, source, notice, evidence, actor, "
           "expires_us FROM consents WHERE profile_id = ? ORDER BY id;");
    std::vector<std::vector<ConsentRow>> out(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      s.Reset();
      s.Bind(1, ids[i]);
      PORTRAIT_ASSIGN_OR_RETURN(out[i], sqlite::ReadRows(s, [&](const Stmt& r) {
                                  return ConsentRow{r.Int(0),  ids[i],    r.Text(1), r.Text(2),
                                                    r.Text(3), r.Text(4), r.Int(5),  r.Text(6),
                                                    r.Text(7), r.Text(8), r.Text(9), r.Int(10)};
                                }));
    }
    return out;
  });
}

Result<std::vector<AuditRecord>> SqlcipherStore::ReadAudit(int64_t after_seq, int limit) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT seq, time_us, actor, action, profile_id, purpose, detail, hash, mac FROM audit "
         "WHERE seq > ? ORDER BY seq LIMIT ?;");
  s.Bind(1, after_seq).Bind(2, int64_t{limit});
  std::vector<AuditRecord> out;
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return out;
    }
    out.push_back(AuditRecord{
        s.Int(0), AuditEntry{s.Int(1), s.Text(2), s.Text(3), s.Int(4), s.Text(5), s.Text(6)},
        s.Text(7), s.Text(8)});
  }
}

Result<std::pair<int64_t, std::string>> SqlcipherStore::AuditHead() {
  std::lock_guard lock(mu_);
  return std::make_pair(audit_seq_, audit_hash_);
}

Status SqlcipherStore::PutCheckpoint(const AuditCheckpoint& c) {
  std::lock_guard lock(mu_);
  Stmt s(main_,
         "INSERT OR REPLACE INTO audit_checkpoints (seq, hash, signature, time_us, prev_seq) "
         "VALUES (?, ?, ?, ?, ?);");
  s.Bind(1, c.seq).BindBlob(2, c.hash).BindBlob(3, c.signature).Bind(4, c.time_us);
  s.Bind(5, c.prev_seq);
  return s.Run();
}

Result<std::vector<AuditCheckpoint>> SqlcipherStore::GetCheckpoints() {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT seq, hash, signature, time_us, prev_seq FROM audit_checkpoints ORDER BY seq;");
  std::vector<AuditCheckpoint> out;
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return out;
    }
    out.push_back(AuditCheckpoint{s.Int(0), s.Text(1), s.Text(2), s.Int(3), s.Int(4)});
  }
}

Result<int64_t> SqlcipherStore::PurgeRows(const PurgeRule& rule) {
  constexpr const char* kNotHeld =
      " AND profile_id NOT IN (SELECT id FROM profiles WHERE legal_hold = 1)";
  int64_t purged = 0;
  if (!rule.event_type.empty()) {
    Stmt s(main_, std::string("DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE "
                              "type = ? AND time_us < ?") +
                      kNotHeld + " ORDER BY time_us LIMIT ?);");
    s.Bind(1, rule.event_type).Bind(2, rule.before_us).Bind(3, rule.limit);
    PORTRAIT_RETURN_IF_ERROR(s.Run());
    purged += sqlite3_changes(main_.get());
  }
  // The same profiles in each statement: the oldest values of the field, in the order of
  // profile_fields_by_age (field, updated_us, then the key's profile_id), up to what is left.
  const std::string oldest =
      std::string(
          "profile_id IN (SELECT profile_id FROM profile_fields WHERE field = ?1 AND "
          "updated_us < ?2") +
      kNotHeld + " ORDER BY updated_us, profile_id LIMIT ?3)";
  for (const std::string& field : rule.fields) {
    const int64_t left = rule.limit - purged;
    if (left <= 0) {
      break;
    }
    for (const char* table : {"blind_index", "anchors", "profile_fields"}) {
      Stmt s(main_, std::string("DELETE FROM ") + table + " WHERE field = ?1 AND " + oldest + ";");
      s.Bind(1, field).Bind(2, rule.before_us).Bind(3, left);
      PORTRAIT_RETURN_IF_ERROR(s.Run());
    }
    purged += sqlite3_changes(main_.get());
  }
  return purged;
}

Result<int64_t> SqlcipherStore::Purge(const PurgeRule& rule, AuditEntry audit) {
  std::lock_guard lock(mu_);
  return InTransaction([&]() -> Result<int64_t> {
    PORTRAIT_ASSIGN_OR_RETURN(int64_t purged, PurgeRows(rule));
    audit.detail = PurgeDetail(audit.detail, purged);
    CommitResult ignored;
    PORTRAIT_RETURN_IF_ERROR(WriteAudit({audit}, ignored));
    return purged;
  });
}

Result<std::optional<TokenRow>> SqlcipherStore::FindToken(std::string_view digest) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT id, name, role, digest, created_us, last_used_us, revoked_us FROM tokens "
         "WHERE digest = ?;");
  s.BindBlob(1, digest);
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return std::optional<TokenRow>();
  }
  return std::optional<TokenRow>(
      TokenRow{s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5), s.Int(6)});
}

Result<std::vector<TokenRow>> SqlcipherStore::ListTokens() {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT id, name, role, digest, created_us, last_used_us, revoked_us FROM tokens "
         "ORDER BY id;");
  std::vector<TokenRow> out;
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return out;
    }
    out.push_back(
        TokenRow{s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5), s.Int(6)});
  }
}

Status SqlcipherStore::TouchToken(int64_t id, int64_t time_us) {
  std::lock_guard lock(mu_);
  Stmt s(main_, "UPDATE tokens SET last_used_us = ? WHERE id = ?;");
  s.Bind(1, time_us).Bind(2, id);
  return s.Run();
}

}  // namespace portrait::store
