// The scale benchmark's customers, generated in code (nothing stored in the repository):
// customer i (0-based) is always the same, on every machine. Each has the example config's six
// profile fields — name, phone (a valid Chinese mobile number in E.164, unique per customer),
// email (unique), city, birthday, gender — and three events. Birthdays fall uniformly on the
// days of 1950-2005, so about 1/365 of customers have each day of the year and 29 February
// comes with its leap years (about a quarter of a day's share). Pure; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace portrait::bench {

// The customer's external id: "c" and the number.
std::string CustomerId(int64_t i);
// The customer's email (lower case, as the daemon normalises it).
std::string CustomerEmail(int64_t i);
// One row of POST /v1/import/profiles: {"line": i + 2, "id", "fields"}.
nlohmann::json ImportRow(int64_t i);
// The customer's three CloudEvents (two orders and a cart), in the year before `now_s` (Unix
// seconds), ids "e<i>-<k>".
void AppendEvents(int64_t i, int64_t now_s, nlohmann::json& out);
// A consent record body: the customer's marketing consent by SMS, granted.
nlohmann::json ConsentBody();

// How many segments SegmentRules declares.
constexpr int kSegments = 10;
// Ten `[[segment]]`s s0..s9 over what the customers' profiles hold under the example rules:
// metrics, fields, tags, the stage, other segments; `threshold` moves their members.
std::string SegmentRules(int threshold);

}  // namespace portrait::bench
