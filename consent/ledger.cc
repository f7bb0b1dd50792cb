#include "consent/ledger.h"

#include <map>
#include <tuple>

namespace portrait::consent {
namespace {

bool Later(const ConsentRecord& a, const ConsentRecord* b) {
  return !b || std::tie(a.time_us, a.id) > std::tie(b->time_us, b->id);
}

std::string Describe(const ConsentRecord& r) {
  return std::string(ScopeName(r.scope)) + " consent for " + r.purpose + "/" +
         std::string(ChannelName(r.channel));
}

BasisDecision NeedsGrant(const ConsentRecord* r, std::string_view what, Channel channel,
                         int64_t now_us) {
  if (!r) {
    return {false, "no " + std::string(what) + " record for " + std::string(ChannelName(channel)),
            0};
  }
  const std::string ref = " (record " + std::to_string(r->id) + ")";
  if (r->status == ConsentStatus::kWithdrawn) {
    return {false, Describe(*r) + " withdrawn" + ref, r->id};
  }
  if (r->status == ConsentStatus::kObjected) {
    return {false, Describe(*r) + " objected" + ref, r->id};
  }
  if (r->expires_us != 0 && r->expires_us <= now_us) {
    return {false, Describe(*r) + " expired" + ref, r->id};
  }
  return {true, Describe(*r) + " granted" + ref, r->id};
}

}  // namespace

const ConsentRecord* RecordInForce(const std::vector<ConsentRecord>& records,
                                   std::string_view purpose, ConsentScope scope, Channel channel,
                                   int64_t now_us) {
  const ConsentRecord* exact = nullptr;
  const ConsentRecord* any = nullptr;
  for (const ConsentRecord& r : records) {
    if (r.purpose != purpose || r.scope != scope || r.time_us > now_us) {
      continue;
    }
    if (r.channel == channel && Later(r, exact)) {
      exact = &r;
    } else if (r.channel == Channel::kAny && Later(r, any)) {
      any = &r;
    }
  }
  if (!exact) {
    return any;
  }
  if (any && any->status != ConsentStatus::kGranted && Later(*any, exact)) {
    return any;
  }
  return exact;
}

std::vector<ConsentRecord> CurrentState(const std::vector<ConsentRecord>& records, int64_t now_us) {
  std::map<std::tuple<std::string, ConsentScope, Channel>, const ConsentRecord*> latest;
  for (const ConsentRecord& r : records) {
    if (r.time_us > now_us) {
      continue;
    }
    auto& slot = latest[{r.purpose, r.scope, r.channel}];
    if (Later(r, slot)) {
      slot = &r;
    }
  }
  std::vector<ConsentRecord> out;
  for (const auto& [key, r] : latest) {
    out.push_back(*r);
  }
  return out;
}

BasisDecision CheckLawfulBasis(const config::Purpose& purpose, Channel channel,
                               const std::vector<ConsentRecord>& records, int64_t now_us) {
  const ConsentRecord* r =
      RecordInForce(records, purpose.name, ConsentScope::kProcessing, channel, now_us);
  if (purpose.basis == config::LawfulBasis::kConsent) {
    return NeedsGrant(r, "consent", channel, now_us);
  }
  const std::string basis =
      purpose.basis == config::LawfulBasis::kContract ? "contract" : "legitimate interest";
  if (r && r->status == ConsentStatus::kObjected) {
    return {false,
            "customer objected to " + purpose.name + " (record " + std::to_string(r->id) + ")",
            r->id};
  }
  return {true, basis + " basis; no objection", r ? r->id : 0};
}

BasisDecision CheckSeparateConsent(ConsentScope scope, std::string_view purpose, Channel channel,
                                   const std::vector<ConsentRecord>& records, int64_t now_us) {
  const ConsentRecord* r = RecordInForce(records, purpose, scope, channel, now_us);
  return NeedsGrant(r, std::string(ScopeName(scope)) + " consent", channel, now_us);
}

}  // namespace portrait::consent
