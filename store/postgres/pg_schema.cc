#include "store/postgres/pg_schema.h"

#include <iterator>
#include <string>

namespace portrait::store::pg {
namespace {

// Every table leads with the profile id, a partition (store/postgres/partition.h) or — for the
// audit chain — the node that wrote it, so a PostgreSQL sharding by the leading column can
// distribute it unchanged. Personal values, external ids and metrics are envelopes sealed in
// portraitd (bytea); digests are keyed; everything else is ids, names of the config's own
// things, times and counts.
constexpr std::string_view kMainSteps[] = {
    // 1: everything the Store interface holds, as of the SQLCipher schema's version 9.
    R"sql(
      CREATE TABLE profiles (
        id          bigint PRIMARY KEY,
        part        bigint NOT NULL,
        ext_key     bytea NOT NULL,
        external_id bytea NOT NULL,
        timezone    text COLLATE "C" NOT NULL DEFAULT '',
        lifecycle   text COLLATE "C" NOT NULL DEFAULT '',
        tags        bytea NOT NULL DEFAULT '',
        metrics     bytea NOT NULL DEFAULT '',
        legal_hold  boolean NOT NULL DEFAULT false,
        created_us  bigint NOT NULL,
        updated_us  bigint NOT NULL
      );
      CREATE INDEX profiles_by_part ON profiles (part, id);
      -- The digests that lead to a profile: its own external id's (alias = false) and its
      -- aliases'. One row per digest, so a digest is a profile's or an alias, never both.
      CREATE TABLE ext_keys (
        part       bigint NOT NULL,
        ext_key    bytea NOT NULL,
        profile_id bigint NOT NULL,
        alias      boolean NOT NULL,
        merged_id  bigint NOT NULL DEFAULT 0,
        created_us bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (part, ext_key)
      );
      CREATE INDEX ext_keys_by_profile ON ext_keys (profile_id, alias);
      CREATE TABLE profile_fields (
        profile_id bigint NOT NULL,
        field      text COLLATE "C" NOT NULL,
        value      bytea NOT NULL,
        updated_us bigint NOT NULL,
        PRIMARY KEY (profile_id, field)
      );
      CREATE INDEX profile_fields_by_age ON profile_fields (field, updated_us, profile_id);
      CREATE TABLE blind_index (
        part       bigint NOT NULL,
        field      text COLLATE "C" NOT NULL,
        digest     bytea NOT NULL,
        profile_id bigint NOT NULL,
        PRIMARY KEY (part, field, digest, profile_id)
      );
      CREATE INDEX blind_index_by_profile ON blind_index (profile_id, field);
      CREATE TABLE events (
        profile_id bigint NOT NULL,
        time_us    bigint NOT NULL,
        key        bytea NOT NULL,
        key_part   bigint NOT NULL,
        type       text COLLATE "C" NOT NULL,
        data       bytea NOT NULL,
        PRIMARY KEY (profile_id, time_us, key)
      );
      CREATE INDEX events_by_type ON events (type, time_us, key);
      -- Every stored event's key, for the duplicate check across profiles (and nodes).
      CREATE TABLE event_keys (
        part       bigint NOT NULL,
        key        bytea NOT NULL,
        profile_id bigint NOT NULL,
        PRIMARY KEY (part, key)
      );
      CREATE TABLE consents (
        profile_id bigint NOT NULL,
        id         bigint GENERATED ALWAYS AS IDENTITY,
        purpose    text COLLATE "C" NOT NULL,
        scope      text COLLATE "C" NOT NULL,
        channel    text COLLATE "C" NOT NULL,
        status     text COLLATE "C" NOT NULL,
        time_us    bigint NOT NULL,
        source     text COLLATE "C" NOT NULL,
        notice     text COLLATE "C" NOT NULL,
        evidence   bytea NOT NULL,
        actor      text COLLATE "C" NOT NULL,
        expires_us bigint NOT NULL,
        PRIMARY KEY (profile_id, id)
      );
      -- One chain per writing node (the SQLCipher store's one chain is node '').
      CREATE TABLE audit (
        node       text COLLATE "C" NOT NULL,
        seq        bigint NOT NULL,
        time_us    bigint NOT NULL,
        actor      text COLLATE "C" NOT NULL,
        action     text COLLATE "C" NOT NULL,
        profile_id bigint NOT NULL,
        purpose    text COLLATE "C" NOT NULL,
        detail     text COLLATE "C" NOT NULL,
        hash       bytea NOT NULL,
        mac        bytea NOT NULL,
        PRIMARY KEY (node, seq)
      );
      CREATE TABLE audit_checkpoints (
        node      text COLLATE "C" NOT NULL,
        seq       bigint NOT NULL,
        hash      bytea NOT NULL,
        signature bytea NOT NULL,
        time_us   bigint NOT NULL,
        prev_seq  bigint NOT NULL,
        PRIMARY KEY (node, seq)
      );
      CREATE TABLE tokens (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name         text COLLATE "C" NOT NULL,
        role         text COLLATE "C" NOT NULL,
        digest       bytea NOT NULL UNIQUE,
        created_us   bigint NOT NULL,
        last_used_us bigint NOT NULL DEFAULT 0,
        revoked_us   bigint NOT NULL DEFAULT 0
      );
      CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_us = 0;
      -- Timers and tasks carry their profile's partition: a node claims the due ones of the
      -- partitions it holds (FOR UPDATE SKIP LOCKED over these indexes).
      CREATE TABLE timers (
        profile_id bigint NOT NULL,
        trigger    text COLLATE "C" NOT NULL,
        part       bigint NOT NULL,
        due_us     bigint NOT NULL,
        PRIMARY KEY (profile_id, trigger)
      );
      CREATE INDEX timers_by_due ON timers (due_us);
      CREATE INDEX timers_by_part ON timers (part, due_us);
      CREATE TABLE tasks (
        profile_id bigint NOT NULL,
        id         bigint GENERATED ALWAYS AS IDENTITY,
        part       bigint NOT NULL,
        dedupe     bytea NOT NULL,
        trigger    text COLLATE "C" NOT NULL,
        purpose    text COLLATE "C" NOT NULL,
        channel    text COLLATE "C" NOT NULL,
        sink       text COLLATE "C" NOT NULL,
        state      text COLLATE "C" NOT NULL,
        reason     text COLLATE "C" NOT NULL,
        due_us     bigint NOT NULL,
        attempts   bigint NOT NULL,
        consent_id bigint NOT NULL,
        payload    bytea NOT NULL,
        created_us bigint NOT NULL,
        updated_us bigint NOT NULL,
        PRIMARY KEY (profile_id, id)
      );
      CREATE UNIQUE INDEX tasks_by_id ON tasks (id);
      CREATE UNIQUE INDEX tasks_by_dedupe ON tasks (dedupe);
      CREATE INDEX tasks_due_by_sink ON tasks (sink, state, due_us);
      CREATE INDEX tasks_by_part ON tasks (part, sink, state, due_us);
      CREATE TABLE meta (
        key   text COLLATE "C" PRIMARY KEY,
        value bytea NOT NULL
      );
      CREATE TABLE anchors (
        profile_id bigint NOT NULL,
        field      text COLLATE "C" NOT NULL,
        year       bigint NOT NULL,
        month      bigint NOT NULL,
        day        bigint NOT NULL,
        PRIMARY KEY (profile_id, field)
      );
      CREATE TABLE segment_members (
        profile_id bigint NOT NULL,
        segment    text COLLATE "C" NOT NULL,
        PRIMARY KEY (profile_id, segment)
      );
      CREATE INDEX segment_members_by_segment ON segment_members (segment, profile_id);
      CREATE TABLE models (
        kind      text COLLATE "C" NOT NULL,
        name      text COLLATE "C" NOT NULL,
        version   bigint NOT NULL,
        params    text COLLATE "C" NOT NULL,
        fitted_us bigint NOT NULL,
        PRIMARY KEY (kind, name)
      );
      )sql",
    // 2: partition leases (docs/DECISIONS.md 163): one row a partition, its holder and the
    // expiry by the server's clock; each node's address and last lease round.
    R"sql(
      CREATE TABLE leases (
        part       bigint PRIMARY KEY,
        node       text COLLATE "C" NOT NULL DEFAULT '',
        address    text COLLATE "C" NOT NULL DEFAULT '',
        expires_us bigint NOT NULL DEFAULT 0
      );
      INSERT INTO leases (part)
        SELECT generate_series(0, (SELECT partitions FROM portrait_schema) - 1);
      CREATE INDEX leases_by_node ON leases (node, part);
      CREATE TABLE cluster_nodes (
        node    text COLLATE "C" PRIMARY KEY,
        address text COLLATE "C" NOT NULL,
        seen_us bigint NOT NULL
      );
      )sql",
};

constexpr std::string_view kKeystoreSteps[] = {
    // 1: wrapped per-profile data keys, the keys a master-key rotation carries, the ledger of
    // destroyed keys (ids, times and the audit head then; nothing personal).
    R"sql(
      CREATE TABLE data_keys (
        profile_id bigint PRIMARY KEY,
        wrapped    bytea NOT NULL
      );
      CREATE TABLE carried_keys (
        name    text COLLATE "C" PRIMARY KEY,
        wrapped bytea NOT NULL
      );
      CREATE TABLE destroyed_keys (
        profile_id bigint PRIMARY KEY,
        time_us    bigint NOT NULL,
        audit_seq  bigint NOT NULL
      );
      )sql",
};

