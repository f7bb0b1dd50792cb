// A real HTTP receiver on 127.0.0.1 for webhook tests: answers each POST with the next scripted
// status (then 200), optionally with Retry-After, and records what arrived, when. Connections
// are kept alive when the client asks, and closed after 2 s idle, as real receivers do.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace portrait::testing {

struct ReceivedRequest {
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::chrono::steady_clock::time_point at;
};

struct ScriptedAnswer {
  ScriptedAnswer(int status = 200, std::string retry_after = "")  // NOLINT: {503} reads well
      : status(status), retry_after(std::move(retry_after)) {}
  int status;
  std::string retry_after;  // sent as Retry-After when not empty
};

// Whether `request` carries a valid Standard Webhooks signature for `secret` ("whsec_…"),
// checked as the spec says, with OpenSSL (not the daemon's libsodium code): HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>" keyed with the base64-decoded secret.
bool VerifyStandardWebhook(const std::string& secret, const ReceivedRequest& request);

// A test certificate authority and a server certificate it signed, for 127.0.0.1 only, made
// with the openssl command in `dir` (PEM files).
struct TestCertificates {
  std::string ca;    // the CA certificate
  std::string cert;  // the server's certificate
  std::string key;   // its private key
};
TestCertificates MakeTestCertificates(const std::string& dir);

class WebhookReceiver {
 public:
  // Plain HTTP; with `tls`, HTTPS with that certificate.
  explicit WebhookReceiver(const TestCertificates* tls = nullptr);
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/hooks") const;

  // Answers the next requests with these, in order; afterwards 200.
  void Script(std::vector<ScriptedAnswer> answers);
  std::vector<ReceivedRequest> Received() const;
  // From Hold() to Release(), requests are recorded when they arrive but not answered: a
  // receiver that hangs, holding the sink's workers.
  void Hold();
  void Release();
  // Connections accepted so far.
  size_t Connections() const;
  // Waits until at least `n` requests arrived; false after `seconds`.
  bool WaitFor(size_t n, int seconds = 20) const;

 private:
  struct State;
  void Serve();
  template <class Stream>
  static void Answer(State& state, Stream& stream);

  std::shared_ptr<State> state_;
  bool tls_ = false;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace portrait::testing
