#include "store/postgres/postgres_password.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace portrait::store::pg {
namespace {

constexpr size_t kMaxPassword = 1024;

Result<crypto::SecretBytes> FromFile(const std::string& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int err = errno;
    return Error(err == ENOENT ? Status::NotFound(what + " file " + path + " does not exist")
                               : Status::IOError("cannot open " + what + " file " + path + ": " +
                                                 std::strerror(err)));
  }
  struct stat st {};
  Status bad;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    bad = Status::InvalidArgument(what + " file " + path + " is not a regular file");
  } else if ((st.st_mode & 077) != 0) {
    bad = Status::PermissionDenied(what + " file " + path +
                                   " must be readable by its owner only (chmod 600 " + path + ")");
  } else if (st.st_size <= 0 || static_cast<size_t>(st.st_size) > kMaxPassword) {
    bad = Status::InvalidArgument(what + " file " + path + " must hold 1 to 1024 bytes");
  }
  if (!bad.ok()) {
    ::close(fd);
    return Error(bad);
  }
  auto buffer = crypto::SecretBytes::Allocate(static_cast<size_t>(st.st_size));
  if (!buffer) {
    ::close(fd);
    return buffer;
  }
  const ssize_t n = ::read(fd, buffer->data(), buffer->size());
  ::close(fd);
  if (n != static_cast<ssize_t>(buffer->size())) {
    return Error(Status::IOError("short read of " + what + " file " + path));
  }
  size_t size = buffer->size();
  while (size > 0 && (buffer->data()[size - 1] == '\n' || buffer->data()[size - 1] == '\r')) {
    --size;
  }
  if (size == 0) {
    return Error(Status::InvalidArgument(what + " file " + path + " holds no password"));
  }
  return crypto::SecretBytes::CopyOf(buffer->view().substr(0, size));
}

}  // namespace

Result<std::optional<crypto::SecretBytes>> ReadPassword(std::string_view env,
                                                        const std::string& file,
                                                        std::string_view what) {
  const std::string name(what);
  if (!env.empty()) {
    const char* value = std::getenv(std::string(env).c_str());
    if (!value || !*value) {
      return Error(Status::InvalidArgument(name + ": environment variable " + std::string(env) +
                                           " is not set"));
    }
    if (std::strlen(value) > kMaxPassword) {
      return Error(Status::InvalidArgument(name + ": environment variable " + std::string(env) +
                                           " holds more than 1024 bytes"));
    }
    PORTRAIT_ASSIGN_OR_RETURN(crypto::SecretBytes secret, crypto::SecretBytes::CopyOf(value));
    return std::optional<crypto::SecretBytes>(std::move(secret));
  }
  if (!file.empty()) {
    PORTRAIT_ASSIGN_OR_RETURN(crypto::SecretBytes secret, FromFile(file, name));
    return std::optional<crypto::SecretBytes>(std::move(secret));
  }
  return std::optional<crypto::SecretBytes>();
}

}  // namespace portrait::store::pg
