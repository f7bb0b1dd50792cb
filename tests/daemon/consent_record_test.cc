// POST /v1/profiles/{id}/consents through the Api over a real SQLCipher store: the record is
// stored and answered 201 even when the profile's re-evaluation after it fails (injected), the
// failure logged without the external id, and the record not stored twice (DECISIONS 112).
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "base/time_format.h"
#include "config/loader.h"
#include "crypto/audit_signer.h"
#include "daemon/api.h"
#include "daemon/send_gate.h"
#include "store/data_dir.h"
#include "tests/support/faulty_store.h"
#include "tests/support/test_support.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// The example config, marketing allowed the metrics and segments, and a marketing segment with
// a marketing enter trigger (so the rules read the personalisation objection).
config::Config WithMarketingSegment(const testing::TempDir& dir) {
  const std::string examples = std::string(PORTRAIT_SOURCE_DIR) + "/examples";
  std::ifstream in(examples + "/portrait.toml");
  std::stringstream text;
  text << in.rdbuf();
  std::string config = text.str();
  const std::string from = R"(derived = ["lifecycle"])";
  config.replace(config.find(from), from.size(),
                 R"(derived = ["lifecycle", "metrics", "segments"])");
  std::ofstream(dir / "portrait.toml") << config;
  fs::create_directories(dir / "rules");
  for (const auto& f : fs::directory_iterator(examples + "/rules")) {
    fs::copy_file(f.path(), dir / ("rules/" + f.path().filename().string()));
  }
  std::ofstream(dir / "rules/segments.toml") << testing::BuyersSegmentRules();
  return config::LoadConfig(dir / "portrait.toml").value();
}

class ConsentRecord : public ::testing::Test {
 protected:
  ~ConsentRecord() override { writer_.Stop(); }

  std::pair<int, std::string> Admin(http::verb method, const std::string& target,
                                    const std::string& body = "") {
    HttpRequest request{method, target, 11};
    request.set(http::field::authorization, "Bearer " + admin_token_);
    request.set("X-Purpose", "service");
    request.body() = body;
    request.prepare_payload();
    std::promise<HttpResponse> answered;
    std::future<HttpResponse> answer = answered.get_future();
    api_.Handle(std::move(request), "127.0.0.1",
                [&answered](HttpResponse r) { answered.set_value(std::move(r)); });
    HttpResponse r = answer.get();
    return {static_cast<int>(r.result_int()), r.body()};
  }

