// What a real portraitd promises across crashes and restarts: every event answered 202 and the
// audit record of every read answered 200 survive SIGKILL at any moment, each profile's metrics
// stay equal to a recomputation from its stored events, and the database stays intact (rounds:
// 20, or PORTRAIT_KILL_ROUNDS; scripts/kill_test.sh runs many); a timer due while the daemon was
// down fires once after restart, unless it is older than its trigger's grace.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "base/time_format.h"
#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::Daemon;
using testing::HttpClient;
using testing::HttpResult;

json Event(const std::string& id, int customer) {
  return {{"id", id},
          {"type", customer % 3 == 0 ? "cart.updated" : "order.placed"},
          {"subject", "cust-" + std::to_string(customer)},
          {"data", {{"amount", customer % 97}}}};
}

// Posts batches of `per_request` events from `clients` connections until `total` are sent or the
// daemon goes away; returns the events that were answered 202.
std::vector<json> PostUntilKilled(int port, const std::string& token, int round, int total,
                                  int per_request, int clients) {
  std::mutex mu;
  std::vector<json> acked;
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      HttpClient client(port);
      std::mt19937 rng(static_cast<unsigned>(round * 100 + next.load()));
      while (true) {
        int start = next.fetch_add(per_request);
        if (start >= total) {
          return;
        }
        json batch = json::array();
        for (int i = start; i < std::min(total, start + per_request); ++i) {
          batch.push_back(Event("r" + std::to_string(round) + "-" + std::to_string(i),
                                static_cast<int>(rng() % 500)));
        }
        HttpResult r =
            client.Send("POST", "/v1/events", batch.dump(),
                        {{"Authorization", "Bearer " + token}, {"X-Purpose", "service"}});
        if (r.status == 0) {
          return;  // killed
        }
        EXPECT_EQ(r.status, 202) << r.body;
        if (r.status == 202) {
          std::lock_guard lock(mu);
          for (json& e : batch) {
            acked.push_back(std::move(e));
          }
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  return acked;
}

// Reads profiles from one connection until the daemon goes away; the reads answered 200.
int64_t ReadUntilKilled(int port, const std::string& token) {
  HttpClient client(port);
  int64_t answered = 0;
  for (int n = 0;; ++n) {
    HttpResult r = client.Send("GET", "/v1/profiles/cust-" + std::to_string(n % 500), "",
                               {{"Authorization", "Bearer " + token}, {"X-Purpose", "service"}});
    if (r.status == 0) {
      return answered;  // killed
    }
    EXPECT_TRUE(r.status == 200 || r.status == 404) << r.body;  // 404: not created yet
    answered += r.status == 200;
  }
}

// The profile.read audit records after seq `*after` (advanced past what was read). Each page
// read appends an audit.read record after it, so the last page is the first one not full.
int64_t CountReadRecords(Daemon& daemon, int64_t* after) {
  constexpr size_t kPage = 10'000;
  int64_t reads = 0;
  while (true) {
    HttpResult r = daemon.Admin(
        "GET", "/v1/audit?after=" + std::to_string(*after) + "&limit=" + std::to_string(kPage));
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) {
      return reads;
    }
    const json records = r.json()["records"];
    for (const json& record : records) {
      reads += record["action"] == "profile.read";
    }
    if (!records.empty()) {
      *after = records.back()["seq"].get<int64_t>();
    }
    if (records.size() < kPage) {
      return reads;
    }
  }
}

// Every twenty-fifth customer (offset by the round): its metrics equal what its stored events
// give (orders, spent, last_order of the example rules).
void ExpectMetricsFromStoredEvents(Daemon& daemon, int round) {
  for (int customer = round % 25; customer < 500; customer += 25) {
    HttpResult r = daemon.Admin("GET", "/v1/profiles/cust-" + std::to_string(customer) + "/export");
    if (r.status == 404) {
      continue;  // no event of it acknowledged or stored yet
    }
    ASSERT_EQ(r.status, 200) << r.body;
    const json bundle = r.json();
    int64_t orders = 0;
    double spent = 0;
    std::string last;
    for (const json& e : bundle["events"]) {
      if (e["type"] == "order.placed") {
        ++orders;
        spent += e["data"]["amount"].get<double>();
        last = std::max(last, e["time"].get<std::string>());
      }
    }
    const json& m = bundle["metrics"];
    EXPECT_EQ(m.value("orders", int64_t{0}), orders) << "round " << round << " cust-" << customer;
    EXPECT_EQ(m.value("spent", 0.0), spent) << "round " << round << " cust-" << customer;
    if (orders > 0) {
      EXPECT_EQ(m.value("last_order", std::string()), last) << "cust-" << customer;
    }
  }
}

int KillRounds() {
  const char* rounds = std::getenv("PORTRAIT_KILL_ROUNDS");
  return rounds ? std::max(1, std::atoi(rounds)) : 20;
}

TEST(Durability, EveryAcknowledgedEventSurvivesSigkillAtARandomMoment) {
  const int kRounds = KillRounds();
  constexpr int kEvents = 10'000;
  Daemon daemon;
  const std::string token = daemon.admin_token();
  std::mt19937 rng(20261122);
  int64_t total_acked = 0;
  int64_t reads_answered = 0, reads_recorded = 0, audit_after = 0;
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_TRUE(daemon.Start());
    const int port = daemon.port();
    std::vector<json> acked;
    // Batches from four connections, single events from one (the two ways groups fill up).
    std::vector<json> acked_single;
    std::thread poster([&] { acked = PostUntilKilled(port, token, round, kEvents, 50, 4); });
    std::thread single(
        [&] { acked_single = PostUntilKilled(port, token, round + 100'000, 1'000, 1, 1); });
    int64_t answered = 0;
    std::thread reader([&] { answered = ReadUntilKilled(port, token); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 1500));
    daemon.Kill();
    poster.join();
    single.join();
    reader.join();
    acked.insert(acked.end(), acked_single.begin(), acked_single.end());
    reads_answered += answered;

    // Every acknowledged event is stored: posting it again finds only duplicates.
    ASSERT_TRUE(daemon.Start());
    int duplicates = 0;
    for (size_t i = 0; i < acked.size(); i += 500) {
      json batch = json::array();
      for (size_t j = i; j < std::min(acked.size(), i + 500); ++j) {
        batch.push_back(acked[j]);
      }
      HttpResult r = daemon.Admin("POST", "/v1/events", batch.dump());
      ASSERT_EQ(r.status, 202) << r.body;
      EXPECT_EQ(r.json()["accepted"], 0) << "round " << round << ": acknowledged events lost";
      duplicates += r.json()["duplicates"].get<int>();
    }
    EXPECT_EQ(duplicates, static_cast<int>(acked.size()));
    // Every read answered has its audit record (recorded but unanswered ones may be more).
    reads_recorded += CountReadRecords(daemon, &audit_after);
    EXPECT_GE(reads_recorded, reads_answered) << "round " << round << ": read records lost";
    ExpectMetricsFromStoredEvents(daemon, round);
    std::cout << "round " << round << ": " << acked.size() << " events acknowledged before "
              << "SIGKILL; all " << duplicates << " found after restart; " << answered
              << " reads answered, " << reads_recorded << " of " << reads_answered
              << " so far recorded; metrics match the stored events\n";
    total_acked += static_cast<int64_t>(acked.size());
    daemon.Kill();
  }
  std::cout << "total: " << total_acked << " acknowledged events over " << kRounds
            << " SIGKILLs, none lost\n";
  EXPECT_GT(total_acked, 0);
  std::string check = daemon.IntegrityCheck();
  EXPECT_NE(check.find("ok"), std::string::npos) << check;
  EXPECT_EQ(check.find("error"), std::string::npos) << check;
}

