// A hostile caller against a real portraitd on 127.0.0.1: bytes that are not UTF-8 in every part
// of a request with every kind of credential, JSON nested 10^5 and 10^6 deep, numbers out of
// range, duplicate keys, NUL bytes, 1 MiB ids, broken chunking, Content-Length with
// Transfer-Encoding, a TLS ClientHello, trickled headers and a trickled 413 drain, a storm of bad
// tokens. Malformed bytes go over raw sockets (Boost.Asio). After every test /healthz answers,
// and a valid client posting events beside the attack has kept getting its 202s.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <thread>

#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

namespace net = boost::asio;
using nlohmann::json;
using std::chrono::steady_clock;
using testing::Daemon;
using testing::HttpResult;
using tcp = net::ip::tcp;

// What a raw exchange got back: the status of the first answer (0: none) and the whole text.
struct RawAnswer {
  int status = 0;
  std::string text;
};

// Sends `bytes` on a fresh connection and reads until the daemon closes it or `timeout` passes.
RawAnswer Raw(int port, const std::string& bytes,
              std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  net::io_context io;
  tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)}, ec);
  if (ec) {
    ADD_FAILURE() << "cannot connect: " << ec.message();
    return {};
  }
  std::string in;
  net::async_write(socket, net::buffer(bytes), [](boost::system::error_code, size_t) {});
  net::async_read(socket, net::dynamic_buffer(in), [](boost::system::error_code, size_t) {});
  io.run_for(timeout);
  RawAnswer answer{0, in};
  if (in.rfind("HTTP/1.1 ", 0) == 0 && in.size() >= 12) {
    answer.status = std::atoi(in.c_str() + 9);
  }
  return answer;
}

class Hostile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = new Daemon();
    // A short absolute request deadline, so that the trickle tests take seconds, not minutes.
    std::string config = testing::ReadFile(daemon_->config_path());
    config.replace(config.find("[daemon]\n"), 9, "[daemon]\nrequest_timeout_seconds = 2\n");
    testing::WriteFile(daemon_->config_path(), config);
    ASSERT_TRUE(daemon_->Start());
    for (const char* role : {"admin", "marketer", "care_agent", "auditor"}) {
      tokens_[role] = daemon_->CreateToken(std::string(role) + "-hostile", role);
    }
    background_ = std::thread(PostEventsBeside);
  }

  static void TearDownTestSuite() {
    stop_ = true;
    background_.join();
    EXPECT_EQ(refused_.load(), 0) << "the valid client beside the attack got non-202 answers";
    delete daemon_;
  }

  // The valid client: posts an event as the admin until the suite ends (bounded: 100,000).
  static void PostEventsBeside() {
    cli::HttpClient client(daemon_->port());
    const std::map<std::string, std::string> headers = {
        {"Authorization", "Bearer " + daemon_->admin_token()}, {"X-Purpose", "service"}};
    for (int i = 0; i < 100'000 && !stop_; ++i) {
      const json event = {{"specversion", "1.0"},   {"id", "beside-" + std::to_string(i)},
                          {"type", "page.viewed"}, {"subject", "beside"},
                          {"data", {{"page", i}}}};
      HttpResult r = client.Send("POST", "/v1/events", event.dump(), headers);
      (r.status == 202 ? accepted_ : refused_).fetch_add(1);
      if (r.status != 202) {
        ADD_FAILURE() << "valid client got " << r.status << ": " << r.body;
      }
    }
  }

  void SetUp() override { accepted_at_start_ = accepted_.load(); }

  // After each attack: /healthz answers, and the valid client has had more 202s meanwhile.
  void TearDown() override {
    cli::HttpClient probe(daemon_->port());
    EXPECT_EQ(probe.Send("GET", "/healthz", "").status, 200) << daemon_->Log();
    const auto deadline = steady_clock::now() + std::chrono::seconds(20);
    while (accepted_.load() <= accepted_at_start_ + 1 && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_GT(accepted_.load(), accepted_at_start_ + 1) << "the valid client made no progress";
    EXPECT_EQ(refused_.load(), 0);
  }

  static std::string Bearer(const std::string& token) {
    return "Authorization: Bearer " + token + "\r\n";
  }

  // Every kind of credential: none, a wrong token, a valid token of each example role.
  static std::vector<std::pair<std::string, std::string>> Credentials() {
    std::vector<std::pair<std::string, std::string>> out = {{"no token", ""},
                                                            {"wrong token", Bearer("ptk_wrong")}};
    for (const auto& [role, token] : tokens_) {
      out.emplace_back(role, Bearer(token));
    }
    return out;
  }

  HttpResult AsAdmin(const std::string& method, const std::string& target,
                     const std::string& body) {
    return daemon_->Admin(method, target, body);
  }

  static Daemon* daemon_;
  static std::map<std::string, std::string> tokens_;
  static std::thread background_;
  static std::atomic<bool> stop_;
  static std::atomic<int> accepted_, refused_;
  int accepted_at_start_ = 0;
};

