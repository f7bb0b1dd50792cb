// The send decision: whether a claimed task may go now, from facts the dispatcher has read — its
// purpose and sink in the configuration, the customer's consent ledger, the profile's time zone
// and how many of the profile's tasks count against the purpose's frequency cap. The verdict
// sends (possibly the plain message), defers until a time, suppresses or cancels with a reason,
// or waits (leaves the task as it is, to be decided again next round) when a fact could not be
// read. Pure: no I/O, no threads; the dispatcher reads, this decides. Reasons never hold a value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "consent/consent_record.h"
#include "store/store.h"

namespace portrait::daemon {

struct SendVerdict {
  enum class Kind { kSend, kDefer, kSuppress, kCancel, kWait };
  Kind kind = Kind::kWait;
  std::string reason;
  int64_t until_us = 0;  // kDefer: when to look again
  bool plain = false;    // kSend: the customer opted out of personalisation; send message_plain

  static SendVerdict Send(bool plain = false) { return {Kind::kSend, "", 0, plain}; }
  static SendVerdict Defer(int64_t until_us, std::string why) {
    return {Kind::kDefer, std::move(why), until_us, false};
  }
  static SendVerdict Suppress(std::string why) {
    return {Kind::kSuppress, std::move(why), 0, false};
  }
  static SendVerdict Cancel(std::string why) { return {Kind::kCancel, std::move(why), 0, false}; }
  static SendVerdict Wait(std::string why = "") { return {Kind::kWait, std::move(why), 0, false}; }
};

// What the consent check needs to know about a task.
struct ConsentFacts {
  std::string_view purpose_name;             // as the task names it
  const config::Purpose* purpose = nullptr;  // nullptr: no longer in the configuration
  const config::Sink* sink = nullptr;        // its sink (third_party needs a transfer consent)
  std::string_view channel;                  // as stored on the task
  bool sensitive = false;                    // the trigger reads or sends a sensitive field
  bool personalised = true;                  // the message carries profile fields
  bool has_plain = false;                    // the trigger has a message_plain to send instead
  const std::vector<consent::ConsentRecord>* ledger = nullptr;  // nullptr: could not be read
};

// The purpose still configured, the lawful basis, the sensitive and transfer consents and the
// personalisation opt-out at `now_us`: kSend (with `plain` for an opted-out customer), kSuppress,
// or kWait when the ledger could not be read. Checked at the claim and right before the attempt.
SendVerdict CheckConsent(const ConsentFacts& facts, int64_t now_us);

// What pacing needs to know.
struct PaceFacts {
  std::string_view zone;  // the profile's time zone, else the daemon's
  // The profile's tasks of the purpose counted against its cap: delivered inside the window
  // (CapWindowStartIn), on their way, and claimed this round; an error when they could not be
  // counted. Ignored when the purpose has no cap.
  Result<int64_t> cap_count = 0;
};

// Quiet hours in the profile's zone (kDefer to their end), then the cap (kDefer to the next
// local midnight, or kSuppress, when reached); kWait when the zone is unknown or the count
// failed; else kSend.
SendVerdict Pace(const config::Purpose& purpose, const PaceFacts& facts, int64_t now_us);

// CheckConsent, then Pace.
SendVerdict DecideSend(const ConsentFacts& consent, const PaceFacts& pace, int64_t now_us);

// Where the purpose's cap window starts in `zone` at `now_us`; nullopt when it has no cap or
// the zone is unknown.
std::optional<int64_t> CapWindowStartIn(const config::Purpose& purpose, std::string_view zone,
                                        int64_t now_us);

// The profile's tasks of `purpose` that count against its cap from `since_us`: those delivered
// since, and those being sent. An error when either read fails (never counted as none).
Result<int64_t> CountTowardsCap(store::Store& store, store::ProfileId profile,
                                std::string_view purpose, int64_t since_us);

}  // namespace portrait::daemon
