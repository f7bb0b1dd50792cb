// The daemon's answers against docs/openapi.json: a real portraitd with a model, a score, a
// segment, a trigger and the sample customers, driven by tests/integration/openapi_conformance.py,
// which calls every operation of the document (its successes and its errors), validates each
// answer's status, content type and body against the document with python3-jsonschema, and
// fails when an operation or a status it lists was never answered. That the document lists
// every route the daemon serves is tests/daemon/api_routes_test.cc's part.
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "examples/sample_data.h"
#include "tests/integration/cdnow_events.h"
#include "tests/integration/daemon_harness.h"

namespace portrait::testing {
namespace {

// Rules the test adds to the example's: every kind of derived data, and a service trigger on an
// event of its own whose task goes to a sink nobody serves (so it stays cancellable a while).
const std::string kRules = kCdnowModel + kCdnowScore + R"toml(
[[segment]]
name = "buyers"
when = "metrics.orders >= 1"

[[trigger]]
id = "oa-ping"
purpose = "service"
on.event = "oa.ping"
task = "note"
channel = "email"
sink = "crm"
message = "ping"
)toml";

TEST(OpenApi, EveryAnswerOfTheDaemonMatchesTheDocument) {
  Daemon daemon;
  std::string config = ReadFile(daemon.config_path());
  const std::string from = R"(derived = ["metrics", "lifecycle", "tags"])";
  ASSERT_NE(config.find(from), std::string::npos);
  config.replace(
      config.find(from), from.size(),
      R"(derived = ["metrics", "lifecycle", "tags", "segments", "scores", "predictions"])");
  WriteFile(daemon.config_path(), config);
  WriteFile(daemon.dir() / "rules/openapi.toml", kRules);
  ASSERT_TRUE(daemon.Start());
  const std::string url = "http://127.0.0.1:" + std::to_string(daemon.port());
  std::string out;
  ASSERT_EQ(RunCommand(BinDir() + "/portrait-sample --config " + daemon.config_path() + " --url " +
                           url + " -n 60 --seed 3 2>&1",
                       &out),
            0)
      << out;
  // A customer with orders, for the score and prediction views.
  std::string customer;
  examples::SampleData sample(3);
  for (int i = 0; i < 60 && customer.empty(); ++i) {
    const examples::SampleCustomer c = sample.Customer(i);
    for (const auto& e : c.events) {
      if (e["type"] == "order.placed") {
        customer = c.external_id;
      }
    }
  }
  ASSERT_FALSE(customer.empty());
  const std::string source = PORTRAIT_SOURCE_DIR;
  std::string checked;
  const int rc = RunCommand(
      "/usr/bin/python3 -B " + source + "/tests/integration/openapi_conformance.py --url " + url +
          " --token " + daemon.admin_token() + " --config " + daemon.config_path() + " --doc " +
          source + "/docs/openapi.json --customer " + customer + " 2>&1",
      &out);
  EXPECT_EQ(rc, 0) << out;
  std::cout << out;
  EXPECT_EQ(daemon.Stop(), 0);
}

}  // namespace
}  // namespace portrait::testing
