// Three portraitd nodes on one PostgreSQL ([cluster], docs/SCALING.md): events for 1,000
// customers sent through all three while one node is SIGKILLed mid-stream. Afterwards every
// acknowledged event is stored exactly once, every timer due during the test fired exactly once,
// every task is delivered (a repeat carries the same id), and each node's audit chain verifies.
// And a node's 421 for another node's subject is the same whether or not the subject is stored
// (DECISIONS 170). And a rules change is passed on every partition by its holder, a dead node's
// partitions by their next holders (DECISIONS 173), a [[metric]] over stored events rebuilt
// (DECISIONS 176) and a date field gained anchored (DECISIONS 177) with every node running. On
// the test binary's own server (tests/support/postgres_server.h).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "base/clock.h"
#include "base/time_format.h"
#include "crypto/audit_signer.h"
#include "store/audit_log.h"
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

  std::string Text(const std::string& sql) {
    store::pg::Connection db = store::pg::Connection::Open(dbs_.url, &server_->password()).value();
    auto r = db.Run(sql);
    EXPECT_TRUE(r) << r.error().ToString();
    return r && r->size() == 1 ? r->Text(0, 0) : std::string();
  }

  // The partitions' marks of a pass (docs/DECISIONS.md 173): how many, and how many values.
  int64_t Marks(const std::string& pass) {
    return Count("SELECT count(*) FROM meta WHERE key ~ '^" + pass + "/[0-9]+$';");
  }
  int64_t MarkValues(const std::string& pass) {
    return Count("SELECT count(DISTINCT value) FROM meta WHERE key ~ '^" + pass + "/[0-9]+$';");
  }
  std::string AMark(const std::string& pass) {
    return Text("SELECT value FROM meta WHERE key = '" + pass + "/0';");
  }

  int NodeNamed(const std::string& name) const { return name.back() - '1'; }
  // Each node holds its share and no more, so no partition moves while the test runs.
  bool Settled() {
    return Count("SELECT count(DISTINCT node) FROM leases WHERE node <> '';") == 3 &&
           Count(
               "SELECT max(n) FROM (SELECT count(*) AS n FROM leases WHERE node <> '' "
               "GROUP BY node) AS shares;") <= (kPartitions + 2) / 3 &&
           Count("SELECT count(*) FROM leases WHERE node <> '';") == kPartitions;
  }

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

  // Every acknowledged event stored exactly once, one profile per customer, each in its
  // external id's partition (DECISIONS 170), whichever node made it.
  EXPECT_EQ(Count("SELECT count(*) FROM profiles;"), kCustomers);
  EXPECT_EQ(Count("SELECT count(*) FROM profiles p JOIN ext_keys k ON k.profile_id = p.id "
                  "WHERE k.part <> p.part;"),
            0);
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
  std::string public_key;
  int64_t records = 0;
  for (const auto& node : nodes_) {
    HttpResult verify = node->Admin("GET", "/v1/audit/verify");
    EXPECT_EQ(verify.status, 200) << verify.body;
    EXPECT_EQ(verify.json()["ok"], true) << verify.body;
    public_key = verify.json().value("public_key", "");
    records = verify.json().value("records", int64_t{0});
  }
  // Any node's export holds every node's chain, and verifies offline with the key alone.
  HttpResult exported = nodes_[0]->Admin("GET", "/v1/audit/export");
  ASSERT_EQ(exported.status, 200) << exported.body;
  for (const std::string node : {"node-1", "node-2", "node-3"}) {
    EXPECT_NE(exported.body.find("\"node\":\"" + node + "\""), std::string::npos) << node;
  }
  std::istringstream in(exported.body);
  auto offline = store::VerifyAuditExport(in, crypto::FromHex(public_key).value_or(""));
  ASSERT_TRUE(offline) << offline.error().ToString();
  EXPECT_TRUE(offline->ok) << offline->problem;
  EXPECT_GE(offline->records, records);  // the export's own record, and any since the verify
  for (const auto& node : nodes_) {
    EXPECT_EQ(node->Stop(), 0) << node->Log();
  }
  EXPECT_EQ(Count("SELECT count(*) FROM leases WHERE node <> '';"), 0);
}

