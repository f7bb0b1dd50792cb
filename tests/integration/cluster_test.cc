// Three portraitd nodes on one PostgreSQL ([cluster], docs/SCALING.md): events for 1,000
// customers sent through all three while one node is SIGKILLed mid-stream. Afterwards every
// acknowledged event is stored exactly once, every timer due during the test fired exactly once,
// every task is delivered (a repeat carries the same id), and each node's audit chain verifies.
// On the test binary's own server (tests/support/postgres_server.h).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "base/clock.h"
#include "base/time_format.h"
#include "store/postgres/pg.h"
#include "tests/integration/daemon_harness.h"
#include "tests/support/postgres_server.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::Daemon;
using testing::HttpResult;
using testing::PostgresServer;

constexpr int kCustomers = 1000;
constexpr int kPerRequest = 10;  // customers per request: two events each
constexpr int kPartitions = 64;
constexpr int kLeaseSeconds = 2;

std::string ClusterTable(const std::string& node) {
  return "[cluster]\nnode = \"" + node + "\"\naddress = \"http://" + node +
         ".test:7451\"\npartitions = " + std::to_string(kPartitions) + "\nlease = \"" +
         std::to_string(kLeaseSeconds) + "s\"\n";
}

// A task at each order, and a timer at each cart update that fires 6 s later unless an order
// follows (none does).
constexpr const char* kRules = R"toml(
[[trigger]]
id = "order-ack"
purpose = "care"
on.event = "order.placed"
task = "ack"
channel = "email"
sink = "care-queue"
message = "Thank you for your order."

[[trigger]]
id = "cart-nudge"
purpose = "care"
on.absence = { after = "cart.updated", missing = "order.placed", within = "6s" }
task = "nudge"
channel = "email"
sink = "care-queue"
message = "Your cart is waiting."
)toml";

std::string StoreSection(const PostgresServer& server, const PostgresServer::Databases& dbs,
                         const testing::TempDir& dir) {
  testing::WriteFile(dir / "main.pw", std::string(server.password().view()));
  testing::WriteFile(dir / "keys.pw", std::string(server.keystore_password().view()));
  ::chmod((dir / "main.pw").c_str(), 0600);
  ::chmod((dir / "keys.pw").c_str(), 0600);
  return "[store]\nkind = \"postgres\"\nurl = \"" + dbs.url + "\"\nkeystore_url = \"" +
         dbs.keystore_url + "\"\npassword_file = \"" + (dir / "main.pw") +
         "\"\nkeystore_password_file = \"" + (dir / "keys.pw") + "\"\n";
}

// Customer i's two events, an order a minute ago then a cart update now (same ids on every
// resend).
json EventsOf(int from, int to) {
  const int64_t now = SystemClock().NowUs();
  json events = json::array();
  for (int i = from; i < to; ++i) {
    const std::string c = "cust-" + std::to_string(i);
    events.push_back({{"id", "o-" + c},
                      {"type", "order.placed"},
                      {"subject", c},
                      {"time", FormatRfc3339(now - 60'000'000)},
                      {"data", {{"amount", 10}}}});
    events.push_back(
        {{"id", "c-" + c}, {"type", "cart.updated"}, {"subject", c}, {"time", FormatRfc3339(now)}});
  }
  return events;
}

