// The password of a PostgreSQL role, from where [store] says: an environment variable or a
// file readable by its owner only, never the config itself. Read into guarded memory.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "crypto/secret.h"

namespace portrait::store::pg {

// The password in environment variable `env`, or in the file at `file` (its content, less one
// trailing newline), or nullopt when neither is named (libpq's own sources then). InvalidArgument
// when the variable is unset or empty, or the file empty or over 1 KiB; PermissionDenied when
// the file is readable by others than its owner; NotFound when it does not exist. `what` names
// it in errors ("[store] password").
Result<std::optional<crypto::SecretBytes>> ReadPassword(std::string_view env,
                                                        const std::string& file,
                                                        std::string_view what);

}  // namespace portrait::store::pg
