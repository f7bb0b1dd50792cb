// Deterministic sample customers for the quick start, tests and benchmarks: Chinese and Latin
// names, cities with their time zones, valid phone numbers and emails, birthdays (29 February
// among them), tags, consents, and orders and carts spread over the two years before a given
// instant. Customer i of seed s is always the same, on every machine. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace portrait::examples {

struct SampleCustomer {
  std::string external_id;  // "cust-000042"
  nlohmann::json patch;     // a ProfileVault::Upsert body: fields, tags, timezone
  nlohmann::json consents;  // POST /v1/profiles/{id}/consents bodies, oldest first
  nlohmann::json events;    // CloudEvents (order.placed, cart.updated), oldest first
};

class SampleData {
 public:
  explicit SampleData(uint64_t seed) : seed_(seed) {}

  // Customer number `index` (0-based). Every 40th is born on 29 February. Consent and event
  // times fall in the two years before `now_us` (events: 0-12 orders, 0-3 carts; one customer in
  // ten has a cart from the last hour, so cart abandonment fires soon after loading).
  SampleCustomer Customer(int index, int64_t now_us = 1'790'000'000'000'000) const;

 private:
  uint64_t seed_;
};

}  // namespace portrait::examples
