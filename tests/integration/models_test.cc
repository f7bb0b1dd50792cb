// Model fits and score refreshes through a real daemon, on the real CDNOW 1/10 sample
// (examples/cdnow/): its purchases imported as events with `portraitctl import events`, the
// BG/NBD and Gamma-Gamma fits made by the daemon from the stored events (not from a prepared
// summary) must reproduce the published figures within 1%.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "analytics/bgnbd.h"
#include "analytics/purchases.h"
#include "analytics/rfm.h"
#include "tests/integration/cdnow_events.h"
#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::BinDir;
using testing::Daemon;
using testing::RunCommand;

#define EXPECT_WITHIN_1PCT(actual, published) \
  EXPECT_NEAR(actual, published, 0.01 * std::fabs(published)) << #actual

// The rules the test adds to the example's: the CDNOW model and an RFM score over the example's
// order metrics.
const std::string kRules = testing::kCdnowModel + testing::kCdnowScore + R"toml(
[[trigger]]
id = "lapsed-contact"
purpose = "service"
on.event = "support.contact"
when = "predict.clv.p_alive < 0.5"
task = "win-back"
channel = "email"
sink = "care-queue"
message = "A customer who may have lapsed got in touch."

[[trigger]]
id = "lapsed-offer"
purpose = "marketing"
on.event = "support.contact"
when = "predict.clv.p_alive < 0.5"
task = "win-back-offer"
channel = "email"
sink = "care-queue"
message = "We miss you: here is an offer."
)toml";

class CdnowDaemon : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    d_ = new Daemon();
    std::ofstream(d_->dir() / "rules/cdnow.toml") << kRules;
    // The service purpose may use the scores and predictions; care may not.
    std::string config = testing::ReadFile(d_->config_path());
    const std::string service = R"(derived = ["metrics", "lifecycle", "tags"])";
    ASSERT_NE(config.find(service), std::string::npos);
    config.replace(config.find(service), service.size(),
                   R"(derived = ["metrics", "lifecycle", "tags", "scores", "predictions"])");
    // Marketing may use the predictions too (its prediction-based offer is profiling).
    const std::string marketing = R"(derived = ["lifecycle"])";
    ASSERT_NE(config.find(marketing), std::string::npos);
    config.replace(config.find(marketing), marketing.size(),
                   R"(derived = ["lifecycle", "predictions"])");
    std::ofstream(d_->config_path()) << config;
    ASSERT_TRUE(d_->Start("1998-07-01T00:00:00Z"));
    const std::string file = testing::WriteCdnowEvents(d_->dir() / "cdnow.jsonl");
    std::string out;
    ASSERT_EQ(RunCommand(BinDir() + "/portraitctl import events " + file +
                             " --json --batch 1000 --config " + d_->config_path() + Url() +
                             " --purpose service 2>/dev/null",
                         &out),
              0)
        << out;
    EXPECT_EQ(json::parse(out)["imported"], 6919) << out;
  }
  static void TearDownTestSuite() {
    delete d_;
    d_ = nullptr;
  }
  static std::string Ctl(const std::string& args) {
    return BinDir() + "/portraitctl " + args + " --config " + d_->config_path() + Url();
  }
  static std::string Url() { return " --url http://127.0.0.1:" + std::to_string(d_->port()); }

  static Daemon* d_;
};
Daemon* CdnowDaemon::d_ = nullptr;

// Sends a support.contact event for `customer` (id `id`).
void Contact(Daemon& d, const std::string& customer, const std::string& id) {
  json e = {{"specversion", "1.0"},  {"id", id},
            {"source", "test"},      {"type", "support.contact"},
            {"subject", customer},   {"time", "1998-06-30T12:00:00Z"},
            {"data", json::object()}};
  auto r = d.Admin("POST", "/v1/events", json::array({e}).dump());
  ASSERT_EQ(r.status, 202) << r.body;
}