// A subject's owner follows from its external id alone (docs/DECISIONS.md 170): a node answers
// a write naming a subject of another node's partition 421 before anything about the subject is
// looked up, so a stored subject and an unknown one get byte-identical answers; a new subject's
// profile is made in its external id's partition, by that partition's holder; a merge across
// partitions is refused.
TEST_F(Cluster, AnotherNodesSubjectIsAnswered421AlikeWhetherOrNotItIsStored) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(nodes_[i]->Start()) << nodes_[i]->Log();
    ports_[i] = nodes_[i]->port();
  }
  ASSERT_TRUE(testing::Eventually([&] { return Settled(); })) << nodes_[0]->Log();
  constexpr int kStored = 30;
  Send(0, 0, kStored);
  ASSERT_EQ(Count("SELECT count(*) FROM profiles;"), kStored);

  // Node-1's answers, for stored subjects and for subjects never seen, by the owner they name.
  struct Answer {
    std::string subject;
    HttpResult result;
  };
  std::map<std::string, std::vector<Answer>> stored, unknown;
  auto event_of = [](const std::string& subject) {
    return json::array({{{"id", "probe-" + subject},
                         {"type", "cart.updated"},
                         {"subject", subject},
                         {"time", FormatRfc3339(SystemClock().NowUs())}}})
        .dump();
  };
  for (int i = 0; i < kStored; ++i) {
    const std::string subject = "cust-" + std::to_string(i);
    HttpResult r = nodes_[0]->Admin("POST", "/v1/events", EventsOf(i, i + 1).dump(), "care");
    if (r.status == 421) {
      stored[r.json()["owner"]["node"].get<std::string>()].push_back({subject, r});
    } else {
      EXPECT_EQ(r.status, 202) << r.body;  // node-1 holds it: duplicates
    }
  }
  int made_by_node_1 = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string subject = "new-" + std::to_string(i);
    const int64_t before = Count("SELECT count(*) FROM profiles;");
    HttpResult r = nodes_[0]->Admin("POST", "/v1/events", event_of(subject), "care");
    if (r.status == 421) {
      EXPECT_EQ(Count("SELECT count(*) FROM profiles;"), before) << "a 421 stores nothing";
      unknown[r.json()["owner"]["node"].get<std::string>()].push_back({subject, r});
    } else {
      ASSERT_EQ(r.status, 202) << r.body;  // node-1 holds its partition: made there
      ++made_by_node_1;
    }
  }
  // The same owner, the same answer, byte for byte, whether the subject is stored or not.
  int compared = 0;
  for (const auto& [owner, answers] : stored) {
    EXPECT_NE(owner, "node-1");
    if (!unknown.contains(owner)) {
      continue;
    }
    const HttpResult& a = answers.front().result;
    const HttpResult& b = unknown[owner].front().result;
    EXPECT_EQ(a.status, 421);
    EXPECT_EQ(a.content_type, b.content_type);
    EXPECT_EQ(a.body, b.body) << "a stored subject's 421 differs from an unknown one's";
    EXPECT_EQ(a.json()["owner"]["address"], "http://" + owner + ".test:7451");
    ++compared;
  }
  EXPECT_GE(compared, 1) << "no owner answered for both a stored and an unknown subject";

  // Every other write naming a subject by its external id: the same 421 for both.
  const std::string stored_subject = stored.begin()->second.front().subject;
  const std::string owner = stored.begin()->first;
  ASSERT_TRUE(unknown.contains(owner));
  const std::string unknown_subject = unknown[owner].front().subject;
  const std::vector<std::pair<std::string, std::string>> writes = {
      {"PUT", R"({"fields": {"city": "Lyon"}})"},
      {"DELETE", ""},
      {"PUT /hold", R"({"reason": "audit"})"},
      {"DELETE /hold", ""},
      {"POST /consents", R"({"purpose": "care", "status": "granted", "source": "form"})"},
      {"POST /merge", R"({"from": "cust-0"})"},
  };
  const int64_t profiles_before = Count("SELECT count(*) FROM profiles;");
  for (const auto& [route, body] : writes) {
    const size_t space = route.find(' ');
    const std::string method = route.substr(0, space);
    const std::string tail = space == std::string::npos ? "" : route.substr(space + 1);
    HttpResult a = nodes_[0]->Admin(method, "/v1/profiles/" + stored_subject + tail, body);
    HttpResult b = nodes_[0]->Admin(method, "/v1/profiles/" + unknown_subject + tail, body);
    EXPECT_EQ(a.status, 421) << route << ": " << a.body;
    EXPECT_EQ(a.content_type, b.content_type) << route;
    EXPECT_EQ(a.body, b.body) << route;
    EXPECT_EQ(a.json()["owner"]["node"], owner) << route;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM profiles;"), profiles_before);
  EXPECT_EQ(Count("SELECT count(*) FROM consents;"), 0);

  // A caller who may not make the write is refused as on one node (403, audited), and learns
  // nothing of where the subject's partition lies.
  const std::string marketer = nodes_[0]->CreateToken("marketer-probe", "marketer");
  for (const auto& [route, body] : writes) {
    const size_t space = route.find(' ');
    const std::string method = route.substr(0, space);
    const std::string tail = space == std::string::npos ? "" : route.substr(space + 1);
    HttpResult r = nodes_[0]->client().Send(
        method, "/v1/profiles/" + stored_subject + tail, body,
        {{"Authorization", "Bearer " + marketer}, {"X-Purpose", "marketing"}});
    EXPECT_EQ(r.status, 403) << route << ": " << r.body;
    EXPECT_EQ(r.body.find(owner), std::string::npos) << route << ": " << r.body;
  }

  // The owner named makes the unknown subject's profile, in its external id's partition.
  const int by_owner = NodeNamed(owner);
  HttpResult made =
      nodes_[by_owner]->Admin("POST", "/v1/events", event_of(unknown_subject), "care");
  ASSERT_EQ(made.status, 202) << made.body;
  HttpResult read = nodes_[0]->Admin("GET", "/v1/profiles/" + unknown_subject, "", "care");
  ASSERT_EQ(read.status, 200) << read.body;  // reads are served by any node
  const int64_t id = read.json()["internal_id"].get<int64_t>();
  EXPECT_EQ(Count("SELECT count(*) FROM leases l JOIN profiles p ON p.part = l.part WHERE p.id = " +
                  std::to_string(id) + " AND l.node = '" + owner + "';"),
            1);
  // Every profile, each node's included, lies in its own external id's partition.
  EXPECT_EQ(Count("SELECT count(*) FROM profiles;"), kStored + made_by_node_1 + 1);
  EXPECT_EQ(Count("SELECT count(*) FROM profiles p JOIN ext_keys k ON k.profile_id = p.id "
                  "AND NOT k.alias WHERE k.part <> p.part;"),
            0);

  // A merge joins only profiles of one partition: two stored ones of different partitions, sent
  // to the target's holder, are refused 409 and both stay.
  auto part_of = [&](const std::string& subject) {
    HttpResult r = nodes_[0]->Admin("GET", "/v1/profiles/" + subject, "", "care");
    EXPECT_EQ(r.status, 200) << r.body;
    return Count("SELECT part FROM profiles WHERE id = " +
                 std::to_string(r.json()["internal_id"].get<int64_t>()) + ";");
  };
  const int64_t target_part = part_of("cust-1");
  std::string source;
  for (int i = 2; i < kStored && source.empty(); ++i) {
    if (part_of("cust-" + std::to_string(i)) != target_part) {
      source = "cust-" + std::to_string(i);
    }
  }
  ASSERT_FALSE(source.empty());
  const std::string holder = [&] {
    store::pg::Connection db = store::pg::Connection::Open(dbs_.url, &server_->password()).value();
    auto r = db.Run("SELECT node FROM leases WHERE part = " + std::to_string(target_part) + ";");
    return r && r->size() == 1 ? r->Text(0, 0) : std::string();
  }();
  ASSERT_FALSE(holder.empty());
  HttpResult merged = nodes_[NodeNamed(holder)]->Admin("POST", "/v1/profiles/cust-1/merge",
                                                       json({{"from", source}}).dump());
  EXPECT_EQ(merged.status, 409) << merged.body;
  EXPECT_EQ(Count("SELECT count(*) FROM ext_keys WHERE alias;"), 0);

  for (const auto& node : nodes_) {
    EXPECT_EQ(node->Stop(), 0) << node->Log();
  }
}

