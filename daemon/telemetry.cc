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
  std::lock_guard lock(mu_);
  std::unique_ptr<SinkTelemetry>& m = by_sink_[sink];
  if (!m) {
    m = std::make_unique<SinkTelemetry>();
  }
  return *m;
}

void SinkTelemetryTable::Render(std::string& out) const {
  std::lock_guard lock(mu_);
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

}  // namespace portrait::daemon
