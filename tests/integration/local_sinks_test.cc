// The file and exec sinks through a real portraitd, beside a webhook sink whose receiver never
// answers: its due tasks starve no other sink, and it does not hold the daemon when it stops.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::Daemon;
using testing::Eventually;
using testing::HttpResult;

// Generated for this test; it guards nothing but it.
constexpr const char* kSecret = "whsec_dGVzdHMgb25seTogbm90IGEgcmVhbCBzZWNyZXQhIQ==";

// A TCP port that takes connections (the kernel completes them into the backlog) and never
// reads or answers: a receiver that hangs.
class BlackHole {
 public:
  BlackHole() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 1024) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "black hole: cannot listen on 127.0.0.1";
    }
    port_ = ntohs(addr.sin_port);
  }
  ~BlackHole() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};


std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(json::parse(line));
  }
  return out;
}

TEST(LocalSinks, FileAndExecDeliverWhileAHungWebhookWaitsAndDoesNotHoldTheStop) {
  ::setenv("PORTRAIT_CRM_SECRET", kSecret, 1);
  BlackHole hole;
  Daemon daemon;
  const std::string out_dir = daemon.dir() / "exec-out";
  ASSERT_EQ(::mkdir(out_dir.c_str(), 0700), 0);
  std::string text = testing::ReadFile(daemon.config_path());
  const std::string crm_url = "url = \"http://127.0.0.1:8080/hooks/portrait\"";
  const size_t at = text.find(crm_url);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, crm_url.size(),
               "url = \"http://127.0.0.1:" + std::to_string(hole.port()) +
                   "/hooks\"\ntimeout = \"2s\"\nconcurrency = 1\nbackoff = \"1s\"");
  text += "\n[[sink]]\nname = \"ticketing\"\ntype = \"exec\"\ncommand = \"cat > " + out_dir +
          "/$PORTRAIT_TASK_ID.json\"\ntimeout = \"10s\"\n";
  testing::WriteFile(daemon.config_path(), text);
  testing::WriteFile(daemon.dir() / "rules/tickets.toml", R"([[trigger]]
id = "lead-to-crm"
purpose = "care"
on.event = "lead.created"
task = "call-back"
channel = "phone"
sink = "crm"
message = "A new lead to call back."

[[trigger]]
id = "ticket-ack"
purpose = "care"
on.event = "ticket.opened"
task = "ack"
channel = "email"
sink = "ticketing"
message = "We have your ticket."

[[trigger]]
id = "ticket-queue"
purpose = "care"
on.event = "ticket.opened"
task = "triage"
channel = "email"
sink = "care-queue"
message = "A ticket to triage."
)");
  ASSERT_TRUE(daemon.Start("2026-06-10T04:00:00Z"));

  // 200 tasks for the hung crm sink first, then 20 tickets: two tasks each, exec and file.
  auto post = [&](const std::string& type, int from, int n) {
    json events = json::array();
    for (int i = from; i < from + n; ++i) {
      events.push_back({{"id", type + "-" + std::to_string(i)},
                        {"type", type},
                        {"subject", "cust-" + std::to_string(i)}});
    }
    HttpResult r = daemon.Admin("POST", "/v1/events", events.dump());
    ASSERT_EQ(r.status, 202) << r.body;
  };
  for (int batch = 0; batch < 4; ++batch) {
    post("lead.created", batch * 50, 50);
  }
  // The crm sink has claimed its tasks (they wait, `sending`, behind the hung one).
  ASSERT_TRUE(Eventually([&] {
    HttpResult r = daemon.Admin("GET", "/v1/tasks?state=sending&trigger=lead-to-crm", "", "care");
    return r.status == 200 && !r.json()["tasks"].empty();
  })) << daemon.Log();
  post("ticket.opened", 0, 20);

  // Both sinks' tasks are delivered (the file fsynced, the command exited 0).
  auto delivered = [&](const std::string& trigger) {
    HttpResult r =
        daemon.Admin("GET", "/v1/tasks?state=delivered&limit=1000&trigger=" + trigger, "", "care");
    return r.json()["tasks"].size();
  };
  Eventually([&] { return delivered("ticket-ack") == 20 && delivered("ticket-queue") == 20; });
  ASSERT_EQ(delivered("ticket-ack"), 20u) << daemon.Log();
  ASSERT_EQ(delivered("ticket-queue"), 20u) << daemon.Log();
  const std::vector<json> queued =
      JsonLines(testing::ReadFile(daemon.dir() / "var/care-queue.jsonl"));
  const std::vector<std::string> executed = testing::ListFiles(out_dir);
  ASSERT_EQ(queued.size(), 20u);
  ASSERT_EQ(executed.size(), 20u);

  // The file sink: one CloudEvent per line, one line per task.
  std::set<std::string> ids;
  for (const json& event : queued) {
    EXPECT_EQ(event["specversion"], "1.0");
    EXPECT_EQ(event["data"]["message"], "A ticket to triage.");
    ids.insert(event["id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), 20u);
  // The exec sink: the command read the task on stdin and was told its id.
  for (const std::string& path : executed) {
    const json event = json::parse(testing::ReadFile(path));
    EXPECT_EQ(path, out_dir + "/" + event["id"].get<std::string>() + ".json");
    EXPECT_EQ(event["data"]["message"], "We have your ticket.");
  }
  EXPECT_EQ(delivered("lead-to-crm"), 0u);  // nothing got through the hung receiver

  // Stopping waits for the one attempt under way (2 s timeout), not for the queue behind it.
  const auto stop_began = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon.Stop(), 0);
  const double stop_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_began).count();
  EXPECT_LT(stop_seconds, 8.0);
  EXPECT_NE(daemon.Log().find("queued attempts were not started"), std::string::npos)
      << daemon.Log();
  // The queued attempts went back unchanged and audited: nothing was left `sending` for the
  // next start. (The restarted dispatcher claims them again at once, so the audit log, not the
  // tasks' latest reason, is where the release shows.)
  ASSERT_TRUE(daemon.Start("2026-06-10T04:01:00Z"));
  EXPECT_EQ(daemon.Log().find("were being sent when the daemon stopped"), std::string::npos);
  HttpResult waiting = daemon.Admin("GET", "/v1/tasks?trigger=lead-to-crm&limit=1000", "", "care");
  EXPECT_EQ(waiting.json()["tasks"].size(), 200u);
  const json records = daemon.Admin("GET", "/v1/audit?after=0&limit=10000").json()["records"];
  int released = 0;
  for (const json& r : records) {
    released += r["detail"].is_object() && r["detail"].value("from", "") == "sending" &&
                r["detail"].value("reason", "") == "not attempted: the daemon stopped first";
  }
  EXPECT_GE(released, 1);
  EXPECT_EQ(daemon.Admin("GET", "/v1/audit/verify").json()["ok"], true);
}

