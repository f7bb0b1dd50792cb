#include "daemon/telemetry.h"

#include <fmt/format.h>

#include <cassert>
#include <string_view>

#include "store/task_state.h"

namespace portrait::daemon {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  assert(bounds_.size() <= kMaxBuckets);
}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) {
    ++i;
  }
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

void Histogram::Render(const std::string& name, const std::string& help, std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  RenderSeries(name, "", out);
}

void Histogram::RenderSeries(const std::string& name, const std::string& labels,
                             std::string& out) const {
  const std::string sep = labels.empty() ? "" : ",";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    out +=
        fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, bounds_[i], cumulative);
  }
  cumulative += counts_[bounds_.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cumulative);
  out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braces,
                     sum_.load(std::memory_order_relaxed), name, braces,
                     count_.load(std::memory_order_relaxed));
}

SinkTelemetry& SinkTelemetryTable::For(const std::string& sink) {
  MutexLock lock(mu_);
  std::unique_ptr<SinkTelemetry>& m = by_sink_[sink];
  if (!m) {
    m = std::make_unique<SinkTelemetry>();
  }
  return *m;
}

void SinkTelemetryTable::Render(std::string& out) const {
  MutexLock lock(mu_);
  const std::pair<std::string_view, Counter SinkTelemetry::*> counters[] = {
      {"attempts", &SinkTelemetry::attempts},
      {store::TaskStateName(store::TaskState::kDelivered), &SinkTelemetry::delivered},
      {store::TaskStateName(store::TaskState::kDead), &SinkTelemetry::dead}};
  for (const auto& [what, counter] : counters) {
    out += fmt::format("# HELP portrait_sink_{0}_total task {0} by sink\n", what);
    out += fmt::format("# TYPE portrait_sink_{}_total counter\n", what);
    for (const auto& [sink, m] : by_sink_) {
      out += fmt::format("portrait_sink_{}_total{{sink=\"{}\"}} {}\n", what, sink,
                         ((*m).*counter).value());
    }
  }
  out +=
      "# HELP portrait_sink_attempts_per_task attempts a finished task took, by sink\n"
      "# TYPE portrait_sink_attempts_per_task histogram\n";
  for (const auto& [sink, m] : by_sink_) {
    m->attempts_per_task.RenderSeries("portrait_sink_attempts_per_task", "sink=\"" + sink + "\"",
                                      out);
  }
  out +=
      "# HELP portrait_delivery_seconds task creation to delivery, by sink\n"
      "# TYPE portrait_delivery_seconds histogram\n";
  for (const auto& [sink, m] : by_sink_) {
    m->delivery_seconds.RenderSeries("portrait_delivery_seconds", "sink=\"" + sink + "\"", out);
  }
}

void RenderValue(const std::string& name, const std::string& type, const std::string& help,
                 double value, std::string& out) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
}

Result<std::string> RenderPrometheus(const Telemetry& m, store::Store& store, int64_t now_us) {
  std::string out;
  RenderValue("portrait_http_requests_total", "counter", "HTTP requests received",
              m.http_requests.value(), out);
  RenderValue("portrait_http_errors_total", "counter", "HTTP responses with status >= 400",
              m.http_errors.value(), out);
  RenderValue("portrait_events_accepted_total", "counter", "events stored",
              m.events_accepted.value(), out);
  RenderValue("portrait_profiles_created_total", "counter", "profiles created by a profile write",
              m.profiles_created.value(), out);
  RenderValue("portrait_profiles_updated_total", "counter", "profiles updated by a profile write",
              m.profiles_updated.value(), out);
  RenderValue("portrait_profiles_erased_total", "counter", "profiles erased",
              m.profiles_erased.value(), out);
  RenderValue("portrait_profiles_merged_total", "counter", "profiles merged into others",
              m.profiles_merged.value(), out);
  RenderValue("portrait_consents_recorded_total", "counter", "consent records appended",
              m.consents_recorded.value(), out);
  RenderValue("portrait_events_duplicate_total", "counter", "events ignored as repeats",
              m.events_duplicate.value(), out);
  RenderValue("portrait_tasks_fired_total", "counter", "tasks written by fired triggers",
              m.tasks_created.value(), out);
  RenderValue("portrait_timers_fired_total", "counter", "due timers handled",
              m.timers_fired.value(), out);
  RenderValue("portrait_commits_total", "counter", "group commits", m.commits.value(), out);
  RenderValue("portrait_audit_commits_total", "counter", "grouped commits of read audit records",
              m.audit_commits.value(), out);
  RenderValue("portrait_writer_queue_events", "gauge", "events waiting for the writer",
              static_cast<double>(m.writer_queue.load()), out);
  m.batch_events.Render("portrait_commit_batch_events", "events per group commit", out);
  m.commit_seconds.Render("portrait_commit_seconds", "time to apply and commit a group", out);
  m.ingest_seconds.Render("portrait_ingest_seconds", "POST /v1/events: from parsed to durable",
                          out);
  PORTRAIT_ASSIGN_OR_RETURN(int64_t due, store.CountDueTimers(now_us));
  RenderValue("portrait_timers_due", "gauge", "timers due and not yet handled",
              static_cast<double>(due), out);
  PORTRAIT_ASSIGN_OR_RETURN(auto by_state, store.CountTasksByState());
  out += "# HELP portrait_tasks tasks in the outbox by state\n# TYPE portrait_tasks gauge\n";
  for (store::TaskState s : store::kTaskStates) {
    const std::string state(store::TaskStateName(s));
    out += fmt::format("portrait_tasks{{state=\"{}\"}} {}\n", state, by_state[state]);
  }
  m.sinks.Render(out);
  return out;
}

}  // namespace portrait::daemon