// The sample customer whose purchases, summarised as of the daemon's day (1998-07-01), give
// the lowest P(alive) under `params`; and one who never bought again (P(alive) = 1).
std::pair<std::string, std::string> LapsedAndAlive(const analytics::BgNbdParams& params) {
  const std::map<int, std::vector<analytics::Purchase>> logs = testing::CdnowLogs();
  const int64_t today = 899'251'200'000'000;  // 1998-07-01T00:00:00Z
  std::pair<double, int> lowest{2, 0};
  int alive = 0;
  for (const auto& [id, log] : logs) {
    auto s = analytics::Summarize(log, {today, analytics::TimeUnit::kWeek});
    auto p = analytics::ProbabilityAlive(params, {s->x, s->t_x, s->T});
    lowest = std::min(lowest, {*p, id});
    alive = s->x == 0 && alive == 0 ? id : alive;
  }
  EXPECT_LT(lowest.first, 0.5);
  return {"cdnow-" + std::to_string(lowest.second), "cdnow-" + std::to_string(alive)};
}

// Declared first: runs before any other test of the suite fits the model.
TEST_F(CdnowDaemon, APredictionTriggerFiresOnceTheModelIsFitted) {
  const bool unfitted = d_->Admin("GET", "/v1/models/clv").status == 404;
  if (unfitted) {
    Contact(*d_, "cdnow-1", "contact-before");  // no prediction yet: missing is false
    EXPECT_TRUE(d_->TasksOf("cdnow-1", "lapsed-contact").empty());
  }
  auto fit = d_->Admin("POST", "/v1/models/clv/fit", R"({"until": "1997-09-30T23:59:59Z"})");
  ASSERT_EQ(fit.status, 200) << fit.body;
  const json b = fit.json()["bgnbd"];
  const auto [lapsed, alive] = LapsedAndAlive({b["r"], b["alpha"], b["a"], b["b"]});
  Contact(*d_, lapsed, "contact-lapsed");
  Contact(*d_, alive, "contact-alive");
  EXPECT_EQ(d_->TasksOf(lapsed, "lapsed-contact").size(), 1u) << lapsed;
  EXPECT_TRUE(d_->TasksOf(alive, "lapsed-contact").empty()) << alive;
  // The dry run sees the same prediction.
  json event = {{"specversion", "1.0"},      {"id", "dry"},       {"source", "test"},
                {"type", "support.contact"}, {"subject", lapsed}, {"time", "1998-06-30T12:00:00Z"}};
  auto dry =
      d_->Admin("POST", "/v1/rules/test", json{{"profile", lapsed}, {"event", event}}.dump());
  ASSERT_EQ(dry.status, 200) << dry.body;
  bool fires = false;
  const json triggers = dry.json()["triggers"];
  for (const json& t : triggers) {
    fires = fires || (t["trigger"] == "lapsed-contact" && t["fires"] == true);
  }
  EXPECT_TRUE(fires) << dry.body;
}

