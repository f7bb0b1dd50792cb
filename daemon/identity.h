// Identity matching, "one person, one profile": for an import row whose external id is new,
// whether its normalised match fields (e.g. email, phone) find an existing profile through the
// blind index. Used by the profile import's `--match email,phone`.
//
//   IdentityMatcher matcher(config, store, blind);
//   PORTRAIT_RETURN_IF_ERROR(IdentityMatcher::CheckMatchFields(config, {"email", "phone"}));
//   PORTRAIT_ASSIGN_OR_RETURN(IdentityMatch m, matcher.Match(row_fields, {"email", "phone"}));
//   kNone       -> create the profile as usual
//   kOne        -> write the row's fields to profile m.profile_id and, in the same Batch,
//                  batch.aliases.push_back(NewAlias(vault, row_id, m.profile_id, now)): the row's
//                  id then leads to that profile for reads, writes, consents and events
//   kAmbiguous  -> report the row (the ids matched are deliberately not returned), write nothing
//
// Each match field present in the row with a non-null value is normalised as a profile write
// would store it (store/field_value.h: E.164 phones, lower-cased emails) and looked up with
// Store::LookupBlind; the profiles found through all the fields together decide: none, exactly
// one, or more than one (also when email and phone point at two different profiles).
// Match only rows whose id is new (ProfileVault::IdOf says NotFound): a known id, or an alias,
// is already one person. Errors name the field, never the value. Thread-safe if the Store is.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "crypto/blind_index.h"
#include "store/profile_vault.h"
#include "store/store.h"

namespace portrait::daemon {

enum class MatchKind { kNone, kOne, kAmbiguous };

struct IdentityMatch {
  MatchKind kind = MatchKind::kNone;
  store::ProfileId profile_id = 0;  // kOne only
};

class IdentityMatcher {
 public:
  // All references must outlive the matcher.
  IdentityMatcher(const config::Config& config, store::Store& store,
                  const crypto::BlindIndex& blind)
      : config_(config), store_(store), blind_(blind) {}

  // Ok when every name is a declared, blind-indexed field; InvalidArgument naming the first that
  // is not (and for an empty list). Check once per import, before the first row.
  static Status CheckMatchFields(const config::Config& config,
                                 const std::vector<std::string>& match_fields);

  // `fields` is the row's {field name: value}, as in a profile write. InvalidArgument naming the
  // field when a match field's value doesn't fit it (e.g. not a phone number); a field named in
  // `match_fields` that is not blind-indexed is refused the same way.
  Result<IdentityMatch> Match(const nlohmann::json& fields,
                              const std::vector<std::string>& match_fields) const;
  // The same for a row already checked and normalised (store::ProfileVault::CheckPatch): its
  // `set` values' index keys are looked up as they are; fields it removes are not matched.
  // `visible`, when given, says whether a profile found through a field may be matched for
  // the caller (its consent ledger lets the caller's purpose process that field); a profile it
  // hides is treated as not found, so the outcome tells nothing about it.
  using Visible = std::function<Result<bool>(store::ProfileId, const std::string& field)>;
  Result<IdentityMatch> MatchChecked(const store::CheckedPatch& patch,
                                     const std::vector<std::string>& match_fields,
                                     const Visible& visible = nullptr) const;

  // The blind digests standing for the match fields `patch` sets, as "field\x1fdigest" keys:
  // two rows sharing one of them name one person.
  std::vector<std::string> MatchKeys(const store::CheckedPatch& patch,
                                     const std::vector<std::string>& match_fields) const;

 private:
  // Adds the profiles whose blind-indexed `field` has `index_key` to `found`; true once more
  // than one profile is found.
  Result<bool> Lookup(const std::string& field, const std::string& index_key,
                      std::set<store::ProfileId>& found) const;
  static IdentityMatch Decide(const std::set<store::ProfileId>& found);

  const config::Config& config_;
  store::Store& store_;
  const crypto::BlindIndex& blind_;
};

// The alias that makes `external_id` lead to profile `target` (add it to the Batch that writes
// the row): its blind digest, as ProfileVault::ExtKey makes it. InvalidArgument if the id is
// empty, over 256 bytes or holds control characters. The commit fails with Conflict when the id
// is a profile's own or an alias of another profile.
Result<store::AliasRow> NewAlias(const store::ProfileVault& vault, std::string_view external_id,
                                 store::ProfileId target, int64_t now_us);

}  // namespace portrait::daemon
