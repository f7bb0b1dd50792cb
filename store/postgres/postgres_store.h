// The PostgreSQL backend of Store: the main database (profiles, fields, digests, events,
// timers, tasks, ledger, audit) and the keystore (wrapped data keys) on connections of their
// own — two databases with their own roles, so the role portraitd writes profiles with can't
// read a key. Everything personal arrives sealed, as with SQLCipher: PostgreSQL holds only
// ciphertext, keyed digests and ids. One connection writes (Commit, one transaction per
// batch); reads go to a small pool of reading connections. Calls are thread-safe.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "crypto/secret.h"
#include "store/postgres/partition.h"
#include "store/store.h"

namespace portrait::store {

struct PostgresOptions {
  // libpq connection URIs (TLS through sslmode=verify-full and sslrootcert). Never a password:
  // those come below, from the environment or a file the config names.
  std::string url;
  std::string keystore_url;
  const crypto::SecretBytes* password = nullptr;           // borrowed during Open; may be null
  const crypto::SecretBytes* keystore_password = nullptr;  // borrowed during Open; may be null
  // Keys each audit record's MAC (copied); without one, records are written without a MAC.
  const crypto::SecretBytes* audit_mac_key = nullptr;
  // The erasure ledger file DestroyDataKey appends to before it destroys a key, and its MAC
  // key (copied); no file when empty (the keystore's destroyed_keys table only).
  std::string erasure_ledger;
  const crypto::SecretBytes* ledger_mac_key = nullptr;
  // Make both schemas (Conflict if either exists) instead of opening existing ones.
  bool create = false;
  // The partition count, recorded when the schema is made; an open uses the recorded one, or
  // with `partitions_fixed` refuses (InvalidArgument) a schema made with another count.
  int partitions = pg::kDefaultPartitions;
  bool partitions_fixed = false;
  // The audit chain this store writes (one per node); "" for a single node.
  std::string node;
  // Reading connections to each database, beside the writer's.
  int readers = 3;
};

// Connects to both databases and brings their schemas up to date (or makes them: `create`).
// Unavailable when a server can't be reached, PermissionDenied when it refuses the login,
// NotFound when a database holds no portrait schema and `create` is off.
Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options);

class LeaseKeeper;
// Makes `store` (one OpenPostgresStore returned) serve only the partitions `leases` holds: new
// profiles' ids, due timers and tasks in them, every commit fenced by their leases
// (docs/DECISIONS.md 165). InvalidArgument if `store` is not a PostgreSQL store.
Status ServeOnlyHeldPartitions(Store& store, std::shared_ptr<LeaseKeeper> leases);

// How many external ids (a profile's own or an alias) of `store` lie in another partition than
// their profile (docs/DECISIONS.md 170): profiles made before new profiles were placed by their
// external id, or aliases a single node made across partitions. Several nodes can't serve such
// a store without an answer that tells whether a subject is stored, so a node of several
// refuses to start on one. One count, made by the server.
// InvalidArgument if `store` is not a PostgreSQL store.
Result<int64_t> CountMisplacedExternalIds(Store& store);

}  // namespace portrait::store
