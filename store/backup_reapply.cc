#include "store/backup_reapply.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "store/sqlcipher/backup_files.h"
#include "store/sqlcipher/sqlcipher_store.h"

namespace portrait::store {
namespace {

namespace fs = std::filesystem;

void Add(const std::vector<LedgerEntry>& entries, LedgerGathering& into) {
  std::set<ProfileId> seen;
  for (const LedgerEntry& e : into.entries) {
    seen.insert(e.id);
  }
  for (const LedgerEntry& e : entries) {
    if (seen.insert(e.id).second) {
      into.entries.push_back(e);
    }
  }
}

// An erasures.log: read whole, or an error naming the line.
Status GatherFile(const std::string& path, const crypto::SecretBytes& mac_key,
                  LedgerGathering& into) {
  PORTRAIT_ASSIGN_OR_RETURN(LedgerFile file, ReadLedgerFile(path, mac_key));
  Add(file.entries, into);
  into.read.push_back(path);
  if (file.torn_tail) {
    into.notes.push_back(path +
                         ": its last line was cut off (an append a crash interrupted); "
                         "skipped");
  }
  return Status::Ok();
}

// Re-applies one entry; false when the store holds neither its row nor its key.
Result<bool> ReapplyOne(Store& store, ProfileVault& vault, AuditLog& log, const LedgerEntry& e,
                        int64_t now_us) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<ProfileRow> row, store.GetProfile(e.id));
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> key, store.GetDataKey(e.id));
  if (!row && !key) {
    return false;
  }
  Batch audited;
  audited.audit.push_back(
      AuditEntry{now_us, "system", "profile.erase", e.id, "",
                 nlohmann::json{{"reapplied", "backup.restore"},
                                {"ledger", {{"time_us", e.time_us}, {"audit_seq", e.audit_seq}}}}
                     .dump()});
  PORTRAIT_RETURN_IF_ERROR(log.Commit(audited));
  // The notices need the external id, which only the key still opens.
  std::optional<std::string> own_id;
  if (row && key) {
    if (Result<std::string> opened = vault.OwnExternalId(*row); opened) {
      own_id = std::move(*opened);
    }
  }
  if (key) {
    PORTRAIT_RETURN_IF_ERROR(vault.DestroyKey(e.id));
  }
  if (row) {
    Batch batch;
    if (own_id) {
      PORTRAIT_RETURN_IF_ERROR(vault.QueueErasureNotices(e.id, *own_id, now_us, batch));
    }
    batch.erasures.push_back(e.id);
    PORTRAIT_RETURN_IF_ERROR(log.Commit(batch));
  }
  return true;
}

}  // namespace

Status GatherLedger(const std::string& path, const crypto::KeyHierarchy& keys,
                    const crypto::SecretBytes& mac_key, bool required, LedgerGathering& into) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    if (!fs::exists(path, ec)) {
      return required ? Status::NotFound("no erasure ledger at " + path) : Status::Ok();
    }
    if (!fs::is_regular_file(path, ec)) {
      return Status::InvalidArgument(path + " is neither an erasure ledger file nor a directory");
    }
    return GatherFile(path, mac_key, into);
  }
  const std::string file = path + "/" + kErasureLedgerName;
  const std::string keystore = path + "/" + kKeystoreDbName;
  const bool has_file = fs::exists(file, ec);
  const bool has_keystore = fs::exists(keystore, ec);
  if (required && !has_file && !has_keystore) {
    return Status::NotFound(path + " holds neither an " + std::string(kErasureLedgerName) +
                            " nor a " + kKeystoreDbName);
  }
  if (has_file) {
    PORTRAIT_RETURN_IF_ERROR(GatherFile(file, mac_key, into));
  }
  if (has_keystore) {
    Result<std::vector<LedgerEntry>> table = ReadDestroyedKeys(keystore, keys.keystore_db_key());
    if (table) {
      Add(*table, into);
      into.read.push_back(keystore);
    } else {
      into.notes.push_back(keystore + " could not be read (" + table.error().message() +
                           "); its ledger table was not used");
    }
  }
  return Status::Ok();
}

Result<int64_t> ReapplyErasures(Store& store, ProfileVault& vault, AuditLog& log,
                                const std::vector<LedgerEntry>& entries, int64_t now_us) {
  int64_t reapplied = 0;
  for (const LedgerEntry& e : entries) {
    PORTRAIT_ASSIGN_OR_RETURN(bool done, ReapplyOne(store, vault, log, e, now_us));
    reapplied += done ? 1 : 0;
  }
  return reapplied;
}

}  // namespace portrait::store
