// Reading a customer's consent ledger: which record is in force, the current state, and whether
// a purpose's lawful basis holds — with the reason, naming the deciding record. Pure functions
// over the records; thread-safe.
//
// The record in force for (purpose, scope, channel) at instant `now`:
//   - only records made at or before `now` count; the latest wins (ties: the higher id);
//   - a record for the exact channel outranks one for `any`,
//   - except that a withdrawal or objection for `any` made after it still applies: consent must
//     be as easy to withdraw everywhere as it was to give (GDPR art. 7(3)).
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "consent/consent_record.h"

namespace portrait::consent {

// The deciding record, or nullptr when none applies.
const ConsentRecord* RecordInForce(const std::vector<ConsentRecord>& records,
                                   std::string_view purpose, ConsentScope scope, Channel channel,
                                   int64_t now_us);

// The latest record for every (purpose, scope, channel) that has one, at `now`.
std::vector<ConsentRecord> CurrentState(const std::vector<ConsentRecord>& records, int64_t now_us);

struct BasisDecision {
  bool allowed = false;
  std::string reason;     // e.g. "consent granted (record 12)", "no consent record for sms"
  int64_t record_id = 0;  // the deciding record, 0 when none
};

// Whether processing for `purpose` on `channel` is lawful at `now`:
//   consent: needs a granted, unexpired record in force;
//   contract, legitimate_interest: allowed unless the record in force is an objection.
BasisDecision CheckLawfulBasis(const config::Purpose& purpose, Channel channel,
                               const std::vector<ConsentRecord>& records, int64_t now_us);

// Whether the separate consent of `scope` (sensitive or transfer) for `purpose` holds: a granted,
// unexpired record in force, whatever the purpose's basis.
BasisDecision CheckSeparateConsent(ConsentScope scope, std::string_view purpose, Channel channel,
                                   const std::vector<ConsentRecord>& records, int64_t now_us);

}  // namespace portrait::consent
