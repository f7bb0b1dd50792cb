#include "store/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace portrait::store {
namespace {

// What the holder wrote: "<pid> <who>", at most one short line; printable ASCII only.
std::string Holder(int fd) {
  char buf[128] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string text;
  for (ssize_t i = 0; i < n && buf[i] != '\n'; ++i) {
    text += (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
  }
  const size_t space = text.find(' ');
  if (space == std::string::npos) {
    return "another process";
  }
  return text.substr(space + 1) + " (pid " + text.substr(0, space) + ")";
}

}  // namespace

Result<DataDirLock> DataDirLock::Acquire(const std::string& data_dir, std::string_view who) {
  const std::string path = data_dir + "/" + kLockFileName;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Error(Status::IOError("cannot open " + path + ": " + std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder = Holder(fd);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Error(Status::Unavailable("data directory " + data_dir + " is in use by " + holder));
    }
    return Error(Status::IOError("cannot lock " + path + ": " + std::strerror(err)));
  }
  const std::string line = std::to_string(::getpid()) + " " + std::string(who) + "\n";
  // A failed write leaves the lock held all the same; only a refused process's message is
  // poorer.
  const bool written = ::ftruncate(fd, 0) == 0 && ::pwrite(fd, line.data(), line.size(), 0) ==
                                                      static_cast<ssize_t>(line.size());
  (void)written;
  return DataDirLock(fd, data_dir);
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), data_dir_(std::move(other.data_dir_)) {}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
    data_dir_ = std::move(other.data_dir_);
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

}  // namespace portrait::store
