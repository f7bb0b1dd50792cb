// Identity resolution for one profile import request ("match": ["email", "phone"]): decides,
// row by row in request order, which rows with a new id name a person already stored. Runs on
// the writer thread between ProfileVault::PrepareImport and CommitImport, so what it reads
// cannot change before the commit.
//
//   PORTRAIT_RETURN_IF_ERROR(
//       ResolveIdentities(matcher, store, {"email", "phone"}, visible, prepared));
//   vault.CommitImport(std::move(prepared), audit);
//
// A row whose id is known (a profile's own or an alias) is left alone: it is one person
// already. A row whose id is new and whose match fields find (among the profiles `visible`
// lets the caller match: one whose consent ledger hides the field from the caller's purpose
// counts as not found, as find-by-field does not name it)
//   - no profile: stays a new profile;
//   - exactly one: gets `merge_into` (CommitImport writes it there, its id becoming an alias);
//   - more than one (also email of one, phone of another): is reported {line, the match fields
//     it carries, "matches more than one profile"} and removed.
// A new row sharing a match value (same field, same normalised value) with an earlier row of
// the request is reported and removed, as CommitImport reports a second row naming one profile
// (an id and its alias): the earlier row's write (a new profile, an update, a merge) is not
// stored yet to match against, and two rows must not race for one person. The outcome depends
// only on the rows and the stored state, so a re-run decides the same. Reasons never carry a
// value.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "daemon/identity.h"
#include "store/profile_vault.h"
#include "store/store.h"

namespace portrait::daemon {

// Sets `merge_into` on the rows that match one profile and moves the refused rows to
// `prepared.errors`. `match_fields` must have passed IdentityMatcher::CheckMatchFields. A
// store failure is returned (the request then fails whole).
// `visible` filters the profiles found (IdentityMatcher::MatchChecked).
Status ResolveIdentities(const IdentityMatcher& matcher, store::Store& store,
                         const std::vector<std::string>& match_fields,
                         const IdentityMatcher::Visible& visible, store::PreparedImport& prepared);

}  // namespace portrait::daemon