Daemon* Hostile::daemon_ = nullptr;
std::map<std::string, std::string> Hostile::tokens_;
std::thread Hostile::background_;
std::atomic<bool> Hostile::stop_{false};
std::atomic<int> Hostile::accepted_{0};
std::atomic<int> Hostile::refused_{0};

std::string Event(const std::string& id, const std::string& data) {
  return R"({"specversion":"1.0","id":")" + id +
         R"(","type":"page.viewed","subject":"hostile","data":)" + data + "}";
}

TEST_F(Hostile, BytesThatAreNotUtf8InEveryPartAreRefused400WithEveryCredential) {
  struct Part {
    std::string what, head, body, names;  // `names`: what the detail must name ("" if Beast
                                          // refuses the bytes itself)
  };
  const std::string bad = "\xff";
  const std::vector<Part> parts = {
      {"path, percent-encoded", "GET /%FF HTTP/1.1\r\n", "", "the path is not valid UTF-8"},
      {"profile id", "PUT /v1/profiles/%FF HTTP/1.1\r\n", R"({"fields":{"city":"x"}})",
       "the path is not valid UTF-8"},
      {"path, raw byte", "GET /v1/profiles/" + bad + " HTTP/1.1\r\n", "", ""},
      {"query key", "GET /v1/profiles?%FF=1 HTTP/1.1\r\n", "", "a query key is not valid UTF-8"},
      {"query value", "GET /v1/profiles?email=%FE%FF HTTP/1.1\r\n", "",
       "query parameter email is not valid UTF-8"},
      {"header name", "GET /v1/tasks HTTP/1.1\r\nX-" + bad + ": 1\r\n", "", ""},
      {"header value", "GET /v1/tasks HTTP/1.1\r\nX-Purpose: " + bad + "\r\n", "",
       "header X-Purpose is not valid UTF-8"},
      {"other header value", "GET /v1/tasks HTTP/1.1\r\nUser-Agent: a\xc0\xaf\r\n", "",
       "header User-Agent is not valid UTF-8"},
      {"profile body", "PUT /v1/profiles/c1 HTTP/1.1\r\n",
       R"({"fields":{"city":")" + bad + R"("}})", "the body is not valid UTF-8"},
      {"event body", "POST /v1/events HTTP/1.1\r\n", Event("u1", R"({"k":")" + bad + R"("})"),
       "the body is not valid UTF-8"},
  };
  for (const auto& [credential, authorization] : Credentials()) {
    for (const Part& part : parts) {
      const std::string request = part.head + "Host: 127.0.0.1\r\n" + authorization +
                                  "Connection: close\r\nContent-Length: " +
                                  std::to_string(part.body.size()) + "\r\n\r\n" + part.body;
      RawAnswer answer = Raw(daemon_->port(), request);
      EXPECT_EQ(answer.status, 400) << part.what << " with " << credential << ": " << answer.text;
      EXPECT_NE(answer.text.find(part.names), std::string::npos)
          << part.what << " with " << credential << ": " << answer.text;
    }
  }
}

