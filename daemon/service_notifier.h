// ServiceNotifier: tells the service manager how portraitd is doing, through libsystemd's
// sd_notify (the notify protocol a `Type=notify` unit waits on): ready once it listens, reloading
// and ready again around a SIGHUP reload, stopping on a stop signal, each with a one-line status
// (`systemctl status portraitd` shows it). Statuses carry counts and addresses, never a personal
// value.
//
// Where NOTIFY_SOCKET is unset (run by hand, in tests, under another supervisor) every call does
// nothing. A notification that cannot be sent is logged once, as a warning, and otherwise
// ignored: the daemon serves whether or not its manager hears. Thread-safe.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <string>
#include <string_view>

namespace portrait::daemon {

class ServiceNotifier {
 public:
  explicit ServiceNotifier(spdlog::logger& log) : log_(log) {}

  // READY=1: serving (at start and after a reload, whether the reload took or was refused).
  void Ready(std::string_view status);
  // RELOADING=1 with MONOTONIC_USEC: a reload begins; Ready follows when it ends.
  void Reloading();
  // STOPPING=1: a graceful stop begins.
  void Stopping();

 private:
  void Send(const std::string& state);

  spdlog::logger& log_;
  std::atomic<bool> warned_{false};
};

}  // namespace portrait::daemon
