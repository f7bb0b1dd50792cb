// The SQLCipher backend's timers and task outbox.
#include "store/sqlcipher/sqlcipher_store_impl.h"

namespace portrait::store {
namespace {

using sqlite::Stmt;

constexpr std::string_view kTaskColumns =
    "id, dedupe, profile_id, trigger, purpose, channel, sink, state, reason, due_us, attempts, "
    "consent_id, payload, created_us, updated_us";

TaskRow ReadTask(const Stmt& s) {
  TaskRow t;
  t.id = s.Int(0);
  t.dedupe = s.Text(1);
  t.profile_id = s.Int(2);
  t.trigger = s.Text(3);
  t.purpose = s.Text(4);
  t.channel = s.Text(5);
  t.sink = s.Text(6);
  t.state = s.Text(7);
  t.reason = s.Text(8);
  t.due_us = s.Int(9);
  t.attempts = s.Int(10);
  t.consent_id = s.Int(11);
  t.payload = s.Text(12);
  t.created_us = s.Int(13);
  t.updated_us = s.Int(14);
  return t;
}

// The SQL list of the quoted names of the states `in` holds, e.g. "'pending', 'retrying'".
std::string SqlStates(bool (*in)(TaskState)) {
  std::string out;
  for (TaskState s : kTaskStates) {
    if (in(s)) {
      out += out.empty() ? "'" : ", '";
      out += TaskStateName(s);
      out += "'";
    }
  }
  return out;
}

Result<std::vector<TimerRow>> ReadTimers(Stmt& s) {
  return sqlite::ReadRows(s, [](const Stmt& r) { return TimerRow{r.Int(0), r.Text(1), r.Int(2)}; });
}

// Applies `updates` in order; a missing task is skipped, a change the lifecycle forbids fails.
Status UpdateTasks(sqlite::Db& db, const std::vector<TaskUpdate>& updates) {
  Stmt current(db, "SELECT state FROM tasks WHERE id = ?;");
  Stmt update(db,
              "UPDATE tasks SET state = ?, reason = ?, due_us = ?, attempts = ?, updated_us = ?, "
              "payload = CASE WHEN ? THEN x'' ELSE payload END WHERE id = ?;");
  for (const TaskUpdate& u : updates) {
    current.Reset();
    current.Bind(1, u.id);
    PORTRAIT_ASSIGN_OR_RETURN(bool exists, current.Step());
    if (!exists) {
      continue;
    }
    const std::string from = current.Text(0);
    current.Reset();
    PORTRAIT_RETURN_IF_ERROR(CheckMove(u.id, from, u.state));
    update.Reset();
    update.Bind(1, u.state).Bind(2, u.reason).Bind(3, u.due_us).Bind(4, u.attempts);
    update.Bind(5, u.updated_us).Bind(6, int64_t{u.clear_payload}).Bind(7, u.id);
    PORTRAIT_RETURN_IF_ERROR(update.Run());
  }
  return Status::Ok();
}

}  // namespace

Status SqlcipherStore::WriteOutbox(const Batch& batch, CommitResult& result) {
  Stmt set(main_, "INSERT OR REPLACE INTO timers (profile_id, trigger, due_us) VALUES (?, ?, ?);");
  for (const TimerRow& t : batch.timers) {
    set.Reset();
    set.Bind(1, t.profile_id).Bind(2, t.trigger).Bind(3, t.due_us);
    PORTRAIT_RETURN_IF_ERROR(set.Run());
  }
  Stmt clear(main_, "DELETE FROM timers WHERE profile_id = ? AND trigger = ?;");
  for (const auto& [id, trigger] : batch.cleared_timers) {
    clear.Reset();
    clear.Bind(1, id).Bind(2, trigger);
    PORTRAIT_RETURN_IF_ERROR(clear.Run());
  }
  Stmt ins(main_,
           "INSERT OR IGNORE INTO tasks (dedupe, profile_id, trigger, purpose, channel, sink, "
           "state, reason, due_us, attempts, consent_id, payload, created_us, updated_us) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);");
  for (const TaskRow& t : batch.tasks) {
    PORTRAIT_RETURN_IF_ERROR(CheckNewState(t.state));
    ins.Reset();
    ins.BindBlob(1, t.dedupe).Bind(2, t.profile_id).Bind(3, t.trigger).Bind(4, t.purpose);
    ins.Bind(5, t.channel).Bind(6, t.sink).Bind(7, t.state).Bind(8, t.reason).Bind(9, t.due_us);
    ins.Bind(10, t.attempts).Bind(11, t.consent_id).BindBlob(12, t.payload);
    ins.Bind(13, t.created_us).Bind(14, t.updated_us);
    PORTRAIT_RETURN_IF_ERROR(ins.Run());
    result.tasks_created += sqlite3_changes(main_.get());
  }
  PORTRAIT_RETURN_IF_ERROR(UpdateTasks(main_, batch.task_updates));
  Stmt meta(main_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?);");
  for (const auto& [key, value] : batch.meta) {
    meta.Reset();
    meta.Bind(1, key).BindBlob(2, value);
    PORTRAIT_RETURN_IF_ERROR(meta.Run());
  }
  return Status::Ok();
}

Status SqlcipherStore::EraseOutbox(ProfileId id) {
  Stmt timers(main_, "DELETE FROM timers WHERE profile_id = ?;");
  timers.Bind(1, id);
  PORTRAIT_RETURN_IF_ERROR(timers.Run());
  // The erasure's own notices stay.
  static const std::string kDelete = "DELETE FROM tasks WHERE profile_id = ? AND state IN (" +
                                     SqlStates(IsUnfinished) + ") AND trigger <> ?;";
  Stmt tasks(main_, kDelete);
  tasks.Bind(1, id).Bind(2, kErasureNotice);
  return tasks.Run();
}

// On the write connection, in one read transaction: its page cache holds what the writer's
// commits wrote, decrypted; a reader's would be dropped by every commit and decrypted again.
Result<std::vector<bool>> SqlcipherStore::StoredEvents(const std::vector<std::string_view>& keys) {
  std::lock_guard lock(mu_);
  PORTRAIT_RETURN_IF_ERROR(main_.Exec("BEGIN;"));
  std::vector<bool> stored;
  stored.reserve(keys.size());
  Status failed;
  {
    Stmt s(main_, "SELECT 1 FROM events WHERE key = ?;");
    for (std::string_view key : keys) {
      s.Reset();
      s.BindBlob(1, key);
      Result<bool> row = s.Step();
      if (!row) {
        failed = row.error();
        break;
      }
      stored.push_back(*row);
    }
  }
  (void)main_.Exec(failed.ok() ? "COMMIT;" : "ROLLBACK;");
  if (!failed.ok()) {
    return Error(failed);
  }
  return stored;
}

Result<std::vector<TimerRow>> SqlcipherStore::DueTimers(int64_t until_us, int limit) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT profile_id, trigger, due_us FROM timers WHERE due_us <= ? "
         "ORDER BY due_us LIMIT ?;");
  s.Bind(1, until_us).Bind(2, int64_t{limit});
  return ReadTimers(s);
}