TEST_F(Hostile, JsonNestedTenToTheFiveAndTenToTheSixDeepIs422) {
  for (size_t depth : {100'000u, 1'000'000u}) {
    const std::string open(depth, '[');
    HttpResult r = AsAdmin("POST", "/v1/events", Event("deep", open));
    EXPECT_EQ(r.status, 422) << depth << ": " << r.body;
    EXPECT_NE(r.body.find("more than 64 deep"), std::string::npos) << r.body;
    r = AsAdmin("PUT", "/v1/profiles/deep", R"({"fields":)" + open);
    EXPECT_EQ(r.status, 422) << depth << ": " << r.body;
  }
  const std::string closed = std::string(100'000, '[') + std::string(100'000, ']');
  EXPECT_EQ(AsAdmin("POST", "/v1/events", Event("deep2", closed)).status, 422);
  EXPECT_EQ(AsAdmin("POST", "/v1/rules/test", closed).status, 422);
  // The event object and its data are two levels: 62 more make 64, the limit.
  const std::string at_limit = std::string(62, '[') + std::string(62, ']');
  EXPECT_EQ(AsAdmin("POST", "/v1/events", Event("deep3", "{\"a\":" + at_limit + "}")).status,
            202);
}

TEST_F(Hostile, NumbersOutOfRangeAreRefusedAndTwoToTheSixtyFourIsADouble) {
  HttpResult r = AsAdmin("POST", "/v1/events", Event("n1", R"({"amount":1e999})"));
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("out of range"), std::string::npos) << r.body;
  EXPECT_EQ(AsAdmin("POST", "/v1/events", Event("n2", R"({"amount":-1e999})")).status, 422);
  EXPECT_EQ(AsAdmin("POST", "/v1/events", Event("n3", R"({"amount":18446744073709551616})"))
                .status,
            202);
  EXPECT_EQ(AsAdmin("PUT", "/v1/profiles/num", R"({"fields":{"city":1e999}})").status, 422);
  r = AsAdmin("PUT", "/v1/profiles/num", R"({"fields":{"city":18446744073709551616}})");
  EXPECT_EQ(r.status, 422) << r.body;  // a number where a string belongs
}

TEST_F(Hostile, DuplicateKeysNulBytesAndHugeIdsGetFourHundreds) {
  // Duplicate keys: the last one wins (RFC 8259 leaves it open); never a crash.
  HttpResult r = AsAdmin(
      "POST", "/v1/events",
      R"({"id":"d1","id":"d2","type":"page.viewed","subject":"dup","subject":"dup2","data":{}})");
  EXPECT_EQ(r.status, 202) << r.body;
  r = AsAdmin("PUT", "/v1/profiles/dup", R"({"fields":{"city":"a","city":"b"}})");
  EXPECT_LT(r.status, 300) << r.body;
  // NUL bytes: in an event id (a control character), in a profile id, in a header.
  EXPECT_EQ(AsAdmin("POST", "/v1/events",
                    R"({"id":"a\u0000b","type":"page.viewed","subject":"s","data":{}})")
                .status,
            422);
  r = AsAdmin("GET", "/v1/profiles/a%00b", "");
  EXPECT_GE(r.status, 400);
  EXPECT_LT(r.status, 500) << r.body;
  std::string nul_header = "GET /v1/tasks HTTP/1.1\r\nX-Purpose: a";
  nul_header += '\0';
  nul_header += "b\r\nConnection: close\r\n\r\n";
  RawAnswer nul = Raw(daemon_->port(), nul_header);
  EXPECT_EQ(nul.status, 400) << nul.text;
  // 1 MiB ids: in the path (over the header limit) and as an event's subject.
  const std::string mib(1 << 20, 'x');
  RawAnswer long_path =
      Raw(daemon_->port(), "GET /v1/profiles/" + mib + " HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(long_path.status == 400 || long_path.status == 0) << long_path.text.substr(0, 200);
  r = AsAdmin("POST", "/v1/events",
              R"({"id":"big","type":"page.viewed","subject":")" + std::string(1'000'000, 's') +
                  R"("})");
  EXPECT_EQ(r.status, 422) << r.body.substr(0, 200);
}