// A daemon with one more sink, `sink_toml` (a [[sink]] table), and a trigger on `event` that
// sends to it; started at a fixed time.
void StartWithExecSink(Daemon& daemon, const std::string& sink_toml, const std::string& message) {
  ::setenv("PORTRAIT_CRM_SECRET", kSecret, 1);
  std::string text = testing::ReadFile(daemon.config_path());
  text += "\n" + sink_toml;
  testing::WriteFile(daemon.config_path(), text);
  testing::WriteFile(daemon.dir() / "rules/exec.toml", R"([[trigger]]
id = "exec-ticket"
purpose = "care"
on.event = "ticket.opened"
task = "ack"
channel = "email"
sink = "ticketing"
message = ")" + message + "\"\n");
  ASSERT_TRUE(daemon.Start("2026-06-10T04:00:00Z"));
}

void PostTicket(Daemon& daemon, const std::string& id) {
  const json events =
      json::array({{{"id", "ticket-" + id}, {"type", "ticket.opened"}, {"subject", "cust-" + id}}});
  HttpResult r = daemon.Admin("POST", "/v1/events", events.dump());
  ASSERT_EQ(r.status, 202) << r.body;
}

// The exec-ticket task of `customer` once it has left `pending`/`sending`, or null.
json SettledTask(Daemon& daemon, const std::string& customer) {
  json settled;
  Eventually([&] {
    for (const json& t : daemon.TasksOf(customer, "exec-ticket")) {
      if (t["state"] != "pending" && t["state"] != "sending") {
        settled = t;
      }
    }
    return !settled.is_null();
  });
  return settled;
}

TEST(LocalSinks, ExecChildSeesNoSecretAndNoDescriptorOfTheDaemon) {
  // Secrets in the daemon's environment: a webhook secret and a passphrase-like variable.
  ::setenv("PORTRAIT_FAKE_PASSPHRASE", "not-a-real-passphrase-but-secret", 1);
  Daemon daemon;
  const std::string out = daemon.dir() / "child";
  StartWithExecSink(daemon,
                    "[[sink]]\nname = \"ticketing\"\ntype = \"exec\"\ncommand = \"env > " + out +
                        ".env; ls -l /proc/$$/fd > " + out + ".fd; cat > /dev/null\"\n",
                    "We have your ticket.");
  if (HasFatalFailure()) {
    return;
  }
  PostTicket(daemon, "1");
  const json task = SettledTask(daemon, "cust-1");
  ASSERT_FALSE(task.is_null()) << daemon.Log();
  ASSERT_EQ(task["state"], "delivered") << task.dump();

  const std::string env = testing::ReadFile(out + ".env");
  EXPECT_EQ(env.find("not-a-real-passphrase"), std::string::npos) << env;
  EXPECT_EQ(env.find("whsec_"), std::string::npos) << env;
  EXPECT_EQ(env.find("PORTRAIT_TEST_NOW"), std::string::npos) << env;
  const std::string id = task["id"].is_string() ? task["id"].get<std::string>() : task["id"].dump();
  EXPECT_NE(env.find("PORTRAIT_TASK_ID=" + id + "\n"), std::string::npos) << env;
  EXPECT_NE(env.find("PATH="), std::string::npos) << env;
  // The shell's descriptors: stdin (the task's pipe), /dev/null, and the file it writes to (the
  // shell keeps a copy of a redirected descriptor above 9) — no socket, database or log.
  const std::string listing = testing::ReadFile(out + ".fd");
  std::istringstream listed(listing);
  int seen = 0;
  for (std::string line; std::getline(listed, line);) {
    const size_t arrow = line.find(" -> ");
    if (arrow == std::string::npos) {
      continue;
    }
    const std::string target = line.substr(arrow + 4);
    ++seen;
    EXPECT_TRUE(target.rfind("pipe:", 0) == 0 || target == "/dev/null" || target == out + ".fd")
        << listing;
  }
  EXPECT_GE(seen, 3) << listing;
  ::unsetenv("PORTRAIT_FAKE_PASSPHRASE");
}

