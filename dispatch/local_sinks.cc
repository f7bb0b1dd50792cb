#include "dispatch/local_sinks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "base/mutex.h"

namespace portrait::dispatch {
namespace {

std::string Errno(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

class FileSink final : public Sink {
 public:
  explicit FileSink(int fd) : fd_(fd) {}
  ~FileSink() override { ::close(fd_); }

  Outcome Deliver(const Delivery& d) override {
    const std::string line = d.body + "\n";
    MutexLock lock(mu_);
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
  Mutex mu_;  // held while a line is written: one line at a time
};

class ExecSink final : public Sink {
 public:
  explicit ExecSink(const config::Sink& config)
      : command_(config.command), timeout_(config.timeout), declared_(config.env) {}

  Outcome Deliver(const Delivery& d) override {
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) {
      return Outcome::Retry(Errno("pipe"));
    }
    pid_t pid = 0;
    const int spawned = Spawn(in[0], d.id, pid);
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
    return Judge(status, fed);
  }

 private:
  // Starts /bin/sh -c command in its own process group with `stdin_fd` as its stdin, stdout and
  // stderr on /dev/null, every other descriptor closed (libraries open some without
  // O_CLOEXEC: the listening socket, the databases) and the minimal environment. Returns 0 or
  // an errno value.
  int Spawn(int stdin_fd, const std::string& task_id, pid_t& pid) const {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Its own group (to be killed whole on a timeout), default signal dispositions (the
    // daemon ignores SIGPIPE; the command should not inherit that).
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigdefault(&attr, &all);

    std::vector<std::string> env_text = Environment(task_id);
    std::vector<char*> env;
    for (std::string& e : env_text) {
      env.push_back(e.data());
    }
    env.push_back(nullptr);
    std::string sh = "/bin/sh", dash_c = "-c", command = command_;
    char* argv[] = {sh.data(), dash_c.data(), command.data(), nullptr};
    const int spawned = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, env.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return spawned;
  }

  // PATH, LANG, PORTRAIT_TASK_ID and the variables the sink declares (those set): never the
  // daemon's whole environment, which may hold the master passphrase and webhook secrets.
  std::vector<std::string> Environment(const std::string& task_id) const {
    std::vector<std::string> env;
    for (const char* name : {"PATH", "LANG"}) {
      const char* value = std::getenv(name);
      if (value) {
        env.push_back(std::string(name) + "=" + value);
      } else if (std::string_view(name) == "PATH") {
        env.push_back("PATH=/usr/bin:/bin");
      }
    }
    for (const std::string& name : declared_) {
      if (const char* value = std::getenv(name.c_str())) {
        env.push_back(name + "=" + value);
      }
    }
    env.push_back("PORTRAIT_TASK_ID=" + task_id);
    return env;
  }

  static Outcome Judge(int status, bool fed) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && fed) {
      return Outcome::Delivered("exit 0");
    }
    if (!fed && WIFEXITED(status)) {
      return Outcome::Retry("exited " + std::to_string(WEXITSTATUS(status)) +
                            " before reading the whole task");
    }
    return Outcome::Retry(WIFEXITED(status)
                              ? "exit " + std::to_string(WEXITSTATUS(status))
                              : "killed by signal " + std::to_string(WTERMSIG(status)));
  }

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
  const std::vector<std::string> declared_;
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
