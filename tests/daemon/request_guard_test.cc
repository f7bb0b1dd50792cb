// The guards in front of the handlers, over a real SQLCipher data directory: a writer job that
// throws fails alone and the writer goes on; failed tokens limit their address but never a valid
// token, and the failure map stays bounded; the UTF-8 and JSON limits of request_limits.h.
#include <gtest/gtest.h>

#include "daemon/authenticator.h"
#include "daemon/request_limits.h"
#include "daemon/rules_holder.h"
#include "daemon/writer.h"
#include "tests/daemon/service_fixture.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

class RequestGuard : public ServiceFixture {
 protected:
  RequestGuard() {
    std::filesystem::copy(std::string(PORTRAIT_SOURCE_DIR) + "/examples/rules", dir_ / "rules");
  }

  RulesHolder rules_{LoadRules(in_force_.Get()).value()};
  Ingestor ingestor_{store_, vault_, consents_, audit_, rules_, data_.blind, clock_};
  Telemetry metrics_;
  crypto::BlindIndex token_hasher_ = crypto::BlindIndex::Create(data_.keys.token_key(), 32).value();
  store::TokenRegistry tokens_{store_, audit_, token_hasher_, clock_};
  Authenticator auth_{tokens_, token_hasher_, clock_};
};

TEST_F(RequestGuard, AThrowingWriterJobFailsAloneAndTheWriterGoesOn) {
  Writer writer(ingestor_, audit_, metrics_);
  Status thrown = writer.Run([]() -> Status {
    (void)json("\xff").dump();  // nlohmann throws type_error 316 on invalid UTF-8
    return Status::Ok();
  });
  EXPECT_EQ(thrown.code(), Status::Code::kInternal);
  EXPECT_NE(thrown.message().find("type_error"), std::string::npos) << thrown.message();
  EXPECT_EQ(thrown.message().find("\xff"), std::string::npos);  // the class, never the bytes
  EXPECT_TRUE(writer.Run([] { return Status::Ok(); }).ok());
}

TEST_F(RequestGuard, AValidTokenIsAcceptedFromAnAddressOverItsFailureLimit) {
  const std::string token = tokens_.Create("crm", "admin", "test").value();
  for (int i = 0; i < 2 * Authenticator::kMaxFailures; ++i) {
    EXPECT_FALSE(auth_.Check("ptk_guess" + std::to_string(i), "127.0.0.1"));
  }
  EXPECT_TRUE(auth_.Limited("127.0.0.1"));
  auto row = auth_.Check(token, "127.0.0.1");
  ASSERT_TRUE(row) << row.error().ToString();
  EXPECT_EQ(row->name, "crm");
  EXPECT_FALSE(auth_.Limited("127.0.0.2"));
  clock_.Advance(std::chrono::microseconds(Authenticator::kWindowUs + 1));
  EXPECT_FALSE(auth_.Limited("127.0.0.1"));
}

TEST_F(RequestGuard, TheFailureMapKeepsAtMostItsCapEvictingTheOldest) {
  const size_t n = Authenticator::kMaxAddresses + 100;
  for (size_t i = 0; i < n; ++i) {
    clock_.Advance(std::chrono::microseconds(1));
    (void)auth_.Check("ptk_guess",
                      "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  }
  EXPECT_EQ(auth_.tracked_addresses(), Authenticator::kMaxAddresses);
  // The newest address is still counted; the first one was evicted.
  for (int i = 1; i < Authenticator::kMaxFailures; ++i) {
    (void)auth_.Check("ptk_guess", "10.0.16.99");
  }
  EXPECT_TRUE(auth_.Limited("10.0.16.99"));
  EXPECT_EQ(auth_.tracked_addresses(), Authenticator::kMaxAddresses);
}

TEST(RequestLimits, NamesThePartThatIsNotUtf8) {
  HttpRequest request{http::verb::get, "/v1/tasks", 11};
  request.set("X-Purpose", "\xff");
  Status s = CheckRequestUtf8(request, {"v1", "tasks"}, {});
  EXPECT_EQ(s.code(), Status::Code::kMalformed);
  EXPECT_EQ(s.message(), "header X-Purpose is not valid UTF-8");
  request.set("X-Purpose", "service");
  EXPECT_TRUE(CheckRequestUtf8(request, {"v1", "tasks"}, {}).ok());
  EXPECT_EQ(CheckRequestUtf8(request, {"v1", "\xff"}, {}).message(), "the path is not valid UTF-8");
  EXPECT_EQ(CheckRequestUtf8(request, {}, {{"\xff", "1"}}).message(),
            "a query key is not valid UTF-8");
  EXPECT_EQ(CheckRequestUtf8(request, {}, {{"email", "\xfe"}}).message(),
            "query parameter email is not valid UTF-8");
  request.body() = "{\"a\":\"\xc0\xaf\"}";
  EXPECT_EQ(CheckRequestUtf8(request, {}, {}).message(), "the body is not valid UTF-8");
}

TEST(RequestLimits, ParsesWithinDepthAndFiniteNumbers) {
  EXPECT_TRUE(ParseJsonBody(std::string(64, '[') + std::string(64, ']')));
  auto deep = ParseJsonBody(std::string(65, '[') + std::string(65, ']'));
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(deep.error().message().rfind("body: ", 0), 0u) << deep.error().message();
  EXPECT_FALSE(ParseJsonBody(std::string(1'000'000, '[')));
  auto inf = ParseJsonBody(R"({"amount":1e999})");
  ASSERT_FALSE(inf);
  EXPECT_NE(inf.error().message().find("out of range"), std::string::npos);
  EXPECT_FALSE(ParseJsonBody(R"([-1e400])"));
  auto big = ParseJsonBody("18446744073709551616");
  ASSERT_TRUE(big);
  EXPECT_TRUE(big->is_number_float());
  EXPECT_EQ(ParseJsonBody("{").error().code(), Status::Code::kMalformed);
  EXPECT_EQ(ParseJsonBody("{").error().message(), "the body is not valid JSON");
  EXPECT_EQ(ParseJsonBody("\"\\ud800\"").error().message(),
            "the body is not valid JSON");  // a lone surrogate
}

}  // namespace
}  // namespace portrait::daemon
