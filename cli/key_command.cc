#include "cli/key_command.h"

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/daemon_connection.h"
#include "config/loader.h"
#include "crypto/audit_signer.h"
#include "crypto/key_hierarchy.h"
#include "crypto/master_key.h"
#include "store/data_dir_lock.h"
#include "store/key_rotation.h"

namespace portrait::cli {
namespace {

using store::RotationState;

struct KeyOptions {
  std::string config_path = "portrait.toml";
  std::string new_passphrase_env = "PORTRAIT_NEW_PASSPHRASE";
  bool json = false;
};

// The audit public key (hex) of the master key in `key_file`; empty if it can't be read.
std::string AuditPublicKey(const std::string& key_file) {
  auto master = crypto::LoadKeyFile(key_file);
  auto keys = master ? crypto::KeyHierarchy::Create(*master) : Error(master.error());
  auto signer = keys ? crypto::AuditSigner::Create(keys->audit_seed()) : Error(keys.error());
  return signer ? crypto::ToHex(signer->public_key()) : "";
}

const char* StateName(RotationState state) {
  switch (state) {
    case RotationState::kNone:
      return "none";
    case RotationState::kUncommitted:
      return "uncommitted";
    case RotationState::kCommitted:
      return "committed";
  }
  return "none";
}

void PrintStatus(const config::Config& config, RotationState state, const std::string& key_file,
                 const std::string& in_use) {
  const std::string where = key_file.empty() ? "the passphrase" : key_file;
  if (!in_use.empty()) {
    std::cout << in_use << "\n";
  }
  if (state == RotationState::kNone) {
    std::cout << "no rotation under way: the store is on the key in force (" << where << ")\n";
  } else if (state == RotationState::kUncommitted) {
    std::cout << "a key rotation stopped before its commit: the store is on the OLD key (" << where
              << ").\nTo finish: `portraitctl key rotate` rolls it back and rotates "
              << "again; starting portraitd rolls it back.\n";
  } else {
    std::cout << "a key rotation stopped after its commit: the store is on the NEW key ("
              << (key_file.empty()
                      ? "the new passphrase, in " + config.keys.passphrase_env + " from now on"
                      : key_file)
              << ").\nTo finish: `portraitctl key rotate` completes it (and rotates no "
              << "further); starting portraitd completes it.\n";
  }
}

int RunStatus(const KeyOptions& opts) {
  auto config = config::LoadConfig(opts.config_path);
  if (!config) {
    return Fail("key status", config.error());
  }
  const store::RotationPaths paths = store::RotationPathsFor(*config);
  const RotationState state = store::InspectRotation(paths);
  // The file that holds the key the store is on: KEY_FILE.next while a committed rotation
  // has not moved it yet.
  std::string key_file = paths.key_file;
  if (state == RotationState::kCommitted && !paths.key_next.empty() &&
      crypto::LoadKeyFile(paths.key_next)) {
    key_file = paths.key_next;
  }
  std::string in_use;
  if (auto lock = store::DataDirLock::Acquire(config->daemon.data_dir, "portraitctl key status");
      !lock) {
    in_use = lock.error().message();
  }
  const std::string public_key = key_file.empty() ? "" : AuditPublicKey(key_file);
  if (opts.json) {
    const char* key = state == RotationState::kNone          ? "in_force"
                      : state == RotationState::kUncommitted ? "old"
                                                             : "new";
    std::cout << nlohmann::json{{"state", StateName(state)},
                                {"key", key},
                                {"key_file", key_file},
                                {"audit_public_key", public_key},
                                {"in_use_by", in_use}}
                     .dump()
              << "\n";
  } else {
    PrintStatus(*config, state, key_file, in_use);
    if (!public_key.empty()) {
      std::cout << "audit public key: " << public_key << "\n";
    }
  }
  return 0;
}

void PrintRotation(const config::Config& config, const store::RotationReport& r, double seconds) {
  if (r.interrupted == RotationState::kCommitted) {
    std::cout << "finished the key rotation a crash interrupted after its commit: the store is "
                 "on the new key; no further rotation done\n";
    return;
  }
  if (r.interrupted == RotationState::kUncommitted) {
    std::cout << "rolled back a key rotation a crash interrupted before its commit\n";
  }
  std::cout << "rotated the master key of " << config.daemon.data_dir << " in " << seconds
            << " s: " << r.data_keys << " data keys rewrapped, " << r.notices
            << " erasure notices resealed, " << r.audit_records
            << " audit records verified and MACed anew; both databases copied under new keys\n";
  if (!config.keys.file.empty()) {
    std::cout << "new master key: " << config.keys.file
              << " (mode 0600; back it up apart from the data; the old key opens nothing now)\n";
  } else {
    std::cout << "start portraitd with the new passphrase in " << config.keys.passphrase_env
              << "; the old one opens nothing now\n";
  }
  std::cout << "audit public key: " << r.old_public_key << " -> " << r.new_public_key
            << "\n(give the new one to your auditors; an export spanning the rotation verifies "
               "with either)\n";
}

int RunRotate(const KeyOptions& opts) {
  auto config = config::LoadConfig(opts.config_path);
  if (!config) {
    return Fail("key rotate", config.error());
  }
  SystemClock clock;
  store::RotationOptions options;
  options.new_passphrase_env = opts.new_passphrase_env;
  options.clock = &clock;
  const auto start = std::chrono::steady_clock::now();
  auto report = store::RotateMasterKey(*config, options);
  if (!report) {
    return Fail("key rotate", report.error());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (opts.json) {
    std::cout << nlohmann::json{{"interrupted", StateName(report->interrupted)},
                                {"rotated", report->rotated},
                                {"data_keys", report->data_keys},
                                {"erasure_notices", report->notices},
                                {"audit_records", report->audit_records},
                                {"old_public_key", report->old_public_key},
                                {"new_public_key", report->new_public_key},
                                {"seconds", seconds}}
                     .dump()
              << "\n";
  } else {
    PrintRotation(*config, *report, seconds);
  }
  return 0;
}

}  // namespace

void AddKeyCommand(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<KeyOptions>();
  CLI::App* key = app.add_subcommand("key", "Rotate the master key (offline) and see its state");
  key->require_subcommand(1);

  CLI::App* rotate = key->add_subcommand(
      "rotate",
      "Rotate the master key, offline (stop portraitd first): a new key file (mode 0600) or, "
      "with a passphrase, the new passphrase from --new-passphrase-env; both databases copied "
      "under new keys, every data key rewrapped, the audit log's signing key changed with a "
      "key.rotate record. A crash at any moment leaves the store on exactly one of the two "
      "keys; run it again to finish.\n"
      "  portraitctl key rotate --config /etc/portrait/portrait.toml   # portraitd stopped first");
  rotate->add_option("-c,--config", opts->config_path, "path of portrait.toml")
      ->capture_default_str();
  rotate
      ->add_option("--new-passphrase-env", opts->new_passphrase_env,
                   "with a passphrase key: the environment variable holding the new passphrase")
      ->capture_default_str();
  rotate->add_flag("--json", opts->json, "print the result as JSON");
  rotate->callback([opts, &exit_code] { exit_code = RunRotate(*opts); });

  CLI::App* status = key->add_subcommand(
      "status",
      "Say which key the store is on, whether a rotation was interrupted, and how to finish it.\n"
      "  portraitctl key status --config portrait.toml --json");
  status->add_option("-c,--config", opts->config_path, "path of portrait.toml")
      ->capture_default_str();
  status->add_flag("--json", opts->json, "print the result as JSON");
  status->callback([opts, &exit_code] { exit_code = RunStatus(*opts); });
}

}  // namespace portrait::cli
