// DerivedCrons: runs each [[model]]'s fit and each [[score]]'s refresh when its `refresh` cron
// comes due (in the config's time zone), on the JobRunner like the API's, as actor "system".
// The server's timer calls Tick every few seconds. The next run of each is computed when the
// rules in force change (at start: the next occurrence after now; a run missed while the
// daemon was down is not made up — the next one comes). A fit or refresh of the name still
// queued or running (the cron's or the API's: they share the JobRunner key) is not queued
// again. A failure is logged by its message (which names no personal value) and the
// next occurrence is waited for. Tick is called from one thread at a time.
#pragma once

#include <spdlog/logger.h>

#include <string>
#include <vector>

#include "base/clock.h"
#include "daemon/model_service.h"
#include "daemon/score_service.h"

namespace portrait::daemon {

class DerivedCrons {
 public:
  DerivedCrons(ModelService& models, ScoreService& scores, const DerivedDeps& deps)
      : models_(models), scores_(scores), d_(deps) {}

  void Tick();

 private:
  struct Entry {
    bool is_model = true;
    std::string name;
    int64_t next_us = 0;  // 0: none (the cron has no next occurrence)
  };
  // The entries for the rules in force, each next due after `now_us`.
  void Plan(const LoadedRules& rules, int64_t now_us);
  void Run(const Entry& e);

  ModelService& models_;
  ScoreService& scores_;
  DerivedDeps d_;
  std::string planned_for_;  // the fingerprint of the rules the entries were planned for
  std::vector<Entry> entries_;
};

}  // namespace portrait::daemon
