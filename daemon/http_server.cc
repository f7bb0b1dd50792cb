#include "daemon/http_server.h"

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <nlohmann/json.hpp>

namespace portrait::daemon {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// One connection: read a request, hand it over, write the reply, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpLimits& limits, const HttpHandler& handler,
          std::shared_ptr<std::atomic<int>> open, std::shared_ptr<std::atomic<bool>> stopping)
      : stream_(std::move(socket)),
        limits_(limits),
        handler_(handler),
        open_(std::move(open)),
        stopping_(std::move(stopping)) {
    beast::error_code ec;
    auto endpoint = stream_.socket().remote_endpoint(ec);
    remote_ = ec ? "unknown" : endpoint.address().to_string();
  }
  ~Session() { open_->fetch_sub(1); }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

  // Answers at once (e.g. 503 when over the connection cap) and closes.
  void Refuse(HttpResponse response) {
    response.keep_alive(false);
    Write(std::move(response));
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(limits_.body_limit);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(limits_.read_timeout);  // for the whole request: no byte extends it
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      drain_ = true;  // read the rest of the body, so the client can read the answer
      return Refuse(Problem(
          http::status::payload_too_large,
          "the request body is over the limit of " + std::to_string(limits_.body_limit) + " bytes",
          11, false));
    }
    if (ec) {
      return Refuse(Problem(http::status::bad_request, "malformed HTTP request", 11, false));
    }
    HttpRequest request = parser_->release();
    const bool keep_alive = request.keep_alive() && !stopping_->load();
    const unsigned version = request.version();
    stream_.expires_never();
    handler_(std::move(request), remote_,
             [self = shared_from_this(), keep_alive, version](HttpResponse response) {
               response.version(version);
               response.keep_alive(keep_alive && response.keep_alive());
               net::post(self->stream_.get_executor(),
                         [self, response = std::move(response)]() mutable {
                           self->Write(std::move(response));
                         });
             });
  }

  void Write(HttpResponse response) {
    response.prepare_payload();
    auto shared = std::make_shared<HttpResponse>(std::move(response));
    stream_.expires_after(limits_.read_timeout);
    http::async_write(stream_, *shared,
                      [self = shared_from_this(), shared](beast::error_code ec, size_t) {
                        if (ec || !shared->keep_alive()) {
                          return self->drain_ ? self->StartDrain() : self->Close();
                        }
                        self->Read();
                      });
  }

  // Discards what the client still sends (up to 64 MiB, within one absolute `read_timeout` that
  // no byte extends), then closes: closing a socket with unread data resets the connection, and
  // the client would lose the answer it was sent.
  void StartDrain() {
    stream_.expires_after(limits_.read_timeout);
    Drain(0);
  }

  void Drain(size_t drained) {
    if (drained > (64u << 20)) {
      return Close();
    }
    stream_.async_read_some(net::buffer(scratch_),
                            [self = shared_from_this(), drained](beast::error_code ec, size_t n) {
                              if (ec) {
                                return self->Close();
                              }
                              self->Drain(drained + n);
                            });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  const HttpLimits& limits_;
  const HttpHandler& handler_;
  std::shared_ptr<std::atomic<int>> open_;
  std::shared_ptr<std::atomic<bool>> stopping_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;
  bool drain_ = false;
  std::array<char, 16384> scratch_;
};

}  // namespace

namespace {

HttpResponse ProblemOf(http::status status, std::string_view detail, nlohmann::json body,
                       unsigned version, bool keep_alive) {
  HttpResponse r{status, version};
  r.set(http::field::content_type, "application/problem+json");
  r.keep_alive(keep_alive);
  body["type"] = "about:blank";
  body["title"] = std::string(http::obsolete_reason(status));
  body["status"] = static_cast<int>(status);
  body["detail"] = std::string(detail);
  r.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

}  // namespace

HttpResponse Problem(http::status status, std::string_view detail, unsigned version,
                     bool keep_alive) {
  return ProblemOf(status, detail, nlohmann::json::object(), version, keep_alive);
}

HttpResponse ProblemWith(http::status status, std::string_view detail,
                         const nlohmann::json& extra) {
  return ProblemOf(status, detail, extra.is_object() ? extra : nlohmann::json::object(), 11, true);
}

HttpServer::HttpServer(net::io_context& io, HttpLimits limits, HttpHandler handler)
    : io_(io), limits_(limits), handler_(std::move(handler)), acceptor_(net::make_strand(io)) {}

HttpServer::~HttpServer() { StopAccepting(); }

Result<std::string> HttpServer::Listen(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return Error(Status::InvalidArgument("listen: expected host:port, e.g. 127.0.0.1:8750"));
  }
  beast::error_code ec;
  auto ip = net::ip::make_address(address.substr(0, colon), ec);
  int port = std::atoi(address.c_str() + colon + 1);
  if (ec || port < 0 || port > 65535) {
    return Error(Status::InvalidArgument("listen: '" + address + "' is not an IP address:port"));
  }
  tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(Status::IOError("cannot listen on " + address + ": " + ec.message()));
  }
  auto bound = acceptor_.local_endpoint();
  Accept();
  return bound.address().to_string() + ":" + std::to_string(bound.port());
}

void HttpServer::StopAccepting() {
  stopping_->store(true);
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
}

void HttpServer::Accept() {
  acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec != net::error::operation_aborted && acceptor_.is_open()) {
        Accept();
      }
      return;
    }
    const int open = open_->fetch_add(1) + 1;
    auto session =
        std::make_shared<Session>(std::move(socket), limits_, handler_, open_, stopping_);
    if (open > limits_.max_connections) {
      session->Refuse(Problem(http::status::service_unavailable,
                              "too many open connections; retry later", 11, false));
    } else {
      session->Start();
    }
    Accept();
  });
}

}  // namespace portrait::daemon
