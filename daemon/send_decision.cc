#include "daemon/send_decision.h"

#include "base/time_format.h"
#include "daemon/consent_service.h"
#include "dispatch/send_policy.h"
#include "rules/calendar.h"

namespace portrait::daemon {
namespace {

// The cap, reached: deferred to the next local midnight, or suppressed.
SendVerdict OverCap(const config::FrequencyCap& cap, const date::time_zone* zone, int64_t now) {
  const std::string over = "over the cap of " + std::to_string(cap.max) + " per " +
                           std::to_string(cap.per.count() / 86'400) + "d";
  if (!cap.defer) {
    return SendVerdict::Suppress(over);
  }
  const int64_t next = dispatch::NextLocalMidnight(zone, now);
  return SendVerdict::Defer(next, over + "; due again " + FormatRfc3339(next));
}

}  // namespace

SendVerdict CheckConsent(const ConsentFacts& f, int64_t now) {
  if (!f.purpose) {
    return SendVerdict::Suppress("purpose '" + std::string(f.purpose_name) +
                                 "' is no longer in the configuration");
  }
  auto channel = consent::ParseChannel(f.channel);
  if (!channel) {
    return SendVerdict::Suppress("unknown channel '" + std::string(f.channel) + "'");
  }
  if (!f.ledger) {
    return SendVerdict::Wait("its consent ledger could not be read");
  }
  const TaskConsent allowed =
      CheckTaskConsent(*f.purpose, f.sink, f.sensitive, *channel, *f.ledger, now);
  if (!allowed.allowed) {
    return SendVerdict::Suppress(allowed.reason);
  }
  if (allowed.personalise || !f.personalised) {
    return SendVerdict::Send();
  }
  if (!f.has_plain) {
    return SendVerdict::Suppress(
        "the customer opted out of personalisation and the trigger has no message_plain");
  }
  return SendVerdict::Send(/*plain=*/true);
}

SendVerdict Pace(const config::Purpose& purpose, const PaceFacts& f, int64_t now) {
  const date::time_zone* zone = rules::FindZone(f.zone);
  if (!zone) {
    return SendVerdict::Wait("time zone unknown");  // checked on write; tzdata changed?
  }
  if (auto end = dispatch::QuietHoursEnd(purpose.quiet_hours, zone, now)) {
    return SendVerdict::Defer(*end, "quiet hours " + purpose.quiet_hours + " in " +
                                        std::string(f.zone) + "; due again " + FormatRfc3339(*end));
  }
  if (!purpose.cap) {
    return SendVerdict::Send();
  }
  if (!f.cap_count) {
    return SendVerdict::Wait("the tasks counted against its cap could not be read");
  }
  if (*f.cap_count < purpose.cap->max) {
    return SendVerdict::Send();
  }
  return OverCap(*purpose.cap, zone, now);
}

SendVerdict DecideSend(const ConsentFacts& consent, const PaceFacts& pace, int64_t now) {
  SendVerdict allowed = CheckConsent(consent, now);
  if (allowed.kind != SendVerdict::Kind::kSend) {
    return allowed;
  }
  SendVerdict paced = Pace(*consent.purpose, pace, now);
  paced.plain = allowed.plain;
  return paced;
}

std::optional<int64_t> CapWindowStartIn(const config::Purpose& purpose, std::string_view zone,
                                        int64_t now) {
  const date::time_zone* tz = rules::FindZone(zone);
  if (!purpose.cap || !tz) {
    return std::nullopt;
  }
  return dispatch::CapWindowStart(*purpose.cap, tz, now);
}

Result<int64_t> CountTowardsCap(store::Store& store, store::ProfileId profile,
                                std::string_view purpose, int64_t since) {
  PORTRAIT_ASSIGN_OR_RETURN(int64_t delivered, store.CountDelivered(profile, purpose, since));
  store::TaskFilter on_the_way;
  on_the_way.profile_id = profile;
  on_the_way.state = store::TaskStateName(store::TaskState::kSending);
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::TaskRow> sending, store.ListTasks(on_the_way));
  for (const store::TaskRow& t : sending) {
    delivered += t.purpose == purpose;
  }
  return delivered;
}

}  // namespace portrait::daemon
