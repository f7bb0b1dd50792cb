#include "store/sqlcipher/schema.h"

#include <iterator>
#include <string>

namespace portrait::store::sqlite {

namespace {

// portrait.db's migration steps, oldest first.
constexpr std::string_view kPortraitSteps[] = {
    // 1: profiles, their encrypted fields, blind index, events.
    R"sql(
      CREATE TABLE profiles (
        id          INTEGER PRIMARY KEY,
        ext_key     BLOB NOT NULL UNIQUE,
        external_id BLOB NOT NULL,
        timezone    TEXT NOT NULL DEFAULT '',
        lifecycle   TEXT NOT NULL DEFAULT '',
        tags        BLOB NOT NULL DEFAULT x'',
        metrics     BLOB NOT NULL DEFAULT x'',
        created_us  INTEGER NOT NULL,
        updated_us  INTEGER NOT NULL
      );
      CREATE TABLE profile_fields (
        profile_id INTEGER NOT NULL,
        field      TEXT NOT NULL,
        value      BLOB NOT NULL,
        PRIMARY KEY (profile_id, field)
      ) WITHOUT ROWID;
      CREATE TABLE blind_index (
        field      TEXT NOT NULL,
        digest     BLOB NOT NULL,
        profile_id INTEGER NOT NULL,
        PRIMARY KEY (field, digest, profile_id)
      ) WITHOUT ROWID;
      CREATE INDEX blind_index_by_profile ON blind_index (profile_id, field);
      CREATE TABLE events (
        key        BLOB PRIMARY KEY,
        profile_id INTEGER NOT NULL,
        type       TEXT NOT NULL,
        time_us    INTEGER NOT NULL,
        data       BLOB NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX events_by_profile ON events (profile_id, time_us);
      )sql",
    // 2: consent ledger, audit log, API tokens, legal hold, retention indexes.
    R"sql(
      ALTER TABLE profiles ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE profile_fields ADD COLUMN updated_us INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX profile_fields_by_age ON profile_fields (field, updated_us);
      CREATE INDEX events_by_type ON events (type, time_us);
      CREATE TABLE consents (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        profile_id INTEGER NOT NULL,
        purpose    TEXT NOT NULL,
        scope      TEXT NOT NULL,
        channel    TEXT NOT NULL,
        status     TEXT NOT NULL,
        time_us    INTEGER NOT NULL,
        source     TEXT NOT NULL,
        notice     TEXT NOT NULL,
        evidence   BLOB NOT NULL,
        actor      TEXT NOT NULL,
        expires_us INTEGER NOT NULL
      );
      CREATE INDEX consents_by_profile ON consents (profile_id, id);
      CREATE TABLE audit (
        seq        INTEGER PRIMARY KEY,
        time_us    INTEGER NOT NULL,
        actor      TEXT NOT NULL,
        action     TEXT NOT NULL,
        profile_id INTEGER NOT NULL,
        purpose    TEXT NOT NULL,
        detail     TEXT NOT NULL,
        hash       BLOB NOT NULL
      );
      CREATE TABLE audit_checkpoints (
        seq       INTEGER PRIMARY KEY,
        hash      BLOB NOT NULL,
        signature BLOB NOT NULL,
        time_us   INTEGER NOT NULL
      );
      CREATE TABLE tokens (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        name         TEXT NOT NULL,
        role         TEXT NOT NULL,
        digest       BLOB NOT NULL UNIQUE,
        created_us   INTEGER NOT NULL,
        last_used_us INTEGER NOT NULL DEFAULT 0,
        revoked_us   INTEGER NOT NULL DEFAULT 0
      );
      CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_us = 0;
      )sql",
    // 3: events in arrival order (a group commit then dirties the table's last pages and two
    // compact indexes, not a random page per event), durable timers (the scheduler's index
    // range), the task outbox and the daemon's bookkeeping.
    R"sql(
      CREATE TABLE events_by_arrival (
        seq        INTEGER PRIMARY KEY,
        key        BLOB NOT NULL UNIQUE,
        profile_id INTEGER NOT NULL,
        type       TEXT NOT NULL,
        time_us    INTEGER NOT NULL,
        data       BLOB NOT NULL
      );
      INSERT INTO events_by_arrival (key, profile_id, type, time_us, data)
        SELECT key, profile_id, type, time_us, data FROM events ORDER BY time_us;
      DROP TABLE events;
      ALTER TABLE events_by_arrival RENAME TO events;
      CREATE INDEX events_by_profile ON events (profile_id, time_us);
      CREATE INDEX events_by_type ON events (type, time_us);
      CREATE TABLE timers (
        profile_id INTEGER NOT NULL,
        trigger    TEXT NOT NULL,
        due_us     INTEGER NOT NULL,
        PRIMARY KEY (profile_id, trigger)
      ) WITHOUT ROWID;
      CREATE INDEX timers_by_due ON timers (due_us);
      CREATE TABLE tasks (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        dedupe     BLOB NOT NULL UNIQUE,
        profile_id INTEGER NOT NULL,
        trigger    TEXT NOT NULL,
        purpose    TEXT NOT NULL,
        channel    TEXT NOT NULL,
        sink       TEXT NOT NULL,
        state      TEXT NOT NULL,
        reason     TEXT NOT NULL,
        due_us     INTEGER NOT NULL,
        attempts   INTEGER NOT NULL,
        consent_id INTEGER NOT NULL,
        payload    BLOB NOT NULL,
        created_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL
      );
      CREATE INDEX tasks_by_state ON tasks (state, due_us);
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX tasks_by_profile ON tasks (profile_id, id);
      )sql",
    // 4: due tasks by sink, so a sink that is down (or not open) never hides another's.
    R"sql(
      CREATE INDEX tasks_due_by_sink ON tasks (sink, state, due_us);
      )sql",
    // 5 (audit): a keyed MAC per audit record (empty on records written before: those are
    // trusted only as far as a signed checkpoint covers them), and each checkpoint's signed
    // link to the one before it (-1 on checkpoints signed before the link existed).
    R"sql(
      ALTER TABLE audit ADD COLUMN mac BLOB NOT NULL DEFAULT x'';
      ALTER TABLE audit_checkpoints ADD COLUMN prev_seq INTEGER NOT NULL DEFAULT -1;
      )sql",
    // 6 (identity): aliases, other external ids' digests that lead to a profile (a merged
    // profile's old id, an id an import matched); merged_id names the profile merged away.
    R"sql(
      CREATE TABLE aliases (
        ext_key    BLOB PRIMARY KEY,
        profile_id INTEGER NOT NULL,
        merged_id  INTEGER NOT NULL,
        created_us INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX aliases_by_profile ON aliases (profile_id);
      )sql",
    // 7 (re-arm): anniversary anchors, the plain month-day (and a recent or future year) of
    // each date-typed field, read in profile order by a re-arm that decrypts nothing. Existing
    // profiles get theirs from a one-time backfill (Ingestor::BackfillAnchors, from the
    // scheduler).
    R"sql(
      CREATE TABLE anchors (
        profile_id INTEGER NOT NULL,
        field      TEXT NOT NULL,
        year       INTEGER NOT NULL,
        month      INTEGER NOT NULL,
        day        INTEGER NOT NULL,
        PRIMARY KEY (profile_id, field)
      ) WITHOUT ROWID;
      )sql",
    // 8 (segments): the segment members index, written with the metrics whose "$segments"
    // changed; read by segment (counts, member pages) and by profile (erasure, the base-wide
    // re-evaluation's reconciliation). Existing databases fill it in the first re-evaluation
    // (Ingestor::ReevaluateProfiles, from the scheduler).
    R"sql(
      CREATE TABLE segment_members (
        segment    TEXT NOT NULL,
        profile_id INTEGER NOT NULL,
        PRIMARY KEY (segment, profile_id)
      ) WITHOUT ROWID;
      CREATE INDEX segment_members_by_profile ON segment_members (profile_id, segment);
      )sql",
    // 9 (models): each [[model]]'s and [[score]]'s
    // fitted parameters, base-wide figures only (docs/DECISIONS.md 100-101), replaced by each
    // fit or refresh with a greater version.
    R"sql(
      CREATE TABLE models (
        kind      TEXT NOT NULL,
        name      TEXT NOT NULL,
        version   INTEGER NOT NULL,
        params    TEXT NOT NULL,
        fitted_us INTEGER NOT NULL,
        PRIMARY KEY (kind, name)
      ) WITHOUT ROWID;
      )sql",
    // 10 (counts): what GET /v1/stats and /v1/stats/activity count, read from indexes instead
    // of every profile's row, sealed values and all (events count by time through
    // events_by_type, a range per type).
    R"sql(
      CREATE INDEX profiles_by_lifecycle ON profiles (lifecycle);
      CREATE INDEX profiles_by_created ON profiles (created_us);
      CREATE INDEX tasks_by_created ON tasks (created_us);
      )sql",
    // 11 (digests): one row a profile (docs/DECISIONS.md 180). `value` is what the segments-only
    // re-evaluation reads of the profile, sealed under its data key, and `spec` names what it
    // holds; the check writes it, through the writer, only while `stamp` is the one it read.
    // Every change of the profile's row, fields or members-index rows empties the row and gives
    // it a new random stamp, so a digest never outlives what it summarises (a profile's insert
    // makes its row, its delete deletes it).
    R"sql(
      CREATE TABLE digests (
        profile_id INTEGER PRIMARY KEY,
        stamp      INTEGER NOT NULL,
        spec       TEXT NOT NULL DEFAULT '',
        value      BLOB NOT NULL DEFAULT x''
      );
      INSERT INTO digests (profile_id, stamp) SELECT id, random() FROM profiles;
      CREATE TRIGGER digest_on_profile_insert AFTER INSERT ON profiles BEGIN
        INSERT OR REPLACE INTO digests (profile_id, stamp) VALUES (NEW.id, random());
      END;
      CREATE TRIGGER digest_on_profile_update AFTER UPDATE ON profiles BEGIN
        UPDATE digests SET stamp = random(), spec = '', value = x''
          WHERE profile_id IN (OLD.id, NEW.id);
      END;
      CREATE TRIGGER digest_on_profile_delete AFTER DELETE ON profiles BEGIN
        DELETE FROM digests WHERE profile_id = OLD.id;
      END;
      CREATE TRIGGER digest_on_field_insert AFTER INSERT ON profile_fields BEGIN
        UPDATE digests SET stamp = random(), spec = '', value = x''
          WHERE profile_id = NEW.profile_id;
      END;
      CREATE TRIGGER digest_on_field_update AFTER UPDATE ON profile_fields BEGIN
        UPDATE digests SET stamp = random(), spec = '', value = x''
          WHERE profile_id IN (OLD.profile_id, NEW.profile_id);
      END;
      CREATE TRIGGER digest_on_field_delete AFTER DELETE ON profile_fields BEGIN
        UPDATE digests SET stamp = random(), spec = '', value = x''
          WHERE profile_id = OLD.profile_id;
      END;
      CREATE TRIGGER digest_on_member_insert AFTER INSERT ON segment_members BEGIN
        UPDATE digests SET stamp = random(), spec = '', value = x''
          WHERE profile_id = NEW.profile_id;
      END;
      CREATE TRIGGER digest_on_member_update AFTER UPDATE ON segment_members BEGIN
        UPDATE digests SET stamp = random(), spec = '', value = x''
          WHERE profile_id IN (OLD.profile_id, NEW.profile_id);
      END;
      CREATE TRIGGER digest_on_member_delete AFTER DELETE ON segment_members BEGIN
        UPDATE digests SET stamp = random(), spec = '', value = x''
          WHERE profile_id = OLD.profile_id;
      END;
      )sql",
};

}  // namespace

