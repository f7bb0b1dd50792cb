// Clock: where time comes from. Passed in everywhere time matters so that tests can walk through
// a leap year, a DST change or a week of quiet hours with a FakeClock, in microseconds.
// SystemClock is thread-safe; FakeClock is thread-safe too (an atomic instant).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace portrait {

using TimePoint = std::chrono::sys_time<std::chrono::microseconds>;

class Clock {
 public:
  virtual ~Clock() = default;
  // The current instant, UTC, with microsecond resolution.
  virtual TimePoint Now() const = 0;
  // Now(), in microseconds since the Unix epoch: the unit the store keeps times in.
  int64_t NowUs() const { return Now().time_since_epoch().count(); }
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override {
    return std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
  }
};

// The system clock moved by a fixed offset: for integration tests that start a real daemon "on"
// a chosen day (portraitd's PORTRAIT_TEST_NOW), time still flowing.
class ShiftedClock final : public Clock {
 public:
  explicit ShiftedClock(std::chrono::microseconds offset) : offset_(offset) {}
  TimePoint Now() const override { return system_.Now() + offset_; }

 private:
  SystemClock system_;
  std::chrono::microseconds offset_;
};

// A clock that stands still until told to move.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(std::chrono::microseconds(now_.load())); }
  void Set(TimePoint t) { now_.store(t.time_since_epoch().count()); }
  void Advance(std::chrono::microseconds d) { now_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace portrait
