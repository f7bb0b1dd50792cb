// TokenRegistry: API tokens for people and systems. A token is "ptk_" + 43 base64url characters
// (32 random bytes); it is shown once, at creation, and stored only as a keyed BLAKE2b digest
// (the hierarchy's token key), so a copy of the database yields no usable token. Creation and
// revocation are audited in the same transaction. Thread-safe if the Store is.
#pragma once

#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "crypto/blind_index.h"
#include "store/audit_log.h"
#include "store/data_dir.h"
#include "store/store.h"

namespace portrait::store {

class TokenRegistry {
 public:
  // `hasher` keyed with KeyHierarchy::token_key(); creations and revocations commit through
  // `audit`. References must outlive the registry.
  TokenRegistry(Store& store, AuditLog& audit, const crypto::BlindIndex& hasher, const Clock& clock)
      : store_(store), audit_(audit), hasher_(hasher), clock_(clock) {}

  // Creates a token for `role` named `name` (1-64 of [A-Za-z0-9._-]); returns the token, the
  // only time it is ever available. Conflict if an active token has the name. `actor` is
  // recorded in the audit log. The caller checks that the role exists.
  Result<std::string> Create(std::string_view name, std::string_view role, std::string_view actor);
  // Every token ever created (never the secret): name, role, created, last used, revoked.
  Result<std::vector<TokenRow>> List();
  // Revokes the active token `name`; NotFound if there is none.
  Status Revoke(std::string_view name, std::string_view actor);
  // The active token matching `token`; PermissionDenied (without saying why) otherwise. The
  // digest comparison is constant-time.
  Result<TokenRow> Authenticate(std::string_view token);

 private:
  Store& store_;
  AuditLog& audit_;
  const crypto::BlindIndex& hasher_;
  const Clock& clock_;
};

// Creates a token in a data directory no daemon has open (`portraitctl init`, tests,
// benchmarks), audited as the daemon audits it. Returns the token.
Result<std::string> CreateToken(DataDir& data, std::string_view name, std::string_view role,
                                std::string_view actor, const Clock& clock);

}  // namespace portrait::store