// Held for the migration's transaction: nodes starting together migrate one after another.
constexpr std::string_view kMigrationLock = "SELECT pg_advisory_xact_lock(7451001);";

Result<bool> HasSchemaTable(Connection& db) {
  PORTRAIT_ASSIGN_OR_RETURN(Rows r,
                            db.Run("SELECT to_regclass('portrait_schema') IS NOT NULL;", Params()));
  return !r.empty() && r.Bool(0, 0);
}

Result<int> Apply(Connection& db, const std::vector<std::string_view>& steps, bool create,
                  int partitions) {
  PORTRAIT_RETURN_IF_ERROR(db.Exec(kMigrationLock));
  PORTRAIT_ASSIGN_OR_RETURN(bool exists, HasSchemaTable(db));
  if (!exists) {
    if (!create) {
      return Error(Status::NotFound("the database holds no portrait schema; run portraitctl init"));
    }
    PORTRAIT_RETURN_IF_ERROR(
        db.Exec("CREATE TABLE portrait_schema (version bigint NOT NULL, partitions bigint NOT "
                "NULL);"));
    PORTRAIT_RETURN_IF_ERROR(
        db.Do("INSERT INTO portrait_schema VALUES (0, $1);", Params().Int(partitions)));
  } else if (create) {
    return Error(Status::Conflict("the database holds a portrait schema already"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(Rows r, db.Run("SELECT version, partitions FROM portrait_schema;"));
  if (r.size() != 1) {
    return Error(Status::Corruption("portrait_schema must hold one row"));
  }
  const int64_t applied = r.Int(0, 0);
  const int64_t stored_partitions = r.Int(0, 1);
  if (applied > static_cast<int64_t>(steps.size())) {
    return Error(Status::Corruption("the database has schema version " + std::to_string(applied) +
                                    ", newer than this build knows (" +
                                    std::to_string(steps.size()) + "); upgrade portrait"));
  }
  for (size_t i = static_cast<size_t>(applied); i < steps.size(); ++i) {
    Status s = db.Exec(steps[i]);
    if (!s.ok()) {
      return Error(s.WithContext("migration step " + std::to_string(i + 1)));
    }
  }
  PORTRAIT_RETURN_IF_ERROR(db.Do("UPDATE portrait_schema SET version = $1;",
                                 Params().Int(static_cast<int64_t>(steps.size()))));
  return static_cast<int>(stored_partitions);
}

}  // namespace

const std::vector<std::string_view>& MainSchema() {
  static const std::vector<std::string_view> kSteps(std::begin(kMainSteps), std::end(kMainSteps));
  return kSteps;
}

const std::vector<std::string_view>& KeystoreSchema() {
  static const std::vector<std::string_view> kSteps(std::begin(kKeystoreSteps),
                                                    std::end(kKeystoreSteps));
  return kSteps;
}

Result<int> Migrate(Connection& db, const std::vector<std::string_view>& steps, bool create,
                    int partitions) {
  PORTRAIT_RETURN_IF_ERROR(db.Exec("BEGIN;"));
  Result<int> done = Apply(db, steps, create, partitions);
  Status committed = done ? db.Exec("COMMIT;") : Status::Ok();
  if (!done || !committed.ok()) {
    (void)db.Exec("ROLLBACK;");
    return done ? Error(committed) : done;
  }
  return done;
}

}  // namespace portrait::store::pg
