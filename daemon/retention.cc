#include "daemon/retention.h"

#include <nlohmann/json.hpp>

#include "base/time_format.h"

namespace portrait::daemon {

Result<RetentionRound> RunRetention(const config::Config& config, store::Store& store,
                                    int64_t now_us, int64_t limit) {
  RetentionRound round;
  for (const config::Retention& rule : config.retention) {
    store::PurgeRule purge;
    purge.limit = limit;
    purge.before_us = now_us - std::chrono::microseconds(rule.retain).count();
    nlohmann::json detail = {{"before", FormatRfc3339(purge.before_us)}};
    if (rule.field_class) {
      for (const config::Field& f : config.fields) {
        if (f.field_class == *rule.field_class) {
          purge.fields.push_back(f.name);
        }
      }
      detail["class"] =
          *rule.field_class == config::FieldClass::kSensitive ? "sensitive" : "personal";
      detail["fields"] = purge.fields;
    } else {
      purge.event_type = rule.event_type;
      detail["event"] = rule.event_type;
    }
    store::AuditEntry entry{now_us, "system", "retention.purge", 0, "", detail.dump()};
    PORTRAIT_ASSIGN_OR_RETURN(int64_t purged, store.Purge(purge, entry));
    round.purged += purged;
    round.more = round.more || purged >= limit;
  }
  return round;
}

}  // namespace portrait::daemon
