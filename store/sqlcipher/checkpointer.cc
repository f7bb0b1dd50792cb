#include "store/sqlcipher/checkpointer.h"

namespace portrait::store::sqlite {

Checkpointer::Checkpointer(Db& writer, Db own, int wal_pages)
    : writer_(writer), own_(std::move(own)), wal_pages_(wal_pages), thread_([this] { Loop(); }) {
  sqlite3_wal_autocheckpoint(writer_.get(), 0);
  sqlite3_wal_hook(writer_.get(), &Checkpointer::OnCommit, this);
}

Checkpointer::~Checkpointer() {
  sqlite3_wal_hook(writer_.get(), nullptr, nullptr);
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.Signal();
  thread_.join();
}

Status Checkpointer::Truncate() {
  MutexLock run(run_mu_);
  return writer_.Exec("PRAGMA wal_checkpoint(TRUNCATE);");
}

int64_t Checkpointer::checkpoints() const {
  MutexLock lock(mu_);
  return checkpoints_;
}

int Checkpointer::OnCommit(void* self, sqlite3*, const char*, int wal_pages) {
  auto* c = static_cast<Checkpointer*>(self);
  if (wal_pages >= c->wal_pages_) {
    {
      MutexLock lock(c->mu_);
      c->due_ = true;
    }
    c->wake_.Signal();
  }
  return SQLITE_OK;
}

void Checkpointer::Loop() {
  while (true) {
    {
      MutexLock lock(mu_);
      while (!due_ && !stopping_) {
        wake_.Wait(mu_);
      }
      if (stopping_) {
        return;
      }
      due_ = false;
    }
    // PASSIVE: a busy database (another checkpoint, an erasure's TRUNCATE) is tried again at
    // the next commit past the mark; nothing is lost by skipping one.
    {
      MutexLock run(run_mu_);
      int wal = 0, copied = 0;
      (void)sqlite3_wal_checkpoint_v2(own_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal,
                                      &copied);
    }
    MutexLock lock(mu_);
    ++checkpoints_;
  }
}

}  // namespace portrait::store::sqlite
