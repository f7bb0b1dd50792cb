#include "daemon/sink_workers.h"

#include <iterator>

namespace portrait::daemon {

SinkWorkers::SinkWorkers(const config::Sink& config, std::unique_ptr<dispatch::Sink> sink,
                         SendGate& gate, Check check, Done done)
    : config_(config),
      sink_(std::move(sink)),
      gate_(gate),
      check_(std::move(check)),
      done_(std::move(done)) {
  for (int i = 0; i < config_.concurrency; ++i) {
    threads_.emplace_back([this] { Work(); });
  }
}

SinkWorkers::~SinkWorkers() { Stop(); }

int SinkWorkers::Room() {
  MutexLock lock(mu_);
  return config_.concurrency * (1 + kQueuedPerWorker) - busy_ - static_cast<int>(queue_.size());
}

void SinkWorkers::Submit(Attempt attempt) {
  {
    MutexLock lock(mu_);
    queue_.push_back(std::move(attempt));
  }
  wake_.Signal();
}

std::vector<Attempt> SinkWorkers::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.SignalAll();
  for (std::thread& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  MutexLock lock(mu_);
  std::vector<Attempt> unstarted(std::make_move_iterator(queue_.begin()),
                                 std::make_move_iterator(queue_.end()));
  queue_.clear();
  return unstarted;
}

void SinkWorkers::Work() {
  while (std::optional<Attempt> attempt = Take()) {
    dispatch::Outcome outcome = TryOnce(*attempt);
    bool idle = false;
    {
      MutexLock lock(mu_);
      --busy_;
      idle = queue_.empty();
    }
    done_(std::move(*attempt), std::move(outcome), idle);
  }
}

std::optional<Attempt> SinkWorkers::Take() {
  MutexLock lock(mu_);
  while (!stopping_ && queue_.empty()) {
    wake_.Wait(mu_);
  }
  if (stopping_) {
    return std::nullopt;
  }
  Attempt attempt = std::move(queue_.front());
  queue_.pop_front();
  ++busy_;
  return attempt;
}

dispatch::Outcome SinkWorkers::TryOnce(Attempt& attempt) {
  // The pass keeps an erasure's or a withdrawal's answer waiting until the attempt has ended.
  SendGate::Pass pass(gate_, attempt.task.profile_id);
  attempt.refused = check_(attempt);
  if (attempt.refused) {
    return dispatch::Outcome::Retry("not attempted: " + attempt.refused->reason);
  }
  return sink_->Deliver({std::to_string(attempt.task.id), attempt.bodies.body, attempt.time_s});
}

}  // namespace portrait::daemon