// Marketing on predictions is profiling: a customer who objected to personalisation never gets
// a task from it — not even a suppressed one — while one who consented and did not object does.
TEST_F(CdnowDaemon, AnObjectorGetsNoPredictionBasedMarketingTask) {
  auto fit = d_->Admin("POST", "/v1/models/clv/fit", R"({"until": "1997-09-30T23:59:59Z"})");
  ASSERT_EQ(fit.status, 200) << fit.body;
  const json b = fit.json()["bgnbd"];
  const std::string lapsed = LapsedAndAlive({b["r"], b["alpha"], b["a"], b["b"]}).first;
  auto record = [&](const char* purpose, const char* status) {
    auto r = d_->Admin("POST", "/v1/profiles/" + lapsed + "/consents",
                       json{{"purpose", purpose}, {"status", status}, {"channel", "email"}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  };
  // (An earlier test's contact may have made a task already: suppressed, without consent.)
  const size_t offers = d_->TasksOf(lapsed, "lapsed-offer").size();
  record("marketing", "granted");
  Contact(*d_, lapsed, "offer-consented");
  const std::vector<json> consented = d_->TasksOf(lapsed, "lapsed-offer");
  ASSERT_EQ(consented.size(), offers + 1);
  EXPECT_EQ(std::count_if(consented.begin(), consented.end(),
                          [](const json& t) { return t["state"] != "suppressed"; }),
            1);

  record("personalisation", "objected");
  const size_t service_tasks = d_->TasksOf(lapsed, "lapsed-contact").size();
  Contact(*d_, lapsed, "offer-objected");
  EXPECT_EQ(d_->TasksOf(lapsed, "lapsed-offer").size(), offers + 1);  // none more
  // The service trigger on the same prediction is not marketing: it still fires.
  EXPECT_EQ(d_->TasksOf(lapsed, "lapsed-contact").size(), service_tasks + 1);
}

TEST_F(CdnowDaemon, FitThroughTheDaemonReproducesThePublishedFigures) {
  auto r = d_->Admin("POST", "/v1/models/clv/fit", R"({"until": "1997-09-30T23:59:59Z"})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json m = r.json();
  EXPECT_EQ(m["model"], "clv");
  EXPECT_EQ(m["customers"], 2357);
  EXPECT_EQ(m["until"], "1997-09-30T23:59:59Z");
  EXPECT_WITHIN_1PCT(m["bgnbd"]["r"].get<double>(), 0.243);
  EXPECT_WITHIN_1PCT(m["bgnbd"]["alpha"].get<double>(), 4.414);
  EXPECT_WITHIN_1PCT(m["bgnbd"]["a"].get<double>(), 0.793);
  EXPECT_WITHIN_1PCT(m["bgnbd"]["b"].get<double>(), 2.426);
  EXPECT_NEAR(m["bgnbd"]["log_likelihood"].get<double>(), -9582.4, 0.5);
  EXPECT_WITHIN_1PCT(m["gamma_gamma"]["p"].get<double>(), 6.25);
  EXPECT_WITHIN_1PCT(m["gamma_gamma"]["q"].get<double>(), 3.74);
  EXPECT_WITHIN_1PCT(m["gamma_gamma"]["gamma"].get<double>(), 15.44);
  EXPECT_EQ(m["gamma_gamma"]["customers"], 946);
  // The paper's example customer, from the stored parameters.
  auto shown = d_->Admin("GET", "/v1/models/clv");
  ASSERT_EQ(shown.status, 200) << shown.body;
  const json b = shown.json()["bgnbd"];
  EXPECT_EQ(shown.json()["version"], m["version"]);
  const analytics::BgNbdParams params{b["r"], b["alpha"], b["a"], b["b"]};
  auto expected = analytics::ExpectedPurchases(params, {2, 30.43, 38.86}, 39);
  ASSERT_TRUE(expected) << expected.error().ToString();
  EXPECT_WITHIN_1PCT(*expected, 1.226);
}

TEST_F(CdnowDaemon, EachFitIsTheNextVersionAuditedWithoutPersonalValues) {
  auto first = d_->Admin("POST", "/v1/models/clv/fit", R"({"until": "1997-06-30T23:59:59Z"})");
  ASSERT_EQ(first.status, 200) << first.body;
  auto second = d_->Admin("POST", "/v1/models/clv/fit", "");  // until now
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.json()["version"].get<int64_t>(), first.json()["version"].get<int64_t>() + 1);
  EXPECT_EQ(first.json()["until"], "1997-06-30T23:59:59Z");
  EXPECT_NE(second.json()["bgnbd"]["log_likelihood"], first.json()["bgnbd"]["log_likelihood"]);
  auto audit = d_->Admin("GET", "/v1/audit?limit=10000");
  ASSERT_EQ(audit.status, 200);
  int fits = 0;
  const json records = audit.json()["records"];
  for (const json& record : records) {
    if (record["action"] == "model.fit") {
      ++fits;
      EXPECT_EQ(record["profile_id"], 0);
      EXPECT_EQ(record["detail"]["model"], "clv");
      EXPECT_EQ(record["detail"].dump().find("cdnow-"), std::string::npos);
    }
  }
  EXPECT_GE(fits, 2);
}

TEST_F(CdnowDaemon, PortraitctlFitsAndShowsAsJsonAndAsATable) {
  std::string out;
  ASSERT_EQ(RunCommand(Ctl("model fit clv --until 1997-09-30T23:59:59Z --json"), &out), 0) << out;
  const json fitted = json::parse(out);
  EXPECT_WITHIN_1PCT(fitted["bgnbd"]["r"].get<double>(), 0.243);
  out.clear();
  ASSERT_EQ(RunCommand(Ctl("model show clv"), &out), 0) << out;
  EXPECT_NE(out.find("BG/NBD"), std::string::npos) << out;
  EXPECT_NE(out.find("Gamma-Gamma"), std::string::npos) << out;
  EXPECT_NE(out.find("version " + std::to_string(fitted["version"].get<int64_t>())),
            std::string::npos)
      << out;
  EXPECT_EQ(RunCommand(Ctl("model show nosuchmodel 2>/dev/null")), 1);
  EXPECT_EQ(RunCommand(Ctl("model fit 2>/dev/null")), 2);  // the name is required
  EXPECT_EQ(RunCommand(Ctl("model fit clv --until yesterday 2>/dev/null")), 1);
}

TEST_F(CdnowDaemon, HostileFitRequestsAreRefusedNamingTheMember) {
  EXPECT_EQ(d_->Admin("POST", "/v1/models/clv/fit", "{broken").status, 400);
  EXPECT_EQ(d_->Admin("POST", "/v1/models/clv/fit", "[]").status, 422);
  EXPECT_EQ(d_->Admin("POST", "/v1/models/clv/fit", R"({"until": 5})").status, 422);
  EXPECT_EQ(d_->Admin("POST", "/v1/models/clv/fit", R"({"until": "1997-13-45"})").status, 422);
  EXPECT_EQ(d_->Admin("POST", "/v1/models/clv/fit", R"({"until": "1969-12-31T00:00:00Z"})").status,
            422);
  EXPECT_EQ(d_->Admin("POST", "/v1/models/clv/fit", R"({"until": "2999-01-01T00:00:00Z"})").status,
            422);
  auto extra = d_->Admin("POST", "/v1/models/clv/fit", R"({"until2": "x"})");
  EXPECT_EQ(extra.status, 422);
  EXPECT_EQ(extra.body.find("until2"), std::string::npos) << "the caller's key is not echoed";
  EXPECT_EQ(d_->Admin("POST", "/v1/models/nosuch/fit", "").status, 404);
  EXPECT_EQ(d_->Admin("GET", "/v1/models/nosuch").status, 404);
  EXPECT_EQ(d_->Admin("DELETE", "/v1/models/clv").status, 405);  // GET only
  const std::string marketer = d_->CreateToken("mk", "marketer");
  testing::HttpClient client(d_->port());
  auto refused =
      client.Send("POST", "/v1/models/clv/fit", "", {{"Authorization", "Bearer " + marketer}});
  EXPECT_EQ(refused.status, 403) << refused.body;
  auto unread = client.Send("GET", "/v1/models/clv", "", {{"Authorization", "Bearer " + marketer}});
  EXPECT_EQ(unread.status, 403) << unread.body;
}

// The permission is checked before the body or the query: a caller without it gets 403 (not
// 400 or 422) for a bad one too, and each attempt is audited as refused.
TEST_F(CdnowDaemon, APermissionIsCheckedAndItsRefusalAuditedBeforeTheBodyIsValidated) {
  auto refusals = [&](const std::string& permission) {
    int n = 0;
    int64_t after = 0;
    for (bool more = true; more;) {
      const json records = d_->Admin("GET", "/v1/audit?limit=10000&after=" + std::to_string(after))
                               .json()["records"];
      for (const json& r : records) {
        n += r["action"] == "request.refused" && r["detail"].is_object() &&
             r["detail"].value("missing_permission", "") == permission;
        after = r["seq"].get<int64_t>();
      }
      more = records.size() == 10000;
    }
    return n;
  };
  const int fits_before = refusals("models.fit");
  const int reads_before = refusals("profiles.read");
  const std::string marketer = d_->CreateToken("mk-bad-body", "marketer");
  const std::string auditor = d_->CreateToken("au-bad-query", "auditor");
  testing::HttpClient client(d_->port());
  for (const char* body : {"{broken", "[]", R"({"until": 5})"}) {
    auto fit =
        client.Send("POST", "/v1/models/clv/fit", body, {{"Authorization", "Bearer " + marketer}});
    EXPECT_EQ(fit.status, 403) << body << ": " << fit.body;
  }
  auto refresh = client.Send("POST", "/v1/scores/rfm/refresh", "{}",
                             {{"Authorization", "Bearer " + marketer}});
  EXPECT_EQ(refresh.status, 403) << refresh.body;
  auto scores = client.Send("GET", "/v1/profiles/cdnow-1/scores?colour=red", "",
                            {{"Authorization", "Bearer " + auditor}});
  EXPECT_EQ(scores.status, 403) << scores.body;
  EXPECT_EQ(refusals("models.fit"), fits_before + 4);
  EXPECT_EQ(refusals("profiles.read"), reads_before + 1);
}

// The profile view and the export show scores and predictions, with the version they came
// from, only to a purpose that declares them; the prediction is the one the customer's own
// purchases give under the stored parameters.
TEST_F(CdnowDaemon, TheProfileViewAndTheExportShowScoresAndPredictionsWhereAllowed) {
  auto fit = d_->Admin("POST", "/v1/models/clv/fit", R"({"until": "1997-09-30T23:59:59Z"})");
  ASSERT_EQ(fit.status, 200) << fit.body;
  ASSERT_EQ(d_->Admin("POST", "/v1/scores/rfm/refresh").status, 200);
  auto view = d_->Admin("GET", "/v1/profiles/cdnow-1");
  ASSERT_EQ(view.status, 200) << view.body;
  const json p = view.json()["predictions"]["clv"];
  EXPECT_EQ(p["version"], fit.json()["version"]);
  const json b = fit.json()["bgnbd"];
  // Customer 1 bought on 1997-01-01, -01-18, -08-02 and -12-12: x = 3, t_x and T in weeks as of
  // the daemon's day, 1998-07-01.
  auto alive =
      analytics::ProbabilityAlive({b["r"], b["alpha"], b["a"], b["b"]}, {3, 345.0 / 7, 546.0 / 7});
  ASSERT_TRUE(alive);
  EXPECT_NEAR(p["p_alive"].get<double>(), *alive, 1e-9);
  EXPECT_TRUE(p["purchases_90d"].is_number());
  EXPECT_TRUE(p["value_1y"].is_number());
  EXPECT_TRUE(view.json()["scores"]["rfm"]["group"].is_string());
  EXPECT_FALSE(view.json()["metrics"].contains("$purchases"));  // bookkeeping stays inside
  auto care = d_->Admin("GET", "/v1/profiles/cdnow-1", "", "care");
  ASSERT_EQ(care.status, 200) << care.body;
  EXPECT_TRUE(care.json()["scores"].empty());
  EXPECT_TRUE(care.json()["predictions"].empty());
  auto exported = d_->Admin("GET", "/v1/profiles/cdnow-1/export");
  ASSERT_EQ(exported.status, 200);
  EXPECT_EQ(exported.json()["predictions"]["clv"]["version"], fit.json()["version"]);
  EXPECT_EQ(exported.json()["scores"]["rfm"]["group"], view.json()["scores"]["rfm"]["group"]);
  auto care_export = d_->Admin("GET", "/v1/profiles/cdnow-1/export", "", "care");
  ASSERT_EQ(care_export.status, 200);
  EXPECT_TRUE(care_export.json()["predictions"].empty());
}

// RFM computed here from the file, independently of analytics/rfm.cc: each customer's days since
// the last purchase as of the daemon's day (1998-07-01), orders and dollars; nearest-rank
// quintile boundaries; scores by boundaries exceeded; high above the mean score.
struct IndependentRfm {
  std::array<std::array<double, 4>, 3> boundaries{};
  std::map<std::string, int64_t> groups;
};

IndependentRfm ComputeIndependently() {
  std::map<int, std::array<double, 3>> customers;  // id -> {last day, orders, dollars}
  std::ifstream in(testing::kCdnowSample);
  std::string master, date;
  int sample = 0, cds = 0;
  double dollars = 0;
  while (in >> master >> sample >> date >> cds >> dollars) {
    using namespace std::chrono;
    const int ymd = std::stoi(date);
    const double day =
        sys_days{year{ymd / 10000} / (ymd / 100 % 100) / (ymd % 100)}.time_since_epoch().count();
    auto& c = customers.try_emplace(sample, std::array<double, 3>{day, 0, 0}).first->second;
    c = {std::max(c[0], day), c[1] + 1, c[2] + dollars};
  }
  using namespace std::chrono;
  const double today = sys_days{year{1998} / 7 / 1}.time_since_epoch().count();
  std::array<std::vector<double>, 3> values;
  for (auto& [id, c] : customers) {
    c[0] = today - c[0];
    for (int k = 0; k < 3; ++k) values[k].push_back(c[k]);
  }
  IndependentRfm out;
  const size_t n = customers.size();
  for (int k = 0; k < 3; ++k) {
    std::vector<double> sorted = values[k];
    std::sort(sorted.begin(), sorted.end());
    for (size_t q = 1; q <= 4; ++q) out.boundaries[k][q - 1] = sorted[(q * n + 4) / 5 - 1];
  }
  std::vector<std::array<int, 3>> scores;
  std::array<double, 3> mean{};
  for (auto& [id, c] : customers) {
    std::array<int, 3> s{};
    for (int k = 0; k < 3; ++k) {
      int above = 0;
      for (double b : out.boundaries[k]) above += c[k] > b ? 1 : 0;
      s[k] = k == 0 ? 5 - above : 1 + above;
      mean[k] += s[k] / static_cast<double>(n);
    }
    scores.push_back(s);
  }
  for (const auto& s : scores) {
    ++out.groups[std::string(analytics::RfmGroupName(
        analytics::GroupOf(s[0] > mean[0], s[1] > mean[1], s[2] > mean[2])))];
  }
  return out;
}

TEST_F(CdnowDaemon, RfmRefreshEqualsAnIndependentComputation) {
  auto r = d_->Admin("POST", "/v1/scores/rfm/refresh");
  ASSERT_EQ(r.status, 200) << r.body;
  const json s = r.json();
  EXPECT_EQ(s["score"], "rfm");
  EXPECT_EQ(s["customers"], 2357);
  const IndependentRfm expected = ComputeIndependently();
  const char* letters[] = {"recency", "frequency", "monetary"};
  for (int k = 0; k < 3; ++k) {
    for (int q = 0; q < 4; ++q) {
      EXPECT_NEAR(s[letters[k]][q].get<double>(), expected.boundaries[k][q], 1e-6)
          << letters[k] << " q" << q + 1;
    }
  }
  int64_t total = 0;
  for (const auto& [group, count] : expected.groups) {
    EXPECT_EQ(s["groups"][group], count) << group;
    total += count;
  }
  EXPECT_EQ(total, 2357);
  auto shown = d_->Admin("GET", "/v1/scores/rfm");
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(shown.json()["version"], s["version"]);
}

TEST_F(CdnowDaemon, ScoresShowGivesTheInputsOnlyToAPurposeThatMayUseThem) {
  ASSERT_EQ(d_->Admin("POST", "/v1/scores/rfm/refresh").status, 200);
  auto mine = d_->Admin("GET", "/v1/profiles/cdnow-1/scores?score=rfm");
  ASSERT_EQ(mine.status, 200) << mine.body;
  const json rfm = mine.json()["scores"]["rfm"];
  EXPECT_TRUE(rfm["group"].is_string()) << rfm;
  EXPECT_EQ(rfm["inputs"]["frequency"]["metric"], "orders");
  EXPECT_EQ(rfm["inputs"]["frequency"]["value"], 4);  // customer 1 bought on four lines
  EXPECT_EQ(rfm["boundaries"]["recency"].size(), 4u);
  std::string out;
  ASSERT_EQ(RunCommand(Ctl("scores show cdnow-1 --score rfm --purpose service"), &out), 0);
  EXPECT_NE(out.find("orders"), std::string::npos) << out;
  // care may use neither scores nor predictions: as if the score did not exist.
  auto care = d_->Admin("GET", "/v1/profiles/cdnow-1/scores?score=rfm", "", "care");
  EXPECT_EQ(care.status, 404) << care.body;
  auto nosuch = d_->Admin("GET", "/v1/profiles/cdnow-1/scores?score=nosuch");
  EXPECT_EQ(nosuch.status, 404);
  EXPECT_EQ(care.json()["detail"], nosuch.json()["detail"]);
  auto all = d_->Admin("GET", "/v1/profiles/cdnow-1/scores", "", "care");
  ASSERT_EQ(all.status, 200);
  EXPECT_TRUE(all.json()["scores"].empty());
  EXPECT_EQ(d_->Admin("GET", "/v1/profiles/cdnow-1/scores?bad=1").status, 422);
  EXPECT_EQ(d_->Admin("POST", "/v1/scores/nosuch/refresh").status, 404);
  EXPECT_EQ(d_->Admin("POST", "/v1/scores/rfm/refresh", "{}").status, 422);
  out.clear();
  ASSERT_EQ(RunCommand(Ctl("scores refresh rfm"), &out), 0);
  EXPECT_NE(out.find("important_value"), std::string::npos) << out;
}

// The scores view says why nothing is shown: the basis does not hold (an objection to service),
// or the customer has no purchase; and so does portraitctl.
TEST_F(CdnowDaemon, ScoresShowSaysWhyAScoreIsNotShown) {
  ASSERT_EQ(d_->Admin("POST", "/v1/scores/rfm/refresh").status, 200);
  ASSERT_EQ(d_->Admin("POST", "/v1/profiles/cdnow-3/consents",
                      json{{"purpose", "service"}, {"status", "objected"}}.dump())
                .status,
            201);
  for (const char* target :
       {"/v1/profiles/cdnow-3/scores", "/v1/profiles/cdnow-3/scores?score=rfm"}) {
    auto objected = d_->Admin("GET", target);
    ASSERT_EQ(objected.status, 200) << objected.body;
    EXPECT_EQ(objected.json()["basis_holds"], false) << objected.body;
    EXPECT_TRUE(objected.json()["scores"].empty()) << objected.body;
    EXPECT_NE(objected.json()["basis"].get<std::string>().find("objected"), std::string::npos);
  }
  std::string out;
  ASSERT_EQ(RunCommand(Ctl("scores show cdnow-3 --purpose service 2>&1"), &out), 0);
  EXPECT_NE(out.find("lawful basis does not hold"), std::string::npos) << out;

  ASSERT_EQ(d_->Admin("PUT", "/v1/profiles/no-purchase", R"({"fields":{"name":"N"}})").status, 201);
  auto none = d_->Admin("GET", "/v1/profiles/no-purchase/scores?score=rfm");
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(none.json()["basis_holds"], true);
  EXPECT_EQ(none.json()["scores"]["rfm"]["scored"], false) << none.body;
  EXPECT_EQ(none.json()["scores"]["rfm"]["unscored"], "no purchase yet") << none.body;
  out.clear();
  ASSERT_EQ(RunCommand(Ctl("scores show no-purchase --purpose service 2>&1"), &out), 0);
  EXPECT_NE(out.find("not scored (no purchase yet)"), std::string::npos) << out;
}

}  // namespace
}  // namespace portrait