// Tasks of `trigger` for `customer`, from the data-subject export.
TEST(Durability, ABirthdayMissedWhileDownFiresOnceAfterRestartUnlessOlderThanGrace) {
  Daemon daemon;
  // 10 June: both greetings (09:00 Shanghai, the day before the birthday) are ahead.
  ASSERT_TRUE(daemon.Start("2026-06-10T00:00:00Z"));
  for (const auto& [id, birthday] : std::vector<std::pair<std::string, std::string>>{
           {"late", "1990-06-15"}, {"stale", "1985-06-12"}}) {
    HttpResult r = daemon.Admin("PUT", "/v1/profiles/" + id,
                                json{{"fields", {{"name", "Kim"}, {"birthday", birthday}}}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }
  EXPECT_EQ(daemon.Stop(), 0);

  // Back on 14 June 12:00Z: "late" was due 14 June 01:00Z (11 h ago, within the 1-day grace);
  // "stale" was due 11 June 01:00Z (3 days ago).
  ASSERT_TRUE(daemon.Start("2026-06-14T12:00:00Z"));
  // Due: the two greetings and the two daily lifecycle re-evaluations; one greeting fires.
  ASSERT_TRUE(daemon.WaitForLog("timers: 4 due, 1 fired a task")) << daemon.Log();
  std::vector<json> late = daemon.TasksOf("late", "birthday-greeting");
  ASSERT_EQ(late.size(), 1u);
  // Written to the outbox; the file sink may already have taken it.
  const std::string state = late[0]["state"];
  EXPECT_TRUE(state == "pending" || state == "sending" || state == "delivered") << state;
  EXPECT_NE(late[0]["payload"]["message"].get<std::string>().find("Kim"), std::string::npos);
  EXPECT_EQ(late[0]["payload"]["fields"]["name"], "Kim");
  EXPECT_TRUE(daemon.TasksOf("stale", "birthday-greeting").empty());
  EXPECT_EQ(daemon.Stop(), 0);

  // Restarting again fires nothing more: the timers were re-armed for next year.
  ASSERT_TRUE(daemon.Start("2026-06-14T13:00:00Z"));
  HttpResult metrics = daemon.Admin("GET", "/metrics");
  EXPECT_NE(metrics.body.find("portrait_timers_due 0"), std::string::npos) << metrics.body;
  EXPECT_EQ(daemon.TasksOf("late", "birthday-greeting").size(), 1u);
  EXPECT_EQ(daemon.Stop(), 0);
}

// A rule file with a new anniversary trigger: a greeting at 10:00 on the day.
void AddBirthdayDayRule(const Daemon& daemon) {
  testing::WriteFile(daemon.dir() / "rules/birthday_day.toml", R"toml(
[[trigger]]
id = "birthday-day"
purpose = "care"
on.anniversary = "birthday"
on.at = "10:00"
task = "greeting"
channel = "sms"
sink = "care-queue"
message = "生日快乐, {{fields.name}}!"
fields = ["name"]
)toml");
}

// 20 June 03:00Z is 11:00 in Shanghai: the new trigger's 10:00 greeting is an hour late, and
// fires once the daemon is up.
void ExpectBirthdayDayGreetingOnThe20th(Daemon& daemon) {
  ASSERT_TRUE(daemon.Start("2026-06-20T03:00:00Z"));
  ASSERT_TRUE(daemon.WaitForLog("fired a task")) << daemon.Log();
  std::vector<json> tasks = daemon.TasksOf("ann", "birthday-day");
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0]["payload"]["message"], "生日快乐, Ann!");
  EXPECT_EQ(daemon.Stop(), 0);
}

