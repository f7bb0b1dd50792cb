// Deterministic sample customers for the quick start, tests and benchmarks: Chinese and Latin
// names, cities with their time zones, valid phone numbers and emails, birthdays (29 February
// among them), tags. Customer i of seed s is always the same, on every machine. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace portrait::examples {

struct SampleCustomer {
  std::string external_id;  // "cust-000042"
  nlohmann::json patch;     // a ProfileVault::Upsert body: fields, tags, timezone
};

class SampleData {
 public:
  explicit SampleData(uint64_t seed) : seed_(seed) {}

  // Customer number `index` (0-based). Every 40th is born on 29 February.
  SampleCustomer Customer(int index) const;

 private:
  uint64_t seed_;
};

}  // namespace portrait::examples
