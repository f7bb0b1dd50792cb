#include "daemon/rules_holder.h"

#include <sodium.h>

#include <filesystem>

#include "config/source_files.h"
#include "crypto/audit_signer.h"

namespace portrait::daemon {
namespace {

// Hex BLAKE2b-256 of `parts`, each length-prefixed.
std::string Digest(const std::vector<std::string>& parts) {
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, 32);
  for (const std::string& part : parts) {
    const uint64_t size = part.size();
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(&size), sizeof size);
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(part.data()),
                              part.size());
  }
  std::string digest(32, '\0');
  crypto_generichash_final(&state, reinterpret_cast<unsigned char*>(digest.data()), 32);
  return crypto::ToHex(digest);
}

}  // namespace

Result<std::shared_ptr<const LoadedRules>> LoadRules(std::shared_ptr<const config::Config> config) {
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<config::SourceFile> files, config::ReadRuleFiles(*config));
  PORTRAIT_ASSIGN_OR_RETURN(rules::RuleSet set, rules::ParseRules(files, *config));
  // Timers depend on the rule files and on the config's time zone (anniversaries of profiles
  // without their own zone, schedules): a change of either re-arms them.
  std::vector<std::string> parts = {config->daemon.timezone};
  std::vector<std::string> shared = {config->daemon.timezone};
  for (const config::SourceFile& f : files) {
    parts.push_back(f.path);
    parts.push_back(f.text);
    shared.push_back(std::filesystem::path(f.path).filename().string());
    shared.push_back(f.text);
  }
  return std::make_shared<const LoadedRules>(std::move(config), std::move(set), Digest(parts),
                                             Digest(shared));
}

}  // namespace portrait::daemon
