// DataDirLock: the one process that may change a data directory's files wholesale. portraitd
// holds it for its whole life; `portraitctl key rotate` holds it while it rotates; whoever
// finishes an interrupted rotation holds it meanwhile. It is an flock(2) on DATA_DIR/lock, so
// the kernel releases it when its holder dies, even by SIGKILL: a lock never outlives its
// holder. The holder writes "<pid> <who>" into the file, for the message of whoever is refused.
// Move-only; releasing is closing the descriptor.
#pragma once

#include <string>

#include "base/result.h"

namespace portrait::store {

inline constexpr const char* kLockFileName = "lock";

class DataDirLock {
 public:
  // Takes the lock of `data_dir` (which must exist) without waiting. Unavailable, naming the
  // holder ("portraitd (pid 123)"), when another process holds it. `who` names this holder.
  static Result<DataDirLock> Acquire(const std::string& data_dir, std::string_view who);

  DataDirLock(DataDirLock&& other) noexcept;
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

  const std::string& data_dir() const { return data_dir_; }

 private:
  DataDirLock(int fd, std::string data_dir) : fd_(fd), data_dir_(std::move(data_dir)) {}
  int fd_ = -1;
  std::string data_dir_;
};

}  // namespace portrait::store