const std::vector<std::string_view>& PortraitSchema() {
  static const std::vector<std::string_view> kSteps(std::begin(kPortraitSteps),
                                                    std::end(kPortraitSteps));
  return kSteps;
}

const std::vector<std::string_view>& KeystoreSchema() {
  static const std::vector<std::string_view> kSteps = {
      // 1: wrapped per-profile data keys.
      R"sql(
      CREATE TABLE data_keys (
        profile_id INTEGER PRIMARY KEY,
        wrapped    BLOB NOT NULL
      );
      )sql",
      // 2: keys a master-key rotation carries over (crypto::CarriedKeys), wrapped under the
      // key-encryption key of the master key in force.
      R"sql(
      CREATE TABLE carried_keys (
        name    TEXT PRIMARY KEY,
        wrapped BLOB NOT NULL
      ) WITHOUT ROWID;
      )sql",
      // 3: the erasure ledger (store/erasure_ledger.h): every data key destroyed, by internal
      // id, with the time and the audit log's head then; nothing personal.
      R"sql(
      CREATE TABLE destroyed_keys (
        profile_id INTEGER PRIMARY KEY,
        time_us    INTEGER NOT NULL,
        audit_seq  INTEGER NOT NULL
      );
      )sql",
  };
  return kSteps;
}

Status Migrate(Db& db, const std::vector<std::string_view>& steps) {
  int64_t applied = 0;
  {  // the statement must be done before a step may drop a table
    Stmt version(db, "PRAGMA user_version;");
    PORTRAIT_ASSIGN_OR_RETURN(bool row, version.Step());
    applied = row ? version.Int(0) : 0;
  }
  if (applied > static_cast<int64_t>(steps.size())) {
    return Status::Corruption(db.path() + " has schema version " + std::to_string(applied) +
                              ", newer than this build knows (" + std::to_string(steps.size()) +
                              "); upgrade portrait");
  }
  if (applied == static_cast<int64_t>(steps.size())) {
    return Status::Ok();
  }
  PORTRAIT_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE;"));
  for (size_t i = static_cast<size_t>(applied); i < steps.size(); ++i) {
    Status s = db.Exec(steps[i]);
    if (!s.ok()) {
      (void)db.Exec("ROLLBACK;");
      return s.WithContext("migration step " + std::to_string(i + 1));
    }
  }
  PORTRAIT_RETURN_IF_ERROR(db.Exec("PRAGMA user_version = " + std::to_string(steps.size()) + ";"));
  return db.Exec("COMMIT;");
}

}  // namespace portrait::store::sqlite
