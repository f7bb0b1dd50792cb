// The PostgreSQL store's timers, task outbox and meta values.
#include "store/postgres/postgres_store_impl.h"

namespace portrait::store {
namespace {

using pg::Params;
using pg::Rows;

const std::string kTaskColumns =
    "id, dedupe, profile_id, trigger, purpose, channel, sink, state, reason, due_us, attempts, "
    "consent_id, payload, created_us, updated_us";

Result<std::vector<TaskRow>> ReadTasks(Result<Rows> r) {
  if (!r) {
    return Error(r.error());
  }
  std::vector<TaskRow> out;
  for (int i = 0; i < r->size(); ++i) {
    TaskRow t;
    t.id = r->Int(i, 0);
    t.dedupe = r->Text(i, 1);
    t.profile_id = r->Int(i, 2);
    t.trigger = r->Text(i, 3);
    t.purpose = r->Text(i, 4);
    t.channel = r->Text(i, 5);
    t.sink = r->Text(i, 6);
    t.state = r->Text(i, 7);
    t.reason = r->Text(i, 8);
    t.due_us = r->Int(i, 9);
    t.attempts = r->Int(i, 10);
    t.consent_id = r->Int(i, 11);
    t.payload = r->Text(i, 12);
    t.created_us = r->Int(i, 13);
    t.updated_us = r->Int(i, 14);
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::vector<TimerRow>> ReadTimers(Result<Rows> r) {
  if (!r) {
    return Error(r.error());
  }
  std::vector<TimerRow> out;
  for (int i = 0; i < r->size(); ++i) {
    out.push_back(TimerRow{r->Int(i, 0), r->Text(i, 1), r->Int(i, 2)});
  }
  return out;
}

// The names of the states `in` holds, for "state = ANY($n)".
std::vector<std::string_view> States(bool (*in)(TaskState)) {
  std::vector<std::string_view> out;
  for (TaskState s : kTaskStates) {
    if (in(s)) {
      out.push_back(TaskStateName(s));
    }
  }
  return out;
}

}  // namespace

Status PostgresStore::WriteOutbox(const Batch& batch, CommitResult& result) {
  for (const TimerRow& t : batch.timers) {
    PORTRAIT_RETURN_IF_ERROR(main_.Do(
        "INSERT INTO timers (profile_id, trigger, part, due_us) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (profile_id, trigger) DO UPDATE SET due_us = EXCLUDED.due_us;",
        Params().Int(t.profile_id).Text(t.trigger).Int(PartOf(t.profile_id)).Int(t.due_us)));
  }
  for (const auto& [id, trigger] : batch.cleared_timers) {
    PORTRAIT_RETURN_IF_ERROR(main_.Do("DELETE FROM timers WHERE profile_id = $1 AND trigger = $2;",
                                      Params().Int(id).Text(trigger)));
  }
  for (const TaskRow& t : batch.tasks) {
    PORTRAIT_RETURN_IF_ERROR(CheckNewState(t.state));
    Params p;
    p.Bytes(t.dedupe).Int(t.profile_id).Int(PartOf(t.profile_id)).Text(t.trigger).Text(t.purpose);
    p.Text(t.channel).Text(t.sink).Text(t.state).Text(t.reason).Int(t.due_us).Int(t.attempts);
    p.Int(t.consent_id).Bytes(t.payload).Int(t.created_us).Int(t.updated_us);
    PORTRAIT_ASSIGN_OR_RETURN(
        Rows r, main_.Run("INSERT INTO tasks (dedupe, profile_id, part, trigger, purpose, channel, "
                          "sink, state, reason, due_us, attempts, consent_id, payload, created_us, "
                          "updated_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                          "$13, $14, $15) ON CONFLICT (dedupe) DO NOTHING;",
                          p));
    result.tasks_created += static_cast<int>(r.Affected());
  }
  PORTRAIT_RETURN_IF_ERROR(UpdateTasks(batch.task_updates));
  for (const auto& [key, value] : batch.meta) {
    PORTRAIT_RETURN_IF_ERROR(
        main_.Do("INSERT INTO meta (key, value) VALUES ($1, $2) "
                 "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;",
                 Params().Text(key).Bytes(value)));
  }
  return Status::Ok();
}

// In order; a missing task is skipped, a change the lifecycle forbids fails the batch.
Status PostgresStore::UpdateTasks(const std::vector<TaskUpdate>& updates) {
  for (const TaskUpdate& u : updates) {
    PORTRAIT_ASSIGN_OR_RETURN(
        Rows current, main_.Run("SELECT state FROM tasks WHERE id = $1;", Params().Int(u.id)));
    if (current.empty()) {
      continue;
    }
    PORTRAIT_RETURN_IF_ERROR(CheckMove(u.id, current.Text(0, 0), u.state));
    PORTRAIT_RETURN_IF_ERROR(main_.Do(
        "UPDATE tasks SET state = $1, reason = $2, due_us = $3, attempts = $4, updated_us = $5, "
        "payload = CASE WHEN $6 THEN ''::bytea ELSE payload END WHERE id = $7;",
        Params()
            .Text(u.state)
            .Text(u.reason)
            .Int(u.due_us)
            .Int(u.attempts)
            .Int(u.updated_us)
            .Bool(u.clear_payload)
            .Int(u.id)));
  }
  return Status::Ok();
}

// Among several nodes, only the partitions this node holds ($3: limited, $4: to these).
Result<std::vector<TimerRow>> PostgresStore::DueTimers(int64_t until_us, int limit) {
  auto [limited, parts] = ServedParts();
  auto reader = readers_.Acquire();
  return ReadTimers(
      reader->main.Run("SELECT profile_id, trigger, due_us FROM timers WHERE due_us <= $1 "
                       "AND (NOT $3 OR part = ANY($4)) ORDER BY due_us LIMIT $2;",
                       Params().Int(until_us).Int(limit).Bool(limited).Ints(parts)));
}

Result<int64_t> PostgresStore::CountDueTimers(int64_t until_us) {
  auto [limited, parts] = ServedParts();
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(Rows r,
                            reader->main.Run("SELECT count(*) FROM timers WHERE due_us <= $1 "
                                             "AND (NOT $2 OR part = ANY($3));",
                                             Params().Int(until_us).Bool(limited).Ints(parts)));
  return r.Int(0, 0);
}

Result<std::vector<TimerRow>> PostgresStore::GetTimers(ProfileId id) {
  auto reader = readers_.Acquire();
  return ReadTimers(reader->main.Run(
      "SELECT profile_id, trigger, due_us FROM timers WHERE profile_id = $1 ORDER BY trigger;",
      Params().Int(id)));
}

Result<std::optional<std::string>> PostgresStore::GetMeta(std::string_view key) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT value FROM meta WHERE key = $1;", Params().Text(key)));
  return r.empty() ? std::nullopt : std::optional<std::string>(r.Text(0, 0));
}

Result<bool> PostgresStore::HasTask(std::string_view dedupe) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r, reader->main.Run("SELECT 1 FROM tasks WHERE dedupe = $1;", Params().Bytes(dedupe)));
  return !r.empty();
}

