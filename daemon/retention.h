// Retention: applies the config's [[retention]] rules — events of a type, or fields of a class,
// older than their `retain` — skipping profiles under legal hold. Each rule's purge and its
// audit record ("retention.purge", actor system, with the count) commit together.
#pragma once

#include <spdlog/logger.h>

#include "config/config.h"
#include "store/store.h"

namespace portrait::daemon {

// Runs every rule as of `now_us`; returns how many events and fields were purged.
Result<int64_t> RunRetention(const config::Config& config, store::Store& store, int64_t now_us,
                             spdlog::logger& log);

}  // namespace portrait::daemon
