#include "dispatch/webhook_sink.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdlib>
#include <vector>

#include "base/mutex.h"
#include "dispatch/webhook_signature.h"

namespace portrait::dispatch {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;
};

// "http[s]://host[:port][/path]" (the config loader checked the scheme).
Result<Url> ParseUrl(std::string_view url) {
  Url out;
  out.tls = url.substr(0, 8) == "https://";
  url.remove_prefix(out.tls ? 8 : 7);
  const size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    out.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
  } else {
    out.port = out.tls ? "443" : "80";
  }
  if (authority.size() > 2 && authority.front() == '[' && authority.back() == ']') {
    authority = authority.substr(1, authority.size() - 2);  // an IPv6 literal
  }
  if (authority.empty() || out.port.empty()) {
    return Error(Status::InvalidArgument("the url has no host"));
  }
  out.host = std::string(authority);
  return out;
}

// Runs one asynchronous operation to completion on `io`, or cancels it (through `cancel`) when
// the deadline passes first and answers timed_out: blocking I/O with a time limit.
class Deadline {
 public:
  Deadline(net::io_context& io, std::chrono::steady_clock::time_point until)
      : io_(io), until_(until) {}

  template <class Start, class Cancel>
  beast::error_code Await(Start start, Cancel cancel) {
    beast::error_code result = net::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run_until(until_);
    if (result == net::error::would_block) {
      cancel();
      io_.restart();
      io_.run();
      return net::error::timed_out;
    }
    return result;
  }

 private:
  net::io_context& io_;
  const std::chrono::steady_clock::time_point until_;
};

std::string Describe(std::string_view step, const beast::error_code& ec) {
  return std::string(step) + ": " + ec.message();
}

// One connection to the receiver with its own io_context, used by one worker at a time and
// kept for the next attempt while the receiver keeps it open (HTTP/1.1 keep-alive).
struct Connection {
  net::io_context io;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;  // https
  std::unique_ptr<beast::tcp_stream> plain;                   // http
  beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since;

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

// How one request went on one connection.
struct Exchanged {
  Outcome outcome;
  bool answered = false;   // a response was read
  bool keep_open = false;  // and the receiver keeps the connection
};

class WebhookSink final : public Sink {
 public:
  WebhookSink(const config::Sink& config, Url url, crypto::SecretBytes key,
              std::unique_ptr<ssl::context> tls)
      : timeout_(config.timeout),
        max_idle_(static_cast<size_t>(config.concurrency)),
        url_(std::move(url)),
        key_(std::move(key)),
        tls_(std::move(tls)) {}

  Outcome Deliver(const Delivery& d) override {
    http::request<http::string_body> req{http::verb::post, url_.target, 11};
    req.set(http::field::host, url_.host);
    req.set(http::field::user_agent, "portrait-webhook/1");
    req.set(http::field::content_type, "application/cloudevents+json; charset=utf-8");
    req.set("webhook-id", d.id);
    req.set("webhook-timestamp", std::to_string(d.time_s));
    req.set("webhook-signature", SignWebhook(key_, d.id, d.time_s, d.body));
    req.body() = d.body;
    req.prepare_payload();
    const auto until = std::chrono::steady_clock::now() + timeout_;

    if (std::unique_ptr<Connection> kept = TakeIdle()) {
      Exchanged e = Exchange(*kept, until, req);
      if (e.answered) {
        Keep(std::move(kept), e.keep_open);
        return e.outcome;
      }
      // The receiver closed the kept connection first (an idle timeout): once more on a new
      // one, unless the time is up. A receiver that did read the request gets it twice, with
      // the same webhook-id (at-least-once).
      if (std::chrono::steady_clock::now() >= until) {
        return e.outcome;
      }
    }
    Outcome failure;
    std::unique_ptr<Connection> fresh = Connect(until, failure);
    if (!fresh) {
      return failure;
    }
    Exchanged e = Exchange(*fresh, until, req);
    Keep(std::move(fresh), e.answered && e.keep_open);
    return e.outcome;
  }

 private:
  // Host names are resolved once a minute, not once per task (each resolution costs a thread).
  static constexpr std::chrono::seconds kResolvedFor{60};
  // A kept connection idle longer than this is closed rather than reused: receivers close
  // idle connections after a while themselves (often 5-60 s).
  static constexpr std::chrono::seconds kIdleFor{4};

  tcp::resolver::results_type CachedEndpoints() {
    MutexLock lock(mu_);
    return std::chrono::steady_clock::now() < resolved_until_ ? endpoints_
                                                              : tcp::resolver::results_type();
  }
  void ForgetEndpoints() {
    MutexLock lock(mu_);
    resolved_until_ = {};
  }

  std::unique_ptr<Connection> TakeIdle() {
    MutexLock lock(mu_);
    const auto stale = std::chrono::steady_clock::now() - kIdleFor;
    while (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      if (c->idle_since > stale) {
        return c;
      }
    }
    return nullptr;
  }

  void Keep(std::unique_ptr<Connection> c, bool keep_open) {
    if (!keep_open) {
      return;  // closed with it
    }
    c->idle_since = std::chrono::steady_clock::now();
    MutexLock lock(mu_);
    if (idle_.size() < max_idle_) {
      idle_.push_back(std::move(c));
    }
  }