class Cluster : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = PostgresServer::Shared();
    ASSERT_NE(server_, nullptr);
    dbs_ = server_->Fresh();
    nodes_.push_back(
        std::make_unique<Daemon>(StoreSection(*server_, dbs_, secrets_) + ClusterTable("node-1")));
    testing::WriteFile(nodes_[0]->dir() / "rules/cluster.toml", kRules);
    nodes_.push_back(std::make_unique<Daemon>(*nodes_[0], ClusterTable("node-2")));
    nodes_.push_back(std::make_unique<Daemon>(*nodes_[0], ClusterTable("node-3")));
  }

  std::set<std::string> TaskIds() {
    store::pg::Connection db = store::pg::Connection::Open(dbs_.url, &server_->password()).value();
    auto r = db.Run("SELECT id FROM tasks;");
    EXPECT_TRUE(r) << r.error().ToString();
    std::set<std::string> ids;
    for (int i = 0; r && i < r->size(); ++i) {
      ids.insert(std::to_string(r->Int(i, 0)));
    }
    return ids;
  }

  int64_t Count(const std::string& sql) {
    store::pg::Connection db = store::pg::Connection::Open(dbs_.url, &server_->password()).value();
    auto r = db.Run(sql);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? r->Int(0, 0) : -1;
  }

  int NodeNamed(const std::string& name) const { return name.back() - '1'; }

  // Sends customers [from, to) until acknowledged, first to node `first`: a 421 goes to the
  // owner it names, one customer a request; an unreachable node or a 503 to the next live one.
  void Send(int first, int from, int to) {
    std::map<int, std::unique_ptr<cli::HttpClient>> clients;
    auto post = [&](int node, const std::string& body) {
      auto& client = clients[node];
      if (!client) {
        client = std::make_unique<cli::HttpClient>(ports_[node]);
      }
      return client->Send(
          "POST", "/v1/events", body,
          {{"Authorization", "Bearer " + nodes_[0]->admin_token()}, {"X-Purpose", "care"}});
    };
    std::vector<std::pair<int, int>> pending = {{from, to}};
    int node = first;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!pending.empty() && std::chrono::steady_clock::now() < give_up) {
      auto [a, b] = pending.back();
      if (killed_ == node) {
        node = (node + 1) % 3;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // retry pacing
        continue;
      }
      HttpResult r = post(node, EventsOf(a, b).dump());
      if (r.status == 202) {
        pending.pop_back();
        continue;
      }
      if (r.status == 421) {
        ++misdirected_;
        if (b - a > 1) {  // its customers may have several owners: one at a time
          pending.pop_back();
          for (int i = a; i < b; ++i) {
            pending.push_back({i, i + 1});
          }
        } else {
          node = NodeNamed(r.json()["owner"]["node"].get<std::string>());
        }
        continue;
      }
      clients.erase(node);  // unreachable (killed) or between holders: try the next node
      node = (node + 1) % 3;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // retry pacing
    }
    EXPECT_TRUE(pending.empty()) << "customers from " << from << " not acknowledged";
  }

  PostgresServer* server_ = nullptr;
  PostgresServer::Databases dbs_;
  testing::TempDir secrets_;
  std::vector<std::unique_ptr<Daemon>> nodes_;
  int ports_[3] = {0, 0, 0};
  std::atomic<int> killed_{-1};
  std::atomic<int> misdirected_{0};
};

