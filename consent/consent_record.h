// A consent record: one entry of a customer's append-only consent ledger, and the names of its
// enumerations as they appear in the API and config. Plain values; thread-safe to share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "config/channel.h"

namespace portrait::consent {

using config::Channel;  // the one list of channels, shared with the rules
enum class ConsentStatus { kGranted, kWithdrawn, kObjected };

// What a record consents to: processing for the purpose, or the separate consents PIPL and GDPR
// require for sensitive fields (PIPL art. 29, GDPR art. 9) and for transfer to a third party
// (PIPL art. 23).
enum class ConsentScope { kProcessing, kSensitive, kTransfer };

struct ConsentRecord {
  int64_t id = 0;  // assigned by the store, ascending
  std::string purpose;
  ConsentScope scope = ConsentScope::kProcessing;
  Channel channel = Channel::kAny;
  ConsentStatus status = ConsentStatus::kGranted;
  int64_t time_us = 0;     // when the customer gave or withdrew it
  std::string source;      // e.g. "web-signup", "call-center"
  std::string notice;      // version of the privacy notice shown, e.g. "2026-03"
  std::string evidence;    // e.g. a form or recording reference; stored sealed
  std::string actor;       // who recorded it: token name, or "system"
  int64_t expires_us = 0;  // 0: does not expire
};

// Channels and their names: config/channel.h.
using config::ChannelName;
using config::ParseChannel;

std::string_view StatusName(ConsentStatus s);
std::string_view ScopeName(ConsentScope s);
// InvalidArgument listing the accepted names when `name` is not one of them.
Result<ConsentStatus> ParseStatus(std::string_view name);
Result<ConsentScope> ParseScope(std::string_view name);

}  // namespace portrait::consent
