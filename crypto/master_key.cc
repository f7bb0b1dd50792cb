#include "crypto/master_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace portrait::crypto {
namespace {

// Reads exactly `want` bytes of the regular file at `path` into guarded memory.
Result<SecretBytes> ReadSmallFile(const std::string& path, size_t want, std::string_view what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) {
      return Error(Status::NotFound(std::string(what) + " " + path +
                                    " does not exist (create a data directory with "
                                    "`portraitctl init`, or fix [keys] in portrait.toml)"));
    }
    return Error(Status::IOError("cannot open " + std::string(what) + " " + path + ": " +
                                 std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error(
        Status::InvalidArgument(std::string(what) + " " + path + " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return Error(Status::PermissionDenied(std::string(what) + " " + path + " has mode " + mode +
                                          "; it must be readable by its owner only (chmod 600 " +
                                          path + ")"));
  }
  if (static_cast<size_t>(st.st_size) != want) {
    ::close(fd);
    return Error(Status::InvalidArgument(std::string(what) + " " + path + " holds " +
                                         std::to_string(st.st_size) +
                                         " bytes; it must hold exactly " + std::to_string(want)));
  }
  auto out = SecretBytes::Allocate(want);
  if (!out) {
    ::close(fd);
    return out;
  }
  ssize_t n = ::read(fd, out->data(), want);
  ::close(fd);
  if (n != static_cast<ssize_t>(want)) {
    return Error(Status::IOError("short read of " + std::string(what) + " " + path));
  }
  return out;
}

// Creates `path` exclusively with mode 0600 and writes `bytes`, fsynced.
Status WriteNewFile(const std::string& path, const uint8_t* bytes, size_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::Conflict(path + " already exists; refusing to overwrite it");
    }
    return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  }
  bool ok = ::write(fd, bytes, size) == static_cast<ssize_t>(size) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

Result<SecretBytes> LoadKeyFile(const std::string& path) {
  return ReadSmallFile(path, kMasterKeySize, "key file");
}

Result<SecretBytes> CreateKeyFile(const std::string& path) {
  PORTRAIT_ASSIGN_OR_RETURN(SecretBytes key, SecretBytes::Random(kMasterKeySize));
  PORTRAIT_RETURN_IF_ERROR(WriteNewFile(path, key.data(), key.size()));
  return key;
}

Result<SecretBytes> DeriveFromPassphrase(const std::string& env_name, const std::string& salt_path,
                                         bool create_salt) {
  PORTRAIT_RETURN_IF_ERROR(InitSodium());
  const char* passphrase = std::getenv(env_name.c_str());
  if (!passphrase || std::strlen(passphrase) < 12) {
    return Error(Status::InvalidArgument("environment variable " + env_name +
                                         " must hold the passphrase (at least 12 characters)"));
  }
  uint8_t salt[crypto_pwhash_SALTBYTES];
  if (create_salt) {
    randombytes_buf(salt, sizeof salt);
    PORTRAIT_RETURN_IF_ERROR(WriteNewFile(salt_path, salt, sizeof salt));
  } else {
    PORTRAIT_ASSIGN_OR_RETURN(SecretBytes stored,
                              ReadSmallFile(salt_path, sizeof salt, "salt file"));
    std::memcpy(salt, stored.data(), sizeof salt);
  }
  PORTRAIT_ASSIGN_OR_RETURN(SecretBytes key, SecretBytes::Allocate(kMasterKeySize));
  if (crypto_pwhash(key.data(), key.size(), passphrase, std::strlen(passphrase), salt,
                    crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE,
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Error(Status::Internal("Argon2id ran out of memory deriving the master key"));
  }
  return key;
}

}  // namespace portrait::crypto
