// Checkpointer: moves the write connection's WAL into the database file on a thread of its own,
// so the writer's commits never wait for a checkpoint. The write connection's automatic
// checkpoint is turned off; after each of its commits a WAL hook looks at the WAL's length and,
// at `wal_pages` or more, wakes the thread, which runs a PASSIVE checkpoint on its own
// connection (it copies what no reader still needs and never blocks the writer or the readers;
// once a checkpoint has copied everything, the next commit starts the WAL over from its first
// page). Durability is unchanged: a commit is durable in the WAL (fsynced) before it returns.
// Thread-safe; stops (finishing the checkpoint under way) when destroyed, which must happen
// before the write connection closes.
#pragma once

#include <thread>

#include "base/mutex.h"
#include "store/sqlcipher/sqlite.h"

namespace portrait::store::sqlite {

class Checkpointer {
 public:
  // `writer` (borrowed) is the write connection; `own` a second connection to the same file.
  Checkpointer(Db& writer, Db own, int wal_pages);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;

  // Copies the whole WAL into the database file and truncates it (an erasure's scrub), after
  // the background checkpoint under way, if any. Only on the thread using the write connection.
  Status Truncate();

  // Background checkpoints run so far.
  int64_t checkpoints() const;

 private:
  static int OnCommit(void* self, sqlite3* db, const char* name, int wal_pages);
  void Loop();

  Db& writer_;
  Db own_;
  const int wal_pages_;
  Mutex run_mu_;  // held while a checkpoint of either kind runs
  mutable Mutex mu_;
  CondVar wake_;
  bool due_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  int64_t checkpoints_ GUARDED_BY(mu_) = 0;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace portrait::store::sqlite