void PutAnn(Daemon& daemon) {
  ASSERT_EQ(
      daemon
          .Admin("PUT", "/v1/profiles/ann", R"({"fields":{"name":"Ann","birthday":"1991-06-20"}})")
          .status,
      201);
}

TEST(Durability, ATriggerAddedByReloadArmsTimersForExistingProfiles) {
  Daemon daemon;
  ASSERT_TRUE(daemon.Start("2026-06-10T00:00:00Z"));
  PutAnn(daemon);
  AddBirthdayDayRule(daemon);
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(daemon.WaitForLog("timers re-armed for the rules and time zone in force"))
      << daemon.Log();
  EXPECT_EQ(daemon.Stop(), 0);
  ExpectBirthdayDayGreetingOnThe20th(daemon);
}

TEST(Durability, ATriggerAddedWhileStoppedArmsTimersAtStartUp) {
  Daemon daemon;
  ASSERT_TRUE(daemon.Start("2026-06-10T00:00:00Z"));
  PutAnn(daemon);
  EXPECT_EQ(daemon.Stop(), 0);
  AddBirthdayDayRule(daemon);
  ASSERT_TRUE(daemon.Start("2026-06-10T01:00:00Z"));
  ASSERT_TRUE(
      daemon.WaitForLog("the rules or the time zone differ from those the timers were armed for"))
      << daemon.Log();
  ASSERT_TRUE(daemon.WaitForLog("timers re-armed for the rules and time zone in force"))
      << daemon.Log();
  EXPECT_EQ(daemon.Stop(), 0);
  ExpectBirthdayDayGreetingOnThe20th(daemon);
}