TEST_F(Hostile, BrokenChunkingSmugglingAndTlsAreRefusedAndClosed) {
  const std::string head = "POST /v1/events HTTP/1.1\r\nHost: x\r\n" + Bearer(tokens_["admin"]) +
                           "X-Purpose: service\r\n";
  for (const std::string& chunks :
       {std::string("ZZ\r\nabc\r\n0\r\n\r\n"), std::string("FFFFFFFFFFFFFFFFFFFFFF\r\nab\r\n"),
        std::string("-1\r\nab\r\n0\r\n\r\n"), std::string("3\r\nabcdef\r\n0\r\n\r\n")}) {
    RawAnswer a = Raw(daemon_->port(), head + "Transfer-Encoding: chunked\r\n\r\n" + chunks);
    EXPECT_TRUE(a.status == 400 || a.status == 413) << chunks << ": " << a.text;
  }
  // Content-Length together with Transfer-Encoding (request smuggling): refused, not guessed.
  RawAnswer both = Raw(daemon_->port(), head +
                                            "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                                            "0\r\n\r\nGET /v1/tasks HTTP/1.1\r\n\r\n");
  EXPECT_EQ(both.status, 400) << both.text;
  EXPECT_EQ(both.text.find("HTTP/1.1", 5), std::string::npos) << "a second answer: " << both.text;
  // A TLS 1.2 ClientHello on the HTTP port.
  const unsigned char hello[] = {0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03,
                                 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                                 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                                 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x00,
                                 0x00, 0x02, 0x13, 0x01, 0x01, 0x00, 0x00, 0x00};
  RawAnswer tls = Raw(daemon_->port(), std::string(reinterpret_cast<const char*>(hello),
                                                   sizeof(hello)));
  EXPECT_TRUE(tls.status == 400 || tls.status == 0) << tls.text;
}

// Seconds until the daemon closes a connection that gets one more byte every 200 ms (bounded).
double SecondsUntilClosedWhileTrickling(tcp::socket& socket) {
  const auto start = steady_clock::now();
  socket.non_blocking(true);
  char buffer[4096];
  while (steady_clock::now() - start < std::chrono::seconds(15)) {
    boost::system::error_code ec;
    net::write(socket, net::buffer("a", 1), ec);
    while (!ec) {
      socket.read_some(net::buffer(buffer), ec);  // the answer, then EOF once closed
    }
    if (ec != net::error::would_block) {
      return std::chrono::duration<double>(steady_clock::now() - start).count();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return 1e9;
}

TEST_F(Hostile, TrickledHeadersAndATrickled413DrainAreClosedByAnAbsoluteDeadline) {
  net::io_context io;
  const tcp::endpoint daemon{net::ip::make_address("127.0.0.1"),
                             static_cast<uint16_t>(daemon_->port())};
  {
    tcp::socket socket(io);
    socket.connect(daemon);
    net::write(socket, net::buffer(std::string("GET /healthz HTTP/1.1\r\nX-Slow: ")));
    EXPECT_LT(SecondsUntilClosedWhileTrickling(socket), 6.0);  // request_timeout_seconds = 2
  }
  {
    tcp::socket socket(io);
    socket.connect(daemon);
    net::write(socket, net::buffer("POST /v1/events HTTP/1.1\r\nHost: x\r\n" +
                                   Bearer(tokens_["admin"]) +
                                   "Content-Length: 2000000\r\n\r\n" + std::string(1000, '[')));
    std::string head(12, '\0');
    net::read(socket, net::buffer(head));
    EXPECT_EQ(head, "HTTP/1.1 413");
    EXPECT_LT(SecondsUntilClosedWhileTrickling(socket), 6.0);
  }
}

TEST_F(Hostile, BadTokensLimitTheirAddressButNeverAValidToken) {
  cli::HttpClient client(daemon_->port());
  int limited = 0;
  for (int i = 0; i < 15; ++i) {
    HttpResult r =
        client.Send("GET", "/v1/tasks", "", {{"Authorization", "Bearer ptk_guess" + std::to_string(i)}});
    EXPECT_TRUE(r.status == 401 || r.status == 429) << r.body;
    limited += r.status == 429;
  }
  EXPECT_GT(limited, 0) << "bad tokens were never limited";
  for (const auto& [role, token] : tokens_) {
    HttpResult r = client.Send("GET", "/v1/tasks", "",
                               {{"Authorization", "Bearer " + token}, {"X-Purpose", "service"}});
    EXPECT_NE(r.status, 429) << role << " was locked out with a valid token";
    EXPECT_NE(r.status, 401) << role;
  }
  EXPECT_EQ(AsAdmin("GET", "/v1/tasks", "").status, 200);
}

TEST_F(Hostile, RefusalsForAPurposeTheRoleLacksAreAudited) {
  cli::HttpClient client(daemon_->port());
  HttpResult r = client.Send("GET", "/v1/profiles/c1", "",
                             {{"Authorization", "Bearer " + tokens_["marketer"]},
                              {"X-Purpose", "care"}});
  EXPECT_EQ(r.status, 403) << r.body;
  r = client.Send("GET", "/v1/profiles/c1", "",
                  {{"Authorization", "Bearer " + tokens_["marketer"]}, {"X-Purpose", "bogus"}});
  EXPECT_EQ(r.status, 403) << r.body;
  // Every record (the valid client beside adds one per request), a page at a time.
  json records = json::array();
  for (int64_t after = 0, page = 0; page < 1000; ++page) {
    json batch = AsAdmin("GET", "/v1/audit?limit=10000&after=" + std::to_string(after), "")
                     .json()["records"];
    if (!batch.is_array() || batch.empty()) {
      break;
    }
    after = batch.back()["seq"].get<int64_t>();
    records.insert(records.end(), batch.begin(), batch.end());
  }
  // One record each: "care" named (the config has it), "bogus" not (the caller's own text).
  std::map<std::string, int> refused;
  for (const json& record : records) {
    if (record["action"] == "request.refused" &&
        record["actor"] == "token:marketer-hostile role:marketer" &&
        record["detail"].is_object() && record["detail"].value("refused", "") == "purpose") {
      ++refused[record["purpose"].get<std::string>()];
    }
  }
  EXPECT_EQ(refused["care"], 1) << records.size() << " records read";
  EXPECT_EQ(refused[""], 1);
  EXPECT_EQ(refused.count("bogus"), 0u);
}

}  // namespace
}  // namespace portrait
