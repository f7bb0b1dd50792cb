// What the key-rotation tests share: a real portraitd with customers whose every field, event
// and consent is snapshotted over HTTP, `portraitctl key rotate|status` run as a user would,
// and checks that a data directory opens with one master key and not with another.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/daemon_harness.h"

namespace portrait::testing {

class KeyRotation : public ::testing::Test {
 protected:
  static constexpr int kCustomers = 12;

  void SetUp() override;
  void TearDown() override;

  // The master key file's bytes now.
  std::string KeyBytes() const;
  std::string KeyFile() const { return daemon_.dir() / "var/master.key"; }
  // portraitctl with `args` (and `env` before it: "NAME=VALUE "); `out` gets its output and
  // stderr.
  int Ctl(const std::string& args, std::string* out, const std::string& env = "") const;
  // `audit verify --file FILE --pubkey KEY` (offline: no config).
  int VerifyExport(const std::string& file, const std::string& key, std::string* out) const;
  // `key status --json`.
  nlohmann::json Status() const;
  // Every customer's export (fields, events, consents, metrics) and each email lookup's ids,
  // over HTTP from the running daemon.
  std::map<std::string, nlohmann::json> Snapshot();
  // Whether both databases open (with the raw sqlcipher keys derived from `master`).
  bool DatabasesOpenWith(const std::string& master) const;

  Daemon daemon_;
  std::map<std::string, nlohmann::json> before_;
};

// The audit public key (hex) of the master key `master` (32 raw bytes).
std::string AuditPublicKeyOf(const std::string& master);

}  // namespace portrait::testing
