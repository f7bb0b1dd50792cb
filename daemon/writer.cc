#include "daemon/writer.h"

#include <malloc.h>
#include <pthread.h>

#include <boost/core/demangle.hpp>
#include <chrono>
#include <future>
#include <iterator>
#include <typeinfo>

namespace portrait::daemon {
namespace {

// The job's status; an exception it throws fails the job, never the writer thread. Only the
// exception's class is kept: its message may quote the bytes of a request.
template <typename T>
T Failed(const std::string& what) {
  return T(Error(Status::Internal("a writer job threw " + what)));
}

template <typename T, typename F>
T Guarded(F&& job) {
  try {
    return job();
  } catch (const std::exception& e) {
    return Failed<T>(boost::core::demangle(typeid(e).name()));
  } catch (...) {
    return Failed<T>("an unknown exception");
  }
}

}  // namespace

Writer::Writer(Ingestor& ingestor, store::AuditLog& audit, Telemetry& telemetry)
    : ingestor_(ingestor), audit_(audit), telemetry_(telemetry), thread_([this] {
        ::pthread_setname_np(::pthread_self(), "writer");  // for top -H and profiles
        Loop();
      }) {}

Writer::~Writer() { Stop(); }

void Writer::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.SignalAll();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Writer::Submit(IngestRequest request, Done done) {
  const int64_t n = static_cast<int64_t>(request.events.size());
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      telemetry_.writer_queue.fetch_add(n, std::memory_order_relaxed);
      queue_.push_back(Pending{std::move(request), std::move(done)});
      wake_.Signal();
      return;
    }
  }
  done(Error(Status::Unavailable("portraitd is shutting down")));
}

void Writer::SubmitAudit(std::vector<store::AuditEntry> entries, AuditDone done) {
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      audits_.push_back(AuditOnly{std::move(entries), std::move(done)});
      wake_.Signal();
      return;
    }
  }
  done(Status::Unavailable("portraitd is shutting down"));
}

Status Writer::Run(std::function<Status()> job) {
  std::promise<Status> result;
  auto future = result.get_future();
  {
    MutexLock lock(mu_);
    if (stopping_) {
      return Status::Unavailable("portraitd is shutting down");
    }
    queue_.push_back(
        Exclusive{std::move(job), [&result](Status s) { result.set_value(std::move(s)); }});
  }
  wake_.Signal();
  return future.get();
}

Writer::Taken Writer::Take(std::vector<AuditOnly>& audits, std::vector<Pending>& group,
                           std::optional<Exclusive>& exclusive) {
  MutexLock lock(mu_);
  const auto idle_at = std::chrono::steady_clock::now() + kIdleBeforeTrim;
  while (!stopping_ && queue_.empty() && audits_.empty()) {
    if (!worked_since_trim_) {
      wake_.Wait(mu_);
    } else if (!wake_.WaitUntil(mu_, idle_at) && queue_.empty() && audits_.empty()) {
      return Taken::kIdle;
    }
  }
  if (queue_.empty() && audits_.empty()) {
    return Taken::kStopped;  // everything queued is done
  }
  size_t records = 0;
  while (!audits_.empty() && (audits.empty() || records < kMaxGroupAudits)) {
    audits.push_back(std::move(audits_.front()));
    records += audits.back().entries.size();
    audits_.pop_front();
  }
  if (queue_.empty()) {
    return Taken::kWork;
  }
  if (auto* e = std::get_if<Exclusive>(&queue_.front())) {
    exclusive = std::move(*e);
    queue_.pop_front();
    return Taken::kWork;
  }
  size_t events = 0;
  while (!queue_.empty() && std::holds_alternative<Pending>(queue_.front()) &&
         (group.empty() || events < kMaxGroupEvents)) {
    group.push_back(std::move(std::get<Pending>(queue_.front())));
    events += group.back().request.events.size();
    queue_.pop_front();
  }
  return Taken::kWork;
}

void Writer::Loop() {
  while (true) {
    // The last iteration's group and job are freed by now.
    if (worked_since_trim_ && std::chrono::steady_clock::now() - last_trim_ >= kTrimEvery) {
      ReturnFreeMemory();
    }
    std::vector<AuditOnly> audits;
    std::vector<Pending> group;
    std::optional<Exclusive> exclusive;
    const Taken taken = Take(audits, group, exclusive);
    if (taken == Taken::kStopped) {
      return;
    }
    if (taken == Taken::kIdle) {
      ReturnFreeMemory();
      continue;
    }
    worked_since_trim_ = true;
    if (!audits.empty()) {
      CommitAudits(audits);
    }
    if (exclusive) {
      exclusive->done(Guarded<Status>(exclusive->job));
    } else if (!group.empty()) {
      CommitGroup(group);
    }
  }
}

void Writer::ReturnFreeMemory() {
  ::malloc_trim(0);
  last_trim_ = std::chrono::steady_clock::now();
  worked_since_trim_ = false;
}

void Writer::CommitAudits(std::vector<AuditOnly>& audits) {
  std::vector<store::AuditEntry> entries;
  for (AuditOnly& a : audits) {
    std::move(a.entries.begin(), a.entries.end(), std::back_inserter(entries));
  }
  const Status committed = Guarded<Status>([&] { return audit_.Append(std::move(entries)); });
  telemetry_.audit_commits.Add();
  for (AuditOnly& a : audits) {
    a.done(committed);
  }
}

void Writer::CommitGroup(std::vector<Pending>& group) {
  std::vector<const IngestRequest*> requests;
  int64_t events = 0;
  for (const Pending& p : group) {
    requests.push_back(&p.request);
    events += static_cast<int64_t>(p.request.events.size());
  }
  const auto start = std::chrono::steady_clock::now();
  auto counts =
      Guarded<Result<std::vector<IngestCounts>>>([&] { return ingestor_.ApplyEvents(requests); });
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  telemetry_.writer_queue.fetch_sub(events, std::memory_order_relaxed);
  telemetry_.commits.Add();
  telemetry_.commit_seconds.Observe(took.count());
  telemetry_.batch_events.Observe(static_cast<double>(events));
  bool tasks = false;
  for (size_t i = 0; i < group.size(); ++i) {
    if (!counts) {
      group[i].done(Error(counts.error()));
      continue;
    }
    const IngestCounts& c = (*counts)[i];
    telemetry_.events_accepted.Add(c.accepted);
    telemetry_.events_duplicate.Add(c.duplicates);
    telemetry_.tasks_created.Add(c.tasks);
    tasks |= c.tasks > 0;
    group[i].done(c);
  }
  if (tasks && tasks_created_) {
    tasks_created_();
  }
}

}  // namespace portrait::daemon
