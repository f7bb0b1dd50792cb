// A backup's manifest, DIR/manifest.json: what `portraitctl backup create` copied and under
// which key, written last (to a temporary name, fsynced, then renamed and the directory
// fsynced), so a backup without one is a half-written backup and restore refuses it.
//
//   {"format": 1, "portrait_version": "0.1.0", "created_at": "2026-12-02T06:30:00.000000Z",
//    "created_us": ..., "audit_seq": 1234, "schema": {"portrait": 9, "keystore": 3},
//    "audit_public_key": "<hex>", "files": [{"name": "portrait.db", "size": 4096,
//    "sha256": "<hex>"}, ...]}
//
// audit_seq is the audit log's head in the portrait.db copy; audit_public_key names the master
// key both copies are encrypted under (its audit signing key's public half; never the key).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace portrait::store {

inline constexpr int kBackupFormat = 1;
inline constexpr const char* kManifestName = "manifest.json";
inline constexpr size_t kMaxManifestBytes = 64 * 1024;

struct BackupFile {
  std::string name;  // one of portrait.db, keystore.db, master.salt
  int64_t size = 0;
  std::string sha256;  // hex
};

struct BackupManifest {
  int format = kBackupFormat;
  std::string portrait_version;
  int64_t created_us = 0;
  int64_t audit_seq = 0;
  int64_t portrait_schema = 0;
  int64_t keystore_schema = 0;
  std::string audit_public_key;
  std::vector<BackupFile> files;
};

std::string ManifestJson(const BackupManifest& manifest);

// Parses a manifest's text. InvalidArgument naming the member when it is not JSON, misses a
// member, has one of the wrong type or range, names a file outside the known set (or one twice),
// lacks a database, or has another format.
Result<BackupManifest> ParseManifest(std::string_view text);

// The size and SHA-256 of DIR/name.
Result<BackupFile> DescribeFile(const std::string& dir, const std::string& name);

// Writes DIR/manifest.json as described above.
Status WriteManifest(const std::string& dir, const BackupManifest& manifest);

// Reads and parses DIR/manifest.json. NotFound ("a half-written backup, or not a backup") when
// it is missing; InvalidArgument when it is over kMaxManifestBytes or does not parse.
Result<BackupManifest> ReadManifest(const std::string& dir);

// Checks that every file the manifest names has its size and digest. Corruption naming the
// file otherwise.
Status VerifyBackupFiles(const std::string& dir, const BackupManifest& manifest);

}  // namespace portrait::store
