// Retention: applies the config's [[retention]] rules — events of a type, or fields of a class,
// older than their `retain` — skipping profiles under legal hold. Each rule's purge and its
// audit record ("retention.purge", actor system, with the count) commit together.
#pragma once

#include "config/config.h"
#include "store/store.h"

namespace portrait::daemon {

struct RetentionRound {
  int64_t purged = 0;  // events and field values
  bool more = false;   // some rule reached `limit`: run another round
};

// Runs every rule as of `now_us`, each deleting at most `limit` rows in its own transaction.
// A backlog takes several rounds, each short enough not to hold the writer (the scheduler runs
// one per writer job, with the same `now_us`, until none has `more`).
Result<RetentionRound> RunRetention(const config::Config& config, store::Store& store,
                                    int64_t now_us, int64_t limit);

}  // namespace portrait::daemon
