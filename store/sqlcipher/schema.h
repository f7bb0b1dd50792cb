// The schemas of portrait.db and keystore.db as ordered migration steps. A database records how
// many steps it has applied (PRAGMA user_version); Migrate applies the rest in one transaction
// and refuses a database newer than this build. Steps are append-only: never edit a released one.
#pragma once

#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/sqlcipher/sqlite.h"

namespace portrait::store::sqlite {

const std::vector<std::string_view>& PortraitSchema();
const std::vector<std::string_view>& KeystoreSchema();

// Brings `db` up to date with `steps`. Corruption if the database is newer than `steps`.
Status Migrate(Db& db, const std::vector<std::string_view>& steps);

}  // namespace portrait::store::sqlite
