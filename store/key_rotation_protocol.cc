#include "store/key_rotation_protocol.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "store/data_dir.h"
#include "store/sqlcipher/sqlcipher_store.h"

namespace portrait::store {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMarkerName = "COMMITTED";

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() != fs::file_type::not_found && !ec;
}

std::string ParentOf(const std::string& path) {
  std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::IOError("cannot remove " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Status Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return Status::IOError("cannot rename " + from + " to " + to + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

// Step 3: each staged file still there renamed over its live file, then the marker and the
// staging directory removed. Safe to repeat after a crash anywhere in it.
Status Install(const RotationPaths& paths) {
  int n = 0;
  for (const auto& [staged, live] : paths.installs) {
    ++n;
    if (!Exists(staged)) {
      continue;  // installed before a crash
    }
    // A live database's -wal belongs to the old file: applied to the new one it would corrupt
    // it. Everything in it is in the staged copy (the export read through it).
    PORTRAIT_RETURN_IF_ERROR(RemoveFile(live + "-wal"));
    PORTRAIT_RETURN_IF_ERROR(RemoveFile(live + "-shm"));
    PORTRAIT_RETURN_IF_ERROR(Rename(staged, live));
    PORTRAIT_RETURN_IF_ERROR(FsyncPath(ParentOf(live)));
    RotationFaultPoint("installed-" + std::to_string(n));
  }
  PORTRAIT_RETURN_IF_ERROR(RemoveFile(paths.marker));
  PORTRAIT_RETURN_IF_ERROR(FsyncPath(paths.staging));
  RotationFaultPoint("marker-removed");
  return Status::Ok();
}

// Deletes everything staged (the directory holds only files the rotation wrote) and the
// directory itself.
Status RemoveStaging(const RotationPaths& paths) {
  if (!paths.key_next.empty()) {
    PORTRAIT_RETURN_IF_ERROR(RemoveFile(paths.key_next));
    PORTRAIT_RETURN_IF_ERROR(FsyncPath(ParentOf(paths.key_next)));
  }
  std::error_code ec;
  if (fs::is_directory(paths.staging, ec)) {
    for (const auto& entry : fs::directory_iterator(paths.staging, ec)) {
      PORTRAIT_RETURN_IF_ERROR(RemoveFile(entry.path().string()));
    }
    if (ec) {
      return Status::IOError("cannot list " + paths.staging + ": " + ec.message());
    }
    if (::rmdir(paths.staging.c_str()) != 0 && errno != ENOENT) {
      return Status::IOError("cannot remove " + paths.staging + ": " + std::strerror(errno));
    }
  }
  return FsyncPath(paths.data_dir);
}

Status WriteMarker(const RotationPaths& paths) {
  const std::string temporary = paths.marker + ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Status::IOError("cannot create " + temporary + ": " + std::strerror(errno));
  }
  static constexpr char kText[] = "portrait key rotation committed\n";
  const bool ok = ::write(fd, kText, sizeof kText - 1) == sizeof kText - 1 && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    return Status::IOError("cannot write " + temporary);
  }
  PORTRAIT_RETURN_IF_ERROR(Rename(temporary, paths.marker));
  return FsyncPath(paths.staging);
}

}  // namespace

Status FsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::IOError("cannot open " + path + " to sync it: " + std::strerror(errno));
  }
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::Ok() : Status::IOError("cannot sync " + path + ": " + std::strerror(errno));
}

RotationPaths RotationPathsFor(const config::Config& config) {
  RotationPaths p;
  p.data_dir = config.daemon.data_dir;
  p.staging = p.data_dir + "/rotation";
  p.marker = p.staging + "/" + kMarkerName;
  if (!config.keys.file.empty()) {
    p.key_file = config.keys.file;
    p.key_next = config.keys.file + ".next";
    p.installs.emplace_back(p.key_next, p.key_file);
  }
  for (const char* name : {kKeystoreDbName, kPortraitDbName}) {
    p.installs.emplace_back(p.staging + "/" + name, p.data_dir + "/" + name);
  }
  if (config.keys.file.empty()) {
    p.installs.emplace_back(p.staging + "/" + kSaltFileName, p.data_dir + "/" + kSaltFileName);
  }
  return p;
}

RotationState InspectRotation(const RotationPaths& paths) {
  if (Exists(paths.marker)) {
    return RotationState::kCommitted;
  }
  for (const auto& [staged, live] : paths.installs) {
    if (Exists(staged)) {
      return RotationState::kUncommitted;
    }
  }
  // An empty staging directory (made just before a crash, or left after the marker went) is
  // only litter: every live file is the one in force.
  return RotationState::kNone;
}

Result<RotationState> FinishRotation(const RotationPaths& paths, const DataDirLock& lock) {
  (void)lock;  // proof that the caller holds it
  const RotationState state = InspectRotation(paths);
  if (state == RotationState::kCommitted) {
    PORTRAIT_RETURN_IF_ERROR(Install(paths).WithContext("finishing the committed key rotation"));
  }
  if (state != RotationState::kNone || Exists(paths.staging)) {
    PORTRAIT_RETURN_IF_ERROR(RemoveStaging(paths).WithContext("removing a key rotation's files"));
  }
  return state;
}

Status CommitRotation(const RotationPaths& paths, const DataDirLock& lock) {
  RotationFaultPoint("staged");
  PORTRAIT_RETURN_IF_ERROR(WriteMarker(paths));
  RotationFaultPoint("committed");
  PORTRAIT_RETURN_IF_ERROR(FinishRotation(paths, lock));
  return Status::Ok();
}

void RotationFaultPoint(std::string_view step) {
  const char* fault = std::getenv("PORTRAIT_KEY_ROTATE_FAULT");
  if (fault && step == fault) {
    std::_Exit(86);
  }
}

const std::vector<std::string_view>& RotationSteps() {
  static const std::vector<std::string_view> kSteps = {
      "key-written", "databases-copied", "keystore-rewrapped", "portrait-rekeyed",
      "audited",     "staged",           "committed",          "installed-1",
      "installed-2", "installed-3",      "marker-removed"};
  return kSteps;
}

}  // namespace portrait::store
