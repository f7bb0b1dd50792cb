#include "store/backup_manifest.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/time_format.h"
#include "store/key_rotation_protocol.h"

namespace portrait::store {
namespace {

using nlohmann::json;

constexpr const char* kKnownFiles[] = {"portrait.db", "keystore.db", "master.salt"};

Status Bad(std::string_view member, std::string_view why) {
  return Status::InvalidArgument("manifest: " + std::string(member) + " " + std::string(why));
}

Result<int64_t> Count(const json& j, const char* member) {
  auto it = j.find(member);
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 0) {
    return Error(Bad(member, "must be a non-negative integer"));
  }
  return it->get<int64_t>();
}

Result<std::string> Text(const json& j, const char* member, size_t max) {
  auto it = j.find(member);
  if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().size() > max) {
    return Error(Bad(member, "must be a string of at most " + std::to_string(max) + " bytes"));
  }
  return it->get<std::string>();
}

Result<BackupFile> ParseFile(const json& j, size_t index) {
  const std::string where = "files[" + std::to_string(index) + "]";
  if (!j.is_object()) {
    return Error(Bad(where, "must be an object"));
  }
  BackupFile f;
  PORTRAIT_ASSIGN_OR_RETURN(f.name, Text(j, "name", 64));
  PORTRAIT_ASSIGN_OR_RETURN(f.size, Count(j, "size"));
  PORTRAIT_ASSIGN_OR_RETURN(f.sha256, Text(j, "sha256", 64));
  if (std::find(std::begin(kKnownFiles), std::end(kKnownFiles), f.name) == std::end(kKnownFiles)) {
    return Error(Bad(where + ".name", "names no file a backup holds"));
  }
  if (f.sha256.size() != 64 ||
      f.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Error(Bad(where + ".sha256", "must be 64 lowercase hex digits"));
  }
  return f;
}

Status ParseFiles(const json& j, BackupManifest& m) {
  auto it = j.find("files");
  if (it == j.end() || !it->is_array() || it->size() > std::size(kKnownFiles)) {
    return Bad("files", "must be an array of at most 3 files");
  }
  for (size_t i = 0; i < it->size(); ++i) {
    PORTRAIT_ASSIGN_OR_RETURN(BackupFile f, ParseFile((*it)[i], i));
    for (const BackupFile& seen : m.files) {
      if (seen.name == f.name) {
        return Bad("files", "names " + f.name + " twice");
      }
    }
    m.files.push_back(std::move(f));
  }
  for (const char* needed : {"portrait.db", "keystore.db"}) {
    if (std::none_of(m.files.begin(), m.files.end(),
                     [&](const BackupFile& f) { return f.name == needed; })) {
      return Bad("files", std::string("lacks ") + needed);
    }
  }
  return Status::Ok();
}

}  // namespace

std::string ManifestJson(const BackupManifest& m) {
  json files = json::array();
  for (const BackupFile& f : m.files) {
    files.push_back({{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}});
  }
  return json{{"format", m.format},
              {"portrait_version", m.portrait_version},
              {"created_at", FormatRfc3339(m.created_us)},
              {"created_us", m.created_us},
              {"audit_seq", m.audit_seq},
              {"schema", {{"portrait", m.portrait_schema}, {"keystore", m.keystore_schema}}},
              {"audit_public_key", m.audit_public_key},
              {"files", std::move(files)}}
             .dump(2) +
         "\n";
}

