#include "store/erasure_notice.h"

#include <set>

#include "store/task_state.h"

namespace portrait::store {

Status AddErasureNotices(Store& store, const crypto::KeyHierarchy& keys, ProfileId id,
                         std::string_view external_id, int64_t now_us, Batch& batch) {
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<TaskRow> tasks, store.GetTasks(id));
  std::set<std::string> sinks;
  for (const TaskRow& t : tasks) {
    // A `sending` attempt counts: it may have left already, its outcome not yet recorded.
    if (t.attempts > 0 && t.trigger != kErasureNotice) {
      sinks.insert(t.sink);
    }
  }
  for (const std::string& sink : sinks) {
    TaskRow notice;
    notice.dedupe = "$erased:" + std::to_string(id) + ":" + sink;  // no personal value
    notice.profile_id = id;
    notice.trigger = std::string(kErasureNotice);
    notice.sink = sink;
    notice.state = TaskStateName(TaskState::kPending);
    notice.reason = "the profile was erased; the sink received its data";
    notice.due_us = now_us;
    notice.created_us = notice.updated_us = now_us;
    PORTRAIT_ASSIGN_OR_RETURN(notice.payload, keys.SealNotice(id, external_id));
    batch.tasks.push_back(std::move(notice));
  }
  return Status::Ok();
}

Result<std::string> OpenErasureNotice(const crypto::KeyHierarchy& keys, const TaskRow& notice) {
  if (notice.payload.empty()) {
    return Error(Status::Corruption("erasure notice " + std::to_string(notice.id) +
                                    " has no payload (already settled)"));
  }
  return keys.OpenNotice(notice.profile_id, notice.payload);
}

}  // namespace portrait::store
