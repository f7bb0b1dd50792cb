#include "tests/support/webhook_receiver.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <condition_variable>
#include <cstdlib>

namespace portrait::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct WebhookReceiver::State {
  net::io_context io;
  std::unique_ptr<net::ssl::context> tls;
  tcp::acceptor acceptor{io};
  std::atomic<bool> stopping{false};
  mutable std::mutex mu;
  mutable std::condition_variable arrived;
  std::deque<ScriptedAnswer> script;
  bool held = false;
  std::vector<ReceivedRequest> received;
  std::vector<std::thread> connections;
};

bool VerifyStandardWebhook(const std::string& secret, const ReceivedRequest& request) {
  const auto header = [&](const char* name) {
    auto it = request.headers.find(name);
    return it == request.headers.end() ? std::string() : it->second;
  };
  if (secret.rfind("whsec_", 0) != 0) {
    return false;
  }
  const std::string b64 = secret.substr(6);
  std::string key(b64.size(), '\0');
  const int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(key.data()),
                                      reinterpret_cast<const unsigned char*>(b64.data()),
                                      static_cast<int>(b64.size()));
  if (decoded < 0) {
    return false;
  }
  key.resize(static_cast<size_t>(decoded) - std::count(b64.end() - 2, b64.end(), '='));
  const std::string message =
      header("webhook-id") + "." + header("webhook-timestamp") + "." + request.body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_size);
  std::string encoded(4 * ((mac_size + 2) / 3) + 1, '\0');
  encoded.resize(static_cast<size_t>(
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), mac, mac_size)));
  // The header may list several space-separated signatures; one must match.
  std::string signatures = header("webhook-signature") + " ";
  for (size_t at = 0, space; (space = signatures.find(' ', at)) != std::string::npos;
       at = space + 1) {
    if (signatures.substr(at, space - at) == "v1," + encoded) {
      return true;
    }
  }
  return false;
}

TestCertificates MakeTestCertificates(const std::string& dir) {
  TestCertificates out{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key"};
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string script =
      "cd '" + dir + "' && openssl req -x509" + ec +
      " -keyout ca.key -out ca.pem -days 2 -subj '/CN=portrait test CA' 2>/dev/null && "
      "openssl req" +
      ec +
      " -keyout server.key -out server.csr -subj '/CN=127.0.0.1' "
      "2>/dev/null && printf 'subjectAltName=IP:127.0.0.1\n' > san.cnf && "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
      "-out server.pem -days 2 -extfile san.cnf 2>/dev/null";
  if (std::system(script.c_str()) != 0) {
    return {};
  }
  return out;
}

WebhookReceiver::WebhookReceiver(const TestCertificates* tls)
    : state_(std::make_shared<State>()), tls_(tls != nullptr) {
  if (tls) {
    state_->tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    state_->tls->use_certificate_chain_file(tls->cert);
    state_->tls->use_private_key_file(tls->key, net::ssl::context::pem);
  }
  tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
  state_->acceptor.open(endpoint.protocol());
  state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  state_->acceptor.bind(endpoint);
  state_->acceptor.listen();
  port_ = state_->acceptor.local_endpoint().port();
  thread_ = std::thread([this] { Serve(); });
}

WebhookReceiver::~WebhookReceiver() {
  state_->stopping = true;
  beast::error_code ec;
  tcp::socket wake(state_->io);
  wake.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_)), ec);
  thread_.join();
  for (std::thread& t : state_->connections) {
    t.join();
  }
}

std::string WebhookReceiver::url(const std::string& path) const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
}

void WebhookReceiver::Script(std::vector<ScriptedAnswer> answers) {
  std::lock_guard lock(state_->mu);
  state_->script.assign(answers.begin(), answers.end());
}

void WebhookReceiver::Hold() {
  std::lock_guard lock(state_->mu);
  state_->held = true;
}

void WebhookReceiver::Release() {
  {
    std::lock_guard lock(state_->mu);
    state_->held = false;
  }
  state_->arrived.notify_all();
}

std::vector<ReceivedRequest> WebhookReceiver::Received() const {
  std::lock_guard lock(state_->mu);
  return state_->received;
}

size_t WebhookReceiver::Connections() const {
  std::lock_guard lock(state_->mu);
  return state_->connections.size();
}

bool WebhookReceiver::WaitFor(size_t n, int seconds) const {
  std::unique_lock lock(state_->mu);
  return state_->arrived.wait_for(lock, std::chrono::seconds(seconds),
                                  [&] { return state_->received.size() >= n; });
}

void WebhookReceiver::Serve() {
  std::shared_ptr<State> state = state_;
  while (!state->stopping) {
    beast::error_code ec;
    tcp::socket socket(state->io);
    state->acceptor.accept(socket, ec);
    if (ec || state->stopping) {
      continue;
    }
    std::lock_guard lock(state->mu);
    state->connections.emplace_back([state, s = std::move(socket)]() mutable {
      if (state->tls) {
        net::ssl::stream<tcp::socket> stream(std::move(s), *state->tls);
        beast::error_code ec;
        stream.handshake(net::ssl::stream_base::server, ec);
        if (!ec) {
          Answer(*state, stream);
          stream.shutdown(ec);
        }
        return;
      }
      Answer(*state, s);
      beast::error_code ec;
      s.shutdown(tcp::socket::shutdown_both, ec);
    });
  }
}

template <class Stream>
void WebhookReceiver::Answer(State& state_ref, Stream& s) {
  State* state = &state_ref;
  beast::flat_buffer buffer;
  while (true) {
    {
      // An idle connection is closed after 2 s, as receivers do (and a kept one goes stale).
      pollfd idle{beast::get_lowest_layer(s).native_handle(), POLLIN, 0};
      if (buffer.size() == 0 && ::poll(&idle, 1, 2000) != 1) {
        return;
      }
      beast::error_code ec;
      http::request<http::string_body> req;
      http::read(s, buffer, req, ec);
      if (ec) {
        return;
      }
      ReceivedRequest got;
      got.target = std::string(req.target());
      for (const auto& field : req) {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        got.headers[name] = std::string(field.value());
      }
      got.body = req.body();
      got.at = std::chrono::steady_clock::now();
      ScriptedAnswer answer;
      {
        std::lock_guard lock(state->mu);
        if (!state->script.empty()) {
          answer = state->script.front();
          state->script.pop_front();
        }
        state->received.push_back(std::move(got));
      }
      state->arrived.notify_all();
      {
        // Held: the request is recorded as arrived; the answer waits for Release().
        std::unique_lock lock(state->mu);
        while (state->held && !state->stopping) {
          state->arrived.wait_for(lock, std::chrono::milliseconds(50));
        }
      }
      http::response<http::string_body> res{static_cast<http::status>(answer.status), 11};
      res.keep_alive(req.keep_alive());
      if (!answer.retry_after.empty()) {
        res.set(http::field::retry_after, answer.retry_after);
      }
      res.prepare_payload();
      http::write(s, res, ec);
      if (ec || !req.keep_alive()) {
        return;
      }
    }
  }
}

}  // namespace portrait::testing