Result<BackupManifest> ParseManifest(std::string_view text) {
  // Bounded before parsing (kMaxManifestBytes); nlohmann's parser is recursive, so the nesting
  // is bounded by the size.
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Status::InvalidArgument("manifest: not a JSON object"));
  }
  BackupManifest m;
  PORTRAIT_ASSIGN_OR_RETURN(int64_t format, Count(j, "format"));
  if (format != kBackupFormat) {
    return Error(Bad("format", "is " + std::to_string(format) + "; this build reads format " +
                                   std::to_string(kBackupFormat)));
  }
  PORTRAIT_ASSIGN_OR_RETURN(m.portrait_version, Text(j, "portrait_version", 64));
  PORTRAIT_ASSIGN_OR_RETURN(m.created_us, Count(j, "created_us"));
  PORTRAIT_ASSIGN_OR_RETURN(m.audit_seq, Count(j, "audit_seq"));
  PORTRAIT_ASSIGN_OR_RETURN(m.audit_public_key, Text(j, "audit_public_key", 128));
  auto schema = j.find("schema");
  if (schema == j.end() || !schema->is_object()) {
    return Error(Bad("schema", "must be an object"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(m.portrait_schema, Count(*schema, "portrait"));
  PORTRAIT_ASSIGN_OR_RETURN(m.keystore_schema, Count(*schema, "keystore"));
  PORTRAIT_RETURN_IF_ERROR(ParseFiles(j, m));
  return m;
}

Result<BackupFile> DescribeFile(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error(Status::NotFound("cannot read " + path + ": " + std::strerror(errno)));
  }
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  BackupFile f{name, 0, ""};
  unsigned char buffer[1 << 16];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) {
    crypto_hash_sha256_update(&state, buffer, static_cast<size_t>(n));
    f.size += n;
  }
  const int saved = errno;
  ::close(fd);
  if (n < 0) {
    return Error(Status::IOError("cannot read " + path + ": " + std::strerror(saved)));
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);
  char hex[2 * sizeof digest + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  f.sha256 = hex;
  return f;
}

Status WriteManifest(const std::string& dir, const BackupManifest& manifest) {
  const std::string path = dir + "/" + kManifestName;
  const std::string temp = path + ".tmp";
  const std::string text = ManifestJson(manifest);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::IOError("cannot create " + temp + ": " + std::strerror(errno));
  }
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
  }
  return FsyncPath(dir);
}

Result<BackupManifest> ReadManifest(const std::string& dir) {
  const std::string path = dir + "/" + kManifestName;
  std::error_code ec;
  const auto type = std::filesystem::status(path, ec).type();
  if (type != std::filesystem::file_type::not_found &&
      type != std::filesystem::file_type::regular) {
    return Error(Status::InvalidArgument(path + " is not a regular file"));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error(Status::NotFound(
        dir + " has no " + kManifestName +
        ": not a backup, or a half-written one (a backup's manifest is written last)"));
  }
  std::string text(kMaxManifestBytes + 1, '\0');
  size_t got = 0;
  ssize_t n = 0;
  while (got < text.size() && (n = ::read(fd, text.data() + got, text.size() - got)) > 0) {
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (n < 0) {
    return Error(Status::IOError("cannot read " + path));
  }
  if (got > kMaxManifestBytes) {
    return Error(Status::InvalidArgument(path + " is over " + std::to_string(kMaxManifestBytes) +
                                         " bytes: not a portrait manifest"));
  }
  text.resize(got);
  Result<BackupManifest> manifest = ParseManifest(text);
  if (!manifest) {
    return Error(manifest.error().WithContext(path));
  }
  return manifest;
}

Status VerifyBackupFiles(const std::string& dir, const BackupManifest& manifest) {
  for (const BackupFile& expected : manifest.files) {
    // A link or a device could stand for anything, or never end: regular files only.
    std::error_code ec;
    if (std::filesystem::symlink_status(dir + "/" + expected.name, ec).type() !=
        std::filesystem::file_type::regular) {
      return Status::Corruption("backup file " + expected.name +
                                " is missing or not a regular file");
    }
    Result<BackupFile> actual = DescribeFile(dir, expected.name);
    if (!actual) {
      return Status::Corruption("backup file " + expected.name +
                                " is missing: " + actual.error().message());
    }
    if (actual->size != expected.size) {
      return Status::Corruption("backup file " + expected.name + " has " +
                                std::to_string(actual->size) + " bytes; the manifest says " +
                                std::to_string(expected.size) + " (truncated or altered)");
    }
    if (actual->sha256 != expected.sha256) {
      return Status::Corruption("backup file " + expected.name +
                                " does not match its SHA-256 in the manifest (altered or damaged)");
    }
  }
  return Status::Ok();
}

}  // namespace portrait::store
