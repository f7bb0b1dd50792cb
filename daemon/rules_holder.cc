#include "daemon/rules_holder.h"

#include <sodium.h>

#include "config/source_files.h"
#include "crypto/audit_signer.h"

namespace portrait::daemon {

Result<std::shared_ptr<const LoadedRules>> LoadRules(std::shared_ptr<const config::Config> config) {
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<config::SourceFile> files, config::ReadRuleFiles(*config));
  PORTRAIT_ASSIGN_OR_RETURN(rules::RuleSet set, rules::ParseRules(files, *config));
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, 32);
  // Timers depend on the rule files and on the config's time zone (anniversaries of profiles
  // without their own zone, schedules): a change of either re-arms them.
  std::vector<const std::string*> parts = {&config->daemon.timezone};
  for (const config::SourceFile& f : files) {
    parts.push_back(&f.path);
    parts.push_back(&f.text);
  }
  for (const std::string* part : parts) {
    const uint64_t size = part->size();
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(&size), sizeof size);
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(part->data()),
                              part->size());
  }
  std::string digest(32, '\0');
  crypto_generichash_final(&state, reinterpret_cast<unsigned char*>(digest.data()), 32);
  return std::make_shared<const LoadedRules>(std::move(config), std::move(set),
                                             crypto::ToHex(digest));
}

}  // namespace portrait::daemon
