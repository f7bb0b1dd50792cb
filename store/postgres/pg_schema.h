// The PostgreSQL store's schemas and their migrations: the main database's and the keystore's,
// each a list of steps applied in order inside one transaction, under an advisory lock (nodes
// starting together migrate once), the version and the partition count in `portrait_schema`.
#pragma once

#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/postgres/pg.h"

namespace portrait::store::pg {

const std::vector<std::string_view>& MainSchema();
const std::vector<std::string_view>& KeystoreSchema();

// Brings `db`'s schema up to `steps`; `create` makes the first version (and records
// `partitions`), else a database without portrait's tables is NotFound. Corruption when the
// database is newer than this build, or was made with another partition count. Returns the
// partition count in force.
Result<int> Migrate(Connection& db, const std::vector<std::string_view>& steps, bool create,
                    int partitions);

}  // namespace portrait::store::pg
