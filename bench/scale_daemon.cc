#include "bench/scale_daemon.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace portrait::bench {

namespace {

using Steady = std::chrono::steady_clock;

// A port free right now on 127.0.0.1 (bound to 0, then released).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  (void)::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

ChildDaemon::ChildDaemon(std::string binary, std::string config, std::string log_path,
                         int io_threads)
    : binary_(std::move(binary)),
      config_(std::move(config)),
      log_path_(std::move(log_path)),
      io_threads_(io_threads) {}

ChildDaemon::~ChildDaemon() {
  if (pid_ > 0) {
    Stop();
  }
}

double ChildDaemon::Start(const std::string& test_now) {
  port_ = FreePort();
  const std::string listen = "127.0.0.1:" + std::to_string(port_);
  const std::string threads = std::to_string(io_threads_);
  const auto start = Steady::now();
  const pid_t bench = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    // A bench that exits on an error takes its daemon along. The signal comes when the forking
    // *thread* exits, so Start stays on the main thread; and a bench that died before prctl
    // would never send it: the parent is checked once it is armed.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != bench) {
      ::_exit(1);
    }
    const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (!test_now.empty()) {
      ::setenv("PORTRAIT_TEST_NOW", test_now.c_str(), 1);
    }
    ::execl(binary_.c_str(), binary_.c_str(), "--config", config_.c_str(), "--listen",
            listen.c_str(), "--io-threads", threads.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  cli::HttpClient client(port_);
  while (Steady::now() - start < std::chrono::seconds(120)) {
    if (client.Send("GET", "/healthz", "").status == 200) {
      return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return -1;
}

double ChildDaemon::Stop() {
  if (pid_ <= 0) {
    return 0;
  }
  const auto start = Steady::now();
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

long ChildDaemon::RssKiB() const {
  if (pid_ <= 0) {
    return 0;
  }
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::atol(line.c_str() + 6);
    }
  }
  return 0;
}

double ChildDaemon::CpuSeconds() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command's closing parenthesis: state is the 3rd, utime the 14th.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i >= 14) {
      ticks += std::atof(field.c_str());
    }
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double ParallelFor(int port, int connections, int64_t count, int64_t step,
                   const std::function<void(cli::HttpClient&, int64_t, int64_t)>& fn) {
  std::atomic<int64_t> next{0};
  const auto start = Steady::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      cli::HttpClient client(port);
      for (int64_t b = next.fetch_add(step); b < count; b = next.fetch_add(step)) {
        fn(client, b, std::min(count, b + step));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  return std::chrono::duration<double>(Steady::now() - start).count();
}

std::map<std::string, std::string> Headers(const std::string& token) {
  return {{"Authorization", "Bearer " + token}, {"X-Purpose", "service"}};
}

double Metric(cli::HttpClient& client, const std::string& token, const std::string& name) {
  const cli::HttpResult r = client.Send("GET", "/metrics", "", Headers(token));
  std::istringstream lines(r.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + " ", 0) == 0) {
      return std::atof(line.c_str() + name.size() + 1);
    }
  }
  return 0;
}

double Quantile(std::vector<double>& v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

long long DirBytes(const std::string& dir) {
  long long total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      total += static_cast<long long>(entry.file_size());
    }
  }
  return total;
}

std::pair<int, std::string> GrepLog(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::pair<int, std::string> found{0, ""};
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) {
      ++found.first;
      found.second = line;
    }
  }
  return found;
}

std::string AwaitLogLine(const std::string& path, const std::string& needle, int before,
                         double seconds) {
  const auto deadline = Steady::now() + std::chrono::duration<double>(seconds);
  while (Steady::now() < deadline) {
    auto [count, line] = GrepLog(path, needle);
    if (count > before) {
      return line;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

}  // namespace portrait::bench