// A task's change and an import's row are answered by their partition's holder too: a task of
// another node's partition is 421 naming it, and an import's rows of other nodes' partitions
// are reported, each with its owner, and the rest imported (docs/DECISIONS.md 175).
TEST_F(Cluster, TasksAndImportRowsOfAnotherNodesPartitionNameTheirOwner) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(nodes_[i]->Start()) << nodes_[i]->Log();
    ports_[i] = nodes_[i]->port();
  }
  ASSERT_TRUE(testing::Eventually([&] { return Settled(); })) << nodes_[0]->Log();
  Send(0, 0, 30);  // an order-ack task for each customer

  store::pg::Connection db = store::pg::Connection::Open(dbs_.url, &server_->password()).value();
  auto held = db.Run("SELECT t.id, l.node FROM tasks t JOIN leases l ON l.part = t.part;");
  ASSERT_TRUE(held) << held.error().ToString();
  ASSERT_GE(held->size(), 30);
  const std::string marketer = nodes_[0]->CreateToken("marketer-tasks", "marketer");
  int misdirected = 0;
  for (int i = 0; i < held->size(); ++i) {
    const std::string cancel = "/v1/tasks/" + std::to_string(held->Int(i, 0)) + "/cancel";
    const std::string holder = held->Text(i, 1);
    HttpResult r = nodes_[0]->Admin("POST", cancel);
    if (holder == "node-1") {
      EXPECT_TRUE(r.status == 200 || r.status == 409) << r.status << " " << r.body;
      continue;
    }
    ++misdirected;
    ASSERT_EQ(r.status, 421) << r.body;
    EXPECT_EQ(r.json()["owner"],
              json({{"node", holder}, {"address", "http://" + holder + ".test:7451"}}));
    // One that may not change tasks gets its 403, not where the task lies.
    HttpResult refused = nodes_[0]->client().Send(
        "POST", cancel, "", {{"Authorization", "Bearer " + marketer}, {"X-Purpose", "marketing"}});
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(refused.body.find(holder), std::string::npos) << refused.body;
    HttpResult owned = nodes_[NodeNamed(holder)]->Admin("POST", cancel);
    EXPECT_TRUE(owned.status == 200 || owned.status == 409) << owned.status << " " << owned.body;
  }
  EXPECT_GE(misdirected, 1) << "every task in node-1's partitions";

  // An import sent to node-1: its partitions' rows made, each other row reported with its
  // owner, which then imports it.
  constexpr int kRows = 40;
  json rows = json::array();
  for (int i = 0; i < kRows; ++i) {
    rows.push_back(
        {{"line", i + 1}, {"id", "imp-" + std::to_string(i)}, {"fields", {{"city", "Lyon"}}}});
  }
  const int64_t before = Count("SELECT count(*) FROM profiles;");
  HttpResult imported =
      nodes_[0]->Admin("POST", "/v1/import/profiles", json{{"rows", rows}}.dump());
  ASSERT_EQ(imported.status, 200) << imported.body;
  const json answer = imported.json();
  const int created = answer["created"].get<int>();
  ASSERT_EQ(answer["failed"], kRows - created) << answer.dump();
  EXPECT_GE(created, 1) << answer.dump();
  EXPECT_EQ(Count("SELECT count(*) FROM profiles;"), before + created);
  for (const json& e : answer["errors"]) {
    ASSERT_EQ(e["field"], "id") << e.dump();
    const std::string owner = e["owner"]["node"].get<std::string>();
    EXPECT_NE(owner, "node-1");
    EXPECT_EQ(e["owner"]["address"], "http://" + owner + ".test:7451");
    const json row = rows[e["line"].get<int>() - 1];
    HttpResult again = nodes_[NodeNamed(owner)]->Admin("POST", "/v1/import/profiles",
                                                       json{{"rows", {row}}}.dump());
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.json()["created"], 1) << again.body;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM profiles;"), before + kRows);
  for (const auto& node : nodes_) {
    EXPECT_EQ(node->Stop(), 0) << node->Log();
  }
}
// A rules change made on every node: a segment (the re-evaluation) and a daily schedule for
// every profile (the re-arm).
constexpr const char* kSegmentAndSchedule = R"toml(
[[segment]]
name = "buyers"
when = "metrics.orders >= 1"

