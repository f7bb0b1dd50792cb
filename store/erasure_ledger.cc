#include "store/erasure_ledger.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

namespace portrait::store {
namespace {

constexpr std::string_view kLedgerContext = "portrait erasure ledger v1";
constexpr size_t kMacBytes = 16;

std::string MacHex(std::string_view text, const crypto::SecretBytes& mac_key) {
  unsigned char mac[kMacBytes];
  crypto_generichash(mac, sizeof mac, reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), mac_key.data(), mac_key.size());
  char hex[2 * kMacBytes + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return std::string(hex, 2 * kMacBytes);
}

std::string Body(const LedgerEntry& e) {
  return "v1 " + std::to_string(e.id) + " " + std::to_string(e.time_us) + " " +
         std::to_string(e.audit_seq);
}

// The next space-separated word of `line` from `at`, as a non-negative integer.
bool NextNumber(std::string_view line, size_t& at, int64_t& out) {
  if (at >= line.size()) {
    return false;
  }
  const size_t end = std::min(line.find(' ', at), line.size());
  const char* first = line.data() + at;
  const char* last = line.data() + end;
  auto [ptr, ec] = std::from_chars(first, last, out);
  if (ec != std::errc() || ptr != last || first == last || out < 0) {
    return false;
  }
  at = end + 1;
  return true;
}

Status BadLine(const std::string& path, int64_t line, std::string_view why) {
  return Status::InvalidArgument(path + " line " + std::to_string(line) + ": " + std::string(why));
}

Result<LedgerEntry> ParseLine(std::string_view line, const crypto::SecretBytes& mac_key,
                              const std::string& path, int64_t number) {
  if (line.substr(0, 3) != "v1 ") {
    return Error(BadLine(path, number, "not an erasure-ledger line (expected \"v1 ...\")"));
  }
  LedgerEntry e;
  size_t at = 3;
  if (!NextNumber(line, at, e.id) || !NextNumber(line, at, e.time_us) ||
      !NextNumber(line, at, e.audit_seq) || at > line.size()) {
    return Error(BadLine(path, number, "expected: v1 <profile id> <time_us> <audit seq> <mac>"));
  }
  const std::string_view body = line.substr(0, at - 1);
  const std::string_view mac = line.substr(at);
  const std::string expected = MacHex(body, mac_key);
  if (mac.size() != expected.size() ||
      sodium_memcmp(mac.data(), expected.data(), expected.size()) != 0) {
    return Error(BadLine(path, number,
                         "its MAC does not verify (the line was altered, or the ledger belongs to "
                         "another data directory's keys)"));
  }
  return e;
}

}  // namespace

Result<crypto::SecretBytes> LedgerMacKey(const crypto::KeyHierarchy& keys) {
  const crypto::SecretBytes& base = keys.blind_index_key();
  if (base.size() < crypto_generichash_KEYBYTES_MIN ||
      base.size() > crypto_generichash_KEYBYTES_MAX) {
    return Error(Status::Internal("the blind-index key has an unexpected size"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SecretBytes key, crypto::SecretBytes::Allocate(32));
  crypto_generichash(key.data(), key.size(),
                     reinterpret_cast<const unsigned char*>(kLedgerContext.data()),
                     kLedgerContext.size(), base.data(), base.size());
  return key;
}

std::string FormatLedgerLine(const LedgerEntry& entry, const crypto::SecretBytes& mac_key) {
  const std::string body = Body(entry);
  return body + " " + MacHex(body, mac_key) + "\n";
}

Status AppendLedgerEntries(const std::string& path, const std::vector<LedgerEntry>& entries,
                           const crypto::SecretBytes& mac_key) {
  std::error_code ec;
  const bool existed = std::filesystem::exists(path, ec);
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::IOError("cannot open the erasure ledger " + path + ": " + std::strerror(errno));
  }
  std::string line;
  for (const LedgerEntry& entry : entries) {
    line += FormatLedgerLine(entry, mac_key);
  }
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const bool synced = written && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!synced) {
    return Status::IOError("cannot append to the erasure ledger " + path + ": " +
                           std::strerror(saved));
  }
  if (!existed) {
    const std::string dir = std::filesystem::path(path).parent_path().string();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_CLOEXEC);
    const bool ok = dfd >= 0 && ::fsync(dfd) == 0;
    if (dfd >= 0) {
      ::close(dfd);
    }
    if (!ok) {
      return Status::IOError("cannot sync the directory of the erasure ledger " + path);
    }
  }
  return Status::Ok();
}

Result<LedgerFile> ReadLedgerFile(const std::string& path, const crypto::SecretBytes& mac_key) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return Error(Status::NotFound("no erasure ledger at " + path));
    }
    return Error(
        Status::IOError("cannot read the erasure ledger " + path + ": " + std::strerror(errno)));
  }
  LedgerFile out;
  std::string line;
  int64_t number = 1;
  char buffer[1 << 16];
  Status status;
  while (status.ok()) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      status =
          Status::IOError("cannot read the erasure ledger " + path + ": " + std::strerror(errno));
      break;
    }
    if (n == 0) {
      break;
    }
    for (ssize_t i = 0; i < n && status.ok(); ++i) {
      if (buffer[i] != '\n') {
        if (line.size() >= kMaxLedgerLine) {
          status =
              BadLine(path, number, "longer than " + std::to_string(kMaxLedgerLine) + " bytes");
        }
        line.push_back(buffer[i]);
        continue;
      }
      Result<LedgerEntry> entry = ParseLine(line, mac_key, path, number);
      if (!entry) {
        status = entry.error();
        break;
      }
      out.entries.push_back(*entry);
      line.clear();
      ++number;
    }
  }
  ::close(fd);
  PORTRAIT_RETURN_IF_ERROR(status);
  out.torn_tail = !line.empty();
  return out;
}

}  // namespace portrait::store