// The config's time zone changes while the daemon is stopped: the timers armed in the old
// zone are moved (counted in the log and the audit log), and this year's birthday greeting,
// passed an hour ago in the new zone, still fires, once.
TEST(Durability, ATimeZoneChangeWhileStoppedMovesTheAffectedTimersAndLosesNoBirthday) {
  Daemon daemon;
  ASSERT_TRUE(daemon.Start("2026-06-10T00:00:00Z"));
  PutAnn(daemon);  // greeting: 19 June 09:00 Shanghai (01:00Z)
  EXPECT_EQ(daemon.Stop(), 0);
  std::string config = testing::ReadFile(daemon.config_path());
  const size_t zone = config.find("timezone = \"Asia/Shanghai\"");
  ASSERT_NE(zone, std::string::npos);
  config.replace(zone, std::string("timezone = \"Asia/Shanghai\"").size(),
                 "timezone = \"Europe/Berlin\"");
  testing::WriteFile(daemon.config_path(), config);

  // 19 June 08:00Z: 09:00 in Berlin (07:00Z) passed an hour ago, within the 1-day grace.
  ASSERT_TRUE(daemon.Start("2026-06-19T08:00:00Z"));
  // Ann's greeting and the Monday digest (a cron in the config's zone) move; her daily
  // lifecycle timer does not.
  ASSERT_TRUE(daemon.WaitForLog("time zone in force: 2 changed")) << daemon.Log();
  ASSERT_TRUE(daemon.WaitForLog("fired a task")) << daemon.Log();
  std::vector<json> tasks = daemon.TasksOf("ann", "birthday-greeting");
  ASSERT_EQ(tasks.size(), 1u);
  HttpResult audit = daemon.Admin("GET", "/v1/audit?after=0&limit=1000");
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_NE(audit.body.find("timers.rearm"), std::string::npos);
  EXPECT_EQ(daemon.Stop(), 0);

  // A restart in the same zone re-arms nothing and fires nothing more.
  ASSERT_TRUE(daemon.Start("2026-06-19T09:00:00Z"));
  ASSERT_TRUE(daemon.WaitForLog("listening")) << daemon.Log();
  EXPECT_EQ(daemon.TasksOf("ann", "birthday-greeting").size(), 1u);
  EXPECT_EQ(daemon.Stop(), 0);
  EXPECT_EQ(daemon.Log().find("re-arming", daemon.Log().find("2 changed")), std::string::npos);
}