TEST(LocalSinks, ExecSinkPassesOnlyTheVariablesItDeclares) {
  ::setenv("PORTRAIT_TICKET_TOKEN", "declared-value", 1);
  ::setenv("PORTRAIT_OTHER_TOKEN", "undeclared-value", 1);
  Daemon daemon;
  const std::string out = daemon.dir() / "child.env";
  StartWithExecSink(daemon,
                    "[[sink]]\nname = \"ticketing\"\ntype = \"exec\"\nenv = "
                    "[\"PORTRAIT_TICKET_TOKEN\"]\ncommand = \"env > " +
                        out + "; cat > /dev/null\"\n",
                    "We have your ticket.");
  if (HasFatalFailure()) {
    return;
  }
  PostTicket(daemon, "1");
  const json task = SettledTask(daemon, "cust-1");
  ASSERT_FALSE(task.is_null()) << daemon.Log();
  ASSERT_EQ(task["state"], "delivered") << task.dump();
  const std::string env = testing::ReadFile(out);
  EXPECT_NE(env.find("PORTRAIT_TICKET_TOKEN=declared-value"), std::string::npos) << env;
  EXPECT_EQ(env.find("undeclared-value"), std::string::npos) << env;
  ::unsetenv("PORTRAIT_TICKET_TOKEN");
  ::unsetenv("PORTRAIT_OTHER_TOKEN");
}

TEST(LocalSinks, ExecCommandThatClosesStdinFailsTheAttemptAndLeavesTheDaemonUp) {
  Daemon daemon;
  // A task far larger than a pipe's buffer (64 KiB): the write meets a closed pipe (EPIPE).
  StartWithExecSink(daemon,
                    "[[sink]]\nname = \"ticketing\"\ntype = \"exec\"\ncommand = \"exec "
                    "0<&-; sleep 0\"\nbackoff = \"1s\"\n",
                    std::string(200'000, 'x'));
  if (HasFatalFailure()) {
    return;
  }
  for (int i = 0; i < 3; ++i) {
    PostTicket(daemon, std::to_string(i));
  }
  for (int i = 0; i < 3; ++i) {
    const json task = SettledTask(daemon, "cust-" + std::to_string(i));
    ASSERT_FALSE(task.is_null()) << daemon.Log();
    EXPECT_EQ(task["state"], "retrying") << task.dump();
    EXPECT_NE(task["reason"].get<std::string>().find("before reading the whole task"),
              std::string::npos)
        << task.dump();
  }
  EXPECT_EQ(daemon.Admin("GET", "/healthz").status, 200) << daemon.Log();
  PostTicket(daemon, "after");  // still taking events
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Log();
}

TEST(LocalSinks, ErasureAppendsANoticeLineToTheFileSinkThatReceivedTheProfile) {
  ::setenv("PORTRAIT_CRM_SECRET", kSecret, 1);
  Daemon daemon;
  testing::WriteFile(daemon.dir() / "rules/queue.toml", R"([[trigger]]
id = "ticket-queue"
purpose = "care"
on.event = "ticket.opened"
task = "triage"
channel = "email"
sink = "care-queue"
message = "A ticket to triage."
)");
  ASSERT_TRUE(daemon.Start("2026-06-10T04:00:00Z"));
  const std::string path = daemon.dir() / "var/care-queue.jsonl";
  auto lines = [&] { return JsonLines(testing::ReadFile(path)); };
  PostTicket(daemon, "1");
  Eventually([&] { return lines().size() >= 1; });
  ASSERT_EQ(lines().size(), 1u) << daemon.Log();
  ASSERT_EQ(daemon.Admin("DELETE", "/v1/profiles/cust-1").status, 200);
  Eventually([&] { return lines().size() >= 2; });
  const std::vector<json> written = lines();
  ASSERT_EQ(written.size(), 2u) << daemon.Log();
  EXPECT_EQ(written[1]["type"], "profile.erased");
  EXPECT_EQ(written[1]["subject"], "cust-1");
  EXPECT_EQ(written[1]["data"], (json{{"subject", "cust-1"}}));
}

}  // namespace
}  // namespace portrait
