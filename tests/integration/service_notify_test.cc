// portraitd under a service manager (packaging/portraitd.service is Type=notify): with
// NOTIFY_SOCKET naming a datagram socket this test listens on, as systemd's does, the real daemon
// reports READY=1 once its port answers, RELOADING=1 then READY=1 around a SIGHUP reload (also a
// refused one: it goes on serving), and STOPPING=1 on SIGTERM; a NOTIFY_SOCKET that leads nowhere
// costs one warning, never the service.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

using testing::Daemon;

// The manager's end: a bound AF_UNIX datagram socket, each datagram one notification.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path_.size() >= sizeof(address.sun_path)) {
      ADD_FAILURE() << "socket path too long for sun_path: " << path_;
      return;
    }
    path_.copy(address.sun_path, path_.size());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      ADD_FAILURE() << "cannot bind " << path_;
    }
  }
  ~NotifySocket() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

  // The next notification; "" when none arrives within `seconds`.
  std::string Next(int seconds = 20) {
    pollfd ready{fd_, POLLIN, 0};
    if (fd_ < 0 || ::poll(&ready, 1, seconds * 1000) != 1) {
      return "";
    }
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
  }

 private:
  std::string path_;
  int fd_ = -1;
};

bool HasLine(const std::string& message, const std::string& line) {
  return ("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos;
}

std::string StatusOf(const std::string& message) {
  std::smatch m;
  static const std::regex kStatus("(^|\n)STATUS=([^\n]*)");
  return std::regex_search(message, m, kStatus) ? m[2].str() : "";
}

class ServiceNotify : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.SetEnv("NOTIFY_SOCKET", manager_.path());
    ASSERT_TRUE(daemon_.Start());
    const std::string ready = manager_.Next();
    ASSERT_TRUE(HasLine(ready, "READY=1")) << "first notification: " << ready;
    ready_status_ = StatusOf(ready);
  }
  void TearDown() override {
    if (daemon_.running()) {
      daemon_.Stop();
    }
  }
  int Health() { return cli::HttpClient(daemon_.port()).Send("GET", "/healthz", "").status; }

  Daemon daemon_;
  NotifySocket manager_{daemon_.dir() / "notify"};
  std::string ready_status_;
};

TEST_F(ServiceNotify, ReadyComesOnceThePortAnswersAndItsStatusNamesTheAddress) {
  // The status names the port the daemon bound (127.0.0.1:0 asked for any), and it answers.
  EXPECT_NE(ready_status_.find("serving on http://127.0.0.1:" + std::to_string(daemon_.port())),
            std::string::npos)
      << ready_status_;
  EXPECT_NE(ready_status_.find("triggers"), std::string::npos) << ready_status_;
  EXPECT_EQ(Health(), 200);
  EXPECT_EQ(manager_.Next(/*seconds=*/1), "") << "nothing more while it just serves";
}

TEST_F(ServiceNotify, SighupIsReportedAsReloadingThenReady) {
  daemon_.Signal(SIGHUP);
  const std::string reloading = manager_.Next();
  EXPECT_TRUE(HasLine(reloading, "RELOADING=1")) << reloading;
  EXPECT_NE(reloading.find("\nMONOTONIC_USEC="), std::string::npos) << reloading;
  const std::string ready = manager_.Next();
  EXPECT_TRUE(HasLine(ready, "READY=1")) << ready;
  EXPECT_NE(StatusOf(ready).find("config and rules reloaded"), std::string::npos) << ready;
  EXPECT_TRUE(daemon_.WaitForLog("config and rules reloaded"));
  EXPECT_EQ(Health(), 200);
}

TEST_F(ServiceNotify, ARefusedReloadStillEndsInReadyAndTheDaemonServes) {
  std::ofstream(daemon_.dir() / "rules/care.toml", std::ios::app) << "\n[[trigger\n";
  daemon_.Signal(SIGHUP);
  EXPECT_TRUE(HasLine(manager_.Next(), "RELOADING=1"));
  const std::string ready = manager_.Next();
  EXPECT_TRUE(HasLine(ready, "READY=1")) << ready;
  EXPECT_NE(StatusOf(ready).find("reload refused"), std::string::npos) << ready;
  EXPECT_TRUE(daemon_.WaitForLog("reload refused"));
  EXPECT_EQ(Health(), 200);
}

TEST_F(ServiceNotify, SigtermIsReportedAsStoppingAndTheDaemonExitsCleanly) {
  EXPECT_EQ(daemon_.Stop(), 0);
  const std::string stopping = manager_.Next();
  EXPECT_TRUE(HasLine(stopping, "STOPPING=1")) << stopping;
  EXPECT_NE(StatusOf(stopping).find("stopping"), std::string::npos) << stopping;
}

TEST(ServiceNotifyNowhere, ANotifySocketThatLeadsNowhereCostsOneWarningNotTheService) {
  for (const std::string socket : {"/nonexistent-dir/notify", "not-an-absolute-path", "@"}) {
    SCOPED_TRACE(socket);
    Daemon daemon;
    daemon.SetEnv("NOTIFY_SOCKET", socket);
    ASSERT_TRUE(daemon.Start());
    EXPECT_EQ(cli::HttpClient(daemon.port()).Send("GET", "/healthz", "").status, 200);
    daemon.Signal(SIGHUP);
    ASSERT_TRUE(daemon.WaitForLog("config and rules reloaded"));
    EXPECT_EQ(daemon.Stop(), 0);
    const std::string log = daemon.Log();
    const std::string warning = "cannot notify the service manager";
    const size_t first = log.find(warning);
    EXPECT_NE(first, std::string::npos) << log;
    EXPECT_EQ(log.find(warning, first + 1), std::string::npos) << "warned more than once:\n" << log;
  }
}

}  // namespace
}  // namespace portrait
