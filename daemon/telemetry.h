// Counters and histograms for GET /metrics, rendered in the Prometheus text format (0.0.4).
// Bookworm has no C++ Prometheus client, and two lock-free types are all the daemon needs.
// Updates are relaxed atomics: cheap enough for the writer's hot path.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/result.h"
#include "store/store.h"

namespace portrait::daemon {

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A histogram with fixed upper bounds (ascending); observations above the last go to +Inf.
class Histogram {
 public:
  static constexpr size_t kMaxBuckets = 16;
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // Appends "# TYPE name histogram" and the bucket, sum and count lines.
  void Render(const std::string& name, const std::string& help, std::string& out) const;
  // Appends the bucket, sum and count lines only, each with `labels` (e.g. sink="crm").
  void RenderSeries(const std::string& name, const std::string& labels, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::array<std::atomic<uint64_t>, kMaxBuckets + 1> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Appends a counter or gauge in the text format.
void RenderValue(const std::string& name, const std::string& type, const std::string& help,
                 double value, std::string& out);

// What the daemon counts; one instance, built in main and passed by reference.
// Delivery figures of one sink.
struct SinkTelemetry {
  Counter attempts;
  Counter delivered;
  Counter dead;
  Histogram attempts_per_task{{1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50}};
  // From the task's creation (the commit of the event or timer that fired it) to its delivery.
  Histogram delivery_seconds{
      {0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 60, 600, 3600, 86400}};
};

// SinkTelemetry by sink name, created on first use. Thread-safe.
class SinkTelemetryTable {
 public:
  SinkTelemetry& For(const std::string& sink);
  void Render(std::string& out) const;

 private:
  mutable Mutex mu_;
  std::map<std::string, std::unique_ptr<SinkTelemetry>> by_sink_ GUARDED_BY(mu_);
};

struct Telemetry {
  Counter http_requests;
  Counter http_errors;  // responses with status >= 400
  Counter events_accepted;
  Counter events_duplicate;
  Counter tasks_created;
  Counter timers_fired;
  // Writes of single profiles through the API (the activity log's counts; import and events
  // count apart).
  Counter profiles_created;
  Counter profiles_updated;
  Counter profiles_erased;
  Counter profiles_merged;
  Counter consents_recorded;
  Counter commits;
  Counter audit_commits;  // grouped commits of read audit records
  Histogram batch_events{{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}};
  Histogram commit_seconds{
      {0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2}};
  Histogram ingest_seconds{{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5}};
  std::atomic<int64_t> writer_queue{0};  // events waiting for the writer
  SinkTelemetryTable sinks;
};

// GET /metrics: everything `telemetry` counts, the timers due at `now_us` and the outbox's
// tasks by state, in the Prometheus text format. The store's error when it can't be read.
Result<std::string> RenderPrometheus(const Telemetry& telemetry, store::Store& store,
                                     int64_t now_us);

}  // namespace portrait::daemon