[[trigger]]
id = "cluster-daily"
purpose = "care"
on.schedule = "0 10 * * *"
task = "daily"
channel = "email"
sink = "care-queue"
message = "Daily."
)toml";

// The next change, put in force on one node that is killed during its pass.
constexpr const char* kSecondSegmentAndSchedule = R"toml(
[[segment]]
name = "spenders"
when = "metrics.spent >= 10"

[[trigger]]
id = "cluster-weekly"
purpose = "care"
on.schedule = "0 10 * * TUE"
task = "weekly"
channel = "email"
sink = "care-queue"
message = "Weekly."
)toml";

// The base-wide passes run per partition among several nodes (docs/DECISIONS.md 173): after a
// rules change on every node, every partition is re-armed and re-evaluated by its holder — every
// profile gets the new schedule's timer and its segment's members-index row, and each
// partition's marks name the new target — nothing being refused by the lease fence. A node
// killed during its pass leaves its unpassed partitions to their next holders, which pass them.
TEST_F(Cluster, ARulesChangeIsPassedOnEveryPartitionByItsHolderAndADeadNodesByTheNext) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(nodes_[i]->Start()) << nodes_[i]->Log();
    ports_[i] = nodes_[i]->port();
  }
  ASSERT_TRUE(testing::Eventually([&] { return Settled(); })) << nodes_[0]->Log();
  constexpr int kProfiles = 200;
  Send(0, 0, kProfiles);
  ASSERT_EQ(Count("SELECT count(*) FROM profiles;"), kProfiles);
  // Each node re-armed its partitions at start: every partition is marked, for one target. (The
  // rules have no tag or segment: the re-evaluation's base-wide mark says there is nothing to
  // evaluate.)
  ASSERT_TRUE(testing::Eventually([&] {
    return Marks("timers\\.rules_fingerprint") == kPartitions &&
           MarkValues("timers\\.rules_fingerprint") == 1;
  })) << Marks("timers\\.rules_fingerprint");
  const std::string armed_before = AMark("timers.rules_fingerprint");
  const std::string evaluated_before = AMark("portrait.fingerprint");

  // The change, put in force on every node.
  for (const auto& node : nodes_) {
    testing::WriteFile(node->dir() / "rules/change.toml", kSegmentAndSchedule);
    HttpResult reload = node->Admin("POST", "/v1/admin/reload");
    ASSERT_EQ(reload.status, 200) << reload.body;
  }
  EXPECT_TRUE(testing::Eventually([&] {
    return Count("SELECT count(*) FROM timers WHERE trigger = 'cluster-daily';") == kProfiles &&
           Count("SELECT count(*) FROM segment_members WHERE segment = 'buyers';") == kProfiles;
  })) << Count("SELECT count(*) FROM timers WHERE trigger = 'cluster-daily';")
      << " timers, " << Count("SELECT count(*) FROM segment_members WHERE segment = 'buyers';")
      << " members";
  // The partitions are marked one by one: every one of them, for one new target.
  EXPECT_TRUE(testing::Eventually([&] {
    return Marks("timers\\.rules_fingerprint") == kPartitions &&
           Marks("portrait\\.fingerprint") == kPartitions &&
           MarkValues("timers\\.rules_fingerprint") == 1 &&
           MarkValues("portrait\\.fingerprint") == 1 &&
           AMark("timers.rules_fingerprint") != armed_before &&
           AMark("portrait.fingerprint") != evaluated_before;
  })) << Marks("timers\\.rules_fingerprint")
      << " partitions armed, " << Marks("portrait\\.fingerprint") << " evaluated";
  // The base-wide marks are void: a single node started later passes every profile again.
  EXPECT_EQ(Text("SELECT value FROM meta WHERE key = 'timers.rules_fingerprint';"), "");
  EXPECT_EQ(Text("SELECT value FROM meta WHERE key = 'portrait.fingerprint';"), "");
  for (const auto& node : nodes_) {  // each node's passes, for the record
    std::istringstream log(node->Log());
    for (std::string line; std::getline(log, line);) {
      if (line.find(" partitions: ") != std::string::npos) {
        std::printf("%s\n", line.c_str());
      }
    }
  }
  const std::string armed_first = AMark("timers.rules_fingerprint");
  const std::string evaluated_first = AMark("portrait.fingerprint");

  // The next change, in force on node-2 alone, which is killed once it has marked a partition
  // for it: the others, given the same rules, pass their partitions and the ones they take.
  for (const auto& node : nodes_) {
    testing::WriteFile(node->dir() / "rules/change2.toml", kSecondSegmentAndSchedule);
  }
  ASSERT_EQ(nodes_[1]->Admin("POST", "/v1/admin/reload").status, 200);
  auto marked_anew = [&](const std::string& pass, const std::string& before) {
    return Count("SELECT count(*) FROM meta WHERE key ~ '^" + pass + "/[0-9]+$' AND value <> '" +
                 before + "';");
  };
  ASSERT_TRUE(testing::Eventually(
      [&] { return marked_anew("timers\\.rules_fingerprint", armed_first) > 0; }, 30))
      << nodes_[1]->Log();
  nodes_[1]->Kill();
  killed_ = 1;
  const int64_t armed_by_node_2 = marked_anew("timers\\.rules_fingerprint", armed_first);
  const int64_t evaluated_by_node_2 = marked_anew("portrait\\.fingerprint", evaluated_first);
  for (int i : {0, 2}) {
    ASSERT_EQ(nodes_[i]->Admin("POST", "/v1/admin/reload").status, 200);
  }
  EXPECT_TRUE(testing::Eventually(
      [&] {
        return Count(
                   "SELECT count(*) FROM leases WHERE node IN ('node-1', 'node-3') AND "
                   "expires_us > (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;") ==
                   kPartitions &&
               Count("SELECT count(*) FROM timers WHERE trigger = 'cluster-weekly';") ==
                   kProfiles &&
               Count("SELECT count(*) FROM segment_members WHERE segment = 'spenders';") ==
                   kProfiles &&
               MarkValues("timers\\.rules_fingerprint") == 1 &&
               MarkValues("portrait\\.fingerprint") == 1 &&
               AMark("timers.rules_fingerprint") != armed_first &&
               AMark("portrait.fingerprint") != evaluated_first;
      },
      60))
      << Count("SELECT count(*) FROM timers WHERE trigger = 'cluster-weekly';") << " timers, "
      << Count("SELECT count(*) FROM segment_members WHERE segment = 'spenders';") << " members";
  std::printf("node-2 had re-armed %lld and re-evaluated %lld of its partitions when killed\n",
              static_cast<long long>(armed_by_node_2), static_cast<long long>(evaluated_by_node_2));
  EXPECT_EQ(Count("SELECT count(*) FROM timers WHERE trigger = 'cluster-daily';"), kProfiles);
  EXPECT_EQ(Count("SELECT count(*) FROM segment_members WHERE segment = 'buyers';"), kProfiles);

  // A [[metric]] over events already stored, read by a segment, in force on both nodes left:
  // each rebuilds it in the partitions it holds (DECISIONS 176), nothing refused. Every profile
  // stored one cart update, so every one counts one and enters the segment, and every partition
  // is marked for it.
  for (int i : {0, 2}) {
    testing::WriteFile(nodes_[i]->dir() / "rules/metric.toml",
                       "[[metric]]\nname = \"carts\"\ncount = \"cart.updated\"\n"
                       "[[segment]]\nname = \"carters\"\nwhen = \"metrics.carts == 1\"\n");
    ASSERT_EQ(nodes_[i]->Admin("POST", "/v1/admin/reload").status, 200);
  }
  const std::string kept_carts =
      "SELECT count(*) FROM meta WHERE CASE WHEN key ~ '^kept/[0-9]+$' THEN "
      "(convert_from(value, 'UTF8')::jsonb -> 'metrics' ->> 'carts') = E'count\\ncart.updated\\n' "
      "ELSE false END;";
  EXPECT_TRUE(testing::Eventually(
      [&] {
        return Count("SELECT count(*) FROM segment_members WHERE segment = 'carters';") ==
                   kProfiles &&
               Count(kept_carts) == kPartitions;
      },
      60))
      << Count("SELECT count(*) FROM segment_members WHERE segment = 'carters';") << " members, "
      << Count(kept_carts) << " partitions marked" << nodes_[0]->Log();
  EXPECT_EQ(Count("SELECT count(*) FROM audit WHERE action = 'kept.rebuild';"), kPartitions);

  // node-2 comes back with rules that lack it: the partitions it takes are vetted, their marks
  // forget it (it applies their events without it); the others' keep it.
  ASSERT_TRUE(nodes_[1]->Start()) << nodes_[1]->Log();
  ports_[1] = nodes_[1]->port();
  killed_ = -1;
  const std::string node_2_carts =
      "SELECT count(*) FROM meta m JOIN leases l ON m.key = 'kept/' || l.part WHERE "
      "l.node = 'node-2' AND CASE WHEN m.key ~ '^kept/[0-9]+$' THEN "
      "(convert_from(m.value, 'UTF8')::jsonb -> 'metrics') ? 'carts' ELSE false END;";
  EXPECT_TRUE(testing::Eventually(
      [&] {
        return Settled() && Count(node_2_carts) == 0 &&
               Count(kept_carts) ==
                   kPartitions - Count("SELECT count(*) FROM leases WHERE node = 'node-2';");
      },
      30))
      << Count(node_2_carts) << " of node-2's partitions marked, " << Count(kept_carts)
      << " in all";

  // Both nodes drop it at once, each reload moving marks of the other's partitions: once their
  // wakes have vetted them, no partition is marked for it. (Whether the two reloads' reads and
  // writes interleave is up to timing: this does not force the race that the vetting asked for
  // by "kept.moved" closes.)
  for (int i : {0, 2}) {
    testing::WriteFile(nodes_[i]->dir() / "rules/metric.toml", "");
  }
  {
    std::vector<std::thread> reloads;
    for (int i : {0, 2}) {
      reloads.emplace_back(
          [&, i] { EXPECT_EQ(nodes_[i]->Admin("POST", "/v1/admin/reload").status, 200); });
    }
    for (std::thread& t : reloads) {
      t.join();
    }
  }
  const std::string kept_any_carts =
      "SELECT count(*) FROM meta WHERE CASE WHEN key ~ '^kept/[0-9]+$' THEN "
      "(convert_from(value, 'UTF8')::jsonb -> 'metrics') ? 'carts' ELSE false END;";
  EXPECT_TRUE(testing::Eventually([&] { return Count(kept_any_carts) == 0; }, 30))
      << Count(kept_any_carts);
  for (int i : {0, 2}) {
    const std::string log = nodes_[i]->Log();
    EXPECT_NE(log.find("values kept from events rebuilt in "), std::string::npos) << log;
  }
  for (const auto& node : nodes_) {
    const std::string log = node->Log();
    EXPECT_EQ(log.find("failed after profile"), std::string::npos) << log;
    EXPECT_EQ(log.find("refused"), std::string::npos) << log;
    EXPECT_EQ(node->Stop(), 0) << node->Log();
  }
}

