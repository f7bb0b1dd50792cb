#include "dispatch/local_sinks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

extern char** environ;

namespace portrait::dispatch {
namespace {

std::string Errno(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

class FileSink final : public Sink {
 public:
  explicit FileSink(int fd) : fd_(fd) {}
  ~FileSink() override { ::close(fd_); }

  Outcome Deliver(const Delivery& d) override {
    const std::string line = d.body + "\n";
    std::lock_guard lock(mu_);
    size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        return Outcome::Retry(Errno("write"));
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd_) != 0) {
      return Outcome::Retry(Errno("fsync"));
    }
    return Outcome::Delivered("appended");
  }

 private:
  const int fd_;
  std::mutex mu_;  // one line at a time
};

class ExecSink final : public Sink {
 public:
  explicit ExecSink(const config::Sink& config)
      : command_(config.command), timeout_(config.timeout) {}

  Outcome Deliver(const Delivery& d) override {
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) {
      return Outcome::Retry(Errno("pipe"));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);  // its own group, to be killed whole on a timeout

    std::vector<std::string> env_text;
    for (char** e = environ; *e; ++e) {
      env_text.emplace_back(*e);
    }
    env_text.push_back("PORTRAIT_TASK_ID=" + d.id);
    std::vector<char*> env;
    for (std::string& e : env_text) {
      env.push_back(e.data());
    }
    env.push_back(nullptr);
    std::string sh = "/bin/sh", dash_c = "-c", command = command_;
    char* argv[] = {sh.data(), dash_c.data(), command.data(), nullptr};
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, env.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    if (spawned != 0) {
      ::close(in[1]);
      errno = spawned;
      return Outcome::Retry(Errno("spawn"));
    }
    const auto until = std::chrono::steady_clock::now() + timeout_;
    const bool fed = Feed(in[1], d.body, until);
    ::close(in[1]);
    int status = 0;
    while (true) {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        break;
      }
      if (std::chrono::steady_clock::now() >= until) {
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return Outcome::Retry("timed out after " + std::to_string(timeout_.count()) + "s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      return Outcome::Delivered("exit 0");
    }
    if (!fed && WIFEXITED(status)) {
      return Outcome::Retry("exited " + std::to_string(WEXITSTATUS(status)) +
                            " before reading the task");
    }
    return Outcome::Retry(WIFEXITED(status)
                              ? "exit " + std::to_string(WEXITSTATUS(status))
                              : "killed by signal " + std::to_string(WTERMSIG(status)));
  }

 private:
  // Writes `body` to `fd` without blocking past `until`; false if it could not all be written.
  static bool Feed(int fd, std::string_view body, std::chrono::steady_clock::time_point until) {
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    while (!body.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return false;
      }
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        continue;
      }
      const ssize_t n = ::write(fd, body.data(), body.size());
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        continue;
      }
      if (n < 0) {
        return false;  // EPIPE: the command did not read (SIGPIPE is ignored by the daemon)
      }
      body.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  const std::string command_;
  const std::chrono::seconds timeout_;
};

}  // namespace

Result<std::unique_ptr<Sink>> OpenFileSink(const config::Sink& config) {
  const int fd = ::open(config.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error(Status::InvalidArgument("sink '" + config.name + "': cannot open " + config.path +
                                         " for appending (" + std::strerror(errno) + ")"));
  }
  return std::unique_ptr<Sink>(new FileSink(fd));
}

Result<std::unique_ptr<Sink>> OpenExecSink(const config::Sink& config) {
  return std::unique_ptr<Sink>(new ExecSink(config));
}

}  // namespace portrait::dispatch