// The weekly digest moves from Mondays to Wednesdays by a reload: the profile's timer moves with
// it (one timer changed), nothing is sent on the old day, and the new day is not missed.
TEST(Durability, AChangedCronMovesTheScheduleTimerNoTaskOnTheOldDayNoneMissedOnTheNew) {
  Daemon daemon;
  ASSERT_TRUE(daemon.Start("2026-06-08T00:00:00Z"));  // Monday 08:00 in Shanghai
  HttpResult put =
      daemon.Admin("PUT", "/v1/profiles/vip",
                   R"({"fields":{"name":"Wu","email":"wu@example.cn"},"tags":{"add":["vip"]}})");
  ASSERT_EQ(put.status, 201) << put.body;
  HttpResult order = daemon.Admin(
      "POST", "/v1/events",
      R"({"id":"vip-o1","type":"order.placed","subject":"vip","time":"2025-11-20T10:00:00Z",
          "data":{"amount":30}})");
  ASSERT_EQ(order.status, 202) << order.body;  // 200 days ago: at risk
  std::string rules = testing::ReadFile(daemon.dir() / "rules/care.toml");
  const std::string monday = "on.schedule = \"0 10 * * MON\"";
  ASSERT_NE(rules.find(monday), std::string::npos);
  rules.replace(rules.find(monday), monday.size(), "on.schedule = \"0 10 * * WED\"");
  testing::WriteFile(daemon.dir() / "rules/care.toml", rules);
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(daemon.WaitForLog("time zone in force: 1 changed")) << daemon.Log();
  EXPECT_EQ(daemon.Stop(), 0);

  // Monday 11:00 in Shanghai: the old run has passed, and nothing is due.
  ASSERT_TRUE(daemon.Start("2026-06-08T03:00:00Z"));
  HttpResult metrics = daemon.Admin("GET", "/metrics");
  EXPECT_NE(metrics.body.find("portrait_timers_due 0"), std::string::npos) << metrics.body;
  EXPECT_TRUE(daemon.TasksOf("vip", "weekly-at-risk-vip-digest").empty());
  EXPECT_EQ(daemon.Stop(), 0);

  // Wednesday 10:30 in Shanghai: the new run fires, once.
  ASSERT_TRUE(daemon.Start("2026-06-10T02:30:00Z"));
  ASSERT_TRUE(daemon.WaitForLog("fired a task")) << daemon.Log();
  EXPECT_EQ(daemon.TasksOf("vip", "weekly-at-risk-vip-digest").size(), 1u);
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST(Durability, TheDaemonPurgesWhatRetentionKeepsNoLongerAndAuditsIt) {
  Daemon daemon;
  ASSERT_TRUE(daemon.Start("2026-06-10T00:00:00Z"));
  ASSERT_EQ(daemon.Admin("PUT", "/v1/profiles/p1", R"({"fields": {"name": "Lee"}})").status, 201);
  // The example config keeps carts for 90 days; orders have no retention rule.
  HttpResult posted = daemon.Admin("POST", "/v1/events", R"([
      {"id": "cart-old", "type": "cart.updated", "subject": "p1", "time": "2026-01-05T00:00:00Z"},
      {"id": "cart-new", "type": "cart.updated", "subject": "p1", "time": "2026-06-01T00:00:00Z"},
      {"id": "order-old", "type": "order.placed", "subject": "p1", "time": "2026-01-05T00:00:00Z",
       "data": {"amount": 5}}])");
  ASSERT_EQ(posted.status, 202) << posted.body;
  EXPECT_EQ(daemon.Stop(), 0);

  // At start the daemon purges; then daily.
  ASSERT_TRUE(daemon.Start("2026-06-10T01:00:00Z"));
  ASSERT_TRUE(daemon.WaitForLog("retention: purged 1")) << daemon.Log();
  HttpResult bundle = daemon.Admin("GET", "/v1/profiles/p1/export");
  ASSERT_EQ(bundle.status, 200);
  std::multiset<std::string> kept;
  const json events = bundle.json()["events"];
  for (const json& e : events) {
    kept.insert(e["type"].get<std::string>() + "@" + e["time"].get<std::string>().substr(0, 10));
  }
  EXPECT_EQ(kept,
            (std::multiset<std::string>{"cart.updated@2026-06-01", "order.placed@2026-01-05"}));
  const json records = daemon.Admin("GET", "/v1/audit?after=0&limit=1000").json()["records"];
  int purges = 0;
  for (const json& r : records) {
    if (r["action"] == "retention.purge" && r["detail"].value("event", "") == "cart.updated") {
      purges += r["detail"]["purged"].get<int>();
    }
  }
  EXPECT_EQ(purges, 1);
  EXPECT_EQ(daemon.Admin("GET", "/v1/audit/verify").json()["ok"], true);
}

}  // namespace
}  // namespace portrait