// A config gaining a date field, with every node running (DECISIONS 177): each node backfills
// the anchors of the partitions it holds, marks each, and re-arms from them, so every profile
// gets the anniversary timer of a rule on the field.
TEST_F(Cluster, ADateFieldGainedIsAnchoredOnEveryPartitionByItsHolder) {
  // Each node's config with a field "joined" of `type` (a string at first: no anchor).
  auto with_field = [](std::string config, const std::string& type) {
    const std::string as_string = "[[field]]\nname = \"joined\"\ntype = \"string\"\n\n";
    const size_t field = config.find(as_string);
    if (field != std::string::npos) {
      config.erase(field, as_string.size());
    } else {  // the purposes and the admin's role may use it
      for (const std::string& list : {std::string("\"birthday\", \"city\"]"),
                                      std::string("\"birthday\", \"gender\", \"health_note\"]")}) {
        for (size_t at = config.find(list); at != std::string::npos;
             at = config.find(list, at + list.size())) {
          config.replace(at + list.size() - 1, 1, ", \"joined\"]");
        }
      }
    }
    config.insert(config.rfind("[cluster]"),
                  "[[field]]\nname = \"joined\"\ntype = \"" + type + "\"\n\n");
    return config;
  };
  for (const auto& node : nodes_) {
    testing::WriteFile(node->config_path(),
                       with_field(testing::ReadFile(node->config_path()), "string"));
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(nodes_[i]->Start()) << nodes_[i]->Log();
    ports_[i] = nodes_[i]->port();
  }
  ASSERT_TRUE(testing::Eventually([&] { return Settled(); })) << nodes_[0]->Log();
  constexpr int kProfiles = 60;
  for (int i = 0; i < kProfiles; ++i) {
    const std::string path = "/v1/profiles/joined-" + std::to_string(i);
    const std::string body =
        json{{"fields", {{"joined", "2001-06-" + std::to_string(10 + i % 18)}}}}.dump();
    HttpResult put = nodes_[0]->Admin("PUT", path, body);
    if (put.status == 421) {  // another node's partition: its owner makes it
      put = nodes_[NodeNamed(put.json()["owner"]["node"].get<std::string>())]->Admin("PUT", path,
                                                                                     body);
    }
    ASSERT_EQ(put.status, 201) << put.body;
  }
  ASSERT_EQ(Count("SELECT count(*) FROM anchors WHERE field = 'joined';"), 0);

  // The field becomes a date, and a rule greets on its anniversary: on every node.
  for (const auto& node : nodes_) {
    testing::WriteFile(node->config_path(),
                       with_field(testing::ReadFile(node->config_path()), "date"));
    testing::WriteFile(node->dir() / "rules/joined.toml", R"toml(
[[trigger]]
id = "joined-day"
purpose = "care"
on.anniversary = "joined"
on.at = "10:00"
task = "anniversary"
channel = "email"
sink = "care-queue"
message = "Happy anniversary."
)toml");
  }
  for (const auto& node : nodes_) {
    HttpResult reload = node->Admin("POST", "/v1/admin/reload");
    ASSERT_EQ(reload.status, 200) << reload.body;
  }
  EXPECT_TRUE(testing::Eventually(
      [&] {
        return Count("SELECT count(*) FROM anchors WHERE field = 'joined';") == kProfiles &&
               Count("SELECT count(*) FROM timers WHERE trigger = 'joined-day';") == kProfiles &&
               Marks("anchors\\.fields") == kPartitions && MarkValues("anchors\\.fields") == 1;
      },
      60))
      << Count("SELECT count(*) FROM anchors WHERE field = 'joined';") << " anchors, "
      << Count("SELECT count(*) FROM timers WHERE trigger = 'joined-day';") << " timers, "
      << Marks("anchors\\.fields") << " marks";
  EXPECT_NE(AMark("anchors.fields").find("joined,"), std::string::npos) << AMark("anchors.fields");
  // The base-wide mark, which a single node would take for every partition, is void.
  EXPECT_EQ(Text("SELECT value FROM meta WHERE key = 'anchors.fields';"), "");
  // One record per partition whose backfill changed an anchor: those holding a profile.
  EXPECT_EQ(Count("SELECT count(*) FROM audit WHERE action = 'anchors.backfill';"),
            Count("SELECT count(DISTINCT part) FROM profiles;"));
  for (const auto& node : nodes_) {
    const std::string log = node->Log();
    EXPECT_NE(log.find("anniversary anchors backfilled in "), std::string::npos) << log;
    EXPECT_EQ(log.find("failed after profile"), std::string::npos) << log;
    EXPECT_EQ(node->Stop(), 0) << node->Log();
  }
}