  testing::TempDir dir_;
  config::Config config_ = WithMarketingSegment(dir_);
  config::ConfigHolder in_force_{std::make_shared<const config::Config>(config_)};
  store::DataDir data_ = store::InitDataDir(config_).value();
  testing::FaultyStore store_{*data_.store};
  FakeClock clock_{TimePoint(std::chrono::seconds(1'800'000'000))};
  crypto::AuditSigner signer_ = crypto::AuditSigner::Create(data_.keys.audit_seed()).value();
  crypto::BlindIndex token_hasher_ = crypto::BlindIndex::Create(data_.keys.token_key(), 32).value();
  store::AuditLog audit_{store_, signer_, data_.keys.audit_mac_key(), clock_};
  store::ProfileVault vault_{in_force_, store_, data_.keys, data_.blind, clock_, &audit_};
  store::TokenRegistry token_registry_{store_, audit_, token_hasher_, clock_};
  std::string admin_token_ = token_registry_.Create("t-admin", "admin", "test").value();
  std::ostringstream log_text_;
  spdlog::logger log_{"test", std::make_shared<spdlog::sinks::ostream_sink_st>(log_text_)};
  ConsentService consents_{store_, vault_, audit_, clock_, log_};
  ProfileService profiles_{vault_, consents_, audit_, clock_, log_};
  RulesHolder rules_{LoadRules(in_force_.Get()).value()};
  Telemetry metrics_;
  Ingestor ingestor_{store_, vault_, consents_, audit_, rules_, data_.blind, clock_};
  Writer writer_{ingestor_, audit_, metrics_};
  ImportService imports_{vault_,    profiles_, store_, data_.blind, writer_,
                         ingestor_, audit_,    clock_, log_};
  Authenticator auth_{token_registry_, token_hasher_, clock_};
  SendGate sends_;
  TaskService tasks_{store_, vault_, audit_, clock_};
  SegmentService segments_{
      store_, vault_, profiles_, audit_, rules_, clock_, crypto::CursorSealer::Create().value()};
  ExportService exports_{store_, vault_, consents_, rules_, audit_, clock_};
  RulesTestService rules_test_{store_, vault_, consents_, rules_, audit_, data_.blind, clock_};
  MergeService merges_{store_, vault_, audit_, rules_, clock_, log_};
  DerivedHolder derived_{std::make_shared<const DerivedParams>()};
  JobRunner jobs_;
  KeptMarks kept_marks_{store_, audit_};
  ModelService models_{DerivedDeps{store_, vault_, audit_, rules_, derived_, jobs_, clock_, log_},
                       kept_marks_};
  ScoreService scores_{DerivedDeps{store_, vault_, audit_, rules_, derived_, jobs_, clock_, log_},
                       profiles_};
  StatsService stats_{store_, audit_, clock_};
  TimelineService timeline_{store_, vault_, profiles_, audit_, clock_};
  Api api_{ApiDeps{in_force_,   store_,
                   vault_,      token_registry_,
                   audit_,      profiles_,
                   consents_,   tasks_,
                   segments_,   merges_,
                   exports_,    rules_test_,
                   sends_,      ingestor_,
                   writer_,     rules_,
                   auth_,       metrics_,
                   data_.blind, clock_,
                   log_,        [] { return Status::Ok(); },
                   imports_,    models_,
                   scores_,     stats_,
                   timeline_}};
};

TEST_F(ConsentRecord, AStoredRecordIsAnswered201WhenItsReevaluationFails) {
  const std::string customer = "customer-7f3a9";
  ASSERT_EQ(Admin(http::verb::put, "/v1/profiles/" + customer, R"({"fields":{"name":"Q"}})").first,
            201);
  const json order = json::array({{{"id", "order-1"},
                                   {"type", "order.placed"},
                                   {"subject", customer},
                                   {"time", FormatRfc3339(clock_.NowUs())},
                                   {"data", {{"amount", 10}}}}});
  ASSERT_EQ(Admin(http::verb::post, "/v1/events", order.dump()).first, 202);
  const store::ProfileId id = vault_.IdOf(customer).value();
  ASSERT_EQ(store_.SegmentMembers("buyers", 0, 10).value(), std::vector<store::ProfileId>{id});

  // The objection takes the customer out of the segment: that write fails.
  store_.fail_member_writes = 1;
  auto [status, body] = Admin(http::verb::post, "/v1/profiles/" + customer + "/consents",
                              json{{"purpose", "personalisation"}, {"status", "objected"}}.dump());
  EXPECT_EQ(status, 201) << body;
  EXPECT_EQ(store_.fail_member_writes.load(), 0);  // the fault was met
  const int64_t record = json::parse(body).value("record", int64_t{0});
  EXPECT_GT(record, 0) << body;
  const std::string log = log_text_.str();
  EXPECT_NE(log.find("consent record " + std::to_string(record) +
                     " stored; its profile was not re-evaluated"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find(customer), std::string::npos) << log;  // never the external id
  // Stored once.
  const std::vector<store::ConsentRow> ledger = store_.GetConsents(id).value();
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_EQ(ledger[0].purpose, "personalisation");

  // The next event re-evaluates the profile: out of the marketing segment.
  const json later = json::array({{{"id", "order-2"},
                                   {"type", "order.placed"},
                                   {"subject", customer},
                                   {"time", FormatRfc3339(clock_.NowUs())},
                                   {"data", {{"amount", 10}}}}});
  ASSERT_EQ(Admin(http::verb::post, "/v1/events", later.dump()).first, 202);
  EXPECT_TRUE(store_.SegmentMembers("buyers", 0, 10).value().empty());
}

// Review s26 finding 6: the Api looked the profile up again after the record to re-evaluate
// it; when that lookup failed, the writer kept the copy it had opened before the objection, and
// the customer's next events were evaluated as if there were none (still in the marketing
// segment). Now the record's own resolved id is re-evaluated: no second lookup to fail.
TEST_F(ConsentRecord, AnObjectionReevaluatesTheProfileItWasRecordedFor) {
  const std::string customer = "customer-c51e2";
  const auto order = [&](const std::string& event) {
    return json::array({{{"id", event},
                         {"type", "order.placed"},
                         {"subject", customer},
                         {"time", FormatRfc3339(clock_.NowUs())},
                         {"data", {{"amount", 10}}}}})
        .dump();
  };
  ASSERT_EQ(Admin(http::verb::put, "/v1/profiles/" + customer, R"({"fields":{"name":"Q"}})").first,
            201);
  ASSERT_EQ(Admin(http::verb::post, "/v1/events", order("order-1")).first, 202);
  const store::ProfileId id = vault_.IdOf(customer).value();
  ASSERT_EQ(store_.SegmentMembers("buyers", 0, 10).value(), std::vector<store::ProfileId>{id});

  store_.profile_by_key_answers = 1;  // the record's own lookup, and no other
  auto [status, body] = Admin(http::verb::post, "/v1/profiles/" + customer + "/consents",
                              json{{"purpose", "personalisation"}, {"status", "objected"}}.dump());
  store_.profile_by_key_answers = -1;
  EXPECT_EQ(status, 201) << body;
  EXPECT_EQ(log_text_.str().find("not re-evaluated"), std::string::npos) << log_text_.str();
  EXPECT_TRUE(store_.SegmentMembers("buyers", 0, 10).value().empty());
  // And the next event is evaluated on the objection, not on a copy from before it.
  ASSERT_EQ(Admin(http::verb::post, "/v1/events", order("order-2")).first, 202);
  EXPECT_TRUE(store_.SegmentMembers("buyers", 0, 10).value().empty());
}

}  // namespace
}  // namespace portrait::daemon
