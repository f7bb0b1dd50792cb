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
  for (const config::SourceFile& f : files) {
    for (const std::string* part : {&f.path, &f.text}) {
      const uint64_t size = part->size();
      crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(&size), sizeof size);
      crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(part->data()),
                                part->size());
    }
  }
  std::string digest(32, '\0');
  crypto_generichash_final(&state, reinterpret_cast<unsigned char*>(digest.data()), 32);
  return std::make_shared<const LoadedRules>(std::move(config), std::move(set),
                                             crypto::ToHex(digest));
}

}  // namespace portrait::daemon