namespace portrait {
namespace {

// A [[score]] with a refresh cron is refreshed by the daemon itself when it comes due.
TEST(DerivedCrons, AScoreIsRefreshedWhenItsCronComesDue) {
  Daemon d;
  std::ofstream(d.dir() / "rules/cron.toml") << testing::kCdnowScore << "refresh = \"* * * * *\"\n";
  ASSERT_TRUE(d.Start("1998-06-30T23:59:52Z"));  // the next minute begins in 8 seconds
  json e = {{"specversion", "1.0"},      {"id", "o1"},      {"source", "test"},
            {"type", "order.placed"},    {"subject", "c1"}, {"time", "1998-06-30T12:00:00Z"},
            {"data", {{"amount", 12.5}}}};
  ASSERT_EQ(d.Admin("POST", "/v1/events", json::array({e}).dump()).status, 202);
  EXPECT_EQ(d.Admin("GET", "/v1/scores/rfm").status, 404);  // not refreshed yet
  ASSERT_TRUE(
      testing::Eventually([&] { return d.Admin("GET", "/v1/scores/rfm").status == 200; }, 40));
  EXPECT_EQ(d.Admin("GET", "/v1/scores/rfm").json()["customers"], 1);
  auto audit = d.Admin("GET", "/v1/audit?limit=10000");
  bool by_system = false;
  const json records = audit.json()["records"];
  for (const json& r : records) {
    by_system = by_system || (r["action"] == "score.refresh" && r["actor"] == "system");
  }
  EXPECT_TRUE(by_system);
}

}  // namespace
}  // namespace portrait