Result<int64_t> SqlcipherStore::CountDueTimers(int64_t until_us) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main, "SELECT count(*) FROM timers WHERE due_us <= ?;");
  s.Bind(1, until_us);
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

Result<std::vector<TimerRow>> SqlcipherStore::GetTimers(ProfileId id) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT profile_id, trigger, due_us FROM timers WHERE profile_id = ? ORDER BY trigger;");
  s.Bind(1, id);
  return ReadTimers(s);
}

Result<std::optional<std::string>> SqlcipherStore::GetMeta(std::string_view key) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main, "SELECT value FROM meta WHERE key = ?;");
  s.Bind(1, key);
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? std::optional<std::string>(s.Text(0)) : std::nullopt;
}

Result<bool> SqlcipherStore::HasTask(std::string_view dedupe) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main, "SELECT 1 FROM tasks WHERE dedupe = ?;");
  s.BindBlob(1, dedupe);
  return s.Step();
}

Result<std::vector<TaskRow>> SqlcipherStore::GetTasks(ProfileId id) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT " + std::string(kTaskColumns) + " FROM tasks WHERE profile_id = ? ORDER BY id;");
  s.Bind(1, id);
  return sqlite::ReadRows(s, ReadTask);
}

Result<std::vector<TaskRow>> SqlcipherStore::DueTasks(std::string_view sink, int64_t until_us,
                                                      int limit) {
  auto reader = readers_.Acquire();
  static const std::string kSelect =
      "SELECT " + std::string(kTaskColumns) + " FROM tasks WHERE sink = ? AND state IN (" +
      SqlStates(IsWaiting) + ") AND due_us <= ? ORDER BY due_us LIMIT ?;";
  Stmt s(reader->main, kSelect);
  s.Bind(1, sink).Bind(2, until_us).Bind(3, int64_t{limit});
  return sqlite::ReadRows(s, ReadTask);
}

Result<std::optional<TaskRow>> SqlcipherStore::GetTask(int64_t id) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main, "SELECT " + std::string(kTaskColumns) + " FROM tasks WHERE id = ?;");
  s.Bind(1, id);
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? std::optional<TaskRow>(ReadTask(s)) : std::nullopt;
}

Result<std::vector<TaskRow>> SqlcipherStore::ListTasks(const TaskFilter& f) {
  auto reader = readers_.Acquire();
  // Unset filters compare a column with itself (by the index on state or profile when set).
  Stmt s(reader->main, "SELECT " + std::string(kTaskColumns) +
                           " FROM tasks WHERE id > ? AND (? = '' OR state = ?) "
                           "AND (? = '' OR trigger = ?) AND (? = 0 OR profile_id = ?) "
                           "AND (? = '' OR purpose = ? OR (? AND purpose = '')) "
                           "AND created_us >= ? ORDER BY id LIMIT ?;");
  s.Bind(1, f.after_id).Bind(2, f.state).Bind(3, f.state).Bind(4, f.trigger).Bind(5, f.trigger);
  s.Bind(6, f.profile_id).Bind(7, f.profile_id).Bind(8, f.purpose).Bind(9, f.purpose);
  s.Bind(10, int64_t{f.include_notices}).Bind(11, f.since_us).Bind(12, int64_t{f.limit});
  return sqlite::ReadRows(s, ReadTask);
}

Result<int64_t> SqlcipherStore::CountDelivered(ProfileId id, std::string_view purpose,
                                               int64_t since_us) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT count(*) FROM tasks WHERE profile_id = ? AND purpose = ? "
         "AND state = ? AND updated_us >= ?;");
  s.Bind(1, id).Bind(2, purpose).Bind(3, TaskStateName(TaskState::kDelivered)).Bind(4, since_us);
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

Result<std::map<std::string, int64_t>> SqlcipherStore::CountTasksByState() {
  auto reader = readers_.Acquire();
  Stmt s(reader->main, "SELECT state, count(*) FROM tasks GROUP BY state;");
  std::map<std::string, int64_t> out;
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return out;
    }
    out.emplace(s.Text(0), s.Int(1));
  }
}

}  // namespace portrait::store