TEST_F(Cluster, ThreeNodesLoseNothingAcknowledgedWhenOneIsKilledMidStream) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(nodes_[i]->Start()) << nodes_[i]->Log();
    ports_[i] = nodes_[i]->port();
  }
  // The three share the partitions before the stream starts.
  ASSERT_TRUE(testing::Eventually([&] {
    return Count("SELECT count(DISTINCT node) FROM leases WHERE node <> '';") == 3;
  })) << nodes_[0]->Log();

  // Three senders, each starting at its own node; node-2 is killed a third of the way in.
  std::vector<std::thread> senders;
  const int share = kCustomers / 3 + 1;
  for (int n = 0; n < 3; ++n) {
    senders.emplace_back([this, n] {
      const int end = std::min(kCustomers, (n + 1) * share);
      for (int from = n * share; from < end; from += kPerRequest) {
        Send(n, from, std::min(end, from + kPerRequest));
      }
    });
  }
  ASSERT_TRUE(
      testing::Eventually([&] { return Count("SELECT count(*) FROM profiles;") >= 300; }, 60));
  nodes_[1]->Kill();
  killed_ = 1;
  const auto killed_at = std::chrono::steady_clock::now();
  // The dead node's partitions are served again: every lease held, unexpired, by a live node.
  ASSERT_TRUE(testing::Eventually([&] {
    return Count(
               "SELECT count(*) FROM leases WHERE node IN ('node-1', 'node-3') AND expires_us > "
               "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint;") == kPartitions;
  }));
  const auto served_after = std::chrono::steady_clock::now() - killed_at;
  for (std::thread& t : senders) {
    t.join();
  }
  std::printf(
      "partitions served again %lld ms after the kill (lease %d s); %d requests "
      "answered 421\n",
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(served_after).count()),
      kLeaseSeconds, misdirected_.load());

  // Every acknowledged event stored exactly once, one profile per customer.
  EXPECT_EQ(Count("SELECT count(*) FROM profiles;"), kCustomers);
  EXPECT_EQ(Count("SELECT count(*) FROM events;"), 2 * kCustomers);
  EXPECT_EQ(Count("SELECT count(DISTINCT key) FROM events;"), 2 * kCustomers);
  // Every timer fired, once: one nudge per customer and no absence timer left.
  ASSERT_TRUE(testing::Eventually(
      [&] {
        return Count("SELECT count(*) FROM tasks WHERE trigger = 'cart-nudge';") == kCustomers;
      },
      60))
      << Count("SELECT count(*) FROM tasks WHERE trigger = 'cart-nudge';");
  EXPECT_EQ(Count("SELECT count(*) FROM timers WHERE trigger = 'cart-nudge';"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM tasks WHERE trigger = 'order-ack';"), kCustomers);
  // Every task delivered; the sink files hold each task's id, repeats with the same id.
  ASSERT_TRUE(testing::Eventually(
      [&] {
        return Count("SELECT count(*) FROM tasks WHERE state = 'delivered';") == 2 * kCustomers;
      },
      60))
      << Count("SELECT count(*) FROM tasks WHERE state = 'delivered';");
  std::set<std::string> delivered;
  size_t lines = 0;
  for (const auto& node : nodes_) {
    const std::string file = node->dir() / "var/care-queue.jsonl";
    std::string text = std::filesystem::exists(file) ? testing::ReadFile(file) : "";
    size_t at = 0;
    while (at < text.size()) {
      size_t end = text.find('\n', at);
      end = end == std::string::npos ? text.size() : end;
      if (end > at) {
        delivered.insert(json::parse(text.substr(at, end - at))["id"].get<std::string>());
        ++lines;
      }
      at = end + 1;
    }
  }
  EXPECT_EQ(delivered, TaskIds());
  std::printf("%zu deliveries for %zu tasks\n", lines, delivered.size());

  // A repeat sent to both live nodes: the holder counts duplicates, the other answers 421
  // naming it, and stores nothing.
  for (int i = 0; i < 10; ++i) {
    const std::string body = EventsOf(i, i + 1).dump();
    HttpResult first = nodes_[0]->Admin("POST", "/v1/events", body, "care");
    HttpResult third = nodes_[2]->Admin("POST", "/v1/events", body, "care");
    const bool first_holds = first.status == 202;
    const HttpResult& held = first_holds ? first : third;
    const HttpResult& misdirected = first_holds ? third : first;
    ASSERT_EQ(held.status, 202) << held.body;
    EXPECT_EQ(held.json(), json({{"accepted", 0}, {"duplicates", 2}}));
    ASSERT_EQ(misdirected.status, 421) << misdirected.body;
    const std::string owner = first_holds ? "node-1" : "node-3";
    EXPECT_EQ(misdirected.json()["owner"],
              json({{"node", owner}, {"address", "http://" + owner + ".test:7451"}}));
  }
  EXPECT_EQ(Count("SELECT count(*) FROM events;"), 2 * kCustomers);

  // Each node's audit chain verifies, the killed node's once it is back.
  ASSERT_TRUE(nodes_[1]->Start()) << nodes_[1]->Log();
  for (const auto& node : nodes_) {
    HttpResult verify = node->Admin("GET", "/v1/audit/verify");
    EXPECT_EQ(verify.status, 200) << verify.body;
    EXPECT_EQ(verify.json()["ok"], true) << verify.body;
  }
  for (const auto& node : nodes_) {
    EXPECT_EQ(node->Stop(), 0) << node->Log();
  }
  EXPECT_EQ(Count("SELECT count(*) FROM leases WHERE node <> '';"), 0);
}

}  // namespace
}  // namespace portrait