  // A new connection (resolved, connected, TLS verified), or null and why in `failure`.
  std::unique_ptr<Connection> Connect(std::chrono::steady_clock::time_point until,
                                      Outcome& failure) {
    auto c = std::make_unique<Connection>();
    Deadline deadline(c->io, until);
    tcp::resolver::results_type endpoints = CachedEndpoints();
    if (endpoints.empty()) {
      tcp::resolver resolver(c->io);
      beast::error_code ec = deadline.Await(
          [&](auto done) {
            resolver.async_resolve(url_.host, url_.port,
                                   [&, done](beast::error_code e, tcp::resolver::results_type r) {
                                     endpoints = std::move(r);
                                     done(e);
                                   });
          },
          [&] { resolver.cancel(); });
      if (ec) {
        failure = Outcome::Retry(Describe("resolve", ec));
        return nullptr;
      }
      MutexLock lock(mu_);
      endpoints_ = endpoints;
      resolved_until_ = std::chrono::steady_clock::now() + kResolvedFor;
    }
    if (tls_) {
      c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(c->io, *tls_);
      SSL_set_tlsext_host_name(c->tls->native_handle(), url_.host.c_str());
      c->tls->set_verify_callback(ssl::host_name_verification(url_.host));
    } else {
      c->plain = std::make_unique<beast::tcp_stream>(c->io);
    }
    auto cancel = [&] { c->tcp().socket().close(); };
    beast::error_code ec =
        deadline.Await([&](auto done) { c->tcp().async_connect(endpoints, done); }, cancel);
    if (ec) {
      ForgetEndpoints();  // the host may have moved
      failure = Outcome::Retry(Describe("connect", ec));
      return nullptr;
    }
    if (tls_) {
      ec = deadline.Await(
          [&](auto done) { c->tls->async_handshake(ssl::stream_base::client, done); }, cancel);
      if (ec) {
        // A certificate that does not verify will not verify on the next try either, but the
        // operator may be rotating it: retried, up to max_attempts.
        failure = Outcome::Retry(Describe("TLS handshake", ec));
        return nullptr;
      }
    }
    return c;
  }

  Exchanged Exchange(Connection& c, std::chrono::steady_clock::time_point until,
                     http::request<http::string_body>& req) {
    return c.tls ? Exchange(*c.tls, c, until, req) : Exchange(*c.plain, c, until, req);
  }

  template <class Stream>
  Exchanged Exchange(Stream& stream, Connection& c, std::chrono::steady_clock::time_point until,
                     http::request<http::string_body>& req) {
    Deadline deadline(c.io, until);
    auto cancel = [&] { c.tcp().socket().close(); };
    beast::error_code ec =
        deadline.Await([&](auto done) { http::async_write(stream, req, done); }, cancel);
    if (ec) {
      return {Outcome::Retry(Describe("send", ec))};
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);  // the answer's body is not used; a huge one is not read
    ec = deadline.Await([&](auto done) { http::async_read(stream, c.buffer, parser, done); },
                        cancel);
    if (ec) {
      return {Outcome::Retry(Describe("receive", ec))};
    }
    const auto& res = parser.get();
    const int status = static_cast<int>(res.result_int());
    Exchanged e{Outcome::Dead("HTTP " + std::to_string(status)), true, res.keep_alive()};
    if (status >= 200 && status < 300) {
      e.outcome.kind = Outcome::Kind::kDelivered;
    } else if (status == 408 || status == 429 || status >= 500) {
      e.outcome.kind = Outcome::Kind::kRetry;
      const std::string after(res[http::field::retry_after]);
      if (!after.empty() && after.find_first_not_of("0123456789") == std::string::npos &&
          after.size() <= 9) {
        e.outcome.retry_after = std::chrono::seconds(std::stoll(after));
      }
    }
    return e;
  }

  const std::chrono::seconds timeout_;
  const size_t max_idle_;
  const Url url_;
  const crypto::SecretBytes key_;
  const std::unique_ptr<ssl::context> tls_;
  Mutex mu_;
  tcp::resolver::results_type endpoints_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point resolved_until_ GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Connection>> idle_ GUARDED_BY(mu_);
};

}  // namespace

Result<std::unique_ptr<Sink>> OpenWebhookSink(const config::Sink& config) {
  auto fail = [&](const std::string& why) {
    return Error(Status::InvalidArgument("sink '" + config.name + "' (" + config.pos.ToString() +
                                         "): " + why));
  };
  PORTRAIT_ASSIGN_OR_RETURN(Url url, ParseUrl(config.url));
  if (config.secret_env.empty()) {
    return fail("a webhook sink needs secret_env, the variable holding its whsec_ secret");
  }
  const char* secret = std::getenv(config.secret_env.c_str());
  if (!secret || !*secret) {
    return fail("the environment variable " + config.secret_env +
                " is not set; set it to the sink's whsec_ secret");
  }
  auto key = ParseWebhookSecret(secret);
  if (!key) {
    return fail(config.secret_env + ": " + key.error().message());
  }
  std::unique_ptr<ssl::context> tls;
  if (url.tls) {
    tls = std::make_unique<ssl::context>(ssl::context::tls_client);
    beast::error_code ec;
    tls->set_verify_mode(ssl::verify_peer, ec);
    if (config.ca_file.empty()) {
      tls->set_default_verify_paths(ec);
    } else {
      tls->load_verify_file(config.ca_file, ec);
    }
    if (ec) {
      return fail("could not load the CA certificates (" + ec.message() + ")");
    }
  }
  return std::unique_ptr<Sink>(
      new WebhookSink(config, std::move(url), std::move(*key), std::move(tls)));
}

}  // namespace portrait::dispatch
