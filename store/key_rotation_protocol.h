// The files of a master-key rotation and the order they change in, so that a crash at any
// moment leaves a data directory that opens with exactly one of the two keys:
//
//   1. stage    DATA_DIR/rotation/ holds portrait.db and keystore.db under the new key (and
//               master.salt for a passphrase); the new key file is KEY_FILE.next (mode 0600).
//               Everything staged is fsynced, and its directories.
//   2. commit   DATA_DIR/rotation/COMMITTED is written (to a temporary name, fsynced, renamed,
//               the directory fsynced): the one atomic step. Before it the store is on the old
//               key; from it on, on the new.
//   3. install  each staged file renamed over the live one (KEY_FILE.next -> KEY_FILE,
//               keystore.db, portrait.db, master.salt), a database's stale -wal/-shm removed
//               first; then the marker, then the staging directory.
//
// Whoever opens the data directory next, holding its DataDirLock, finishes what a crash
// interrupted: with the marker, step 3 again (each rename is done or still to do, so
// repeating it is safe); staged files without the marker are deleted (rolled back).
//
// Fault injection for tests: with PORTRAIT_KEY_ROTATE_FAULT=<step>, the process ends at once
// (_Exit, nothing flushed, like a kill) when it reaches that step; RotationSteps() lists them.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "store/data_dir_lock.h"

namespace portrait::store {

struct RotationPaths {
  std::string data_dir;
  std::string staging;   // DATA_DIR/rotation
  std::string marker;    // DATA_DIR/rotation/COMMITTED
  std::string key_file;  // the live key file; empty with a passphrase
  std::string key_next;  // KEY_FILE.next; empty with a passphrase
  // Staged file -> the live file it replaces, in the order step 3 renames them.
  std::vector<std::pair<std::string, std::string>> installs;
};

RotationPaths RotationPathsFor(const config::Config& config);

enum class RotationState {
  kNone,         // nothing staged: the store is on the key in force (KEY_FILE)
  kUncommitted,  // staged, not committed: the store is on the old key
  kCommitted,    // committed, not all installed: the store is on the new key
};

// Reads the state from the files alone (no lock, no key).
RotationState InspectRotation(const RotationPaths& paths);

// Finishes an interrupted rotation under `lock`: rolls forward (kCommitted) or back
// (kUncommitted). Returns the state it found; kNone when there was nothing to do.
Result<RotationState> FinishRotation(const RotationPaths& paths, const DataDirLock& lock);

// Steps 2 and 3 for a rotation whose files are staged and fsynced (step 1).
Status CommitRotation(const RotationPaths& paths, const DataDirLock& lock);

// fsync(2) of a file or directory.
Status FsyncPath(const std::string& path);

// Ends the process at once if PORTRAIT_KEY_ROTATE_FAULT names `step` (tests only).
void RotationFaultPoint(std::string_view step);
// Every step name RotationFaultPoint is called with, in order.
const std::vector<std::string_view>& RotationSteps();

}  // namespace portrait::store