Result<std::vector<TaskRow>> PostgresStore::GetTasks(ProfileId id) {
  auto reader = readers_.Acquire();
  return ReadTasks(
      reader->main.Run("SELECT " + kTaskColumns + " FROM tasks WHERE profile_id = $1 ORDER BY id;",
                       Params().Int(id)));
}

// One ordered range of tasks_due_by_sink per waiting state ($2), the earliest $4 of each, merged:
// a task delivered (or otherwise settled) is never read. With `state = ANY($2)` the prepared
// statement could keep a plan that reads the sink's whole range due by now, settled tasks
// included, and filters on the state (docs/DECISIONS.md 171).
Result<std::vector<TaskRow>> PostgresStore::DueTasks(std::string_view sink, int64_t until_us,
                                                     int limit) {
  auto [limited, parts] = ServedParts();
  auto reader = readers_.Acquire();
  return ReadTasks(reader->main.Run(
      "SELECT " + kTaskColumns +
          " FROM unnest($2::text[]) AS w(waiting), LATERAL (SELECT * FROM tasks "
          "WHERE sink = $1 AND state = w.waiting AND due_us <= $3 AND (NOT $5 OR part = ANY($6)) "
          "ORDER BY due_us LIMIT $4) tasks ORDER BY due_us LIMIT $4;",
      Params()
          .Text(sink)
          .Texts(States(IsWaiting))
          .Int(until_us)
          .Int(limit)
          .Bool(limited)
          .Ints(parts)));
}

Result<std::optional<TaskRow>> PostgresStore::GetTask(int64_t id) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      std::vector<TaskRow> rows,
      ReadTasks(reader->main.Run("SELECT " + kTaskColumns + " FROM tasks WHERE id = $1;",
                                 Params().Int(id))));
  return rows.empty() ? std::nullopt : std::optional<TaskRow>(std::move(rows.front()));
}

Result<std::vector<TaskRow>> PostgresStore::ListTasks(const TaskFilter& f) {
  auto [limited, parts] = ServedParts();
  limited = limited && f.served_only;
  auto reader = readers_.Acquire();
  return ReadTasks(reader->main.Run(
      "SELECT " + kTaskColumns +
          " FROM tasks WHERE id > $1 AND ($2 = '' OR state = $2) AND ($3 = '' OR trigger = $3) "
          "AND ($4 = 0 OR profile_id = $4) AND ($5 = '' OR purpose = $5 OR ($6 AND purpose = '')) "
          "AND created_us >= $7 AND (NOT $9 OR part = ANY($10)) ORDER BY id LIMIT $8;",
      Params()
          .Int(f.after_id)
          .Text(f.state)
          .Text(f.trigger)
          .Int(f.profile_id)
          .Text(f.purpose)
          .Bool(f.include_notices)
          .Int(f.since_us)
          .Int(f.limit)
          .Bool(limited)
          .Ints(parts)));
}

Result<int64_t> PostgresStore::CountDelivered(ProfileId id, std::string_view purpose,
                                              int64_t since_us) {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(
      Rows r,
      reader->main.Run(
          "SELECT count(*) FROM tasks WHERE profile_id = $1 AND purpose = $2 "
          "AND state = $3 AND updated_us >= $4;",
          Params().Int(id).Text(purpose).Text(TaskStateName(TaskState::kDelivered)).Int(since_us)));
  return r.Int(0, 0);
}

Result<std::map<std::string, int64_t>> PostgresStore::CountTasksByState() {
  auto reader = readers_.Acquire();
  PORTRAIT_ASSIGN_OR_RETURN(Rows r,
                            reader->main.Run("SELECT state, count(*) FROM tasks GROUP BY state;"));
  std::map<std::string, int64_t> out;
  for (int i = 0; i < r.size(); ++i) {
    out.emplace(r.Text(i, 0), r.Int(i, 1));
  }
  return out;
}

}  // namespace portrait::store
