// CloudEvents 1.0 (JSON format) as portrait ingests them: one event object or an array of them.
// Parsing and validation run on the I/O threads, before anything reaches the writer; the blind
// digests of the event id and subject are computed here too.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/result.h"
#include "crypto/blind_index.h"

namespace portrait::daemon {

struct IncomingEvent {
  std::string id;       // the client's id; a repeat is a duplicate
  std::string type;     // e.g. order.placed
  std::string subject;  // the profile's external id
  int64_t time_us = 0;
  nlohmann::json data = nlohmann::json::object();
  std::string key;  // blind digest of `id`: what the store deduplicates on
  // `data` sealed on the I/O thread for the profile that had the subject then (0: not sealed);
  // the writer uses it only if the subject still has that profile (ids are never reused).
  int64_t sealed_for = 0;
  std::string sealed_data;
};

// At most this many events in one request.
inline constexpr size_t kMaxEventsPerRequest = 10'000;

// How far into the future an event's time may lie unless the config says otherwise.
inline constexpr int64_t kDefaultEventFutureUs = 7 * 86'400'000'000LL;

// Checks `body` (an event object or a non-empty array of them) and returns the events.
// InvalidArgument names the offending member, e.g. "[3].time: expected an RFC 3339 time".
// `time` defaults to `now_us`; it may not lie before 1970 or more than `max_future_us` after
// `now_us`. Extension attributes are accepted and dropped (never stored).
Result<std::vector<IncomingEvent>> ParseCloudEvents(const nlohmann::json& body, int64_t now_us,
                                                    const crypto::BlindIndex& blind,
                                                    int64_t max_future_us = kDefaultEventFutureUs);

}  // namespace portrait::daemon
