// A profile's stored events opened, and the values kept from events (metrics, purchase books)
// computed again from them: what a merge and the rebuild pass of kept values share. Pure but for
// the store read; thread-safe.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "rules/metrics.h"
#include "rules/rule_set.h"
#include "store/profile_vault.h"

namespace portrait::daemon {

struct PlainEvent {
  std::string key;
  std::string type;
  int64_t time_us = 0;
  nlohmann::json data;
};

// Open profile `p`'s stored events whose type `wanted` accepts (every one when it is empty),
// opened with its key, in (time, key) order. An event that does not open or hold JSON is
// Corruption — or, given `unreadable`, left out and counted there.
Result<std::vector<PlainEvent>> OpenEvents(store::Store& store, const store::OpenProfile& p,
                                           const std::function<bool(std::string_view)>& wanted,
                                           int64_t* unreadable = nullptr);

// Applies `events`, in time order, to `metrics`: the values `defs` keep and the books of
// `models`.
void ApplyKept(const std::vector<rules::Metric>& defs, const std::vector<rules::Model>& models,
               const std::vector<PlainEvent>& events, nlohmann::json& metrics);

}  // namespace portrait::daemon
