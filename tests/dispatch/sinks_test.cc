// Sinks against real receivers: a local HTTP server, a file, /bin/sh commands.
#include <gtest/gtest.h>
#include <sodium.h>
#include <stdlib.h>

#include <thread>

#include "dispatch/backoff.h"
#include "dispatch/local_sinks.h"
#include "dispatch/sink.h"
#include "dispatch/webhook_signature.h"
#include "tests/support/test_support.h"
#include "tests/support/webhook_receiver.h"

namespace portrait::dispatch {
namespace {

using testing::ScriptedAnswer;

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

TEST(WebhookSignature, MatchesTheStandardWebhooksExample) {
  auto key = ParseWebhookSecret(kSecret);
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_EQ(
      SignWebhook(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignature, RefusesSecretsThatAreNotWhsec) {
  EXPECT_FALSE(ParseWebhookSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
  EXPECT_FALSE(ParseWebhookSecret("whsec_c2hvcnQ="));  // 5 bytes
  EXPECT_FALSE(ParseWebhookSecret("whsec_not base64!"));
}

TEST(Backoff, EachWaitIsLongerThanTheLastAndJittered) {
  config::Sink sink;
  sink.backoff = std::chrono::seconds(1);
  sink.backoff_max = std::chrono::hours(1);
  for (int attempts = 1; attempts < 12; ++attempts) {  // below the cap: 1 s .. 1024 s
    const auto low = RetryDelay(sink, attempts, 0.0, std::nullopt);
    const auto high = RetryDelay(sink, attempts, 0.999, std::nullopt);
    EXPECT_LT(low, high) << attempts;
    EXPECT_GE(RetryDelay(sink, attempts + 1, 0.0, std::nullopt), high) << attempts;
  }
  EXPECT_EQ(RetryDelay(sink, 1, 0.0, std::nullopt), std::chrono::milliseconds(500));
  EXPECT_LE(RetryDelay(sink, 60, 0.999, std::nullopt), std::chrono::hours(1));
  EXPECT_EQ(RetryDelay(sink, 1, 0.5, std::chrono::seconds(2)), std::chrono::seconds(2));
}

class WebhookSinkTest : public ::testing::Test {
 protected:
  WebhookSinkTest() { ::setenv("PORTRAIT_TEST_WHSEC", kSecret, 1); }
  std::unique_ptr<Sink> Open() {
    config::Sink c;
    c.name = "crm";
    c.url = receiver_.url("/hooks/portrait");
    c.secret_env = "PORTRAIT_TEST_WHSEC";
    c.timeout = std::chrono::seconds(2);
    auto sink = OpenSink(c);
    EXPECT_TRUE(sink) << sink.error().ToString();
    return std::move(*sink);
  }
  testing::WebhookReceiver receiver_;
};

TEST_F(WebhookSinkTest, PostsASignedCloudEvent) {
  auto sink = Open();
  const std::string body = R"({"specversion":"1.0","id":"42"})";
  Outcome out = sink->Deliver({"42", body, 1'700'000'000});
  EXPECT_EQ(out.kind, Outcome::Kind::kDelivered) << out.reason;
  auto got = receiver_.Received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target, "/hooks/portrait");
  EXPECT_EQ(got[0].body, body);
  EXPECT_EQ(got[0].headers["webhook-id"], "42");
  EXPECT_EQ(got[0].headers["webhook-timestamp"], "1700000000");
  EXPECT_TRUE(testing::VerifyStandardWebhook(kSecret, got[0]));
  testing::ReceivedRequest forged = got[0];
  forged.headers["webhook-id"] = "43";
  EXPECT_FALSE(testing::VerifyStandardWebhook(kSecret, forged));
}

TEST_F(WebhookSinkTest, SortsAnswersIntoDeliveredRetryAndDead) {
  auto sink = Open();
  receiver_.Script({{503}, {429, "7"}, {408}, {400}, {404}, {204}});
  auto kind = [&] { return sink->Deliver({"1", "{}", 1}); };
  Outcome unavailable = kind();
  EXPECT_EQ(unavailable.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(unavailable.reason, "HTTP 503");
  Outcome limited = kind();
  EXPECT_EQ(limited.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(limited.retry_after, std::chrono::seconds(7));
  EXPECT_EQ(kind().kind, Outcome::Kind::kRetry);
  EXPECT_EQ(kind().kind, Outcome::Kind::kDead);
  EXPECT_EQ(kind().kind, Outcome::Kind::kDead);
  EXPECT_EQ(kind().kind, Outcome::Kind::kDelivered);
}

TEST_F(WebhookSinkTest, KeepsTheConnectionAndReconnectsWhenTheReceiverClosedIt) {
  auto sink = Open();
  for (const char* id : {"1", "2", "3"}) {
    EXPECT_EQ(sink->Deliver({id, "{}", 1}).kind, Outcome::Kind::kDelivered) << id;
  }
  EXPECT_EQ(receiver_.Connections(), 1u);
  // The receiver closes a connection idle for 2 s; the next attempt notices and reconnects.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  Outcome out = sink->Deliver({"4", "{}", 1});
  EXPECT_EQ(out.kind, Outcome::Kind::kDelivered) << out.reason;
  const auto got = receiver_.Received();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3].headers.at("webhook-id"), "4");
  EXPECT_EQ(receiver_.Connections(), 2u);
}

TEST_F(WebhookSinkTest, RetriesWhenNothingListens) {
  config::Sink c;
  c.name = "gone";
  c.url = "http://127.0.0.1:1/hooks";
  c.secret_env = "PORTRAIT_TEST_WHSEC";
  Outcome out = OpenSink(c).value()->Deliver({"1", "{}", 1});
  EXPECT_EQ(out.kind, Outcome::Kind::kRetry);
  EXPECT_NE(out.reason.find("connect"), std::string::npos) << out.reason;
}

// HTTPS against a receiver whose certificate a test CA signed, for 127.0.0.1 only.
class HttpsWebhookSinkTest : public ::testing::Test {
 protected:
  HttpsWebhookSinkTest() { ::setenv("PORTRAIT_TEST_WHSEC", kSecret, 1); }
  Outcome DeliverTo(const std::string& url, const std::string& ca_file) {
    config::Sink c;
    c.name = "crm";
    c.url = url;
    c.secret_env = "PORTRAIT_TEST_WHSEC";
    c.ca_file = ca_file;
    c.timeout = std::chrono::seconds(2);
    auto sink = OpenSink(c);
    EXPECT_TRUE(sink) << sink.error().ToString();
    return sink ? (*sink)->Deliver({"9", "{}", 1}) : Outcome::Dead("not opened");
  }
  testing::TempDir dir_;
  testing::TestCertificates certs_ = testing::MakeTestCertificates(dir_.path());
  testing::WebhookReceiver receiver_{&certs_};
};

TEST_F(HttpsWebhookSinkTest, VerifiesTheChainAgainstTheGivenCaAndTheHostName) {
  ASSERT_FALSE(certs_.ca.empty()) << "openssl could not make test certificates";
  Outcome ok = DeliverTo(receiver_.url("/hooks"), certs_.ca);
  EXPECT_EQ(ok.kind, Outcome::Kind::kDelivered) << ok.reason;
  ASSERT_EQ(receiver_.Received().size(), 1u);
  EXPECT_TRUE(testing::VerifyStandardWebhook(kSecret, receiver_.Received()[0]));

  // The system's CAs don't know the test CA: no request is sent.
  Outcome unknown_ca = DeliverTo(receiver_.url("/hooks"), "");
  EXPECT_EQ(unknown_ca.kind, Outcome::Kind::kRetry);
  EXPECT_NE(unknown_ca.reason.find("TLS handshake"), std::string::npos) << unknown_ca.reason;
  // The certificate is for 127.0.0.1, not for "localhost".
  Outcome wrong_name =
      DeliverTo("https://localhost:" + std::to_string(receiver_.port()) + "/hooks", certs_.ca);
  EXPECT_EQ(wrong_name.kind, Outcome::Kind::kRetry);
  EXPECT_NE(wrong_name.reason.find("TLS handshake"), std::string::npos) << wrong_name.reason;
  EXPECT_EQ(receiver_.Received().size(), 1u);
}

TEST(WebhookSinkConfig, NamesTheMissingSecretVariable) {
  config::Sink c;
  c.name = "crm";
  c.url = "https://crm.example.com/hooks";
  c.secret_env = "PORTRAIT_TEST_UNSET_SECRET";
  ::unsetenv("PORTRAIT_TEST_UNSET_SECRET");
  auto sink = OpenSink(c);
  ASSERT_FALSE(sink);
  EXPECT_NE(sink.error().message().find("PORTRAIT_TEST_UNSET_SECRET"), std::string::npos);
}

TEST(FileSink, AppendsOneLinePerTask) {
  testing::TempDir dir;
  config::Sink c;
  c.name = "queue";
  c.type = config::SinkType::kFile;
  c.path = dir / "queue.jsonl";
  auto sink = OpenSink(c).value();
  EXPECT_EQ(sink->Deliver({"1", R"({"id":"1"})", 1}).kind, Outcome::Kind::kDelivered);
  EXPECT_EQ(sink->Deliver({"2", R"({"id":"2"})", 1}).kind, Outcome::Kind::kDelivered);
  EXPECT_EQ(testing::ReadFile(c.path), "{\"id\":\"1\"}\n{\"id\":\"2\"}\n");
}

TEST(ExecSink, GivesTheTaskOnStdinAndReadsTheExitStatus) {
  testing::TempDir dir;
  config::Sink c;
  c.name = "script";
  c.type = config::SinkType::kExec;
  c.timeout = std::chrono::seconds(1);
  c.command = "cat > " + (dir / "got") + " && echo $PORTRAIT_TASK_ID >> " + (dir / "got");
  EXPECT_EQ(OpenSink(c).value()->Deliver({"77", "{\"x\":1}", 1}).kind, Outcome::Kind::kDelivered);
  EXPECT_EQ(testing::ReadFile(dir / "got"), "{\"x\":1}77\n");

  c.command = "cat >/dev/null; exit 3";
  Outcome failed = OpenSink(c).value()->Deliver({"1", "{}", 1});
  EXPECT_EQ(failed.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(failed.reason, "exit 3");

  c.command = "sleep 5";
  const auto start = std::chrono::steady_clock::now();
  Outcome slow = OpenSink(c).value()->Deliver({"1", "{}", 1});
  EXPECT_EQ(slow.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(slow.reason, "timed out after 1s");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

}  // namespace
}  // namespace portrait::dispatch
