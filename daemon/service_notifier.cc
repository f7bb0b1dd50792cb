#include "daemon/service_notifier.h"

#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace portrait::daemon {
namespace {

// One STATUS= line: a newline would start another assignment, so it becomes a space.
std::string StatusLine(std::string_view status) {
  std::string line = "STATUS=";
  for (char c : status) {
    line += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return line;
}

uint64_t MonotonicUs() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
}

}  // namespace

void ServiceNotifier::Ready(std::string_view status) { Send("READY=1\n" + StatusLine(status)); }

void ServiceNotifier::Reloading() {
  // MONOTONIC_USEC lets a manager that supports Type=notify-reload tell this reload from an
  // earlier one; systemd 252 ignores it.
  Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(MonotonicUs()) + "\n" +
       StatusLine("reloading the config and rules"));
}

void ServiceNotifier::Stopping() {
  Send("STOPPING=1\n" + StatusLine("stopping: finishing requests in flight"));
}

void ServiceNotifier::Send(const std::string& state) {
  const int sent = ::sd_notify(/*unset_environment=*/0, state.c_str());
  if (sent < 0 && !warned_.exchange(true)) {
    log_.warn("cannot notify the service manager (NOTIFY_SOCKET): {}; serving anyway",
              std::strerror(-sent));
  }
}

}  // namespace portrait::daemon
