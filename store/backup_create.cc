// CreateBackup (store/backup.h).
#include <sys/stat.h>

#include <filesystem>

#include "crypto/audit_signer.h"
#include "store/backup.h"
#include "store/data_dir.h"
#include "store/key_rotation_protocol.h"
#include "store/sqlcipher/backup_files.h"
#include "store/sqlcipher/sqlcipher_store.h"

namespace portrait::store {
namespace {

namespace fs = std::filesystem;

Status MakeEmptyDir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) {
      return Status::Conflict(dir + " exists and is not a directory");
    }
    if (!fs::is_empty(dir, ec)) {
      return Status::Conflict(dir + " is not empty; a backup goes into a new or empty directory");
    }
  } else if (fs::create_directories(dir, ec); ec) {
    return Status::IOError("cannot create " + dir + ": " + ec.message());
  }
  if (::chmod(dir.c_str(), 0700) != 0) {
    return Status::IOError("cannot set the mode of " + dir);
  }
  return Status::Ok();
}

// Copies the databases and the salt, then writes the manifest.
Result<BackupManifest> WriteBackup(const config::Config& config, const std::string& dir,
                                   const Clock& clock) {
  const std::string& live = config.daemon.data_dir;
  PORTRAIT_ASSIGN_OR_RETURN(crypto::KeyHierarchy keys, DataDirKeys(config, live));
  BackupManifest m;
  m.portrait_version = PORTRAIT_VERSION_STRING;
  m.created_us = clock.NowUs();
  PORTRAIT_ASSIGN_OR_RETURN(crypto::AuditSigner signer,
                            crypto::AuditSigner::Create(keys.audit_seed()));
  m.audit_public_key = crypto::ToHex(signer.public_key());
  // portrait.db first: every profile it holds had its key committed before it (see backup.h).
  PORTRAIT_RETURN_IF_ERROR(CopyDatabaseOnline(live + "/" + kPortraitDbName,
                                              dir + "/" + kPortraitDbName, keys.portrait_db_key()));
  PORTRAIT_RETURN_IF_ERROR(CopyDatabaseOnline(live + "/" + kKeystoreDbName,
                                              dir + "/" + kKeystoreDbName, keys.keystore_db_key()));
  PORTRAIT_ASSIGN_OR_RETURN(
      DatabaseFacts portrait,
      ReadDatabaseFacts(dir + "/" + kPortraitDbName, keys.portrait_db_key(), /*with_audit=*/true));
  PORTRAIT_ASSIGN_OR_RETURN(DatabaseFacts keystore,
                            ReadDatabaseFacts(dir + "/" + kKeystoreDbName, keys.keystore_db_key(),
                                              /*with_audit=*/false));
  m.audit_seq = portrait.audit_seq;
  m.portrait_schema = portrait.schema_version;
  m.keystore_schema = keystore.schema_version;
  std::vector<std::string> names = {kPortraitDbName, kKeystoreDbName};
  std::error_code ec;
  if (config.keys.file.empty() && fs::exists(live + "/" + kSaltFileName, ec)) {
    fs::copy_file(live + "/" + kSaltFileName, dir + "/" + kSaltFileName, ec);
    if (ec) {
      return Error(Status::IOError("cannot copy the passphrase's salt: " + ec.message()));
    }
    PORTRAIT_RETURN_IF_ERROR(FsyncPath(dir + "/" + kSaltFileName));
    names.push_back(kSaltFileName);
  }
  for (const std::string& name : names) {
    PORTRAIT_ASSIGN_OR_RETURN(BackupFile f, DescribeFile(dir, name));
    m.files.push_back(std::move(f));
  }
  PORTRAIT_RETURN_IF_ERROR(FsyncPath(dir));
  PORTRAIT_RETURN_IF_ERROR(WriteManifest(dir, m));  // last
  return m;
}

}  // namespace

Result<BackupManifest> CreateBackup(const config::Config& config, const std::string& dir,
                                    const Clock& clock) {
  PORTRAIT_RETURN_IF_ERROR(RefuseOnPostgres(
      config,
      "portraitctl backup create and restore (on PostgreSQL, back up both databases with "
      "its own tools, pg_dump or pg_basebackup, and keep the master key apart)"));
  std::error_code ec;

  if (!fs::is_directory(config.daemon.data_dir, ec)) {
    return Error(Status::NotFound("data directory " + config.daemon.data_dir + " does not exist"));
  }
  if (InspectRotation(RotationPathsFor(config)) != RotationState::kNone) {
    return Error(
        Status::Unavailable("a key rotation was interrupted in " + config.daemon.data_dir +
                            "; finish it first (`portraitctl key status` says how), then back up"));
  }
  PORTRAIT_RETURN_IF_ERROR(MakeEmptyDir(dir));
  Result<BackupManifest> written = WriteBackup(config, dir, clock);
  if (!written) {
    for (const char* name : {kManifestName, kPortraitDbName, kKeystoreDbName, kSaltFileName}) {
      for (const char* suffix : {"", "-wal", "-shm", ".tmp"}) {
        fs::remove(dir + "/" + name + suffix, ec);
      }
    }
  }
  return written;
}

}  // namespace portrait::store