// A store one node passed becomes several nodes' without a pass (docs/DECISIONS.md 173): its
// base-wide marks stand for every partition, so the node started with [cluster] re-arms and
// re-evaluates nothing; a rules change then is passed per partition.
TEST_F(Cluster, AStoreOneNodePassedIsNotPassedAgainWhenItRunsAsANodeOfSeveral) {
  const std::string clustered = testing::ReadFile(nodes_[0]->config_path());
  testing::WriteFile(nodes_[0]->config_path(), clustered.substr(0, clustered.rfind("[cluster]")));
  testing::WriteFile(nodes_[0]->dir() / "rules/change.toml", kSegmentAndSchedule);
  ASSERT_TRUE(nodes_[0]->Start()) << nodes_[0]->Log();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(nodes_[0]->Admin("PUT", "/v1/profiles/one-" + std::to_string(i), "{}").status, 201);
  }
  ASSERT_TRUE(nodes_[0]->WaitForLog("the start's passes are done"));
  ASSERT_EQ(nodes_[0]->Stop(), 0);
  const std::string armed = Text("SELECT value FROM meta WHERE key = 'timers.rules_fingerprint';");
  ASSERT_FALSE(armed.empty());
  const int64_t audited = Count("SELECT count(*) FROM audit WHERE action = 'timers.rearm';");

  testing::WriteFile(nodes_[0]->config_path(), clustered);
  ASSERT_TRUE(nodes_[0]->Start()) << nodes_[0]->Log();
  ASSERT_TRUE(nodes_[0]->WaitForLog("node node-1 holds 64 of 64 partitions"));
  // Its first round is done before it serves: wait for the scheduler's start passes.
  ASSERT_TRUE(testing::Eventually([&] {
    const std::string log = nodes_[0]->Log();
    size_t done = 0;
    for (size_t at = log.find("the start's passes are done"); at != std::string::npos;
         at = log.find("the start's passes are done", at + 1)) {
      ++done;
    }
    return done == 2;
  })) << nodes_[0]->Log();
  EXPECT_EQ(Marks("timers\\.rules_fingerprint"), 0);
  EXPECT_EQ(Marks("portrait\\.fingerprint"), 0);
  EXPECT_EQ(Text("SELECT value FROM meta WHERE key = 'timers.rules_fingerprint';"), armed);
  EXPECT_EQ(Count("SELECT count(*) FROM audit WHERE action = 'timers.rearm';"), audited);
  EXPECT_EQ(nodes_[0]->Log().find("partitions: "), std::string::npos) << nodes_[0]->Log();

  // A rules change now is passed per partition.
  testing::WriteFile(nodes_[0]->dir() / "rules/change2.toml", kSecondSegmentAndSchedule);
  ASSERT_EQ(nodes_[0]->Admin("POST", "/v1/admin/reload").status, 200);
  EXPECT_TRUE(testing::Eventually([&] {
    return Marks("timers\\.rules_fingerprint") == kPartitions &&
           Count("SELECT count(*) FROM timers WHERE trigger = 'cluster-weekly';") == 20;
  }));
  EXPECT_EQ(nodes_[0]->Stop(), 0) << nodes_[0]->Log();
}

// One node (no [cluster]) merges as before, across partitions too; the alias that leaves in
// another partition than its profile makes the store one that several nodes can't serve without
// telling who is stored, so a node of several refuses to start on it, naming the count.
TEST_F(Cluster, ANodeOfSeveralRefusesAStoreWithAnAliasOutsideItsProfilesPartition) {
  const std::string clustered = testing::ReadFile(nodes_[0]->config_path());
  testing::WriteFile(nodes_[0]->config_path(), clustered.substr(0, clustered.rfind("[cluster]")));
  ASSERT_TRUE(nodes_[0]->Start()) << nodes_[0]->Log();
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(nodes_[0]->Admin("PUT", "/v1/profiles/one-" + std::to_string(i), "{}").status, 201);
  }
  auto part_of = [&](const std::string& subject) {
    HttpResult r = nodes_[0]->Admin("GET", "/v1/profiles/" + subject, "", "care");
    EXPECT_EQ(r.status, 200) << r.body;
    return Count("SELECT part FROM profiles WHERE id = " +
                 std::to_string(r.json()["internal_id"].get<int64_t>()) + ";");
  };
  std::string source;
  for (int i = 1; i < 10 && source.empty(); ++i) {
    if (part_of("one-" + std::to_string(i)) != part_of("one-0")) {
      source = "one-" + std::to_string(i);
    }
  }
  ASSERT_FALSE(source.empty());
  HttpResult merged =
      nodes_[0]->Admin("POST", "/v1/profiles/one-0/merge", json({{"from", source}}).dump());
  ASSERT_EQ(merged.status, 200) << merged.body;
  ASSERT_EQ(nodes_[0]->Stop(), 0);

  testing::WriteFile(nodes_[0]->config_path(), clustered);
  std::string out;
  const int rc = testing::RunCommand("timeout 30 " + testing::BinDir() + "/portraitd --config " +
                                         nodes_[0]->config_path() + " --listen 127.0.0.1:0 2>&1",
                                     &out);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("1 external ids lie in another partition than their profile"),
            std::string::npos)
      << out;
  EXPECT_EQ(Count("SELECT count(*) FROM leases WHERE node <> '';"), 0);
}

}  // namespace
}  // namespace portrait
